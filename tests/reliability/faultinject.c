/* faultinject: an LD_PRELOAD shim that fails (or SIGKILLs the process at) the Nth system
 * call of one kind, for the reliability suite (tests/reliability/README in
 * docs/reliability.md). Build: cc -shared -fPIC -O2 -o faultinject.so faultinject.c faultinject_calls.c -ldl
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
 *   FAULT_MODEL_PREFIX the directories whose files the power-loss model follows (default:
 *                      FAULT_PATH_PREFIX's).
 *   FAULT_TRACE_FILE   optional: one line "kind<TAB>index<TAB>function<TAB>path" per counted
 *                      call, so the driver can pick the first call of each distinct site.
 *   FAULT_LOST_FILE    optional: the power-loss model's log. Lines "lost PATH" name files whose
 *                      content was not durable when a sync of them failed or the process was
 *                      killed; "unrenamed PATH" names a rename's target whose directory was
 *                      not fsynced (nor syncfs'd) by then; "rename A B" / "unlink P" follow
 *                      such files. The driver afterwards truncates the first and removes the
 *                      second, as a machine crash would leave them.
 *
 * Only the process that loaded the shim first is affected: the constructor removes
 * LD_PRELOAD from the environment and ignores processes whose pid differs from
 * FAULT_OWNER_PID once set (rsync children of the sender stay clean).
 * Thread-safety: counters are atomic in shared memory; the fd-tracking tables take one mutex.
 */
#include "faultinject.h"

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
int active;
static int fault_kind = -1, fault_errno = EIO, fault_kill;
static const char *fault_hook;
static uint64_t fault_nth;
#define MAXPREFIX 16
struct prefixes {
  char p[MAXPREFIX][PATH_MAX];
  size_t len[MAXPREFIX];
  int n;
};
/* Calls count under `counted`; the power-loss model follows files under `modeled`. */
static struct prefixes counted, modeled;
static int lost_fd = -1, trace_fd = -1;

REAL(int, open, const char *, int, ...)
REAL(ssize_t, write, int, const void *, size_t)
REAL(int, close, int)

/* ---- paths ------------------------------------------------------------------------- */

static int in_prefixes(const char *p, const struct prefixes *l) {
  for (int i = 0; p && i < l->n; i++)
    if (strncmp(p, l->p[i], l->len[i]) == 0 && (p[l->len[i]] == '/' || p[l->len[i]] == 0))
      return 1;
  return 0;
}
int under_prefix(const char *p) { return in_prefixes(p, &counted); }
static int under_model(const char *p) { return in_prefixes(p, &modeled); }

/* A ':'-separated list of directories. */
static void parse_prefixes(const char *p, struct prefixes *l) {
  while (p && *p && l->n < MAXPREFIX) {
    size_t n = strcspn(p, ":");
    if (n > 0 && n < PATH_MAX) {
      memcpy(l->p[l->n], p, n);
      while (n > 1 && l->p[l->n][n - 1] == '/') n--;
      l->p[l->n][n] = 0;
      l->len[l->n++] = n;
    }
    p += n + (p[n] == ':');
  }
}

/* The path fd refers to ("" if unknown); sockets come back as "socket:[N]". */
void fd_path(int fd, char *out, size_t n) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t r = readlink(link, out, n - 1);
  out[r < 0 ? 0 : r] = 0;
}

int fd_is_socket(int fd) {
  struct stat s;
  return fstat(fd, &s) == 0 && S_ISSOCK(s.st_mode);
}

/* dirfd-relative path -> absolute (best effort). */
void at_path(int dirfd, const char *p, char *out, size_t n) {
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
/* Names given by a rename whose directory has not been fsynced (nor syncfs'd) since: a
 * crash may leave the file under its old name. */
static char *renamed[MAXPENDING];
static int nrenamed;

void lost_line(const char *what, const char *a, const char *b) {
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

void track_open(int fd, const char *path, int flags) {
  if (fd < 0 || fd >= MAXFD || !(flags & (O_WRONLY | O_RDWR)) || !under_model(path)) return;
  pthread_mutex_lock(&mu);
  free(open_path[fd]);
  open_path[fd] = strdup(path);
  open_dirty[fd] = (flags & (O_CREAT | O_TRUNC)) != 0;
  pthread_mutex_unlock(&mu);
}

void mark_dirty(int fd) {
  if (fd < 0 || fd >= MAXFD) return;
  pthread_mutex_lock(&mu);
  if (open_path[fd]) open_dirty[fd] = 1;
  pthread_mutex_unlock(&mu);
}

/* Whether `path` is directly in directory `dir`. */
static int in_dir(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

void synced_fd(int fd) {
  char p[PATH_MAX];
  fd_path(fd, p, sizeof p);
  pthread_mutex_lock(&mu);
  if (fd >= 0 && fd < MAXFD && open_path[fd]) open_dirty[fd] = 0;
  drop_pending(p);
  for (int i = 0; i < nrenamed; i++)  /* a directory's fsync makes its renames durable */
    if (in_dir(renamed[i], p)) {
      free(renamed[i]);
      renamed[i--] = renamed[--nrenamed];
    }
  pthread_mutex_unlock(&mu);
}

void dir_sync_failed(int fd) {
  char p[PATH_MAX];
  fd_path(fd, p, sizeof p);
  pthread_mutex_lock(&mu);
  for (int i = 0; i < nrenamed; i++)
    if (in_dir(renamed[i], p)) lost_line("unrenamed", renamed[i], NULL);
  pthread_mutex_unlock(&mu);
}

void synced_all(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAXFD; i++) open_dirty[i] = 0;
  while (npending) free(pending[--npending]);
  while (nrenamed) free(renamed[--nrenamed]);
  pthread_mutex_unlock(&mu);
}

/* Everything not durable is lost (a failed syncfs, or a crash). */
void lose_all(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAXFD; i++)
    if (open_path[i] && open_dirty[i]) lost_line("lost", open_path[i], NULL);
  for (int i = 0; i < npending; i++) lost_line("lost", pending[i], NULL);
  for (int i = 0; i < nrenamed; i++) lost_line("unrenamed", renamed[i], NULL);
  pthread_mutex_unlock(&mu);
}

void track_close(int fd) {
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

void track_rename(const char *from, const char *to) {
  if (!under_model(from)) return;
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
  if (nrenamed < MAXPENDING) renamed[nrenamed++] = strdup(to);
  pthread_mutex_unlock(&mu);
  lost_line("rename", from, to);
}

void track_unlink(const char *p) {
  if (!under_model(p)) return;
  pthread_mutex_lock(&mu);
  drop_pending(p);
  pthread_mutex_unlock(&mu);
  lost_line("unlink", p, NULL);
}

/* ---- counting and firing ------------------------------------------------------------ */

/* Counts one call of `kind` on `path` (NULL: a network call); returns the errno to fail it
 * with, or 0 to let it run. */
int hit(int kind, const char *fn, const char *path) {
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

int hit_fd(int kind, const char *fn, int fd) {
  if (!active) return 0;
  char p[PATH_MAX];
  fd_path(fd, p, sizeof p);
  if (strncmp(p, "socket:", 7) == 0)  /* read/write on a socket: a network call */
    return kind == K_READ || kind == K_WRITE ? hit(K_NET, fn, NULL) : 0;
  return hit(kind, fn, p);
}

int hit_at(int kind, const char *fn, int dirfd, const char *path) {
  if (!active) return 0;
  char p[PATH_MAX];
  at_path(dirfd, path, p, sizeof p);
  return hit(kind, fn, p);
}

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
  const char *p = getenv("FAULT_PATH_PREFIX"), *m = getenv("FAULT_MODEL_PREFIX");
  parse_prefixes(p, &counted);
  parse_prefixes(m ? m : p, &modeled);
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
