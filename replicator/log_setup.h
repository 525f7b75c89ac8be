// Logging for the daemons: Swift's log_name, log_level, log_facility and log_address
// options, plus replicant's log_to_syslog. Both daemons log to stderr by default
// (systemd's journal collects it); with log_to_syslog = true they send RFC 3164-style
// datagrams "<PRI>log_name: message" to log_address (default /dev/log) with
// log_facility (default LOG_LOCAL0; an unknown name falls back to it, as in Swift),
// exactly what Swift's SysLogHandler sends.
//
// SetupLogging installs the default spdlog logger; call it once, before other threads.
#pragma once

#include <string>

#include "formats/config.h"
#include "formats/status.h"

namespace replicant {

struct LogOptions {
  std::string name;
  std::string level = "INFO";
  bool to_syslog = false;
  std::string facility = "LOG_LOCAL0";
  std::string address = "/dev/log";
};

// Reads the log_* options of a section (default_name when it sets no log_name).
LogOptions LogOptionsFromSection(const ConfigSection& s, const std::string& default_name);
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
