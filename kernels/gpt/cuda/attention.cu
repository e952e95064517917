// Causal multi-head self-attention from qkv; the twin of attention.cpp. The
// softmax backward uses softmaxInputGrad from gpt_math.h.
//
// A plain (not flash) formulation: it materialises att (B,NH,T,T) because the
// CPU interface saves it for backward. One block per (b, h, t) row.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

constexpr int kRowThreads = 128;  // threads per att row (scores, softmax)
constexpr int kHeadThreads = 64;  // threads per head slice (GPT-2 hs is 64)
constexpr int kReduceFloats = 32;
constexpr size_t kMaxSharedBytes = 48 * 1024;  // usable without opting in

struct RowIndex {
  size_t b;
  int h, t;
  size_t base;  // offset of head h's q at position 0 of batch row b in qkv
};

__device__ __forceinline__ RowIndex rowIndex(size_t task, int T, int C, int NH) {
  RowIndex r;
  r.t = static_cast<int>(task % T);
  r.h = static_cast<int>((task / T) % NH);
  r.b = task / (static_cast<size_t>(T) * NH);
  r.base = r.b * T * 3 * static_cast<size_t>(C) + static_cast<size_t>(r.h) * (C / NH);
  return r;
}

// Shared memory: reduction slots, q_t (hs), the row's scores (T).
template <typename A>
__global__ void attentionForwardKernel(A* out, A* att, const A* qkv, int T, int C, int NH, float scale) {
  extern __shared__ float shared[];
  float* reduce = shared;
  const int hs = C / NH;
  float* q = shared + kReduceFloats;
  float* scores = q + hs;
  const size_t task = blockIdx.x;
  const RowIndex r = rowIndex(task, T, C, NH);
  const size_t C3 = 3 * static_cast<size_t>(C);
  for (int i = threadIdx.x; i < hs; i += kRowThreads) q[i] = detail::load(qkv, r.base + r.t * C3 + i);
  __syncthreads();
  float localMax = -INFINITY;
  for (int t2 = threadIdx.x; t2 <= r.t; t2 += kRowThreads) {
    const size_t k = r.base + t2 * C3 + C;
    float dot = 0.0f;
    for (int i = 0; i < hs; ++i) dot += q[i] * detail::load(qkv, k + i);
    scores[t2] = dot * scale;
    localMax = fmaxf(localMax, scores[t2]);
  }
  const float maxScore = detail::blockMax<kRowThreads>(localMax, reduce);
  float localSum = 0.0f;
  for (int t2 = threadIdx.x; t2 <= r.t; t2 += kRowThreads) {
    scores[t2] = expf(scores[t2] - maxScore);
    localSum += scores[t2];
  }
  // blockSum ends with a barrier, so every exp is in shared memory after it.
  const float inverse = 1.0f / detail::blockSum<kRowThreads>(localSum, reduce);
  for (int t2 = threadIdx.x; t2 < T; t2 += kRowThreads)
    detail::store(att, task * T + t2, t2 <= r.t ? scores[t2] * inverse : 0.0f);
  const size_t o = (r.b * T + r.t) * C + static_cast<size_t>(r.h) * hs;
  for (int i = threadIdx.x; i < hs; i += kRowThreads) {
    float sum = 0.0f;
    for (int t2 = 0; t2 <= r.t; ++t2) sum += scores[t2] * inverse * detail::load(qkv, r.base + t2 * C3 + 2 * C + i);
    detail::store(out, o + i, sum);
  }
}

// Pass 1, one block per (b, h, t): dscore[t2] = d(q_t . k_t2) for t2 <= t,
// through out_t = sum att v and the softmax. Shared: reduction, dout_t (hs),
// d(att) of the row (T).
template <typename A>
__global__ void attentionScoreGradKernel(float* dscores, const float* dout, const A* qkv, const A* att, int T, int C,
                                         int NH, float scale) {
  extern __shared__ float shared[];
  float* reduce = shared;
  const int hs = C / NH;
  float* d = shared + kReduceFloats;
  float* datt = d + hs;
  const size_t task = blockIdx.x;
  const RowIndex r = rowIndex(task, T, C, NH);
  const size_t C3 = 3 * static_cast<size_t>(C);
  const size_t o = (r.b * T + r.t) * C + static_cast<size_t>(r.h) * hs;
  for (int i = threadIdx.x; i < hs; i += kRowThreads) d[i] = dout[o + i];
  __syncthreads();
  const size_t row = task * T;
  float localDot = 0.0f;
  for (int t2 = threadIdx.x; t2 <= r.t; t2 += kRowThreads) {
    const size_t v = r.base + t2 * C3 + 2 * C;
    float dot = 0.0f;
    for (int i = 0; i < hs; ++i) dot += d[i] * detail::load(qkv, v + i);
    datt[t2] = dot;
    localDot += detail::load(att, row + t2) * dot;
  }
  const float pDotDp = detail::blockSum<kRowThreads>(localDot, reduce);
  for (int t2 = threadIdx.x; t2 <= r.t; t2 += kRowThreads)
    dscores[row + t2] = softmaxInputGrad(detail::load(att, row + t2), datt[t2], pDotDp) * scale;
}

// Pass 2, one block per (b, h, t), threads over the head's channels: the
// dq, dk and dv rows of position t, each summed in time order and added once.
// dk and dv need column t of dscore and att (every later query), which is why
// pass 1 had to finish first.
template <typename A>
__global__ void attentionQkvGradKernel(float* dqkv, const float* dscores, const float* dout, const A* qkv,
                                       const A* att, int T, int C, int NH) {
  const size_t task = blockIdx.x;
  const RowIndex r = rowIndex(task, T, C, NH);
  const int hs = C / NH;
  const size_t C3 = 3 * static_cast<size_t>(C);
  const size_t headRows = task - r.t;  // task of (b, h, 0)
  const size_t dst = (r.b * T + r.t) * C3 + static_cast<size_t>(r.h) * hs;
  for (int i = threadIdx.x; i < hs; i += kHeadThreads) {
    float dq = 0.0f;
    for (int t2 = 0; t2 <= r.t; ++t2)
      dq += dscores[(headRows + r.t) * T + t2] * detail::load(qkv, r.base + t2 * C3 + C + i);
    float dk = 0.0f, dv = 0.0f;
    for (int t1 = r.t; t1 < T; ++t1) {
      const size_t cell = (headRows + t1) * T + r.t;
      dk += dscores[cell] * detail::load(qkv, r.base + t1 * C3 + i);
      dv += detail::load(att, cell) * dout[(r.b * T + t1) * C + static_cast<size_t>(r.h) * hs + i];
    }
    dqkv[dst + i] += dq;
    dqkv[dst + C + i] += dk;
    dqkv[dst + 2 * static_cast<size_t>(C) + i] += dv;
  }
}

std::string checkShape(const char* function, int B, int T, int C, int NH) {
  if (B < 0 || T < 0 || C < 0 || NH < 1 || C % NH != 0)
    return detail::badArguments(function, "needs B, T, C >= 0, NH >= 1 and C a multiple of NH");
  const size_t rows = static_cast<size_t>(B) * NH * T;
  if (rows > 0x7fffffffu) return detail::badArguments(function, "B*NH*T exceeds the grid");
  if ((kReduceFloats + static_cast<size_t>(C / NH) + T) * sizeof(float) > kMaxSharedBytes)
    return detail::badArguments(function, "T + C/NH too large for one row in shared memory");
  return {};
}

}  // namespace

std::string attentionForward(void* out, void* att, const void* qkv, int B, int T, int C, int NH, ActivationType type,
                             void* stream) {
  if (std::string error = checkShape("attentionForward", B, T, C, NH); !error.empty()) return error;
  const unsigned rows = static_cast<unsigned>(static_cast<size_t>(B) * NH * T);
  if (rows == 0 || C == 0) return {};
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  const size_t shared = (kReduceFloats + static_cast<size_t>(hs) + T) * sizeof(float);
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    attentionForwardKernel<A><<<rows, kRowThreads, shared, detail::asStream(stream)>>>(
        static_cast<A*>(out), static_cast<A*>(att), static_cast<const A*>(qkv), T, C, NH, scale);
    return detail::checkLaunch("attentionForwardKernel");
  });
}

std::string attentionBackward(float* dqkv, const float* dout, const void* qkv, const void* att, int B, int T, int C,
                              int NH, ActivationType type, float* scoreScratch, void* stream) {
  if (std::string error = checkShape("attentionBackward", B, T, C, NH); !error.empty()) return error;
  const unsigned rows = static_cast<unsigned>(static_cast<size_t>(B) * NH * T);
  if (rows == 0 || C == 0) return {};
  if (scoreScratch == nullptr) return detail::badArguments("attentionBackward", "needs scoreScratch");
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  const size_t shared = (kReduceFloats + static_cast<size_t>(hs) + T) * sizeof(float);
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    const A* x = static_cast<const A*>(qkv);
    const A* p = static_cast<const A*>(att);
    attentionScoreGradKernel<A><<<rows, kRowThreads, shared, detail::asStream(stream)>>>(scoreScratch, dout, x, p, T,
                                                                                         C, NH, scale);
    std::string error = detail::checkLaunch("attentionScoreGradKernel");
    if (!error.empty()) return error;
    attentionQkvGradKernel<A><<<rows, kHeadThreads, 0, detail::asStream(stream)>>>(dqkv, scoreScratch, dout, x, p, T,
                                                                                   C, NH);
    return detail::checkLaunch("attentionQkvGradKernel");
  });
}

}  // namespace loom::gpt::cuda
