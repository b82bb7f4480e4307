// MPI opened at run time. The package ships no MPI and links none, so the prebuilt binary
// loads where MPI is absent; the library is found with dlopen when distributed training
// starts or `repmlp info` asks.
//
// MPI fixes its API but not its ABI: Open MPI's handles (MPI_Comm, MPI_Datatype, MPI_Op, ...)
// are pointers to exported globals (&ompi_mpi_comm_world, &ompi_mpi_float, &ompi_mpi_op_sum),
// MPICH's (and its derivatives': Intel MPI, MVAPICH, Cray MPICH) are int constants
// (0x44000000, 0x4c00040a, 0x58000003). repmlp uses a dozen MPI-3 calls, declares them once
// as a template over the handle types, and instantiates that template for each ABI with its
// handles (mpi.cc): the implementation is told by the library's exports (Open MPI exports
// ompi_mpi_comm_world), and each call is made with exactly its C signature. Nothing else of
// the MPI headers is needed, so the addon builds without any MPI installed.
//
// Search order (the first file that loads and exports the calls wins; every attempt is
// recorded):
//   1. $REPMLP_MPI_PATH: a libmpi file, or a folder holding one
//   2. libmpi.so.40 (Open MPI), libmpi.so.12, libmpich.so.12 (MPICH), libmpi.so through
//      the default dlopen search (LD_LIBRARY_PATH, the ldconfig cache, the system folders)
//   3. the same names in $MPI_HOME/lib, /usr/lib/x86_64-linux-gnu/openmpi/lib,
//      /usr/lib64/openmpi/lib, /usr/lib64/mpich/lib, /opt/openmpi/lib, /opt/mpich/lib
// The library is opened with RTLD_GLOBAL, as Open MPI's plugins need, and kept for the life
// of the process.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../dl.h"

namespace repmlp::dist {

enum class MpiImpl { OpenMpi, Mpich };

struct MpiStatus {
  bool found = false;
  std::string path;            // the libmpi that was loaded
  std::string implementation;  // "Open MPI" or "MPICH"
  std::string version;         // the first line of MPI_Get_library_version
  std::vector<dl::Attempt> tried;
};

// The element types and reductions the collectives take.
enum class Type { F32, F64, I64, Byte };
enum class Op { Sum, Max, Min };

// A pending non-blocking operation (MPI_Request, a pointer or an int by ABI).
struct Request {
  alignas(8) unsigned char bytes[8] = {};
};

// The calls repmlp makes, with the handles of the implementation in place. Every method
// returns the MPI error code (0 = MPI_SUCCESS); what() turns one into words. All of them but
// abort() are made from one thread (dist/comm.cc's), which also called init().
class Mpi {
 public:
  virtual ~Mpi() = default;
  virtual MpiImpl impl() const = 0;
  // MPI_Init_thread(required) unless MPI is initialised already; *provided: the level given.
  virtual int init(int required, int* provided) = 0;
  // MPI_COMM_WORLD's rank and size, and those of the node's shared-memory communicator.
  virtual int world(int* rank, int* size) = 0;
  virtual int node(int* rank, int* size) = 0;
  // Errors on MPI_COMM_WORLD return codes instead of aborting (MPI_ERRORS_RETURN).
  virtual int errors_return() = 0;
  // The non-blocking collectives over MPI_COMM_WORLD (MPI_I...), each started into *r.
  // reduce_scatter_block: send holds size blocks of count elements; block k reduced over the
  // ranks goes to rank k's recv (count elements). allgather: each rank's count elements of
  // send, in rank order, to every rank's recv (size * count elements).
  virtual int reduce_scatter_block(const void* send, void* recv, int count, Type t, Op op, Request* r) = 0;
  virtual int allgather(const void* send, void* recv, int count, Type t, Request* r) = 0;
  virtual int bcast(void* buf, int count, Type t, int root, Request* r) = 0;
  virtual int barrier(Request* r) = 0;
  // *done = 1 once r has completed.
  virtual int test(Request* r, int* done) = 0;
  virtual int finalize() = 0;
  virtual void abort(int code) = 0;
  virtual std::string what(int code) = 0;
};

// MPI_THREAD_FUNNELED (the same value in both ABIs): MPI calls come from the thread that
// initialised MPI.
constexpr int kThreadFunneled = 1;

// Runs the search if MPI is not loaded yet, and reports the outcome (never throws).
MpiStatus mpi_status();

// The loaded library; throws repmlp::Error listing every attempt, and how to install MPI,
// when none loads.
Mpi& mpi();

}  // namespace repmlp::dist
