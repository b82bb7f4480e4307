// The distributed world of this process and its collectives.
//
// Before init (and after init_local) the world is this process alone: rank 0 of 1, and every
// collective is the identity, on any device, with nothing loaded. init_mpi() joins the world
// an MPI launcher started (mpirun, mpiexec, srun with PMI): MPI is opened (dist/mpi.h) and
// initialised on a communication thread, which from then on makes every MPI call, in the
// order the calls below were made (every rank makes the same calls in the same order, so
// their collectives pair up). A watchdog thread aborts every rank (MPI_Abort) when one
// collective has not completed within the timeout: a rank that failed or stopped cannot
// leave the others waiting for ever.
//
// CPU memory goes through MPI; an allreduce is a reduce-scatter then an allgather, so that
// each element is reduced on one rank and every rank receives the very same bits (weights
// updated from the averaged gradients stay identical on every rank). CUDA memory goes
// through NCCL (cuda/nccl.h) on the default stream, in stream order, with the
// communicator made at the first CUDA collective from rank 0's unique id broadcast over MPI.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "../common.h"
#include "mpi.h"

namespace repmlp::dist {

struct WorldInfo {
  bool initialized = false;  // init_local or init_mpi was called
  bool finalized = false;
  std::string engine = "local";  // "local" (this process alone) or "mpi"
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;  // on this machine (MPI's shared-memory communicator)
  int thread_level = 0;                // MPI's, as given by MPI_Init_thread
  std::string implementation, library, version;  // of the MPI library
  double timeout_seconds = 0;
  int cuda_device = -1;  // the device this rank uses (local_rank modulo the devices), -1 when none
};

WorldInfo world();

// A world of this process alone (idempotent; refused after init_mpi).
WorldInfo init_local();
// Joins the launcher's world (idempotent). timeout_seconds > 0 bounds every collective.
WorldInfo init_mpi(double timeout_seconds);

size_t type_size(Type t);

// Blocking collectives over `count` elements at buf, on device d: in place. Identity on a
// world of one; errors (a failed MPI or NCCL call, a finalised world) throw repmlp::Error.
void allreduce(Device d, void* buf, int64_t count, Type t, Op op);
void broadcast(Device d, void* buf, int64_t count, Type t, int root);
// For the batch norm of many ranks (ops/batchnorm.cc, cuda/batchnorm.cu): n doubles at p
// (memory of device d) summed over the world in place; a count summed over the world.
void sum_over_world(Device d, double* p, int64_t n);
int64_t count_over_world(int64_t local);

// Every rank has reached it (on CUDA after this rank's queued work, NCCL's included, is done).
void barrier();

// A sum over the world of a buffer that the operation owns, started now and completed by
// wait(): the CPU's on the communication thread while the caller goes on, CUDA's in stream
// order. data() holds count elements (float32), on the device given.
class PendingSum {
 public:
  virtual ~PendingSum() = default;
  virtual float* data() = 0;
  virtual int64_t count() const = 0;
  virtual Device device() const = 0;
  // Starts the sum of data() (once).
  virtual void start() = 0;
  // Blocks until the sum is in data(); throws the operation's error.
  virtual void wait() = 0;
};
std::unique_ptr<PendingSum> make_pending_sum(Device d, int64_t count);

// Aborts every rank with `code` (MPI_Abort); in a world of one, exits the process.
[[noreturn]] void abort(int code);
// Leaves the world (MPI_Finalize, collective); later collectives are refused.
void finalize();

}  // namespace repmlp::dist
