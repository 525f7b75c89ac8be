#include "formats/config.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "formats/py_text.h"

namespace replicant {

using py::Text;

// Parsed text: options keep ConfigParser's insertion order.
struct ConfigFile::Data {
  struct Option {
    Text key;
    std::vector<Text> lines;  // joined into value once the file is read
    Text value;
  };
  struct Sect {
    Text name;
    std::vector<Option> opts;
    Option* Find(const Text& key) {
      for (auto& o : opts) if (o.key == key) return &o;
      return nullptr;
    }
    const Option* Find(const Text& key) const { return const_cast<Sect*>(this)->Find(key); }
  };
  std::string source;
  ConfigOptions opts;
  Sect defaults;
  std::vector<Sect> sections;  // never DEFAULT

  const Sect* FindSection(const Text& name) const {
    for (const auto& s : sections) if (s.name == name) return &s;
    return nullptr;
  }
  std::string Out(const Text& t) const { return py::Encode(t, opts.encoding); }
};

namespace {

using Data = ConfigFile::Data;
constexpr int kMaxInterpolationDepth = 10;  // configparser.MAX_INTERPOLATION_DEPTH
// Ten levels that each name the one below many times expand exponentially: 400 bytes
// of config would take minutes and gigabytes (Python too). One lookup (Section, Items,
// Get) may expand at most this many references plus characters (64 Ki); more is an
// error. Real configs come nowhere near it.
constexpr uint64_t kMaxInterpolationWork = uint64_t{1} << 16;

Status LineError(const std::string& file, size_t lineno, std::string what) {
  return Status::InvalidArgument(file + ": line " + std::to_string(lineno) + ": " + what);
}

// ConfigParser._join_multiline_values.
void JoinMultilineValues(Data::Sect& s) {
  for (auto& o : s.opts) {
    if (o.lines.empty()) continue;  // already joined by an earlier file
    Text v;
    for (size_t i = 0; i < o.lines.size(); ++i) {
      if (i) v += U'\n';
      v += o.lines[i];
    }
    o.value = py::RStrip(v);
    o.lines.clear();
  }
}

// ConfigParser._read for one file. elements_added is per file, which is why a conf.d
// directory may repeat a section across files.
Status ParseText(Data& d, const Text& text, const std::string& fname) {
  std::set<Text> sections_added;
  std::set<std::pair<Text, Text>> options_added;
  Data::Sect* cursect = nullptr;
  Text sectname;
  Data::Option* opt = nullptr;  // option that continuation lines extend
  size_t indent_level = 0;
  Status deferred;  // ParsingError is raised after the whole file is read
  size_t lineno = 0;
  for (const Text& line : py::SplitLines(text)) {
    ++lineno;
    Text value = py::Strip(line);
    const bool comment = !value.empty() && (value[0] == U'#' || value[0] == U';');
    if (value.empty() || comment) {
      // A blank line (not a comment) inside a value is kept; rstrip drops trailing ones.
      if (!comment && cursect && opt) opt->lines.emplace_back();
      continue;
    }
    size_t indent = 0;
    while (indent < line.size() && py::IsSpace(line[indent])) ++indent;
    if (cursect && opt && indent > indent_level) {
      opt->lines.push_back(value);
      continue;
    }
    indent_level = indent;
    // SECTCRE "\[(?P<header>.+)\]" with match(): the last ']' closes the header and
    // anything after it is ignored.
    size_t close = value[0] == U'[' ? value.rfind(U']') : Text::npos;
    if (close != Text::npos && close >= 2) {
      sectname = value.substr(1, close - 1);
      opt = nullptr;
      if (sectname == U"DEFAULT") {
        cursect = &d.defaults;
        continue;
      }
      auto it = std::find_if(d.sections.begin(), d.sections.end(),
                             [&](const Data::Sect& s) { return s.name == sectname; });
      if (it != d.sections.end()) {
        if (d.opts.strict && sections_added.count(sectname))
          return LineError(fname, lineno,
                           "section " + py::Repr(sectname) + " already exists");
        cursect = &*it;
      } else {
        d.sections.push_back(Data::Sect{sectname, {}});
        cursect = &d.sections.back();
      }
      sections_added.insert(sectname);
      continue;
    }
    if (!cursect)
      return LineError(fname, lineno,
                       "no section header before " + py::Repr(value));
    size_t delim = value.find_first_of(U"=:");
    if (delim == Text::npos || delim == 0 || py::Strip(value.substr(0, delim)).empty()) {
      if (deferred.ok())
        deferred = LineError(fname, lineno,
                             "expected 'option = value' or '[section]', got " +
                                 py::Repr(value));
      continue;
    }
    Text key = py::Lower(py::RStrip(value.substr(0, delim)));
    Text val = py::Strip(value.substr(delim + 1));
    if (!options_added.insert({sectname, key}).second && d.opts.strict)
      return LineError(fname, lineno,
                       "option " + py::Repr(key) + " in section " + py::Repr(sectname) +
                           " already exists");
    opt = cursect->Find(key);
    if (!opt) {
      cursect->opts.push_back(Data::Option{key, {}, {}});
      opt = &cursect->opts.back();
    }
    opt->lines = {val};
  }
  JoinMultilineValues(d.defaults);
  for (auto& s : d.sections) JoinMultilineValues(s);
  return deferred;
}

// BasicInterpolation._interpolate_some. `lookup` is the section merged over DEFAULT.
template <typename Lookup>
Status InterpolateSome(const Data& d, const Text& section, const Text& option,
                       const Text& start, int depth, const Lookup& lookup, Text* out,
                       uint64_t* work) {
  auto err = [&](const std::string& what) {
    return Status::InvalidArgument(d.source + ": section " + py::Repr(section) +
                                   ", option " + py::Repr(option) + ": " + what);
  };
  if (depth > kMaxInterpolationDepth)
    return err("interpolation nested more than 10 levels deep");
  auto over = [&](size_t units) {
    *work += units;
    return *work > kMaxInterpolationWork;
  };
  auto too_much = [&] {
    return err("interpolation expands to more than " + std::to_string(kMaxInterpolationWork) +
               " characters and references");
  };
  std::u32string_view rest = start;  // a view: dropping the front must not copy the rest
  while (!rest.empty()) {
    size_t p = rest.find(U'%');
    if (over(p == Text::npos ? rest.size() : p + 1)) return too_much();
    if (p == Text::npos) {
      *out += rest;
      return Status::OK();
    }
    *out += rest.substr(0, p);
    rest.remove_prefix(p);
    const char32_t c = rest.size() > 1 ? rest[1] : 0;
    if (c == U'%') {
      *out += U'%';
      rest.remove_prefix(2);
    } else if (c == U'(') {
      // _KEYCRE "%\(([^)]+)\)s"
      size_t close = rest.find(U')');
      if (close == Text::npos || close == 2 || close + 1 >= rest.size() ||
          rest[close + 1] != U's')
        return err("bad interpolation variable reference " + py::Repr(Text(rest)));
      Text var = py::Lower(Text(rest.substr(2, close - 2)));
      rest.remove_prefix(close + 2);
      const Text* v = lookup(var);
      if (!v)
        return err("interpolation key " + py::Repr(var) + " is not a valid option name");
      if (over(1 + v->size())) return too_much();
      if (v->find(U'%') != Text::npos) {
        Status s = InterpolateSome(d, section, option, *v, depth + 1, lookup, out, work);
        if (!s.ok()) return s;
      } else {
        *out += *v;
      }
    } else {
      return err("'%' must be followed by '%' or '(', found: " + py::Repr(Text(rest)));
    }
  }
  return Status::OK();
}

// ChainMap(section, DEFAULT) lookup.
auto MakeLookup(const Data& d, const Data::Sect* s) {
  return [&d, s](const Text& key) -> const Text* {
    const Data::Option* o = s ? s->Find(key) : nullptr;
    if (!o) o = d.defaults.Find(key);
    return o ? &o->value : nullptr;
  };
}

// `work`: the budget shared by all values of one lookup (kMaxInterpolationWork).
Result<Text> InterpolateValue(const Data& d, const Data::Sect* s, const Text& option,
                              const Text& value, uint64_t* work) {
  using I = ConfigOptions::Interpolation;
  const I mode = d.opts.interpolation;
  if (mode == I::kNone || (mode == I::kReadconf && value.find(U"%(") == Text::npos))
    return value;
  Text out;
  Status st = InterpolateSome(d, s ? s->name : Text(U"DEFAULT"), option, value, 1,
                              MakeLookup(d, s), &out, work);
  if (!st.ok()) return st;
  return out;
}

// ConfigParser.items(section): DEFAULT's keys first, the section's values win.
Result<ConfigSection::Items> MergedItems(const Data& d, const Data::Sect* s) {
  std::vector<std::pair<Text, const Text*>> merged;
  for (const auto& o : d.defaults.opts) merged.push_back({o.key, &o.value});
  if (s) {
    for (const auto& o : s->opts) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const auto& kv) { return kv.first == o.key; });
      if (it != merged.end()) it->second = &o.value;
      else merged.push_back({o.key, &o.value});
    }
  }
  ConfigSection::Items items;
  uint64_t work = 0;
  for (const auto& [key, value] : merged) {
    auto v = InterpolateValue(d, s, key, *value, &work);
    if (!v.ok()) return v.status();
    items.emplace_back(d.Out(key), d.Out(*v));
  }
  return items;
}

Status ReadFileBytes(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("Unable to read config from " + path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::FromErrno("Unable to read config from " + path, errno);
  *out = ss.str();
  return Status::OK();
}

Status ParseBytesInto(Data& d, std::string_view bytes, const std::string& name) {
  Text text;
  if (!py::Decode(bytes, d.opts.encoding, &text))
    return Status::InvalidArgument(name + ": not valid UTF-8 text");
  return ParseText(d, text, name);
}

}  // namespace

// ---- ConfigFile ----

Result<ConfigFile> ConfigFile::Parse(std::string_view bytes, std::string source_name,
                                     const ConfigOptions& opts) {
  auto d = std::make_shared<Data>();
  d->source = std::move(source_name);
  d->opts = opts;
  Status s = ParseBytesInto(*d, bytes, d->source);
  if (!s.ok()) return s;
  return ConfigFile(std::move(d));
}

Result<ConfigFile> ConfigFile::Load(const std::string& path, const ConfigOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    std::string bytes;
    Status s = ReadFileBytes(path, &bytes);
    if (!s.ok()) return s;
    return Parse(bytes, path, opts);
  }
  // read_conf_dir: *.conf, not dot-files, sorted; files that cannot be read are skipped.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".conf") == 0 && name[0] != '.')
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  auto d = std::make_shared<Data>();
  d->source = path;
  d->opts = opts;
  size_t read = 0;
  for (const auto& f : files) {
    std::string bytes;
    if (fs::is_directory(f, ec) || !ReadFileBytes(f, &bytes).ok()) continue;
    Status s = ParseBytesInto(*d, bytes, f);
    if (!s.ok()) return s;
    ++read;
  }
  if (read == 0) return Status::NotFound("Unable to read config from " + path);
  return ConfigFile(std::move(d));
}

const std::string& ConfigFile::source() const { return d_->source; }

std::vector<std::string> ConfigFile::SectionNames() const {
  std::vector<std::string> names;
  for (const auto& s : d_->sections) names.push_back(d_->Out(s.name));
  return names;
}

std::vector<std::string> ConfigFile::OwnKeys(std::string_view section) const {
  std::vector<std::string> keys;
  Text t;
  if (!py::Decode(section, d_->opts.encoding, &t)) return keys;
  if (const Data::Sect* s = d_->FindSection(t)) {
    for (const auto& o : s->opts) keys.push_back(d_->Out(o.key));
  }
  return keys;
}

bool ConfigFile::HasSection(std::string_view name) const {
  Text t;
  return py::Decode(name, d_->opts.encoding, &t) && d_->FindSection(t) != nullptr;
}

Result<ConfigSection> ConfigFile::Items(std::string_view name) const {
  Text t;
  const Data::Sect* s = nullptr;
  if (name != "DEFAULT") {
    if (py::Decode(name, d_->opts.encoding, &t)) s = d_->FindSection(t);
    if (!s)
      return Status::NotFound("Unable to find " + std::string(name) +
                              " config section in " + d_->source);
  }
  auto items = MergedItems(*d_, s);
  if (!items.ok()) return items.status();
  return ConfigSection(std::string(name), d_->source, std::move(*items));
}

Result<ConfigSection> ConfigFile::Section(std::string_view name,
                                          std::optional<std::string> log_name) const {
  if (name == "DEFAULT")
    return Status::NotFound("Unable to find DEFAULT config section in " + d_->source);
  auto sec = Items(name);
  if (!sec.ok()) return sec;
  ConfigSection::Items items = sec->items();
  if (d_->opts.paste_set) {
    // paste.deploy: options(section) includes DEFAULT's, so a "set" there counts too.
    ConfigSection::Items sets, rest;
    for (auto& kv : items)
      (kv.first.rfind("set ", 0) == 0 ? sets : rest).push_back(std::move(kv));
    for (auto& [k, v] : sets) {
      std::string key = py::StripUtf8(k.substr(4));
      auto it = std::find_if(rest.begin(), rest.end(),
                             [&](const auto& kv) { return kv.first == key; });
      if (it != rest.end()) it->second = v;
      else rest.emplace_back(key, v);
    }
    items = std::move(rest);
  }
  if (std::none_of(items.begin(), items.end(),
                   [](const auto& kv) { return kv.first == "log_name"; }))
    items.emplace_back("log_name", log_name ? *log_name : std::string(name));
  return ConfigSection(std::string(name), d_->source, std::move(items));
}

Result<std::optional<std::string>> ConfigFile::Get(std::string_view section,
                                                   std::string_view option) const {
  Text sect_name, key;
  if (!py::Decode(section, d_->opts.encoding, &sect_name) ||
      !py::Decode(option, d_->opts.encoding, &key))
    return std::optional<std::string>();
  const Data::Sect* s = nullptr;
  if (section != "DEFAULT" && !(s = d_->FindSection(sect_name)))
    return std::optional<std::string>();
  key = py::Lower(key);
  const Text* v = MakeLookup(*d_, s)(key);
  if (!v) return std::optional<std::string>();
  uint64_t work = 0;
  auto out = InterpolateValue(*d_, s, key, *v, &work);
  if (!out.ok()) return out.status();
  return std::optional<std::string>(d_->Out(*out));
}

// ---- ConfigSection ----

ConfigSection::ConfigSection(std::string name, std::string source, Items items)
    : name_(std::move(name)), source_(std::move(source)), items_(std::move(items)) {}

std::optional<std::string> ConfigSection::Get(std::string_view key) const {
  // optionxform: callers' keys are ASCII; lowering only ASCII keeps UTF-8 intact.
  std::string k(key);
  for (char& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (const auto& [name, value] : items_)
    if (name == k) return value;
  return std::nullopt;
}

bool ConfigSection::Has(std::string_view key) const { return Get(key).has_value(); }

std::string ConfigSection::GetString(std::string_view key, std::string_view dflt) const {
  auto v = Get(key);
  return v ? *v : std::string(dflt);
}

namespace {
Status BadValue(const ConfigSection& s, std::string_view key, const std::string& value,
                const char* what) {
  return Status::InvalidArgument(s.source() + ": [" + s.name() + "] " + std::string(key) +
                                 " = '" + value + "': " + what);
}
}  // namespace

Result<int64_t> ConfigSection::GetInt(std::string_view key, int64_t dflt) const {
  auto v = Get(key);
  if (!v) return dflt;
  auto r = ParsePythonInt(*v);
  if (!r.ok()) return BadValue(*this, key, *v, "not an integer");
  return r;
}

Result<double> ConfigSection::GetDouble(std::string_view key, double dflt) const {
  auto v = Get(key);
  if (!v) return dflt;
  auto r = ParsePythonFloat(*v);
  if (!r.ok()) return BadValue(*this, key, *v, "not a number");
  return r;
}

Result<bool> ConfigSection::GetBool(std::string_view key, bool dflt) const {
  auto v = Get(key);
  return v ? ConfigTrueValue(*v) : dflt;
}

std::vector<std::string> ConfigSection::GetList(std::string_view key) const {
  auto v = Get(key);
  return v ? ListFromCsv(*v) : std::vector<std::string>{};
}

// ---- free functions ----

bool ConfigTrueValue(std::string_view v) {
  // Python lower() maps no non-ASCII character onto these ASCII words.
  std::string s(v);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s == "true" || s == "1" || s == "yes" || s == "on" || s == "t" || s == "y";
}

std::vector<std::string> ListFromCsv(std::string_view csv) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t comma = csv.find(',', start);
    if (comma == std::string_view::npos) comma = csv.size();
    std::string item = py::StripUtf8(csv.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

}  // namespace replicant
