// The GPT-2 model of the bundled trainer: shape, parameters, forward,
// backward and sampling, on the CPU kernels of kernels/gpt/.
//
// Architecture (GPT-2): token + position embedding; `layers` pre-LayerNorm
// blocks of causal multi-head attention and a GELU MLP (4C hidden), each
// added to the residual stream; a final LayerNorm; the output head tied to
// wte (logits = lnf(x) · wte^T, no bias); softmax cross-entropy.
//
// Parameters. ONE contiguous float array holds every parameter and ONE
// gradient array of the same length and layout holds their gradients, so a
// data-parallel all-reduce or a ZeRO shard works on flat ranges. Layout, in
// this order (each row-major):
//
//   wte (V,C)  wpe (maxT,C)
//   layer 0: ln1w (C) ln1b (C) qkvw (3C,C) qkvb (3C) attprojw (C,C) attprojb (C)
//            ln2w (C) ln2b (C) fcw (4C,C) fcb (4C) fcprojw (C,4C) fcprojb (C)
//   layer 1 ... layer L-1 (same)
//   lnfw (C) lnfb (C)
//
// Each layer's tensors are contiguous (not llm.c's "all ln1w, then all ln1b"),
// so each layer's gradients are one range that is final once that layer's
// backward is done (see backward's hook). Count:
//   V·C + maxT·C + L·(12C² + 13C) + 2C.
//
// Initialisation (GPT-2): weights (wte, wpe, qkvw, attprojw, fcw, fcprojw)
// normal with std 0.02, the residual projections attprojw and fcprojw scaled
// by 1/sqrt(2·layers); LayerNorm weights 1; all biases 0. The normals come
// from Xoshiro256 (trainer/random.h) via Box-Muller, drawn tensor by tensor in
// layout order, so a seed gives the same parameters on every run.
//
// Nothing throws. Invalid configs are refused by create() with a Status;
// forward() on shapes or tokens out of range is a programming error and
// aborts with a message (it is on the hot path and returns a loss).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

struct GptConfig {
  int vocabSize = 64;   // V
  int maxSeqLen = 64;   // maxT: rows of wpe; forward's T may be at most this
  int layers = 2;       // L
  int heads = 4;        // NH; must divide channels
  int channels = 64;    // C

  // OK, or an error naming the offending field and value, e.g.
  // "heads=3 does not divide channels=64", "layers=0 must be positive".
  // Also refuses shapes whose parameter count or (V·C, 4C·C) products do not
  // fit comfortably in int (the kernels take int shapes).
  Status validate() const;

  // Number of floats in the parameter array (formula in the file comment).
  size_t parameterCount() const;

  // For checkpoints (TrainingCheckpoint::modelConfig, checkModelConfig):
  // {vocab_size, max_seq_len, layers, heads, channels}.
  std::map<std::string, int64_t> toNamedIntegers() const;
  // The inverse; refuses missing or out-of-int-range fields, then validate()s.
  static Result<GptConfig> fromNamedIntegers(const std::map<std::string, int64_t>& named);
};

// One named tensor inside the parameter (and gradient) array.
struct GptTensorInfo {
  std::string name;     // "wte", "wpe", "h0.ln1w", ..., "h1.fcprojb", "lnfw", "lnfb"
  size_t offset = 0;    // in floats, into parameters() / gradients()
  size_t count = 0;     // floats
  bool isMatrix = false;  // a 2-D weight (wte, wpe, qkvw, attprojw, fcw, fcprojw):
                          // the tensors GPT-2 applies weight decay to
};

// Called by backward when the gradients in [offset, offset + count) of the
// gradient array (in floats) are final for this backward call: nothing later
// in the call writes them. Ranges are reported in this order, covering the
// whole array exactly once: lnf (lnfw, lnfb), layer L-1, ..., layer 0, wpe,
// and wte last (tied: it gets the output head's gradient first and the
// embedding's last). A data-parallel trainer can start all-reducing a range
// while the earlier layers are still computing. backward only adds into the
// gradient array and never reads it back, so the hook (or another thread it
// starts) may read or even rewrite a reported range (e.g. average it in
// place) while backward goes on.
using GradientsReadyHook = std::function<void(size_t offset, size_t count)>;

class GptModel {
 public:
  // Validates the config, allocates the parameter and gradient arrays, and
  // initialises the parameters from `seed` (gradients zero).
  static Result<GptModel> create(const GptConfig& config, uint64_t seed);

  const GptConfig& config() const { return config_; }
  size_t parameterCount() const { return parameters_.size(); }

  // The flat arrays (same length and layout) and the named tensors in them,
  // in layout order.
  std::span<float> parameters() { return parameters_; }
  std::span<const float> parameters() const { return parameters_; }
  std::span<float> gradients() { return gradients_; }
  std::span<const float> gradients() const { return gradients_; }
  const std::vector<GptTensorInfo>& tensors() const { return tensors_; }
  // The tensor named `name` (as in GptTensorInfo::name); empty if unknown.
  std::span<float> parameter(const std::string& name);
  std::span<float> gradient(const std::string& name);
  // [offset, offset + count) of layer `layer`'s twelve tensors.
  std::pair<size_t, size_t> layerRange(int layer) const;

  // Runs the model on B sequences of T tokens (inputs (B,T), each in [0,V),
  // 1 <= T <= maxSeqLen). With targets (B,T), returns the mean cross-entropy
  // over the B·T positions (nats) and keeps what backward needs; with null
  // targets returns 0 and only the logits are meaningful (backward is then
  // not allowed). Activations are allocated for (B,T) and reused while the
  // shape stays the same. inputs/targets are copied; the caller's buffers
  // may change after the call.
  float forward(const int32_t* inputs, const int32_t* targets, int B, int T);

  // (B,T,V) logits of the last forward; per-position losses (B,T) when it had targets.
  std::span<const float> logits() const { return logits_; }
  std::span<const float> losses() const { return losses_; }

  // Sets the whole gradient array to zero. Call once per optimizer step.
  void zeroGrad();

  // Backpropagates the last forward (which must have had targets) and ADDS
  // the gradient of  lossScale · (mean loss of that forward)  to gradients().
  //
  // Gradient accumulation: for M micro-steps per optimizer step, call
  // zeroGrad() once, then forward + backward(1.0f / M) per micro-step; the
  // gradient array then holds the gradient of the mean loss over all M·B·T
  // positions. (Data parallel over N ranks: additionally average across
  // ranks, i.e. all-reduce sum and scale by 1/N, or pass 1/(M·N) here and sum.)
  //
  // onGradientsReady, if set, is called for each range as it becomes final
  // for this call (see GradientsReadyHook); with accumulation the values are
  // final for this micro-step, not for the optimizer step. It is called on
  // the calling thread. The gradients are bitwise the same with or without it.
  void backward(float lossScale = 1.0f, const GradientsReadyHook& onGradientsReady = {});
  void backward(const GradientsReadyHook& onGradientsReady) { backward(1.0f, onGradientsReady); }

  // Continues `prompt` (non-empty, ids in [0,V)) by `steps` tokens and returns
  // those new tokens. Each step recomputes the forward over the last
  // min(length, maxSeqLen) tokens. temperature <= 0: greedy (argmax, lowest
  // id on ties); otherwise sample from softmax(logits / temperature) with
  // Xoshiro256(seed). Overwrites the activations: do not call between forward
  // and backward.
  std::vector<int32_t> sample(std::span<const int32_t> prompt, int steps, float temperature, uint64_t seed);

 private:
  struct LayerActivations {
    std::vector<float> ln1, ln1Mean, ln1Rstd, qkv, atty, att, attproj, residual2;
    std::vector<float> ln2, ln2Mean, ln2Rstd, fch, fchGelu, fcproj, residual3;
  };
  // Pointers into parameters_ (or gradients_) for one layer.
  struct LayerTensors {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
  };

  GptModel() = default;
  void buildLayout();
  void initialize(uint64_t seed);
  void allocateActivations(int B, int T);
  LayerTensors layerTensors(float* base, int layer) const;

  GptConfig config_;
  std::vector<float> parameters_;
  std::vector<float> gradients_;
  std::vector<GptTensorInfo> tensors_;
  size_t layerStride_ = 0;       // floats per layer
  size_t firstLayerOffset_ = 0;  // offset of layer 0
  size_t lnfOffset_ = 0;         // offset of lnfw

  // Activations of the last forward, sized for (B_, T_).
  int B_ = 0, T_ = 0;
  bool hasTargets_ = false;
  std::vector<int32_t> inputs_, targets_;
  std::vector<float> encoded_;
  std::vector<LayerActivations> layerActs_;
  std::vector<float> lnf_, lnfMean_, lnfRstd_, logits_, losses_;
};

}  // namespace loom::trainer
