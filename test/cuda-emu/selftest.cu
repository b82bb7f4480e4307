// The emulator's own tests: kernels with the bugs it claims to catch (races, unwritten
// shared memory, deadlocks, bad launches, accesses past an allocation, host/device mix-ups),
// each checked to be caught, and correct kernels checked to pass. Built as
// build-emu/cuda-emu/cuda_emu_selftest; `npm run test:emu` runs it in the two settings it runs
// the suite in (CUDA_EMU_ORDER=forward with CUDA_EMU_GUARD=after, then reverse with before)
// before the suite. Exits 1 if a check fails.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr unsigned kPoison = 0xFFFFFFFFu;  // what unwritten device and shared memory hold
int g_failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) g_failures++;
}

// out: (n). Each thread writes its slot, then reads its neighbour's: the next thread's when
// step is 1, the previous one's when step is -1 (wrapping). With sync, a barrier separates them.
__global__ void neighbour_kernel(unsigned* out, int step, bool sync) {
  __shared__ unsigned slots[256];
  const unsigned t = threadIdx.x, n = blockDim.x;
  slots[t] = t;
  if (sync) __syncthreads();
  out[t] = slots[(t + n + step) % n];
}

// out: (gridDim.x, blockDim.x). Block 0 writes a shared slot that every block reads.
__global__ void shared_per_block_kernel(unsigned* out) {
  __shared__ unsigned slot;
  if (blockIdx.x == 0 && threadIdx.x == 0) slot = 7;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = slot;
}

// out: (1). Every block writes its index to the same element, with no atomics.
__global__ void last_block_kernel(unsigned* out) {
  if (threadIdx.x == 0) out[0] = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
}

// out: (n). Warp sums by shuffles, the lane's value being its index.
__global__ void warp_sum_kernel(unsigned* out) {
  unsigned v = threadIdx.x & 31;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  out[threadIdx.x] = v;
}

// Half the warp waits at a barrier while the other half waits in a full-warp shuffle.
__global__ void deadlock_kernel(unsigned* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, threadIdx.x, 0);
  }
}

// A shuffle whose mask names lanes past the end of a 16-thread block.
__global__ void bad_mask_kernel(unsigned* out) { out[threadIdx.x] = __shfl_sync(0xffffffffu, threadIdx.x, 0); }

// out: (1). Thread 0 reads in[index], which may lie outside the allocation.
__global__ void read_at_kernel(unsigned* out, const unsigned* in, long index) {
  if (threadIdx.x == 0) out[0] = in[index];
}

std::vector<unsigned> run_neighbour(int step, bool sync, unsigned n) {
  unsigned* d = nullptr;
  cudaMalloc(&d, n * sizeof(unsigned));
  neighbour_kernel<<<1, n>>>(d, step, sync);
  std::vector<unsigned> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(unsigned), cudaMemcpyDeviceToHost);
  cudaFree(d);
  return h;
}

bool neighbour_right(const std::vector<unsigned>& h, int step) {
  const unsigned n = static_cast<unsigned>(h.size());
  for (unsigned t = 0; t < n; ++t)
    if (h[t] != (t + n + step) % n) return false;
  return true;
}

// How many threads read their neighbour's poison (a race that ran the reader first).
unsigned poisoned(const std::vector<unsigned>& h) {
  unsigned k = 0;
  for (unsigned v : h) k += v == kPoison;
  return k;
}

// Runs f in a child process; true when it died of SIGSEGV and printed `needle` on stderr.
template <typename F>
bool dies_with(F f, const char* needle) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return false;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    f();
    _exit(0);
  }
  close(pipefd[1]);
  std::string err;
  char buf[512];
  for (ssize_t k; (k = read(pipefd[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(k));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && err.find(needle) != std::string::npos;
}

}  // namespace

int main() {
  const char *order = std::getenv("CUDA_EMU_ORDER"), *guard = std::getenv("CUDA_EMU_GUARD");
  const bool reverse = order && std::strcmp(order, "reverse") == 0;
  const bool guard_before = guard && std::strcmp(guard, "before") == 0;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // in order with the emulator's messages on stderr
  std::printf("cuda emulator self-test: %s order, guard page %s each allocation\n", reverse ? "reverse" : "forward",
              guard_before ? "before" : "after");

  // Races between the threads of a block: one of the two orders reads the poison.
  const unsigned n = 256;
  check(neighbour_right(run_neighbour(1, true, n), 1) && neighbour_right(run_neighbour(-1, true, n), -1),
        "with a barrier, every thread reads its neighbour's write");
  const unsigned next = poisoned(run_neighbour(1, false, n)), prev = poisoned(run_neighbour(-1, false, n));
  check(reverse ? next <= 1 && prev >= n - 1 : next >= n - 1 && prev <= 1,
        "with no barrier, a read of " + std::string(reverse ? "an earlier" : "a later") +
            " thread's write sees the poison (" + std::to_string(reverse ? prev : next) + " of " + std::to_string(n) +
            " threads)");

  // New device memory, and every block's shared memory, start as poison.
  {
    unsigned* d = nullptr;
    cudaMalloc(&d, 3 * 64 * sizeof(unsigned));
    std::vector<unsigned> h(3 * 64);
    cudaMemcpy(h.data(), d, sizeof(unsigned) * h.size(), cudaMemcpyDeviceToHost);
    check(poisoned(h) == h.size(), "new device memory holds 0xFF bytes");
    shared_per_block_kernel<<<3, 64>>>(d);
    cudaMemcpy(h.data(), d, sizeof(unsigned) * h.size(), cudaMemcpyDeviceToHost);
    check(h[0] == 7 && h[63] == 7 && poisoned(h) == 128,
          "shared memory that a block has not written reads as 0xFF bytes, whatever ran before");
    cudaFree(d);
  }

  // Blocks run in the order the mode says, so a race between blocks changes the result.
  {
    unsigned* d = nullptr;
    cudaMalloc(&d, sizeof(unsigned));
    last_block_kernel<<<dim3(5, 3, 2), 32>>>(d);
    unsigned h = 0;
    cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    check(h == (reverse ? 0u : 29u), "the last block to run is " + std::to_string(h));
    cudaFree(d);
  }

  // Shuffles, and the launch failures the emulator reports.
  {
    unsigned* d = nullptr;
    cudaMalloc(&d, 128 * sizeof(unsigned));
    warp_sum_kernel<<<1, 128>>>(d);
    std::vector<unsigned> h(128);
    cudaMemcpy(h.data(), d, sizeof(unsigned) * 128, cudaMemcpyDeviceToHost);
    bool ok = cudaGetLastError() == cudaSuccess;
    for (unsigned v : h) ok = ok && v == 496;
    check(ok, "a butterfly of shuffles sums every warp in every lane");

    std::printf("  (the emulator reports the next two launch failures on stderr, as it should)\n");
    deadlock_kernel<<<1, 32>>>(d);
    check(cudaGetLastError() == cudaErrorLaunchFailure, "a barrier against a shuffle is a deadlock, reported");
    bad_mask_kernel<<<1, 16>>>(d);
    check(cudaGetLastError() == cudaErrorLaunchFailure, "a shuffle mask naming missing lanes is reported");
    warp_sum_kernel<<<1, 2048>>>(d);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration, "a block of 2048 threads is refused");
    warp_sum_kernel<<<1, 32>>>(d);
    check(cudaGetLastError() == cudaSuccess, "launches work again after a failed one");

    // Memory and copies.
    std::vector<unsigned> host(129);
    check(cudaMemcpy(host.data(), d, 129 * sizeof(unsigned), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a copy that runs past its allocation is refused");
    check(cudaMemcpy(d, host.data(), 4 * sizeof(unsigned), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a copy whose pointers are on the wrong sides is refused");
    cudaGetLastError();
    void* big = nullptr;
    check(cudaMalloc(&big, size_t{1} << 50) == cudaErrorMemoryAllocation && big == nullptr,
          "an allocation past the device's memory fails");
    cudaGetLastError();

    // Reads just outside an allocation of 64 elements: the end against the guard page faults
    // at once and the handler names the launch; the other end reads poison.
    unsigned* in = nullptr;
    cudaMalloc(&in, 64 * sizeof(unsigned));
    const long guarded = guard_before ? -1 : 64, other = guard_before ? 64 : -1;
    const std::string side = guard_before ? "before the start" : "past the end";
    check(dies_with([&] { read_at_kernel<<<1, 32>>>(d, in, guarded); }, "invalid memory access"),
          "a read " + side + " of an allocation faults and names the launch");
    read_at_kernel<<<1, 32>>>(d, in, other);
    unsigned read = 0;
    cudaMemcpy(&read, d, sizeof read, cudaMemcpyDeviceToHost);
    check(read == kPoison, std::string("a read ") + (guard_before ? "past the end" : "before the start") +
                            " of an allocation reads poison");
    cudaFree(in);
    cudaFree(d);
  }

  std::printf("%s\n", g_failures ? "cuda emulator self-test: FAILED" : "cuda emulator self-test: passed");
  return g_failures ? 1 : 0;
}
