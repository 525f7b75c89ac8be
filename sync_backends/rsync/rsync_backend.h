// RsyncBackend: pushes suffix directories with the real rsync binary to the peer's
// rsync daemon, with exactly the arguments Swift's object replicator uses.
//
// One rsync process per (job, peer), run once more when a source file changed under it;
// each is killed after rsync_timeout seconds. The backend holds only immutable options,
// so it is safe to call from many threads.
// rsync's own messages on a failure go into the result's Status, not the log.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant::sync {

struct RsyncOptions {
  std::string rsync_binary = "rsync";
  std::string module_template = "{replication_ip}::object";  // Swift's rsync_module
  int timeout_seconds = 900;        // rsync_timeout: whole-process limit
  std::string io_timeout = "30";    // rsync_io_timeout: --timeout and --contimeout
  std::string bwlimit = "0";        // rsync_bwlimit
  bool compress = false;            // rsync_compress (only across regions, as Swift)
  bool log_transfers = true;        // log_rsync_transfers
  size_t error_log_line_length = 0;  // rsync_error_log_line_length (0 = unlimited)
  // rsync_tcp_nodelay (a replicant addition): --sockopts=TCP_NODELAY for daemon
  // destinations. Without it each small client write waits for the daemon's delayed
  // ACK (Nagle), ~40 ms several times per invocation; false = Swift's exact arguments.
  bool tcp_nodelay = true;
  // files_per_second: the files an rsync reports it sent ("<f" lines) are taken from
  // the bucket after it exits, so this job's thread waits before its next sync. The
  // byte rate is rsync's own --bwlimit (EffectiveBwlimit); its `bytes` is not used.
  Throttle throttle;
};

// The --bwlimit value for one rsync process: the tighter of rsync_bwlimit and
// bytes_per_second shared by `processes` concurrent rsyncs (in KiB/s, at least 1).
// bytes_per_second <= 0, or an rsync_bwlimit rsync would reject, leaves rsync_bwlimit
// as it is. rsync_bwlimit follows rsync: KiB/s by default, or a number with a K/M/G/T
// suffix (1024-based; "KB" etc. 1000-based, "KiB" 1024-based).
std::string EffectiveBwlimit(const std::string& rsync_bwlimit, double bytes_per_second,
                             int processes);

// Whether an rsync destination names an rsync daemon (host::module or
// rsync://host[:port]/module, IPv6 hosts bracketed) rather than a remote shell path.
bool IsRsyncDaemonDestination(const std::string& dest);

// Swift's rsync_module_interpolation: str.format-style {name} placeholders from the
// device (ip, port, replication_ip, replication_port, region, zone, device, meta);
// IPv6 addresses are bracketed. Unknown names are an InvalidArgument error.
Result<std::string> InterpolateRsyncModule(const std::string& tmpl, const Device& dev);

// The full argument vector Swift would run for this sync (without checking that the
// suffix dirs exist), plus --sockopts=TCP_NODELAY (after Swift's options) when
// opts.tcp_nodelay and `module` is a daemon destination.
std::vector<std::string> BuildRsyncArgs(const RsyncOptions& opts, const Device& node,
                                        const SyncJob& job, const std::string& module,
                                        const std::vector<std::string>& suffix_paths);

class RsyncBackend final : public PeerByPeerBackend {
 public:
  // Fails when the rsync binary cannot be found or the module template is invalid.
  static Result<std::unique_ptr<RsyncBackend>> Create(RsyncOptions opts);

  const char* name() const override { return "rsync"; }
  bool NeedsRehashRequest() const override { return true; }
  bool ConfirmsObjects() const override { return false; }

 private:
  explicit RsyncBackend(RsyncOptions opts) : opts_(std::move(opts)) {}
  SyncResult SyncPeer(const SyncJob& job, const PeerSync& peer) override;
  // Runs rsync; OK on exit 0, else Swift's error line ("Bad rsync return code: ...",
  // "Killing long-running rsync after ...") with rsync's messages, cut to
  // rsync_error_log_line_length. *source_changed: rsync failed because a source file
  // changed or vanished while it ran.
  Status RunRsync(const std::vector<std::string>& args, const std::string& where,
                  const std::string& base, SyncResult* counts, bool* source_changed) const;
  // Counts the files rsync sent (itemized "<f" lines, sizes from `base`, the synced
  // partition dir) into *counts when set, logs the transfers, and returns rsync's
  // other lines when it failed.
  std::string ReportOutput(const std::string& output, int ret, const std::string& base,
                           SyncResult* counts) const;

  RsyncOptions opts_;
};

}  // namespace replicant::sync
