// NCCL opened at run time, for collectives over CUDA memory (dist/comm.h). As with cuBLAS, the
// package ships no NCCL and is built where its headers may be missing: the few types and
// entry points used are declared by hand with the ABI of nccl.h (NCCL 2), and the library
// is found with dlopen at the first CUDA collective (or when `repmlp info` asks).
//
// Search order (the first file that loads and exports the calls wins; every attempt is
// recorded): $REPMLP_NCCL_PATH (a libnccl file or a folder holding one); libnccl.so.2 and
// libnccl.so through the default dlopen search; then the folders cuBLAS is looked for in:
// $CUDA_HOME/lib64, /usr/local/cuda/lib64, $CONDA_PREFIX/lib, and pip's
// <site-packages>/nvidia/nccl/lib (nvidia-nccl-cu12, nvidia-nccl-cu13).
//
// The communicator spans the whole world, one rank per process on the device the process
// uses; it is made at the first collective from rank 0's unique id, which the world
// broadcasts to the other ranks over MPI. Every collective is queued on the default stream,
// like every kernel, so it runs in stream order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../dist/mpi.h"
#include "../dl.h"

namespace repmlp::cuda {

struct NcclStatus {
  bool found = false;
  std::string path;     // the libnccl that was loaded
  std::string version;  // "major.minor.patch"
  std::vector<dl::Attempt> tried;
};

// Runs the search if NCCL is not loaded yet, and reports the outcome (never throws).
NcclStatus nccl_status();

// What the communicator needs of the world: this rank, the ranks, and a broadcast of rank
// 0's unique id (bytes) to every rank.
struct NcclWorld {
  int rank;
  int size;
  std::function<void(void* id, size_t bytes)> share_id;
};

// count elements of t at buf (device memory) reduced over the world in place, or rank
// root's copied to every rank, queued on the default stream. Throw repmlp::Error naming the
// NCCL error (or every place NCCL was looked for when it is missing).
void nccl_allreduce(const NcclWorld& w, void* buf, int64_t count, dist::Type t, dist::Op op);
void nccl_broadcast(const NcclWorld& w, void* buf, int64_t count, dist::Type t, int root);

// Waits until the device has run everything queued (NCCL's collectives included), polling
// so that an asynchronous NCCL error is reported; false when timeout_seconds (> 0) passed
// first. Throws repmlp::Error on a CUDA or NCCL error.
bool nccl_wait_idle(double timeout_seconds);

// Destroys the communicator, if one was made (when the world is finalised).
void nccl_destroy();

}  // namespace repmlp::cuda
