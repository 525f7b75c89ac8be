#include "formats/config_check.h"

namespace replicant {

std::vector<std::string> UnusedOptionWarnings(const ConfigFile& file, const std::string& section,
                                              const KnownOptions& known) {
  std::vector<std::string> out;
  for (const auto& key : file.OwnKeys(section)) {
    if (known.used.count(key)) continue;
    if (known.not_honoured.count(key)) {
      out.push_back("[" + section + "] " + key + " in " + file.source() +
                    ": a Swift option replicant does not implement; ignored");
    } else {
      out.push_back("[" + section + "] " + key + " in " + file.source() +
                    ": unknown option, ignored (misspelt?)");
    }
  }
  return out;
}

const std::set<std::string>& LoggingOptionNames() {
  static const std::set<std::string> kNames = {
      "log_name", "log_level", "log_facility", "log_address", "log_to_syslog",
      "log_max_line_length", "log_udp_host", "log_udp_port", "log_statsd_host",
      "log_statsd_port", "log_statsd_default_sample_rate", "log_statsd_sample_rate_factor",
      "log_statsd_metric_prefix"};
  return kNames;
}

}  // namespace replicant
