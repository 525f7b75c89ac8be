#include "base/parallel_for.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace replicant {

namespace {

constexpr auto kHelperIdleExit = std::chrono::seconds(60);

// Parked threads running queued tasks. A task is queued only with a helper to take
// it: an idle one woken, or a new one made. Never destroyed (helpers may be parked
// on it at exit).
class Helpers {
 public:
  static Helpers& Get() {
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] { instance() = new Helpers; });  // old one leaks
      return true;
    }();
    (void)registered;
    return *instance();
  }

  void Run(std::function<void()> task) {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(task));
    if (idle_ >= queue_.size()) {
      wake_.notify_one();
      return;
    }
    std::thread([this] { Loop(); }).detach();
  }

 private:
  static Helpers*& instance() {
    static Helpers* p = new Helpers;
    return p;
  }

  void Loop() {
    pthread_setname_np(pthread_self(), "parallel-for");  // tests tell helpers by it
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      ++idle_;
      bool woke = wake_.wait_for(l, kHelperIdleExit, [this] { return !queue_.empty(); });
      --idle_;
      if (!woke) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      l.unlock();
      task();
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
};

// One call's shared state; helpers hold it, so one that starts after the call returned
// finds it closed and leaves without touching the caller's f.
struct Call {
  size_t n = 0;
  const std::function<void(size_t)>* f = nullptr;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable done;
  bool closed = false;
  size_t started = 0;
  size_t finished = 0;
  std::exception_ptr error;

  void Work() {
    for (size_t i; (i = next++) < n;) {
      try {
        (*f)(i);
      } catch (...) {
        std::lock_guard<std::mutex> l(mu);
        if (!error) error = std::current_exception();
      }
    }
  }
};

}  // namespace

void ParallelForImpl(size_t n, size_t threads, const std::function<void(size_t)>& f) {
  auto call = std::make_shared<Call>();
  call->n = n;
  call->f = &f;
  for (size_t t = 1; t < std::min(n, threads); ++t) {
    Helpers::Get().Run([call] {
      {
        std::lock_guard<std::mutex> l(call->mu);
        if (call->closed) return;
        ++call->started;
      }
      call->Work();
      std::lock_guard<std::mutex> l(call->mu);
      ++call->finished;
      call->done.notify_all();
    });
  }
  call->Work();
  std::unique_lock<std::mutex> l(call->mu);
  call->closed = true;
  call->done.wait(l, [&] { return call->finished == call->started; });
  if (call->error) std::rethrow_exception(call->error);
}

}  // namespace replicant
