/* faultinject_calls.c: the libc functions the shim interposes (see faultinject.c). Each
 * counts its call (hit*), fails it when it is the chosen one, and keeps the power-loss
 * model's view of written files up to date. */
#include "faultinject.h"

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
      struct stat s = {0};
      if (fstat(fd, &s) == 0 && S_ISREG(s.st_mode)) lost_line("lost", p, NULL);
      if (S_ISDIR(s.st_mode)) dir_sync_failed(fd);
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
