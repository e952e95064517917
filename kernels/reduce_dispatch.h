// Which instruction set reduceElements runs with, chosen once per process.
//
// reduceElements (kernels/reduce.h) keeps one signature for every caller; the
// choice lives behind it. There is one kernel per instruction set, all built
// from the same loops (kernels/reduce_loops.h), so they give identical bits:
//   scalar  the baseline x86-64 (SSE2) build, and the only one elsewhere;
//   avx2    AVX2 + F16C (half <-> float in hardware);
//   avx512  AVX-512 F/BW/VL + F16C, 512-bit vectors.
// The best one the CPU runs (__builtin_cpu_supports, which also checks that
// the OS saves the vector registers) is used, unless the environment variable
// LOOM_CPU_FEATURES caps it: "scalar", "avx2" or "avx512" (case-insensitive;
// a cap the CPU cannot run falls to the best it can; "auto", empty or unset
// mean no cap; anything else is ignored). It is read once, at the first
// reduction, to rule the vector code in or out when chasing a numeric
// difference or comparing speed.
#pragma once

#include <cstddef>

#include "loom/types.h"

namespace loom::reduce_dispatch {

enum class Isa { kScalar, kAvx2, kAvx512 };

// The contract of reduceElements.
using Kernel = void (*)(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count);

// The baseline kernel, always present (kernels/reduce_scalar.cpp).
void reduceElementsScalar(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count);

// The vector kernels, or nullptr where this build has none (not x86-64, or a
// compiler without per-function targets). Defined in reduce_avx2.cpp and
// reduce_avx512.cpp; they do not check the CPU.
Kernel avx2KernelIfBuilt();
Kernel avx512KernelIfBuilt();

const char* isaName(Isa isa);

// The kernel for isa if this build has it and this CPU runs it, else nullptr.
// Tests use it to run every available kernel against the scalar one.
Kernel kernelFor(Isa isa);

// The kernel reduceElements uses, and its ISA: chosen at the first call from
// the CPU and LOOM_CPU_FEATURES, then fixed.
Kernel selectedKernel();
Isa selectedIsa();

}  // namespace loom::reduce_dispatch
