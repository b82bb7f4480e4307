// cuBLAS opened at run time. The package ships no cuBLAS and is built where its headers
// may be missing, so the few types and entry points used here are declared by hand with
// the ABI of cublas_api.h, and the library is found with dlopen on first use.
//
// Search order (the first folder or name that loads wins; every attempt is recorded):
//   1. $REPMLP_CUBLAS_PATH: a libcublas file, or a folder holding one
//   2. libcublas.so.13, libcublas.so.12, libcublas.so through the default dlopen search
//      (LD_LIBRARY_PATH, the ldconfig cache, the system folders)
//   3. $CUDA_HOME/lib64, /usr/local/cuda/lib64, $CONDA_PREFIX/lib (a CUDA toolkit)
//   4. pip wheels: <site-packages>/nvidia/cu13/lib and <site-packages>/nvidia/cublas/lib
//      for the site-packages of $VIRTUAL_ENV, $CONDA_PREFIX, every python3 on $PATH
//      (<prefix>/bin/python3 -> <prefix>/lib), ~/.local, /usr/local/lib and /usr/lib (every
//      python3* found there)
// In each folder libcublasLt (same version) is opened first with RTLD_GLOBAL so that
// libcublas resolves against it. A found library is kept for the life of the process; a
// failed search is repeated on the next request (so REPMLP_CUBLAS_PATH may be set later).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../dl.h"

namespace repmlp::cuda {

// ---- the ABI of cublas_api.h (values as in the CUDA 12 and 13 headers) ----
struct cublasContext;
typedef cublasContext* cublasHandle_t;

enum cublasStatus_t : int {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16,
};

enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };

enum cublasMath_t : int { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };

// libraryPropertyType of library_types.h, as cublasGetProperty takes it.
enum cublasLibraryProperty : int { CUBLAS_PROPERTY_MAJOR = 0, CUBLAS_PROPERTY_MINOR = 1, CUBLAS_PROPERTY_PATCH = 2 };

// The entry points, resolved by their exported names (the _v2 ones where cublas_api.h
// maps the plain name to them with a macro).
struct CublasApi {
  cublasStatus_t (*create)(cublasHandle_t* handle);                       // cublasCreate_v2
  cublasStatus_t (*destroy)(cublasHandle_t handle);                       // cublasDestroy_v2
  cublasStatus_t (*get_version)(cublasHandle_t handle, int* version);     // cublasGetVersion_v2
  cublasStatus_t (*get_property)(cublasLibraryProperty type, int* value);  // cublasGetProperty
  cublasStatus_t (*set_stream)(cublasHandle_t handle, cudaStream_t stream);  // cublasSetStream_v2
  cublasStatus_t (*set_math_mode)(cublasHandle_t handle, cublasMath_t mode);  // cublasSetMathMode
  cublasStatus_t (*sgemm)(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                          int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                          const float* beta, float* C, int ldc);  // cublasSgemm_v2
  cublasStatus_t (*sgemm_strided_batched)(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const float* alpha, const float* A, int lda,
                                          long long strideA, const float* B, int ldb, long long strideB,
                                          const float* beta, float* C, int ldc, long long strideC,
                                          int batchCount);  // cublasSgemmStridedBatched
};

// One attempt of the search: the file or folder (or bare name) and why it did not load.
using CublasAttempt = dl::Attempt;

struct CublasStatus {
  bool found = false;
  std::string path;     // the libcublas that was loaded
  std::string version;  // "major.minor.patch", empty when unknown
  std::vector<CublasAttempt> tried;
  bool tf32 = false;
};

// Runs the search if cuBLAS is not loaded yet, and reports the outcome (never throws).
CublasStatus cublas_status();

// The loaded entry points; throws repmlp::Error listing every attempt when none loads.
const CublasApi& cublas();

// The handle of the current device (created on first use, bound to the default stream,
// math mode following the TF32 setting); throws repmlp::Error on failure.
cublasHandle_t cublas_handle();

// TF32 tensor cores for float32 GEMMs: off unless REPMLP_TF32=1, or set here.
bool tf32_enabled();
void set_tf32(bool on);

const char* cublas_status_name(cublasStatus_t s);
// Throws repmlp::Error("<what>: <status name> (<hint>)") unless s is success.
void cublas_check(cublasStatus_t s, const char* what);

}  // namespace repmlp::cuda
