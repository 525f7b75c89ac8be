// Config: Swift-style INI files, read exactly as Swift's daemons read them.
//
// Swift reads configuration with Python's configparser.ConfigParser: utils.readconf()
// for daemon configs (object-server.conf, or a conf.d directory whose *.conf files are
// merged in sorted order), and plain ConfigParser for swift.conf. The rules reproduced:
//  * "[name]" starts a section; [DEFAULT] is inherited by every section and a
//    section's own value wins. Section names are case-sensitive.
//  * "key = value" or "key: value" (the first '=' or ':' splits); keys are lowercased;
//    key and value are stripped of (Unicode) whitespace.
//  * Only whole-line '#'/';' comments. "x = 1 # one" has the value "1 # one".
//  * A line indented deeper than its option line continues the value ("\n"-joined),
//    even after blank lines; trailing blank lines are dropped.
//  * strict mode (ConfigParser's default): a section or option repeated within one
//    file is an error. A line before any section, or with no delimiter, is an error.
//  * Interpolation: "%(key)s" expands from the section or [DEFAULT], "%%" is "%".
//    readconf only interpolates values containing "%(", so "1%" passes through.
// Values are Unicode text. With Encoding::kUtf8 (the locale encoding Swift's daemons
// use) strings are UTF-8; with kLatin1 (how validate_hash_conf reads swift.conf) every
// byte is one character, so arbitrary bytes survive.
//
// ConfigFile and ConfigSection are immutable values, safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace replicant {

struct ConfigOptions {
  enum class Encoding { kUtf8, kLatin1 };
  enum class Interpolation {
    kNone,      // RawConfigParser
    kBasic,     // ConfigParser's BasicInterpolation: every value, bare '%' is an error
    kReadconf,  // readconf's NicerInterpolation: only values containing "%("
  };
  Encoding encoding = Encoding::kUtf8;
  Interpolation interpolation = Interpolation::kReadconf;
  // ConfigParser(strict=True). swift.conf's policies are read with strict=False, where
  // a repeated section merges and a repeated option overwrites.
  bool strict = true;
  // paste.deploy's "set key = value": in Section(), overrides key (also over a value in
  // [DEFAULT]) and is not listed itself. Off for readconf, which keeps "set key" as an
  // ordinary option name; only paste-loaded WSGI apps see the override.
  bool paste_set = false;
};

// One section as readconf returns it: [DEFAULT] merged in, values interpolated.
class ConfigSection {
 public:
  using Items = std::vector<std::pair<std::string, std::string>>;

  ConfigSection() = default;
  ConfigSection(std::string name, std::string source, Items items);

  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }  // file or directory read
  // [DEFAULT] keys first, then the section's new ones (ConfigParser's order).
  const Items& items() const { return items_; }

  bool Has(std::string_view key) const;
  std::optional<std::string> Get(std::string_view key) const;
  std::string GetString(std::string_view key, std::string_view dflt) const;
  // Python int(): surrounding whitespace, a sign and '_' between digits are accepted.
  // Errors name the file, section, option and value.
  Result<int64_t> GetInt(std::string_view key, int64_t dflt) const;
  // Python float(): also "1e3", "inf", "nan".
  Result<double> GetDouble(std::string_view key, double dflt) const;
  // config_true_value: true/1/yes/on/t/y (any case) are true, anything else false, as
  // in Swift. Never fails today; a Result so callers need not change if that does.
  Result<bool> GetBool(std::string_view key, bool dflt) const;
  // list_from_csv of the value; empty when absent.
  std::vector<std::string> GetList(std::string_view key) const;

 private:
  std::string name_;
  std::string source_;
  Items items_;
};

class ConfigFile {
 public:
  // Reads a file, or a directory's *.conf files (not dot-files) in sorted order as
  // readconf does: duplicates across files are allowed, later ones win; unreadable
  // files are skipped; reading nothing is an error.
  static Result<ConfigFile> Load(const std::string& path, const ConfigOptions& opts = {});
  // Parses raw bytes; source_name is used in messages.
  static Result<ConfigFile> Parse(std::string_view bytes, std::string source_name,
                                  const ConfigOptions& opts = {});

  const std::string& source() const;
  // Section names in file order, without DEFAULT.
  std::vector<std::string> SectionNames() const;
  // The option names written in the section itself (not inherited from [DEFAULT]), in
  // file order: what a start-up check for misspelt options should look at, since
  // [DEFAULT] legitimately holds options meant for other daemons.
  std::vector<std::string> OwnKeys(std::string_view section) const;
  // ConfigParser.has_section: false for "DEFAULT".
  bool HasSection(std::string_view name) const;
  // readconf(path, name): every value interpolated (any failure is an error), plus
  // "log_name" = log_name or the section name when the file sets none. NotFound,
  // naming file and section, when absent (also for "DEFAULT", as in Swift).
  Result<ConfigSection> Section(std::string_view name,
                                std::optional<std::string> log_name = std::nullopt) const;
  // ConfigParser.items(name): like Section() but without log_name or paste_set.
  // "DEFAULT" gives the defaults alone.
  Result<ConfigSection> Items(std::string_view name) const;
  // ConfigParser.get(section, option): only that value is interpolated. nullopt when
  // the section (other than DEFAULT) or the option is missing.
  Result<std::optional<std::string>> Get(std::string_view section,
                                         std::string_view option) const;

  struct Data;  // parsed text, defined in config.cc

 private:
  explicit ConfigFile(std::shared_ptr<const Data> d) : d_(std::move(d)) {}
  std::shared_ptr<const Data> d_;
};

// Swift's config_true_value.
bool ConfigTrueValue(std::string_view v);
// Swift's list_from_csv: split on ',', strip each, drop empty ones.
std::vector<std::string> ListFromCsv(std::string_view csv);
// Python's int() and float() of a UTF-8 string: surrounding whitespace, a sign, '_'
// between digits and Unicode decimal digits are accepted; int64 range only.
Result<int64_t> ParsePythonInt(std::string_view s);
Result<double> ParsePythonFloat(std::string_view s);

}  // namespace replicant
