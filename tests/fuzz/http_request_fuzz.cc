// libFuzzer target: the replication server's side of HTTP, as `replicant serve` reads a
// connection: request heads (line, headers, framing checks) one after another on a
// keep-alive connection, each followed by its body, Content-Length or chunked
// (chunk sizes, extensions, trailers). The bytes arrive through a real socket because
// SocketStream reads with recv.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/framing.h"
#include "net/http_request.h"
#include "net/socket_stream.h"
#include "tests/fuzz/socket_feed.h"

using namespace replicant;

namespace {

// Reads a body to its end, or to the first error.
void Drain(net::ByteStream& body) {
  char buf[4096];
  for (;;) {
    auto n = body.Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::SocketFeed feed(std::string_view(reinterpret_cast<const char*>(data), size));
  net::SocketStream s(feed.TakeReader(), 1.0);
  net::HttpLimits limits;
  for (int i = 0; i < 16; ++i) {
    net::HeadResult head = net::ReadRequestHead(s, limits, 1.0, 1.0);
    if (head.kind != net::HeadResult::Kind::kRequest) return 0;
    const net::HttpRequest& req = head.request;
    (void)req.keep_alive();
    (void)req.expects_continue();
    if (req.chunked()) {
      net::ChunkedReader body(s);
      Drain(body);
      if (!body.done()) return 0;
    } else if (auto len = req.content_length()) {
      net::LengthReader body(s, *len);
      Drain(body);
      if (body.left() != 0) return 0;
    }
  }
  return 0;
}
