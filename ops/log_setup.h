// Logging for the daemons: Swift's log_name, log_level, log_facility, log_address,
// log_udp_host, log_udp_port and log_max_line_length options, plus replicant's
// log_to_syslog. Both daemons log to stderr by default (systemd's journal collects it);
// with log_to_syslog = true, or log_udp_host set, they send RFC 3164-style datagrams
// "<PRI>log_name: message" to log_udp_host:log_udp_port (default port 514) or else to
// log_address (default /dev/log) with log_facility (default LOG_LOCAL0; an unknown name
// falls back to it, as in Swift), exactly what Swift's SysLogHandler sends. A line longer
// than log_max_line_length (0 = no limit) keeps its head and tail around " ... ", as
// Swift's SwiftLogFormatter does (counted in bytes here, in characters in Swift).
//
// SetupLogging installs the default spdlog logger; call it once, before other threads.
#pragma once

#include <string>

#include "formats/config.h"
#include "base/status.h"

namespace replicant {

struct LogOptions {
  std::string name;
  std::string level = "INFO";
  bool to_syslog = false;
  std::string facility = "LOG_LOCAL0";
  std::string address = "/dev/log";
  std::string udp_host;  // set: syslog over UDP to udp_host:udp_port instead of address
  int udp_port = 514;
  size_t max_line_length = 0;
};

// Swift's SwiftLogFormatter truncation of one formatted line.
std::string TruncateLogLine(std::string line, size_t max_line_length);

// Reads the log_* options of a section (default_name when it sets no log_name). Bad
// numbers (log_udp_port, log_max_line_length) are errors naming the option.
Result<LogOptions> LogOptionsFromSection(const ConfigSection& s, const std::string& default_name);
// Swift's level names (DEBUG, INFO, NOTICE, WARNING/WARN, ERROR, CRITICAL; any case);
// anything else is INFO.
int SpdlogLevel(const std::string& swift_level);
// The syslog facility code (LOG_LOCAL0 = 16...), for a name like "LOG_LOCAL3".
int SyslogFacility(const std::string& name);

// How the command line changes logging: `debug` forces DEBUG (serve -v);
// `console` logs to stderr as well when syslog is configured (Swift's daemons' -v).
struct LogOverrides {
  bool debug = false;
  bool console = false;
};

// Fails only when syslog is asked for and log_address cannot be reached.
Status SetupLogging(const LogOptions& o, LogOverrides overrides);

}  // namespace replicant
