#include "replicator/replicate_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "formats/pickle.h"

namespace replicant {
namespace {

// Large enough for any partition's hashes (4096 suffixes * ~50 bytes), small enough
// that a hostile peer cannot make us buffer without bound.
constexpr size_t kMaxBody = 4 << 20;

struct CurlHandle {
  CURL* h = nullptr;
  CurlHandle() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    h = curl_easy_init();
  }
  ~CurlHandle() { if (h) curl_easy_cleanup(h); }
};

// One handle per thread: connection reuse without shared state.
CURL* ThreadHandle() {
  thread_local CurlHandle handle;
  return handle.h;
}

struct Body {
  std::string data;
  bool too_big = false;
};

size_t OnData(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* body = static_cast<Body*>(userdata);
  size_t n = size * nmemb;
  if (body->data.size() + n > kMaxBody) {
    body->too_big = true;
    return 0;  // abort the transfer
  }
  body->data.append(ptr, n);
  return n;
}

std::string HostForUrl(const std::string& ip) {
  in6_addr a;
  return inet_pton(AF_INET6, ip.c_str(), &a) == 1 ? "[" + ip + "]" : ip;
}

// Percent-encodes a path segment as Python's urllib quote() does (safe '/').
std::string Quote(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || c == '/') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace

Result<ReplicateResponse> ReplicateClient::GetHashes(const ReplicatePeer& peer,
                                                     const std::string& partition,
                                                     int policy_index) const {
  return Request(peer, "/" + peer.device + "/" + partition, policy_index, true);
}

Result<ReplicateResponse> ReplicateClient::Rehash(const ReplicatePeer& peer,
                                                  const std::string& partition, int policy_index,
                                                  const std::vector<std::string>& suffixes) const {
  std::string joined;
  for (size_t i = 0; i < suffixes.size(); ++i) joined += (i ? "-" : "") + suffixes[i];
  return Request(peer, "/" + peer.device + "/" + partition + "/" + joined, policy_index, false);
}

Result<ReplicateResponse> ReplicateClient::Request(const ReplicatePeer& peer,
                                                   const std::string& path, int policy_index,
                                                   bool parse_body) const {
  CURL* h = ThreadHandle();
  if (!h) return Status::IOError("curl_easy_init failed");
  curl_easy_reset(h);
  std::string url = fmt::format("http://{}:{}{}", HostForUrl(peer.ip), peer.port, Quote(path));
  Body body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, fmt::format("X-Backend-Storage-Policy-Index: {}", policy_index).c_str());
  headers = curl_slist_append(headers, "Content-Length: 0");
  headers = curl_slist_append(headers, fmt::format("User-Agent: object-replicator {}", getpid()).c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "REPLICATE");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.conn_timeout * 1000));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts_.http_timeout * 1000));
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  std::string where = fmt::format("REPLICATE {}:{}{}", peer.ip, peer.port, path);
  if (body.too_big) return Status::Corruption(where + ": response body larger than 4 MiB");
  if (rc != CURLE_OK) {
    return Status::Unavailable(where + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  ReplicateResponse resp;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.http_status);
  if (!parse_body || resp.http_status != 200) return resp;
  auto value = pickle::Loads(body.data);
  if (!value.ok()) return value.status().WithContext(where + ": bad hashes pickle");
  if (!value->is_dict()) return Status::Corruption(where + ": hashes pickle is not a dict");
  for (const auto& [k, v] : value->dict()) {
    if (!k.is_str()) continue;
    resp.hashes[k.as_string()] = v.is_str() ? v.as_string() : std::string();
  }
  return resp;
}

}  // namespace replicant
