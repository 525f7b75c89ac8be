#include "sync_backends/ssync/ssync_protocol.h"

#include "base/text.h"
#include "net/http_text.h"


#include <cmath>
#include <cstdio>
#include <vector>

#include "formats/py_text.h"
#include "formats/pystr.h"

namespace replicant::sync::ssync {
namespace {

using py::AppendUtf8;


// Python's '%x' % n, negative numbers included.
std::string PyHex(int64_t n) {
  char buf[32];
  if (n < 0) {
    std::snprintf(buf, sizeof buf, "-%llx", static_cast<unsigned long long>(-n));
  } else {
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(n));
  }
  return buf;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Python int(v, 16) for the delta of an m:/t: extra (sign and 0x allowed), on the
// ASCII text Swift's decode_missing reads.
std::optional<int64_t> ParsePyHex(std::string_view v) {
  bool neg;
  uint64_t n;
  if (!IsAscii(v) || !pystr::ParseInt(v, 16, &neg, &n)) return std::nullopt;
  if (n > (uint64_t{1} << 59)) return std::nullopt;  // far beyond any real delta
  return neg ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
}

// Swift's Timestamp(t_data, delta=d): the parsed base moved by d raw units.
Result<Timestamp> WithDelta(const Timestamp& base, int64_t delta) {
  return Timestamp::FromSeconds(base.seconds(), base.offset(), delta);
}

std::vector<std::string_view> SplitWhitespace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  auto ws = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); };
  while (i < s.size()) {
    while (i < s.size() && ws(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !ws(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Decodes one code point of UTF-8; invalid bytes come back as surrogateescape.
char32_t NextCp(std::string_view s, size_t* i) {
  auto b = static_cast<unsigned char>(s[*i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 1) {
    ++*i;
    return b;
  }
  if (len == 0 || *i + len > s.size()) {
    ++*i;
    return 0xDC00 + b;
  }
  char32_t cp = b & (0x7f >> len);
  for (int k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[*i + k]);
    if ((c & 0xc0) != 0x80) {
      ++*i;
      return 0xDC00 + b;
    }
    cp = (cp << 6) | (c & 0x3f);
  }
  *i += len;
  return cp;
}


char PickQuote(std::string_view s) {
  bool single = s.find('\'') != std::string_view::npos;
  bool dbl = s.find('"') != std::string_view::npos;
  return single && !dbl ? '"' : '\'';
}

}  // namespace

std::string EncodeMissing(std::string_view object_hash, const Timestamp& ts_data,
                          const std::optional<Timestamp>& ts_meta,
                          const std::optional<Timestamp>& ts_ctype, bool durable) {
  std::string msg = UrlQuote(object_hash) + " " + UrlQuote(ts_data.internal());
  std::vector<std::string> extra;
  // Swift compares whole timestamps but sends raw deltas: offsets do not travel.
  auto truthy = [](const Timestamp& t) { return t.raw() != 0 || t.offset() != 0; };
  if (ts_meta && truthy(*ts_meta) && *ts_meta != ts_data) {
    extra.push_back("m:" + PyHex(ts_meta->raw() - ts_data.raw()));
    if (ts_ctype && truthy(*ts_ctype) && *ts_ctype != ts_data) {
      extra.push_back("t:" + PyHex(ts_ctype->raw() - ts_data.raw()));
    }
  }
  if (!durable) extra.push_back("durable:False");
  if (!extra.empty()) {
    msg += ' ';
    for (size_t i = 0; i < extra.size(); ++i) {
      if (i) msg += ',';
      msg += extra[i];
    }
  }
  return msg;
}

Result<MissingEntry> DecodeMissing(std::string_view line) {
  for (char c : line) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return Status::InvalidArgument("missing check line is not ASCII: " + PyBytesRepr(line));
    }
  }
  std::vector<std::string_view> parts = SplitWhitespace(line);
  if (parts.size() < 2) {
    return Status::InvalidArgument("missing check line needs a hash and a timestamp: " +
                                   PyBytesRepr(line));
  }
  MissingEntry e;
  e.object_hash = UrlUnquote(parts[0]);
  if (e.object_hash.size() != 32 || !IsLowerHex(e.object_hash)) {
    return Status::InvalidArgument("invalid object hash " + PyRepr(e.object_hash));
  }
  std::string t_data = UrlUnquote(parts[1]);
  auto ts = Timestamp::Parse(t_data);
  if (!ts.ok()) return Status::InvalidArgument("invalid timestamp " + PyRepr(t_data));
  e.ts_data = e.ts_meta = e.ts_ctype = *ts;
  if (parts.size() > 2) {
    std::string extras = UrlUnquote(parts[2]);
    size_t pos = 0;
    while (pos <= extras.size()) {
      size_t comma = extras.find(',', pos);
      if (comma == std::string::npos) comma = extras.size();
      std::string_view item(extras.data() + pos, comma - pos);
      pos = comma + 1;
      size_t colon = item.find(':');
      if (colon == std::string_view::npos) continue;  // Swift skips items without ':'
      if (item.find(':', colon + 1) != std::string_view::npos) {
        return Status::InvalidArgument("bad missing check extra " + PyRepr(item));
      }
      std::string_view k = item.substr(0, colon), v = item.substr(colon + 1);
      if (k == "m" || k == "t") {
        auto delta = ParsePyHex(v);
        if (!delta) return Status::InvalidArgument("bad delta in " + PyRepr(item));
        auto t = WithDelta(*ts, *delta);
        if (!t.ok()) return Status::InvalidArgument("bad delta in " + PyRepr(item) + ": " +
                                                    t.status().message());
        (k == "m" ? e.ts_meta : e.ts_ctype) = *t;
      } else if (k == "durable") {
        std::string lv = LowerAscii(v);
        e.durable = lv == "true" || lv == "1" || lv == "yes" || lv == "on" || lv == "t" ||
                    lv == "y";
      }
    }
  }
  return e;
}

std::optional<std::string> EncodeWanted(const MissingEntry& remote, const LocalState& local) {
  bool data = false, meta = false;
  if (local.exists) {
    if (remote.ts_data > local.ts_data) data = true;
    if (local.ts_meta && remote.ts_meta > *local.ts_meta) meta = true;
    if (local.ts_ctype && remote.ts_ctype > *local.ts_ctype && remote.ts_ctype > remote.ts_data) {
      meta = true;
    }
  } else {
    data = meta = true;
  }
  if (!data && !meta) return std::nullopt;
  return UrlQuote(remote.object_hash) + " " + (data ? "d" : "") + (meta ? "m" : "");
}

Wanted DecodeWanted(std::string_view parts) {
  Wanted w;
  std::vector<std::string_view> p = SplitWhitespace(parts);
  if (!p.empty()) {
    w.data = p[0].find('d') != std::string_view::npos;
    w.meta = p[0].find('m') != std::string_view::npos;
  }
  if (!w.data && !w.meta) w.data = true;  // a legacy receiver only takes PUTs
  return w;
}

std::string ErrorLine(int status, std::string_view msg, bool bytes_body) {
  return std::string(kErrorPrefix) + " " + std::to_string(status) + " " +
         (bytes_body ? PyBytesRepr(msg) : PyRepr(msg)) + "\n";
}

std::string ServiceUnavailableLine() {
  return ErrorLine(503,
                   "<html><h1>Service Unavailable</h1><p>The server is currently unavailable. "
                   "Please try again at a later time.</p></html>",
                   true);
}

std::string PyRepr(std::string_view text) {
  char q = PickQuote(text);
  std::string out(1, q);
  char buf[16];
  for (size_t i = 0; i < text.size();) {
    char32_t cp = NextCp(text, &i);
    if (cp == '\\' || cp == static_cast<char32_t>(q)) {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0xa0) || cp == 0xad) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2028 || cp == 0x2029) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      AppendUtf8(cp, &out);
    }
  }
  out += q;
  return out;
}

std::string PyBytesRepr(std::string_view bytes) {
  char q = PickQuote(bytes);
  std::string out = "b";
  out += q;
  char buf[8];
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == static_cast<unsigned char>(q)) {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += q;
  return out;
}

std::string UrlQuote(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.' || c == '-' || c == '~' || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string UrlUnquote(std::string_view s) { return net::PercentDecode(s); }

std::string_view StripAscii(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string TitleAscii(std::string_view s) {
  std::string out(s);
  bool prev_letter = false;
  for (char& c : out) {
    bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
    if (upper || lower) {
      if (prev_letter && upper) c = static_cast<char>(c - 'A' + 'a');
      if (!prev_letter && lower) c = static_cast<char>(c - 'a' + 'A');
      prev_letter = true;
    } else {
      prev_letter = false;
    }
  }
  return out;
}

bool IsUtf8NoNul(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b == 0) return false;
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = b & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

std::optional<int64_t> ParsePyInt(std::string_view s) {
  bool neg;
  uint64_t n;
  if (!IsAscii(s) || !pystr::ParseInt(s, 10, &neg, &n)) return std::nullopt;
  if (n > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return neg ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
}

}  // namespace replicant::sync::ssync
