// Choosing the reduce kernel: what the CPU runs, capped by LOOM_CPU_FEATURES.
#include "kernels/reduce_dispatch.h"

#include <cstdlib>
#include <strings.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define LOOM_REDUCE_X86_DETECT 1
#endif

namespace loom::reduce_dispatch {
namespace {

#if defined(LOOM_REDUCE_X86_DETECT)
// F16C by CPUID (leaf 1, ECX bit 29): clang's __builtin_cpu_supports does not
// know the name. Every CPU with AVX2 has had it, but checking costs nothing.
bool cpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
#endif

bool cpuRuns(Isa isa) {
#if defined(LOOM_REDUCE_X86_DETECT)
  __builtin_cpu_init();
  // __builtin_cpu_supports reports AVX and AVX-512 only if the OS also saves
  // their registers (XGETBV), which is what makes them usable.
  const bool avx2 = __builtin_cpu_supports("avx2") && cpuHasF16c();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

// The highest ISA LOOM_CPU_FEATURES allows; no cap when unset or unknown.
Isa capFromEnvironment() {
  const char* v = std::getenv("LOOM_CPU_FEATURES");
  if (v == nullptr) return Isa::kAvx512;
  if (strcasecmp(v, "scalar") == 0) return Isa::kScalar;
  if (strcasecmp(v, "avx2") == 0) return Isa::kAvx2;
  return Isa::kAvx512;
}

struct Choice {
  Isa isa;
  Kernel kernel;
};

Choice choose() {
  const Isa cap = capFromEnvironment();
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
    if (static_cast<int>(isa) > static_cast<int>(cap)) continue;
    if (Kernel k = kernelFor(isa)) return {isa, k};
  }
  return {Isa::kScalar, &reduceElementsScalar};
}

// Chosen at the first reduction rather than at load time, so the choice never
// races other static initialisers and a test can set the variable first.
const Choice& choice() {
  static const Choice chosen = choose();
  return chosen;
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

Kernel kernelFor(Isa isa) {
  if (!cpuRuns(isa)) return nullptr;
  switch (isa) {
    case Isa::kScalar: return &reduceElementsScalar;
    case Isa::kAvx2: return avx2KernelIfBuilt();
    case Isa::kAvx512: return avx512KernelIfBuilt();
  }
  return nullptr;
}

Kernel selectedKernel() { return choice().kernel; }
Isa selectedIsa() { return choice().isa; }

}  // namespace loom::reduce_dispatch
