// Deterministic warp- and block-wide sums in double (warp shuffles, then one warp over the
// per-warp partials; no atomics), shared by the CUDA kernels. blockDim.x must be a multiple of 32,
// at most 1024. block_sum may be called back to back in one kernel.
#pragma once
#include <cuda_runtime.h>

namespace repmlp::cuda {

// Sum of v over the warp, valid in every lane (a butterfly: the same order in every lane).
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of v over the block, valid in thread 0.
__device__ inline double block_sum(double v) {
  __shared__ double warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? warp_sums[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums may be reused by the next call
  return v;
}

}  // namespace repmlp::cuda
