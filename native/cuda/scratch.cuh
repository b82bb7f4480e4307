// Temporary device memory for one kernel call (partial sums and the like), taken from the
// caching allocator and given back when it goes out of scope, on every exit path. Handing
// it back right after the launches is safe: everything runs on one stream, so the next user
// of the block starts after these kernels finish.
#pragma once
#include <cstddef>

#include "../device.h"

namespace repmlp::cuda {

template <typename T>
class Scratch {
 public:
  explicit Scratch(size_t count) : p_(count ? static_cast<T*>(cuda::malloc(count * sizeof(T))) : nullptr) {}
  ~Scratch() { cuda::free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

}  // namespace repmlp::cuda
