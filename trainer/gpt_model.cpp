// The GPT-2 model on the CPU kernels; see gpt_model.h.
#include "trainer/gpt_model.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kernels/gpt/attention.h"
#include "kernels/gpt/cross_entropy.h"
#include "kernels/gpt/embedding.h"
#include "kernels/gpt/gelu.h"
#include "kernels/gpt/layernorm.h"
#include "kernels/gpt/matmul.h"
#include "kernels/gpt/residual.h"
#include "trainer/random.h"

namespace loom::trainer {
namespace {

constexpr size_t kTensorsPerLayer = 12;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "GptModel: %s\n", what);
  std::abort();
}

}  // namespace

// ---------------------------------------------------------------- GptConfig

Status GptConfig::validate() const {
  const std::pair<const char*, int> fields[] = {
      {"vocabSize", vocabSize}, {"maxSeqLen", maxSeqLen}, {"layers", layers}, {"heads", heads},
      {"channels", channels}};
  for (const auto& [name, value] : fields) {
    if (value <= 0) return Status::invalidArgument("GptConfig: %s=%d must be positive", name, value);
  }
  if (channels % heads != 0) {
    return Status::invalidArgument("GptConfig: heads=%d does not divide channels=%d", heads, channels);
  }
  // The kernels take int shapes: keep every per-tensor product well inside int.
  const int64_t c = channels;
  if (int64_t{vocabSize} * c > INT_MAX || int64_t{maxSeqLen} * c > INT_MAX || 4 * c * c > INT_MAX) {
    return Status::invalidArgument(
        "GptConfig: vocabSize=%d, maxSeqLen=%d, channels=%d give a tensor of more than %d floats", vocabSize,
        maxSeqLen, channels, INT_MAX);
  }
  return Status::ok();
}

size_t GptConfig::parameterCount() const {
  const size_t c = static_cast<size_t>(channels);
  return static_cast<size_t>(vocabSize) * c + static_cast<size_t>(maxSeqLen) * c +
         static_cast<size_t>(layers) * (12 * c * c + 13 * c) + 2 * c;
}

std::map<std::string, int64_t> GptConfig::toNamedIntegers() const {
  return {{"vocab_size", vocabSize}, {"max_seq_len", maxSeqLen}, {"layers", layers}, {"heads", heads},
          {"channels", channels}};
}

Result<GptConfig> GptConfig::fromNamedIntegers(const std::map<std::string, int64_t>& named) {
  GptConfig config;
  const std::pair<const char*, int*> fields[] = {{"vocab_size", &config.vocabSize},
                                                 {"max_seq_len", &config.maxSeqLen},
                                                 {"layers", &config.layers},
                                                 {"heads", &config.heads},
                                                 {"channels", &config.channels}};
  for (const auto& [name, field] : fields) {
    const auto it = named.find(name);
    if (it == named.end()) return Status::invalidArgument("GptConfig: %s is missing", name);
    if (it->second < INT_MIN || it->second > INT_MAX) {
      return Status::invalidArgument("GptConfig: %s=%lld is out of range", name,
                                     static_cast<long long>(it->second));
    }
    *field = static_cast<int>(it->second);
  }
  LOOM_RETURN_IF_ERROR(config.validate());
  return config;
}

// ---------------------------------------------------------------- layout, init

Result<GptModel> GptModel::create(const GptConfig& config, uint64_t seed) {
  LOOM_RETURN_IF_ERROR(config.validate());
  GptModel model;
  model.config_ = config;
  model.buildLayout();
  model.parameters_.assign(config.parameterCount(), 0.0f);
  model.gradients_.assign(config.parameterCount(), 0.0f);
  model.initialize(seed);
  return model;
}

void GptModel::buildLayout() {
  const size_t V = config_.vocabSize, T = config_.maxSeqLen, C = config_.channels;
  size_t offset = 0;
  auto add = [&](std::string name, size_t count, bool isMatrix) {
    tensors_.push_back({std::move(name), offset, count, isMatrix});
    offset += count;
  };
  add("wte", V * C, true);
  add("wpe", T * C, true);
  firstLayerOffset_ = offset;
  for (int l = 0; l < config_.layers; ++l) {
    const std::string p = "h" + std::to_string(l) + ".";
    add(p + "ln1w", C, false);
    add(p + "ln1b", C, false);
    add(p + "qkvw", 3 * C * C, true);
    add(p + "qkvb", 3 * C, false);
    add(p + "attprojw", C * C, true);
    add(p + "attprojb", C, false);
    add(p + "ln2w", C, false);
    add(p + "ln2b", C, false);
    add(p + "fcw", 4 * C * C, true);
    add(p + "fcb", 4 * C, false);
    add(p + "fcprojw", 4 * C * C, true);
    add(p + "fcprojb", C, false);
    if (l == 0) layerStride_ = offset - firstLayerOffset_;
  }
  lnfOffset_ = offset;
  add("lnfw", C, false);
  add("lnfb", C, false);
}

GptModel::LayerTensors GptModel::layerTensors(float* base, int layer) const {
  const size_t first = 2 + static_cast<size_t>(layer) * kTensorsPerLayer;
  float* t[kTensorsPerLayer];
  for (size_t i = 0; i < kTensorsPerLayer; ++i) t[i] = base + tensors_[first + i].offset;
  return {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11]};
}

std::pair<size_t, size_t> GptModel::layerRange(int layer) const {
  return {firstLayerOffset_ + static_cast<size_t>(layer) * layerStride_, layerStride_};
}

std::span<float> GptModel::parameter(const std::string& name) {
  for (const GptTensorInfo& t : tensors_) {
    if (t.name == name) return std::span<float>(parameters_).subspan(t.offset, t.count);
  }
  return {};
}

std::span<float> GptModel::gradient(const std::string& name) {
  for (const GptTensorInfo& t : tensors_) {
    if (t.name == name) return std::span<float>(gradients_).subspan(t.offset, t.count);
  }
  return {};
}

void GptModel::initialize(uint64_t seed) {
  Xoshiro256 random(seed);
  // Box-Muller on 53-bit uniforms; one normal per pair of draws (the second
  // is discarded so each value depends only on its position in the stream).
  auto normal = [&random]() {
    const double u1 = 1.0 - random.uniformUnit();  // (0, 1]
    const double u2 = random.uniformUnit();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  const double residualScale = 1.0 / std::sqrt(2.0 * config_.layers);
  for (const GptTensorInfo& t : tensors_) {
    float* p = parameters_.data() + t.offset;
    const std::string_view name(t.name);
    const auto endsWith = [&](std::string_view suffix) {
      return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    };
    if (t.isMatrix) {
      const bool residual = endsWith("attprojw") || endsWith("fcprojw");
      const double std = 0.02 * (residual ? residualScale : 1.0);
      for (size_t i = 0; i < t.count; ++i) p[i] = static_cast<float>(std * normal());
    } else if (endsWith("ln1w") || endsWith("ln2w") || name == "lnfw") {
      std::fill(p, p + t.count, 1.0f);
    } else {
      std::fill(p, p + t.count, 0.0f);
    }
  }
}

void GptModel::zeroGrad() { std::fill(gradients_.begin(), gradients_.end(), 0.0f); }

// ---------------------------------------------------------------- forward

void GptModel::allocateActivations(int B, int T) {
  if (B == B_ && T == T_) return;
  const size_t BT = static_cast<size_t>(B) * T, C = config_.channels, NH = config_.heads;
  const size_t V = config_.vocabSize;
  encoded_.assign(BT * C, 0.0f);
  layerActs_.assign(config_.layers, {});
  for (LayerActivations& a : layerActs_) {
    a.ln1.assign(BT * C, 0.0f);
    a.ln1Mean.assign(BT, 0.0f);
    a.ln1Rstd.assign(BT, 0.0f);
    a.qkv.assign(BT * 3 * C, 0.0f);
    a.atty.assign(BT * C, 0.0f);
    a.att.assign(static_cast<size_t>(B) * NH * T * T, 0.0f);
    a.attproj.assign(BT * C, 0.0f);
    a.residual2.assign(BT * C, 0.0f);
    a.ln2.assign(BT * C, 0.0f);
    a.ln2Mean.assign(BT, 0.0f);
    a.ln2Rstd.assign(BT, 0.0f);
    a.fch.assign(BT * 4 * C, 0.0f);
    a.fchGelu.assign(BT * 4 * C, 0.0f);
    a.fcproj.assign(BT * C, 0.0f);
    a.residual3.assign(BT * C, 0.0f);
  }
  lnf_.assign(BT * C, 0.0f);
  lnfMean_.assign(BT, 0.0f);
  lnfRstd_.assign(BT, 0.0f);
  logits_.assign(BT * V, 0.0f);
  losses_.assign(BT, 0.0f);
  B_ = B;
  T_ = T;
}

float GptModel::forward(const int32_t* inputs, const int32_t* targets, int B, int T) {
  const int V = config_.vocabSize, C = config_.channels, NH = config_.heads, L = config_.layers;
  if (B <= 0 || T <= 0 || T > config_.maxSeqLen) fail("forward: need B >= 1 and 1 <= T <= maxSeqLen");
  if (static_cast<int64_t>(B) * T * std::max(4 * C, V) > INT_MAX) fail("forward: B*T too large");
  const size_t BT = static_cast<size_t>(B) * T;
  for (size_t i = 0; i < BT; ++i) {
    if (inputs[i] < 0 || inputs[i] >= V) fail("forward: input token out of [0, vocabSize)");
    if (targets != nullptr && (targets[i] < 0 || targets[i] >= V)) {
      fail("forward: target token out of [0, vocabSize)");
    }
  }
  allocateActivations(B, T);
  inputs_.assign(inputs, inputs + BT);
  hasTargets_ = targets != nullptr;
  if (hasTargets_) targets_.assign(targets, targets + BT);

  float* params = parameters_.data();
  const float* wte = params + tensors_[0].offset;
  const float* wpe = params + tensors_[1].offset;
  gpt::embeddingForward(encoded_.data(), inputs_.data(), wte, wpe, B, T, C);
  const float* residual = encoded_.data();
  for (int l = 0; l < L; ++l) {
    LayerActivations& a = layerActs_[l];
    const LayerTensors w = layerTensors(params, l);
    gpt::layerNormForward(a.ln1.data(), a.ln1Mean.data(), a.ln1Rstd.data(), residual, w.ln1w, w.ln1b, B, T, C);
    gpt::matmulForward(a.qkv.data(), a.ln1.data(), w.qkvw, w.qkvb, B, T, C, 3 * C);
    gpt::attentionForward(a.atty.data(), a.att.data(), a.qkv.data(), B, T, C, NH);
    gpt::matmulForward(a.attproj.data(), a.atty.data(), w.attprojw, w.attprojb, B, T, C, C);
    gpt::residualForward(a.residual2.data(), residual, a.attproj.data(), BT * C);
    gpt::layerNormForward(a.ln2.data(), a.ln2Mean.data(), a.ln2Rstd.data(), a.residual2.data(), w.ln2w, w.ln2b,
                          B, T, C);
    gpt::matmulForward(a.fch.data(), a.ln2.data(), w.fcw, w.fcb, B, T, C, 4 * C);
    gpt::geluForward(a.fchGelu.data(), a.fch.data(), BT * 4 * C);
    gpt::matmulForward(a.fcproj.data(), a.fchGelu.data(), w.fcprojw, w.fcprojb, B, T, 4 * C, C);
    gpt::residualForward(a.residual3.data(), a.residual2.data(), a.fcproj.data(), BT * C);
    residual = a.residual3.data();
  }
  gpt::layerNormForward(lnf_.data(), lnfMean_.data(), lnfRstd_.data(), residual, params + lnfOffset_,
                        params + lnfOffset_ + C, B, T, C);
  gpt::matmulForward(logits_.data(), lnf_.data(), wte, nullptr, B, T, C, V);
  if (!hasTargets_) return 0.0f;
  gpt::crossEntropyForward(losses_.data(), logits_.data(), targets_.data(), B, T, V);
  double sum = 0;
  for (size_t i = 0; i < BT; ++i) sum += losses_[i];
  return static_cast<float>(sum / static_cast<double>(BT));
}

// ---------------------------------------------------------------- backward

void GptModel::backward(float lossScale, const GradientsReadyHook& onGradientsReady) {
  if (B_ == 0 || !hasTargets_) fail("backward: needs a forward with targets first");
  const int B = B_, T = T_, V = config_.vocabSize, C = config_.channels, NH = config_.heads;
  const int L = config_.layers;
  const size_t BT = static_cast<size_t>(B) * T, BTC = BT * C;
  auto ready = [&](size_t offset, size_t count) {
    if (onGradientsReady) onGradientsReady(offset, count);
  };

  const float* params = parameters_.data();
  float* grads = gradients_.data();
  const float* wte = params + tensors_[0].offset;
  float* dwte = grads + tensors_[0].offset;
  float* dwpe = grads + tensors_[1].offset;

  // Output head and final LayerNorm. Backward kernels accumulate, so each
  // scratch buffer starts at zero.
  std::vector<float> dlosses(BT, lossScale / static_cast<float>(BT));
  std::vector<float> dlogits(BT * V, 0.0f);
  gpt::crossEntropyBackward(dlogits.data(), dlosses.data(), logits_.data(), targets_.data(), B, T, V);
  std::vector<float> dlnf(BTC, 0.0f);
  gpt::matmulBackward(dlnf.data(), dwte, nullptr, dlogits.data(), lnf_.data(), wte, B, T, C, V);
  dlogits = {};  // the largest buffer; free it before the layers
  // dresidual: the gradient of the residual stream at the current depth.
  std::vector<float> dresidual(BTC, 0.0f);
  const float* lastResidual = L > 0 ? layerActs_[L - 1].residual3.data() : encoded_.data();
  gpt::layerNormBackward(dresidual.data(), grads + lnfOffset_, grads + lnfOffset_ + C, dlnf.data(), lastResidual,
                         params + lnfOffset_, lnfMean_.data(), lnfRstd_.data(), B, T, C);
  ready(lnfOffset_, 2 * static_cast<size_t>(C));

  std::vector<float> dsmall(BTC), dhidden(BT * 4 * C), dhiddenPre(BT * 4 * C), dqkv(BT * 3 * C);
  for (int l = L - 1; l >= 0; --l) {
    LayerActivations& a = layerActs_[l];
    const LayerTensors w = layerTensors(const_cast<float*>(params), l);
    const LayerTensors g = layerTensors(grads, l);
    const float* residualIn = l > 0 ? layerActs_[l - 1].residual3.data() : encoded_.data();

    // residual3 = residual2 + fcproj: both get dresidual. The MLP branch reads
    // it first; then the LayerNorm adds its input gradient into it, which
    // makes it d(residual2).
    std::fill(dhidden.begin(), dhidden.end(), 0.0f);
    gpt::matmulBackward(dhidden.data(), g.fcprojw, g.fcprojb, dresidual.data(), a.fchGelu.data(), w.fcprojw, B, T,
                        4 * C, C);
    std::fill(dhiddenPre.begin(), dhiddenPre.end(), 0.0f);
    gpt::geluBackward(dhiddenPre.data(), a.fch.data(), dhidden.data(), BT * 4 * C);
    std::fill(dsmall.begin(), dsmall.end(), 0.0f);
    gpt::matmulBackward(dsmall.data(), g.fcw, g.fcb, dhiddenPre.data(), a.ln2.data(), w.fcw, B, T, C, 4 * C);
    gpt::layerNormBackward(dresidual.data(), g.ln2w, g.ln2b, dsmall.data(), a.residual2.data(), w.ln2w,
                           a.ln2Mean.data(), a.ln2Rstd.data(), B, T, C);

    // residual2 = residualIn + attproj: the same pattern.
    std::fill(dsmall.begin(), dsmall.end(), 0.0f);
    gpt::matmulBackward(dsmall.data(), g.attprojw, g.attprojb, dresidual.data(), a.atty.data(), w.attprojw, B, T,
                        C, C);
    std::fill(dqkv.begin(), dqkv.end(), 0.0f);
    gpt::attentionBackward(dqkv.data(), dsmall.data(), a.qkv.data(), a.att.data(), B, T, C, NH);
    std::fill(dsmall.begin(), dsmall.end(), 0.0f);
    gpt::matmulBackward(dsmall.data(), g.qkvw, g.qkvb, dqkv.data(), a.ln1.data(), w.qkvw, B, T, C, 3 * C);
    gpt::layerNormBackward(dresidual.data(), g.ln1w, g.ln1b, dsmall.data(), residualIn, w.ln1w, a.ln1Mean.data(),
                           a.ln1Rstd.data(), B, T, C);
    const auto [offset, count] = layerRange(l);
    ready(offset, count);
  }

  gpt::embeddingBackward(dwte, dwpe, dresidual.data(), inputs_.data(), B, T, C);
  ready(tensors_[1].offset, tensors_[1].count);
  ready(tensors_[0].offset, tensors_[0].count);
}

// ---------------------------------------------------------------- sampling

std::vector<int32_t> GptModel::sample(std::span<const int32_t> prompt, int steps, float temperature,
                                      uint64_t seed) {
  if (prompt.empty()) fail("sample: empty prompt");
  const int V = config_.vocabSize;
  Xoshiro256 random(seed);
  std::vector<int32_t> context(prompt.begin(), prompt.end());
  std::vector<int32_t> generated;
  generated.reserve(std::max(steps, 0));
  std::vector<double> probabilities(V);
  for (int step = 0; step < steps; ++step) {
    const size_t T = std::min(context.size(), static_cast<size_t>(config_.maxSeqLen));
    forward(context.data() + context.size() - T, nullptr, 1, static_cast<int>(T));
    const float* row = logits_.data() + (T - 1) * V;
    int32_t next = 0;
    if (temperature <= 0.0f) {
      next = static_cast<int32_t>(std::max_element(row, row + V) - row);
    } else {
      const double maxLogit = *std::max_element(row, row + V);
      double total = 0;
      for (int v = 0; v < V; ++v) {
        probabilities[v] = std::exp((row[v] - maxLogit) / temperature);
        total += probabilities[v];
      }
      double threshold = random.uniformUnit() * total;
      next = V - 1;
      for (int v = 0; v < V; ++v) {
        threshold -= probabilities[v];
        if (threshold < 0) {
          next = v;
          break;
        }
      }
    }
    generated.push_back(next);
    context.push_back(next);
  }
  return generated;
}

}  // namespace loom::trainer
