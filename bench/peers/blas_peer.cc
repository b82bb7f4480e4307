// The library peer of bench/blas.ts: times GEMMs and convolutions with OpenBLAS
// (cblas_sgemm; convolutions as im2col + cblas_sgemm) and oneDNN (dnnl_sgemm, the matmul
// primitive, the convolution primitive) on the cases read from stdin, one per line:
//   gemm <id> M N K batch transA transB lda strideA ldb strideB ldc strideC
//   conv <id> fwd|bwd_data|bwd_weights N Cin H W Cout kh kw sh sw ph pw groups
// Row-major strided-batched GEMM as repmlp's gemm_strided_batched takes it (stride 0: one
// matrix shared by the batch); convolutions in NCHW / OIHW. Usage:
//   blas_peer <threads> <warmup> <repeats> <minSampleMs> < cases
// Timing follows bench/lib/stats.ts: warmup runs, one calibration run that sets the runs per
// sample (a sample lasts at least minSampleMs), then `repeats` samples; the median time per
// run is reported. Every OpenBLAS case runs before every oneDNN one, so that OpenMP's
// spinning workers (oneDNN) never compete with OpenBLAS's pthreads. Prints one JSON line
// describing the libraries, then one JSON line per case (times in ms; null: not run).
// OpenBLAS threads: openblas_set_num_threads(threads); oneDNN: OMP_NUM_THREADS, set by the
// caller (checked here against omp's count through dnnl's threading).
#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

using dnnl::memory;
using Clock = std::chrono::steady_clock;

struct Timing {
  int warmup, repeats;
  double minSampleMs;
};

static double now_ms() { return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count(); }

// The median ms per run of fn (see the top of the file).
static double measure(const std::function<void()>& fn, const Timing& t) {
  for (int i = 0; i < t.warmup; i++) fn();
  double t0 = now_ms();
  fn();
  const double once = now_ms() - t0;
  const int inner = t.minSampleMs <= 0 ? 1 : std::max(1, (int)std::ceil(t.minSampleMs / std::max(once, 1e-3)));
  std::vector<double> s;
  for (int r = 0; r < std::max(1, t.repeats); r++) {
    t0 = now_ms();
    for (int i = 0; i < inner; i++) fn();
    s.push_back((now_ms() - t0) / inner);
  }
  std::sort(s.begin(), s.end());
  const size_t m = s.size() / 2;
  return s.size() % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

static std::vector<float> filled(size_t n) {
  std::vector<float> v(std::max<size_t>(n, 1));
  for (size_t i = 0; i < v.size(); i++) v[i] = std::sin(i * 0.37f);
  return v;
}

struct Gemm {
  std::string id;
  long M, N, K, batch;
  int transA, transB;
  long lda, strideA, ldb, strideB, ldc, strideC;
  size_t nA() const { return ext(transA ? K : M, lda, strideA); }
  size_t nB() const { return ext(transB ? N : K, ldb, strideB); }
  size_t nC() const { return ext(M, ldc, strideC); }
  size_t ext(long rows, long ld, long stride) const { return (size_t)((batch - 1) * stride + rows * ld); }
};

struct Conv {
  std::string id, kind;
  long N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, groups;
  long Ho() const { return (H + 2 * ph - kh) / sh + 1; }
  long Wo() const { return (W + 2 * pw - kw) / sw + 1; }
};

struct Result {
  std::map<std::string, std::string> fields;
  void num(const std::string& k, double v) {
    char b[64];
    snprintf(b, sizeof b, "%.6g", v);
    fields[k] = b;
  }
  void str(const std::string& k, const std::string& v) {
    std::string e = "\"";
    for (char c : v) e += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    fields[k] = e + "\"";
  }
};

// ---- OpenBLAS ----

static double openblas_gemm(const Gemm& g, const Timing& t) {
  auto A = filled(g.nA()), B = filled(g.nB()), C = filled(g.nC());
  return measure([&] {
    for (long b = 0; b < g.batch; b++)
      cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans, g.transB ? CblasTrans : CblasNoTrans, g.M, g.N, g.K, 1.f,
                  A.data() + b * g.strideA, g.lda, B.data() + b * g.strideB, g.ldb, 0.f, C.data() + b * g.strideC, g.ldc);
  }, t);
}

// im2col of one image (Cin, H, W) -> (Cin*kh*kw, Ho*Wo), and its adjoint col2im (accumulating).
static void im2col(const Conv& c, const float* x, float* col) {
  const long Ho = c.Ho(), Wo = c.Wo();
  for (long ci = 0; ci < c.Cin; ci++)
    for (long i = 0; i < c.kh; i++)
      for (long j = 0; j < c.kw; j++) {
        float* row = col + ((ci * c.kh + i) * c.kw + j) * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
          const long ih = oh * c.sh - c.ph + i;
          for (long ow = 0; ow < Wo; ow++) {
            const long iw = ow * c.sw - c.pw + j;
            row[oh * Wo + ow] = (ih >= 0 && ih < c.H && iw >= 0 && iw < c.W) ? x[(ci * c.H + ih) * c.W + iw] : 0.f;
          }
        }
      }
}

static void col2im(const Conv& c, const float* col, float* x) {
  const long Ho = c.Ho(), Wo = c.Wo();
  std::fill(x, x + c.Cin * c.H * c.W, 0.f);
  for (long ci = 0; ci < c.Cin; ci++)
    for (long i = 0; i < c.kh; i++)
      for (long j = 0; j < c.kw; j++) {
        const float* row = col + ((ci * c.kh + i) * c.kw + j) * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
          const long ih = oh * c.sh - c.ph + i;
          if (ih < 0 || ih >= c.H) continue;
          for (long ow = 0; ow < Wo; ow++) {
            const long iw = ow * c.sw - c.pw + j;
            if (iw >= 0 && iw < c.W) x[(ci * c.H + ih) * c.W + iw] += row[oh * Wo + ow];
          }
        }
      }
}

// im2col + cblas_sgemm per image, one group only (null otherwise).
static bool openblas_conv(const Conv& c, const Timing& t, double* ms) {
  if (c.groups != 1) return false;
  const long Ho = c.Ho(), Wo = c.Wo(), P = Ho * Wo, Kc = c.Cin * c.kh * c.kw;
  auto x = filled(c.N * c.Cin * c.H * c.W), w = filled(c.Cout * Kc), y = filled(c.N * c.Cout * P), col = filled(Kc * P);
  std::function<void()> fn;
  if (c.kind == "fwd")
    fn = [&] {
      for (long n = 0; n < c.N; n++) {
        im2col(c, x.data() + n * c.Cin * c.H * c.W, col.data());
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c.Cout, P, Kc, 1.f, w.data(), Kc, col.data(), P, 0.f, y.data() + n * c.Cout * P, P);
      }
    };
  else if (c.kind == "bwd_data")
    fn = [&] {
      for (long n = 0; n < c.N; n++) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kc, P, c.Cout, 1.f, w.data(), Kc, y.data() + n * c.Cout * P, P, 0.f, col.data(), P);
        col2im(c, col.data(), x.data() + n * c.Cin * c.H * c.W);
      }
    };
  else
    fn = [&] {
      for (long n = 0; n < c.N; n++) {
        im2col(c, x.data() + n * c.Cin * c.H * c.W, col.data());
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c.Cout, Kc, P, 1.f, y.data() + n * c.Cout * P, P, col.data(), P, n ? 1.f : 0.f, w.data(), Kc);
      }
    };
  *ms = measure(fn, t);
  return true;
}

// ---- oneDNN ----

static double onednn_sgemm_loop(const Gemm& g, const Timing& t) {
  auto A = filled(g.nA()), B = filled(g.nB()), C = filled(g.nC());
  return measure([&] {
    for (long b = 0; b < g.batch; b++)
      dnnl_sgemm(g.transA ? 'T' : 'N', g.transB ? 'T' : 'N', g.M, g.N, g.K, 1.f, A.data() + b * g.strideA, g.lda, B.data() + b * g.strideB, g.ldb, 0.f,
                 C.data() + b * g.strideC, g.ldc);
  }, t);
}

// An operand as a (batch, rows, cols) memory desc with its strides; a shared matrix (stride 0)
// is a broadcast batch of 1.
static memory::desc operand(long batch, long rows, long cols, long ld, long stride, bool trans) {
  const long b = (batch > 1 && stride == 0) ? 1 : batch;
  const long bs = b == 1 ? rows * cols * ld : stride;  // unused for a batch of 1, any valid value
  memory::dims strides = trans ? memory::dims{bs, 1, ld} : memory::dims{bs, ld, 1};
  return memory::desc({b, rows, cols}, memory::data_type::f32, strides);
}

// The matmul primitive on the same strided layout, one call for the batch. Reference
// (untuned) implementations are reported, not timed.
static void onednn_matmul(const Gemm& g, const Timing& t, dnnl::engine& eng, dnnl::stream& s, Result& r) {
  auto a_md = operand(g.batch, g.M, g.K, g.lda, g.strideA, g.transA);
  auto b_md = operand(g.batch, g.K, g.N, g.ldb, g.strideB, g.transB);
  auto c_md = operand(g.batch, g.M, g.N, g.ldc, g.strideC, false);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), eng);
  } catch (const dnnl::error& e) {
    r.str("dnnl_matmul_impl", std::string("unsupported: ") + e.what());
    return;
  }
  const std::string impl = pd.impl_info_str();
  r.str("dnnl_matmul_impl", impl);
  if (impl.find("ref") != std::string::npos) return;
  auto A = filled(g.nA()), B = filled(g.nB()), C = filled(g.nC());
  memory ma(a_md, eng, A.data()), mb(b_md, eng, B.data()), mc(c_md, eng, C.data());
  dnnl::matmul prim(pd);
  r.num("dnnl_matmul_ms", measure([&] {
    prim.execute(s, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    s.wait();
  }, t));
}

// The convolution primitive. `plain`: NCHW / OIHW tensors as repmlp holds them; otherwise
// the layouts oneDNN picks (format_tag::any), timed without the reorders into them.
static void onednn_conv(const Conv& c, const Timing& t, dnnl::engine& eng, dnnl::stream& s, bool plain, Result& r) {
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  const std::string key = plain ? "dnnl_conv" : "dnnl_conv_blocked";
  memory::dims src = {c.N, c.Cin, c.H, c.W}, dst = {c.N, c.Cout, c.Ho(), c.Wo()};
  memory::dims wts = c.groups == 1 ? memory::dims{c.Cout, c.Cin, c.kh, c.kw} : memory::dims{c.groups, c.Cout / c.groups, c.Cin / c.groups, c.kh, c.kw};
  const tag wtag = plain ? (c.groups == 1 ? tag::oihw : tag::goihw) : tag::any;
  memory::desc src_md(src, f32, plain ? tag::nchw : tag::any), dst_md(dst, f32, plain ? tag::nchw : tag::any), w_md(wts, f32, wtag);
  memory::dims strides = {c.sh, c.sw}, pl = {c.ph, c.pw};
  memory::dims pr = {(c.Ho() - 1) * c.sh + c.kh - c.H - c.ph, (c.Wo() - 1) * c.sw + c.kw - c.W - c.pw};
  const auto algo = dnnl::algorithm::convolution_direct;
  try {
    dnnl::convolution_forward::primitive_desc fwd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_md, w_md, dst_md, strides, pl, pr), eng);
    std::function<void()> fn;
    std::string impl;
    std::vector<memory> keep;
    auto mem = [&](const memory::desc& d) {
      keep.emplace_back(d, eng);
      float* p = static_cast<float*>(keep.back().get_data_handle());
      for (size_t i = 0; i < d.get_size() / sizeof(float); i++) p[i] = std::sin(i * 0.37f);
      return keep.back();
    };
    if (c.kind == "fwd") {
      impl = fwd.impl_info_str();
      auto ms = mem(fwd.src_desc()), mw = mem(fwd.weights_desc()), md = mem(fwd.dst_desc());
      dnnl::convolution_forward prim(fwd);
      fn = [&, prim, ms, mw, md]() mutable { prim.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}}); s.wait(); };
    } else if (c.kind == "bwd_data") {
      dnnl::convolution_backward_data::primitive_desc pd(dnnl::convolution_backward_data::desc(algo, src_md, w_md, dst_md, strides, pl, pr), eng, fwd);
      impl = pd.impl_info_str();
      auto ms = mem(pd.diff_src_desc()), mw = mem(pd.weights_desc()), md = mem(pd.diff_dst_desc());
      dnnl::convolution_backward_data prim(pd);
      fn = [&, prim, ms, mw, md]() mutable { prim.execute(s, {{DNNL_ARG_DIFF_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_DST, md}}); s.wait(); };
    } else {
      dnnl::convolution_backward_weights::primitive_desc pd(dnnl::convolution_backward_weights::desc(algo, src_md, w_md, dst_md, strides, pl, pr), eng, fwd);
      impl = pd.impl_info_str();
      auto ms = mem(pd.src_desc()), mw = mem(pd.diff_weights_desc()), md = mem(pd.diff_dst_desc());
      dnnl::convolution_backward_weights prim(pd);
      fn = [&, prim, ms, mw, md]() mutable { prim.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DIFF_WEIGHTS, mw}, {DNNL_ARG_DIFF_DST, md}}); s.wait(); };
    }
    r.str(key + "_impl", impl);
    if (impl.find("ref") != std::string::npos) return;
    r.num(key + "_ms", measure(fn, t));
  } catch (const dnnl::error& e) {
    r.str(key + "_impl", std::string("unsupported: ") + e.what());
  }
}

static void print(const std::string& id, const Result& r) {
  std::cout << "{\"id\":\"" << id << "\"";
  for (auto& [k, v] : r.fields) std::cout << ",\"" << k << "\":" << v;
  std::cout << "}\n";
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: blas_peer <threads> <warmup> <repeats> <minSampleMs> < cases\n";
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const Timing t{std::atoi(argv[2]), std::atoi(argv[3]), std::atof(argv[4])};
  openblas_set_num_threads(threads);
  std::vector<Gemm> gemms;
  std::vector<Conv> convs;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string what;
    if (!(in >> what)) continue;
    if (what == "gemm") {
      Gemm g;
      in >> g.id >> g.M >> g.N >> g.K >> g.batch >> g.transA >> g.transB >> g.lda >> g.strideA >> g.ldb >> g.strideB >> g.ldc >> g.strideC;
      if (!in) { std::cerr << "bad case: " << line << "\n"; return 2; }
      gemms.push_back(g);
    } else if (what == "conv") {
      Conv c;
      in >> c.id >> c.kind >> c.N >> c.Cin >> c.H >> c.W >> c.Cout >> c.kh >> c.kw >> c.sh >> c.sw >> c.ph >> c.pw >> c.groups;
      if (!in) { std::cerr << "bad case: " << line << "\n"; return 2; }
      convs.push_back(c);
    } else {
      std::cerr << "bad case: " << line << "\n";
      return 2;
    }
  }
  const dnnl_version_t* v = dnnl_version();
  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::cout << "{\"info\":true,\"threads\":" << threads << ",\"openblas_threads\":" << openblas_get_num_threads() << ",\"openblas\":\"" << openblas_get_config()
            << "\",\"openblas_core\":\"" << openblas_get_corename() << "\",\"dnnl\":\"" << v->major << "." << v->minor << "." << v->patch << " (" << v->hash
            << ", cpu runtime " << (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other")
            << ")\",\"omp_num_threads\":\"" << (omp ? omp : "") << "\"}\n";
  std::cout.flush();

  std::map<std::string, Result> results;
  for (auto& g : gemms) results[g.id].num("openblas_ms", openblas_gemm(g, t));
  for (auto& c : convs) {
    double ms;
    if (openblas_conv(c, t, &ms)) results[c.id].num("openblas_ms", ms);
  }
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  for (auto& g : gemms) {
    results[g.id].num("dnnl_sgemm_ms", onednn_sgemm_loop(g, t));
    onednn_matmul(g, t, eng, s, results[g.id]);
  }
  for (auto& c : convs) {
    onednn_conv(c, t, eng, s, true, results[c.id]);
    onednn_conv(c, t, eng, s, false, results[c.id]);
  }
  for (auto& g : gemms) print(g.id, results[g.id]);
  for (auto& c : convs) print(c.id, results[c.id]);
  return 0;
}
