// The instruction set the CPU kernels that dispatch by hand run with. The GEMM's AVX-512
// micro-kernel (ops/gemm.cc) runs where the CPU has AVX-512 (F, VL, DQ, BW) and the AVX2 one
// otherwise; the other vectorised loops (REPMLP_VECTOR_CLONES) pick their own clone (AVX-512,
// AVX2 or baseline x86-64) from the CPU's features when the addon loads, whatever
// REPMLP_CPU_ISA says. One binary holds every path.
//
// REPMLP_CPU_ISA=avx2 (or setCpuIsa("avx2")) keeps the GEMM on the AVX2 kernel on an AVX-512
// CPU: both kernels add each product in the same order with fused multiply-adds. With alpha 1
// and beta 0 their results are bit-identical; where alpha and beta scale the sum they can
// differ by an ulp (the compiler fuses that last multiply-add differently in each).
#pragma once
#include <string>

// A vectorised loop compiled three times, for x86-64-v4 (AVX-512 F/VL/DQ/BW/CD), x86-64-v3
// (AVX2 + FMA) and baseline x86-64, the loader's resolver picking the best the CPU has. The
// clones compute each element with the same operations (FMA contraction included), so an
// elementwise loop gives the same bits on the AVX-512 and AVX2 clones; a loop that sums
// across lanes may round its sum differently in each.
#define REPMLP_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

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
