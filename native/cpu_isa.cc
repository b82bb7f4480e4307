#include "cpu_isa.h"

#include <atomic>
#include <cstdlib>

#include "common.h"

namespace repmlp::cpu_isa {
namespace {

Isa checked(Isa want, const std::string& who) {
  if (want > supported())
    throw Error(who + ": this CPU supports at most " + name(supported()) + ", not '" + name(want) + "'");
  return want;
}

Isa parse(const std::string& v, const std::string& who) {
  if (v == "avx512") return checked(Isa::Avx512, who);
  if (v == "avx2") return checked(Isa::Avx2, who);
  throw Error(who + ": expected 'avx512' or 'avx2' but received '" + v + "'");
}

Isa from_env() {
  const char* v = std::getenv("REPMLP_CPU_ISA");
  return v && v[0] ? parse(v, "REPMLP_CPU_ISA") : supported();
}

std::atomic<int>& selected() {
  static std::atomic<int> isa{static_cast<int>(from_env())};
  return isa;
}

}  // namespace

Isa supported() {
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
      return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
    return Isa::Baseline;
  }();
  return isa;
}

Isa current() { return static_cast<Isa>(selected().load(std::memory_order_relaxed)); }

const char* name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "baseline";
  }
}

void set(Isa isa, const std::string& who) {
  selected().store(static_cast<int>(checked(isa, who)), std::memory_order_relaxed);
}

void check_env() { from_env(); }

}  // namespace repmlp::cpu_isa
