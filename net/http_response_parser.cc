#include "net/http_response_parser.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "base/text.h"
#include "net/framing.h"
#include "net/http_response_head.h"
#include "net/http_text.h"

namespace replicant::net {
namespace {

// The line without its "\n" or "\r\n".
std::string_view Chomp(const std::string& line) {
  std::string_view v = line;
  if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
  if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  return v;
}

}  // namespace

Status HttpResponseParser::Fail(std::string why) {
  state_ = State::kFailed;
  error_ = Status::Corruption(std::move(why));
  return error_;
}

bool HttpResponseParser::keep_alive() const {
  if (close_delimited_) return false;
  const std::string* conn = Header("connection");
  if (http_minor_ >= 1) return !HasToken(conn, "close");
  return HasToken(conn, "keep-alive");
}

const std::string* HttpResponseParser::Header(std::string_view name) const {
  std::string key = LowerAscii(name);
  for (const auto& [k, v] : headers_) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<bool> HttpResponseParser::TakeLine(std::string_view data, size_t* used, size_t limit,
                                          const char* what) {
  size_t nl = data.find('\n', *used);
  size_t end = nl == std::string_view::npos ? data.size() : nl + 1;
  size_t n = end - *used;
  if (head_bytes_ + n > limit) {
    return Fail(fmt::format("response {} longer than {} bytes", what, limit));
  }
  head_bytes_ += n;
  line_.append(data.substr(*used, n));
  *used = end;
  return nl != std::string_view::npos;
}

Status HttpResponseParser::OnStatusLine(std::string_view line) {
  auto parsed = ParseStatusLine(line);
  if (!parsed.ok()) return Fail(parsed.status().message());
  http_minor_ = parsed->http_minor;
  status_ = parsed->status;
  headers_.clear();
  state_ = State::kHeaders;
  return Status::OK();
}

Status HttpResponseParser::OnHeaderLine(std::string_view line) {
  auto h = ParseResponseHeaderLine(line);
  if (!h.ok()) return Fail(h.status().message());
  if (h->continuation) {
    // obs-fold: a continuation of the previous header's value, as http.client keeps it.
    if (headers_.empty()) return Fail("header continuation before any header");
    headers_.back().second += " " + h->value;
    return Status::OK();
  }
  headers_.emplace_back(std::move(h->name), std::move(h->value));
  return Status::OK();
}

Status HttpResponseParser::OnHeadEnd() {
  if (status_ < 200) {
    if (status_ == 101) return Fail("unexpected 101 Switching Protocols");
    state_ = State::kStatusLine;  // interim response (100 Continue...): the real one follows
    head_bytes_ = 0;
    return Status::OK();
  }
  if (status_ == 204 || status_ == 304) {
    state_ = State::kDone;
    return Status::OK();
  }
  if (const std::string* te = Header("transfer-encoding")) {
    // RFC 7230 3.3.3: chunked must be the last coding; otherwise the body runs to close.
    if (LastCodingIsChunked(*te)) {
      head_bytes_ = 0;
      state_ = State::kChunkSize;
    } else {
      close_delimited_ = true;
      state_ = State::kBodyToEof;
    }
    return Status::OK();
  }
  bool have_length = false;
  size_t length = 0;
  for (const auto& [k, v] : headers_) {
    if (k != "content-length") continue;
    std::string_view digits = TrimOws(v);
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(c); })) {
      return Fail("bad Content-Length: '" + Printable(v) + "'");
    }
    size_t n = std::stoull(std::string(digits));
    if (have_length && n != length) return Fail("conflicting Content-Length headers");
    have_length = true;
    length = n;
  }
  if (!have_length) {
    close_delimited_ = true;
    state_ = State::kBodyToEof;
    return Status::OK();
  }
  if (length > limits_.max_body) {
    return Fail(fmt::format("response body of {} bytes is larger than the {} byte limit", length,
                            limits_.max_body));
  }
  body_.reserve(length);
  remaining_ = length;
  state_ = length ? State::kBody : State::kDone;
  return Status::OK();
}

Status HttpResponseParser::OnChunkSizeLine(std::string_view line) {
  auto size = ParseChunkSize(line);
  if (!size.ok()) return Fail(size.status().message());
  size_t n = *size;
  if (body_.size() + n > limits_.max_body) {
    return Fail(fmt::format("response body larger than the {} byte limit", limits_.max_body));
  }
  remaining_ = n;
  if (n == 0) {
    head_bytes_ = 0;  // trailers get their own max_head budget
    state_ = State::kTrailers;
  } else {
    state_ = State::kChunkData;
  }
  return Status::OK();
}

Status HttpResponseParser::AppendBody(std::string_view bytes) {
  if (body_.size() + bytes.size() > limits_.max_body) {
    return Fail(fmt::format("response body larger than the {} byte limit", limits_.max_body));
  }
  body_.append(bytes);
  return Status::OK();
}

Result<size_t> HttpResponseParser::Feed(std::string_view data) {
  if (state_ == State::kFailed) return error_;
  if (!data.empty()) started_ = true;
  size_t used = 0;
  while (used < data.size() && state_ != State::kDone) {
    switch (state_) {
      case State::kStatusLine:
      case State::kHeaders:
      case State::kTrailers:
      case State::kChunkSize:
      case State::kChunkEnd: {
        const char* what = state_ == State::kTrailers ? "trailers"
                           : state_ == State::kChunkSize || state_ == State::kChunkEnd
                               ? "chunk line"
                               : "head";
        bool chunk_line = state_ == State::kChunkSize || state_ == State::kChunkEnd;
        // A chunk line is short (hex size, maybe an extension): 1 KiB each is plenty.
        size_t limit = chunk_line ? 1024 : limits_.max_head;
        auto whole = TakeLine(data, &used, limit, what);
        if (!whole.ok()) return whole.status();
        if (!*whole) break;
        if (chunk_line) head_bytes_ = 0;
        std::string_view line = Chomp(line_);
        Status s;
        if (state_ == State::kStatusLine) {
          // Tolerate blank lines before a status line (RFC 7230 3.5).
          if (!line.empty()) s = OnStatusLine(line);
        } else if (state_ == State::kHeaders) {
          s = line.empty() ? OnHeadEnd() : OnHeaderLine(line);
        } else if (state_ == State::kTrailers) {
          if (line.empty()) state_ = State::kDone;  // trailer fields themselves are ignored
        } else if (state_ == State::kChunkSize) {
          s = OnChunkSizeLine(line);
        } else {  // kChunkEnd: the CRLF after a chunk's data
          if (!line.empty()) s = Fail("missing CRLF after chunk data");
          else state_ = State::kChunkSize;
        }
        line_.clear();
        if (!s.ok()) return s;
        break;
      }
      case State::kBody:
      case State::kChunkData: {
        size_t n = std::min(remaining_, data.size() - used);
        if (Status s = AppendBody(data.substr(used, n)); !s.ok()) return s;
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = state_ == State::kBody ? State::kDone : State::kChunkEnd;
          head_bytes_ = 0;
        }
        break;
      }
      case State::kBodyToEof: {
        if (Status s = AppendBody(data.substr(used)); !s.ok()) return s;
        used = data.size();
        break;
      }
      case State::kDone:
      case State::kFailed:
        break;
    }
  }
  return used;
}

Status HttpResponseParser::FinishOnEof() {
  switch (state_) {
    case State::kDone:
      return Status::OK();
    case State::kFailed:
      return error_;
    case State::kBodyToEof:
      state_ = State::kDone;
      return Status::OK();
    case State::kStatusLine:
      if (!started_) return Fail("connection closed before any response");
      return Fail("connection closed inside the status line");
    case State::kHeaders:
      return Fail("connection closed inside the response headers");
    case State::kBody:
      return Fail(fmt::format("response truncated: connection closed {} bytes before the end "
                              "of the body",
                              remaining_));
    default:
      return Fail("response truncated: connection closed inside the chunked body");
  }
}

}  // namespace replicant::net
