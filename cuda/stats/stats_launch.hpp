// Host-side interface of the CUDA statistics and ACT paths (SPEC 7), called by
// host/api_stats.cpp under ATTNKIT_WITH_CUDA with a call that is already fully validated.
// Each function first checks what the CUDA path supports (kNotSupported otherwise) and only
// then launches, so an unsupported call writes nothing.
#pragma once

#include "attnkit/attention.hpp"
#include "common/problem.hpp"

namespace attnkit::cuda_backend {

/// \brief attention_stats on device tensors: an LSE pass, then one statistics pass that
/// recomputes p_ij = exp(s_ij - LSE_i) tile by tile (never the attention matrix).
Status attention_stats_device(const detail::Problem& problem, const AttentionParams& params, const StatsOutputs& out);

/// \brief act_detect on device tensors: column means, then one CTA per (b, h) selects the sinks.
Status act_detect_device(const detail::Problem& problem, const AttentionParams& params, const ActOptions& options,
                         const SinkSets& out);

/// \brief act_forward (given_sets == nullptr: detect first, writing the sets to `detected`
/// when non-null) or act_forward_with_sets (given_sets: device sets of any K) on device
/// tensors: the prefill kernel without output transforms into a float32 scratch O (and the
/// LSE), then one calibration kernel that applies ACT, the rectification and the gate, and
/// rounds once to O's dtype. Scratch: 4 * total_q * Hq * Dv bytes for O, plus the LSE.
Status act_forward_device(const detail::Problem& problem, const AttentionParams& params, const ActOptions& options,
                          const SinkSets* detected, const SinkSets* given_sets);

}  // namespace attnkit::cuda_backend
