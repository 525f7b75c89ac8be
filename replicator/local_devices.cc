#include "replicator/local_devices.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>

namespace replicant {

std::string CanonicalIp(const std::string& ip) {
  char buf[INET6_ADDRSTRLEN];
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, ip.c_str(), &a4) == 1) return inet_ntop(AF_INET, &a4, buf, sizeof buf);
  if (inet_pton(AF_INET6, ip.c_str(), &a6) == 1) return inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  return ip;
}

std::vector<std::string> WhatAreMyIps(const std::string& ring_ip) {
  if (!ring_ip.empty()) {
    std::string c = CanonicalIp(ring_ip);
    if (c != "0.0.0.0" && c != "::") return {ring_ip};
  }
  std::vector<std::string> out;
  ifaddrs* ifa = nullptr;
  if (getifaddrs(&ifa) != 0) return out;
  char buf[INET6_ADDRSTRLEN];
  for (ifaddrs* p = ifa; p; p = p->ifa_next) {
    if (!p->ifa_addr) continue;
    if (p->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(p->ifa_addr);
      out.emplace_back(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf));
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(p->ifa_addr);
      out.emplace_back(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf));
    }
  }
  freeifaddrs(ifa);
  return out;
}

bool IsLocalDevice(const std::vector<std::string>& my_ips, std::optional<int> my_port,
                   const Device& dev) {
  if (my_port && dev.replication_port != *my_port) return false;
  std::vector<std::string> candidates;
  in_addr a4;
  in6_addr a6;
  const std::string& ip = dev.replication_ip;
  if (inet_pton(AF_INET, ip.c_str(), &a4) == 1 || inet_pton(AF_INET6, ip.c_str(), &a6) == 1) {
    candidates.push_back(CanonicalIp(ip));
  } else {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(ip.c_str(), nullptr, &hints, &res) != 0) return false;
    char buf[INET6_ADDRSTRLEN];
    for (addrinfo* r = res; r; r = r->ai_next) {
      if (r->ai_family == AF_INET) {
        candidates.emplace_back(inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(r->ai_addr)->sin_addr, buf, sizeof buf));
      } else if (r->ai_family == AF_INET6) {
        candidates.emplace_back(inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(r->ai_addr)->sin6_addr, buf, sizeof buf));
      }
    }
    freeaddrinfo(res);
  }
  for (const auto& c : candidates) {
    for (const auto& mine : my_ips) {
      if (CanonicalIp(mine) == c) return true;
    }
  }
  return false;
}

}  // namespace replicant
