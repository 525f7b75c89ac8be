#include "replicator/replicate_client.h"

#include <unistd.h>

#include <cctype>

#include <fmt/format.h>

#include "formats/pickle.h"
#include "net/http_transport.h"

namespace replicant {
namespace {

// Percent-encodes a path as Python's urllib quote() does (safe '/').
std::string Quote(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string GetHashesPath(const ReplicatePeer& peer, const std::string& partition) {
  return "/" + peer.device + "/" + partition;
}

std::string Where(const ReplicatePeer& peer, const std::string& path) {
  return fmt::format("REPLICATE {}:{}{}", peer.ip, peer.port, path);
}

net::HttpExchange MakeExchange(const ReplicatePeer& peer, const std::string& path, int policy_index) {
  net::HttpExchange x;
  x.ip = peer.ip;
  x.port = peer.port;
  x.request = BuildReplicateRequest(peer, path, policy_index);
  return x;
}

net::HttpTimeouts Transport(const ReplicateTimeouts& t) { return {t.conn_timeout, t.http_timeout}; }

Result<ReplicateResponse> ToResponse(net::HttpExchange& x, const std::string& where, bool parse_body) {
  if (!x.status.ok()) {
    if (x.status.IsCorruption()) return Status::Corruption(where + ": " + x.status.message());
    return Status::Unavailable(where + ": " + x.status.message());
  }
  ReplicateResponse resp;
  resp.http_status = x.http_status;
  if (!parse_body || resp.http_status != 200) return resp;
  auto hashes = ParseHashesAnswer(x.body, where);
  if (!hashes.ok()) return hashes.status();
  resp.hashes = std::move(*hashes);
  return resp;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseHashesAnswer(std::string_view body,
                                                             const std::string& where) {
  auto value = pickle::Loads(body);
  if (!value.ok()) return value.status().WithContext(where + ": bad hashes pickle");
  if (!value->is_dict()) return Status::Corruption(where + ": hashes pickle is not a dict");
  std::map<std::string, std::string> hashes;
  for (const auto& [k, v] : value->dict()) {
    if (!k.is_str()) continue;
    hashes[k.as_string()] = v.is_str() ? v.as_string() : std::string();
  }
  return hashes;
}

std::string BuildReplicateRequest(const ReplicatePeer& peer, const std::string& path,
                                  int policy_index) {
  // What http.client puts first (Host, bracketed for IPv6; Accept-Encoding), then
  // Swift's default_headers and the policy, in Swift's order. getpid() is a system
  // call in glibc; a request per partition and peer need not repeat it (a fork would
  // not go through here: the replicator never forks without exec).
  static const pid_t pid = getpid();
  std::string host = peer.ip.find(':') != std::string::npos ? "[" + peer.ip + "]" : peer.ip;
  if (peer.port != 80) host += ":" + std::to_string(peer.port);
  return fmt::format(
      "REPLICATE {} HTTP/1.1\r\n"
      "Host: {}\r\n"
      "Accept-Encoding: identity\r\n"
      "Content-Length: 0\r\n"
      "user-agent: object-replicator {}\r\n"
      "X-Backend-Storage-Policy-Index: {}\r\n"
      "\r\n",
      Quote(path), host, pid, policy_index);
}

Result<ReplicateResponse> ReplicateClient::GetHashes(const ReplicatePeer& peer,
                                                     const std::string& partition,
                                                     int policy_index) const {
  std::string path = GetHashesPath(peer, partition);
  std::vector<net::HttpExchange> xs;
  xs.push_back(MakeExchange(peer, path, policy_index));
  net::RunExchanges(xs, Transport(timeouts_), kMaxReplicateBody);
  return ToResponse(xs[0], Where(peer, path), true);
}

struct PendingHashes::Flights {
  std::vector<std::string> where;
  std::unique_ptr<net::PendingExchanges> exchanges;
};

PendingHashes::PendingHashes(std::unique_ptr<Flights> f) : flights_(std::move(f)) {}
PendingHashes::~PendingHashes() = default;

std::vector<Result<ReplicateResponse>> PendingHashes::Collect() {
  std::vector<net::HttpExchange>& xs = flights_->exchanges->Wait();
  std::vector<Result<ReplicateResponse>> out;
  out.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) out.push_back(ToResponse(xs[i], flights_->where[i], true));
  return out;
}

std::unique_ptr<PendingHashes> ReplicateClient::StartGetHashes(
    const std::vector<HashesRequest>& requests) const {
  auto f = std::make_unique<PendingHashes::Flights>();
  std::vector<net::HttpExchange> xs;
  xs.reserve(requests.size());
  for (const auto& r : requests) {
    std::string path = GetHashesPath(r.peer, r.partition);
    xs.push_back(MakeExchange(r.peer, path, r.policy_index));
    f->where.push_back(Where(r.peer, path));
  }
  f->exchanges = std::make_unique<net::PendingExchanges>(std::move(xs), Transport(timeouts_),
                                                    kMaxReplicateBody);
  return std::unique_ptr<PendingHashes>(new PendingHashes(std::move(f)));
}

Result<ReplicateResponse> ReplicateClient::Rehash(const ReplicatePeer& peer,
                                                  const std::string& partition, int policy_index,
                                                  const std::vector<std::string>& suffixes) const {
  std::string joined;
  for (size_t i = 0; i < suffixes.size(); ++i) joined += (i ? "-" : "") + suffixes[i];
  std::string path = GetHashesPath(peer, partition) + "/" + joined;
  std::vector<net::HttpExchange> xs;
  xs.push_back(MakeExchange(peer, path, policy_index));
  net::RunExchanges(xs, Transport(timeouts_), kMaxReplicateBody);
  return ToResponse(xs[0], Where(peer, path), false);
}

}  // namespace replicant
