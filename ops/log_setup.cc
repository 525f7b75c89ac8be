#include "ops/log_setup.h"

#include <netdb.h>
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

// Sends each line as one datagram to syslog: a unix socket (syslogd's /dev/log or any
// listener) or, with a UDP host, a remote syslogd (Swift's log_udp_host).
class SyslogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SyslogSink(const LogOptions& o, int facility) : o_(o), facility_(facility) {}
  ~SyslogSink() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Connect() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return o_.udp_host.empty() ? ConnectUnix() : ConnectUdp();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text = TruncateLogLine(
        fmt::format("{}: {}", o_.name, std::string_view(msg.payload.data(), msg.payload.size())),
        o_.max_line_length);
    // Python's SysLogHandler appends a NUL (append_nul), and so does Swift's logger.
    std::string line = fmt::format("<{}>{}", facility_ * 8 + Severity(msg.level), text);
    line.push_back('\0');
    // Reconnect once: syslogd may have been restarted since the last line.
    if (fd_ < 0 || send(fd_, line.data(), line.size(), MSG_NOSIGNAL) < 0) {
      if (Connect().ok()) (void)send(fd_, line.data(), line.size(), MSG_NOSIGNAL);
    }
  }
  void flush_() override {}

 private:
  Status ConnectUnix() {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (o_.address.size() >= sizeof(sa.sun_path)) {
      return Status::InvalidArgument("log_address " + o_.address + ": path too long");
    }
    std::memcpy(sa.sun_path, o_.address.c_str(), o_.address.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Status::FromErrno("syslog socket", errno);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      int e = errno;
      close(fd_);
      fd_ = -1;
      return Status::FromErrno("log_address " + o_.address, e);
    }
    return Status::OK();
  }
  Status ConnectUdp() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    std::string where = fmt::format("log_udp_host {} port {}", o_.udp_host, o_.udp_port);
    if (int rc = getaddrinfo(o_.udp_host.c_str(), std::to_string(o_.udp_port).c_str(), &hints,
                             &res);
        rc != 0) {
      return Status::InvalidArgument(where + ": " + gai_strerror(rc));
    }
    Status st = Status::IOError(where + ": no address");
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        st = Status::OK();
        break;
      }
      st = Status::FromErrno(where, errno);
      close(fd);
    }
    freeaddrinfo(res);
    return st;
  }
  static int Severity(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::critical: return 2;
      case spdlog::level::err: return 3;
      case spdlog::level::warn: return 4;
      case spdlog::level::info: return 6;
      default: return 7;
    }
  }
  LogOptions o_;
  int facility_;
  int fd_ = -1;
};

// stderr, each message truncated as Swift's formatter would.
class ConsoleSink : public spdlog::sinks::stderr_sink_mt {
 public:
  explicit ConsoleSink(size_t max_line_length) : max_(max_line_length) {}
  void log(const spdlog::details::log_msg& msg) override {
    if (max_ == 0 || msg.payload.size() <= max_) return spdlog::sinks::stderr_sink_mt::log(msg);
    std::string text = TruncateLogLine(std::string(msg.payload.data(), msg.payload.size()), max_);
    spdlog::details::log_msg cut(msg.time, msg.source, msg.logger_name, msg.level, text);
    spdlog::sinks::stderr_sink_mt::log(cut);
  }

 private:
  size_t max_;
};

}  // namespace

std::string TruncateLogLine(std::string line, size_t max_line_length) {
  if (max_line_length == 0 || line.size() <= max_line_length) return line;
  if (max_line_length < 7) return line.substr(0, max_line_length);
  size_t half = (max_line_length - 5) / 2;
  return line.substr(0, half) + " ... " + line.substr(line.size() - half);
}

Result<LogOptions> LogOptionsFromSection(const ConfigSection& s, const std::string& default_name) {
  LogOptions o;
  o.udp_host = s.GetString("log_udp_host", "");
  auto port = s.GetInt("log_udp_port", o.udp_port);
  if (!port.ok()) return port.status();
  if (*port < 1 || *port > 65535) {
    return Status::InvalidArgument(s.source() + ": [" + s.name() + "] log_udp_port: " +
                                   std::to_string(*port) + " is not a port");
  }
  o.udp_port = static_cast<int>(*port);
  auto max_len = s.GetInt("log_max_line_length", 0);
  if (!max_len.ok()) return max_len.status();
  o.max_line_length = *max_len > 0 ? static_cast<size_t>(*max_len) : 0;
  o.name = s.GetString("log_name", default_name);
  if (o.name.empty()) o.name = default_name;
  o.level = s.GetString("log_level", o.level);
  o.facility = s.GetString("log_facility", o.facility);
  o.address = s.GetString("log_address", o.address);
  o.to_syslog = ConfigTrueValue(s.GetString("log_to_syslog", "false")) || !o.udp_host.empty();
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
    auto sink = std::make_shared<SyslogSink>(o, SyslogFacility(o.facility));
    if (Status st = sink->Connect(); !st.ok()) return st;
    sinks.push_back(sink);
  }
  if (!o.to_syslog || overrides.console) {
    auto console = std::make_shared<ConsoleSink>(o.max_line_length);
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
