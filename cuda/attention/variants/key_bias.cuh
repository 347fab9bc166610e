// SPEC 3 key-range bias (ZeroTuning): log_gamma_h added to the logits of keys in
// [bias_begin, bias_end). Tiles the range touches take the per-element path.
#pragma once

#include "cuda/attention/fwd_params.hpp"
#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

struct KeyBias {
  bool enabled;
  float bias_log2;  // log_gamma_h * log2(e); -inf stays -inf (the keys are ignored)
  int begin;
  int end;

  __device__ KeyBias(const FwdParams& p, int h)
      : enabled(p.maybe_log_gamma != nullptr && p.bias_begin < p.bias_end),
        bias_log2(p.maybe_log_gamma != nullptr ? p.maybe_log_gamma[h * p.log_gamma_stride] * cuda_core::kLog2e
                                               : 0.0f),
        begin(p.bias_begin), end(p.bias_end) {}

  /// \brief True when keys [n0, n0 + kBlockN) intersect the biased range.
  template <int kBlockN>
  __device__ __forceinline__ bool touches(int n0) const {
    return enabled && n0 < end && n0 + kBlockN > begin;
  }

  /// \brief Logits transform for key j (log2 domain).
  __device__ __forceinline__ float apply(int j, float x) const {
    return j >= begin && j < end ? x + bias_log2 : x;
  }
};

}  // namespace attnkit::cuda_backend
