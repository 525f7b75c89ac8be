// PromText: builds a Prometheus text exposition (format 0.0.4): one "# HELP" and
// "# TYPE" per metric family, then its samples `name{label="value",...} number`, label
// values escaped (\\, \", \n). Families come out in the order first added.
// A plain value; not thread-safe (build one per scrape).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace replicant {

class PromText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void Gauge(const std::string& name, const std::string& help, double value,
             const Labels& labels = {}) {
    Add(name, "gauge", help, value, labels);
  }
  void Counter(const std::string& name, const std::string& help, double value,
               const Labels& labels = {}) {
    Add(name, "counter", help, value, labels);
  }
  std::string Render() const;

 private:
  struct Family {
    std::string name, type, help;
    std::vector<std::string> samples;
  };
  void Add(const std::string& name, const char* type, const std::string& help, double value,
           const Labels& labels);
  std::vector<Family> families_;
};

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace replicant
