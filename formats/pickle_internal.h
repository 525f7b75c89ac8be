// pickle internals shared by pickle.cc, pickle_repr.cc, pickle_load.cc and pickle_dump.cc.
//
// Not part of the public interface. ValueAccess gives the codec what Python's object
// model has and Value hides: in-place mutation of a shared container (the unpickler
// must mutate the very object the memo refers to) and object identity (the pickler
// memoizes by identity, as CPython does). Everything here is stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/pickle.h"

namespace replicant::pickle {

struct ValueAccess {
  // The shared payload behind a str/bytes/list/tuple/dict; nullptr for atoms.
  static const void* Identity(const Value& v) {
    if (v.s_) return v.s_.get();
    if (v.list_) return v.list_.get();
    if (v.dict_) return v.dict_.get();
    return nullptr;
  }
  // The payload itself, without copy-on-write: every Value sharing it sees the
  // change, which is what the unpickler needs for memoized containers.
  static List& SharedList(Value& v) { return *v.list_; }
  static Dict& SharedDict(Value& v) { return *v.dict_; }
};

namespace internal {

// Python's hash() classes: values that compare equal (1 == 1.0 == True) hash equal.
// False for unhashable values (list, dict, or a tuple holding one).
bool HashValue(const Value& v, size_t* hash);

// UTF-8 with lone surrogates allowed (Python's "surrogatepass"), which is how a
// Python str that came from a raw-unicode-escape or UTF-16 source is held.
void AppendUtf8(uint32_t cp, std::string* out);
// Decodes the code point at s[*pos] and advances *pos; false if malformed.
bool NextCodePoint(std::string_view s, size_t* pos, uint32_t* cp);
bool IsValidUtf8(std::string_view s);

// Argument decoders for the text opcodes (pickle_text.cc). Each returns false and
// sets *error on bad input.
// Python's codecs.escape_decode, for STRING's quoted body.
bool EscapeDecode(std::string_view in, std::string* out, std::string* error);
// Python's raw_unicode_escape codec, for UNICODE (protocol 0), to UTF-8.
bool RawUnicodeEscapeDecode(std::string_view in, std::string* utf8, std::string* error);
// A decimal integer with optional sign, as INT and LONG write it.
bool ParseInt(std::string_view text, int64_t* out, std::string* error);
// A little-endian two's complement integer, as LONG1/LONG4 write it.
bool DecodeLong(std::string_view bytes, int64_t* out, std::string* error);
// A float as FLOAT writes it (repr() or "%.17g"; inf and nan included).
bool ParseFloat(std::string_view text, double* out, std::string* error);

}  // namespace internal
}  // namespace replicant::pickle
