#include "ring/hash_path.h"

#include <openssl/evp.h>

#include <cassert>

namespace replicant {

std::string Md5Digest(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with MD5 is a one-shot, thread-safe call (no shared context).
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string HashPathDigest(std::string_view prefix, std::string_view suffix,
                           std::string_view account, std::string_view container,
                           std::string_view object) {
  std::string buf;
  buf.reserve(prefix.size() + suffix.size() + account.size() + container.size() +
              object.size() + 3);
  buf.append(prefix);
  buf.push_back('/');
  buf.append(account);
  // Swift tests truthiness: an empty container or object is simply omitted.
  if (!container.empty()) {
    buf.push_back('/');
    buf.append(container);
  }
  if (!object.empty()) {
    buf.push_back('/');
    buf.append(object);
  }
  buf.append(suffix);
  return Md5Digest(buf);
}

std::string HashPathHex(std::string_view prefix, std::string_view suffix,
                        std::string_view account, std::string_view container,
                        std::string_view object) {
  return HexEncode(HashPathDigest(prefix, suffix, account, container, object));
}

uint32_t PartFromDigest(std::string_view digest, int part_shift) {
  assert(digest.size() >= 4);
  auto b = reinterpret_cast<const unsigned char*>(digest.data());
  uint32_t top = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  // part_shift 32 would be a zero-partition-bit ring; shifting a uint32 by 32 is UB.
  return part_shift >= 32 ? 0 : top >> part_shift;
}

}  // namespace replicant
