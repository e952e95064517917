// How many threads the CPU kernels use, and the one loop they parallelise with.
//
// The count is cpuThreads(): setCpuThreads(n) if called with n > 0, else the
// environment variable LOOM_TRAIN_THREADS if it holds a positive integer, else
// std::thread::hardware_concurrency() (at least 1). setCpuThreads(0) or a
// negative value goes back to that default (re-reading the environment).
//
// The count never changes a result: kernels split work into tasks whose
// boundaries depend only on the tensor shapes, each output element belongs to
// one task, and parallelFor only decides which thread runs which task (see
// README.md, "Determinism"). Built without OpenMP, parallelFor runs the tasks
// in order on the calling thread.
#pragma once

#include <cstddef>

namespace loom::gpt {

void setCpuThreads(int threads);
int cpuThreads();

// Runs body(task) for task in [0, tasks), in parallel when there is more than
// one task and one thread. body must only write what its own task owns.
template <typename Body>
void parallelFor(long tasks, const Body& body) {
#if defined(_OPENMP)
  const long wanted = cpuThreads();
  const long threads = wanted < tasks ? wanted : tasks;
  if (threads > 1) {
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(threads))
    for (long task = 0; task < tasks; ++task) body(task);
    return;
  }
#endif
  for (long task = 0; task < tasks; ++task) body(task);
}

// Runs body(begin, end) over [0, n) in pieces of `chunk` elements, in parallel:
// for element-wise kernels, whose results do not depend on the pieces.
template <typename Body>
void parallelForChunks(size_t n, size_t chunk, const Body& body) {
  parallelFor(static_cast<long>((n + chunk - 1) / chunk), [&](long piece) {
    const size_t begin = static_cast<size_t>(piece) * chunk;
    body(begin, n - begin < chunk ? n : begin + chunk);
  });
}

// Element-wise kernels hand threads this many elements at a time: enough work
// per task to be worth a thread.
constexpr size_t kElementChunk = size_t{1} << 14;

// A per-thread buffer of at least `floats` floats, reused across calls so the
// kernels do not allocate per task. Valid until the same thread asks again;
// contents are unspecified.
float* threadScratch(size_t floats);

}  // namespace loom::gpt
