// The progress file: where the replicator publishes its live progress, as a JSON
// document in the recon cache, and how readers (`replicant status`, `replicant serve`'s
// /progress and /metrics, a replicator_workers parent) find and read it. The schema is
// documented with its writer, replicator/progress.h. Only the file's name and its
// whole-document read/write live here, so the server reads it without depending on the
// replicator. Free functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace replicant {

inline constexpr const char* kProgressFileName = "replicant-progress.json";
// A replicator_workers worker writes its own file, replicant-progress.worker<N>.json.
std::string ProgressFilePath(const std::string& recon_cache_path,
                             std::optional<int> worker_index = std::nullopt);
// Writes text to path through path.tmp.<pid> + rename, so readers never see a partial
// document (no fsync: the file is rewritten every second and lost progress is harmless).
Status WriteFileAtomically(const std::string& path, const std::string& text);
// Reads and parses a progress document; NotFound when the file is absent.
Result<nlohmann::json> ReadProgressFile(const std::string& path);

}  // namespace replicant
