// CUDA twin of ops/correct_count.cc: one block; each thread takes rows i = tid, tid + 256,
// ..., finds their argmax and counts the matches; a deterministic block sum adds the counts.
#include "block_reduce.cuh"
#include "../ops/correct_count.h"
#include "check.cuh"

namespace repmlp {
namespace cuda {

// out: (1); logits: (N, K); labels: (N) int64
__global__ void correct_count_kernel(float* out, const float* logits, const int64_t* labels, int64_t N, int64_t K) {
  double count = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const float* row = logits + i * K;
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
      if (row[k] > row[best] || (isnan(row[k]) && !isnan(row[best]))) best = k;
    count += best == labels[i] ? 1.0 : 0.0;
  }
  count = block_sum(count);
  if (threadIdx.x == 0) out[0] = static_cast<float>(count);
}

}  // namespace cuda

void cuda::correct_count(float* out, const float* logits, const int64_t* labels, int64_t N, int64_t K) {
  correct_count_kernel<<<1, 256>>>(out, logits, labels, N, K);
  REPMLP_CUDA_LAUNCHED("correct_count");
}

}  // namespace repmlp
