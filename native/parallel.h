// A small persistent thread pool for the CPU kernels. parallel_for splits [0, n) into
// contiguous chunks of at least `grain` items; a call made from inside a worker runs
// serially, so kernels may nest (a batched GEMM calling a parallel GEMM) without deadlock.
#pragma once
#include <cstdint>
#include <functional>

namespace repmlp {

// fn(begin, end) is called on disjoint chunks covering [0, n).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

int num_threads();
void set_num_threads(int n);  // 1..1024; the default is the number of hardware threads

}  // namespace repmlp
