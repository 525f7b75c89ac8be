#include <cstdio>
#include "replicator/commands.h"
namespace replicant::cli {
int RunHashes(int, char**) { std::fputs("replicant hashes: not built yet\n", stderr); return 1; }
}
