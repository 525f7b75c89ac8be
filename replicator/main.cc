// replicant: command-line entry; dispatches to the subcommands in commands.h.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "replicator/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: replicant COMMAND [ARGS]\n"
    "commands:\n"
    "  replicate [CONFIG] [--once] [-d DEVS] [-p PARTS] [-i POLICIES] [-v]\n"
    "  serve [CONFIG] [-v]\n"
    "  status [CONFIG] [--json] [--once] [--file PATH | --url URL]\n"
    "  ring RINGFILE (--partition P | --object A/C/O [--swift-dir DIR]) [--handoffs K] [--json]\n"
    "  hashes PARTITION_DIR [--reclaim-age SECONDS] [--json]\n"
    "run 'replicant COMMAND --help' for a command's options\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view cmd = argv[1];
  if (cmd == "ring") return replicant::cli::RunRing(argc - 1, argv + 1);
  if (cmd == "replicate") return replicant::cli::RunReplicate(argc - 1, argv + 1);
  if (cmd == "serve") return replicant::cli::RunServe(argc - 1, argv + 1);
  if (cmd == "status") return replicant::cli::RunStatus(argc - 1, argv + 1);
  if (cmd == "hashes") return replicant::cli::RunHashes(argc - 1, argv + 1);
  std::fprintf(stderr, "replicant: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
