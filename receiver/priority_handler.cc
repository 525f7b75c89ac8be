#include "receiver/priority_handler.h"

#include <sys/stat.h>

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "diskfile/drive.h"
#include "diskfile/layout.h"
#include "ops/priority_job.h"

namespace replicant::receiver {
using ops::kMaxPriorityBody;
using ops::ParsePriorityJob;
using ops::PriorityJobPath;
using ops::QueuePriorityJob;

namespace {

Status Answer(Exchange& ex, int status, const std::string& msg) {
  if (status >= 400) ex.Note(msg);
  nlohmann::json doc = status < 300 ? nlohmann::json{{"queued", msg}}
                                    : nlohmann::json{{"error", msg}};
  return ex.Respond(status, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                    {{"Content-Type", "application/json"}});
}

// The body, at most kMaxPriorityBody bytes; InvalidArgument when longer.
Result<std::string> ReadBody(Exchange& ex) {
  if (auto len = ex.request().content_length(); len && *len > kMaxPriorityBody) {
    return Status::InvalidArgument(fmt::format("body over {} bytes", kMaxPriorityBody));
  }
  std::string body;
  char buf[8192];
  for (;;) {
    auto n = ex.Body().Read(buf, sizeof(buf));
    if (!n.ok()) return n.status();
    if (*n == 0) return body;
    body.append(buf, *n);
    if (body.size() > kMaxPriorityBody) {
      return Status::InvalidArgument(fmt::format("body over {} bytes", kMaxPriorityBody));
    }
  }
}

}  // namespace

Status HandlePriorityRep(Exchange& ex) {
  if (ex.request().path != "/priorityrep") return RespondMethodNotAllowed(ex);
  ServerContext& ctx = ex.context();
  auto body = ReadBody(ex);
  if (!body.ok()) {
    if (!body.status().IsInvalidArgument()) {  // the client went away or stalled
      ex.Note(body.status().message());
      return body.status();
    }
    return Answer(ex, 400, body.status().message());
  }
  auto job = ParsePriorityJob(*body);
  if (!job.ok()) return Answer(ex, 400, job.status().message());
  const StoragePolicy* policy = ctx.swift.FindPolicy(job->policy);
  if (!policy) return Answer(ex, 503, fmt::format("No policy with index {}", job->policy));
  if (policy->type != "replication") {
    return Answer(ex, 503, fmt::format("Policy {} is not a replication policy", job->policy));
  }
  if (auto limit = ctx.bounds.Limit(*policy); limit && job->partition >= *limit) {
    return Answer(ex, 400, fmt::format("Invalid partition: {} (policy {} has {} partitions)",
                                       job->partition, job->policy, *limit));
  }
  auto dev = diskfile::CheckDrive(ctx.config.devices, job->from_device, ctx.config.mount_check);
  if (!dev.ok()) return Answer(ex, 507, dev.status().message());
  std::string part_path =
      diskfile::PartitionDirOn(*dev, job->policy, std::to_string(job->partition));
  struct stat st;
  if (stat(part_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Answer(ex, 404, fmt::format("partition {} of policy {} is not on {}", job->partition,
                                       job->policy, job->from_device));
  }
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  if (Status s = QueuePriorityJob(ctx.config.devices, *job, now); !s.ok()) {
    return Answer(ex, s.IsNoSpace() ? 507 : 500, s.message());
  }
  std::string path = PriorityJobPath(ctx.config.devices, *job);
  ex.Note(fmt::format("queued {} for {} target(s)", path, job->to_devices.size()));
  return Answer(ex, 202, path);
}

}  // namespace replicant::receiver
