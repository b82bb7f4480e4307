// CUDA twin of ops/reduce.cc: sum_to over the same plan (ops/broadcast.h). Sums accumulate
// in double. Long reductions are split into a number of chunks that depends only on the
// shapes; chunk partials go to a scratch buffer and are added in order by a second kernel,
// so results are deterministic (no atomics).
#include <algorithm>

#include "../ops/broadcast.h"
#include "block_reduce.cuh"
#include "../ops/reduce.h"
#include "check.cuh"
#include "scratch.cuh"

namespace repmlp {
namespace cuda {

struct Dims {
  int n;
  int64_t sizes[8], strides[8];
};

static Dims make_dims(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  Dims d{static_cast<int>(sizes.size()), {}, {}};
  for (int k = 0; k < d.n; ++k) d.sizes[k] = sizes[k], d.strides[k] = strides[k];
  return d;
}

// The element offset of the k-th row-major combination of d.
__device__ __forceinline__ int64_t offset_of(const Dims& d, int64_t k) {
  int64_t off = 0;
  for (int i = d.n - 1; i >= 0; --i) {
    const int64_t q = k / d.sizes[i];
    off += (k - q * d.sizes[i]) * d.strides[i];
    k = q;
  }
  return off;
}

// Inner group reduced. Task t = (o, s), t = o * nsplit + s, sums elements [s * chunk,
// (s + 1) * chunk) of output o's P * L inputs in[base(o) + offset(p) + l]; a thread that is
// number `first` of `step` working on the task sums every step-th of them from its first.
__device__ __forceinline__ double task_partial(const float* in, const Dims& kept, const Dims& red, int64_t P,
                                               int64_t L, int64_t nsplit, int64_t chunk, int64_t t, int first,
                                               int step) {
  const int64_t o = t / nsplit, s = t - o * nsplit;
  const float* base = in + offset_of(kept, o);
  const int64_t e0 = s * chunk, e1 = min(P * L, e0 + chunk);
  double acc = 0;
  for (int64_t e = e0 + first; e < e1; e += step) {
    const int64_t p = e / L, l = e - p * L;
    acc += static_cast<double>(base[offset_of(red, p) + l]);
  }
  return acc;
}

// A task's sum goes to out[t] (t = o) when nsplit == 1, else to partial[t]; out: (M), partial: (M, nsplit).
__device__ __forceinline__ void store_task(float* out, double* partial, int64_t nsplit, int64_t t, double acc) {
  if (nsplit == 1) out[t] = static_cast<float>(acc);
  else partial[t] = acc;
}

// One block per task (long tasks).
__global__ void sum_rows_kernel(float* out, double* partial, const float* in, Dims kept, Dims red, int64_t M,
                                int64_t P, int64_t L, int64_t nsplit, int64_t chunk) {
  for (int64_t t = blockIdx.x; t < M * nsplit; t += gridDim.x) {
    const double acc = block_sum(task_partial(in, kept, red, P, L, nsplit, chunk, t, threadIdx.x, blockDim.x));
    if (threadIdx.x == 0) store_task(out, partial, nsplit, t, acc);
  }
}

// One warp per task (short tasks, such as a pooling's 4x4 planes: a block each would leave
// most of its threads idle and pay for two block barriers per plane).
__global__ void sum_rows_warp_kernel(float* out, double* partial, const float* in, Dims kept, Dims red, int64_t M,
                                     int64_t P, int64_t L, int64_t nsplit, int64_t chunk) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t t = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; t < M * nsplit; t += warps) {
    const double acc = warp_sum(task_partial(in, kept, red, P, L, nsplit, chunk, t, lane, 32));
    if (lane == 0) store_task(out, partial, nsplit, t, acc);
  }
}

// Inner group kept. Thread i = (s, q, l), i = s * Q * L + q * L + l (neighbouring threads
// read neighbouring columns): sums rows r in [s * chunk, (s + 1) * chunk) of
// in[base(q) + offset(r) + l]. out: (Q * L) when nsplit == 1, else partial: (nsplit, Q * L).
__global__ void sum_cols_kernel(float* out, double* partial, const float* in, Dims kept, Dims red, int64_t Q,
                                int64_t R, int64_t L, int64_t nsplit, int64_t chunk) {
  const int64_t n_out = Q * L;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n_out * nsplit;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t s = i / n_out, j = i - s * n_out, q = j / L, l = j - q * L;
    const float* base = in + offset_of(kept, q) + l;
    const int64_t r1 = min(R, (s + 1) * chunk);
    double acc = 0;
    for (int64_t r = s * chunk; r < r1; ++r) acc += static_cast<double>(base[offset_of(red, r)]);
    if (nsplit == 1) out[j] = static_cast<float>(acc);
    else partial[i] = acc;
  }
}

// out[o] = sum over s of partial[o * o_stride + s * s_stride], s < nsplit, in order.
__global__ void sum_partials_kernel(float* out, const double* partial, int64_t M, int64_t nsplit, int64_t o_stride,
                                    int64_t s_stride) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < M; o += (int64_t)gridDim.x * blockDim.x) {
    double acc = 0;
    for (int64_t s = 0; s < nsplit; ++s) acc += partial[o * o_stride + s * s_stride];
    out[o] = static_cast<float>(acc);
  }
}

__global__ void zero_kernel(float* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) out[i] = 0.f;
}

// Tasks of at most this many elements get a warp instead of a block (32 per lane).
constexpr int64_t kWarpTaskMax = 1024;

static unsigned grid_for(int64_t tasks) { return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(tasks, 1), 65535 * 8)); }

}  // namespace cuda

void cuda::sum_to(float* out, const float* inp, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  const ReducePlan p = plan_reduce(in_shape, out_shape);
  if (p.out_numel == 0) return;
  if (p.in_numel == 0) {  // a sum over an empty dimension is 0
    zero_kernel<<<blocks_for(p.out_numel), 256>>>(out, p.out_numel);
    REPMLP_CUDA_LAUNCHED("sum_to");
    return;
  }
  const Dims kept = make_dims(p.kept_sizes, p.kept_strides), red = make_dims(p.red_sizes, p.red_strides);
  if (p.inner_reduced) {
    // One block of 256 threads per (output, chunk), or one warp when the chunk is at most
    // kWarpTaskMax elements; chunks of at least 8192 elements, enough of them to give ~1024
    // blocks when there are few outputs.
    const int64_t M = p.rows, total = p.outer * p.L;
    const int64_t nsplit = std::clamp<int64_t>((1024 + M - 1) / M, 1, std::max<int64_t>(1, total / 8192));
    const int64_t chunk = (total + nsplit - 1) / nsplit;
    Scratch<double> scratch(nsplit > 1 ? M * nsplit : 0);
    if (chunk <= kWarpTaskMax)
      sum_rows_warp_kernel<<<grid_for((M * nsplit + 7) / 8), 256>>>(out, scratch.get(), inp, kept, red, M, p.outer, p.L,
                                                                    nsplit, chunk);
    else
      sum_rows_kernel<<<grid_for(M * nsplit), 256>>>(out, scratch.get(), inp, kept, red, M, p.outer, p.L, nsplit, chunk);
    REPMLP_CUDA_LAUNCHED("sum_to");
    if (nsplit > 1) {
      sum_partials_kernel<<<blocks_for(M), 256>>>(out, scratch.get(), M, nsplit, nsplit, 1);
      REPMLP_CUDA_LAUNCHED("sum_to");
    }
  } else {
    // One thread per (output, chunk of rows); chunks of at least 32 rows, enough of them to
    // give ~64K threads when there are few outputs.
    const int64_t n_out = p.rows * p.L, R = p.outer;
    const int64_t nsplit = std::clamp<int64_t>((65536 + n_out - 1) / n_out, 1, std::max<int64_t>(1, R / 32));
    const int64_t chunk = (R + nsplit - 1) / nsplit;
    Scratch<double> scratch(nsplit > 1 ? n_out * nsplit : 0);
    sum_cols_kernel<<<blocks_for(n_out * nsplit), 256>>>(out, scratch.get(), inp, kept, red, p.rows, R, p.L, nsplit, chunk);
    REPMLP_CUDA_LAUNCHED("sum_to");
    if (nsplit > 1) {
      sum_partials_kernel<<<blocks_for(n_out), 256>>>(out, scratch.get(), n_out, nsplit, 1, n_out);
      REPMLP_CUDA_LAUNCHED("sum_to");
    }
  }
}

}  // namespace repmlp
