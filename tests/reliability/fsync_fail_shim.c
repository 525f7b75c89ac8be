/* An LD_PRELOAD shim for durability tests: fsync(2) of a directory fails with EIO.
 *
 *   FSYNC_FAIL_DIR_MATCH  only directories whose path contains this string (default: any)
 *   FSYNC_FAIL_DIR_COUNT  how many such fsyncs fail, then they succeed again (default 1;
 *                         -1: every one)
 *   FSYNC_FAIL_DIR_LOG    a file that gets one line per failed fsync (the dir's path)
 *
 * Everything else, and every fsync of a regular file, goes to the real fsync. The
 * counter is atomic: receivers fsync dirs from several threads.
 * Build: cc -shared -fPIC -o fsync_fail_shim.so fsync_fail_shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*real_fsync)(int);
static long remaining = -2; /* -2: not read from the environment yet */

static int should_fail(int fd, char *path, size_t len) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, len - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  const char *match = getenv("FSYNC_FAIL_DIR_MATCH");
  if (match && *match && !strstr(path, match)) return 0;
  long left = __atomic_load_n(&remaining, __ATOMIC_SEQ_CST);
  if (left == -2) {
    const char *count = getenv("FSYNC_FAIL_DIR_COUNT");
    long want = count && *count ? strtol(count, NULL, 10) : 1;
    long expected = -2;
    __atomic_compare_exchange_n(&remaining, &expected, want, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
  }
  for (;;) {
    left = __atomic_load_n(&remaining, __ATOMIC_SEQ_CST);
    if (left == -1) return 1;
    if (left <= 0) return 0;
    if (__atomic_compare_exchange_n(&remaining, &left, left - 1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      return 1;
    }
  }
}

int fsync(int fd) {
  if (!real_fsync) real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  char path[4096];
  if (should_fail(fd, path, sizeof path)) {
    const char *log = getenv("FSYNC_FAIL_DIR_LOG");
    if (log && *log) {
      int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (lfd >= 0) {
        dprintf(lfd, "%s\n", path);
        close(lfd);
      }
    }
    errno = EIO;
    return -1;
  }
  return real_fsync(fd);
}
