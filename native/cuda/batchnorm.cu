// CUDA twin of ops/batchnorm.cc. Per-channel reductions are two-level and deterministic:
// the M = N*HW values of channel c are cut into `parts` contiguous ranges, one block each,
// reduced in double (warp shuffles, then one warp over the warp sums) into a partial; one
// thread per channel then sums its partials in order. The variance is a second pass over
// (x - mean)^2. Elementwise passes use grid-stride loops. Scratch space comes from the
// caching allocator (scratch.cuh).
//
// A fused activation (Act, the functors of ops/unary.h) is a template parameter of the output pass and of
// the gradient partial sums: the latter turn dout into dt = dout * act'(t) on the fly
// (ReLU from the saved output, GELU from t recomputed from x) and write dt into dinp, which
// the input-gradient pass then overwrites in place. A residual, when given, is added in the
// output pass (its gradient is dout itself).
#include <algorithm>

#include <utility>

#include "block_reduce.cuh"
#include "../dist/comm.h"
#include "../ops/batchnorm.h"
#include "../ops/unary.h"
#include "check.cuh"
#include "scratch.cuh"

namespace repmlp {
namespace cuda {

namespace {

constexpr int kThreads = 256;  // a multiple of 32: block_sum relies on whole warps

// Element indices are of type I in every kernel below: uint32_t whenever every index of the
// tensor, and a grid-stride step past the last, fits (64-bit division is many instructions on
// a GPU, and these kernels divide once or twice per element), else int64_t.
template <typename F>
void with_index_type(int64_t n, F&& f) {
  if (n < (int64_t(1) << 30)) f(uint32_t{0});
  else f(int64_t{0});
}

// The element of channel c at position j of its M = N*HW values. inp: (N, C, HW)
template <typename I>
__device__ __forceinline__ I channel_index(I j, I c, I C, I HW) {
  const I n = j / HW;
  return (n * C + c) * HW + (j - n * HW);
}

// How the M values of a channel are cut into blocks: at least ~4K values per block and
// about 1024 blocks in all when C is small.
struct Split {
  int64_t per;  // values per block
  int64_t parts;
};
Split split_for(int64_t M, int64_t C) {
  int64_t parts = std::max<int64_t>(1, (M + 4095) / 4096);
  parts = std::min<int64_t>(parts, std::max<int64_t>(1, 1024 / std::max<int64_t>(C, 1)));
  return {std::max<int64_t>(1, (M + parts - 1) / parts), parts};
}

// part: (C, parts); inp: (N, C, HW); center: (C) or null.
// part[c, p] = sum over values j of block p of channel c of x (center null) or (x - center[c])^2.
template <typename I>
__global__ void channel_partial_kernel(double* part, const float* inp, const double* center, I C, I HW, int64_t M,
                                       int64_t per, int64_t parts) {
  const int64_t c = blockIdx.x / parts, p = blockIdx.x % parts;
  const I j0 = static_cast<I>(p * per), j1 = static_cast<I>(min(M, p * per + per)), ci = static_cast<I>(c);
  double acc = 0;
  if (center) {
    const double m = center[c];
    for (I j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
      const double d = static_cast<double>(inp[channel_index(j, ci, C, HW)]) - m;
      acc += d * d;
    }
  } else {
    for (I j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc += static_cast<double>(inp[channel_index(j, ci, C, HW)]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) part[c * parts + p] = acc;
}

// act(t), with the activation known at compile time.
template <Act A>
__device__ __forceinline__ float activate(float t) {
  if constexpr (A == Act::ReLU) return Relu::forward(t);
  else if constexpr (A == Act::GELU) return Gelu::forward(t);
  else return t;
}

// The gradient of BN's own output t from dout, the gradient of act(t): t is recomputed as
// (x - center) * scale + shift for GELU; ReLU reads its saved output.
template <Act A>
__device__ __forceinline__ float act_grad(float dy, float y, float x, float center, float scale, float shift) {
  if constexpr (A == Act::ReLU) return Relu::backward(y, dy);
  else if constexpr (A == Act::GELU) return Gelu::backward((x - center) * scale + shift, dy);
  else return dy;
}

// What the gradient partial sums need for the activation. dt, out: (N, C, HW); t_scale,
// t_shift: (C). dt receives dout * act'(t) (unused without an activation); out is read for
// ReLU and t_scale, t_shift (with the centre mean) for GELU; the others may be null.
struct ActGrad {
  float* dt;
  const float* out;
  const float* t_scale;
  const float* t_shift;
};

// part_dy, part_dyxmu, part_xmu: (C, parts); dout, inp: (N, C, HW); mean: (C).
// Partial sums of dy, dy * (x - mean[c]) and x - mean[c], with dy = dout * act'(t).
template <Act A, typename I>
__global__ void grad_partial_kernel(double* part_dy, double* part_dyxmu, double* part_xmu, ActGrad ag,
                                    const float* dout, const float* inp, const float* mean, I C, I HW, int64_t M,
                                    int64_t per, int64_t parts) {
  const int64_t c = blockIdx.x / parts, p = blockIdx.x % parts;
  const I j0 = static_cast<I>(p * per), j1 = static_cast<I>(min(M, p * per + per)), ci = static_cast<I>(c);
  const float mf = mean[c];
  const float ts = A == Act::GELU ? ag.t_scale[c] : 0.f, tb = A == Act::GELU ? ag.t_shift[c] : 0.f;
  const double m = mf;
  double a = 0, b = 0, d = 0;
  for (I j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
    const I k = channel_index(j, ci, C, HW);
    const float x = inp[k];
    const float gf = act_grad<A>(dout[k], A == Act::ReLU ? ag.out[k] : 0.f, x, mf, ts, tb);
    if (A != Act::None) ag.dt[k] = gf;
    const double g = gf, xm = static_cast<double>(x) - m;
    a += g;
    b += g * xm;
    d += xm;
  }
  a = block_sum(a);
  b = block_sum(b);
  d = block_sum(d);
  if (threadIdx.x == 0) {
    part_dy[c * parts + p] = a;
    part_dyxmu[c * parts + p] = b;
    part_xmu[c * parts + p] = d;
  }
}

__device__ __forceinline__ double sum_parts(const double* part, int64_t c, int64_t parts) {
  double s = 0;
  for (int64_t p = 0; p < parts; ++p) s += part[c * parts + p];
  return s;
}

// mean_d, mean_saved: (C); part: (C, parts)
__global__ void finalize_mean_kernel(double* mean_d, float* mean_saved, const double* part, int64_t C, int64_t parts,
                                     int64_t M) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    const double m = sum_parts(part, c, parts) / static_cast<double>(M);
    mean_d[c] = m;
    mean_saved[c] = static_cast<float>(m);
  }
}

// invstd_saved, scale, shift: (C); running_mean, running_var: (C) or null; part: (C, parts)
// sums of squared deviations; mean_d, mean_saved, weight, bias: (C). The output is
// (x - mean_saved) * scale + shift: the shift absorbs mean_d - mean_saved.
__global__ void finalize_var_kernel(float* invstd_saved, float* scale, float* shift, float* running_mean,
                                    float* running_var, const double* part, const double* mean_d,
                                    const float* mean_saved, const float* weight, const float* bias, int64_t C,
                                    int64_t parts, int64_t M, float momentum, float eps) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    const double ssd = sum_parts(part, c, parts);
    const double invstd = 1.0 / sqrt(ssd / static_cast<double>(M) + static_cast<double>(eps));
    invstd_saved[c] = static_cast<float>(invstd);
    const double sc = invstd * weight[c];
    scale[c] = static_cast<float>(sc);
    shift[c] = static_cast<float>(bias[c] - (mean_d[c] - static_cast<double>(mean_saved[c])) * sc);
    if (running_mean) {
      const double unbiased = ssd / static_cast<double>(M - 1);
      running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean_d[c]);
      running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
  }
}

// scale: (C) = weight / sqrt(running_var + eps)
__global__ void eval_scale_kernel(float* scale, const float* running_var, const float* weight, int64_t C, float eps) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x)
    scale[c] = static_cast<float>(static_cast<double>(weight[c]) / sqrt(static_cast<double>(running_var[c]) + eps));
}

// out, inp, residual: (N, C, HW), residual may be null; center, shift: (C) or null (zero); scale: (C).
// out = act((inp - center[c]) * scale[c] + shift[c]) [+ residual]
template <Act A, typename I>
__global__ void affine_kernel(float* out, const float* inp, const float* residual, const float* center,
                              const float* scale, const float* shift, I C, I HW, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const I c = (i / HW) % C;
    const float m = center ? center[c] : 0.f, b = shift ? shift[c] : 0.f;
    const float v = activate<A>((inp[i] - m) * scale[c] + b);
    out[i] = residual ? v + residual[i] : v;
  }
}

// t_scale: (C) = invstd * weight in double, rounded once: the GELU backward's recomputation
// of the training forward's scale.
__global__ void t_scale_kernel(float* t_scale, const float* invstd, const float* weight, int64_t C) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x)
    t_scale[c] = static_cast<float>(static_cast<double>(invstd[c]) * weight[c]);
}

// The gradient sums per (channel, part): of dy, dy * (x - mean) and x - mean (null in eval).
struct GradParts {
  const double* dy;
  const double* dyxmu;
  const double* xmu;
  int64_t parts;
};

// dweight, dbias, k, mdy, proj: (C); the sums of this rank (mine) and of the world (the same
// without sync), (C, parts) each; invstd, weight: (C). With M values per channel over the
// world, delta = s_xmu / M (the centre's float rounding, 0 in eval) and s = s_dyxmu - s_dy *
// delta: dbias = s_dy, dweight = s * invstd of this rank's sums; k = weight * invstd,
// proj = invstd^2 * s / M, mdy = s_dy / M - delta * proj of the world's.
__global__ void finalize_grad_kernel(float* dweight, float* dbias, float* k, float* mdy, float* proj, GradParts mine,
                                     GradParts world, const float* invstd, const float* weight, int64_t C, int64_t M) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    const double Md = static_cast<double>(M > 0 ? M : 1);
    const double s_dy = sum_parts(world.dy, c, world.parts);
    const double delta = world.xmu ? sum_parts(world.xmu, c, world.parts) / Md : 0.0;
    const double s = sum_parts(world.dyxmu, c, world.parts) - s_dy * delta;
    const double is = invstd[c], pr = is * is * s / Md;
    const double my_dy = sum_parts(mine.dy, c, mine.parts);
    dbias[c] = static_cast<float>(my_dy);
    dweight[c] = static_cast<float>((sum_parts(mine.dyxmu, c, mine.parts) - my_dy * delta) * is);
    k[c] = static_cast<float>(static_cast<double>(weight[c]) * is);
    mdy[c] = static_cast<float>(s_dy / Md - delta * pr);
    proj[c] = static_cast<float>(pr);
  }
}

// out: (rows); part: (rows, parts). out[r] = the sum of row r's parts, in order.
__global__ void sum_parts_kernel(double* out, const double* part, int64_t rows, int64_t parts) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x)
    out[r] = sum_parts(part, r, parts);
}

// invstd: (C) = 1 / sqrt(running_var + eps)
__global__ void eval_invstd_kernel(float* invstd, const float* running_var, int64_t C, float eps) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x)
    invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
}

// dinp, dout, inp: (N, C, HW); k, mdy, proj, mean: (C). dinp = k * (dy - mdy - (x - mean) * proj)
template <typename I>
__global__ void dinp_train_kernel(float* dinp, const float* dout, const float* inp, const float* k, const float* mdy,
                                  const float* proj, const float* mean, I C, I HW, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const I c = (i / HW) % C;
    dinp[i] = k[c] * (dout[i] - mdy[c] - (inp[i] - mean[c]) * proj[c]);
  }
}

// out: (n), out[i] += value, wrapping around (unsigned arithmetic: no signed overflow)
__global__ void add_scalar_i64_kernel(int64_t* out, int64_t value, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = static_cast<int64_t>(static_cast<uint64_t>(out[i]) + static_cast<uint64_t>(value));
}

unsigned grid_of(int64_t blocks) { return static_cast<unsigned>(blocks); }

// out = act((inp - center[c]) * scale[c] + shift[c]) [+ residual] over n = N*C*HW elements.
void affine(float* out, const float* inp, const float* center, const float* scale, const float* shift, int64_t C,
            int64_t HW, int64_t n, Act act, const float* residual = nullptr) {
  if (n == 0) return;
  const unsigned grid = blocks_for(n);
  with_index_type(n, [&](auto zero) {
    using I = decltype(zero);
    const I c = static_cast<I>(C), hw = static_cast<I>(HW), ni = static_cast<I>(n);
    switch (act) {
      case Act::ReLU: affine_kernel<Act::ReLU, I><<<grid, 256>>>(out, inp, residual, center, scale, shift, c, hw, ni); break;
      case Act::GELU: affine_kernel<Act::GELU, I><<<grid, 256>>>(out, inp, residual, center, scale, shift, c, hw, ni); break;
      default: affine_kernel<Act::None, I><<<grid, 256>>>(out, inp, residual, center, scale, shift, c, hw, ni);
    }
  });
  REPMLP_CUDA_LAUNCHED("batchnorm: affine_kernel");
}

// Partial sums of dy, dy * (x - mean) and x - mean per (channel, block): (C, parts) each,
// with dy = dout * act'(t) written to ag.dt. Returns where dy is: ag.dt, or dout without an
// activation.
const float* grad_partials(double* part_dy, double* part_dyxmu, double* part_xmu, const ActGrad& ag, Act act,
                           const float* dout, const float* inp, const float* mean, int64_t C, int64_t HW, int64_t M,
                           const Split& s) {
  const unsigned grid = grid_of(C * s.parts);
  with_index_type(M * C, [&](auto zero) {
    using I = decltype(zero);
    const I c = static_cast<I>(C), hw = static_cast<I>(HW);
    switch (act) {
      case Act::ReLU:
        grad_partial_kernel<Act::ReLU, I><<<grid, kThreads>>>(part_dy, part_dyxmu, part_xmu, ag, dout, inp, mean, c, hw,
                                                              M, s.per, s.parts);
        break;
      case Act::GELU:
        grad_partial_kernel<Act::GELU, I><<<grid, kThreads>>>(part_dy, part_dyxmu, part_xmu, ag, dout, inp, mean, c, hw,
                                                              M, s.per, s.parts);
        break;
      default:
        grad_partial_kernel<Act::None, I><<<grid, kThreads>>>(part_dy, part_dyxmu, part_xmu, ag, dout, inp, mean, c, hw,
                                                              M, s.per, s.parts);
    }
  });
  REPMLP_CUDA_LAUNCHED("batchnorm: grad_partial_kernel");
  return act == Act::None ? dout : ag.dt;
}

// rows sums of parts each (part: (rows, parts)) into out (rows), summed over the world.
void sum_over_world(double* out, const double* part, int64_t rows, int64_t parts) {
  sum_parts_kernel<<<blocks_for(rows), 256>>>(out, part, rows, parts);
  REPMLP_CUDA_LAUNCHED("batchnorm: sum_parts_kernel");
  dist::sum_over_world(Device::CUDA, out, rows);
}

}  // namespace

}  // namespace cuda

void cuda::batchnorm_forward_train(const BatchnormTrain& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  if (C == 0) return;
  // Mloc values per channel here, M over the world (the same without sync)
  const int64_t Mloc = N * HW, n = N * C * HW, M = batchnorm_pooled_count(p);
  const Split s = split_for(Mloc, C);
  // scratch: part (C, parts) double, mean_d (C) double, world (C) double, scale, shift (C) float
  Scratch<char> scratch(sizeof(double) * (C * s.parts + 2 * C) + sizeof(float) * 2 * C);
  double* part = reinterpret_cast<double*>(scratch.get());
  double* mean_d = part + C * s.parts;
  double* world = mean_d + C;
  float* scale = reinterpret_cast<float*>(world + C);
  float* shift = scale + C;
  // sums of x, then of (x - mean)^2, per (channel, part); under sync summed per channel and
  // over the world into `world`, which the finalize kernels then read as one part
  const auto partials = [&](const double* center) -> std::pair<const double*, int64_t> {
    with_index_type(n, [&](auto zero) {
      using I = decltype(zero);
      channel_partial_kernel<I><<<grid_of(C * s.parts), kThreads>>>(part, p.inp, center, static_cast<I>(C),
                                                                     static_cast<I>(HW), Mloc, s.per, s.parts);
    });
    REPMLP_CUDA_LAUNCHED("batchnorm_forward_train: channel_partial_kernel");
    if (!p.sync) return {part, s.parts};
    sum_over_world(world, part, C, s.parts);
    return {world, 1};
  };
  const auto sums = partials(nullptr);
  finalize_mean_kernel<<<blocks_for(C), 256>>>(mean_d, p.mean_saved, sums.first, C, sums.second, M);
  REPMLP_CUDA_LAUNCHED("batchnorm_forward_train: finalize_mean_kernel");
  const auto ssd = partials(mean_d);
  finalize_var_kernel<<<blocks_for(C), 256>>>(p.invstd_saved, scale, shift, p.update_running ? p.running_mean : nullptr,
                                              p.update_running ? p.running_var : nullptr, ssd.first, mean_d, p.mean_saved,
                                              p.weight, p.bias, C, ssd.second, M, p.momentum, p.eps);
  REPMLP_CUDA_LAUNCHED("batchnorm_forward_train: finalize_var_kernel");
  affine(p.out, p.inp, p.mean_saved, scale, shift, C, HW, n, act, p.residual);
}

void cuda::batchnorm_forward_eval(const BatchnormEval& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  const int64_t n = N * C * HW;
  if (n == 0) return;
  Scratch<char> scratch(sizeof(float) * C);
  float* scale = reinterpret_cast<float*>(scratch.get());
  eval_scale_kernel<<<blocks_for(C), 256>>>(scale, p.running_var, p.weight, C, p.eps);
  REPMLP_CUDA_LAUNCHED("batchnorm_forward_eval: eval_scale_kernel");
  affine(p.out, p.inp, p.running_mean, scale, p.bias, C, HW, n, act, p.residual);
}

void cuda::batchnorm_backward(const BatchnormBackward& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  if (C == 0) return;
  const int64_t M = N * HW, n = N * C * HW;
  const Split s = split_for(M, C);
  // scratch: part_dy, part_dyxmu, part_xmu (C, parts) double; mine, world (3, C) double under
  // sync; k, mdy, proj, t_scale (C) float
  const int64_t sums = p.sync ? 6 * C : 0;
  Scratch<char> scratch(sizeof(double) * (3 * C * s.parts + sums) + sizeof(float) * 4 * C);
  double* part_dy = reinterpret_cast<double*>(scratch.get());
  double* part_dyxmu = part_dy + C * s.parts;
  double* part_xmu = part_dyxmu + C * s.parts;
  double* mine = part_xmu + C * s.parts;
  double* world = mine + 3 * C;
  float* k = reinterpret_cast<float*>(mine + sums);
  float* mdy = k + C;
  float* proj = mdy + C;
  float* t_scale = proj + C;
  if (act == Act::GELU) {
    t_scale_kernel<<<blocks_for(C), 256>>>(t_scale, p.invstd_saved, p.weight, C);
    REPMLP_CUDA_LAUNCHED("batchnorm_backward: t_scale_kernel");
  }
  const float* dy =
      grad_partials(part_dy, part_dyxmu, part_xmu, {p.dinp, p.out, t_scale, p.bias}, act, p.dout, p.inp, p.mean_saved, C, HW, M, s);
  GradParts mine_parts{part_dy, part_dyxmu, part_xmu, s.parts}, world_parts = mine_parts;
  if (p.sync) {
    // this rank's sums per channel (the three part arrays are one (3C, parts) block), and the world's
    sum_parts_kernel<<<blocks_for(3 * C), 256>>>(mine, part_dy, 3 * C, s.parts);
    REPMLP_CUDA_LAUNCHED("batchnorm_backward: sum_parts_kernel");
    REPMLP_CUDA_CHECK(cudaMemcpyAsync(world, mine, sizeof(double) * 3 * C, cudaMemcpyDeviceToDevice, 0));
    dist::sum_over_world(Device::CUDA, world, 3 * C);
    mine_parts = {mine, mine + C, mine + 2 * C, 1};
    world_parts = {world, world + C, world + 2 * C, 1};
  }
  finalize_grad_kernel<<<blocks_for(C), 256>>>(p.dweight, p.dbias, k, mdy, proj, mine_parts, world_parts, p.invstd_saved,
                                               p.weight, C, p.sync ? p.count : M);
  REPMLP_CUDA_LAUNCHED("batchnorm_backward: finalize_grad_kernel");
  if (n == 0) return;
  with_index_type(n, [&](auto zero) {
    using I = decltype(zero);
    dinp_train_kernel<I><<<blocks_for(n), 256>>>(p.dinp, dy, p.inp, k, mdy, proj, p.mean_saved, static_cast<I>(C),
                                                 static_cast<I>(HW), static_cast<I>(n));
  });
  REPMLP_CUDA_LAUNCHED("batchnorm_backward: dinp_train_kernel");
}

void cuda::batchnorm_backward_eval(const BatchnormBackwardEval& p) {
  const auto N = p.N, C = p.C, HW = p.HW;
  const auto act = p.act;
  if (C == 0) return;
  const int64_t M = N * HW, n = N * C * HW;
  const Split s = split_for(M, C);
  // scratch: part_dy, part_dyxmu, part_xmu (C, parts) double; invstd, scale, k, mdy, proj (C) float
  Scratch<char> scratch(sizeof(double) * 3 * C * s.parts + sizeof(float) * 5 * C);
  double* part_dy = reinterpret_cast<double*>(scratch.get());
  double* part_dyxmu = part_dy + C * s.parts;
  double* part_xmu = part_dyxmu + C * s.parts;
  float* invstd = reinterpret_cast<float*>(part_xmu + C * s.parts);
  float* scale = invstd + C;
  float* k = scale + C;
  float* mdy = k + C;
  float* proj = mdy + C;
  eval_invstd_kernel<<<blocks_for(C), 256>>>(invstd, p.running_var, C, p.eps);
  REPMLP_CUDA_LAUNCHED("batchnorm_backward_eval: eval_invstd_kernel");
  // scale = weight / sqrt(running_var + eps), as in the forward: GELU's t is recomputed with
  // it and dinp = dy * scale.
  eval_scale_kernel<<<blocks_for(C), 256>>>(scale, p.running_var, p.weight, C, p.eps);
  REPMLP_CUDA_LAUNCHED("batchnorm_backward_eval: eval_scale_kernel");
  const float* dy =
      grad_partials(part_dy, part_dyxmu, part_xmu, {p.dinp, p.out, scale, p.bias}, act, p.dout, p.inp, p.running_mean, C, HW, M, s);
  // The running mean is the exact centre (no delta); k, mdy and proj are not used in eval.
  const GradParts parts{part_dy, part_dyxmu, nullptr, s.parts};
  finalize_grad_kernel<<<blocks_for(C), 256>>>(p.dweight, p.dbias, k, mdy, proj, parts, parts, invstd, p.weight, C, M);
  REPMLP_CUDA_LAUNCHED("batchnorm_backward_eval: finalize_grad_kernel");
  affine(p.dinp, dy, nullptr, scale, nullptr, C, HW, n, Act::None);
}

void cuda::add_scalar_i64(int64_t* out, int64_t value, int64_t n) {
  if (n == 0) return;
  add_scalar_i64_kernel<<<blocks_for(n), 256>>>(out, value, n);
  REPMLP_CUDA_LAUNCHED("add_scalar_i64");
}

}  // namespace repmlp
