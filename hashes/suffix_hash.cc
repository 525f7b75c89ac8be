#include "hashes/suffix_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "diskfile/fs_util.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/quarantine.h"

namespace replicant::hashes {

namespace fs = diskfile::fs;

namespace {

class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr); }
  void Update(const std::string& s) { EVP_DigestUpdate(ctx_.get(), s.data(), s.size()); }
  std::string HexDigest() {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), d, &n);
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out.push_back(kHex[d[i] >> 4]);
      out.push_back(kHex[d[i] & 15]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

SuffixHash Error(Status s) {
  SuffixHash h;
  h.outcome = SuffixOutcome::kError;
  h.error = std::move(s);
  return h;
}

SuffixHash NotDir() {
  SuffixHash h;
  h.outcome = SuffixOutcome::kPathNotDir;
  return h;
}

}  // namespace

SuffixHash HashSuffix(const SuffixContext& ctx, const std::string& suffix_name) {
  std::string path = fs::Join(ctx.partition_dir, suffix_name);
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR || err == ENOENT) return NotDir();
    return Error(Status::FromErrno("listdir " + path, err));
  }
  std::vector<std::string> hashes;
  int err = fs::ListDirFd(fd, &hashes);
  if (err != 0) {
    close(fd);
    if (err == ENOTDIR || err == ENOENT) return NotDir();
    return Error(Status::FromErrno("listdir " + path, err));
  }
  fs::SortPythonOrder(&hashes);

  Md5 md5;
  bool live = false;  // a hash dir here still holds files
  for (const std::string& hsh : hashes) {
    diskfile::CleanupResult c;
    err = diskfile::CleanupHashDirAt(fd, hsh, ctx.reclaim_age, ctx.now, &c);
    if (err == ENOENT) continue;
    if (err == ENOTDIR || err == ENODATA) {
      // The made-up file name makes quarantine_renamer move the hash dir entry itself.
      std::string hsh_path = fs::Join(path, hsh);
      Result<std::string> q =
          diskfile::QuarantineRenamer(ctx.device_path, fs::Join(hsh_path, "made-up-filename"), ctx.policy_index);
      if (q.ok()) continue;
      if (err == ENOTDIR) {
        close(fd);
        return Error(q.status());
      }
      // Unreadable (bad sectors): Swift then quarantines the whole suffix.
      q = diskfile::QuarantineRenamer(ctx.device_path, hsh_path, ctx.policy_index);
      close(fd);
      if (!q.ok()) return Error(q.status());
      return NotDir();  // the suffix is gone; what Swift's later rmdir finds
    }
    if (err != 0) {
      close(fd);
      return Error(Status::FromErrno("listdir " + fs::Join(path, hsh), err));
    }
    if (c.remaining.empty()) continue;
    live = true;
    const diskfile::OnDiskFiles& f = c.files;
    // Normalised timestamps, never the file names: meta, ts, data, then content-type.
    if (f.meta_info) md5.Update(f.meta_info->timestamp.internal() + ".meta");
    if (f.ts_info) md5.Update(f.ts_info->timestamp.internal() + ".ts");
    if (f.data_info) md5.Update(f.data_info->timestamp.internal() + ".data");
    if (f.ctype_info) md5.Update(f.ctype_info->ctype_timestamp->internal() + "_ctype");
  }
  close(fd);
  // Swift always tries to remove the suffix dir: success means it was empty, and the
  // suffix then has no hash. A suffix just seen holding files cannot be empty (unless
  // they went since, as they could right after Swift's rmdir): no rmdir, which saves a
  // failing syscall per suffix of every rehash.
  if (!live && (rmdir(path.c_str()) == 0 || errno == ENOENT)) return NotDir();
  SuffixHash h;
  h.outcome = SuffixOutcome::kHashed;
  h.md5 = md5.HexDigest();
  return h;
}

}  // namespace replicant::hashes
