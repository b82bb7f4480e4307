// The world and its collectives (see comm.h): the communication thread, its queue and
// watchdog, the MPI algorithms for host memory, and the hand-off to NCCL for CUDA memory.
#include "comm.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "../device.h"
#ifdef REPMLP_WITH_CUDA
#include "../cuda/nccl.h"
#endif

namespace repmlp::dist {

namespace {

using Clock = std::chrono::steady_clock;

// One operation for the communication thread.
struct Job {
  std::string what;  // "allreduce of 1024 float32 elements", for errors and the watchdog
  std::function<void(Mpi&)> body;
  bool done = false;
  std::string error;
};

// Runs jobs in the order they were submitted, on a thread of its own (the thread that
// initialised MPI, so MPI_THREAD_FUNNELED suffices), and aborts every rank when one job
// runs past the timeout.
class Engine {
 public:
  Engine(Mpi& mpi, double timeout) : mpi_(mpi), timeout_(timeout) {
    comm_ = std::thread([this] { loop(); });
    watchdog_ = std::thread([this] { watch(); });
  }

  std::shared_ptr<Job> submit(std::string what, std::function<void(Mpi&)> body) {
    auto job = std::make_shared<Job>();
    job->what = std::move(what);
    job->body = std::move(body);
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stopped_) throw Error("the distributed world was finalised");
      queue_.push_back(job);
    }
    cv_.notify_all();
    return job;
  }

  // Blocks until job is done; throws its error.
  void wait(const Job& job) {
    std::unique_lock<std::mutex> lock(m_);
    done_cv_.wait(lock, [&] { return job.done; });
    if (!job.error.empty()) throw Error(job.error);
  }

  void run(std::string what, std::function<void(Mpi&)> body) { wait(*submit(std::move(what), std::move(body))); }

  // Runs the last job (MPI_Finalize), then ends both threads.
  void stop(std::function<void(Mpi&)> last) {
    auto job = submit("finalize", std::move(last));
    {
      std::lock_guard<std::mutex> lock(m_);
      stopped_ = true;
    }
    cv_.notify_all();
    comm_.join();
    watchdog_.join();
    if (!job->error.empty()) throw Error(job->error);
  }

  void set_identity(int rank, int size) {
    std::lock_guard<std::mutex> lock(m_);
    rank_ = rank;
    size_ = size;
  }

  Mpi& mpi() { return mpi_; }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return !queue_.empty() || stopped_; });
        if (queue_.empty()) return;
        job = queue_.front();
        queue_.pop_front();
        running_ = job;
        since_ = Clock::now();
      }
      std::string error;
      try {
        job->body(mpi_);
      } catch (const std::exception& e) {
        error = job->what + ": " + e.what();
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        job->error = error;
        job->done = true;
        running_.reset();
      }
      done_cv_.notify_all();
    }
  }

  void watch() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (stopped_ && queue_.empty() && !running_) return;
      if (!running_ || timeout_ <= 0) continue;
      const double waited = std::chrono::duration<double>(Clock::now() - since_).count();
      if (waited < timeout_) continue;
      // A rank that failed or stopped never joins this collective: stop every rank.
      std::fprintf(stderr,
                   "repmlp: rank %d of %d: %s did not complete within %.0f s (a rank has failed or stopped); "
                   "aborting every rank (REPMLP_DIST_TIMEOUT sets the limit in seconds)\n",
                   rank_, size_, running_->what.c_str(), timeout_);
      std::fflush(stderr);
      mpi_.abort(1);
      std::_Exit(1);
    }
  }

  Mpi& mpi_;
  const double timeout_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> running_;
  Clock::time_point since_;
  bool stopped_ = false;
  int rank_ = -1, size_ = 0;
  std::thread comm_, watchdog_;
};

// The world, guarded by g_mutex. The engine lives as long as the process (its threads must
// not meet static destructors); it is made by init_mpi and stopped by finalize.
std::mutex g_mutex;
WorldInfo g_world;
Engine* g_engine = nullptr;

const char* type_name(Type t) {
  switch (t) {
    case Type::F32: return "float32";
    case Type::F64: return "float64";
    case Type::I64: return "int64";
    case Type::Byte: return "byte";
  }
  return "?";
}

std::string describe(const char* op, int64_t count, Type t) {
  return std::string(op) + " of " + std::to_string(count) + " " + type_name(t) + " elements";
}

void check(Mpi& m, int code, const char* call) {
  if (code != 0) throw Error(std::string(call) + " failed: " + m.what(code));
}

// Waits for r: tests it back to back at first (a small collective completes in
// microseconds), then with pauses growing from 8 to 256 us (MPI progresses only inside its
// calls; the pauses leave the core to the compute thread while a bucket waits for a rank
// still in its backward).
void complete(Mpi& m, Request* r, const char* call) {
  int done = 0;
  for (int k = 0;; ++k) {
    check(m, m.test(r, &done), call);
    if (done) return;
    if (k < 128) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(8 << std::min((k - 128) / 16, 5)));
  }
}

// The MPI counts are ints: a collective over more elements goes in pieces of at most this
// many elements per rank.
constexpr int64_t kMaxBlock = int64_t(1) << 26;

// Elements an in-place host allreduce over `size` ranks needs room for: count rounded up to
// a multiple of size.
int64_t padded(int64_t count, int size) { return (count + size - 1) / size * size; }

// data (room for padded(count, size) elements of t) reduced over the world in place: per
// piece, a reduce-scatter into scratch (each rank reduces one block) and an allgather back.
void reduce_in_place(Mpi& m, char* data, int64_t count, Type t, Op op, int size) {
  const size_t es = type_size(t);
  const int64_t piece = kMaxBlock * size;
  std::vector<char> scratch(static_cast<size_t>(std::min(padded(count, size) / size, kMaxBlock)) * es);
  for (int64_t o = 0; o < count; o += piece) {
    const int64_t len = std::min(piece, count - o), blk = padded(len, size) / size;
    char* at = data + o * es;
    std::memset(at + len * es, 0, static_cast<size_t>(blk * size - len) * es);  // the padding's results are dropped
    Request r;
    check(m, m.reduce_scatter_block(at, scratch.data(), static_cast<int>(blk), t, op, &r), "MPI_Ireduce_scatter_block");
    complete(m, &r, "MPI_Ireduce_scatter_block");
    check(m, m.allgather(scratch.data(), at, static_cast<int>(blk), t, &r), "MPI_Iallgather");
    complete(m, &r, "MPI_Iallgather");
  }
}

void bcast_host(Mpi& m, char* data, int64_t count, Type t, int root) {
  const size_t es = type_size(t);
  for (int64_t o = 0; o < count; o += kMaxBlock) {
    Request r;
    const int n = static_cast<int>(std::min(kMaxBlock, count - o));
    check(m, m.bcast(data + o * es, n, t, root, &r), "MPI_Ibcast");
    complete(m, &r, "MPI_Ibcast");
  }
}

// The engine of an initialised world of more than one rank; null when collectives are
// identities. Throws when the world was finalised.
Engine* engine_for(const char* op) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world.finalized) throw Error(std::string(op) + ": the distributed world was finalised");
  return g_world.size > 1 ? g_engine : nullptr;
}

#ifdef REPMLP_WITH_CUDA
// What NCCL needs of the world: the ranks and a way to broadcast rank 0's unique id.
cuda::NcclWorld nccl_world(Engine* e) {
  const WorldInfo w = world();
  return {w.rank, w.size, [e](void* id, size_t bytes) {
            e->run("broadcast of NCCL's unique id", [&](Mpi& m) { bcast_host(m, static_cast<char*>(id), static_cast<int64_t>(bytes), Type::Byte, 0); });
          }};
}
#endif

constexpr const char* kNoCuda = "this build of repmlp has no CUDA support";

class HostPendingSum final : public PendingSum {
 public:
  HostPendingSum(Engine* e, int64_t count, int size)
      : e_(e), count_(count), size_(size), data_(static_cast<size_t>(padded(count, size))) {}
  ~HostPendingSum() override {
    // The communication thread may still be summing data_: let it finish first.
    if (job_) {
      try {
        e_->wait(*job_);
      } catch (...) {
      }
    }
  }
  float* data() override { return data_.data(); }
  int64_t count() const override { return count_; }
  Device device() const override { return Device::CPU; }
  void start() override {
    if (job_ || !e_) return;
    char* p = reinterpret_cast<char*>(data_.data());
    const int64_t n = count_;
    const int size = size_;
    job_ = e_->submit(describe("allreduce", n, Type::F32), [p, n, size](Mpi& m) { reduce_in_place(m, p, n, Type::F32, Op::Sum, size); });
  }
  void wait() override {
    if (!job_) start();
    if (job_) e_->wait(*job_);
  }

 private:
  Engine* e_;
  int64_t count_;
  int size_;
  std::vector<float> data_;
  std::shared_ptr<Job> job_;
};

#ifdef REPMLP_WITH_CUDA
class DevicePendingSum final : public PendingSum {
 public:
  DevicePendingSum(Engine* e, int64_t count) : e_(e), count_(count) {
    data_ = static_cast<float*>(count > 0 ? cuda::malloc(static_cast<size_t>(count) * 4) : nullptr);
  }
  ~DevicePendingSum() override {
    if (data_) cuda::free(data_);  // stream order keeps a queued sum ahead of the next user
  }
  float* data() override { return data_; }
  int64_t count() const override { return count_; }
  Device device() const override { return Device::CUDA; }
  void start() override {
    if (started_) return;
    started_ = true;
    if (e_ && count_ > 0) cuda::nccl_allreduce(nccl_world(e_), data_, count_, Type::F32, Op::Sum);
  }
  void wait() override { start(); }  // in stream order: later kernels see the sum

 private:
  Engine* e_;
  int64_t count_;
  float* data_ = nullptr;
  bool started_ = false;
};
#endif

// At exit: a process that leaves without finalize (an error, an uncaught exception,
// process.exit(1)) takes every rank down with it rather than leaving them waiting in a
// collective until the timeout.
void abort_unless_finalized() {
  Engine* e = nullptr;
  int rank = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_world.engine != "mpi" || g_world.finalized) return;
    e = g_engine;
    rank = g_world.rank;
  }
  std::fprintf(stderr, "repmlp: rank %d exits without leaving the distributed world; aborting every rank\n", rank);
  std::fflush(stderr);
  e->mpi().abort(1);
}

}  // namespace

size_t type_size(Type t) {
  switch (t) {
    case Type::F32: return 4;
    case Type::F64: return 8;
    case Type::I64: return 8;
    case Type::Byte: return 1;
  }
  return 1;
}

WorldInfo world() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_world;
}

WorldInfo init_local() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world.engine == "mpi") throw Error("the process already joined an MPI world of " + std::to_string(g_world.size) + " ranks");
  g_world.initialized = true;
  return g_world;
}

WorldInfo init_mpi(double timeout_seconds) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_world.engine == "mpi") {
      if (g_world.finalized) throw Error("the distributed world was finalised; a process joins it once");
      return g_world;
    }
  }
  const MpiStatus st = mpi_status();
  Mpi& m = mpi();  // throws, listing where it looked, when MPI is missing
  auto* e = new Engine(m, timeout_seconds);
  WorldInfo w;
  w.initialized = true;
  w.engine = "mpi";
  w.implementation = st.implementation;
  w.library = st.path;
  w.version = st.version;
  w.timeout_seconds = timeout_seconds;
  try {
    e->run("MPI_Init_thread", [&](Mpi& mp) {
      check(mp, mp.init(kThreadFunneled, &w.thread_level), "MPI_Init_thread");
      check(mp, mp.errors_return(), "MPI_Comm_set_errhandler");
      check(mp, mp.world(&w.rank, &w.size), "MPI_Comm_rank");
      check(mp, mp.node(&w.local_rank, &w.local_size), "MPI_Comm_split_type");
    });
  } catch (...) {
    e->stop([](Mpi&) {});
    delete e;
    throw;
  }
  e->set_identity(w.rank, w.size);
  std::atexit(abort_unless_finalized);
  std::string why;
  const int devices = cuda::device_count(&why);
  if (devices > 0) {
    w.cuda_device = w.local_rank % devices;
    cuda::set_device(w.cuda_device);
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_world = w;
  g_engine = e;
  return g_world;
}

void allreduce(Device d, void* buf, int64_t count, Type t, Op op) {
  Engine* e = engine_for("allreduce");
  if (!e || count == 0) return;
  if (d == Device::CUDA) {
#ifdef REPMLP_WITH_CUDA
    return cuda::nccl_allreduce(nccl_world(e), buf, count, t, op);
#else
    throw Error(kNoCuda);
#endif
  }
  const int size = world().size;
  e->run(describe("allreduce", count, t), [=](Mpi& m) {
    const size_t es = type_size(t);
    std::vector<char> tmp(static_cast<size_t>(padded(count, size)) * es);
    std::memcpy(tmp.data(), buf, static_cast<size_t>(count) * es);
    reduce_in_place(m, tmp.data(), count, t, op, size);
    std::memcpy(buf, tmp.data(), static_cast<size_t>(count) * es);
  });
}

void broadcast(Device d, void* buf, int64_t count, Type t, int root) {
  Engine* e = engine_for("broadcast");
  if (!e || count == 0) return;
  if (d == Device::CUDA) {
#ifdef REPMLP_WITH_CUDA
    return cuda::nccl_broadcast(nccl_world(e), buf, count, t, root);
#else
    throw Error(kNoCuda);
#endif
  }
  e->run(describe("broadcast", count, t), [=](Mpi& m) { bcast_host(m, static_cast<char*>(buf), count, t, root); });
}

void sum_over_world(Device d, double* p, int64_t n) { allreduce(d, p, n, Type::F64, Op::Sum); }

int64_t count_over_world(int64_t local) {
  int64_t v = local;
  allreduce(Device::CPU, &v, 1, Type::I64, Op::Sum);
  return v;
}

void barrier() {
  Engine* e = engine_for("barrier");
  if (!e) return;
#ifdef REPMLP_WITH_CUDA
  if (world().cuda_device >= 0 && !cuda::nccl_wait_idle(world().timeout_seconds)) {
    std::fprintf(stderr, "repmlp: rank %d: the CUDA device did not finish its queued work (NCCL's included) within %.0f s; aborting every rank\n",
                 world().rank, world().timeout_seconds);
    abort(1);
  }
#endif
  e->run("barrier", [](Mpi& m) {
    Request r;
    check(m, m.barrier(&r), "MPI_Ibarrier");
    complete(m, &r, "MPI_Ibarrier");
  });
}

std::unique_ptr<PendingSum> make_pending_sum(Device d, int64_t count) {
  Engine* e = engine_for("allreduce");
  if (d == Device::CPU) return std::make_unique<HostPendingSum>(e, count, e ? world().size : 1);
#ifdef REPMLP_WITH_CUDA
  return std::make_unique<DevicePendingSum>(e, count);
#else
  throw Error(kNoCuda);
#endif
}

void abort(int code) {
  Engine* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_world.finalized) e = g_engine;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  if (e) e->mpi().abort(code);
  std::_Exit(code);
}

void finalize() {
  Engine* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_world.finalized || g_world.engine != "mpi") {
      g_world.finalized = g_world.finalized || g_world.engine == "mpi";
      return;
    }
    g_world.finalized = true;
    e = g_engine;
  }
#ifdef REPMLP_WITH_CUDA
  cuda::nccl_destroy();
#endif
  e->stop([](Mpi& m) { check(m, m.finalize(), "MPI_Finalize"); });
}

}  // namespace repmlp::dist
