/* faultinject: an LD_PRELOAD shim that fails (or SIGKILLs the process at) the Nth system
 * call of one kind, for the reliability suite (tests/reliability/README in
 * docs/reliability-suite.md). Build: cc -shared -fPIC -O2 -o faultinject.so faultinject.c -ldl
 *
 * Environment:
 *   FAULT_STATE_FILE   required: a file (created, 4 KiB) mmap'd MAP_SHARED; it holds the
 *                      per-kind call counts and what fired, so the driver reads them even after
 *                      a kill -9, and several processes can share one sequence of indices.
 *   FAULT_PATH_PREFIX  only calls on paths (or fds whose path is) under one of these
 *                      directories (':'-separated) count; network calls (kind net) always do.
 *   FAULT_CALL         open|read|write|fsync|rename|dir|unlink|mkdir|xattr|fallocate|net|any;
 *                      unset = count only.
 *   FAULT_NTH          the 1-based index of the call (of that kind, over every process sharing
 *                      the state file) to fail.
 *   FAULT_ERRNO        EIO|ENOSPC|EMFILE|EINTR|ECONNRESET|... (default EIO); `kill` makes the
 *                      Nth call SIGKILL the process instead (a crash at that moment); `hook`
 *                      runs FAULT_HOOK (a shell command) before the Nth call, which then
 *                      goes ahead (a race: e.g. a client PUT landing at that moment).
 *   FAULT_TRACE_FILE   optional: one line "kind<TAB>index<TAB>function<TAB>path" per counted
 *                      call, so the driver can pick the first call of each distinct site.
 *   FAULT_LOST_FILE    optional: the power-loss model's log. Lines "lost PATH" name files whose
 *                      content was not durable when a sync of them failed or the process was
 *                      killed; "rename A B" / "unlink P" follow such files. The driver tears
 *                      (truncates) them afterwards, as a machine crash would.
 *
 * Only the process that loaded the shim first is affected: the constructor removes
 * LD_PRELOAD from the environment and ignores processes whose pid differs from
 * FAULT_OWNER_PID once set (rsync children of the sender stay clean).
 * Thread-safety: counters are atomic in shared memory; the fd-tracking tables take one mutex.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

enum { K_OPEN, K_READ, K_WRITE, K_FSYNC, K_RENAME, K_DIR, K_UNLINK, K_MKDIR, K_XATTR,
       K_FALLOCATE, K_NET, K_ANY, NKINDS };
static const char *kind_names[NKINDS] = {"open", "read", "write", "fsync", "rename", "dir",
                                         "unlink", "mkdir", "xattr", "fallocate", "net", "any"};

/* The shared state file's layout (the driver reads it with struct '<12Q Q 4Q 256s'). */
struct state {
  uint64_t counts[NKINDS];
  uint64_t fired;      /* how many calls were failed (0 or 1) */
  uint64_t fired_kind, fired_index, fired_errno;
  uint64_t hook_failed;
  char fired_desc[256];
};

static struct state *st;
static int active, fault_kind = -1, fault_errno = EIO, fault_kill;
static const char *fault_hook;
static uint64_t fault_nth;
#define MAXPREFIX 16
static char prefix[MAXPREFIX][PATH_MAX];
static size_t prefix_len[MAXPREFIX];
static int nprefix;
static int lost_fd = -1, trace_fd = -1;

#define REAL(ret, name, ...)                                     \
  static ret (*real_##name)(__VA_ARGS__);                        \
  static void load_##name(void) {                                \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);     \
  }
REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, mkostemps, char *, int, int)
REAL(FILE *, fopen, const char *, const char *)
REAL(FILE *, fopen64, const char *, const char *)
REAL(ssize_t, read, int, void *, size_t)
REAL(ssize_t, pread, int, void *, size_t, off_t)
REAL(ssize_t, pread64, int, void *, size_t, off_t)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off_t)
REAL(int, fsync, int)
REAL(int, fdatasync, int)
REAL(int, syncfs, int)
REAL(int, close, int)
REAL(int, rename, const char *, const char *)
REAL(int, renameat, int, const char *, int, const char *)
REAL(int, renameat2, int, const char *, int, const char *, unsigned)
REAL(DIR *, opendir, const char *)
REAL(DIR *, fdopendir, int)
REAL(struct dirent *, readdir, DIR *)
REAL(struct dirent64 *, readdir64, DIR *)
REAL(long, syscall, long, long, long, long, long, long, long)
REAL(int, unlink, const char *)
REAL(int, unlinkat, int, const char *, int)
REAL(int, rmdir, const char *)
REAL(int, remove, const char *)
REAL(int, mkdir, const char *, mode_t)
REAL(int, mkdirat, int, const char *, mode_t)
REAL(int, setxattr, const char *, const char *, const void *, size_t, int)
REAL(int, fsetxattr, int, const char *, const void *, size_t, int)
REAL(ssize_t, getxattr, const char *, const char *, void *, size_t)
REAL(ssize_t, fgetxattr, int, const char *, void *, size_t)
REAL(int, removexattr, const char *, const char *)
REAL(int, fremovexattr, int, const char *)
REAL(int, fallocate, int, int, off_t, off_t)
REAL(int, fallocate64, int, int, off_t, off_t)
REAL(int, posix_fallocate, int, off_t, off_t)
REAL(int, connect, int, const struct sockaddr *, socklen_t)
REAL(ssize_t, send, int, const void *, size_t, int)
REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
REAL(ssize_t, sendmsg, int, const struct msghdr *, int)
REAL(ssize_t, recv, int, void *, size_t, int)
REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *)
REAL(ssize_t, recvmsg, int, struct msghdr *, int)

/* ---- paths ------------------------------------------------------------------------- */

static int under_prefix(const char *p) {
  for (int i = 0; p && i < nprefix; i++)
    if (strncmp(p, prefix[i], prefix_len[i]) == 0 &&
        (p[prefix_len[i]] == '/' || p[prefix_len[i]] == 0))
      return 1;
  return 0;
}

/* The path fd refers to ("" if unknown); sockets come back as "socket:[N]". */
static void fd_path(int fd, char *out, size_t n) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t r = readlink(link, out, n - 1);
  out[r < 0 ? 0 : r] = 0;
}

static int fd_is_socket(int fd) {
  struct stat s;
  return fstat(fd, &s) == 0 && S_ISSOCK(s.st_mode);
}

/* dirfd-relative path -> absolute (best effort). */
static void at_path(int dirfd, const char *p, char *out, size_t n) {
  if (!p) { out[0] = 0; return; }
  if (p[0] == '/') { snprintf(out, n, "%s", p); return; }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) base[0] = 0;
  } else {
    fd_path(dirfd, base, sizeof base);
  }
  snprintf(out, n, "%s/%s", base, p);
}

/* ---- the power-loss model: which written files are not yet durable ------------------- */

#define MAXFD 4096
#define MAXPENDING 4096
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *open_path[MAXFD];  /* tracked (opened for writing) fds: their path */
static int open_dirty[MAXFD];
static char *pending[MAXPENDING];  /* closed files written since their last sync */
static int npending;

static void lost_line(const char *what, const char *a, const char *b) {
  if (lost_fd < 0) return;
  char line[2 * PATH_MAX + 32];
  int n = snprintf(line, sizeof line, "%s %s%s%s\n", what, a, b ? "\t" : "", b ? b : "");
  load_write();
  real_write(lost_fd, line, n);  /* O_APPEND: one line per write, atomic */
}

static void drop_pending(const char *p) {
  for (int i = 0; i < npending; i++)
    if (strcmp(pending[i], p) == 0) {
      free(pending[i]);
      pending[i] = pending[--npending];
      return;
    }
}

static void track_open(int fd, const char *path, int flags) {
  if (fd < 0 || fd >= MAXFD || !(flags & (O_WRONLY | O_RDWR)) || !under_prefix(path)) return;
  pthread_mutex_lock(&mu);
  free(open_path[fd]);
  open_path[fd] = strdup(path);
  open_dirty[fd] = (flags & (O_CREAT | O_TRUNC)) != 0;
  pthread_mutex_unlock(&mu);
}

static void mark_dirty(int fd) {
  if (fd < 0 || fd >= MAXFD) return;
  pthread_mutex_lock(&mu);
  if (open_path[fd]) open_dirty[fd] = 1;
  pthread_mutex_unlock(&mu);
}

static void synced_fd(int fd) {
  char p[PATH_MAX];
  fd_path(fd, p, sizeof p);
  pthread_mutex_lock(&mu);
  if (fd >= 0 && fd < MAXFD && open_path[fd]) open_dirty[fd] = 0;
  drop_pending(p);
  pthread_mutex_unlock(&mu);
}

static void synced_all(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAXFD; i++) open_dirty[i] = 0;
  while (npending) free(pending[--npending]);
  pthread_mutex_unlock(&mu);
}

/* Everything not durable is lost (a failed syncfs, or a crash). */
static void lose_all(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAXFD; i++)
    if (open_path[i] && open_dirty[i]) lost_line("lost", open_path[i], NULL);
  for (int i = 0; i < npending; i++) lost_line("lost", pending[i], NULL);
  pthread_mutex_unlock(&mu);
}

static void track_close(int fd) {
  if (fd < 0 || fd >= MAXFD) return;
  pthread_mutex_lock(&mu);
  if (open_path[fd]) {
    if (open_dirty[fd] && npending < MAXPENDING) pending[npending++] = open_path[fd];
    else free(open_path[fd]);
    open_path[fd] = NULL;
    open_dirty[fd] = 0;
  }
  pthread_mutex_unlock(&mu);
}

static void track_rename(const char *from, const char *to) {
  if (!under_prefix(from)) return;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAXFD; i++)
    if (open_path[i] && strcmp(open_path[i], from) == 0) {
      free(open_path[i]);
      open_path[i] = strdup(to);
    }
  for (int i = 0; i < npending; i++)
    if (strcmp(pending[i], from) == 0) {
      free(pending[i]);
      pending[i] = strdup(to);
    }
  pthread_mutex_unlock(&mu);
  lost_line("rename", from, to);
}

static void track_unlink(const char *p) {
  if (!under_prefix(p)) return;
  pthread_mutex_lock(&mu);
  drop_pending(p);
  pthread_mutex_unlock(&mu);
  lost_line("unlink", p, NULL);
}

/* ---- counting and firing ------------------------------------------------------------ */

/* Counts one call of `kind` on `path` (NULL: a network call); returns the errno to fail it
 * with, or 0 to let it run. */
static int hit(int kind, const char *fn, const char *path) {
  if (!active) return 0;
  if (kind != K_NET && !under_prefix(path)) return 0;
  uint64_t n = __atomic_add_fetch(&st->counts[kind], 1, __ATOMIC_SEQ_CST);
  uint64_t any = __atomic_add_fetch(&st->counts[K_ANY], 1, __ATOMIC_SEQ_CST);
  if (trace_fd >= 0) {
    char line[PATH_MAX + 64];
    int len = snprintf(line, sizeof line, "%s\t%llu\t%s\t%s\n", kind_names[kind],
                       (unsigned long long)n, fn, path ? path : "(socket)");
    load_write();
    real_write(trace_fd, line, len < (int)sizeof line ? len : (int)sizeof line - 1);
  }
  int match = (fault_kind == kind && n == fault_nth) ||
              (fault_kind == K_ANY && any == fault_nth);
  if (!match) return 0;
  st->fired_kind = kind;
  st->fired_index = fault_kind == K_ANY ? any : n;
  st->fired_errno = fault_kill ? 0 : (uint64_t)fault_errno;
  snprintf(st->fired_desc, sizeof st->fired_desc, "%s %s", fn, path ? path : "(socket)");
  __atomic_add_fetch(&st->fired, 1, __ATOMIC_SEQ_CST);
  if (fault_hook) {
    if (system(fault_hook) != 0) st->hook_failed = 1;  /* the driver reports a failed hook */
    return 0;
  }
  if (fault_kill) {
    lose_all();
    msync(st, sizeof *st, MS_SYNC);
    raise(SIGKILL);
  }
  return fault_errno;
}

static int hit_fd(int kind, const char *fn, int fd) {
  if (!active) return 0;
  char p[PATH_MAX];
  fd_path(fd, p, sizeof p);
  if (strncmp(p, "socket:", 7) == 0)  /* read/write on a socket: a network call */
    return kind == K_READ || kind == K_WRITE ? hit(K_NET, fn, NULL) : 0;
  return hit(kind, fn, p);
}

static int hit_at(int kind, const char *fn, int dirfd, const char *path) {
  if (!active) return 0;
  char p[PATH_MAX];
  at_path(dirfd, path, p, sizeof p);
  return hit(kind, fn, p);
}

#define FAIL(err, retval) do { errno = (err); return (retval); } while (0)

__attribute__((constructor)) static void init(void) {
  const char *owner = getenv("FAULT_OWNER_PID");
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  unsetenv("LD_PRELOAD");
  if (owner && strcmp(owner, pid) != 0) return;
  setenv("FAULT_OWNER_PID", pid, 1);
  const char *sf = getenv("FAULT_STATE_FILE");
  if (!sf) return;
  load_open();
  int fd = real_open(sf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ftruncate(fd, 4096) != 0) return;
  st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  load_close();
  real_close(fd);
  if (st == MAP_FAILED) { st = NULL; return; }
  const char *p = getenv("FAULT_PATH_PREFIX");
  while (p && *p && nprefix < MAXPREFIX) {
    size_t n = strcspn(p, ":");
    if (n > 0 && n < PATH_MAX) {
      memcpy(prefix[nprefix], p, n);
      while (n > 1 && prefix[nprefix][n - 1] == '/') n--;
      prefix[nprefix][n] = 0;
      prefix_len[nprefix++] = n;
    }
    p += n + (p[n] == ':');
  }
  const char *call = getenv("FAULT_CALL");
  for (int k = 0; call && k < NKINDS; k++)
    if (strcmp(call, kind_names[k]) == 0) fault_kind = k;
  const char *nth = getenv("FAULT_NTH");
  fault_nth = nth ? strtoull(nth, NULL, 10) : 0;
  const char *e = getenv("FAULT_ERRNO");
  if (e) {
    static const struct { const char *n; int v; } errs[] = {
        {"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EMFILE", EMFILE}, {"EINTR", EINTR},
        {"ECONNRESET", ECONNRESET}, {"ECONNREFUSED", ECONNREFUSED}, {"EPIPE", EPIPE},
        {"ENOMEM", ENOMEM}, {"EDQUOT", EDQUOT}, {"ETIMEDOUT", ETIMEDOUT}};
    if (strcmp(e, "kill") == 0) fault_kill = 1;
    if (strcmp(e, "hook") == 0) fault_hook = getenv("FAULT_HOOK");
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
      if (strcmp(e, errs[i].n) == 0) fault_errno = errs[i].v;
  }
  const char *tf = getenv("FAULT_TRACE_FILE");
  if (tf) trace_fd = real_open(tf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const char *lf = getenv("FAULT_LOST_FILE");
  if (lf) lost_fd = real_open(lf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  active = 1;
}

/* ---- open ------------------------------------------------------------------------------ */

static int mode_of(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, int) : 0;
}

static int open_fail(const char *fn, const char *p) {
  int e = hit(K_OPEN, fn, p);
  if (e) errno = e;
  return e;
}

#define OPEN_WRAPPER(name)                                                        \
  int name(const char *path, int flags, ...) {                                  \
    va_list ap;                                                                 \
    va_start(ap, flags);                                                        \
    int mode = mode_of(flags, ap);                                              \
    va_end(ap);                                                                 \
    load_##name();                                                              \
    char p[PATH_MAX];                                                           \
    at_path(AT_FDCWD, path, p, sizeof p);                                       \
    if (open_fail(#name, p)) return -1;                                         \
    int fd = real_##name(path, flags, mode);                                    \
    track_open(fd, p, flags);                                                   \
    return fd;                                                                  \
  }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                                      \
  int name(int dirfd, const char *path, int flags, ...) {                       \
    va_list ap;                                                                 \
    va_start(ap, flags);                                                        \
    int mode = mode_of(flags, ap);                                              \
    va_end(ap);                                                                 \
    load_##name();                                                              \
    char p[PATH_MAX];                                                           \
    at_path(dirfd, path, p, sizeof p);                                          \
    if (open_fail(#name, p)) return -1;                                         \
    int fd = real_##name(dirfd, path, flags, mode);                             \
    track_open(fd, p, flags);                                                   \
    return fd;                                                                  \
  }
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int d, const char *path, int flags) { return openat(d, path, flags); }
int __openat64_2(int d, const char *path, int flags) { return openat64(d, path, flags); }

int mkostemps(char *tmpl, int suffixlen, int flags) {
  load_mkostemps();
  char p[PATH_MAX];
  at_path(AT_FDCWD, tmpl, p, sizeof p);
  if (open_fail("mkostemps", p)) return -1;
  int fd = real_mkostemps(tmpl, suffixlen, flags);
  if (fd >= 0) {
    at_path(AT_FDCWD, tmpl, p, sizeof p);
    track_open(fd, p, O_RDWR | O_CREAT);
  }
  return fd;
}

FILE *fopen(const char *path, const char *mode) {
  load_fopen();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  if (open_fail("fopen", p)) return NULL;
  return real_fopen(path, mode);
}
FILE *fopen64(const char *path, const char *mode) {
  load_fopen64();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  if (open_fail("fopen64", p)) return NULL;
  return real_fopen64(path, mode);
}

/* ---- read / write ---------------------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t n) {
  load_read();
  int e = hit_fd(K_READ, "read", fd);
  if (e) FAIL(e, -1);
  return real_read(fd, buf, n);
}
ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  load_pread();
  int e = hit_fd(K_READ, "pread", fd);
  if (e) FAIL(e, -1);
  return real_pread(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  load_pread64();
  int e = hit_fd(K_READ, "pread64", fd);
  if (e) FAIL(e, -1);
  return real_pread64(fd, buf, n, off);
}
ssize_t write(int fd, const void *buf, size_t n) {
  load_write();
  if (fd > 2) {
    int e = hit_fd(K_WRITE, "write", fd);
    if (e) FAIL(e, -1);
    mark_dirty(fd);
  }
  return real_write(fd, buf, n);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  load_pwrite();
  int e = hit_fd(K_WRITE, "pwrite", fd);
  if (e) FAIL(e, -1);
  mark_dirty(fd);
  return real_pwrite(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  load_pwrite64();
  int e = hit_fd(K_WRITE, "pwrite64", fd);
  if (e) FAIL(e, -1);
  mark_dirty(fd);
  return real_pwrite64(fd, buf, n, off);
}

/* ---- fsync / fdatasync / syncfs / close ----------------------------------------------- */

static int sync_one(int (*real)(int), const char *fn, int fd) {
  int e = hit_fd(K_FSYNC, fn, fd);
  if (e) {
    if (e != EINTR && active) {  /* a failed sync: the file's unsynced data is gone */
      char p[PATH_MAX];
      fd_path(fd, p, sizeof p);
      struct stat s;
      if (fstat(fd, &s) == 0 && S_ISREG(s.st_mode)) lost_line("lost", p, NULL);
    }
    FAIL(e, -1);
  }
  int r = real(fd);
  if (r == 0 && active) synced_fd(fd);
  return r;
}
int fsync(int fd) { load_fsync(); return sync_one(real_fsync, "fsync", fd); }
int fdatasync(int fd) { load_fdatasync(); return sync_one(real_fdatasync, "fdatasync", fd); }
int syncfs(int fd) {
  load_syncfs();
  int e = hit_fd(K_FSYNC, "syncfs", fd);
  if (e) {
    if (e != EINTR && active) lose_all();
    FAIL(e, -1);
  }
  int r = real_syncfs(fd);
  if (r == 0 && active) synced_all();
  return r;
}
int close(int fd) {
  load_close();
  if (active) track_close(fd);
  return real_close(fd);
}

/* ---- rename ----------------------------------------------------------------------------- */

int rename(const char *a, const char *b) {
  load_rename();
  char pa[PATH_MAX], pb[PATH_MAX];
  at_path(AT_FDCWD, a, pa, sizeof pa);
  at_path(AT_FDCWD, b, pb, sizeof pb);
  int e = hit(K_RENAME, "rename", pa);
  if (e) FAIL(e, -1);
  int r = real_rename(a, b);
  if (r == 0 && active) track_rename(pa, pb);
  return r;
}
int renameat(int da, const char *a, int db, const char *b) {
  load_renameat();
  char pa[PATH_MAX], pb[PATH_MAX];
  at_path(da, a, pa, sizeof pa);
  at_path(db, b, pb, sizeof pb);
  int e = hit(K_RENAME, "renameat", pa);
  if (e) FAIL(e, -1);
  int r = real_renameat(da, a, db, b);
  if (r == 0 && active) track_rename(pa, pb);
  return r;
}
int renameat2(int da, const char *a, int db, const char *b, unsigned flags) {
  load_renameat2();
  char pa[PATH_MAX], pb[PATH_MAX];
  at_path(da, a, pa, sizeof pa);
  at_path(db, b, pb, sizeof pb);
  int e = hit(K_RENAME, "renameat2", pa);
  if (e) FAIL(e, -1);
  int r = real_renameat2(da, a, db, b, flags);
  if (r == 0 && active) track_rename(pa, pb);
  return r;
}

/* ---- directories ----------------------------------------------------------------------- */

DIR *opendir(const char *path) {
  load_opendir();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_DIR, "opendir", p);
  if (e) FAIL(e, NULL);
  return real_opendir(path);
}
DIR *fdopendir(int fd) {
  load_fdopendir();
  int e = hit_fd(K_DIR, "fdopendir", fd);
  if (e) FAIL(e, NULL);
  return real_fdopendir(fd);
}
struct dirent *readdir(DIR *d) {
  load_readdir();
  int e = hit_fd(K_DIR, "readdir", dirfd(d));
  if (e) FAIL(e, NULL);
  return real_readdir(d);
}
struct dirent64 *readdir64(DIR *d) {
  load_readdir64();
  int e = hit_fd(K_DIR, "readdir64", dirfd(d));
  if (e) FAIL(e, NULL);
  return real_readdir64(d);
}
/* replicant lists directories with syscall(SYS_getdents64, ...) directly. */
long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  load_syscall();
  int e = 0;
  if (nr == SYS_getdents64) e = hit_fd(K_DIR, "getdents64", (int)a1);
  else if (nr == SYS_fallocate) e = hit_fd(K_FALLOCATE, "syscall(fallocate)", (int)a1);
  if (e) FAIL(e, -1);
  return real_syscall(nr, a1, a2, a3, a4, a5, a6);
}

/* ---- unlink / rmdir / mkdir ------------------------------------------------------------ */

int unlink(const char *path) {
  load_unlink();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_UNLINK, "unlink", p);
  if (e) FAIL(e, -1);
  int r = real_unlink(path);
  if (r == 0 && active) track_unlink(p);
  return r;
}
int unlinkat(int d, const char *path, int flags) {
  load_unlinkat();
  char p[PATH_MAX];
  at_path(d, path, p, sizeof p);
  int e = hit(K_UNLINK, "unlinkat", p);
  if (e) FAIL(e, -1);
  int r = real_unlinkat(d, path, flags);
  if (r == 0 && active) track_unlink(p);
  return r;
}
int rmdir(const char *path) {
  load_rmdir();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_UNLINK, "rmdir", p);
  if (e) FAIL(e, -1);
  return real_rmdir(path);
}
int remove(const char *path) {
  load_remove();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_UNLINK, "remove", p);
  if (e) FAIL(e, -1);
  int r = real_remove(path);
  if (r == 0 && active) track_unlink(p);
  return r;
}
int mkdir(const char *path, mode_t m) {
  load_mkdir();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_MKDIR, "mkdir", p);
  if (e) FAIL(e, -1);
  return real_mkdir(path, m);
}
int mkdirat(int d, const char *path, mode_t m) {
  load_mkdirat();
  int e = hit_at(K_MKDIR, "mkdirat", d, path);
  if (e) FAIL(e, -1);
  return real_mkdirat(d, path, m);
}

/* ---- xattrs ----------------------------------------------------------------------------- */

int setxattr(const char *path, const char *name, const void *v, size_t n, int flags) {
  load_setxattr();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_XATTR, "setxattr", p);
  if (e) FAIL(e, -1);
  return real_setxattr(path, name, v, n, flags);
}
int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags) {
  load_fsetxattr();
  int e = hit_fd(K_XATTR, "fsetxattr", fd);
  if (e) FAIL(e, -1);
  mark_dirty(fd);
  return real_fsetxattr(fd, name, v, n, flags);
}
ssize_t getxattr(const char *path, const char *name, void *v, size_t n) {
  load_getxattr();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_XATTR, "getxattr", p);
  if (e) FAIL(e, -1);
  return real_getxattr(path, name, v, n);
}
ssize_t fgetxattr(int fd, const char *name, void *v, size_t n) {
  load_fgetxattr();
  int e = hit_fd(K_XATTR, "fgetxattr", fd);
  if (e) FAIL(e, -1);
  return real_fgetxattr(fd, name, v, n);
}
int removexattr(const char *path, const char *name) {
  load_removexattr();
  char p[PATH_MAX];
  at_path(AT_FDCWD, path, p, sizeof p);
  int e = hit(K_XATTR, "removexattr", p);
  if (e) FAIL(e, -1);
  return real_removexattr(path, name);
}
int fremovexattr(int fd, const char *name) {
  load_fremovexattr();
  int e = hit_fd(K_XATTR, "fremovexattr", fd);
  if (e) FAIL(e, -1);
  return real_fremovexattr(fd, name);
}

/* ---- fallocate -------------------------------------------------------------------------- */

int fallocate(int fd, int mode, off_t off, off_t len) {
  load_fallocate();
  int e = hit_fd(K_FALLOCATE, "fallocate", fd);
  if (e) FAIL(e, -1);
  mark_dirty(fd);
  return real_fallocate(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off_t off, off_t len) {
  load_fallocate64();
  int e = hit_fd(K_FALLOCATE, "fallocate64", fd);
  if (e) FAIL(e, -1);
  mark_dirty(fd);
  return real_fallocate64(fd, mode, off, len);
}
int posix_fallocate(int fd, off_t off, off_t len) {
  load_posix_fallocate();
  int e = hit_fd(K_FALLOCATE, "posix_fallocate", fd);
  if (e) return e;  /* posix_fallocate returns the error number */
  mark_dirty(fd);
  return real_posix_fallocate(fd, off, len);
}

/* ---- network ---------------------------------------------------------------------------- */

int connect(int fd, const struct sockaddr *a, socklen_t n) {
  load_connect();
  int e = (a && a->sa_family == AF_INET) ? hit(K_NET, "connect", NULL) : 0;
  if (e) FAIL(e == EINTR ? EINTR : ECONNREFUSED, -1);
  return real_connect(fd, a, n);
}
ssize_t send(int fd, const void *b, size_t n, int f) {
  load_send();
  int e = hit(K_NET, "send", NULL);
  if (e) FAIL(e, -1);
  return real_send(fd, b, n, f);
}
ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) {
  load_sendto();
  /* unconnected datagrams (statsd) are not part of a replication session */
  int e = a ? 0 : hit(K_NET, "sendto", NULL);
  if (e) FAIL(e, -1);
  return real_sendto(fd, b, n, f, a, l);
}
ssize_t sendmsg(int fd, const struct msghdr *m, int f) {
  load_sendmsg();
  int e = fd_is_socket(fd) && m && !m->msg_name ? hit(K_NET, "sendmsg", NULL) : 0;
  if (e) FAIL(e, -1);
  return real_sendmsg(fd, m, f);
}
ssize_t recv(int fd, void *b, size_t n, int f) {
  load_recv();
  int e = hit(K_NET, "recv", NULL);
  if (e) FAIL(e, -1);
  return real_recv(fd, b, n, f);
}
ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) {
  load_recvfrom();
  int e = hit(K_NET, "recvfrom", NULL);
  if (e) FAIL(e, -1);
  return real_recvfrom(fd, b, n, f, a, l);
}
ssize_t recvmsg(int fd, struct msghdr *m, int f) {
  load_recvmsg();
  int e = hit(K_NET, "recvmsg", NULL);
  if (e) FAIL(e, -1);
  return real_recvmsg(fd, m, f);
}
