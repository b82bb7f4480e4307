// Cross-entropy over logits (N, K), averaged over the batch, with PyTorch's semantics.
//
// Every row i has a target distribution q_i over the K classes:
//   hard targets (int64 class y_i, label smoothing eps): q_ik = (1 - eps) [k == y_i] + eps / K
//   soft targets (float32 t_ik, mixup / CutMix):        q_ik = (1 - eps) t_ik + eps / K
// and loss = mean_i sum_k q_ik (lse_i - x_ik), lse_i = log sum_k exp(x_ik), computed stably
// (row max subtracted, sums in double). The forward saves stats (N, 3) per row: the max m,
// ls = log sum_k exp(x_ik - m) and sq = sum_k q_ik, so backward rebuilds the softmax as
// exp((x - m) - ls) without a second reduction:
//   dlogits_ik = (softmax_ik * sq_i - q_ik) * dloss / N.
//
// Class indices are validated natively. CPU: the forward scans the targets before any
// work and the binding throws naming the first bad index. CUDA: the forward kernel never reads
// x[y] for a bad y (that row's loss becomes NaN) and records the first bad row in device
// memory; the binding reads that flag back (an 8-byte copy that waits for the kernel) and
// throws. The backward kernels compare k with y_i instead of indexing by it, so no call
// can read out of bounds.
#include <cmath>
#include <limits>
#include <vector>

#include "cross_entropy.h"
#include "../args.h"
#include "../device.h"
#include "../parallel.h"

namespace repmlp {
namespace cpu {

// Row statistics: m = max x, ls = log sum exp(x - m) (summed in double). x: (K)
static void row_lse(const float* x, int64_t K, float* m_out, double* ls_out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < K; ++k) m = x[k] > m ? x[k] : m;
  double s = 0;
  for (int64_t k = 0; k < K; ++k) s += static_cast<double>(std::exp(x[k] - m));
  *m_out = m;
  *ls_out = std::log(s);
}

// Mean of the per-row losses, summed in double.
static float batch_mean(const float* losses, int64_t N) {
  double s = 0;
  for (int64_t i = 0; i < N; ++i) s += losses[i];
  return static_cast<float>(s / static_cast<double>(N));
}

}  // namespace cpu

// loss: (1), losses: (N), stats: (N, 3), logits: (N, K), target: (N). *bad_row is set to
// the first row whose class index is outside [0, K) (then nothing is computed), else -1.
void cpu::cross_entropy_forward(float* loss, float* losses, float* stats, const float* logits, const int64_t* target,
                                int64_t N, int64_t K, float eps, int64_t* bad_row) {
  *bad_row = -1;
  for (int64_t i = 0; i < N; ++i)
    if (target[i] < 0 || target[i] >= K) {
      *bad_row = i;
      return;
    }
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* x = logits + i * K;
      float m;
      double ls;
      row_lse(x, K, &m, &ls);
      double sx = 0;
      for (int64_t k = 0; k < K; ++k) sx += x[k];
      const double lse = m + ls;
      losses[i] = static_cast<float>(lse - (1.0 - eps) * x[target[i]] - eps * sx / static_cast<double>(K));
      stats[i * 3 + 0] = m;
      stats[i * 3 + 1] = static_cast<float>(ls);
      stats[i * 3 + 2] = 1.f;
    }
  });
  loss[0] = batch_mean(losses, N);
}

// dlogits: (N, K), dloss: (1), stats: (N, 3), logits: (N, K), target: (N).
// A target outside [0, K) gets no one-hot term (never indexed).
void cpu::cross_entropy_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                 const int64_t* target, int64_t N, int64_t K, float eps) {
  const float scale = dloss[0] / static_cast<float>(N);
  const float smooth = eps / static_cast<float>(K), hot = (1.f - eps) * scale;
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* x = logits + i * K;
      float* dx = dlogits + i * K;
      const float m = stats[i * 3], ls = stats[i * 3 + 1];
      for (int64_t k = 0; k < K; ++k) dx[k] = (std::exp((x[k] - m) - ls) - smooth) * scale;
      const int64_t y = target[i];
      if (y >= 0 && y < K) dx[y] -= hot;
    }
  });
}

// loss: (1), losses: (N), stats: (N, 3), logits: (N, K), target: (N, K).
void cpu::cross_entropy_soft_forward(float* loss, float* losses, float* stats, const float* logits, const float* target,
                                     int64_t N, int64_t K, float eps) {
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* x = logits + i * K;
      const float* t = target + i * K;
      float m;
      double ls;
      row_lse(x, K, &m, &ls);
      // sum_k q_k (lse - x_k) = lse * sum q - sum q x, with q = (1 - eps) t + eps / K
      double st = 0, stx = 0, sx = 0;
      for (int64_t k = 0; k < K; ++k) {
        st += t[k];
        stx += static_cast<double>(t[k]) * x[k];
        sx += x[k];
      }
      const double lse = m + ls, uni = eps / static_cast<double>(K);
      const double sq = (1.0 - eps) * st + eps;
      losses[i] = static_cast<float>(lse * sq - (1.0 - eps) * stx - uni * sx);
      stats[i * 3 + 0] = m;
      stats[i * 3 + 1] = static_cast<float>(ls);
      stats[i * 3 + 2] = static_cast<float>(sq);
    }
  });
  loss[0] = batch_mean(losses, N);
}

// dlogits: (N, K), dloss: (1), stats: (N, 3), logits: (N, K), target: (N, K).
void cpu::cross_entropy_soft_backward(float* dlogits, const float* dloss, const float* stats, const float* logits,
                                      const float* target, int64_t N, int64_t K, float eps) {
  const float scale = dloss[0] / static_cast<float>(N);
  const float smooth = eps / static_cast<float>(K), keep = 1.f - eps;
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* x = logits + i * K;
      const float* t = target + i * K;
      float* dx = dlogits + i * K;
      const float m = stats[i * 3], ls = stats[i * 3 + 1], sq = stats[i * 3 + 2];
      for (int64_t k = 0; k < K; ++k) dx[k] = (std::exp((x[k] - m) - ls) * sq - (keep * t[k] + smooth)) * scale;
    }
  });
}


static float smoothing_arg(Args& a, size_t i) {
  const double eps = a.number(i, "labelSmoothing");
  if (!(eps >= 0 && eps <= 1)) a.fail_arg("labelSmoothing", "a number in [0, 1]", std::to_string(eps));
  return static_cast<float>(eps);
}

// cross_entropy_forward(loss, losses, stats, logits, target, N, K, labelSmoothing); target int64 (N)
static Napi::Value cross_entropy_forward(const Napi::CallbackInfo& info) {
  Args a(info, "cross_entropy_forward", 8);
  const int64_t N = a.size(5, "N"), K = a.size(6, "K");
  const float eps = smoothing_arg(a, 7);
  float* loss = a.f32(0, "loss", 1);
  float* losses = a.f32(1, "losses", N);
  float* stats = a.f32(2, "stats", a.mul(N, 3));
  const float* logits = a.f32(3, "logits", a.mul(N, K));
  const int64_t* target = a.i64(4, "target", N);
  a.check_distinct({{"loss", loss}, {"losses", losses}, {"stats", stats}},
                   {{"loss", loss}, {"losses", losses}, {"stats", stats}, {"logits", logits}});
  int64_t bad = -1;
  REPMLP_DISPATCH(a, cross_entropy_forward, loss, losses, stats, logits, target, N, K, eps, &bad);
  if (bad >= 0) {
    int64_t label = 0;
    copy_to_host(a.device(), &label, target + bad, sizeof(label));
    a.fail_arg(("target[" + std::to_string(bad) + "]").c_str(), "a class index in [0, " + std::to_string(K) + ")",
               std::to_string(label));
  }
  return info.Env().Undefined();
}

// cross_entropy_backward(dlogits, dloss, stats, logits, target, N, K, labelSmoothing); target int64 (N)
static Napi::Value cross_entropy_backward(const Napi::CallbackInfo& info) {
  Args a(info, "cross_entropy_backward", 8);
  const int64_t N = a.size(5, "N"), K = a.size(6, "K");
  const float eps = smoothing_arg(a, 7);
  float* dlogits = a.f32(0, "dlogits", a.mul(N, K));
  const float* dloss = a.f32(1, "dloss", 1);
  const float* stats = a.f32(2, "stats", a.mul(N, 3));
  const float* logits = a.f32(3, "logits", a.mul(N, K));
  const int64_t* target = a.i64(4, "target", N);
  a.check_distinct({{"dlogits", dlogits}}, {{"dlogits", dlogits}, {"dloss", dloss}, {"stats", stats}, {"logits", logits}});
  REPMLP_DISPATCH(a, cross_entropy_backward, dlogits, dloss, stats, logits, target, N, K, eps);
  return info.Env().Undefined();
}

// cross_entropy_soft_forward(loss, losses, stats, logits, target, N, K, labelSmoothing); target float32 (N, K)
static Napi::Value cross_entropy_soft_forward(const Napi::CallbackInfo& info) {
  Args a(info, "cross_entropy_soft_forward", 8);
  const int64_t N = a.size(5, "N"), K = a.size(6, "K");
  const float eps = smoothing_arg(a, 7);
  float* loss = a.f32(0, "loss", 1);
  float* losses = a.f32(1, "losses", N);
  float* stats = a.f32(2, "stats", a.mul(N, 3));
  const float* logits = a.f32(3, "logits", a.mul(N, K));
  const float* target = a.f32(4, "target", a.mul(N, K));
  a.check_distinct({{"loss", loss}, {"losses", losses}, {"stats", stats}},
                   {{"loss", loss}, {"losses", losses}, {"stats", stats}, {"logits", logits}, {"target", target}});
  REPMLP_DISPATCH(a, cross_entropy_soft_forward, loss, losses, stats, logits, target, N, K, eps);
  return info.Env().Undefined();
}

// cross_entropy_soft_backward(dlogits, dloss, stats, logits, target, N, K, labelSmoothing); target float32 (N, K)
static Napi::Value cross_entropy_soft_backward(const Napi::CallbackInfo& info) {
  Args a(info, "cross_entropy_soft_backward", 8);
  const int64_t N = a.size(5, "N"), K = a.size(6, "K");
  const float eps = smoothing_arg(a, 7);
  float* dlogits = a.f32(0, "dlogits", a.mul(N, K));
  const float* dloss = a.f32(1, "dloss", 1);
  const float* stats = a.f32(2, "stats", a.mul(N, 3));
  const float* logits = a.f32(3, "logits", a.mul(N, K));
  const float* target = a.f32(4, "target", a.mul(N, K));
  a.check_distinct({{"dlogits", dlogits}},
                   {{"dlogits", dlogits}, {"dloss", dloss}, {"stats", stats}, {"logits", logits}, {"target", target}});
  REPMLP_DISPATCH(a, cross_entropy_soft_backward, dlogits, dloss, stats, logits, target, N, K, eps);
  return info.Env().Undefined();
}

void register_cross_entropy(Napi::Object exports) {
  REPMLP_EXPORT(exports, cross_entropy_forward);
  REPMLP_EXPORT(exports, cross_entropy_backward);
  REPMLP_EXPORT(exports, cross_entropy_soft_forward);
  REPMLP_EXPORT(exports, cross_entropy_soft_backward);
}

}  // namespace repmlp
