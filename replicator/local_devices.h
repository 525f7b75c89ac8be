// Local devices: which ring devices this node replicates for.
//
// Swift's whataremyips + is_local_device: a ring device is local when its
// replication_ip is one of this host's addresses (or the configured ring_ip/bind_ip
// when that is not a wildcard) and its replication_port equals bind_port (ignored
// when servers_per_port is in use). IPv6 addresses compare in canonical form.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ring/ring.h"

namespace replicant {

// Canonical text of an IP address (inet_ntop of inet_pton), or the input unchanged
// when it is not an address (a hostname).
std::string CanonicalIp(const std::string& ip);

// Swift's whataremyips(ring_ip): [ring_ip] when it is a specific address, else every
// address of every interface (IPv6 canonical, without %scope).
std::vector<std::string> WhatAreMyIps(const std::string& ring_ip);

// Swift's is_local_device. Hostnames in the ring are resolved.
bool IsLocalDevice(const std::vector<std::string>& my_ips, std::optional<int> my_port,
                   const Device& dev);

}  // namespace replicant
