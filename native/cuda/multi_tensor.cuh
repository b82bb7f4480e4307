// Multi-tensor launches for the optimizers: the tensors of a parameter group are packed,
// up to kMultiTensors at a time, into one kernel argument (pointers, sizes and per-tensor
// scalars; about 1.7 KB, under the 4 KB argument limit), and one launch updates them all.
// Each block handles kMultiChunk elements of one tensor: block b belongs to the tensor k
// with first_block[k] <= b < first_block[k + 1].
#pragma once
#include <cstdint>
#include <vector>

#include "check.cuh"

namespace repmlp::cuda {

constexpr int kMultiTensors = 24;
constexpr int64_t kMultiChunk = 8192;
constexpr int kMultiThreads = 256;

// P pointer lists (e.g. param, exp_avg, exp_avg_sq, grad) and two float scalars per tensor.
template <int P>
struct TensorBatch {
  float* ptr[P][kMultiTensors];
  int64_t n[kMultiTensors];
  float s0[kMultiTensors], s1[kMultiTensors];
  int first_block[kMultiTensors + 1];
  int count;
};

// The tensor of this block and the element range [begin, end) it updates.
template <int P>
__device__ __forceinline__ int batch_slot(const TensorBatch<P>& tb, int64_t& begin, int64_t& end) {
  int k = 0;
  while (k + 1 < tb.count && tb.first_block[k + 1] <= static_cast<int>(blockIdx.x)) ++k;
  begin = static_cast<int64_t>(blockIdx.x - tb.first_block[k]) * kMultiChunk;
  end = min(tb.n[k], begin + kMultiChunk);
  return k;
}

// Packs tensors 0..T-1 into batches and launches each: fill(slot, k, batch) writes tensor k's
// pointers and scalars into the slot; launch(batch, blocks) starts the kernel.
template <int P, typename Fill, typename Launch>
void for_each_batch(const std::vector<int64_t>& ns, Fill fill, Launch launch) {
  TensorBatch<P> tb{};
  int blocks = 0;
  auto flush = [&]() {
    if (tb.count == 0) return;
    tb.first_block[tb.count] = blocks;
    launch(tb, blocks);
    tb = TensorBatch<P>{};
    blocks = 0;
  };
  for (size_t k = 0; k < ns.size(); ++k) {
    if (ns[k] == 0) continue;
    const int64_t need = (ns[k] + kMultiChunk - 1) / kMultiChunk;
    if (tb.count == kMultiTensors || blocks + need > (int64_t{1} << 30)) flush();
    const int slot = tb.count++;
    tb.n[slot] = ns[k];
    tb.first_block[slot] = blocks;
    blocks += static_cast<int>(need);
    fill(slot, k, tb);
  }
  flush();
}

}  // namespace repmlp::cuda
