// The CUDA emulator's cuBLAS: a libcublas.so.13 with the entry points repmlp resolves
// (native/cuda/cublas.h), so that its run-time loader, its row-major to column-major mapping
// and its argument checks are exercised as on a GPU. GEMMs follow the cuBLAS reference
// semantics (column-major; beta == 0 does not read C) with double accumulation, and reject
// the arguments cuBLAS rejects with CUBLAS_STATUS_INVALID_VALUE.
#include <algorithm>
#include <cstdint>
#include <vector>

extern "C" {

typedef int cublasStatus_t;  // 0 success, 1 not initialized, 7 invalid value
typedef int cublasOperation_t;  // 0 N, 1 T, 2 C
struct cublasContext {
  int math_mode;
  void* stream;
};
typedef cublasContext* cublasHandle_t;

#define EXPORT __attribute__((visibility("default")))

EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return 7;
  *handle = new cublasContext{0, nullptr};
  return 0;
}
EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return 1;
  delete handle;
  return 0;
}
EXPORT cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version) {
  if (!handle) return 1;
  *version = 130000;
  return 0;
}
EXPORT cublasStatus_t cublasGetProperty(int type, int* value) {
  switch (type) {
    case 0: *value = 13; return 0;
    case 1: *value = 0; return 0;
    case 2: *value = 0; return 0;
  }
  return 7;
}
EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, void* stream) {
  if (!handle) return 1;
  handle->stream = stream;
  return 0;
}
EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t handle, int mode) {
  if (!handle) return 1;
  handle->math_mode = mode;
  return 0;
}

EXPORT cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                                                int m, int n, int k, const float* alpha, const float* A, int lda,
                                                long long strideA, const float* B, int ldb, long long strideB,
                                                const float* beta, float* C, int ldc, long long strideC, int batch) {
  if (!handle) return 1;
  const int rowsA = ta == 0 ? m : k, rowsB = tb == 0 ? k : n;
  auto max1 = [](int v) { return v > 1 ? v : 1; };
  if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0 || batch < 0 || lda < max1(rowsA) ||
      ldb < max1(rowsB) || ldc < max1(m))
    return 7;
  // Column j of C at a time, summed in double: as axpys over A's columns when A is not
  // transposed (its columns are contiguous), else as dot products over A's rows.
  std::vector<double> acc(static_cast<size_t>(m)), bcol(static_cast<size_t>(k));
  for (int b = 0; b < batch; ++b) {
    const float* a = A + b * strideA;
    const float* bb = B + b * strideB;
    float* c = C + b * strideC;
    for (int j = 0; j < n; ++j) {
      auto b_at = [&](int p) { return static_cast<double>(tb == 0 ? bb[p + int64_t{j} * ldb] : bb[j + int64_t{p} * ldb]); };
      std::fill(acc.begin(), acc.end(), 0.0);
      if (ta == 0) {
        for (int p = 0; p < k; ++p) {
          const double bv = b_at(p);
          const float* col = a + int64_t{p} * lda;
          for (int i = 0; i < m; ++i) acc[i] += col[i] * bv;
        }
      } else {
        for (int p = 0; p < k; ++p) bcol[p] = b_at(p);
        for (int i = 0; i < m; ++i) {
          const float* row = a + int64_t{i} * lda;
          double s[4] = {0, 0, 0, 0};
          int p = 0;
          for (; p + 4 <= k; p += 4)
            for (int q = 0; q < 4; ++q) s[q] += row[p + q] * bcol[p + q];
          for (; p < k; ++p) s[0] += row[p] * bcol[p];
          acc[i] = (s[0] + s[1]) + (s[2] + s[3]);
        }
      }
      for (int i = 0; i < m; ++i) {
        float& out = c[i + int64_t{j} * ldc];
        const float r = static_cast<float>(*alpha * acc[i]);
        out = *beta == 0.f ? r : r + *beta * out;
      }
    }
  }
  return 0;
}

EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                     int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                                     const float* beta, float* C, int ldc) {
  return cublasSgemmStridedBatched(handle, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

}  // extern "C"
