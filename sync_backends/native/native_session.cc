#include "sync_backends/native/native_session.h"

#include <fmt/format.h>

#include "formats/peer_message.h"
#include "net/http_response_head.h"

namespace replicant::sync::native {

Result<std::unique_ptr<net::SocketStream>> NativeSession::Connect(const Device& node,
                                                                 const SessionOptions& opts) {
  auto tcp = net::SocketStream::Connect(node.replication_ip, node.replication_port,
                                        opts.conn_timeout);
  if (!tcp.ok()) return tcp.status();
  (*tcp)->set_write_timeout(opts.node_timeout);
  (*tcp)->set_read_timeout(opts.node_timeout);
  return std::move(*tcp);
}

namespace {

// The REPCONN request head. "Connection: close": the session ends the connection,
// and a server that refuses the request does not read what follows as another one.
std::string RepconnHead(const Device& node, const std::string& partition, int policy_index,
                        const Extensions& offer) {
  std::string head = fmt::format(
      "REPCONN /{}/{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: replicant-native\r\n"
      "X-Backend-Storage-Policy-Index: {}\r\nConnection: close\r\n",
      node.device, partition, net::HostHeader(node.replication_ip, node.replication_port),
      policy_index);
  if (offer.any()) head += fmt::format("{}: {}\r\n", kExtensionsHeader, offer.ToHeader());
  return head + "\r\n";
}

}  // namespace

NativeSession::Opened NativeSession::Open(const Device& node, const std::string& partition,
                                          int policy_index, const SessionOptions& opts,
                                          Start start) {
  Opened out;
  std::string name = fmt::format("{}:{}/{}", node.replication_ip, node.replication_port,
                                 node.device);
  auto fail = [&](OpenError e, Status st) {
    out.error = e;
    out.status = st.WithContext(name);
    return std::move(out);
  };
  std::unique_ptr<net::SocketStream> tcp = std::move(start.tcp);
  const bool pipelined = start.pipelined;
  if (tcp && !tcp->Quiet()) tcp.reset();  // the peer closed it while we waited
  if (!tcp) {
    auto c = Connect(node, opts);
    if (!c.ok()) return fail(OpenError::kFailed, c.status());
    tcp = std::move(*c);
  }
  const nlohmann::json begin_req = ToJson(BeginReplicationRequest{node.device, partition, false});
  Status st = tcp->Write(RepconnHead(node, partition, policy_index, opts.offer));
  if (st.ok() && pipelined) st = WriteFrame(*tcp, begin_req);
  out.offer_sent = pipelined && start.offer && st.ok();
  if (out.offer_sent) st = WriteFrame(*tcp, *start.offer);
  if (st.ok()) st = tcp->Flush();
  if (!st.ok()) return fail(OpenError::kFailed, st);
  auto resp = net::ReadHttpResponseHead(*tcp);
  if (!resp.ok()) return fail(OpenError::kFailed, resp.status());
  if (resp->status == 405 || resp->status == 400) {
    return fail(OpenError::kUnsupported,
                Status::InvalidArgument(fmt::format("REPCONN answered {}", resp->status)));
  }
  if (resp->status / 100 != 2) {
    return fail(OpenError::kFailed,
                Status::IOError(fmt::format("REPCONN answered {}", resp->status)));
  }
  const std::string* accepted = resp->Header("x-replicant-native");
  Extensions ext = Extensions::Parse(accepted ? *accepted : "").Intersect(opts.offer);
  if (out.offer_sent && !ext.batch) {
    return fail(OpenError::kFailed,
                Status::IOError("the peer no longer accepts batches; a batch went ahead"));
  }
  out.accepted = true;
  // The receiver may work on its disk for a while before it answers.
  tcp->set_read_timeout(opts.http_timeout);
  std::unique_ptr<NativeSession> s(new NativeSession(std::move(tcp), name, ext, opts.max_frame,
                                                   opts.max_frame_values));
  if (!pipelined) {
    st = s->Send(begin_req);
    if (st.ok()) st = s->Flush();
    if (!st.ok()) return fail(OpenError::kFailed, st);
  }
  auto begin = s->Receive();
  if (!begin.ok()) return fail(OpenError::kFailed, begin.status().WithContext("begin"));
  BeginReplicationResponse br;
  if (Status bs = FromJson(*begin, &br); !bs.ok()) return fail(OpenError::kFailed, bs);
  out.session = std::move(s);
  return out;
}

Result<nlohmann::json> NativeSession::Receive() {
  auto j = ReadFrame(*tcp_, max_frame_, max_frame_values_);
  if (!j.ok()) {
    if (j.status().IsNotFound()) return Status::IOError("peer closed the session");
    return j.status();
  }
  if (j->is_object()) {
    auto it = j->find("Error");
    if (it != j->end() && it->is_string()) {
      return Status::IOError("receiver: " + CapPeerMessage(it->get_ref<const std::string&>()));
    }
  }
  return j;
}

Status NativeSession::SendDone() {
  SyncFileRequest done;
  done.done = true;
  done_sent_ = true;
  return Send(ToJson(done));
}

void NativeSession::Finish() {
  if ((done_sent_ || SendDone().ok()) && Flush().ok()) {
    // The receiver closes once its session returned, i.e. once it released its
    // partition and device locks: whoever opens the next session to this device
    // (another job, here or elsewhere) then finds it free, not busy for a moment.
    char c;
    (void)tcp_->Read(&c, 1);  // EOF (or the read timeout) is all that can come
  }
  tcp_->Close();
}

}  // namespace replicant::sync::native
