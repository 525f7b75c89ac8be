#include "ops/prometheus_text.h"

#include <cmath>

#include <fmt/format.h>

namespace replicant {
namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integers as integers (counts, ports); others with full precision.
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

void PromText::Add(const std::string& name, const char* type, const std::string& help,
                   double value, const Labels& labels) {
  Family* f = nullptr;
  for (auto& fam : families_) {
    if (fam.name == name) f = &fam;
  }
  if (!f) {
    families_.push_back({name, type, help, {}});
    f = &families_.back();
  }
  std::string sample = name;
  if (!labels.empty()) {
    sample += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) sample += ",";
      sample += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
    }
    sample += "}";
  }
  f->samples.push_back(sample + " " + Number(value));
}

std::string PromText::Render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + f.help + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) out += s + "\n";
  }
  return out;
}

}  // namespace replicant
