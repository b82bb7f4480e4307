// The instruction set the CPU kernels that dispatch by hand run with. The GEMM's AVX-512
// micro-kernel (ops/gemm.cc) runs where the CPU has AVX-512 (F, VL, DQ, BW) and the AVX2 one
// otherwise; the other vectorised kernels pick their own clone (AVX2 or baseline x86-64) when
// the addon loads. One binary holds every path.
//
// REPMLP_CPU_ISA=avx2 (or setCpuIsa("avx2")) keeps the GEMM on the AVX2 kernel on an AVX-512
// CPU: both kernels add each product in the same order with fused multiply-adds. With alpha 1
// and beta 0 their results are bit-identical; where alpha and beta scale the sum they can
// differ by an ulp (the compiler fuses that last multiply-add differently in each).
#pragma once
#include <string>

namespace repmlp::cpu_isa {

enum class Isa { Baseline, Avx2, Avx512 };

// The best the CPU supports.
Isa supported();
// The one in effect: supported(), or lower when REPMLP_CPU_ISA or set() asked for it.
Isa current();
// "avx512", "avx2" or "baseline".
const char* name(Isa isa);
// Selects the GEMM's kernel (Avx512 or Avx2), at most what the CPU supports: an Error naming
// `who` otherwise.
void set(Isa isa, const std::string& who);
// REPMLP_CPU_ISA, checked when the addon loads (env::check_all).
void check_env();

}  // namespace repmlp::cpu_isa
