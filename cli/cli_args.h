// Command-line parsing shared by the subcommands, with Boost.Program_options: those
// that take an optional CONFIG path (replicate, serve, status) and those whose
// positional arguments are a list (hashes, ring, moveparts, restore-device).
// Stateless; thread-safe.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace replicant::cli {

// Parses argv against `desc` plus one positional CONFIG (left as is when absent) into
// *vm. With `words`, further positional arguments land there (Swift's daemons take
// `CONF once verbose ...`); without, they are a usage error. Returns -1 to go on, or
// the exit code after printing: 0 for --help (the options), 2 for a usage error
// ("replicant <command>: <error>" and the options).
int ParseCommandLine(const char* command, int argc, char** argv,
                     const boost::program_options::options_description& desc, std::string* config,
                     boost::program_options::variables_map* vm,
                     std::vector<std::string>* words = nullptr);

// Parses argv against `desc` plus any number of positional arguments (into *args).
// Returns -1 to go on, or the exit code after printing: 0 for --help (usage, then the
// options), 2 for a usage error (as UsageError).
int ParseArgs(const char* command, const char* usage, int argc, char** argv,
              const boost::program_options::options_description& desc,
              boost::program_options::variables_map* vm, std::vector<std::string>* args);

// Prints "replicant <command>: <msg>" and the usage text to stderr; returns 2.
int UsageError(const char* command, const char* usage, const std::string& msg);

}  // namespace replicant::cli
