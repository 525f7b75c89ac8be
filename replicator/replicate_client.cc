#include "replicator/replicate_client.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "formats/pickle.h"
#include "formats/pickle_flat.h"
#include "formats/replicate_batch.h"
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

std::string BuildRequest(std::string_view method, const ReplicatePeer& peer,
                         const std::string& path, int policy_index,
                         const std::string& extra_headers) {
  // What http.client puts first (Host, bracketed for IPv6; Accept-Encoding), then
  // Swift's default_headers and the policy, in Swift's order. getpid() is a system
  // call in glibc; a request per partition and peer need not repeat it (a fork would
  // not go through here: the replicator never forks without exec).
  static const pid_t pid = getpid();
  std::string host = peer.ip.find(':') != std::string::npos ? "[" + peer.ip + "]" : peer.ip;
  if (peer.port != 80) host += ":" + std::to_string(peer.port);
  return fmt::format(
      "{} {} HTTP/1.1\r\n"
      "Host: {}\r\n"
      "Accept-Encoding: identity\r\n"
      "Content-Length: 0\r\n"
      "user-agent: object-replicator {}\r\n"
      "X-Backend-Storage-Policy-Index: {}\r\n"
      "{}"
      "\r\n",
      method, Quote(path), host, pid, policy_index, extra_headers);
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
  if (auto flat = pickle::LoadFlatDict(body)) {  // the usual answer, without a Value tree
    std::map<std::string, std::string> hashes;
    for (const auto& e : *flat) {
      std::string value;
      if (e.value.kind == pickle::FlatValue::Kind::kStr) value = e.value.s;
      hashes.insert_or_assign(std::string(e.key), std::move(value));
    }
    return hashes;
  }
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
  return BuildRequest("REPLICATE", peer, path, policy_index, "");
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

// Peers that answered REPLICATE-BATCH with 405 or 501 (Swift's object server, an older
// replicant): asked partition by partition, and asked again about batches an hour
// later (the peer may have been upgraded meanwhile).
class BatchRefusals {
 public:
  bool Refused(const ReplicatePeer& p) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = at_.find({p.ip, p.port});
    if (it == at_.end()) return false;
    if (Clock::now() - it->second < std::chrono::hours(1)) return true;
    at_.erase(it);
    return false;
  }
  void Refuse(const ReplicatePeer& p) {
    std::lock_guard<std::mutex> l(mu_);
    at_[{p.ip, p.port}] = Clock::now();
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, Clock::time_point> at_;
};

ReplicateClient::ReplicateClient(ReplicateTimeouts t)
    : timeouts_(t), refusals_(std::make_shared<BatchRefusals>()) {}

namespace {

std::string BatchWhere(const HashesRequest& r) {
  return fmt::format("{} {}:{}/{}/{}", replicate_batch::kMethod, r.peer.ip, r.peer.port,
                     r.peer.device, r.partition);
}

}  // namespace

// One exchange answers `members` (indexes into `requests`): a REPLICATE, or a batch.
struct PendingHashes::Flights {
  struct Plan {
    std::vector<size_t> members;
    bool batch = false;
  };
  std::vector<HashesRequest> requests;
  std::vector<Plan> plans;
  ReplicateTimeouts timeouts;
  std::shared_ptr<BatchRefusals> refusals;
  std::unique_ptr<net::PendingExchanges> exchanges;

  // A batch's answers into out[members]; the members to ask one by one instead (a
  // peer that does not take batches, or refused one partition of it) into *retry.
  void Unbatch(const Plan& plan, net::HttpExchange& x,
               std::vector<Result<ReplicateResponse>>* out, std::vector<size_t>* retry) const;
};

PendingHashes::PendingHashes(std::unique_ptr<Flights> f) : flights_(std::move(f)) {}
PendingHashes::~PendingHashes() = default;

void PendingHashes::Flights::Unbatch(const Plan& plan, net::HttpExchange& x,
                                     std::vector<Result<ReplicateResponse>>* out,
                                     std::vector<size_t>* retry) const {
  const HashesRequest& first = requests[plan.members[0]];
  if (x.status.ok() && (x.http_status == 405 || x.http_status == 501 || x.http_status == 400)) {
    // 400: one partition the peer's ring does not have; the others still deserve an answer.
    if (x.http_status != 400) {
      refusals->Refuse(first.peer);
      spdlog::info("{}:{} answered {} with {}: asking it partition by partition for an hour",
                   first.peer.ip, first.peer.port, replicate_batch::kMethod, x.http_status);
    }
    retry->insert(retry->end(), plan.members.begin(), plan.members.end());
    return;
  }
  if (!x.status.ok() || x.http_status != 200) {
    // A transport failure, or the device's answer (507, 503): each partition's.
    for (size_t m : plan.members) (*out)[m] = ToResponse(x, BatchWhere(requests[m]), false);
    return;
  }
  auto entries = replicate_batch::ParseAnswer(x.body, plan.members.size());
  for (size_t i = 0; i < plan.members.size(); ++i) {
    size_t m = plan.members[i];
    std::string where = BatchWhere(requests[m]);
    if (!entries.ok()) {
      (*out)[m] = entries.status().WithContext(where);
      continue;
    }
    ReplicateResponse resp;
    resp.http_status = (*entries)[i].status;
    if (resp.http_status == 200) {
      auto hashes = ParseHashesAnswer((*entries)[i].body, where);
      if (!hashes.ok()) {
        (*out)[m] = hashes.status();
        continue;
      }
      resp.hashes = std::move(*hashes);
    }
    (*out)[m] = std::move(resp);
  }
}

std::vector<Result<ReplicateResponse>> PendingHashes::Collect() {
  Flights& f = *flights_;
  std::vector<net::HttpExchange>& xs = f.exchanges->Wait();
  std::vector<Result<ReplicateResponse>> out(f.requests.size(),
                                             Status::Unavailable("REPLICATE not sent"));
  std::vector<size_t> retry;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Flights::Plan& plan = f.plans[k];
    if (plan.batch) {
      f.Unbatch(plan, xs[k], &out, &retry);
      // Parsed: a batch's answer (up to 16 partitions' pickles) need not outlive it.
      std::string().swap(xs[k].body);
      continue;
    }
    const HashesRequest& r = f.requests[plan.members[0]];
    out[plan.members[0]] = ToResponse(xs[k], Where(r.peer, GetHashesPath(r.peer, r.partition)),
                                      true);
  }
  if (retry.empty()) return out;
  std::vector<net::HttpExchange> again;
  for (size_t m : retry) {
    const HashesRequest& r = f.requests[m];
    again.push_back(MakeExchange(r.peer, GetHashesPath(r.peer, r.partition), r.policy_index));
  }
  net::RunExchanges(again, Transport(f.timeouts), kMaxReplicateBody);
  for (size_t i = 0; i < retry.size(); ++i) {
    const HashesRequest& r = f.requests[retry[i]];
    out[retry[i]] = ToResponse(again[i], Where(r.peer, GetHashesPath(r.peer, r.partition)), true);
  }
  return out;
}

std::unique_ptr<PendingHashes> ReplicateClient::StartGetHashes(
    const std::vector<HashesRequest>& requests) const {
  auto f = std::make_unique<PendingHashes::Flights>();
  f->requests = requests;
  f->timeouts = timeouts_;
  f->refusals = refusals_;
  // The partitions asked of one peer device under one policy go in batches, unless
  // the peer refused batches or there is only one. A partition asked twice (a batch
  // lists each once) goes alone the second time.
  std::map<std::tuple<std::string, int, std::string, int>, std::vector<size_t>> groups;
  std::set<std::tuple<std::string, int, std::string, int, std::string>> grouped;
  std::vector<net::HttpExchange> xs;
  for (size_t i = 0; i < requests.size(); ++i) {
    const HashesRequest& r = requests[i];
    if (grouped.insert({r.peer.ip, r.peer.port, r.peer.device, r.policy_index, r.partition})
            .second) {
      groups[{r.peer.ip, r.peer.port, r.peer.device, r.policy_index}].push_back(i);
    } else {
      xs.push_back(MakeExchange(r.peer, GetHashesPath(r.peer, r.partition), r.policy_index));
      f->plans.push_back({{i}, false});
    }
  }
  for (const auto& [key, members] : groups) {
    const HashesRequest& first = requests[members[0]];
    if (members.size() < 2 || refusals_->Refused(first.peer)) {
      for (size_t m : members) {
        xs.push_back(MakeExchange(requests[m].peer, GetHashesPath(requests[m].peer,
                                                                  requests[m].partition),
                                  requests[m].policy_index));
        f->plans.push_back({{m}, false});
      }
      continue;
    }
    for (size_t at = 0; at < members.size(); at += replicate_batch::kMaxBatchPartitions) {
      PendingHashes::Flights::Plan plan{{}, true};
      std::vector<std::string> partitions;
      for (size_t j = at; j < std::min(members.size(), at + replicate_batch::kMaxBatchPartitions);
           ++j) {
        plan.members.push_back(members[j]);
        partitions.push_back(requests[members[j]].partition);
      }
      net::HttpExchange x;
      x.ip = first.peer.ip;
      x.port = first.peer.port;
      x.request = BuildRequest(replicate_batch::kMethod, first.peer, "/" + first.peer.device,
                               first.policy_index,
                               fmt::format("{}: {}\r\n", replicate_batch::kPartitionsHeader,
                                           replicate_batch::JoinPartitions(partitions)));
      x.max_body = replicate_batch::kMaxAnswerBody;
      xs.push_back(std::move(x));
      f->plans.push_back(std::move(plan));
    }
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
