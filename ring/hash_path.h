// hash_path: Swift's name -> digest -> partition mapping.
//
// Swift places an account/container/object by the MD5 of
// PREFIX + "/" + "/".join(a, c, o) + SUFFIX (no "/" before SUFFIX), using the raw bytes
// of the names (no Unicode normalisation); empty container/object are left out, exactly
// as swift.common.utils.hash_path does. The partition is the first 4 digest bytes,
// big-endian, shifted right by the ring's part_shift. All functions are pure and
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace replicant {

// Raw 16-byte MD5 of `data`.
std::string Md5Digest(std::string_view data);

// Lower-case hex of arbitrary bytes.
std::string HexEncode(std::string_view bytes);

// Raw 16-byte digest. Swift raises ValueError for an object without a container;
// callers must reject that case themselves (this function then hashes "a/o").
std::string HashPathDigest(std::string_view prefix, std::string_view suffix,
                           std::string_view account, std::string_view container = {},
                           std::string_view object = {});

// The 32-char hex form Swift uses for object hash directories.
std::string HashPathHex(std::string_view prefix, std::string_view suffix,
                        std::string_view account, std::string_view container = {},
                        std::string_view object = {});

// First 4 bytes of `digest` (at least 4 bytes long) big-endian, >> part_shift.
uint32_t PartFromDigest(std::string_view digest, int part_shift);

}  // namespace replicant
