// Config check: the start-up warnings a daemon gives for options it will not use.
//
// Misspelt options are the commonest configuration error, and Swift silently ignores
// them. A daemon lists the options it reads and the Swift options it knows but does
// not implement; every option written in its own section (not inherited from
// [DEFAULT], which holds options for every daemon) that is in neither list gets one
// warning line. Pure function of its arguments; thread-safe.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "formats/config.h"

namespace replicant {

struct KnownOptions {
  std::set<std::string> used;         // read by this daemon
  std::set<std::string> not_honoured;  // Swift's, accepted but without effect here
};

// One line per option of `section` (its own lines only) that is not used.
std::vector<std::string> UnusedOptionWarnings(const ConfigFile& file, const std::string& section,
                                              const KnownOptions& known);

// The log_* options every Swift daemon reads (utils.get_logger), plus replicant's
// log_to_syslog: callers add these to their `used` set.
const std::set<std::string>& LoggingOptionNames();

}  // namespace replicant
