// libFuzzer target: the client side of HTTP. The SSYNC/REPCONN senders' response head
// reader followed by the SSYNC chunked decoder (or a Content-Length body), and the
// REPLICATE client's incremental HttpResponseParser, which must reach the same
// result whether the bytes come at once or one at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/http_response_parser.h"
#include "net/http_response_head.h"
#include "net/framing.h"
#include "tests/fuzz/memory_stream.h"

using namespace replicant;

namespace {

void SenderSide(std::string_view in) {
  fuzz::MemoryStream s(in);
  auto head = net::ReadHttpResponseHead(s);
  if (!head.ok()) return;
  char buf[4096];
  if (head->chunked) {
    net::ChunkedReader body(s);
    for (;;) {
      auto n = body.Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) return;
    }
  }
  for (;;) {
    auto line = s.ReadLine(65536);  // SSYNC answers are read line by line
    if (!line.ok()) return;
  }
}

struct Outcome {
  bool ok, done;
  int status;
  std::string body;
};

Outcome Parse(std::string_view in, size_t piece) {
  net::HttpResponseParser p(net::HttpResponseParser::Limits{64 << 10, 1 << 20});
  size_t at = 0;
  while (at < in.size() && !p.done()) {
    auto used = p.Feed(in.substr(at, piece));
    if (!used.ok()) return {false, false, 0, ""};
    at += *used;
    if (*used == 0) break;
  }
  if (!p.done() && !p.FinishOnEof().ok()) return {false, false, 0, ""};
  return {true, p.done(), p.status(), p.body()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  SenderSide(in);
  Outcome whole = Parse(in, in.size() + 1);
  Outcome bytes = Parse(in, 1);
  if (whole.ok != bytes.ok || whole.done != bytes.done || whole.status != bytes.status ||
      whole.body != bytes.body) {
    std::fprintf(stderr, "parse differs when fed byte by byte\n");
    abort();
  }
  return 0;
}
