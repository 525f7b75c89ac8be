// `replicant hashes`: recompute a partition's suffix hashes as Swift would.
//
//   replicant hashes PARTITION_DIR [--reclaim-age SECONDS] [--json]
//
// Runs Swift's get_hashes with every 3-character entry of the partition to be
// recalculated and a full listing (cleanup and tombstone reclaim included), updates
// hashes.pkl, and prints {suffix: md5hex} (or "suffix md5" lines, sorted). Exit 0 on
// success, 1 when the partition or a suffix cannot be processed, 2 on usage errors.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "hashes/partition_hashes.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "formats/pystr.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

constexpr const char* kHashesUsage =
    "usage: replicant hashes PARTITION_DIR [--reclaim-age SECONDS] [--json]\n";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "replicant hashes: %s\n", msg.c_str());
  return 1;
}

int Usage(const std::string& msg) { return UsageError("hashes", kHashesUsage, msg); }

std::optional<int64_t> ParseInt(const std::string& s) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i == s.size() || s.size() - i > 18) return std::nullopt;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return neg ? -v : v;
}

// os.path.abspath: Swift derives the device (for quarantine) from the partition path,
// so a relative path must become the absolute one Swift would have used.
std::string AbsPath(const std::string& p) {
  std::string full = p;
  if (full.empty() || full[0] != '/') {
    std::vector<char> buf(4096);
    if (getcwd(buf.data(), buf.size()) != nullptr) full = std::string(buf.data()) + "/" + p;
  }
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= full.size()) {
    size_t end = full.find('/', start);
    if (end == std::string::npos) end = full.size();
    std::string part = full.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// json.dumps' two-character escapes; nullptr for any other code point.
const char* JsonEscape(char32_t cp) {
  switch (cp) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: return nullptr;
  }
}

// json.dumps of a str (ensure_ascii), from our generalized UTF-8.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!pystr::NextCodePoint(s, &i, &cp)) {
      cp = 0xFFFD;
      ++i;
    }
    if (const char* esc = JsonEscape(cp)) {
      out += esc;
    } else if (cp >= 0x20 && cp < 0x7F) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      char32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                    static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      out += buf;
    }
  }
  return out + "\"";
}

// json.dumps of a value (md5 str, None, or a stale value of another type kept from
// hashes.pkl).
std::string JsonValue(const pickle::Value& v) {
  using T = pickle::Value::Type;
  switch (v.type()) {
    case T::kNone: return "null";
    case T::kStr: return JsonString(v.as_string());
    case T::kBool: return v.as_bool() ? "true" : "false";
    case T::kInt: case T::kFloat: return v.Repr();
    case T::kList: case T::kTuple: {
      std::string out = "[";
      for (size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + JsonValue(v.items()[i]);
      return out + "]";
    }
    case T::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, item] : v.dict()) {
        out += (first ? "" : ", ") + JsonString(k.is_str() ? k.as_string() : k.Repr()) + ": " +
               JsonValue(item);
        first = false;
      }
      return out + "}";
    }
    case T::kBytes: return JsonString(v.Repr());  // not JSON-able in Python either
  }
  return "null";
}

}  // namespace

int RunHashes(int argc, char** argv) {
  po::options_description opts("options");
  opts.add_options()
      ("help,h", "show this help")
      ("reclaim-age", po::value<std::string>()->default_value("604800"),
       "seconds after which tombstones and orphan .meta files are reclaimed")
      ("json", "print a JSON object {suffix: md5}");
  po::variables_map vm;
  std::vector<std::string> dirs;
  if (int rc = ParseArgs("hashes", kHashesUsage, argc, argv, opts, &vm, &dirs); rc >= 0) return rc;
  if (dirs.empty()) return Usage("missing PARTITION_DIR");
  if (dirs.size() != 1) return Usage("expected exactly one PARTITION_DIR");
  std::optional<int64_t> reclaim_age = ParseInt(vm["reclaim-age"].as<std::string>());
  if (!reclaim_age) return Usage("--reclaim-age wants an integer number of seconds");

  std::string part = AbsPath(dirs[0]);
  struct stat st;
  if (stat(part.c_str(), &st) != 0) return Fail(dirs[0] + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Fail(dirs[0] + ": not a directory");

  hashes::GetHashesOptions hopts;
  hopts.do_listdir = true;
  hopts.recalculate_listed = true;
  hopts.reclaim_age = *reclaim_age;
  auto result = hashes::GetHashes(part, hopts);
  if (!result.ok()) return Fail(result.status().message());

  // Sorted by key; our str encoding sorts bytewise in Python's order.
  std::vector<std::pair<std::string, pickle::Value>> entries;
  for (const auto& [k, v] : result->dict.dict()) entries.emplace_back(k.as_string(), v);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (vm.count("json")) {
    std::string out = "{";
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += ", ";
      out += JsonString(entries[i].first) + ": " + JsonValue(entries[i].second);
    }
    std::cout << out << "}\n";
  } else {
    for (const auto& [k, v] : entries) {
      std::string name;
      if (!pystr::ToFsName(k, &name)) name = k;
      std::cout << name << " " << (v.is_str() ? v.as_string() : v.Repr()) << "\n";
    }
  }
  for (const Status& e : result->errors) std::fprintf(stderr, "replicant hashes: %s\n", e.message().c_str());
  return result->errors.empty() ? 0 : 1;
}

}  // namespace replicant::cli
