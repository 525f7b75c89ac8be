/* faultinject.h: what the shim's two halves share (faultinject.c: configuration, counting,
 * the power-loss model; faultinject_calls.c: the interposed libc functions). Everything
 * here is hidden: the shim exports only the libc names it interposes.
 * Thread-safety: as in faultinject.c. */
#ifndef FAULTINJECT_H
#define FAULTINJECT_H
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

#pragma GCC visibility push(hidden)
extern int active;  /* the shim is configured, in the process it was meant for */

/* The libc function the shim stands in for: real_NAME, resolved by load_NAME(). */
#define REAL(ret, name, ...)                                     \
  static ret (*real_##name)(__VA_ARGS__);                        \
  static void load_##name(void) {                                \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);     \
  }
#define FAIL(err, retval) do { errno = (err); return (retval); } while (0)

int under_prefix(const char *p);
void fd_path(int fd, char *out, size_t n);
int fd_is_socket(int fd);
void at_path(int dirfd, const char *p, char *out, size_t n);
/* Counts one call; returns the errno to fail it with, or 0 to let it run. */
int hit(int kind, const char *fn, const char *path);
int hit_fd(int kind, const char *fn, int fd);
int hit_at(int kind, const char *fn, int dirfd, const char *path);
/* The power-loss model (see faultinject.c). */
void lost_line(const char *what, const char *a, const char *b);
void track_open(int fd, const char *path, int flags);
void mark_dirty(int fd);
void synced_fd(int fd);
void dir_sync_failed(int fd);
void synced_all(void);
void lose_all(void);
void track_close(int fd);
void track_rename(const char *from, const char *to);
void track_unlink(const char *p);
#pragma GCC visibility pop
#endif
