// CUDA launchers of the GPT-2 trainer's kernels, the GPU twins of the CPU
// kernels in kernels/gpt/*.h: same tensors, same row-major layouts, same
// shapes, and backward functions ACCUMULATE (+=) into gradient buffers exactly
// as the CPU ones do. The element formulas come from kernels/gpt/gpt_math.h, so
// the CPU tests check the math the GPU runs.
//
// This header is plain C++ (no CUDA headers) so host code built by g++ can
// call the launchers: streams and the cuBLAS handle travel as void*. A null
// stream is the legacy default stream. Every pointer argument is device memory
// unless its name says host.
//
// Errors: every launcher returns std::string ([[nodiscard]]), empty on success, otherwise the
// failing call and cudaGetErrorString / the cuBLAS status. Launches are
// asynchronous, so a fault while a kernel runs is reported by a later call (or
// by synchronizeStream). No exceptions, no abort.
//
// Dtype policy: the activation tensors a forward op reads or writes (and that
// backward reads back) are ActivationType, fp32 or bf16 (bits as
// loom::Bfloat16 in kernels/numeric.h, the same as __nv_bfloat16 and
// CUDA_R_16BF). Parameters, every gradient (of parameters and of activations),
// the optimizer state, LayerNorm's mean/rstd and losses stay fp32, and every
// sum is accumulated in fp32 (the norm in double). The one exception is the
// matmul forward's weight, which is an activation-type compute copy (see
// matmulForward).
//
// Determinism: as on the CPU, every output element has one writer that sums in
// a fixed order, and no kernel uses atomics, so results are the same bits run
// to run on one GPU model (cuBLAS too, given one stream per handle). They are
// not meant to equal the CPU's bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loom::gpt::cuda {

enum class ActivationType { kFloat32, kBfloat16 };

// Bytes of one element of the type (4 or 2).
size_t activationBytes(ActivationType type);

// --- Device probe --------------------------------------------------------------
struct GpuStatus {
  bool usable;
  std::string message;  // why not, or which device
};

// Safe without a driver or GPU: reports "no GPU usable: cudaGetDeviceCount: ..."
// instead of failing. A device counts as usable when device 0 has compute
// capability >= 8.0 (the kernels are built for sm_80 and newer).
GpuStatus probeGpu();

// Waits for the stream; returns the first asynchronous error it saw.
[[nodiscard]] std::string synchronizeStream(void* stream);

// --- cuBLAS handle ---------------------------------------------------------------
// Owns one cublasHandle_t. Not copyable; movable. matmul binds it to the
// stream it is given on each call.
class CublasHandle {
 public:
  CublasHandle() = default;
  ~CublasHandle();
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  CublasHandle(CublasHandle&& other) noexcept;
  CublasHandle& operator=(CublasHandle&& other) noexcept;

  [[nodiscard]] std::string create();   // no-op when already created
  [[nodiscard]] std::string destroy();  // no-op when not created
  bool valid() const { return handle_ != nullptr; }
  void* get() const { return handle_; }  // the cublasHandle_t

 private:
  void* handle_ = nullptr;
};

// --- Dtype conversion ------------------------------------------------------------
// dst (n, type) = src (n, fp32), rounding to nearest even for bf16: makes the
// bf16 compute copy of the weights after each optimizer step.
[[nodiscard]] std::string castFloatToActivation(void* dst, const float* src, size_t n, ActivationType type, void* stream);
// dst (n, fp32) = src (n, type); exact.
[[nodiscard]] std::string castActivationToFloat(float* dst, const void* src, size_t n, ActivationType type, void* stream);

// --- Embedding (embedding.h) -----------------------------------------------------
// out (B,T,C) activation; wte (V,C), wpe (maxT,C) fp32.
[[nodiscard]] std::string embeddingForward(void* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C,
                             ActivationType type, void* stream);
// dwte, dwpe, dout fp32. Positions sharing a token add into dwte in (b,t)
// order, as on the CPU (one thread per channel walks the positions).
[[nodiscard]] std::string embeddingBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C,
                              void* stream);

// --- LayerNorm (layernorm.h) -----------------------------------------------------
// out, inp (B,T,C) activation; weight, bias (C), mean, rstd (B,T) fp32.
[[nodiscard]] std::string layerNormForward(void* out, float* mean, float* rstd, const void* inp, const float* weight,
                             const float* bias, int B, int T, int C, ActivationType type, void* stream);
// dinp, dweight, dbias, dout fp32; inp activation.
[[nodiscard]] std::string layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout, const void* inp,
                              const float* weight, const float* mean, const float* rstd, int B, int T, int C,
                              ActivationType type, void* stream);

// --- Matmul (matmul.h), cuBLAS with fp32 compute ----------------------------------
// out (B*T,OC) = inp (B*T,C) · weight^T + bias. out, inp and weight are all of
// `type`: cuBLAS needs both operands of one type, so with bf16 activations the
// caller passes the bf16 compute copy of the weight (castFloatToActivation of
// the fp32 master). bias (OC) fp32, may be null. With bf16, the bias is
// rounded to bf16 before it is added (it seeds cuBLAS's C operand).
[[nodiscard]] std::string matmulForward(void* out, const void* inp, const void* weight, const float* bias, int B, int T, int C, int OC,
                          ActivationType type, CublasHandle& cublas, void* stream);
// dinp (B*T,C) += dout · weight; dweight (OC,C) += dout^T · inp; dbias (OC) +=
// column sums of dout. dout, weight (the fp32 master), dinp, dweight, dbias are
// fp32; dinp and dbias may be null. inp is of `type`; with bf16 it is widened
// into inpScratch (B*T*C floats, device) first so dweight is an fp32 GEMM;
// inpScratch may be null for fp32.
[[nodiscard]] std::string matmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const void* inp,
                           const float* weight, int B, int T, int C, int OC, ActivationType type, float* inpScratch,
                           CublasHandle& cublas, void* stream);

// --- Attention (attention.h) -------------------------------------------------------
// out (B,T,C), att (B,NH,T,T), qkv (B,T,3C) activation. One block per row of
// att keeps the row's T scores and one head vector in 48 KiB of shared memory,
// so T + C/NH <= 12256 (an error otherwise).
[[nodiscard]] std::string attentionForward(void* out, void* att, const void* qkv, int B, int T, int C, int NH, ActivationType type,
                             void* stream);
// dqkv (B,T,3C) += ...; dqkv, dout fp32; qkv, att activation. scoreScratch:
// B*NH*T*T floats (device) for the gradient of the pre-softmax scores, which
// the dk pass reads by column.
[[nodiscard]] std::string attentionBackward(float* dqkv, const float* dout, const void* qkv, const void* att, int B, int T, int C,
                              int NH, ActivationType type, float* scoreScratch, void* stream);

// --- GELU (gelu.h) -------------------------------------------------------------------
// out, inp (N) activation; dinp += geluDerivative(inp) * dout, dinp and dout fp32.
[[nodiscard]] std::string geluForward(void* out, const void* inp, size_t N, ActivationType type, void* stream);
[[nodiscard]] std::string geluBackward(float* dinp, const void* inp, const float* dout, size_t N, ActivationType type,
                         void* stream);

// --- Residual (residual.h) -------------------------------------------------------------
// out = inp1 + inp2, all (N) activation; dinp1 += dout, dinp2 += dout, fp32.
[[nodiscard]] std::string residualForward(void* out, const void* inp1, const void* inp2, size_t N, ActivationType type,
                            void* stream);
[[nodiscard]] std::string residualBackward(float* dinp1, float* dinp2, const float* dout, size_t N, void* stream);

// --- Softmax + cross-entropy (cross_entropy.h) -------------------------------------------
// logits (B,T,V) activation; losses, dlosses (B,T) and dlogits (B,T,V) fp32.
// Backward recomputes the probabilities with the forward's code.
[[nodiscard]] std::string crossEntropyForward(float* losses, const void* logits, const int32_t* targets, int B, int T, int V,
                                ActivationType type, void* stream);
[[nodiscard]] std::string crossEntropyBackward(float* dlogits, const float* dlosses, const void* logits, const int32_t* targets,
                                 int B, int T, int V, ActivationType type, void* stream);

// --- AdamW and the global norm (adamw.h) ---------------------------------------------------
// Updates n elements (any slice, so a rank updates its shard), all fp32, with
// adamwElement (gpt_math.h). The step constants come from makeAdamWStep. When
// clipNormSquared (device, one double) is not null, every element's gradient
// is further scaled by gradClipScale(*clipNormSquared, maxNorm), computed on
// the device so clipping needs no host round trip.
[[nodiscard]] std::string adamwUpdate(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                        float beta2, float eps, float weightDecay, int step, float gradScale,
                        const double* clipNormSquared, float maxNorm, void* stream);

// Doubles of scratch globalNormSquared needs for n elements: one per block of
// kNormBlock (4096, adamw.h) elements, plus one for globalNormSquaredToHost.
size_t globalNormScratchDoubles(size_t n);

// *deviceTotal += sum(grad^2) over n elements, in double: each 4096-element
// block is summed in a fixed order, then the block sums in order. Adding
// (rather than writing) lets several tensors and shards share one total; zero
// it once per step. scratch: globalNormScratchDoubles(n) doubles (device).
[[nodiscard]] std::string globalNormSquared(double* deviceTotal, double* scratch, const float* grad, size_t n, void* stream);

// The same, returning the value to the host: it synchronizes the stream.
[[nodiscard]] std::string globalNormSquaredToHost(double* hostResult, double* scratch, const float* grad, size_t n, void* stream);

}  // namespace loom::gpt::cuda
