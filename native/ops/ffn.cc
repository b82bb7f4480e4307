// The CPU FFN (ops/ffn.h): tasks of one image's block of columns, each running both products
// on its thread with the block's hidden maps (Ch x cols, at most kHiddenBlock floats) in a
// buffer of that thread, so that fc2 reads them from the cache fc1 wrote them to and no
// thread waits for another between the two. With too few blocks to share among the threads
// (batch 1), each product runs over the whole batch instead, in parallel.
#include "ffn.h"

#include <algorithm>
#include <vector>

#include "../parallel.h"

namespace repmlp {

namespace {

constexpr int64_t kHiddenBlock = 1 << 16;  // floats: 256 KB, a quarter of a 1 MB L2

// Columns of one block: the fewest blocks whose hidden maps fit kHiddenBlock, in whole panels.
int64_t block_columns(int64_t Ch, int64_t HW) {
  const int64_t blocks = std::max<int64_t>(1, (Ch * HW + kHiddenBlock - 1) / kHiddenBlock);
  const int64_t cols = (HW + blocks - 1) / blocks;
  return std::min(HW, (cols + kGemmNR - 1) / kGemmNR * kGemmNR);
}

// The thread's hidden buffer, grown to n floats and kept for later calls: a block's maps on a
// worker; the whole batch's on the calling thread when there are few tasks, which bounds it
// by 2 * threads * kHiddenBlock floats (1 MB on 2 threads).
float* hidden_buffer(size_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

void run_products(const FfnProducts& p) {
  cpu::gemm_fused(p.fc1);
  cpu::gemm_fused(p.fc2);
}

}  // namespace

void cpu::ffn_forward(const FfnForward& f) {
  if (f.N == 0 || f.C == 0 || f.HW == 0) return;
  const int64_t cols = block_columns(f.Ch, f.HW), blocks = (f.HW + cols - 1) / cols, tasks = f.N * blocks;
  if (tasks < 2 * num_threads())
    return run_products(ffn_products(f, 0, f.N, 0, f.HW, hidden_buffer(static_cast<size_t>(f.N * f.Ch * f.HW)), f.HW));
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    float* hidden = hidden_buffer(static_cast<size_t>(f.Ch * cols));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / blocks, j0 = (t % blocks) * cols, width = std::min(cols, f.HW - j0);
      run_products(ffn_products(f, n, 1, j0, width, hidden, width));
    }
  });
}

}  // namespace repmlp
