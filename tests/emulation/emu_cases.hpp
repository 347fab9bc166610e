// The curated-case helpers of the emulated prefill suites (sm_80 family and Hopper family):
// a GpuCase at one head dim and dtype, with small shapes.
#pragma once

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "cuda/attention_gpu_case.hpp"

namespace attnkit_test {

/// One curated case: a GpuCase (its name is the test name) at one head dim and dtype.
struct EmuCase {
  GpuCase c;
  int64_t d = 64;
  DType dtype = DType::kBFloat16;
};

inline void PrintTo(const EmuCase& e, std::ostream* os) { *os << e.c.name; }

/// \brief A GpuCase with small shapes: one batch, two heads, the given lengths.
inline GpuCase small(const std::string& name, int64_t sq, int64_t sk) {
  GpuCase c;
  c.name = name;
  c.batch = 1;
  c.hq = c.hkv = 2;
  c.sq = sq;
  c.sk = sk;
  return c;
}

/// \brief Every feature at once on 4 query heads, 130 x 150, causal: window + sink tokens, head
/// scales, a key-range bias (one head -inf), learned sinks, a per-head block mask of
/// `mask_block_q` x `mask_block_k` blocks over `mask_heads` heads, rectification and a gate;
/// the caller sets the gate's kind and dtype.
inline GpuCase everything(int mask_block_q, int mask_block_k, int64_t mask_heads, GateKind gate) {
  GpuCase c = small("everything", 130, 150);
  c.hq = 4;
  c.causal = true;
  c.window_left = 70;
  c.sink_tokens = 8;
  c.head_scale = {1.2, 0.8};
  c.log_gamma = {-0.5, 0.4, -std::numeric_limits<double>::infinity()};
  c.bias_begin = 0;
  c.bias_end = 4;
  c.sink_logit = {0.3, -0.2, 2.0};
  c.mask_block_q = mask_block_q;
  c.mask_block_k = mask_block_k;
  c.mask_density = 0.7;
  c.mask_heads = mask_heads;
  c.rectify_block_q = mask_block_q;
  c.gate = gate;
  return c;
}

/// \brief The curated prefill cases (emu_cases.cpp): every feature and their combination at
/// small shapes with odd tails, head dims 64 / 128 / 256, fp16 / bf16, FP8 caches. The
/// mma.sync family's suite runs them all; the Hopper suite runs them with its own larger ones.
std::vector<EmuCase> curated_cases();

inline EmuCase at(GpuCase c, int64_t d, DType dtype) {
  c.name += "_d" + std::to_string(d) + (dtype == DType::kBFloat16 ? "_bf16" : "_fp16");
  return EmuCase{c, d, dtype};
}

}  // namespace attnkit_test
