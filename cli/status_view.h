// The views of `replicant status`, computed from a progress document (progress.h):
// StatusJson adds, per device, "percent", "rate" (partitions per second since the
// pass started) and "eta_seconds" (null until a rate is known), plus "age_seconds"
// of the document; RenderStatus draws it for a terminal: one progress bar per device
// with rate and ETA, the failures by peer, and the last pass's summary.
// Pure functions of (document, now): no I/O, thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace replicant {

nlohmann::json StatusJson(const nlohmann::json& progress, double now);
// width: the terminal's columns (the bars scale to it).
std::string RenderStatus(const nlohmann::json& status, int width);
// "1h02m", "3m05s", "42s".
std::string FormatDuration(double seconds);

}  // namespace replicant
