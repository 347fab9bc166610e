// SPEC 4 learned sink (gpt-oss): a virtual key with logit sigma_h and value 0, added once
// when the row is finalized. sigma_h is in natural-log units and is not scaled.
#pragma once

#include "cuda/attention/fwd_params.hpp"
#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

struct LearnedSink {
  float logit;       // sigma_h (natural log); -inf when there is no sink
  float logit_log2;  // sigma_h * log2(e)

  __device__ LearnedSink(const FwdParams& p, int h)
      : logit(p.maybe_sink_logit != nullptr ? p.maybe_sink_logit[h * p.sink_logit_stride]
                                            : cuda_core::neg_inf()),
        logit_log2(logit * cuda_core::kLog2e) {}
};

}  // namespace attnkit::cuda_backend
