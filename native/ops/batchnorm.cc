// BatchNorm2d with PyTorch semantics over an (N, C, HW) tensor: statistics per channel c
// pool the N*HW values of c. Training normalises with the batch mean and biased variance
// and (optionally) updates running_mean / running_var (unbiased) with momentum; eval uses
// the running statistics. Backward: through the batch statistics in training, with the
// statistics held constant in eval. add_scalar_i64 counts num_batches_tracked.
//
// An activation (Act: none, ReLU or GELU; unary.h) may follow in the same pass: out =
// act(t) with t the normalised, affine output, which is then never stored. Backward turns
// dout into dt = dout * act'(t) one chunk of planes at a time, right before summing it,
// writing dt into dinp (which the last pass overwrites in place), from the saved output for
// ReLU (as PyTorch's ReLU does) and from t recomputed from x for GELU. That saves a write and
// a read of t in the forward pass, two passes in the backward, and keeps t out of the
// activation memory between them.
//
// A residual (a tensor of the output's shape) may be added in the same pass instead, out = t +
// residual (conv branches summed into fc3_bn's output, an FFN's output into the unit's
// residual stream); its gradient is dout itself, so backward does not change.
//
// Reductions are two-level and deterministic: a double partial per (n, c) plane, computed
// in parallel over the N*C planes, then summed per channel in a fixed order. The variance
// is a second pass over (x - mean)^2, so large means do not cancel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "batchnorm.h"
#include "../args.h"
#include "../dist/comm.h"
#include "../parallel.h"
#include "../cpu_isa.h"
#include "unary.h"

namespace repmlp {
namespace cpu {

namespace {

// The hot loops below are compiled as REPMLP_VECTOR_CLONES (AVX-512, AVX2, baseline, picked
// at load time): eight or four doubles per vector instead of two.

// Sum of x[0..n) in double with eight independent accumulators (vectorisable).
__attribute__((always_inline)) inline double sum_f64(const float* x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += static_cast<double>(x[i + k]);
  for (; i < n; ++i) a[0] += static_cast<double>(x[i]);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// Sum of (x - m)^2 over x[0..n) in double.
__attribute__((always_inline)) inline double sum_sq_dev_f64(const float* x, double m, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const double d = static_cast<double>(x[i + k]) - m;
      a[k] += d * d;
    }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - m;
    a[0] += d * d;
  }
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// Sums of dy, dy * (x - m) and x - m over [0..n) in double.
__attribute__((always_inline)) inline void grad_sums_f64(const float* dy, const float* x, double m, int64_t n,
                                                       double* s_dy, double* s_dyxmu, double* s_xmu) {
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0}, d[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) {
      const double g = static_cast<double>(dy[i + k]), xm = static_cast<double>(x[i + k]) - m;
      a[k] += g;
      b[k] += g * xm;
      d[k] += xm;
    }
  for (; i < n; ++i) {
    const double g = static_cast<double>(dy[i]), xm = static_cast<double>(x[i]) - m;
    a[0] += g;
    b[0] += g * xm;
    d[0] += xm;
  }
  *s_dy = (a[0] + a[1]) + (a[2] + a[3]);
  *s_dyxmu = (b[0] + b[1]) + (b[2] + b[3]);
  *s_xmu = (d[0] + d[1]) + (d[2] + d[3]);
}

// The plane loops over [p0, p1) (c = p % C) that call the three sums above: one call of a
// clone per chunk of planes rather than per plane, whose dispatch (an indirect call) would
// cost as much as the sum itself on 4x4 planes. The sums inline into each clone.
// part[p] = sum of plane p of x
REPMLP_VECTOR_CLONES void plane_sums(double* part, const float* x, int64_t p0,
                                     int64_t p1, int64_t HW) {
  for (int64_t p = p0; p < p1; ++p) part[p] = sum_f64(x + p * HW, HW);
}
// part[p] = sum over plane p of (x - mean[c])^2
REPMLP_VECTOR_CLONES void plane_sq_devs(double* part, const float* x,
                                        const double* mean, int64_t p0,
                                        int64_t p1, int64_t C, int64_t HW) {
  for (int64_t p = p0; p < p1; ++p) part[p] = sum_sq_dev_f64(x + p * HW, mean[p % C], HW);
}
// (a, b, d)[p] = grad_sums_f64 of plane p of dy and x, with mean[c]
REPMLP_VECTOR_CLONES void plane_grad_sums(double* a, double* b, double* d,
                                          const float* dy, const float* x,
                                          const float* mean, int64_t p0,
                                          int64_t p1, int64_t C, int64_t HW) {
  for (int64_t p = p0; p < p1; ++p) grad_sums_f64(dy + p * HW, x + p * HW, mean[p % C], HW, &a[p], &b[p], &d[p]);
}

// Per-channel sums of part (N*C, plane-major) in a fixed order: out[c] = sum_n part[n*C + c].
void reduce_planes(double* out, const double* part, int64_t N, int64_t C) {
  for (int64_t c = 0; c < C; ++c) out[c] = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) out[c] += part[n * C + c];
}

// Planes per parallel chunk: about 16K elements.
inline int64_t plane_grain(int64_t HW) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1)); }

// y = (x - center[c]) * scale[c] + shift[c] over planes [p0, p1) of HW elements, c = p % C;
// y and x point at plane p0 and may be the same (in place). One call per chunk of planes, not
// per plane: 4x4 planes would otherwise pay an indirect call (the clone's dispatch) for every
// 16 elements.
REPMLP_VECTOR_CLONES void affine_range(
    float* y, const float* x, const float* center, const float* scale, const float* shift,
    int64_t p0, int64_t p1, int64_t C, int64_t HW) {
  for (int64_t p = p0; p < p1; ++p, y += HW, x += HW) {
    const int64_t c = p % C;
    const float m = center[c], a = scale[c], b = shift[c];
    for (int64_t i = 0; i < HW; ++i) y[i] = (x[i] - m) * a + b;
  }
}

// The activation in place over y[0..n): a chunk of planes just written, still in cache. One
// flat loop rather than one per plane keeps the vector loops long when planes are small.
void activate_in_place(float* y, int64_t n, Act act) {
  if (act == Act::GELU) unary_forward_range<Gelu>(y, y, 0, n);
  else if (act == Act::ReLU) unary_forward_range<Relu>(y, y, 0, n);
}

// d = k[c] * (g - md[c] - (x - m[c]) * pr[c]) over planes [p0, p1), c = p % C, the pointers at
// plane p0 (d may be g): the training backward's input gradient.
REPMLP_VECTOR_CLONES void backward_range(
    float* d, const float* g, const float* x, const float* k, const float* md,
    const float* m, const float* pr, int64_t p0, int64_t p1, int64_t C, int64_t HW) {
  for (int64_t p = p0; p < p1; ++p, d += HW, g += HW, x += HW) {
    const int64_t c = p % C;
    const float kc = k[c], mdc = md[c], mc = m[c], prc = pr[c];
    for (int64_t i = 0; i < HW; ++i) d[i] = kc * (g[i] - mdc - (x[i] - mc) * prc);
  }
}

// out = act((inp - center[c]) * scale[c] + shift[c]) [+ residual] for every plane (n, c).
// out, inp, residual: (N, C, HW), residual may be null; center, scale, shift: (C)
void affine_planes(float* out, const float* inp, const float* center, const float* scale, const float* shift,
                   int64_t N, int64_t C, int64_t HW, Act act, const float* residual = nullptr) {
  parallel_for(N * C, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    const int64_t o0 = p0 * HW, o1 = p1 * HW;
    affine_range(out + o0, inp + o0, center, scale, shift, p0, p1, C, HW);
    activate_in_place(out + o0, o1 - o0, act);
    if (residual)
      for (int64_t i = o0; i < o1; ++i) out[i] += residual[i];
  });
}

}  // namespace

}  // namespace cpu

// Training forward (fields and shapes in ops/batchnorm.h).
void cpu::batchnorm_forward_train(const BatchnormTrain& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  const int64_t P = N * C, M = batchnorm_pooled_count(p);
  std::vector<double> part(P), mean(C), ssd(C);
  parallel_for(P, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    plane_sums(part.data(), p.inp, p0, p1, HW);
  });
  reduce_planes(mean.data(), part.data(), N, C);
  if (p.sync) dist::sum_over_world(Device::CPU, mean.data(), C);
  for (int64_t c = 0; c < C; ++c) mean[c] /= static_cast<double>(M);
  parallel_for(P, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    plane_sq_devs(part.data(), p.inp, mean.data(), p0, p1, C, HW);
  });
  reduce_planes(ssd.data(), part.data(), N, C);
  if (p.sync) dist::sum_over_world(Device::CPU, ssd.data(), C);
  // y = (x - mean_f) * scale + shift, where mean_f is the float mean and the shift absorbs
  // the rest (mean - mean_f), so a large mean costs no precision.
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    const double var = ssd[c] / static_cast<double>(M);
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(p.eps));
    p.mean_saved[c] = static_cast<float>(mean[c]);
    p.invstd_saved[c] = static_cast<float>(invstd);
    const double sc = invstd * p.weight[c];
    scale[c] = static_cast<float>(sc);
    shift[c] = static_cast<float>(p.bias[c] - (mean[c] - static_cast<double>(p.mean_saved[c])) * sc);
    if (p.update_running) {
      const double unbiased = ssd[c] / static_cast<double>(M - 1);
      p.running_mean[c] = static_cast<float>((1.0 - p.momentum) * p.running_mean[c] + p.momentum * mean[c]);
      p.running_var[c] = static_cast<float>((1.0 - p.momentum) * p.running_var[c] + p.momentum * unbiased);
    }
  }
  affine_planes(p.out, p.inp, p.mean_saved, scale.data(), shift.data(), N, C, HW, act, p.residual);
}

namespace cpu {

// scale (C) = weight / sqrt(running_var + eps): eval's per-channel factor.
static std::vector<float> eval_scale(const float* running_var, const float* weight, int64_t C, float eps) {
  std::vector<float> scale(C);
  for (int64_t c = 0; c < C; ++c)
    scale[c] = static_cast<float>(static_cast<double>(weight[c]) / std::sqrt(static_cast<double>(running_var[c]) + eps));
  return scale;
}

}  // namespace cpu

// Eval forward with the running statistics.
void cpu::batchnorm_forward_eval(const BatchnormEval& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  const std::vector<float> scale = eval_scale(p.running_var, p.weight, C, p.eps);
  affine_planes(p.out, p.inp, p.running_mean, scale.data(), p.bias, N, C, HW, act, p.residual);
}

namespace cpu {

// How backward gets from dout (the gradient of act(t)) to dt (that of BN's own output t):
// the activation, its saved output out (ReLU) and the per-channel affine that recomputes t
// from x (GELU): t = (x - center[c]) * scale[c] + shift[c].
struct ActGrad {
  Act act;
  const float* out;  // (N, C, HW), ReLU only
  const float* center;  // (C), GELU only, and the two below
  const float* scale;
  const float* shift;
};

// Per-channel sums of dt, dt * (inp - mean) and inp - mean in double, where dt is dout
// through the activation's derivative. Unless act is none, dt is written to dt_out chunk by
// chunk (and summed while in cache) and the returned pointer is dt_out; else dout.
// dt_out, dout, inp: (N, C, HW); mean, s_dy, s_dyxmu, s_xmu: (C)
struct GradSums {
  std::vector<double> dy, dyxmu, xmu;
  const float* dt;
};
static GradSums channel_grad_sums(float* dt_out, const float* dout, const float* inp, const float* mean, int64_t N,
                                  int64_t C, int64_t HW, const ActGrad& ag) {
  const int64_t P = N * C;
  std::vector<double> pa(P), pb(P), pd(P);
  const float* dt = ag.act == Act::None ? dout : dt_out;
  parallel_for(P, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    const int64_t o0 = p0 * HW, o1 = p1 * HW;
    if (ag.act == Act::ReLU) {
      unary_backward_range<Relu>(dt_out, dout, ag.out, o0, o1);
    } else if (ag.act == Act::GELU) {
      // t recomputed into dt_out, then dt = dout * GELU'(t) in place
      affine_range(dt_out + o0, inp + o0, ag.center, ag.scale, ag.shift, p0, p1, C, HW);
      unary_backward_range<Gelu>(dt_out, dout, dt_out, o0, o1);
    }
    plane_grad_sums(pa.data(), pb.data(), pd.data(), dt, inp, mean, p0, p1, C, HW);
  });
  GradSums s{std::vector<double>(C), std::vector<double>(C), std::vector<double>(C), dt};
  reduce_planes(s.dy.data(), pa.data(), N, C);
  reduce_planes(s.dyxmu.data(), pb.data(), N, C);
  reduce_planes(s.xmu.data(), pd.data(), N, C);
  return s;
}

}  // namespace cpu

// Training backward through the batch statistics. dinp, dout, out, inp: (N, C, HW);
// dweight, dbias, mean_saved, invstd_saved, weight, bias: (C). With dy = dout * act'(t),
// xhat = (x - mean) * invstd and M = N*HW: dbias = sum(dy), dweight = sum(dy * xhat),
// dinp = weight * invstd * (dy - dbias / M - xhat * dweight / M).
// mean_saved is the float-rounded batch mean; delta = mean(x - mean_saved) (in double)
// recovers the exact centre. out is read for ReLU only, bias for GELU only (else null): GELU
// recomputes t = (x - mean_saved) * weight * invstd_saved + bias, which differs from the
// forward's t by float rounding alone.
void cpu::batchnorm_backward(const BatchnormBackward& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  // (With no values, M = 1 keeps every sum 0 and the gradients 0, as on CUDA.)
  const double M = static_cast<double>(std::max<int64_t>(p.sync ? p.count : N * HW, 1));
  std::vector<float> t_scale(act == Act::GELU ? C : 0);
  for (size_t c = 0; c < t_scale.size(); ++c)
    t_scale[c] = static_cast<float>(static_cast<double>(p.invstd_saved[c]) * p.weight[c]);
  const GradSums sums =
      channel_grad_sums(p.dinp, p.dout, p.inp, p.mean_saved, N, C, HW, {act, p.out, p.mean_saved, t_scale.data(), p.bias});
  // The sums over the world (this rank's without sync): [dy, dyxmu, xmu], C each.
  std::vector<double> world(3 * C);
  std::copy(sums.dy.begin(), sums.dy.end(), world.begin());
  std::copy(sums.dyxmu.begin(), sums.dyxmu.end(), world.begin() + C);
  std::copy(sums.xmu.begin(), sums.xmu.end(), world.begin() + 2 * C);
  if (p.sync) dist::sum_over_world(Device::CPU, world.data(), 3 * C);
  // dinp = k * (dy - mdy - (x - mean_saved) * proj) with k = weight * invstd,
  // proj = invstd^2 * s_dyxmu / M and mdy = s_dy / M - delta * proj, from the world's sums;
  // dweight and dbias from this rank's.
  std::vector<float> kk(C), mdy(C), proj(C);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = p.invstd_saved[c], s_dy = world[c], delta = world[2 * C + c] / M;
    const double s_dyxmu = world[C + c] - s_dy * delta;
    const double pr = invstd * invstd * s_dyxmu / M;
    p.dbias[c] = static_cast<float>(sums.dy[c]);
    p.dweight[c] = static_cast<float>((sums.dyxmu[c] - sums.dy[c] * delta) * invstd);
    kk[c] = static_cast<float>(static_cast<double>(p.weight[c]) * invstd);
    mdy[c] = static_cast<float>(s_dy / M - delta * pr);
    proj[c] = static_cast<float>(pr);
  }
  parallel_for(N * C, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    const int64_t o = p0 * HW;
    backward_range(p.dinp + o, sums.dt + o, p.inp + o, kk.data(), mdy.data(), p.mean_saved, proj.data(), p0, p1, C, HW);
  });
}

// Eval backward (statistics constant). dinp, dout, out, inp: (N, C, HW); dweight, dbias,
// running_mean, running_var, weight, bias: (C). With dy = dout * act'(t):
// dinp = dy * weight * invstd, dweight = sum(dy * (x - running_mean) * invstd),
// dbias = sum(dy). out is read for ReLU only, bias for GELU only (else null); GELU's t is
// recomputed exactly as the forward computed it.
void cpu::batchnorm_backward_eval(const BatchnormBackwardEval& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  const std::vector<float> scale = eval_scale(p.running_var, p.weight, C, p.eps);
  const GradSums sums =
      channel_grad_sums(p.dinp, p.dout, p.inp, p.running_mean, N, C, HW, {act, p.out, p.running_mean, scale.data(), p.bias});
  std::vector<float> zero(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(p.running_var[c]) + p.eps);
    p.dbias[c] = static_cast<float>(sums.dy[c]);
    p.dweight[c] = static_cast<float>(sums.dyxmu[c] * invstd);
  }
  affine_planes(p.dinp, sums.dt, zero.data(), scale.data(), zero.data(), N, C, HW, Act::None);
}

int64_t batchnorm_pooled_count(const BatchnormTrain& p) {
  const int64_t M = p.sync ? dist::count_over_world(p.N * p.HW) : p.N * p.HW;
  // Every rank sees the same count, so under sync they all stop here alike.
  if (M < 2) throw Error("batchnorm_forward_train: expected more than 1 value per channel " + std::string(p.sync ? "over the world " : "") +
                         "when training but received " + std::to_string(M));
  if (p.count_out) *p.count_out = M;
  return M;
}

void cpu::add_scalar_i64(int64_t* out, int64_t value, int64_t n) {
  // Wraps around like PyTorch's int64 add, without the undefined behaviour of signed overflow.
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(static_cast<uint64_t>(out[i]) + static_cast<uint64_t>(value));
}


namespace {

// The sizes N, C, HW and the element count they give.
struct Sizes {
  int64_t N, C, HW, numel;
};
Sizes sizes(Args& a) {
  Sizes s{a.size("N"), a.size("C"), a.size("HW"), 0};
  s.numel = a.product({s.N, s.C, s.HW});
  return s;
}

float eps_arg(Args& a) {
  const double eps = a.number("eps");
  if (!(eps > 0) || !std::isfinite(eps)) a.fail_arg("eps", "a positive finite number", std::to_string(eps));
  return static_cast<float>(eps);
}

Act act_arg(Args& a) {
  const int64_t act = a.integer("act");
  if (act < 0 || act > 2) a.fail_arg("act", "0 (none), 1 (ReLU) or 2 (GELU)", std::to_string(act));
  return static_cast<Act>(act);
}

// The residual added to the output, or null. It cannot come with an activation: backward
// takes ReLU's mask from the output, which the residual would change.
const float* residual_arg(Args& a, Act act, const Sizes& s) {
  if (a.is_null("residual")) return nullptr;
  if (act != Act::None) a.fail_arg("residual", "null when act is not 0 (none)", "a Storage");
  return a.f32("residual", s.numel);
}

// What backward reads besides its usual inputs: the forward output for ReLU and the bias
// for GELU; both are null otherwise.
struct ActSaved {
  const float* out;
  const float* bias;
};
ActSaved act_saved(Args& a, Act act, const Sizes& s) {
  ActSaved r{nullptr, nullptr};
  if (act == Act::ReLU) r.out = a.f32("out", s.numel);
  else if (!a.is_null("out")) a.fail_arg("out", "null unless act is ReLU", "a Storage");
  if (act == Act::GELU) r.bias = a.f32("bias", s.C);
  else if (!a.is_null("bias")) a.fail_arg("bias", "null unless act is GELU", "a Storage");
  return r;
}

// A backward call with no values (N * C * HW = 0) is done here: dinp is empty, and the
// parameter gradients, sums over no values, are 0. The kernels would size their per-plane
// partial sums by N * C, which may be huge when HW is 0.
bool empty_backward(const Args& a, float* dweight, float* dbias, const Sizes& s) {
  if (s.numel != 0) return false;
  a.zero(dweight, s.C);
  a.zero(dbias, s.C);
  return true;
}

}  // namespace

// batchnorm_forward_train({out, meanSaved, invstdSaved, runningMean | null, runningVar | null,
//                          inp, residual | null, weight, bias, N, C, HW, momentum, eps, act, sync})
// The running statistics are updated when given (both or neither). Returns the values per
// channel the statistics pooled (N * HW, or over the world with sync: batchnorm_backward's count).
static Napi::Value batchnorm_forward_train(const Napi::CallbackInfo& info) {
  Args a(info, "batchnorm_forward_train", Args::named);
  const Sizes s = sizes(a);
  const double momentum = a.number("momentum");
  if (!(momentum >= 0 && momentum <= 1)) a.fail_arg("momentum", "a number in [0, 1]", std::to_string(momentum));
  BatchnormTrain p{};
  p.N = s.N, p.C = s.C, p.HW = s.HW;
  p.momentum = static_cast<float>(momentum);
  p.eps = eps_arg(a);
  p.act = act_arg(a);
  p.sync = a.flag("sync");
  // (C > 0 first: then N * HW fits, as N * C * HW does.) Under sync the count over the world
  // is checked instead, by every rank alike, and a rank without values still takes part.
  if (!p.sync && s.C > 0 && s.N * s.HW < 2)
    a.fail_arg("N * HW", "more than 1 value per channel when training", std::to_string(s.N * s.HW));
  if (s.numel == 0) p.N = 0;  // no values: none to sum (N * C partial sums would be waste, or huge)
  int64_t count = 0;
  p.count_out = &count;
  p.update_running = !a.is_null("runningMean") || !a.is_null("runningVar");
  p.out = a.f32("out", s.numel);
  p.mean_saved = a.f32("meanSaved", s.C);
  p.invstd_saved = a.f32("invstdSaved", s.C);
  p.running_mean = p.update_running ? a.f32("runningMean", s.C) : nullptr;
  p.running_var = p.update_running ? a.f32("runningVar", s.C) : nullptr;
  p.inp = a.f32("inp", s.numel);
  p.residual = residual_arg(a, p.act, s);
  p.weight = a.f32("weight", s.C);
  p.bias = a.f32("bias", s.C);
  a.check_distinct({{"out", p.out}, {"meanSaved", p.mean_saved}, {"invstdSaved", p.invstd_saved}, {"runningMean", p.running_mean},
                    {"runningVar", p.running_var}},
                   {{"out", p.out}, {"meanSaved", p.mean_saved}, {"invstdSaved", p.invstd_saved}, {"runningMean", p.running_mean},
                    {"runningVar", p.running_var}, {"inp", p.inp}, {"residual", p.residual}, {"weight", p.weight}, {"bias", p.bias}});
  // No channels: nothing to write (N may be huge), the same on every rank (C is the model's).
  if (s.C == 0) return Napi::Number::New(info.Env(), 0);
  REPMLP_DISPATCH(a, batchnorm_forward_train, p);
  return Napi::Number::New(info.Env(), static_cast<double>(count));
}

// batchnorm_forward_eval({out, inp, residual | null, runningMean, runningVar, weight, bias, N, C, HW, eps, act})
static Napi::Value batchnorm_forward_eval(const Napi::CallbackInfo& info) {
  Args a(info, "batchnorm_forward_eval", Args::named);
  const Sizes s = sizes(a);
  BatchnormEval p{};
  p.N = s.N, p.C = s.C, p.HW = s.HW;
  p.eps = eps_arg(a);
  p.act = act_arg(a);
  p.out = a.f32("out", s.numel);
  p.inp = a.f32("inp", s.numel);
  p.residual = residual_arg(a, p.act, s);
  p.running_mean = a.f32("runningMean", s.C);
  p.running_var = a.f32("runningVar", s.C);
  p.weight = a.f32("weight", s.C);
  p.bias = a.f32("bias", s.C);
  a.check_distinct({{"out", p.out}}, {{"out", p.out}, {"inp", p.inp}, {"residual", p.residual}, {"runningMean", p.running_mean},
                                      {"runningVar", p.running_var}, {"weight", p.weight}, {"bias", p.bias}});
  if (s.numel == 0) return info.Env().Undefined();  // no output (N, C or HW is 0)
  REPMLP_DISPATCH(a, batchnorm_forward_eval, p);
  return info.Env().Undefined();
}

namespace {

// The fields both backward bindings read, checked: the gradients, dout, what the activation
// saved, inp and weight, and two per-channel statistics under the names given (the batch's
// saved ones or the running ones).
struct BackwardFields {
  float *dinp, *dweight, *dbias;
  const float *dout, *out, *inp, *weight, *bias, *stat0, *stat1;
};
BackwardFields backward_fields(Args& a, Act act, const Sizes& s, const char* stat0, const char* stat1) {
  BackwardFields f{};
  f.dinp = a.f32("dinp", s.numel);
  f.dweight = a.f32("dweight", s.C);
  f.dbias = a.f32("dbias", s.C);
  f.dout = a.f32("dout", s.numel);
  const ActSaved saved = act_saved(a, act, s);
  f.out = saved.out, f.bias = saved.bias;
  f.inp = a.f32("inp", s.numel);
  f.stat0 = a.f32(stat0, s.C);
  f.stat1 = a.f32(stat1, s.C);
  f.weight = a.f32("weight", s.C);
  a.check_distinct({{"dinp", f.dinp}, {"dweight", f.dweight}, {"dbias", f.dbias}},
                   {{"dinp", f.dinp}, {"dweight", f.dweight}, {"dbias", f.dbias}, {"dout", f.dout}, {"out", f.out}, {"inp", f.inp},
                    {stat0, f.stat0}, {stat1, f.stat1}, {"weight", f.weight}, {"bias", f.bias}});
  return f;
}

// Fills a backward struct's common fields from f and s.
template <typename P>
void fill_backward(P& p, const BackwardFields& f, const Sizes& s, Act act) {
  p.dinp = f.dinp, p.dweight = f.dweight, p.dbias = f.dbias;
  p.dout = f.dout, p.out = f.out, p.inp = f.inp, p.weight = f.weight, p.bias = f.bias;
  p.N = s.N, p.C = s.C, p.HW = s.HW;
  p.act = act;
}

}  // namespace

// batchnorm_backward({dinp, dweight, dbias, dout, out | null, inp, meanSaved, invstdSaved, weight,
//                     bias | null, N, C, HW, act, sync, count})
// out (the forward output) is given for ReLU only, bias for GELU only; count is what the
// forward returned (N * HW without sync).
static Napi::Value batchnorm_backward(const Napi::CallbackInfo& info) {
  Args a(info, "batchnorm_backward", Args::named);
  const Sizes s = sizes(a);
  const Act act = act_arg(a);
  const bool sync = a.flag("sync");
  const int64_t count = a.size("count");
  if (s.C > 0 && (sync ? count < s.N * s.HW : count != s.N * s.HW))
    a.fail_arg("count", (sync ? "at least N * HW = " : "N * HW = ") + std::to_string(s.N * s.HW) + (sync ? " with sync" : " without sync"),
               std::to_string(count));
  const BackwardFields f = backward_fields(a, act, s, "meanSaved", "invstdSaved");
  // Under sync a rank without values still takes part in the sums over the world.
  if ((!sync || s.C == 0) && empty_backward(a, f.dweight, f.dbias, s)) return info.Env().Undefined();
  BatchnormBackward p{};
  fill_backward(p, f, s, act);
  if (s.numel == 0) p.N = 0;
  p.mean_saved = f.stat0, p.invstd_saved = f.stat1;
  p.sync = sync, p.count = count;
  REPMLP_DISPATCH(a, batchnorm_backward, p);
  return info.Env().Undefined();
}

// batchnorm_backward_eval({dinp, dweight, dbias, dout, out | null, inp, runningMean, runningVar,
//                          weight, bias | null, N, C, HW, eps, act})
static Napi::Value batchnorm_backward_eval(const Napi::CallbackInfo& info) {
  Args a(info, "batchnorm_backward_eval", Args::named);
  const Sizes s = sizes(a);
  const float eps = eps_arg(a);
  const Act act = act_arg(a);
  const BackwardFields f = backward_fields(a, act, s, "runningMean", "runningVar");
  if (empty_backward(a, f.dweight, f.dbias, s)) return info.Env().Undefined();
  BatchnormBackwardEval p{};
  fill_backward(p, f, s, act);
  p.running_mean = f.stat0, p.running_var = f.stat1, p.eps = eps;
  REPMLP_DISPATCH(a, batchnorm_backward_eval, p);
  return info.Env().Undefined();
}

// add_scalar_i64(out, value, offset, n): out[offset + i] += value for i in [0, n)
static Napi::Value add_scalar_i64(const Napi::CallbackInfo& info) {
  Args a(info, "add_scalar_i64", 4);
  const int64_t value = a.integer(1, "value");
  const int64_t offset = a.size(2, "offset"), n = a.size(3, "n");
  int64_t* out = a.i64(0, "out", n, offset);
  REPMLP_DISPATCH(a, add_scalar_i64, out, value, n);
  return info.Env().Undefined();
}

void register_batchnorm(Napi::Object exports) {
  REPMLP_EXPORT(exports, batchnorm_forward_train);
  REPMLP_EXPORT(exports, batchnorm_forward_eval);
  REPMLP_EXPORT(exports, batchnorm_backward);
  REPMLP_EXPORT(exports, batchnorm_backward_eval);
  REPMLP_EXPORT(exports, add_scalar_i64);
}

}  // namespace repmlp
