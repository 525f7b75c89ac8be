// replicant: command-line entry; dispatches to the subcommands in commands.h.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: replicant COMMAND [ARGS]\n"
    "commands:\n"
    "  replicate [CONFIG] [once] [verbose] [-o] [-d DEVS] [-p PARTS] [-i POLICIES] [-v]\n"
    "  serve [CONFIG] [-v]\n"
    "  status [CONFIG] [--json] [--once] [--file PATH | --url URL]\n"
    "  ring RINGFILE (--partition P | --object A/C/O [--swift-dir DIR]) [--handoffs K] [--json]\n"
    "  hashes PARTITION_DIR [--reclaim-age SECONDS] [--json]\n"
    "  moveparts OLD_RING [NEW_RING] [--swift-dir DIR] [--policy N]\n"
    "  restore-device IP DEVICE [--port P] [--policy N] [--swift-dir DIR]\n"
    "run 'replicant COMMAND --help' for a command's options; invoked as\n"
    "swift-object-replicator it is 'replicant replicate'\n";

// Short-lived threads (per-peer exchanges, pipeline stages, fsync helpers) each get a
// glibc malloc arena, and every arena keeps what a partition's batch freed: peak RSS
// then grew with the objects per partition (20 MB at 5,000 objects, 33 MB at 40,000,
// part power 8). Two arenas keep it at 21-24 MB and cost nothing measurable; the work
// is syscalls, not malloc. MALLOC_ARENA_MAX, when set, still decides.
void LimitMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
}

}  // namespace

int main(int argc, char** argv) {
  // Installed as swift-object-replicator (a symlink): Swift's tools (swift-init, the
  // probe tests) start it with that name and swift-object-replicator's arguments.
  std::string_view self = argv[0];
  if (self.substr(self.rfind('/') + 1) == "swift-object-replicator") {
    LimitMallocArenas();
    return replicant::cli::RunReplicate(argc, argv);
  }
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  LimitMallocArenas();
  std::string_view cmd = argv[1];
  if (cmd == "ring") return replicant::cli::RunRing(argc - 1, argv + 1);
  if (cmd == "replicate") return replicant::cli::RunReplicate(argc - 1, argv + 1);
  if (cmd == "serve") return replicant::cli::RunServe(argc - 1, argv + 1);
  if (cmd == "status") return replicant::cli::RunStatus(argc - 1, argv + 1);
  if (cmd == "hashes") return replicant::cli::RunHashes(argc - 1, argv + 1);
  if (cmd == "moveparts") return replicant::cli::RunMoveParts(argc - 1, argv + 1);
  if (cmd == "restore-device") return replicant::cli::RunRestoreDevice(argc - 1, argv + 1);
  std::fprintf(stderr, "replicant: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
