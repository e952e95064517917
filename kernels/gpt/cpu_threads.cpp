#include "kernels/gpt/cpu_threads.h"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace loom::gpt {
namespace {

// 0 = not chosen yet: the default is read at first use, and again after a reset.
std::atomic<int> gThreads{0};

int defaultThreads() {
  if (const char* env = std::getenv("LOOM_TRAIN_THREADS")) {
    int value = 0;
    const char* end = env + std::strlen(env);
    const auto [ptr, ec] = std::from_chars(env, end, value);
    if (ec == std::errc() && ptr == end && value > 0) return value;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

}  // namespace

void setCpuThreads(int threads) { gThreads.store(threads > 0 ? threads : 0); }

int cpuThreads() {
  int threads = gThreads.load();
  if (threads == 0) {
    threads = defaultThreads();
    int expected = 0;
    gThreads.compare_exchange_strong(expected, threads);
  }
  return threads;
}

float* threadScratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

}  // namespace loom::gpt
