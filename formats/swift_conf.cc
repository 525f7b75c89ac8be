#include "formats/swift_conf.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "formats/config.h"

namespace replicant {

namespace {

constexpr std::string_view kPolicyPrefix = "storage-policy:";
constexpr const char* kValidChars =
    "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

std::string Upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// One [storage-policy:N] section, checked as BaseStoragePolicy.__init__ (and
// ECStoragePolicy's) check it.
class PolicyBuilder {
 public:
  PolicyBuilder(const std::string& path, const ConfigSection& sec)
      : path_(path), sec_(sec), idx_str_(sec.name().substr(kPolicyPrefix.size())) {}

  Result<StoragePolicy> Build() {
    StoragePolicy p;
    // parse_storage_policies pops policy_type before looking the class up.
    p.type = Opt("policy_type").value_or("replication");
    if (p.type != "replication" && p.type != "erasure_coding")
      return Error("Invalid policy_type " + Quote(p.type));
    const bool ec = p.type == "erasure_coding";
    for (const auto& [key, value] : sec_.items()) {
      if (key == "policy_type" || IsPolicyOption(key, ec)) continue;
      return Error("Invalid option " + Quote(key) + " in storage-policy section" + ForIndex());
    }
    auto idx = ParsePythonInt(idx_str_);
    if (!idx.ok() || *idx < 0) return Error("Invalid index" + ForIndex());
    // Swift takes any Python int; indexes beyond int are not worth supporting.
    if (*idx > INT_MAX) return Error("Policy index too large" + ForIndex());
    p.index = static_cast<int>(*idx);

    p.name = Opt("name").value_or("");
    Status s = AddName(p.name, p.index);
    if (!s.ok()) return s;
    for (const auto& alias : ListFromCsv(Opt("aliases").value_or(""))) {
      if (alias == p.name) continue;  // case-sensitive, as in Swift
      s = AddName(alias, p.index);
      if (!s.ok()) return s;
      p.aliases.push_back(alias);
    }
    const auto deprecated = Opt("deprecated");
    p.deprecated = ConfigTrueValue(deprecated.value_or(""));
    p.is_default = ConfigTrueValue(Opt("default").value_or(""));
    if (p.deprecated && p.is_default)
      return Error("Deprecated policy can not be default.  Invalid config, for index " +
                   std::to_string(p.index));
    if (ec) {
      s = CheckErasureCoding(deprecated);
      if (!s.ok()) return s;
    }
    return p;
  }

 private:
  static bool IsPolicyOption(const std::string& key, bool ec) {
    static const std::set<std::string> kBase = {"name", "aliases", "default", "deprecated",
                                                "diskfile_module"};
    static const std::set<std::string> kEc = {"ec_type", "ec_object_segment_size",
                                              "ec_num_data_fragments",
                                              "ec_num_parity_fragments",
                                              "ec_duplication_factor"};
    return kBase.count(key) || (ec && kEc.count(key));
  }

  std::optional<std::string> Opt(std::string_view key) const { return sec_.Get(key); }
  std::string ForIndex() const { return ", for index " + Quote(idx_str_); }
  Status Error(const std::string& msg) const {
    return Status::InvalidArgument("Invalid Storage Policy Configuration in " + path_ +
                                   " ([" + sec_.name() + "]: " + msg + ")");
  }

  // BaseStoragePolicy._validate_policy_name, then add_name.
  Status AddName(const std::string& name, int index) {
    const std::string idx = ", for index " + std::to_string(index);
    if (name.empty()) return Error("Invalid name ''" + idx);
    if (name.find_first_not_of(kValidChars) != std::string::npos)
      return Error(std::string("Names are used as HTTP headers, and can not reliably "
                               "contain any characters not in '") +
                   kValidChars + "'. Invalid name " + Quote(name) + idx);
    const std::string upper = Upper(name);
    if (upper == "POLICY-0" && index != 0)
      return Error("The name Policy-0 is reserved for policy index 0. Invalid name " +
                   Quote(name) + idx);
    if (std::find(names_upper_.begin(), names_upper_.end(), upper) != names_upper_.end())
      return Error("The name " + name + " is already assigned to this policy." + idx);
    names_upper_.push_back(upper);
    return Status::OK();
  }

  // ECStoragePolicy.__init__ minus the PyECLib driver: replicant skips EC policies,
  // but a swift.conf Swift would refuse must not load here either.
  Status CheckErasureCoding(const std::optional<std::string>& deprecated) {
    static const std::set<std::string> kEcTypes = {
        "jerasure_rs_vand", "jerasure_rs_cauchy", "flat_xor_hd_3",
        "flat_xor_hd_4",    "isa_l_rs_vand",      "shss",
        "liberasurecode_rs_vand", "isa_l_rs_cauchy", "libphazr"};  // pyeclib ALL_EC_TYPES
    const auto type = Opt("ec_type");
    if (!type) return Error("Missing ec_type");
    if (!kEcTypes.count(*type)) return Error("Wrong ec_type " + *type);
    auto positive = [&](const char* key, std::optional<std::string> v) -> Result<int64_t> {
      auto n = v ? ParsePythonInt(*v) : Result<int64_t>(Status::NotFound(""));
      if (!n.ok() || *n <= 0)
        return Error(std::string("Invalid ") + key + " " + (v ? Quote(*v) : "None") +
                     ForIndex());
      return n;
    };
    auto ndata = positive("ec_num_data_fragments", Opt("ec_num_data_fragments"));
    if (!ndata.ok()) return ndata.status();
    auto nparity = positive("ec_num_parity_fragments", Opt("ec_num_parity_fragments"));
    if (!nparity.ok()) return nparity.status();
    auto seg = positive("ec_object_segment_size",
                        Opt("ec_object_segment_size").value_or("1048576"));
    if (!seg.ok()) return seg.status();
    // Swift tests the raw option here, so any non-empty "deprecated" value passes.
    if (*type == "isa_l_rs_vand" && *nparity >= 5 && deprecated.value_or("").empty())
      return Error("Storage policy uses an EC configuration known to harm data "
                   "durability. This policy MUST be deprecated.");
    auto dup = positive("ec_duplication_factor", Opt("ec_duplication_factor").value_or("1"));
    if (!dup.ok()) return dup.status();
    return Status::OK();
  }

  const std::string& path_;
  const ConfigSection& sec_;
  std::string idx_str_;
  std::vector<std::string> names_upper_;
};

// StoragePolicyCollection._validate_policies.
Status ValidateCollection(const std::string& path, std::vector<StoragePolicy>* policies) {
  auto error = [&](const std::string& msg) {
    return Status::InvalidArgument("Invalid Storage Policy Configuration in " + path + " (" +
                                   msg + ")");
  };
  std::map<int, const StoragePolicy*> by_index;
  std::map<std::string, const StoragePolicy*> by_name;
  const StoragePolicy* dflt = nullptr;
  for (const auto& p : *policies) {
    if (by_index.count(p.index))
      return error("Duplicate index " + std::to_string(p.index) + " conflicts with " +
                   by_index[p.index]->name);
    std::vector<std::string> names = {p.name};
    names.insert(names.end(), p.aliases.begin(), p.aliases.end());
    for (const auto& n : names)
      if (by_name.count(Upper(n)))
        return error("Duplicate name " + n + " of policy " + std::to_string(p.index) +
                     " conflicts with policy " + std::to_string(by_name[Upper(n)]->index));
    if (p.is_default) {
      if (dflt)
        return error("Duplicate default " + p.name + " conflicts with " + dflt->name);
      dflt = &p;
    }
    for (const auto& n : names) by_name[Upper(n)] = &p;
    by_index[p.index] = &p;
  }
  if (!by_index.count(0)) {
    if (!policies->empty())
      return error("You must specify a storage policy section for policy index 0 in order "
                   "to define multiple policies");
    StoragePolicy p0;
    p0.name = "Policy-0";
    policies->push_back(p0);
    dflt = nullptr;
  }
  if (std::all_of(policies->begin(), policies->end(),
                  [](const StoragePolicy& p) { return p.deprecated; }))
    return error("Unable to find policy that's not deprecated!");
  if (!dflt) {
    if (policies->size() > 1) return error("Unable to find default policy");
    policies->front().is_default = true;  // the only policy, index 0
  }
  std::sort(policies->begin(), policies->end(),
            [](const StoragePolicy& a, const StoragePolicy& b) { return a.index < b.index; });
  return Status::OK();
}

}  // namespace

const StoragePolicy* SwiftConf::FindPolicy(int index) const {
  for (const auto& p : policies)
    if (p.index == index) return &p;
  return nullptr;
}

const StoragePolicy* SwiftConf::DefaultPolicy() const {
  for (const auto& p : policies)
    if (p.is_default) return &p;
  return nullptr;
}

Result<SwiftConf> ParseSwiftConf(std::string_view bytes, const std::string& path) {
  SwiftConf conf;
  // validate_hash_conf: ConfigParser() over the file opened as latin-1.
  ConfigOptions hash_opts;
  hash_opts.encoding = ConfigOptions::Encoding::kLatin1;
  hash_opts.interpolation = ConfigOptions::Interpolation::kBasic;
  auto hash = ConfigFile::Parse(bytes, path, hash_opts);
  if (!hash.ok()) return hash.status();
  auto suffix = hash->Get("swift-hash", "swift_hash_path_suffix");
  if (!suffix.ok()) return suffix.status();
  auto prefix = hash->Get("swift-hash", "swift_hash_path_prefix");
  if (!prefix.ok()) return prefix.status();
  conf.hash_path_suffix = suffix->value_or("");
  conf.hash_path_prefix = prefix->value_or("");
  if (conf.hash_path_prefix.empty() && conf.hash_path_suffix.empty())
    return Status::InvalidArgument(
        "[swift-hash]: both swift_hash_path_suffix and swift_hash_path_prefix are missing "
        "from " + path);

  // reload_storage_policies: ConfigParser(strict=False), read in the locale encoding
  // (UTF-8), so a file that is not UTF-8 stops Swift here.
  ConfigOptions policy_opts;
  policy_opts.interpolation = ConfigOptions::Interpolation::kBasic;
  policy_opts.strict = false;
  auto pc = ConfigFile::Parse(bytes, path, policy_opts);
  if (!pc.ok())
    return pc.status().WithContext("storage policies (swift.conf is read as UTF-8)");
  for (const auto& name : pc->SectionNames()) {
    if (name.rfind(kPolicyPrefix, 0) != 0) continue;
    auto sec = pc->Items(name);  // interpolates every option, DEFAULT's too
    if (!sec.ok()) return sec.status();
    auto policy = PolicyBuilder(path, *sec).Build();
    if (!policy.ok()) return policy.status();
    conf.policies.push_back(std::move(*policy));
  }
  Status s = ValidateCollection(path, &conf.policies);
  if (!s.ok()) return s;
  return conf;
}

Result<SwiftConf> LoadSwiftConf(const std::string& swift_dir) {
  std::string path = swift_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += "swift.conf";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::FromErrno(path, errno);
  return ParseSwiftConf(ss.str(), path);
}

}  // namespace replicant
