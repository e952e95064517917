// LayerNorm forward and backward; the twin of layernorm.cpp. dinp uses
// layerNormInputGrad from gpt_math.h.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

// One warp per row: GPT-2's C (768..1600) gives each lane a few dozen
// elements, and a warp reduction needs no shared memory or block barrier.
constexpr int kRowsPerBlock = 8;
constexpr int kRowThreads = 32 * kRowsPerBlock;

template <typename T>
__global__ void layerNormForwardKernel(T* out, float* mean, float* rstd, const T* inp, const float* weight,
                                       const float* bias, size_t rows, int C) {
  const size_t row = blockIdx.x * size_t{kRowsPerBlock} + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;  // whole warps leave together, so shuffles stay full
  const size_t base = row * C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) sum += detail::load(inp, base + c);
  const float m = detail::warpSum(sum) / static_cast<float>(C);
  // Two passes, as on the CPU: E[x^2] - mean^2 cancels badly.
  float squares = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float d = detail::load(inp, base + c) - m;
    squares += d * d;
  }
  const float var = detail::warpSum(squares) / static_cast<float>(C);
  const float r = 1.0f / sqrtf(var + kLayerNormEps);
  for (int c = lane; c < C; c += 32)
    detail::store(out, base + c, (detail::load(inp, base + c) - m) * r * weight[c] + bias[c]);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

template <typename T>
__global__ void layerNormBackwardInputKernel(float* dinp, const float* dout, const T* inp, const float* weight,
                                             const float* mean, const float* rstd, size_t rows, int C) {
  const size_t row = blockIdx.x * size_t{kRowsPerBlock} + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const size_t base = row * C;
  const float m = mean[row], r = rstd[row];
  float sumG = 0.0f, sumGNorm = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float g = dout[base + c] * weight[c];
    sumG += g;
    sumGNorm += g * ((detail::load(inp, base + c) - m) * r);
  }
  const float meanG = detail::warpSum(sumG) / static_cast<float>(C);
  const float meanGNorm = detail::warpSum(sumGNorm) / static_cast<float>(C);
  for (int c = lane; c < C; c += 32) {
    const float norm = (detail::load(inp, base + c) - m) * r;
    dinp[base + c] += layerNormInputGrad(dout[base + c] * weight[c], norm, meanG, meanGNorm, r);
  }
}

// dweight and dbias sum over every row. A block owns 32 channels (coalesced
// reads) and splits the rows into kRowGroups interleaved groups; the group
// sums are then added in group order, so each element has one writer and a
// fixed order without atomics or scratch memory.
constexpr int kRowGroups = 16;

template <typename T>
__global__ void layerNormBackwardParamsKernel(float* dweight, float* dbias, const float* dout, const T* inp,
                                              const float* mean, const float* rstd, size_t rows, int C) {
  __shared__ float partialW[kRowGroups][32];
  __shared__ float partialB[kRowGroups][32];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float sumW = 0.0f, sumB = 0.0f;
  if (c < C) {
    for (size_t row = threadIdx.y; row < rows; row += kRowGroups) {
      const float d = dout[row * C + c];
      sumW += d * ((detail::load(inp, row * C + c) - mean[row]) * rstd[row]);
      sumB += d;
    }
  }
  partialW[threadIdx.y][threadIdx.x] = sumW;
  partialB[threadIdx.y][threadIdx.x] = sumB;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float totalW = 0.0f, totalB = 0.0f;
    for (int g = 0; g < kRowGroups; ++g) {
      totalW += partialW[g][threadIdx.x];
      totalB += partialB[g][threadIdx.x];
    }
    dweight[c] += totalW;
    dbias[c] += totalB;
  }
}

std::string checkShape(const char* function, int B, int T, int C) {
  if (B < 0 || T < 0 || C < 0) return detail::badArguments(function, "negative shape");
  return {};
}

}  // namespace

std::string layerNormForward(void* out, float* mean, float* rstd, const void* inp, const float* weight,
                             const float* bias, int B, int T, int C, ActivationType type, void* stream) {
  if (std::string error = checkShape("layerNormForward", B, T, C); !error.empty()) return error;
  const size_t rows = static_cast<size_t>(B) * T;
  if (rows == 0 || C == 0) return {};
  const unsigned blocks = static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    layerNormForwardKernel<A><<<blocks, kRowThreads, 0, detail::asStream(stream)>>>(
        static_cast<A*>(out), mean, rstd, static_cast<const A*>(inp), weight, bias, rows, C);
    return detail::checkLaunch("layerNormForwardKernel");
  });
}

std::string layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout, const void* inp,
                              const float* weight, const float* mean, const float* rstd, int B, int T, int C,
                              ActivationType type, void* stream) {
  if (std::string error = checkShape("layerNormBackward", B, T, C); !error.empty()) return error;
  const size_t rows = static_cast<size_t>(B) * T;
  if (rows == 0 || C == 0) return {};
  const unsigned rowBlocks = static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    const A* x = static_cast<const A*>(inp);
    layerNormBackwardInputKernel<A><<<rowBlocks, kRowThreads, 0, detail::asStream(stream)>>>(dinp, dout, x, weight,
                                                                                             mean, rstd, rows, C);
    std::string error = detail::checkLaunch("layerNormBackwardInputKernel");
    if (!error.empty()) return error;
    layerNormBackwardParamsKernel<A><<<(C + 31) / 32, dim3(32, kRowGroups), 0, detail::asStream(stream)>>>(
        dweight, dbias, dout, x, mean, rstd, rows, C);
    return detail::checkLaunch("layerNormBackwardParamsKernel");
  });
}

}  // namespace loom::gpt::cuda
