#include "sync_backends/native/native_backend.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sync_backends/native/native_fan_out.h"

namespace replicant::sync {

using native::FanOut;
using native::NativeSession;
using native::Peer;

namespace {
// A connection made while waiting for a peer's device is used only if the wait was
// shorter than this: far below any server's idle timeout (Swift's client_timeout: 60 s).
constexpr std::chrono::seconds kPreconnectMaxWait{10};
}  // namespace

bool NativeBackend::KnownUnsupported(const std::string& peer) {
  std::lock_guard<std::mutex> l(mu_);
  return unsupported_.count(peer) > 0;
}

void NativeBackend::MarkUnsupported(const std::string& peer, const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  if (unsupported_.insert(peer).second) {
    spdlog::info("{} does not speak the native protocol ({}); syncing it with ssync", peer, why);
  }
}

std::optional<native::Extensions> NativeBackend::AcceptedBefore(const std::string& peer) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = accepted_.find(peer);
  if (it == accepted_.end()) return std::nullopt;
  return it->second;
}

void NativeBackend::NoteRepconn(const std::string& peer, const native::Extensions* accepted) {
  std::lock_guard<std::mutex> l(mu_);
  if (accepted) {
    accepted_[peer] = *accepted;
  } else {
    accepted_.erase(peer);
  }
}

bool NativeBackend::ClaimPreconnect(const std::string& device, bool claim) {
  std::lock_guard<std::mutex> l(mu_);
  if (!claim) return preconnected_.erase(device) > 0;
  return preconnected_.insert(device).second;
}

std::string NativeBackend::PeerKey(const Device& node) {
  return fmt::format("{}:{}", node.replication_ip, node.replication_port);
}

std::string NativeBackend::DeviceKey(const Device& node) {
  return PeerKey(node) + "/" + node.device;
}

// A peer's result once the fan-out is over (logged: the transfer's summary).
SyncResult NativeBackend::Finish(const SyncJob& job, native::Peer& p) {
  if (!p.session) {
    if (!p.error.ok()) p.result.status = p.error;  // its session did not open
    return std::move(p.result);
  }
  // A checked object the peer lacks is unconfirmed, not a failed check.
  if (!p.failed && !p.walk_failed && (p.check || p.failed_hashes.empty())) {
    p.result.status = Status::OK();
  } else if (!p.error.ok()) {
    p.result.status = p.error;
  } else {
    p.result.status =
        Status::IOError(fmt::format("{} objects not confirmed", p.failed_hashes.size()));
  }
  p.result.bytes_sent = p.session->bytes_sent();
  for (const auto& h : p.seen_hashes) {
    if (!p.failed_hashes.count(h)) p.result.in_sync_objects[h] = p.object_ts[h];
  }
  spdlog::info("native {} of {}/{} to {}: {} files sent ({} bytes, {} by delta), {} already "
               "there{}", p.check ? "check" : "sync", job.device, job.partition,
               p.session->name(), p.result.files_sent, p.result.bytes_sent, p.deltas, p.already,
               p.result.ok() ? "" : ", failed");
  return std::move(p.result);
}

std::vector<SyncResult> NativeBackend::SyncPeers(const SyncJob& job,
                                                 const std::vector<PeerSync>& specs) {
  std::vector<Peer> peers(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Peer& p = peers[i];
    p.spec = &specs[i];
    p.suffixes.insert(specs[i].suffixes.begin(), specs[i].suffixes.end());
    if (specs[i].check_objs) p.check = &*specs[i].check_objs;
    if (KnownUnsupported(PeerKey(specs[i].node))) {
      p.result.unsupported = true;
    } else if (p.suffixes.empty()) {
      p.result.status = Status::OK();
    } else {
      p.wanted = true;
    }
  }
  // A single-batch partition (the usual case) opens each peer's session from that
  // peer's thread, holding its device from the opening to its Done: another job's
  // session to it (concurrency, pipelining) waits here, not on the receiver's lock,
  // and a peer thread holds one device at a time, so no two jobs deadlock.
  auto open_session = [&](Peer& p, std::unique_ptr<net::SocketStream> tcp,
                          const native::BatchRequest* offer) {
    const Device& node = p.spec->node;
    p.opened = true;
    const auto before = AcceptedBefore(PeerKey(node));
    // Serialized only for a peer that took batches before: it goes ahead.
    std::optional<nlohmann::json> ahead;
    if (offer && before && before->batch) ahead = native::ToJson(*offer);
    NativeSession::Start start{std::move(tcp), before.has_value(), ahead ? &*ahead : nullptr};
    auto opened = NativeSession::Open(node, job.partition, job.policy_index, opts_.session,
                                      std::move(start));
    if (opened.error == NativeSession::OpenError::kUnsupported) {
      MarkUnsupported(PeerKey(node), opened.status.message());
      p.result.unsupported = true;
    } else if (!opened.session) {
      p.Note(opened.status);
    }
    // An open that failed before a 2xx may be a server that no longer speaks REPCONN
    // (and lost its 405 to a reset), or one refused for taking batches no more: the next
    // session asks it the plain way. One that failed later (a busy partition) changes
    // nothing.
    if (opened.session) {
      NoteRepconn(PeerKey(node), &opened.session->extensions());
    } else if (!opened.accepted) {
      NoteRepconn(PeerKey(node), nullptr);
    }
    p.offer_sent = opened.session && opened.offer_sent;
    p.session = std::move(opened.session);
    if (!p.session) p.device.reset();
  };
  auto open_one = [&](Peer& p, const native::BatchRequest* offer) {
    // Connected before the wait for the device: a session queued behind another job's
    // starts without TCP's handshake. One such connection per peer device (the next in
    // line), so queued jobs do not hold a server's connections idle. One that waited
    // long is not trusted to be kept open by the peer (client_timeout), nor is one the
    // peer closed (Open checks).
    const std::string key = DeviceKey(p.spec->node);
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<net::SocketStream> tcp;
    if (ClaimPreconnect(key)) {
      auto c = NativeSession::Connect(p.spec->node, opts_.session);
      if (!c.ok()) {
        ClaimPreconnect(key, false);
        p.opened = true;
        p.Note(c.status().WithContext(key));
        return;
      }
      tcp = std::move(*c);
    }
    p.device.emplace(gate_.Acquire({key}));
    if (tcp) ClaimPreconnect(key, false);
    if (std::chrono::steady_clock::now() - start > kPreconnectMaxWait) tcp.reset();
    open_session(p, std::move(tcp), offer);
  };
  std::optional<PeerGate::Hold> all_devices;  // a multi-batch partition's
  auto open_all = [&] {
    std::vector<std::string> devices;
    std::vector<Peer*> order;
    for (auto& p : peers) {
      if (!p.wanted) continue;
      devices.push_back(DeviceKey(p.spec->node));
      order.push_back(&p);
    }
    all_devices.emplace(gate_.Acquire(devices));
    std::sort(order.begin(), order.end(), [](const Peer* a, const Peer* b) {
      const Device &x = a->spec->node, &y = b->spec->node;
      return std::tie(x.replication_ip, x.replication_port, x.device) <
             std::tie(y.replication_ip, y.replication_port, y.device);
    });
    for (Peer* p : order) open_session(*p, nullptr, nullptr);
  };
  FanOut(opts_, job, peers, open_one, open_all).Walk();
  all_devices.reset();
  std::vector<SyncResult> out;
  for (auto& p : peers) out.push_back(Finish(job, p));
  return out;
}

}  // namespace replicant::sync
