#include "replicator/log_setup.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace replicant {
namespace {

// Sends each line to a unix datagram socket (syslogd's /dev/log or any listener).
class SyslogSocketSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SyslogSocketSink(std::string address, int facility, std::string ident)
      : address_(std::move(address)), facility_(facility), ident_(std::move(ident)) {}
  ~SyslogSocketSink() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Connect() {
    if (fd_ >= 0) close(fd_);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Status::FromErrno("syslog socket", errno);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (address_.size() >= sizeof(sa.sun_path)) {
      return Status::InvalidArgument("log_address " + address_ + ": path too long");
    }
    std::memcpy(sa.sun_path, address_.c_str(), address_.size() + 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      int e = errno;
      close(fd_);
      fd_ = -1;
      return Status::FromErrno("log_address " + address_, e);
    }
    return Status::OK();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // Python's SysLogHandler appends a NUL (append_nul), and so does Swift's logger.
    std::string line = fmt::format("<{}>{}: {}", facility_ * 8 + Severity(msg.level), ident_,
                                   std::string_view(msg.payload.data(), msg.payload.size()));
    line.push_back('\0');
    // Reconnect once: syslogd may have been restarted since the last line.
    if (fd_ < 0 || send(fd_, line.data(), line.size(), MSG_NOSIGNAL) < 0) {
      if (Connect().ok()) (void)send(fd_, line.data(), line.size(), MSG_NOSIGNAL);
    }
  }
  void flush_() override {}

 private:
  static int Severity(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::critical: return 2;
      case spdlog::level::err: return 3;
      case spdlog::level::warn: return 4;
      case spdlog::level::info: return 6;
      default: return 7;
    }
  }
  std::string address_;
  int facility_;
  std::string ident_;
  int fd_ = -1;
};

}  // namespace

LogOptions LogOptionsFromSection(const ConfigSection& s, const std::string& default_name) {
  LogOptions o;
  o.name = s.GetString("log_name", default_name);
  if (o.name.empty()) o.name = default_name;
  o.level = s.GetString("log_level", o.level);
  o.facility = s.GetString("log_facility", o.facility);
  o.address = s.GetString("log_address", o.address);
  o.to_syslog = ConfigTrueValue(s.GetString("log_to_syslog", "false"));
  return o;
}

int SpdlogLevel(const std::string& swift_level) {
  std::string l = swift_level;
  for (auto& c : l) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (l == "DEBUG") return spdlog::level::debug;
  if (l == "WARNING" || l == "WARN") return spdlog::level::warn;
  if (l == "ERROR") return spdlog::level::err;
  if (l == "CRITICAL") return spdlog::level::critical;
  return spdlog::level::info;  // INFO, NOTICE, and Swift's fallback for unknown names
}

int SyslogFacility(const std::string& name) {
  static const std::pair<const char*, int> kFacilities[] = {
      {"LOG_KERN", 0},    {"LOG_USER", 1},    {"LOG_MAIL", 2},    {"LOG_DAEMON", 3},
      {"LOG_AUTH", 4},    {"LOG_SYSLOG", 5},  {"LOG_LPR", 6},     {"LOG_NEWS", 7},
      {"LOG_UUCP", 8},    {"LOG_CRON", 9},    {"LOG_AUTHPRIV", 10}, {"LOG_FTP", 11},
      {"LOG_LOCAL0", 16}, {"LOG_LOCAL1", 17}, {"LOG_LOCAL2", 18}, {"LOG_LOCAL3", 19},
      {"LOG_LOCAL4", 20}, {"LOG_LOCAL5", 21}, {"LOG_LOCAL6", 22}, {"LOG_LOCAL7", 23}};
  for (const auto& [n, code] : kFacilities) {
    if (name == n) return code;
  }
  return 16;
}

Status SetupLogging(const LogOptions& o, LogOverrides overrides) {
  std::vector<spdlog::sink_ptr> sinks;
  if (o.to_syslog) {
    auto sink = std::make_shared<SyslogSocketSink>(o.address, SyslogFacility(o.facility), o.name);
    if (Status st = sink->Connect(); !st.ok()) return st;
    sinks.push_back(sink);
  }
  if (!o.to_syslog || overrides.console) {
    auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    console->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
    sinks.push_back(console);
  }
  auto logger = std::make_shared<spdlog::logger>(o.name, sinks.begin(), sinks.end());
  logger->set_level(overrides.debug ? spdlog::level::debug
                                    : static_cast<spdlog::level::level_enum>(SpdlogLevel(o.level)));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return Status::OK();
}

}  // namespace replicant
