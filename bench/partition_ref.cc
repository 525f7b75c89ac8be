// partition_ref: the growth curves' reference cost of one partition in an idle pass
// (bench/scale.py): one stat(2) of the partition dir plus one open, read to the end and
// close of its hashes.pkl, what a pass with valid hashes cannot do without. Loops over
// every partition dir of OBJECTS_DIR that holds a hashes.pkl (listed once, outside the
// timing), ROUNDS times; prints the fastest round's microseconds per partition (the cost
// with the least interference from a shared machine) and the count.
// Plain C++, no replicant code; single-threaded, as one replicator job walks partitions.
//
//   partition_ref OBJECTS_DIR [ROUNDS]     prints "<us per partition> <partitions>"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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
  std::printf("%.3f %zu\n", *std::min_element(per.begin(), per.end()), parts.size());
  return 0;
}
