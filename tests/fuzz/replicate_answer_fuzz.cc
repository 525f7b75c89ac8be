// libFuzzer target: a peer's whole answer to REPLICATE /<device>/<partition>, as the
// replicator reads it: the HTTP response (HttpResponseParser with the REPLICATE body
// limit) and, for a 200, the pickled {suffix: hash} body (ParseHashesAnswer).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "formats/peer_message.h"
#include "net/http_response_parser.h"
#include "replicator/replicate_client.h"

using namespace replicant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  net::HttpResponseParser p(net::HttpResponseParser::Limits{64 << 10, kMaxReplicateBody});
  auto used = p.Feed(in);
  if (!used.ok()) return 0;
  if (!p.done() && !p.FinishOnEof().ok()) return 0;
  if (p.status() != 200) return 0;
  auto hashes = ParseHashesAnswer(p.body(), "REPLICATE 127.0.0.1:6200/sdb1/7");
  if (!hashes.ok() && hashes.status().message().size() > 2 * kMaxPeerMessage) {
    std::fprintf(stderr, "error message of %zu bytes\n", hashes.status().message().size());
    abort();
  }
  return 0;
}
