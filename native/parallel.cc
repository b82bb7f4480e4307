#include "parallel.h"

#include "env.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace repmlp {
namespace {

thread_local bool in_worker = false;

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    stop();
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    quit_ = false;
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, i] { loop(i + 1); });
  }

  // Runs task(t) for t in [0, tasks) on the caller and the workers; rethrows the first error.
  void run(int tasks, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    {
      std::lock_guard<std::mutex> lock(m_);
      task_ = &task;
      tasks_ = tasks;
      next_ = 0;
      pending_ = tasks;
      pending_flag_.store(tasks, std::memory_order_relaxed);
      error_ = nullptr;
      ++generation_;
      generation_flag_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    in_worker = true;
    drain();
    in_worker = false;
    spin_until([this] { return pending_flag_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(m_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void drain() {
    for (;;) {
      int t;
      {
        std::lock_guard<std::mutex> lock(m_);
        if (!task_ || next_ >= tasks_) return;
        t = next_++;
      }
      try {
        (*task_)(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(m_);
      pending_flag_.store(--pending_, std::memory_order_release);
      if (pending_ == 0) done_cv_.notify_all();
    }
  }

  // Waking a sleeping thread costs tens of microseconds on a VM, and a training step makes
  // thousands of parallel calls, so both sides spin for a short while (~50 us) before
  // blocking on the condition variable.
  template <typename Ready>
  static bool spin_until(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    for (int i = 0;; ++i) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
    }
  }

  void loop(int) {
    in_worker = true;
    uint64_t seen = 0;
    for (;;) {
      {
        spin_until([&] { return generation_flag_.load(std::memory_order_acquire) != seen; });
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
      }
      drain();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_, m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0, next_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  // Lock-free mirrors of generation_ and pending_ for the spinning waits.
  std::atomic<uint64_t> generation_flag_{0};
  std::atomic<int> pending_flag_{0};
  bool quit_ = false;
  std::exception_ptr error_;
};

// REPMLP_NUM_THREADS overrides the number of hardware threads (a bad value is an Error).
int default_threads() {
  const int hw = static_cast<int>(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, env::kMaxThreads));
  return static_cast<int>(env::integer("REPMLP_NUM_THREADS", 1, env::kMaxThreads, hw, "a positive integer"));
}

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(std::clamp<int>(n, 1, env::kMaxThreads)); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int threads = in_worker ? 1 : num_threads();
  const int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t step = (n + chunks - 1) / chunks;
  pool().run(static_cast<int>(chunks), [&](int t) {
    const int64_t b = t * step, e = std::min(n, b + step);
    if (b < e) fn(b, e);
  });
}

}  // namespace repmlp
