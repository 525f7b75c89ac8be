// Entry points of the replicant subcommands. Each takes the arguments after the
// subcommand name (argv[0] is the subcommand) and returns the process exit code.
#pragma once

namespace replicant::cli {

int RunRing(int argc, char** argv);
int RunHashes(int argc, char** argv);
int RunReplicate(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunStatus(int argc, char** argv);
int RunMoveParts(int argc, char** argv);
int RunRestoreDevice(int argc, char** argv);

}  // namespace replicant::cli
