#include <cstdio>
#include "replicator/commands.h"
namespace replicant::cli {
int RunRing(int, char**) { std::fputs("replicant ring: not built yet\n", stderr); return 1; }
}
