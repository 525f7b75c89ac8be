// ssync_tool: runs replicant's SSYNC receiver on stdin/stdout, for differential tests
// against Swift's own ssync_receiver.Receiver.
//
//   ssync_tool receive DEVICES DEVICE PARTITION POLICY HASH_PREFIX HASH_SUFFIX
//
// stdin is the de-chunked request body, stdout gets the response body.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "sync_backends/ssync/ssync_receiver.h"

namespace {

class FdStream : public replicant::net::ByteStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  replicant::Result<size_t> Read(char* buf, size_t n) override {
    ssize_t got = read(fd_, buf, n);
    if (got < 0) return replicant::Status::FromErrno("read", errno);
    return static_cast<size_t>(got);
  }
  replicant::Status Write(std::string_view d) override {
    size_t off = 0;
    while (off < d.size()) {
      ssize_t n = write(fd_, d.data() + off, d.size() - off);
      if (n < 0) return replicant::Status::FromErrno("write", errno);
      off += static_cast<size_t>(n);
    }
    return replicant::Status::OK();
  }

 private:
  int fd_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8 || std::string(argv[1]) != "receive") {
    std::fprintf(stderr, "usage: ssync_tool receive DEVICES DEVICE PARTITION POLICY PREFIX SUFFIX\n");
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_logger_mt("ssync_tool"));  // stdout is the response
  replicant::sync::ssync::SsyncRequest req;
  req.devices_dir = argv[2];
  req.device = argv[3];
  req.partition = argv[4];
  req.policy_index = std::atoi(argv[5]);
  req.hash_path_prefix = argv[6];
  req.hash_path_suffix = argv[7];
  req.remote_addr = "stdin";
  FdStream in(0), out(1);
  auto st = replicant::sync::ssync::HandleSsync(req, in, out);
  if (!st.ok()) std::fprintf(stderr, "%s\n", st.ToString().c_str());
  return 0;
}
