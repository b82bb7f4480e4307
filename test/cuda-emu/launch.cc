// The CUDA emulator's launches: blocks, block barriers and warp shuffles run as fibers on the
// calling OS thread. See README.md for what it checks and what it cannot.
//
// A launch runs its blocks one after another. A block's threads run in order on one fiber
// (the runner) until one reaches __syncthreads or a warp shuffle; from then on that thread and
// every one the runner has not reached has a fiber with its own stack, which runs until it
// finishes or waits. The scheduler releases a barrier when every live thread of the block
// waits there, and a shuffle when every live lane of the warp does. Anything else is a
// deadlock, reported as a launch failure, as is a shuffle mask that names missing or finished
// lanes.
//
// The order is forward (block 0 first, thread 0 first) unless CUDA_EMU_ORDER=reverse. A race
// (two threads or blocks touching the same memory with no barrier between them) gives a
// result that depends on which runs first, so one of the two orders shows it: forward shows a
// read of what a later thread writes and a write over what a later thread has still to read,
// reverse the same with an earlier thread.
#include <signal.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "internal.h"

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers are written for x86-64"
#endif

// cuda_emu_switch(save, load): saves the callee-saved registers on the current stack, stores
// the stack pointer in *save, and continues on the stack `load` (System V x86-64 ABI).
extern "C" void cuda_emu_switch(void** save, void* load);
asm(R"(
  .text
  .globl cuda_emu_switch
  .hidden cuda_emu_switch
  .type cuda_emu_switch, @function
cuda_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_emu_switch, .-cuda_emu_switch
)");

namespace cuda_emu {

const ThreadCtx* g_ctx = nullptr;

namespace {

// CUDA_EMU_ORDER: "forward" (the default) or "reverse" (see the top of this file).
const bool g_reverse = env_switch("CUDA_EMU_ORDER", "forward", "reverse");

// The i-th of n threads (or blocks) to run.
template <typename T>
T in_order(T i, T n) {
  return g_reverse ? n - 1 - i : i;
}

// Every __shared__ variable lies in this section (see cuda_runtime.h). It is filled with 0xFF
// bytes (NaN floats) before each block, as a block's shared memory starts undefined on a GPU.
extern "C" char __start_cuda_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_cuda_emu_shared[] __attribute__((weak, visibility("hidden")));

void poison_shared() {
  char *begin = __start_cuda_emu_shared, *end = __stop_cuda_emu_shared;
  if (begin != end) std::memset(begin, 0xFF, static_cast<size_t>(end - begin));
}

// ---------------------------------------------------------------------------------------
// Fibers and the block scheduler.

constexpr size_t kStackBytes = size_t{256} << 10;
constexpr unsigned kMaxThreads = 1024;

enum class State { Runnable, AtBarrier, AtWarp, Done };

struct Fiber {
  void* sp = nullptr;
  char* stack = nullptr;  // lowest usable byte; a guard page lies below it
  State state = State::Runnable;
  unsigned index = 0;  // the thread's linear index in its block
  ThreadCtx ctx{};
  unsigned mask = 0;  // the shuffle waited on: mask, own bits, source lane, result
  uint64_t bits = 0, result = 0;
  int src = 0;
};

struct Launch {
  const LaunchConfig* cfg = nullptr;
  void (*body)(void*) = nullptr;
  void* state = nullptr;
  unsigned threads = 0;  // per block
  std::vector<Fiber> fibers;  // one per thread once the block has left the runner
  Fiber runner;               // runs the block's threads one after another (see run_block)
  bool in_runner = false;     // the runner still runs the block
  Fiber* current = nullptr;
  void* scheduler_sp = nullptr;
};

// The launch running now: one at a time in the process (launch() holds a mutex), so plain
// globals, which are cheaper to reach from a shared library than thread_locals.
Launch* g_launch = nullptr;
thread_local bool g_in_launch = false;  // on this host thread

// CUDA_EMU_STATS=1: launches, blocks and threads run, printed at exit; =2 also per launch
// site, with the time spent there.
struct SiteStats {
  uint64_t launches = 0, threads = 0;
  double seconds = 0;
};
struct Stats {
  uint64_t launches = 0, blocks = 0, threads = 0;
  std::map<std::pair<std::string, int>, SiteStats> sites;
  ~Stats() {
    const char* v = std::getenv("CUDA_EMU_STATS");
    if (!v || (*v != '1' && *v != '2')) return;
    std::fprintf(stderr, "cuda emulator: %llu launches, %llu blocks, %llu threads\n",
                 static_cast<unsigned long long>(launches), static_cast<unsigned long long>(blocks),
                 static_cast<unsigned long long>(threads));
    for (const auto& [site, st] : sites)
      std::fprintf(stderr, "  %s:%d  %llu launches, %llu threads, %.3f s\n", site.first.c_str(), site.second,
                   static_cast<unsigned long long>(st.launches), static_cast<unsigned long long>(st.threads), st.seconds);
  }
} g_stats;
const bool g_site_stats = [] {
  const char* v = std::getenv("CUDA_EMU_STATS");
  return v && *v == '2';
}();
std::vector<char*> g_stacks;  // reused by every launch

// A block starts on one fiber, the runner, that runs its threads one after another (thread t
// runs to its end before the next starts), in the order in which separate fibers would first
// run. If a thread waits (a barrier, a shuffle), the runner becomes that thread's fiber and
// the threads it has not reached get fibers of their own (run_block). Kernels that never
// wait thus cost a function call per thread instead of two context switches.
extern "C" [[noreturn]] void cuda_emu_runner_entry() {
  Launch* l = g_launch;
  Fiber& r = l->runner;
  const dim3 bd = l->cfg->block;
  uint3& idx = r.ctx.thread_idx;
  const bool flat = bd.y == 1 && bd.z == 1;
  for (unsigned i = 0; i < l->threads; ++i) {
    const unsigned t = in_order(i, l->threads);
    r.index = t;
    idx = flat ? uint3{t, 0, 0} : uint3{t % bd.x, (t / bd.x) % bd.y, t / (bd.x * bd.y)};
    l->body(l->state);
    if (!l->in_runner) break;  // this thread waited and has become fibers[t]
  }
  l->current->state = State::Done;
  void* unused;
  cuda_emu_switch(&unused, l->scheduler_sp);
  __builtin_unreachable();
}

extern "C" [[noreturn]] void cuda_emu_fiber_entry() {
  Launch* l = g_launch;
  l->body(l->state);
  l->current->state = State::Done;
  void* unused;
  cuda_emu_switch(&unused, l->scheduler_sp);
  __builtin_unreachable();
}

char* stack_for(size_t i) {
  while (g_stacks.size() <= i) {
    const size_t len = kStackBytes + page();
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("cuda emulator: mmap of a fiber stack");
      std::abort();
    }
    mprotect(m, page(), PROT_NONE);  // overflow faults instead of corrupting a neighbour
    g_stacks.push_back(static_cast<char*>(m) + page());
  }
  return g_stacks[i];
}

// A fresh fiber whose first switch enters `entry`: six zeroed callee-saved registers, then
// the entry as the return address, then an empty slot so that the entry starts with the
// stack alignment of a called function (rsp = 8 mod 16).
void start_fiber(Fiber* f, void (*entry)()) {
  auto** sp = reinterpret_cast<void**>(f->stack + kStackBytes);
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(entry);
  for (int r = 0; r < 6; ++r) *--sp = nullptr;
  f->sp = sp;
  f->state = State::Runnable;
}

void wait(State s) {
  Launch* l = g_launch;
  if (!l) {
    std::fprintf(stderr, "cuda emulator: __syncthreads or a shuffle outside a kernel\n");
    std::abort();
  }
  Fiber* f = l->current;
  f->state = s;
  cuda_emu_switch(&f->sp, l->scheduler_sp);
}

std::string where(const Launch& l, const dim3& block) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "the kernel launched at %s:%d, block (%u, %u, %u)", l.cfg->file, l.cfg->line,
                block.x, block.y, block.z);
  return buf;
}

// The bookkeeping of one block: which threads may run, and how many wait where.
struct BlockRun {
  Launch& l;
  unsigned n;
  std::vector<unsigned> runnable, waiting_warps, still_waiting;
  std::vector<unsigned> warp_waiting, warp_done;  // per warp: lanes in a shuffle, lanes finished
  unsigned done = 0, at_barrier = 0;

  BlockRun(Launch& launch, unsigned threads)
      : l(launch), n(threads), warp_waiting((threads + 31) / 32), warp_done((threads + 31) / 32) {}

  unsigned lanes(unsigned w) const { return std::min(n, w * 32 + 32) - w * 32; }

  void after_run(unsigned t) {
    const unsigned w = t / 32;
    switch (l.fibers[t].state) {
      case State::Done: done++, warp_done[w]++; break;
      case State::AtBarrier: at_barrier++; break;
      case State::AtWarp:
        if (warp_waiting[w]++ == 0) waiting_warps.push_back(w);
        break;
      case State::Runnable: break;
    }
  }

  // Releases warp w when every lane that has not finished waits in a shuffle: each gets the
  // bits of its source lane. False with *error set when a mask names a missing or finished lane.
  bool release_warp(unsigned w, std::string* error) {
    const unsigned lo = w * 32, count = lanes(w);
    unsigned waiting = 0;  // bit per lane
    for (unsigned i = 0; i < count; ++i) waiting |= (l.fibers[lo + i].state == State::AtWarp ? 1u : 0u) << i;
    for (unsigned i = 0; i < count; ++i) {
      const Fiber& f = l.fibers[lo + i];
      if (!(waiting >> i & 1u) || !(f.mask & ~waiting)) continue;
      const unsigned lane = static_cast<unsigned>(__builtin_ctz(f.mask & ~waiting));
      char mask[16];
      std::snprintf(mask, sizeof mask, "%08x", f.mask);
      *error = std::string("a warp shuffle's mask 0x") + mask + " names lane " + std::to_string(lane) + " of warp " +
               std::to_string(w) + (lane >= count ? ", which is not in the block" : ", which has finished");
      return false;
    }
    for (unsigned i = 0; i < count; ++i) {
      Fiber& f = l.fibers[lo + i];
      if (!(waiting >> i & 1u)) continue;
      const unsigned src = static_cast<unsigned>(f.src) - lo;  // in [0, 32)
      f.result = waiting >> src & f.mask >> src & 1u ? l.fibers[f.src].bits : f.bits;
    }
    for (unsigned k = 0; k < count; ++k) {
      const unsigned i = in_order(k, count);
      if (waiting >> i & 1u) {
        l.fibers[lo + i].state = State::Runnable;
        runnable.push_back(lo + i);
      }
    }
    warp_waiting[w] = 0;
    return true;
  }
};

// The runner's thread t waited: the threads it ran before t have finished, t continues on the
// runner's stack as fibers[t], and every thread it has not reached gets a fiber of its own.
void leave_runner(Launch& l, BlockRun& b) {
  const dim3 bd = l.cfg->block;
  const unsigned n = l.threads, t = l.runner.index, pos = in_order(t, n);  // in_order is its own inverse
  l.in_runner = false;
  l.fibers.resize(n);
  for (unsigned i = 0; i < pos; ++i) {
    const unsigned u = in_order(i, n);
    l.fibers[u].state = State::Done;
    b.after_run(u);
  }
  l.fibers[t] = l.runner;
  b.after_run(t);
  for (unsigned i = pos + 1; i < n; ++i) {
    const unsigned u = in_order(i, n);
    Fiber& f = l.fibers[u];
    f.stack = stack_for(u);
    f.index = u;
    f.ctx = l.runner.ctx;
    f.ctx.thread_idx = {u % bd.x, (u / bd.x) % bd.y, u / (bd.x * bd.y)};
    start_fiber(&f, cuda_emu_fiber_entry);
    b.runnable.push_back(u);
  }
}

// Runs one block to the end. Returns an empty string, or what went wrong.
std::string run_block(Launch& l, const dim3& block_idx) {
  const unsigned n = l.threads;
  BlockRun b(l, n);
  poison_shared();
  Fiber& r = l.runner;
  r.stack = stack_for(kMaxThreads);
  r.ctx.block_idx = {block_idx.x, block_idx.y, block_idx.z};
  r.ctx.block_dim = l.cfg->block;
  r.ctx.grid_dim = l.cfg->grid;
  start_fiber(&r, cuda_emu_runner_entry);
  l.in_runner = true;
  l.current = &r;
  g_ctx = &r.ctx;
  cuda_emu_switch(&l.scheduler_sp, r.sp);
  if (r.state == State::Done) return "";
  leave_runner(l, b);
  std::vector<unsigned> now;
  for (;;) {
    now.swap(b.runnable);
    b.runnable.clear();
    for (unsigned t : now) {
      Fiber& f = l.fibers[t];
      l.current = &f;
      g_ctx = &f.ctx;
      cuda_emu_switch(&l.scheduler_sp, f.sp);
      b.after_run(t);
    }
    g_ctx = nullptr;
    if (b.done == n) return "";
    // Warps whose live lanes all wait in a shuffle go on; the others keep waiting.
    b.still_waiting.clear();
    for (unsigned w : b.waiting_warps) {
      if (b.warp_waiting[w] + b.warp_done[w] < b.lanes(w)) {
        b.still_waiting.push_back(w);
        continue;
      }
      std::string error;
      if (!b.release_warp(w, &error)) return error + " in " + where(l, block_idx);
    }
    b.waiting_warps.swap(b.still_waiting);
    if (!b.runnable.empty()) continue;
    if (b.at_barrier + b.done == n) {
      for (unsigned i = 0; i < n; ++i) {
        const unsigned t = in_order(i, n);
        if (l.fibers[t].state == State::AtBarrier) {
          l.fibers[t].state = State::Runnable;
          b.runnable.push_back(t);
        }
      }
      b.at_barrier = 0;
      continue;
    }
    return "deadlock: " + std::to_string(b.at_barrier) + " threads wait at __syncthreads while " +
           std::to_string(n - b.done - b.at_barrier) + " wait in a warp shuffle whose warp has lanes elsewhere, in " +
           where(l, block_idx);
  }
}

// ---------------------------------------------------------------------------------------
// Invalid memory accesses inside a kernel: name the launch, then die as the fault would.

struct sigaction g_old_segv, g_old_bus;

void on_fault(int sig, siginfo_t* info, void* uctx) {
  Launch* l = g_in_launch ? g_launch : nullptr;
  if (l && l->current) {
    const ThreadCtx& c = l->current->ctx;
    char buf[512];
    const int len = std::snprintf(
        buf, sizeof buf, "cuda emulator: invalid %s at address %p in %s, thread (%u, %u, %u)\n",
        sig == SIGSEGV ? "memory access (outside a device allocation, a host pointer or a freed block)" : "bus access",
        info->si_addr, where(*l, dim3(c.block_idx.x, c.block_idx.y, c.block_idx.z)).c_str(), c.thread_idx.x,
        c.thread_idx.y, c.thread_idx.z);
    if (len > 0) (void)!write(2, buf, static_cast<size_t>(std::min<int>(len, sizeof buf - 1)));
    signal(sig, SIG_DFL);
    return;  // the access faults again, now with the default action
  }
  const struct sigaction& old = sig == SIGSEGV ? g_old_segv : g_old_bus;
  if (old.sa_flags & SA_SIGINFO) {
    old.sa_sigaction(sig, info, uctx);
  } else if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
    signal(sig, SIG_DFL);
  } else {
    old.sa_handler(sig);
  }
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
    sigaction(SIGBUS, &sa, &g_old_bus);
  });
  // A fault on an overflowing fiber stack needs another stack to report from.
  thread_local bool alt = [] {
    stack_t ss{};
    ss.ss_size = size_t{64} << 10;
    ss.ss_sp = std::malloc(ss.ss_size);
    return ss.ss_sp && sigaltstack(&ss, nullptr) == 0;
  }();
  (void)alt;
}

}  // namespace

uint64_t sync_warp_exchange(unsigned mask, uint64_t bits, int src) {
  Launch* l = g_launch;
  if (l) {
    Fiber* f = l->current;
    const int self = static_cast<int>(f->index);
    f->mask = mask;
    f->bits = bits;
    f->src = src >= 0 && src < 32 ? (self & ~31) + src : self;
  }
  wait(State::AtWarp);
  return g_launch->current->result;
}

void sync_block() { wait(State::AtBarrier); }

void launch(const LaunchConfig& cfg, void (*body)(void*), void* state) {
  const dim3 g = cfg.grid, b = cfg.block;
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  char buf[256];
  if (g_in_launch) {
    std::fprintf(stderr, "cuda emulator: a kernel launched from inside a kernel (%s:%d)\n", cfg.file, cfg.line);
    std::abort();
  }
  if (threads == 0 || threads > kMaxThreads || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu ||
      g.y > 65535 || g.z > 65535) {
    std::snprintf(buf, sizeof buf, "grid (%u, %u, %u) with blocks of (%u, %u, %u) threads at %s:%d", g.x, g.y, g.z, b.x,
                  b.y, b.z, cfg.file, cfg.line);
    fail(cudaErrorInvalidConfiguration, buf);
    return;
  }
  if (cfg.shared_bytes != 0) {
    std::snprintf(buf, sizeof buf, "dynamic shared memory (%zu bytes) at %s:%d is not emulated", cfg.shared_bytes,
                  cfg.file, cfg.line);
    fail(cudaErrorInvalidConfiguration, buf);
    return;
  }
  install_fault_handler();
  // Blocks share their __shared__ statics, so launches from several host threads take turns.
  static std::mutex one_at_a_time;
  std::lock_guard<std::mutex> lock(one_at_a_time);
  Launch l;
  l.cfg = &cfg;
  l.threads = static_cast<unsigned>(threads);
  l.body = body;
  l.state = state;
  g_launch = &l;
  g_in_launch = true;
  std::string error;
  const uint64_t blocks = uint64_t{g.x} * g.y * g.z, plane = uint64_t{g.x} * g.y;
  g_stats.launches++;
  g_stats.blocks += blocks;
  g_stats.threads += blocks * threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < blocks && error.empty(); ++i) {
    const uint64_t k = in_order(i, blocks);
    error = run_block(l, dim3(static_cast<unsigned>(k % g.x), static_cast<unsigned>(k / g.x % g.y),
                              static_cast<unsigned>(k / plane)));
  }
  if (g_site_stats) {
    SiteStats& st = g_stats.sites[{cfg.file, cfg.line}];
    st.launches++;
    st.threads += blocks * threads;
    st.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  g_launch = nullptr;
  g_in_launch = false;
  g_ctx = nullptr;
  if (!error.empty()) {
    std::fprintf(stderr, "cuda emulator: %s\n", error.c_str());
    fail(cudaErrorLaunchFailure, error);
  }
}

}  // namespace cuda_emu
