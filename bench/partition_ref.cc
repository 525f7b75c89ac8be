// partition_ref: the growth curves' reference cost of one partition in an idle pass
// (bench/scale.py): one stat(2) of the partition dir plus one open, read to the end and
// close of its hashes.pkl, what a pass with valid hashes cannot do without. Loops over
// every partition dir of OBJECTS_DIR that holds a hashes.pkl (listed once, outside the
// timing), ROUNDS times; prints the fastest round's microseconds per partition (the cost
// with the least interference from a shared machine) and the count. Then the issue's
// third term, one round trip: a 100-byte request answered by 100 bytes over a loopback
// TCP connection (TCP_NODELAY) to a thread of this process, the fastest round's mean.
// Plain C++, no replicant code; single-threaded, as one replicator job walks partitions.
//
//   partition_ref OBJECTS_DIR [ROUNDS]   prints "<us per partition> <partitions> <rtt us>"
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

bool Exactly(int fd, char* buf, size_t n, bool write_it) {
  for (size_t done = 0; done < n;) {
    ssize_t k = write_it ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
    if (k <= 0) return false;
    done += static_cast<size_t>(k);
  }
  return true;
}

// Microseconds per loopback request/response (the fastest of `rounds` means of 1,000),
// or -1 when no socket could be made.
double LoopbackRoundTrip(int rounds) {
  constexpr size_t kMsg = 100;
  constexpr int kTrips = 1000;
  int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (lst < 0 || bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(lst, 1) != 0 || getsockname(lst, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return -1;
  }
  std::thread echo([lst] {
    int c = accept(lst, nullptr, nullptr);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char buf[kMsg];
    while (Exactly(c, buf, kMsg, false) && Exactly(c, buf, kMsg, true)) {
    }
    close(c);
  });
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  double best = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    char buf[kMsg] = {};
    for (int r = 0; r < rounds; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kTrips; ++i) {
        if (!Exactly(fd, buf, kMsg, true) || !Exactly(fd, buf, kMsg, false)) return -1;
      }
      std::chrono::duration<double, std::micro> us = std::chrono::steady_clock::now() - t0;
      double per = us.count() / kTrips;
      if (best < 0 || per < best) best = per;
    }
  }
  close(fd);
  echo.join();
  close(lst);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: partition_ref OBJECTS_DIR [ROUNDS]\n");
    return 2;
  }
  int rounds = argc == 3 ? std::atoi(argv[2]) : 3;
  if (rounds < 1) {
    std::fprintf(stderr, "partition_ref: ROUNDS must be a positive number\n");
    return 2;
  }
  std::string root = argv[1];
  std::vector<std::string> parts;
  DIR* d = opendir(root.c_str());
  if (!d) {
    std::perror(("partition_ref: " + root).c_str());
    return 1;
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string p = root + "/" + name;
    if (access((p + "/hashes.pkl").c_str(), R_OK) == 0) parts.push_back(p);
  }
  closedir(d);
  if (parts.empty()) {
    std::fprintf(stderr, "partition_ref: no partition with a hashes.pkl under %s\n", root.c_str());
    return 1;
  }
  std::vector<std::string> pkls;
  for (const auto& p : parts) pkls.push_back(p + "/hashes.pkl");
  std::vector<double> per;
  char buf[65536];
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < parts.size(); ++i) {
      struct stat st;
      int fd;
      if (stat(parts[i].c_str(), &st) != 0 ||
          (fd = open(pkls[i].c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
        std::perror(("partition_ref: " + parts[i]).c_str());
        return 1;
      }
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) {
      }
      close(fd);
      if (n < 0) {
        std::perror(("partition_ref: read " + pkls[i]).c_str());
        return 1;
      }
    }
    std::chrono::duration<double, std::micro> us = std::chrono::steady_clock::now() - t0;
    per.push_back(us.count() / static_cast<double>(parts.size()));
  }
  std::printf("%.3f %zu %.3f\n", *std::min_element(per.begin(), per.end()), parts.size(),
              LoopbackRoundTrip(rounds));
  return 0;
}
