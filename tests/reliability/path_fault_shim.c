/* path_fault_shim: an LD_PRELOAD library that makes opening one path misbehave, to
 * test what a replicator or server does when a listing or a read fails there.
 *
 *   REPLICANT_FAULT_PATH      absolute path (a file or a directory) whose opens are hit
 *   REPLICANT_FAULT_ERRNO     errno number each hit fails with (0 or unset: no failure)
 *   REPLICANT_FAULT_DELAY_MS  sleep this long in the first hit (before any failure)
 *   REPLICANT_FAULT_MARK      file created when the first hit starts, so a test knows
 *   REPLICANT_FAULT_AFTER_OPEN  set: opens pass; the first hit is the first open of the
 *                             path that succeeds (not O_PATH), and its mark and delay come
 *                             after it, the file held open (rsync's sender re-reads a
 *                             file's xattrs by name after opening it)
 *
 * open, open64, openat, openat64, __open_2, __open64_2 and opendir are covered;
 * relative names are resolved against the cwd or the dir fd, so a child such as rsync
 * (which chdirs) is hit too. Everything else passes through untouched. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int resolve(int dirfd, const char *name, char *out, size_t n) {
  if (name[0] == '/') return snprintf(out, n, "%s", name) < (int)n;
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) return 0;
  } else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t k = readlink(link, base, sizeof base - 1);
    if (k <= 0) return 0;
    base[k] = 0;
  }
  return snprintf(out, n, "%s/%s", base, name) < (int)n;
}

static int matches(int dirfd, const char *name) {
  const char *want = getenv("REPLICANT_FAULT_PATH");
  if (!want || !name) return 0;
  char path[PATH_MAX];
  if (!resolve(dirfd, name, path, sizeof path)) return 0;
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') path[--len] = 0;
  return strcmp(path, want) == 0;
}

/* The first hit's mark and delay, once per process. */
static void first_hit(void) {
  static int first = 1;
  if (!first) return;
  first = 0;
  int saved = errno;
  const char *mark = getenv("REPLICANT_FAULT_MARK");
  if (mark) {
    FILE *f = fopen(mark, "w");
    if (f) fclose(f);
  }
  const char *delay = getenv("REPLICANT_FAULT_DELAY_MS");
  if (delay) {
    long ms = atol(delay);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  errno = saved;
}

/* Before an open: 0 to pass through, else the errno to fail with. */
static int hit(int dirfd, const char *name) {
  if (getenv("REPLICANT_FAULT_AFTER_OPEN") || !matches(dirfd, name)) return 0;
  first_hit();
  const char *e = getenv("REPLICANT_FAULT_ERRNO");
  return e ? atoi(e) : 0;
}

/* After an open that returned fd. */
static int after(int dirfd, const char *name, int flags, int fd) {
  if (fd >= 0 && !(flags & O_PATH) && getenv("REPLICANT_FAULT_AFTER_OPEN") &&
      matches(dirfd, name))
    first_hit();
  return fd;
}

#define NEXT(type, name) ((type)dlsym(RTLD_NEXT, name))

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define DEFINE_OPEN(fn)                                              \
  int fn(const char *p, int flags, ...) {                           \
    va_list ap;                                                      \
    va_start(ap, flags);                                             \
    mode_t m = mode_arg(flags, ap);                                  \
    va_end(ap);                                                      \
    int e = hit(AT_FDCWD, p);                                        \
    if (e) { errno = e; return -1; }                                 \
    return after(AT_FDCWD, p, flags,                                   \
                 NEXT(int (*)(const char *, int, ...), #fn)(p, flags, m)); \
  }
DEFINE_OPEN(open)
DEFINE_OPEN(open64)

#define DEFINE_OPENAT(fn)                                                    \
  int fn(int d, const char *p, int flags, ...) {                            \
    va_list ap;                                                              \
    va_start(ap, flags);                                                     \
    mode_t m = mode_arg(flags, ap);                                          \
    va_end(ap);                                                              \
    int e = hit(d, p);                                                       \
    if (e) { errno = e; return -1; }                                         \
    return after(d, p, flags,                                                  \
                 NEXT(int (*)(int, const char *, int, ...), #fn)(d, p, flags, m)); \
  }
DEFINE_OPENAT(openat)
DEFINE_OPENAT(openat64)

#define DEFINE_OPEN_2(fn)                                     \
  int fn(const char *p, int flags) {                         \
    int e = hit(AT_FDCWD, p);                                 \
    if (e) { errno = e; return -1; }                          \
    return after(AT_FDCWD, p, flags, NEXT(int (*)(const char *, int), #fn)(p, flags)); \
  }
DEFINE_OPEN_2(__open_2)
DEFINE_OPEN_2(__open64_2)

DIR *opendir(const char *p) {
  int e = hit(AT_FDCWD, p);
  if (e) { errno = e; return NULL; }
  return NEXT(DIR *(*)(const char *), "opendir")(p);
}
