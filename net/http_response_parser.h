// HttpResponseParser: an incremental parser of one HTTP/1.x response, as a client
// reads it from a socket in arbitrary pieces.
//
// It takes the status line and headers, skips interim 1xx responses, and reads the
// body framed by Content-Length, chunked transfer coding, or the end of the
// connection (then the connection cannot be reused). Everything is bounded: the head
// (status line + headers, and chunked trailers) by Limits::max_head, the body by
// Limits::max_body, so a broken or hostile peer gets a clear Corruption error, never
// unbounded memory. One parser reads one response; not thread-safe (one owner).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace replicant::net {

class HttpResponseParser {
 public:
  struct Limits {
    size_t max_head = 64 << 10;   // status line + headers (and, separately, trailers)
    size_t max_body = 64 << 20;   // decoded body
  };

  HttpResponseParser() : HttpResponseParser(Limits{}) {}
  explicit HttpResponseParser(Limits limits) : limits_(limits) {}

  // Consumes bytes of the response. Returns how many were used: all of `data` until
  // the response is complete, fewer only when bytes follow the end of the response.
  // After an error the parser stays failed and returns that error again.
  Result<size_t> Feed(std::string_view data);
  // The peer closed the connection. Completes a body that runs to the end of the
  // connection; anything else unfinished is a "truncated" error.
  Status FinishOnEof();

  bool done() const { return state_ == State::kDone; }
  bool started() const { return started_; }  // at least one byte was fed
  int status() const { return status_; }
  int http_minor() const { return http_minor_; }
  const std::string& body() const { return body_; }
  // Moves the body out (the parser keeps none): a finished exchange's only copy.
  std::string TakeBody() { return std::move(body_); }
  // Whether the connection may carry another request once done(): HTTP/1.1 without
  // "Connection: close" (HTTP/1.0 with "keep-alive"), and a body not framed by close.
  bool keep_alive() const;
  // The value of a header (case-insensitive name); the first one when repeated.
  const std::string* Header(std::string_view name) const;

 private:
  enum class State {
    kStatusLine, kHeaders, kBody, kBodyToEof, kChunkSize, kChunkData, kChunkEnd,
    kTrailers, kDone, kFailed
  };

  Status Fail(std::string why);
  // Appends to line_ up to and including '\n'; true when a whole line is in line_.
  Result<bool> TakeLine(std::string_view data, size_t* used, size_t limit, const char* what);
  Status OnStatusLine(std::string_view line);
  Status OnHeaderLine(std::string_view line);
  Status OnHeadEnd();
  Status OnChunkSizeLine(std::string_view line);
  Status AppendBody(std::string_view bytes);

  Limits limits_;
  State state_ = State::kStatusLine;
  Status error_;
  bool started_ = false;
  std::string line_;
  size_t head_bytes_ = 0;
  int status_ = 0;
  int http_minor_ = 1;
  std::vector<std::pair<std::string, std::string>> headers_;  // names lower-cased
  bool close_delimited_ = false;
  size_t remaining_ = 0;  // of the Content-Length body or the current chunk
  std::string body_;
};

}  // namespace replicant::net
