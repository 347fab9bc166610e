// attnkit: merging partial attention states (cascade attention, context / sequence
// parallelism, engine-side split-KV). C++17.
#pragma once

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

/// \brief The arguments of `merge_states`: partial results (O_i, LSE_i) of ONE query set
/// against disjoint key sets, combined into (O, LSE) of the union of the key sets.
///
///     m   = max(max_i LSE_i, sigma_h)          (sigma_h = -inf without a sink)
///     w_i = exp(LSE_i - m)
///     Z   = sum_i w_i + exp(sigma_h - m)
///     O   = sum_i w_i O_i / Z,   then the gate (SPEC 6.2) when given
///     LSE = m + ln Z
///
/// A part whose LSE is -inf contributes nothing and its O is never read (it may be NaN).
/// A row where every part is -inf gets O = 0 and LSE = -inf, or LSE = sigma_h with a sink.
/// The partial states must come from forward() WITHOUT sink_logit, gate or rectify (the
/// sink and the gate are applied here, once; rectification does not split over keys and
/// cannot be merged). docs/api.md, "Merging attention states", has every rule.
struct MergeStatesParams {
  // Partial states of one query set over disjoint key sets, in forward()'s layouts:
  // batched O [B, S, H, Dv] with LSE [B, H, S], or packed/varlen O [N, H, Dv] with LSE [H, N].
  const TensorView* o_parts = nullptr;    // num_parts views: all one dtype (fp16, bf16 or fp32) and shape
  const TensorView* lse_parts = nullptr;  // num_parts float32 views (natural-log LSE as forward writes it)
  int num_parts = 0;
  TensorView o;           // out: fp16 / bf16 / fp32, same shape; may be the very view o_parts[k] (in place)
  TensorView lse;         // out, optional (rank 0: not written); may be the very view lse_parts[k]
  TensorView sink_logit;  // optional float32 [H]: the learned sink, added here exactly once
  Gate gate;              // optional: SPEC 6.2 output gate applied after combining (headwise [.., H] or elementwise [.., H, Dv])
  void* stream = nullptr; // CUDA stream for device tensors
};

/// \brief Combines the partial states of `params` into `params.o` (and `params.lse`), adding
/// the learned sink once and applying the gate after combining. Runs on the CPU for host
/// tensors and on a CUDA kernel for device tensors; validates every argument first and
/// writes nothing on error. `o` may be exactly the view `o_parts[k]` and `lse` exactly the
/// view `lse_parts[k]` (in place); any other overlap between an output and another
/// argument is rejected.
Status merge_states(const MergeStatesParams& params);

}  // namespace attnkit
