// Checks of the GPT-2 CPU kernels (kernels/gpt/).
//
// Forward ops are compared element by element with float64 references written
// here from the textbook formulas; they share no code with the kernels.
//
// Backward ops are gradient-checked: with fixed random weights w, the scalar
// loss L = sum_i w_i * out_i has dL/dout = w, so the kernel's backward called
// with dout = w must give dL/dinput. That is compared with central finite
// differences (L(x+h) - L(x-h)) / 2h of the float64 reference, h = 1e-6. In
// double the difference quotient is good to about 1e-9 (truncation h^2,
// rounding 1e-16/h), so the comparison measures the float kernel's own error:
// a few float ulps, at most about 1.5e-7 of the largest gradient entry in these
// cases. The tolerance, kGradTol = 1e-5 of that largest entry, leaves a margin
// of more than 50x, yet a wrong sign, a missing term (say one of LayerNorm's
// mean terms) or a wrong index moves entries by a sizeable fraction of the
// scale and fails.
//
// Shapes are small and deliberately not powers of two; one matmul shape is
// large enough to cross every blocking boundary (row, column, depth blocks).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernels/gpt/adamw.h"
#include "kernels/gpt/attention.h"
#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/cross_entropy.h"
#include "kernels/gpt/embedding.h"
#include "kernels/gpt/gelu.h"
#include "kernels/gpt/gpt_math.h"
#include "kernels/gpt/layernorm.h"
#include "kernels/gpt/matmul.h"
#include "kernels/gpt/residual.h"

namespace loom::gpt {
namespace {

using Floats = std::vector<float>;
using Doubles = std::vector<double>;
using Ints = std::vector<int32_t>;

// Small odd shapes: batch, time, channels, heads (head size 4), vocabulary.
constexpr int kB = 2, kT = 5, kC = 12, kNH = 3, kV = 11;

constexpr double kGradTol = 1e-5;  // of the largest |gradient| entry; see the top of the file
constexpr double kFdStep = 1e-6;

Floats randomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Floats out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

Ints randomTokens(size_t n, int V, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, V - 1);
  Ints out(n);
  for (int32_t& x : out) x = dist(rng);
  return out;
}

Doubles toDoubles(const Floats& x) { return Doubles(x.begin(), x.end()); }

double weighted(const Doubles& w, const Doubles& out) {
  double sum = 0.0;
  for (size_t i = 0; i < out.size(); ++i) sum += w[i] * out[i];
  return sum;
}

// --- float64 references --------------------------------------------------------

Doubles refEmbedding(const Ints& tokens, const Doubles& wte, const Doubles& wpe, int B, int T, int C) {
  Doubles out(static_cast<size_t>(B) * T * C);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c)
        out[(b * T + t) * C + c] = wte[tokens[b * T + t] * C + c] + wpe[t * C + c];
  return out;
}

Doubles refLayerNorm(const Doubles& inp, const Doubles& weight, const Doubles& bias, int rows, int C) {
  Doubles out(inp.size());
  for (int r = 0; r < rows; ++r) {
    const double* x = &inp[static_cast<size_t>(r) * C];
    double mean = 0.0, var = 0.0;
    for (int c = 0; c < C; ++c) mean += x[c];
    mean /= C;
    for (int c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + 1e-5);
    for (int c = 0; c < C; ++c) out[static_cast<size_t>(r) * C + c] = (x[c] - mean) * rstd * weight[c] + bias[c];
  }
  return out;
}

// bias may be empty (no bias).
Doubles refMatmul(const Doubles& inp, const Doubles& weight, const Doubles& bias, int rows, int C, int OC) {
  Doubles out(static_cast<size_t>(rows) * OC);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < OC; ++o) {
      double sum = bias.empty() ? 0.0 : bias[o];
      for (int c = 0; c < C; ++c) sum += inp[static_cast<size_t>(r) * C + c] * weight[static_cast<size_t>(o) * C + c];
      out[static_cast<size_t>(r) * OC + o] = sum;
    }
  return out;
}

// Returns out (B,T,C); att (B,NH,T,T) if asked.
Doubles refAttention(const Doubles& qkv, int B, int T, int C, int NH, Doubles* att = nullptr) {
  const int hs = C / NH;
  Doubles out(static_cast<size_t>(B) * T * C, 0.0);
  if (att) att->assign(static_cast<size_t>(B) * NH * T * T, 0.0);
  auto at = [&](int b, int t, int part, int h, int i) { return qkv[(b * T + t) * 3 * C + part * C + h * hs + i]; };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h)
      for (int t = 0; t < T; ++t) {
        Doubles p(t + 1);
        double maximum = -INFINITY, sum = 0.0;
        for (int t2 = 0; t2 <= t; ++t2) {
          double dot = 0.0;
          for (int i = 0; i < hs; ++i) dot += at(b, t, 0, h, i) * at(b, t2, 1, h, i);
          p[t2] = dot / std::sqrt(static_cast<double>(hs));
          maximum = std::max(maximum, p[t2]);
        }
        for (double& x : p) sum += (x = std::exp(x - maximum));
        for (int t2 = 0; t2 <= t; ++t2) {
          p[t2] /= sum;
          if (att) (*att)[((static_cast<size_t>(b) * NH + h) * T + t) * T + t2] = p[t2];
          for (int i = 0; i < hs; ++i) out[(b * T + t) * C + h * hs + i] += p[t2] * at(b, t2, 2, h, i);
        }
      }
  return out;
}

double refGeluValue(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

Doubles refGelu(const Doubles& x) {
  Doubles out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = refGeluValue(x[i]);
  return out;
}

Doubles refCrossEntropy(const Doubles& logits, const Ints& targets, int rows, int V) {
  Doubles losses(rows);
  for (int r = 0; r < rows; ++r) {
    const double* l = &logits[static_cast<size_t>(r) * V];
    const double maximum = *std::max_element(l, l + V);
    double sum = 0.0;
    for (int i = 0; i < V; ++i) sum += std::exp(l[i] - maximum);
    losses[r] = std::log(sum) + maximum - l[targets[r]];
  }
  return losses;
}

// --- comparisons -----------------------------------------------------------------

// Every |actual - expected| <= atol + rtol * |expected|; reports the worst entry.
::testing::AssertionResult allClose(const Floats& actual, const Doubles& expected, double atol, double rtol) {
  if (actual.size() != expected.size()) return ::testing::AssertionFailure() << "size differs";
  size_t worst = 0;
  double worstExcess = -1.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double excess = std::fabs(actual[i] - expected[i]) - (atol + rtol * std::fabs(expected[i]));
    if (!(excess <= 0.0) && (std::isnan(excess) || excess > worstExcess)) {
      worst = i;
      worstExcess = std::isnan(excess) ? INFINITY : excess;
    }
  }
  if (worstExcess < 0.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "entry " << worst << ": got " << actual[worst] << ", expected "
                                       << expected[worst] << " (atol " << atol << ", rtol " << rtol << ")";
}

double maxAbs(const Doubles& x) {
  double m = 0.0;
  for (double v : x) m = std::max(m, std::fabs(v));
  return m;
}

// Central differences of loss() with respect to every entry of x (which loss() reads).
Doubles numericGradient(Doubles& x, const std::function<double()>& loss) {
  Doubles grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kFdStep;
    const double up = loss();
    x[i] = saved - kFdStep;
    const double down = loss();
    x[i] = saved;
    grad[i] = (up - down) / (2.0 * kFdStep);
  }
  return grad;
}

// The kernel's gradient against finite differences, within kGradTol of the scale.
::testing::AssertionResult gradientMatches(const Floats& analytic, Doubles& x,
                                           const std::function<double()>& loss) {
  const Doubles numeric = numericGradient(x, loss);
  const double scale = maxAbs(numeric);
  if (scale == 0.0) return ::testing::AssertionFailure() << "zero gradient: the check would prove nothing";
  return allClose(analytic, numeric, kGradTol * scale, 0.0);
}

bool bitwiseEqual(const Floats& a, const Floats& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// --- embedding -------------------------------------------------------------------

TEST(GptEmbedding, ForwardIsTokenRowPlusPositionRow) {
  const int V = kV, maxT = kT + 2;
  const Ints tokens = randomTokens(kB * kT, V, 1);
  const Floats wte = randomFloats(V * kC, 2), wpe = randomFloats(maxT * kC, 3);
  Floats out(kB * kT * kC);
  embeddingForward(out.data(), tokens.data(), wte.data(), wpe.data(), kB, kT, kC);
  // One float addition: exactly the rounded double sum.
  const Doubles ref = refEmbedding(tokens, toDoubles(wte), toDoubles(wpe), kB, kT, kC);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], static_cast<float>(ref[i])) << i;
}

TEST(GptEmbedding, BackwardMatchesFiniteDifferencesWithRepeatedTokens) {
  const int maxT = kT + 2;
  // Token 3 appears several times, so its dwte row must sum several positions.
  const Ints tokens = {3, 3, 0, 10, 3, 7, 1, 3, 3, 2};
  const Floats wte = randomFloats(kV * kC, 4), wpe = randomFloats(maxT * kC, 5);
  const Floats w = randomFloats(kB * kT * kC, 6);
  Floats dwte(wte.size(), 0.0f), dwpe(wpe.size(), 0.0f);
  embeddingBackward(dwte.data(), dwpe.data(), w.data(), tokens.data(), kB, kT, kC);

  Doubles wteD = toDoubles(wte), wpeD = toDoubles(wpe);
  const Doubles wD = toDoubles(w);
  auto loss = [&] { return weighted(wD, refEmbedding(tokens, wteD, wpeD, kB, kT, kC)); };
  EXPECT_TRUE(gradientMatches(dwte, wteD, loss));
  EXPECT_TRUE(gradientMatches(dwpe, wpeD, loss));
  // Rows of unused tokens and positions past T get nothing.
  for (int c = 0; c < kC; ++c) {
    EXPECT_EQ(dwte[4 * kC + c], 0.0f);
    EXPECT_EQ(dwpe[kT * kC + c], 0.0f);
  }
}

// --- layernorm -------------------------------------------------------------------

struct LayerNormCase {
  Floats inp = randomFloats(kB * kT * kC, 10, -2.0f, 2.0f);
  Floats weight = randomFloats(kC, 11, 0.5f, 1.5f);
  Floats bias = randomFloats(kC, 12);
  Floats out = Floats(kB * kT * kC), mean = Floats(kB * kT), rstd = Floats(kB * kT);
  void forward() {
    layerNormForward(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(), bias.data(), kB, kT, kC);
  }
};

TEST(GptLayerNorm, ForwardMatchesReferenceAndSavesMeanAndRstd) {
  LayerNormCase lc;
  lc.forward();
  EXPECT_TRUE(allClose(lc.out, refLayerNorm(toDoubles(lc.inp), toDoubles(lc.weight), toDoubles(lc.bias), kB * kT, kC),
                       1e-6, 1e-5));
  for (int r = 0; r < kB * kT; ++r) {
    double mean = 0.0, var = 0.0;
    for (int c = 0; c < kC; ++c) mean += lc.inp[r * kC + c];
    mean /= kC;
    for (int c = 0; c < kC; ++c) var += (lc.inp[r * kC + c] - mean) * (lc.inp[r * kC + c] - mean);
    EXPECT_NEAR(lc.mean[r], mean, 1e-6);
    EXPECT_NEAR(lc.rstd[r], 1.0 / std::sqrt(var / kC + 1e-5), 1e-5 * lc.rstd[r]);
  }
}

TEST(GptLayerNorm, BackwardMatchesFiniteDifferences) {
  LayerNormCase lc;
  lc.forward();
  const Floats w = randomFloats(lc.out.size(), 13);
  Floats dinp(lc.inp.size(), 0.0f), dweight(kC, 0.0f), dbias(kC, 0.0f);
  layerNormBackward(dinp.data(), dweight.data(), dbias.data(), w.data(), lc.inp.data(), lc.weight.data(),
                    lc.mean.data(), lc.rstd.data(), kB, kT, kC);

  Doubles inp = toDoubles(lc.inp), weight = toDoubles(lc.weight), bias = toDoubles(lc.bias);
  const Doubles wD = toDoubles(w);
  auto loss = [&] { return weighted(wD, refLayerNorm(inp, weight, bias, kB * kT, kC)); };
  EXPECT_TRUE(gradientMatches(dinp, inp, loss));
  EXPECT_TRUE(gradientMatches(dweight, weight, loss));
  EXPECT_TRUE(gradientMatches(dbias, bias, loss));
}

// --- matmul ----------------------------------------------------------------------

struct MatmulCase {
  int B, T, C, OC;
  bool withBias;
  Floats inp, weight, bias, out;
  MatmulCase(int b, int t, int c, int oc, bool hasBias, uint32_t seed)
      : B(b), T(t), C(c), OC(oc), withBias(hasBias), inp(randomFloats(b * t * c, seed)),
        weight(randomFloats(oc * c, seed + 1)), bias(hasBias ? randomFloats(oc, seed + 2) : Floats()),
        out(b * t * oc) {}
  const float* biasPtr() const { return withBias ? bias.data() : nullptr; }
  void forward() { matmulForward(out.data(), inp.data(), weight.data(), biasPtr(), B, T, C, OC); }
  Doubles reference() const { return refMatmul(toDoubles(inp), toDoubles(weight), toDoubles(bias), B * T, C, OC); }
};

TEST(GptMatmul, ForwardMatchesReferenceAcrossBlockBoundaries) {
  // 10 x 12 -> 19: one short tile and one partial panel. 106 x 300 -> 83: two
  // row blocks (96), two depth blocks (256), two column blocks (64), partial
  // tiles and panels everywhere; without bias too. 1-wide shapes as edge cases.
  const int shapes[][4] = {{2, 5, 12, 19}, {2, 53, 300, 83}, {1, 1, 1, 1}, {1, 7, 3, 1}, {3, 1, 1, 17}};
  for (const auto& s : shapes)
    for (bool withBias : {true, false}) {
      MatmulCase mc(s[0], s[1], s[2], s[3], withBias, 20);
      mc.forward();
      // Float sums of C products of magnitude <= 1: error well under 1e-6 * C.
      EXPECT_TRUE(allClose(mc.out, mc.reference(), 1e-6 * s[2], 1e-6))
          << "B=" << s[0] << " T=" << s[1] << " C=" << s[2] << " OC=" << s[3] << " bias=" << withBias;
    }
}

TEST(GptMatmul, BackwardMatchesFiniteDifferences) {
  MatmulCase mc(kB, kT, kC, 19, true, 30);
  const Floats w = randomFloats(kB * kT * 19, 33);
  Floats dinp(mc.inp.size(), 0.0f), dweight(mc.weight.size(), 0.0f), dbias(19, 0.0f);
  matmulBackward(dinp.data(), dweight.data(), dbias.data(), w.data(), mc.inp.data(), mc.weight.data(), kB, kT, kC,
                 19);

  Doubles inp = toDoubles(mc.inp), weight = toDoubles(mc.weight), bias = toDoubles(mc.bias);
  const Doubles wD = toDoubles(w);
  auto loss = [&] { return weighted(wD, refMatmul(inp, weight, bias, kB * kT, kC, 19)); };
  EXPECT_TRUE(gradientMatches(dinp, inp, loss));
  EXPECT_TRUE(gradientMatches(dweight, weight, loss));
  EXPECT_TRUE(gradientMatches(dbias, bias, loss));
}

TEST(GptMatmul, BackwardMatchesReferenceOnLargeShapeAndSkipsNullOutputs) {
  // Rows 2*300 > the backward's 8-row blocks, C=300 > its 256-column blocks.
  const int B = 2, T = 300, C = 300, OC = 37, rows = B * T;
  const Floats inp = randomFloats(rows * C, 40), weight = randomFloats(OC * C, 41), dout = randomFloats(rows * OC, 42);
  Floats dinp(rows * C, 0.0f), dweight(OC * C, 0.0f), dbias(OC, 0.0f);
  matmulBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(), weight.data(), B, T, C, OC);
  Doubles refDinp(rows * C, 0.0), refDweight(OC * C, 0.0), refDbias(OC, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < OC; ++o) {
      const double d = dout[r * OC + o];
      refDbias[o] += d;
      for (int c = 0; c < C; ++c) {
        refDinp[r * C + c] += d * weight[o * C + c];
        refDweight[o * C + c] += d * inp[r * C + c];
      }
    }
  // Sums of OC (dinp) or rows (dweight, dbias) terms of magnitude <= 1.
  EXPECT_TRUE(allClose(dinp, refDinp, 1e-6 * OC, 1e-6));
  EXPECT_TRUE(allClose(dweight, refDweight, 1e-6 * rows, 1e-6));
  EXPECT_TRUE(allClose(dbias, refDbias, 1e-6 * rows, 1e-6));

  // Null dinp and dbias are skipped; dweight comes out the same.
  Floats dweightOnly(OC * C, 0.0f);
  matmulBackward(nullptr, dweightOnly.data(), nullptr, dout.data(), inp.data(), weight.data(), B, T, C, OC);
  EXPECT_TRUE(bitwiseEqual(dweightOnly, dweight));
}

// --- attention -------------------------------------------------------------------

struct AttentionCase {
  int B, T, C, NH;
  Floats qkv, out, att;
  AttentionCase(int b, int t, int c, int nh, uint32_t seed)
      : B(b), T(t), C(c), NH(nh), qkv(randomFloats(b * t * 3 * c, seed, -2.0f, 2.0f)), out(b * t * c),
        att(b * nh * t * t, -1.0f) {}
  void forward() { attentionForward(out.data(), att.data(), qkv.data(), B, T, C, NH); }
};

TEST(GptAttention, ForwardMatchesReferenceAndIsCausal) {
  // Head sizes 4, 3 and 1; T = 1 has a single key.
  const int shapes[][4] = {{kB, kT, kC, kNH}, {1, 7, 9, 3}, {2, 1, 6, 2}, {1, 6, 5, 5}};
  for (const auto& s : shapes) {
    AttentionCase ac(s[0], s[1], s[2], s[3], 50);
    ac.forward();
    Doubles refAtt;
    const Doubles refOut = refAttention(toDoubles(ac.qkv), ac.B, ac.T, ac.C, ac.NH, &refAtt);
    EXPECT_TRUE(allClose(ac.out, refOut, 1e-6, 1e-5)) << "shape " << s[0] << "," << s[1] << "," << s[2] << "," << s[3];
    EXPECT_TRUE(allClose(ac.att, refAtt, 1e-7, 1e-5));
    // The saved probabilities: future entries exactly 0, each row sums to 1.
    for (int row = 0; row < ac.B * ac.NH * ac.T; ++row) {
      const int t = row % ac.T;
      double sum = 0.0;
      for (int t2 = 0; t2 < ac.T; ++t2) {
        if (t2 > t) {
          EXPECT_EQ(ac.att[row * ac.T + t2], 0.0f);
        }
        sum += ac.att[row * ac.T + t2];
      }
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST(GptAttention, BackwardMatchesFiniteDifferences) {
  AttentionCase ac(kB, kT, kC, kNH, 60);
  ac.forward();
  const Floats w = randomFloats(ac.out.size(), 61);
  Floats dqkv(ac.qkv.size(), 0.0f);
  attentionBackward(dqkv.data(), w.data(), ac.qkv.data(), ac.att.data(), kB, kT, kC, kNH);

  Doubles qkv = toDoubles(ac.qkv);
  const Doubles wD = toDoubles(w);
  EXPECT_TRUE(gradientMatches(dqkv, qkv, [&] { return weighted(wD, refAttention(qkv, kB, kT, kC, kNH)); }));
  // Causality seen from backward: the last position's key and value influence
  // nothing but the last output, so a loss on earlier outputs gives them no gradient.
  Floats wEarly = w;
  for (int b = 0; b < kB; ++b)
    for (int c = 0; c < kC; ++c) wEarly[(b * kT + kT - 1) * kC + c] = 0.0f;
  Floats dEarly(ac.qkv.size(), 0.0f);
  attentionBackward(dEarly.data(), wEarly.data(), ac.qkv.data(), ac.att.data(), kB, kT, kC, kNH);
  for (int b = 0; b < kB; ++b)
    for (int c = kC; c < 3 * kC; ++c) EXPECT_EQ(dEarly[(b * kT + kT - 1) * 3 * kC + c], 0.0f);
}

// --- GELU --------------------------------------------------------------------------

TEST(GptGelu, ForwardMatchesReferenceIncludingKnownValues) {
  Floats x = randomFloats(kB * kT * 4 * kC, 70, -5.0f, 5.0f);
  x.insert(x.end(), {0.0f, 1.0f, -1.0f, 8.0f, -8.0f});
  Floats out(x.size());
  geluForward(out.data(), x.data(), x.size());
  EXPECT_TRUE(allClose(out, refGelu(toDoubles(x)), 1e-7, 1e-6));
  const size_t n = x.size();
  EXPECT_EQ(out[n - 5], 0.0f);
  EXPECT_NEAR(out[n - 4], 0.8411920, 1e-6);   // 0.5 (1 + tanh(sqrt(2/pi) * 1.044715))
  EXPECT_NEAR(out[n - 3], -0.1588080, 1e-6);  // gelu(-x) = gelu(x) - x
}

TEST(GptGelu, BackwardMatchesFiniteDifferences) {
  const Floats x = randomFloats(kB * kT * 4 * kC, 71, -4.0f, 4.0f);
  const Floats w = randomFloats(x.size(), 72);
  Floats dinp(x.size(), 0.0f);
  geluBackward(dinp.data(), x.data(), w.data(), x.size());
  Doubles xD = toDoubles(x);
  const Doubles wD = toDoubles(w);
  EXPECT_TRUE(gradientMatches(dinp, xD, [&] { return weighted(wD, refGelu(xD)); }));
}

// --- residual ------------------------------------------------------------------------

TEST(GptResidual, ForwardAddsAndBackwardFeedsBothInputs) {
  const size_t n = kB * kT * kC;
  const Floats a = randomFloats(n, 80), b = randomFloats(n, 81), w = randomFloats(n, 82);
  Floats out(n);
  residualForward(out.data(), a.data(), b.data(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] + b[i]);

  Floats da(n, 0.0f), db(n, 0.0f);
  residualBackward(da.data(), db.data(), w.data(), n);
  Doubles aD = toDoubles(a), bD = toDoubles(b);
  const Doubles wD = toDoubles(w);
  auto loss = [&] {
    Doubles sum(n);
    for (size_t i = 0; i < n; ++i) sum[i] = aD[i] + bD[i];
    return weighted(wD, sum);
  };
  EXPECT_TRUE(gradientMatches(da, aD, loss));
  EXPECT_TRUE(gradientMatches(db, bD, loss));
}

// --- cross-entropy -----------------------------------------------------------------------

TEST(GptCrossEntropy, ForwardMatchesReference) {
  const Floats logits = randomFloats(kB * kT * kV, 90, -3.0f, 3.0f);
  const Ints targets = randomTokens(kB * kT, kV, 91);
  Floats losses(kB * kT);
  crossEntropyForward(losses.data(), logits.data(), targets.data(), kB, kT, kV);
  EXPECT_TRUE(allClose(losses, refCrossEntropy(toDoubles(logits), targets, kB * kT, kV), 1e-6, 1e-6));
  // Uniform logits: loss is log V.
  const Floats flat(kV, 0.25f);
  const Ints target0 = {0};
  float loss = 0.0f;
  crossEntropyForward(&loss, flat.data(), target0.data(), 1, 1, kV);
  EXPECT_NEAR(loss, std::log(static_cast<double>(kV)), 1e-6);
}

TEST(GptCrossEntropy, BackwardMatchesFiniteDifferences) {
  const Floats logits = randomFloats(kB * kT * kV, 92, -3.0f, 3.0f);
  const Ints targets = randomTokens(kB * kT, kV, 93);
  const Floats w = randomFloats(kB * kT, 94);  // dloss per position
  Floats dlogits(logits.size(), 0.0f);
  crossEntropyBackward(dlogits.data(), w.data(), logits.data(), targets.data(), kB, kT, kV);
  Doubles logitsD = toDoubles(logits);
  const Doubles wD = toDoubles(w);
  EXPECT_TRUE(gradientMatches(dlogits, logitsD, [&] {
    return weighted(wD, refCrossEntropy(logitsD, targets, kB * kT, kV));
  }));
}

TEST(GptCrossEntropy, LargeLogitsStayFinite) {
  // exp(1000) overflows float and double; subtracting the row maximum must
  // make the result equal to that of the shifted logits.
  const Floats base = randomFloats(kV, 95, -3.0f, 3.0f);
  Floats shifted = base;
  for (float& x : shifted) x += 1000.0f;
  const Ints target = {4};
  const float dloss = 1.0f;
  float lossBase = 0.0f, lossShifted = 0.0f;
  crossEntropyForward(&lossBase, base.data(), target.data(), 1, 1, kV);
  crossEntropyForward(&lossShifted, shifted.data(), target.data(), 1, 1, kV);
  ASSERT_TRUE(std::isfinite(lossShifted));
  // 1000 + x loses x's low bits (ulp(1000) = 6e-5), so compare at that scale.
  EXPECT_NEAR(lossShifted, lossBase, 1e-3);
  Floats grad(kV, 0.0f);
  crossEntropyBackward(grad.data(), &dloss, shifted.data(), target.data(), 1, 1, kV);
  double sum = 0.0;
  for (float g : grad) {
    ASSERT_TRUE(std::isfinite(g));
    sum += g;
  }
  EXPECT_NEAR(sum, 0.0, 1e-6);  // softmax sums to 1, the one-hot too
  EXPECT_LT(grad[4], 0.0f);
}

// --- accumulation ----------------------------------------------------------------------

// Calls backward() twice on buffers prefilled with `start`: each gradient must
// end as start + 2 * (gradient of one call from zero).
void expectAccumulates(const std::vector<Floats*>& grads, const std::function<void()>& backward) {
  std::vector<Floats> once;
  for (Floats* g : grads) std::fill(g->begin(), g->end(), 0.0f);
  backward();
  for (Floats* g : grads) once.push_back(*g);
  std::vector<Floats> start;
  for (size_t k = 0; k < grads.size(); ++k) {
    start.push_back(randomFloats(grads[k]->size(), 100 + k));
    *grads[k] = start[k];
  }
  backward();
  backward();
  for (size_t k = 0; k < grads.size(); ++k) {
    Doubles expected(start[k].size());
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = start[k][i] + 2.0 * once[k][i];
    EXPECT_TRUE(allClose(*grads[k], expected, 1e-6, 1e-6)) << "gradient " << k;
    EXPECT_GT(maxAbs(toDoubles(once[k])), 0.0) << "gradient " << k << " is all zero";
  }
}

TEST(GptBackward, EveryBackwardAccumulates) {
  const Floats dout = randomFloats(kB * kT * 3 * kC, 110);  // large enough for every op
  {
    const Ints tokens = randomTokens(kB * kT, kV, 111);
    Floats dwte(kV * kC), dwpe(kT * kC);
    expectAccumulates({&dwte, &dwpe},
                      [&] { embeddingBackward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), kB, kT, kC); });
  }
  {
    LayerNormCase lc;
    lc.forward();
    Floats dinp(lc.inp.size()), dweight(kC), dbias(kC);
    expectAccumulates({&dinp, &dweight, &dbias}, [&] {
      layerNormBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), lc.inp.data(), lc.weight.data(),
                        lc.mean.data(), lc.rstd.data(), kB, kT, kC);
    });
  }
  {
    MatmulCase mc(kB, kT, kC, 19, true, 112);
    Floats dinp(mc.inp.size()), dweight(mc.weight.size()), dbias(19);
    expectAccumulates({&dinp, &dweight, &dbias}, [&] {
      matmulBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), mc.inp.data(), mc.weight.data(), kB, kT,
                     kC, 19);
    });
  }
  {
    AttentionCase ac(kB, kT, kC, kNH, 113);
    ac.forward();
    Floats dqkv(ac.qkv.size());
    expectAccumulates({&dqkv}, [&] {
      attentionBackward(dqkv.data(), dout.data(), ac.qkv.data(), ac.att.data(), kB, kT, kC, kNH);
    });
  }
  {
    const Floats x = randomFloats(dout.size(), 114);
    Floats dinp(x.size());
    expectAccumulates({&dinp}, [&] { geluBackward(dinp.data(), x.data(), dout.data(), x.size()); });
  }
  {
    Floats da(dout.size()), db(dout.size());
    expectAccumulates({&da, &db}, [&] { residualBackward(da.data(), db.data(), dout.data(), dout.size()); });
  }
  {
    const Floats logits = randomFloats(kB * kT * kV, 115);
    const Ints targets = randomTokens(kB * kT, kV, 116);
    Floats dlogits(logits.size());
    expectAccumulates({&dlogits}, [&] {
      crossEntropyBackward(dlogits.data(), dout.data(), logits.data(), targets.data(), kB, kT, kV);
    });
  }
}

// --- AdamW and clipping ------------------------------------------------------------------

TEST(GptAdamW, FirstStepByHand) {
  // m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025; bias-corrected: 0.5 and 0.25,
  // so the step is 0.5 / (sqrt(0.25) + 1e-8) ~ 1, plus decay 0.1 * 1:
  // param = 1 - 0.1 * (1 + 0.1) = 0.89.
  float param = 1.0f, m = 0.0f, v = 0.0f;
  const float grad = 0.5f;
  adamwUpdate(&param, &grad, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f, 1, 1.0f);
  // 0.9f and 0.999f are not exact: in float 1 - beta1 = 0.100000024 and
  // 1 - beta2 = 0.00099998713, hence the tolerances on m and v.
  EXPECT_NEAR(m, 0.05, 2e-8);
  EXPECT_NEAR(v, 0.00025, 5e-9);
  EXPECT_NEAR(param, 0.89f, 1e-6);
}

TEST(GptAdamW, ThreeStepsMatchReferenceWithDecayAndGradScale) {
  // eps = 1e-3 is not negligible next to sqrt(v), so a mis-applied gradScale
  // (to which Adam is otherwise nearly invariant) shows.
  const size_t n = 37;
  const float lr = 0.01f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-3f, decay = 0.1f;
  const float scales[] = {0.37f, 1.0f, 0.5f};
  Floats params = randomFloats(n, 120), m(n, 0.0f), v(n, 0.0f);
  Doubles p = toDoubles(params), mD(n, 0.0), vD(n, 0.0);
  for (int step = 1; step <= 3; ++step) {
    const Floats grads = randomFloats(n, 120 + step, -2.0f, 2.0f);
    const float scale = scales[step - 1];
    adamwUpdate(params.data(), grads.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, decay, step, scale);
    for (size_t i = 0; i < n; ++i) {
      const double g = static_cast<double>(grads[i]) * scale;
      mD[i] = beta1 * mD[i] + (1.0 - beta1) * g;
      vD[i] = beta2 * vD[i] + (1.0 - beta2) * g * g;
      const double mHat = mD[i] / (1.0 - std::pow(static_cast<double>(beta1), step));
      const double vHat = vD[i] / (1.0 - std::pow(static_cast<double>(beta2), step));
      p[i] -= lr * (mHat / (std::sqrt(vHat) + eps) + decay * p[i]);
    }
    EXPECT_TRUE(allClose(m, mD, 1e-7, 1e-5)) << "step " << step;
    EXPECT_TRUE(allClose(v, vD, 1e-8, 1e-5)) << "step " << step;
    EXPECT_TRUE(allClose(params, p, 1e-6, 1e-6)) << "step " << step;
  }
}

TEST(GptAdamW, GradScaleEqualsPrescaledGradientsAndShardsEqualWhole) {
  const size_t n = 3 * kElementChunk + 123;
  const float scale = 0.3f;
  const Floats grads = randomFloats(n, 130);
  Floats prescaled(n);
  for (size_t i = 0; i < n; ++i) prescaled[i] = grads[i] * scale;
  const Floats p0 = randomFloats(n, 131), m0 = randomFloats(n, 132), v0 = randomFloats(n, 133, 0.0f, 1.0f);

  Floats p1 = p0, m1 = m0, v1 = v0;
  adamwUpdate(p1.data(), grads.data(), m1.data(), v1.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7, scale);
  Floats p2 = p0, m2 = m0, v2 = v0;
  adamwUpdate(p2.data(), prescaled.data(), m2.data(), v2.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7, 1.0f);
  EXPECT_TRUE(bitwiseEqual(p1, p2));
  EXPECT_TRUE(bitwiseEqual(m1, m2));
  EXPECT_TRUE(bitwiseEqual(v1, v2));

  // Three uneven shards, as three data-parallel ranks would update them.
  Floats p3 = p0, m3 = m0, v3 = v0;
  const size_t cuts[] = {0, 1001, 2 * kElementChunk + 5, n};
  for (int s = 0; s < 3; ++s) {
    const size_t at = cuts[s], len = cuts[s + 1] - cuts[s];
    adamwUpdate(p3.data() + at, grads.data() + at, m3.data() + at, v3.data() + at, len, 1e-3f, 0.9f, 0.95f, 1e-8f,
                0.1f, 7, scale);
  }
  EXPECT_TRUE(bitwiseEqual(p1, p3));
  EXPECT_TRUE(bitwiseEqual(m1, m3));
  EXPECT_TRUE(bitwiseEqual(v1, v3));
}

TEST(GptAdamW, GlobalNormSquaredAndClipScale) {
  const Floats threeFour = {3.0f, 4.0f};
  EXPECT_EQ(globalNormSquared(threeFour.data(), 2), 25.0);
  EXPECT_EQ(globalNormSquared(threeFour.data(), 0), 0.0);
  EXPECT_FLOAT_EQ(gradClipScale(25.0, 1.0f), 0.2f);  // norm 5 -> 1
  EXPECT_EQ(gradClipScale(25.0, 5.0f), 1.0f);        // exactly at the limit: untouched
  EXPECT_EQ(gradClipScale(25.0, 10.0f), 1.0f);
  EXPECT_EQ(gradClipScale(25.0, 0.0f), 1.0f);  // 0 = no clipping

  const size_t n = 10 * kNormBlock + 17;
  const Floats g = randomFloats(n, 140, -3.0f, 3.0f);
  long double exact = 0.0L;
  for (float x : g) exact += static_cast<long double>(x) * x;
  EXPECT_NEAR(globalNormSquared(g.data(), n), static_cast<double>(exact), 1e-12 * static_cast<double>(exact));

  // Clipping to norm 1 and stepping once: the effective gradient has norm 1.
  const float scale = gradClipScale(globalNormSquared(g.data(), n), 1.0f);
  double clipped = 0.0;
  for (float x : g) clipped += static_cast<double>(x * scale) * (x * scale);
  EXPECT_NEAR(std::sqrt(clipped), 1.0, 1e-6);
}

// --- threads and determinism ------------------------------------------------------------------

// Restores the thread count and LOOM_TRAIN_THREADS when a test ends.
class ThreadSettingGuard {
 public:
  ThreadSettingGuard() {
    if (const char* env = std::getenv("LOOM_TRAIN_THREADS")) saved_ = env, had_ = true;
  }
  ~ThreadSettingGuard() {
    if (had_)
      setenv("LOOM_TRAIN_THREADS", saved_.c_str(), 1);
    else
      unsetenv("LOOM_TRAIN_THREADS");
    setCpuThreads(0);
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST(GptCpuThreads, SetValueThenEnvironmentThenHardware) {
  ThreadSettingGuard guard;
  const unsigned hardware = std::thread::hardware_concurrency();
  const int fallback = hardware > 0 ? static_cast<int>(hardware) : 1;
  setCpuThreads(5);
  EXPECT_EQ(cpuThreads(), 5);
  setenv("LOOM_TRAIN_THREADS", "3", 1);
  EXPECT_EQ(cpuThreads(), 5);  // an explicit setting wins
  setCpuThreads(0);
  EXPECT_EQ(cpuThreads(), 3);
  for (const char* bad : {"0", "-2", "4x", "", "many"}) {
    setenv("LOOM_TRAIN_THREADS", bad, 1);
    setCpuThreads(-1);
    EXPECT_EQ(cpuThreads(), fallback) << "LOOM_TRAIN_THREADS=\"" << bad << "\"";
  }
  unsetenv("LOOM_TRAIN_THREADS");
  setCpuThreads(0);
  EXPECT_EQ(cpuThreads(), fallback);
}

TEST(GptCpuThreads, ParallelForUsesTheThreadCount) {
#if !defined(_OPENMP)
  GTEST_SKIP() << "built without OpenMP: the kernels run on the calling thread";
#else
  ThreadSettingGuard guard;
  std::mutex mutex;
  std::set<std::thread::id> ids;
  std::vector<int> hits(64, 0);
  setCpuThreads(2);
  parallelFor(64, [&](long task) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
    ++hits[task];
  });
  EXPECT_EQ(ids.size(), 2u);
  for (int h : hits) EXPECT_EQ(h, 1);
#endif
}

// One transformer-block-shaped pass through every kernel, forward and
// backward, with shapes that give every kernel several parallel tasks
// (123 rows: two matmul row blocks; C = 264: two depth blocks; 3C = 792: 13
// column blocks). Returns every output and gradient.
std::vector<Floats> runEveryKernel() {
  const int B = 3, T = 41, C = 264, NH = 4, V = 301, rows = B * T;
  const Ints tokens = randomTokens(rows, V, 150), targets = randomTokens(rows, V, 151);
  const Floats wte = randomFloats(V * C, 152), wpe = randomFloats(T * C, 153);
  const Floats lnw = randomFloats(C, 154, 0.5f, 1.5f), lnb = randomFloats(C, 155);
  const Floats wqkv = randomFloats(3 * C * C, 156, -0.1f, 0.1f), bqkv = randomFloats(3 * C, 157);
  std::vector<Floats> r;
  r.reserve(64);  // keep() hands out references into r
  auto keep = [&](Floats x) -> Floats& { return r.emplace_back(std::move(x)); };

  Floats& x = keep(Floats(rows * C));
  embeddingForward(x.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
  Floats& ln = keep(Floats(rows * C));
  Floats& mean = keep(Floats(rows));
  Floats& rstd = keep(Floats(rows));
  layerNormForward(ln.data(), mean.data(), rstd.data(), x.data(), lnw.data(), lnb.data(), B, T, C);
  Floats& qkv = keep(Floats(rows * 3 * C));
  matmulForward(qkv.data(), ln.data(), wqkv.data(), bqkv.data(), B, T, C, 3 * C);
  Floats& att = keep(Floats(B * NH * T * T));
  Floats& attOut = keep(Floats(rows * C));
  attentionForward(attOut.data(), att.data(), qkv.data(), B, T, C, NH);
  Floats& res = keep(Floats(rows * C));
  residualForward(res.data(), x.data(), attOut.data(), res.size());
  Floats& act = keep(Floats(rows * C));
  geluForward(act.data(), res.data(), act.size());
  Floats& logits = keep(Floats(rows * V));
  matmulForward(logits.data(), act.data(), wte.data(), nullptr, B, T, C, V);  // tied head
  Floats& losses = keep(Floats(rows));
  crossEntropyForward(losses.data(), logits.data(), targets.data(), B, T, V);

  const Floats dlosses(rows, 1.0f / rows);
  Floats& dlogits = keep(Floats(rows * V, 0.0f));
  crossEntropyBackward(dlogits.data(), dlosses.data(), logits.data(), targets.data(), B, T, V);
  Floats& dact = keep(Floats(rows * C, 0.0f));
  Floats& dwte = keep(Floats(V * C, 0.0f));
  matmulBackward(dact.data(), dwte.data(), nullptr, dlogits.data(), act.data(), wte.data(), B, T, C, V);
  Floats& dres = keep(Floats(rows * C, 0.0f));
  geluBackward(dres.data(), res.data(), dact.data(), dres.size());
  Floats& dx = keep(Floats(rows * C, 0.0f));
  Floats& dattOut = keep(Floats(rows * C, 0.0f));
  residualBackward(dx.data(), dattOut.data(), dres.data(), dx.size());
  Floats& dqkv = keep(Floats(rows * 3 * C, 0.0f));
  attentionBackward(dqkv.data(), dattOut.data(), qkv.data(), att.data(), B, T, C, NH);
  Floats& dln = keep(Floats(rows * C, 0.0f));
  Floats& dwqkv = keep(Floats(3 * C * C, 0.0f));
  Floats& dbqkv = keep(Floats(3 * C, 0.0f));
  matmulBackward(dln.data(), dwqkv.data(), dbqkv.data(), dqkv.data(), ln.data(), wqkv.data(), B, T, C, 3 * C);
  Floats& dlnw = keep(Floats(C, 0.0f));
  Floats& dlnb = keep(Floats(C, 0.0f));
  layerNormBackward(dx.data(), dlnw.data(), dlnb.data(), dln.data(), x.data(), lnw.data(), mean.data(), rstd.data(),
                    B, T, C);
  Floats& dwpe = keep(Floats(T * C, 0.0f));
  embeddingBackward(dwte.data(), dwpe.data(), dx.data(), tokens.data(), B, T, C);

  keep(Floats{static_cast<float>(globalNormSquared(dwqkv.data(), dwqkv.size()))});
  Floats& params = keep(Floats(wqkv));
  Floats& m = keep(Floats(wqkv.size(), 0.0f));
  Floats& v = keep(Floats(wqkv.size(), 0.0f));
  adamwUpdate(params.data(), dwqkv.data(), m.data(), v.data(), params.size(), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1,
              0.5f);
  return r;
}

TEST(GptDeterminism, BitwiseSameForAnyThreadCountAndRun) {
  ThreadSettingGuard guard;
  setCpuThreads(1);
  const std::vector<Floats> reference = runEveryKernel();
  for (int threads : {1, 2, 3, 5}) {
    setCpuThreads(threads);
    const std::vector<Floats> again = runEveryKernel();
    ASSERT_EQ(again.size(), reference.size());
    for (size_t k = 0; k < reference.size(); ++k)
      EXPECT_TRUE(bitwiseEqual(again[k], reference[k])) << "output " << k << " with " << threads << " threads";
  }
  // The run was not degenerate: the loss and its gradients are finite and non-zero.
  for (const Floats& out : reference) {
    EXPECT_GT(maxAbs(toDoubles(out)), 0.0);
    for (float value : out) ASSERT_TRUE(std::isfinite(value));
  }
}

}  // namespace
}  // namespace loom::gpt
