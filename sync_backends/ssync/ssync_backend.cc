#include "sync_backends/ssync/ssync_backend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/http_response_head.h"
#include "net/framing.h"
#include "sync_backends/ssync/ssync_protocol.h"
#include "sync_backends/ssync/ssync_sender.h"
#include "net/socket_stream.h"

namespace replicant::sync {
namespace {

using net::ChunkedReader;
using net::ChunkedWriter;
using net::SocketStream;

// The first KiB of an error response body, for the log.
std::string ReadErrorBody(net::ByteStream& in, const net::HttpResponseHead& head) {
  std::string body(1024, '\0');
  size_t got = 0;
  if (head.chunked) {
    net::ChunkedReader r(in);
    while (got < body.size()) {
      auto n = r.Read(body.data() + got, body.size() - got);
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
  } else {
    size_t limit = head.content_length ? std::min<size_t>(*head.content_length, body.size()) : 0;
    while (got < limit) {
      auto n = in.Read(body.data() + got, limit - got);
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
  }
  body.resize(got);
  return body;
}

}  // namespace

SyncResult SsyncBackend::SyncPeer(const SyncJob& job, const PeerSync& peer) {
  const Device& node = peer.node;
  const std::vector<std::string>& suffixes = peer.suffixes;
  const std::set<std::string>* check = peer.check_objs ? &*peer.check_objs : nullptr;
  SyncResult result;
  if (suffixes.empty()) {
    result.status = Status::OK();
    return result;
  }
  auto conn = net::SocketStream::Connect(node.replication_ip, node.replication_port, opts_.conn_timeout);
  if (!conn.ok()) {
    result.status = conn.status();
    return result;
  }
  net::SocketStream& tcp = **conn;
  tcp.set_write_timeout(opts_.node_timeout);
  tcp.set_read_timeout(opts_.node_timeout);
  std::string head = fmt::format(
      "SSYNC /{}/{} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n"
      "Transfer-Encoding: chunked\r\nX-Backend-Storage-Policy-Index: {}\r\n\r\n",
      node.device, job.partition, net::HostHeader(node.replication_ip, node.replication_port),
      job.policy_index);
  Status st = tcp.Write(head);
  if (st.ok()) st = tcp.Flush();
  Result<net::HttpResponseHead> resp = st.ok() ? net::ReadHttpResponseHead(tcp) : Result<net::HttpResponseHead>(st);
  if (!resp.ok()) {
    result.status = resp.status().WithContext("connect");
    return result;
  }
  if (resp->status != 200) {
    std::string msg = fmt::format("Expected status 200; got {} ({})", resp->status,
                                  ssync::PyBytesRepr(ReadErrorBody(tcp, *resp)));
    result.status = resp->status == 507 ? Status::NoSpace(msg) : Status::IOError(msg);
    return result;
  }
  // Waiting for the receiver's answers may take as long as its disk work.
  tcp.set_read_timeout(opts_.http_timeout);
  net::ChunkedWriter request(tcp);
  std::optional<net::ChunkedReader> chunked;
  if (resp->chunked) chunked.emplace(tcp);
  net::ByteStream& response = chunked ? static_cast<net::ByteStream&>(*chunked) : tcp;

  ssync::SenderOptions so;
  so.network_chunk_size = opts_.network_chunk_size;
  so.reclaim_age = opts_.reclaim_age;
  so.throttle = opts_.throttle;
  ssync::SsyncSender sender(so, job, suffixes, check);
  auto done = sender.Run(request, response);
  // Swift's disconnect(): end the chunked body, then close.
  (void)request.Finish();
  tcp.Close();
  const ssync::SenderStats& s = sender.stats();
  result.files_sent = s.puts + s.posts + s.deletes;
  result.bytes_sent = s.bytes;
  if (!done.ok()) {
    result.status = done.status();
    return result;
  }
  spdlog::debug(
      "ssync completed ok{}: dev: {}, part: {}, policy: {}, num suffixes: {}, available: {}, "
      "sent: {} (puts {}, posts {}, deletes {}, {} bytes), in sync: {}",
      check ? " (check only)" : "", job.device, job.partition, job.policy_index, suffixes.size(),
      s.offered, s.wanted, s.puts, s.posts, s.deletes, s.bytes, done->size());
  result.status = Status::OK();
  result.in_sync_objects = std::move(*done);
  return result;
}

}  // namespace replicant::sync
