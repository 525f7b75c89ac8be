#include "replicator/priority_client.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "net/http_transport.h"

namespace replicant {
namespace {

bool Contains(const std::vector<const Device*>& list, const Device& d) {
  return std::any_of(list.begin(), list.end(), [&](const Device* x) { return SameDevice(*x, d); });
}

std::string Request(const Device& to, const std::string& body) {
  std::string host = to.replication_ip.find(':') != std::string::npos
                         ? "[" + to.replication_ip + "]" : to.replication_ip;
  return fmt::format("POST /priorityrep HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json"
                     "\r\nContent-Length: {}\r\nUser-Agent: replicant\r\n\r\n{}",
                     host, to.replication_port, body.size(), body);
}

std::string BodyFor(const PlannedJob& j, const Device& from, int policy) {
  ops::PriorityJob job;
  job.policy = policy;
  job.partition = j.partition;
  job.from_device = from.device;
  for (const Device& t : j.targets) {
    job.to_devices.push_back({std::nullopt, t.replication_ip, t.replication_port, t.device});
  }
  return ops::PriorityRequestJson(job);
}

// One partition: asks its sources in order (all of them with all_sources).
void SendOne(const PlannedJob& j, int policy, double timeout, SendSummary* s) {
  bool queued = false, refused = false;
  for (const Device& from : j.sources) {
    std::vector<net::HttpExchange> ex(1);
    ex[0].ip = from.replication_ip;
    ex[0].port = from.replication_port;
    ex[0].request = Request(from, BodyFor(j, from, policy));
    net::RunExchanges(ex, net::HttpTimeouts{2.0, timeout}, 64 * 1024);
    std::string where = fmt::format("partition {} via {}:{}/{}", j.partition, from.replication_ip,
                                    from.replication_port, from.device);
    if (!ex[0].status.ok()) {
      refused = true;
      s->errors.push_back(where + ": " + ex[0].status.message());
    } else if (ex[0].http_status == 202) {
      queued = true;
      s->jobs++;
      if (!j.all_sources) break;
    } else if (ex[0].http_status != 404) {
      refused = true;
      s->errors.push_back(fmt::format("{}: HTTP {} {}", where, ex[0].http_status, ex[0].body));
    }
  }
  if (queued) s->queued++;
  else if (refused || j.sources.empty()) s->failures++;
  else s->empty++;
  if (j.sources.empty()) {
    s->errors.push_back(fmt::format("partition {}: no node of the old primaries is in the new "
                                    "ring", j.partition));
  }
}

}  // namespace

bool SameDevice(const Device& a, const Device& b) {
  return a.replication_ip == b.replication_ip && a.replication_port == b.replication_port &&
         a.device == b.device;
}

Result<std::vector<PlannedJob>> PlanMoveParts(const Ring& old_ring, const Ring& new_ring) {
  if (old_ring.partition_count() != new_ring.partition_count()) {
    return Status::InvalidArgument(fmt::format(
        "the rings have different part powers ({} and {}): moveparts needs the same partitions",
        old_ring.part_power(), new_ring.part_power()));
  }
  std::vector<PlannedJob> out;
  std::vector<const Device*> all_new;
  for (const auto& d : new_ring.devices()) if (d) all_new.push_back(&*d);
  for (uint32_t p = 0; p < new_ring.partition_count(); ++p) {
    auto olds = old_ring.GetPartNodes(p);
    auto news = new_ring.GetPartNodes(p);
    PlannedJob j;
    j.partition = p;
    for (const Device* n : news) {
      if (!Contains(olds, *n)) j.targets.push_back(*n);
    }
    if (j.targets.empty()) continue;
    // Old primaries still in the new ring (by its current address); those that stay
    // primaries first, as they certainly keep the data.
    for (int pass = 0; pass < 2; ++pass) {
      for (const Device* o : olds) {
        if (Contains(news, *o) != (pass == 0) || !Contains(all_new, *o)) continue;
        j.sources.push_back(*o);
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<PlannedJob> PlanRestore(const Ring& ring, const Device& dev) {
  std::vector<PlannedJob> out;
  for (uint32_t p = 0; p < ring.partition_count(); ++p) {
    auto nodes = ring.GetPartNodes(p);
    if (!Contains(nodes, dev)) continue;
    PlannedJob j;
    j.partition = p;
    j.targets.push_back(dev);
    j.all_sources = true;
    for (const Device* n : nodes) {
      if (!SameDevice(*n, dev)) j.sources.push_back(*n);
    }
    out.push_back(std::move(j));
  }
  return out;
}

SendSummary SendPriorityJobs(const std::vector<PlannedJob>& plan, int policy, int parallel,
                             double timeout) {
  SendSummary total;
  total.partitions = plan.size();
  // Partitions are sent `parallel` at a time, each by its own thread.
  std::vector<SendSummary> parts(plan.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, parallel); ++t) {
    threads.emplace_back([&] {
      for (size_t i; (i = next++) < plan.size();) SendOne(plan[i], policy, timeout, &parts[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& s : parts) {
    total.queued += s.queued;
    total.jobs += s.jobs;
    total.empty += s.empty;
    total.failures += s.failures;
    for (auto& e : s.errors) total.errors.push_back(std::move(e));
  }
  return total;
}

}  // namespace replicant
