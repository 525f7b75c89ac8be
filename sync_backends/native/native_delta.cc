#include "sync_backends/native/native_delta.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>
#include <librsync.h>
#include <spdlog/spdlog.h>

namespace replicant::sync::native {
namespace {

constexpr size_t kBuf = 1 << 16;

// librsync writes its own errors to stderr; ours carry the context, so its go to the
// debug log.
void RsTrace(rs_loglevel, char const* msg) { spdlog::debug("librsync: {}", msg); }
struct TraceSetup {
  TraceSetup() { rs_trace_to(&RsTrace); }
} trace_setup;

Status JobError(const char* what, rs_result r) {
  return Status::InvalidArgument(fmt::format("librsync {}: {}", what, rs_strerror(r)));
}

// Cranks a job: feeds `in` until it ends, hands every output piece to `out`.
Status Pump(rs_job_t* job, const char* what, const Source& in, const Sink& out) {
  std::string input;
  size_t in_pos = 0;
  bool eof = false;
  std::vector<char> obuf(kBuf);
  int stalled = 0;  // iterations at end of input that produced nothing
  for (;;) {
    if (in_pos == input.size() && !eof) {
      auto next = in();
      if (!next.ok()) return next.status();
      input = std::move(*next);
      in_pos = 0;
      eof = input.empty();
    }
    rs_buffers_t b{};
    b.next_in = input.data() + in_pos;
    b.avail_in = input.size() - in_pos;
    b.eof_in = eof;
    b.next_out = obuf.data();
    b.avail_out = obuf.size();
    rs_result r = rs_job_iter(job, &b);
    in_pos = input.size() - b.avail_in;
    size_t produced = obuf.size() - b.avail_out;
    if (produced > 0) {
      if (Status s = out(std::string_view(obuf.data(), produced)); !s.ok()) return s;
    }
    if (r == RS_DONE) return Status::OK();
    if (r != RS_BLOCKED) return JobError(what, r);
    if (eof && produced == 0 && in_pos == input.size()) {
      // Blocked with no input left and nothing produced: the stream is truncated.
      if (++stalled > 3) {
        return Status::InvalidArgument(fmt::format("librsync {}: input ended early", what));
      }
    } else {
      stalled = 0;
    }
  }
}

Source FileSource(int fd, uint64_t size) {
  auto pos = std::make_shared<uint64_t>(0);
  return [fd, size, pos]() -> Result<std::string> {
    if (*pos >= size) return std::string();
    std::string buf(static_cast<size_t>(std::min<uint64_t>(kBuf, size - *pos)), '\0');
    ssize_t n;
    do {
      n = pread(fd, buf.data(), buf.size(), static_cast<off_t>(*pos));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Status::FromErrno("read", errno);
    if (n == 0) return Status::IOError("file shorter than its size");
    buf.resize(static_cast<size_t>(n));
    *pos += static_cast<uint64_t>(n);
    return buf;
  };
}

struct JobDeleter {
  void operator()(rs_job_t* j) const { rs_job_free(j); }
};
using JobPtr = std::unique_ptr<rs_job_t, JobDeleter>;

struct CopyArg {
  int fd;
  uint64_t size;
  Status error;
};

rs_result CopyFromBase(void* opaque, rs_long_t pos, size_t* len, void** buf) {
  auto* a = static_cast<CopyArg*>(opaque);
  if (pos < 0 || static_cast<uint64_t>(pos) >= a->size) {
    a->error = Status::InvalidArgument("delta copies from beyond the end of the base file");
    return RS_CORRUPT;
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(*len, a->size - static_cast<uint64_t>(pos)));
  ssize_t n;
  do {
    n = pread(a->fd, *buf, want, static_cast<off_t>(pos));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    a->error = Status::IOError("reading the base file failed");
    return RS_IO_ERROR;
  }
  *len = static_cast<size_t>(n);
  return RS_DONE;
}

}  // namespace

struct DeltaEncoder::Sig {
  rs_signature_t* sig = nullptr;
  ~Sig() {
    if (sig) rs_free_sumset(sig);
  }
};

DeltaEncoder::DeltaEncoder(std::unique_ptr<Sig> sig) : sig_(std::move(sig)) {}
DeltaEncoder::~DeltaEncoder() = default;

Result<std::string> FileSignature(int fd, uint64_t size) {
  rs_magic_number magic = RS_BLAKE2_SIG_MAGIC;
  size_t block_len = 0, strong_len = 0;
  if (rs_result r = rs_sig_args(static_cast<rs_long_t>(size), &magic, &block_len, &strong_len);
      r != RS_DONE) {
    return JobError("signature arguments", r);
  }
  JobPtr job(rs_sig_begin(block_len, strong_len, magic));
  std::string sig;
  Status s = Pump(job.get(), "signature", FileSource(fd, size), [&](std::string_view piece) {
    sig.append(piece);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return sig;
}

Result<std::unique_ptr<DeltaEncoder>> DeltaEncoder::Create(std::string_view signature) {
  auto sig = std::make_unique<Sig>();
  JobPtr job(rs_loadsig_begin(&sig->sig));
  bool fed = false;
  std::string copy(signature);
  Status s = Pump(
      job.get(), "load signature",
      [&]() -> Result<std::string> {
        if (fed) return std::string();
        fed = true;
        return copy;
      },
      [](std::string_view) { return Status::OK(); });
  if (!s.ok()) return s;
  if (!sig->sig) return Status::InvalidArgument("librsync load signature: empty signature");
  if (rs_result r = rs_build_hash_table(sig->sig); r != RS_DONE) {
    return JobError("index signature", r);
  }
  return std::unique_ptr<DeltaEncoder>(new DeltaEncoder(std::move(sig)));
}

Status DeltaEncoder::Encode(int fd, uint64_t size, const Sink& out) {
  JobPtr job(rs_delta_begin(sig_->sig));
  return Pump(job.get(), "delta", FileSource(fd, size), out);
}

Result<uint64_t> ApplyDelta(int base_fd, uint64_t base_size, const Source& delta,
                            uint64_t max_output, const Sink& out) {
  CopyArg arg{base_fd, base_size, Status::OK()};
  JobPtr job(rs_patch_begin(&CopyFromBase, &arg));
  uint64_t written = 0;
  Status s = Pump(job.get(), "patch", delta, [&](std::string_view piece) {
    written += piece.size();
    if (written > max_output) {
      return Status::InvalidArgument(
          fmt::format("delta rebuilds more than the announced {} bytes", max_output));
    }
    return out(piece);
  });
  if (!arg.error.ok()) return arg.error;
  if (!s.ok()) return s;
  return written;
}

}  // namespace replicant::sync::native
