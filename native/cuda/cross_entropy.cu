// CUDA twin of ops/cross_entropy.cc: one block per row (grid-stride over rows), block
// reductions by warp shuffles then shared memory (max in float, sums in double), and a
// one-block deterministic reduction for the batch mean. No float atomics.
//
// Bad class indices: the forward kernel never reads x[y] for y outside [0, K); it makes
// that row's loss NaN and lowers a device flag to the row's index (an integer atomicMin).
// The host reads the flag back after the launch (an 8-byte copy that waits for the kernel)
// and reports the row through *bad_row, so the binding throws before anything uses the loss.
#include <cmath>
#include <limits>

#include "block_reduce.cuh"
#include "../ops/cross_entropy.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMeanThreads = 1024;
constexpr unsigned long long kNoBadRow = ~0ull;

// The first row with a bad class index seen by the last forward (kNoBadRow when none).
__device__ unsigned long long g_bad_row;

__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide max / sum returned to every thread; sh holds 32 slots. blockDim.x is a
// multiple of 32. The leading __syncthreads lets callers reuse sh back to back.
__device__ float block_max(float v, float* sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < warps ? sh[lane] : -INFINITY;
  return warp_max(v);
}

__device__ double block_sum(double v, double* sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < warps ? sh[lane] : 0.0;
  return warp_sum(v);
}

// Row statistics of x (K): m = max, returns ls = log sum exp(x - m) (summed in double).
__device__ double row_lse(const float* x, int64_t K, float* m_out, float* shf, double* shd) {
  float m = -INFINITY;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) m = fmaxf(m, x[k]);
  m = block_max(m, shf);
  double s = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) s += (double)expf(x[k] - m);
  s = block_sum(s, shd);
  *m_out = m;
  return log(s);
}

// losses: (N), stats: (N, 3), logits: (N, K), target: (N)
__global__ void ce_forward_kernel(float* losses, float* stats, const float* logits, const int64_t* target,
                                  int64_t N, int64_t K, float eps) {
  __shared__ float shf[32];
  __shared__ double shd[32];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* x = logits + i * K;
    float m;
    const double ls = row_lse(x, K, &m, shf, shd);
    double sx = 0;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) sx += x[k];
    sx = block_sum(sx, shd);
    if (threadIdx.x == 0) {
      const int64_t y = target[i];
      float loss;
      if (y < 0 || y >= K) {
        atomicMin(&g_bad_row, (unsigned long long)i);
        loss = NAN;
      } else {
        loss = (float)(((double)m + ls) - (1.0 - eps) * x[y] - eps * sx / (double)K);
      }
      losses[i] = loss;
      stats[i * 3 + 0] = m;
      stats[i * 3 + 1] = (float)ls;
      stats[i * 3 + 2] = 1.f;
    }
  }
}

// losses: (N), stats: (N, 3), logits: (N, K), target: (N, K)
__global__ void ce_soft_forward_kernel(float* losses, float* stats, const float* logits, const float* target,
                                       int64_t N, int64_t K, float eps) {
  __shared__ float shf[32];
  __shared__ double shd[32];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* x = logits + i * K;
    const float* t = target + i * K;
    float m;
    const double ls = row_lse(x, K, &m, shf, shd);
    double st = 0, stx = 0, sx = 0;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      st += t[k];
      stx += (double)t[k] * x[k];
      sx += x[k];
    }
    st = block_sum(st, shd);
    stx = block_sum(stx, shd);
    sx = block_sum(sx, shd);
    if (threadIdx.x == 0) {
      const double lse = (double)m + ls, sq = (1.0 - eps) * st + eps;
      losses[i] = (float)(lse * sq - (1.0 - eps) * stx - eps / (double)K * sx);
      stats[i * 3 + 0] = m;
      stats[i * 3 + 1] = (float)ls;
      stats[i * 3 + 2] = (float)sq;
    }
  }
}

// loss: (1) = mean of losses (N), summed in double by one block (NaN when N is 0).
__global__ void __launch_bounds__(kMeanThreads) ce_mean_kernel(float* loss, const float* losses, int64_t N) {
  __shared__ double shd[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += losses[i];
  s = block_sum(s, shd);
  if (threadIdx.x == 0) loss[0] = (float)(s / (double)N);
}

// dlogits: (N, K), dloss: (1), stats: (N, 3), logits: (N, K), target: (N). A class index
// outside [0, K) matches no k, so it is never used as an index.
__global__ void ce_backward_kernel(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                   const int64_t* target, int64_t N, int64_t K, float eps) {
  const float scale = dloss[0] / (float)N;
  const float smooth = eps / (float)K, hot = 1.f - eps;
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float m = stats[i * 3], ls = stats[i * 3 + 1];
    const int64_t y = target[i];
    const float* x = logits + i * K;
    float* dx = dlogits + i * K;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
      dx[k] = (expf((x[k] - m) - ls) - smooth - (k == y ? hot : 0.f)) * scale;
  }
}

// dlogits: (N, K), dloss: (1), stats: (N, 3), logits: (N, K), target: (N, K)
__global__ void ce_soft_backward_kernel(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                        const float* target, int64_t N, int64_t K, float eps) {
  const float scale = dloss[0] / (float)N;
  const float smooth = eps / (float)K, keep = 1.f - eps;
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float m = stats[i * 3], ls = stats[i * 3 + 1], sq = stats[i * 3 + 2];
    const float* x = logits + i * K;
    const float* t = target + i * K;
    float* dx = dlogits + i * K;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
      dx[k] = (expf((x[k] - m) - ls) * sq - (keep * t[k] + smooth)) * scale;
  }
}

unsigned row_blocks(int64_t N) { return (unsigned)(N < 65535 * 8 ? (N < 1 ? 1 : N) : 65535 * 8); }

}  // namespace

}  // namespace cuda

void cuda::cross_entropy_forward(float* loss, float* losses, float* stats, const float* logits, const int64_t* target,
                                 int64_t N, int64_t K, float eps, int64_t* bad_row) {
  *bad_row = -1;
  REPMLP_CUDA_CHECK(cudaMemcpyToSymbolAsync(g_bad_row, &kNoBadRow, sizeof(kNoBadRow)));
  if (N > 0) {
    ce_forward_kernel<<<row_blocks(N), kThreads>>>(losses, stats, logits, target, N, K, eps);
    REPMLP_CUDA_LAUNCHED("cross_entropy_forward");
  }
  ce_mean_kernel<<<1, kMeanThreads>>>(loss, losses, N);
  REPMLP_CUDA_LAUNCHED("cross_entropy_forward (mean)");
  unsigned long long bad = kNoBadRow;
  REPMLP_CUDA_CHECK(cudaMemcpyFromSymbol(&bad, g_bad_row, sizeof(bad)));
  if (bad != kNoBadRow) *bad_row = (int64_t)bad;
}

void cuda::cross_entropy_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                  const int64_t* target, int64_t N, int64_t K, float eps) {
  if (N == 0 || K == 0) return;
  ce_backward_kernel<<<row_blocks(N), kThreads>>>(dlogits, dloss, stats, logits, target, N, K, eps);
  REPMLP_CUDA_LAUNCHED("cross_entropy_backward");
}

void cuda::cross_entropy_soft_forward(float* loss, float* losses, float* stats, const float* logits, const float* target,
                                      int64_t N, int64_t K, float eps) {
  if (N > 0) {
    ce_soft_forward_kernel<<<row_blocks(N), kThreads>>>(losses, stats, logits, target, N, K, eps);
    REPMLP_CUDA_LAUNCHED("cross_entropy_soft_forward");
  }
  ce_mean_kernel<<<1, kMeanThreads>>>(loss, losses, N);
  REPMLP_CUDA_LAUNCHED("cross_entropy_soft_forward (mean)");
}

void cuda::cross_entropy_soft_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                       const float* target, int64_t N, int64_t K, float eps) {
  if (N == 0 || K == 0) return;
  ce_soft_backward_kernel<<<row_blocks(N), kThreads>>>(dlogits, dloss, stats, logits, target, N, K, eps);
  REPMLP_CUDA_LAUNCHED("cross_entropy_soft_backward");
}

}  // namespace repmlp
