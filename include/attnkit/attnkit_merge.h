/* attnkit: merging partial attention states from C (attnkit::merge_states of merge.hpp).
 * Plain C99; included by attnkit.h, and self-contained when included first.
 *
 * Partial states (O_i, LSE_i) of ONE query set over disjoint key sets (cascade attention,
 * context / sequence parallelism, split-KV done by the engine) are combined into (O, LSE)
 * of the union: m = max(max_i LSE_i, sigma), w_i = exp(LSE_i - m),
 * Z = sum_i w_i + exp(sigma - m), O = sum_i w_i O_i / Z (then the gate), LSE = m + ln Z.
 * Compute the partial states with attnkit_forward WITHOUT sink_logit, gate and rectify:
 * the sink and the gate are applied here, once; rectification cannot be merged. A part at
 * LSE = -inf contributes nothing and its O is never read. The conventions of attnkit.h
 * apply (init function, rank 0 = absent, last error, nothing written on failure). */
#ifndef ATTNKIT_ATTNKIT_MERGE_H_
#define ATTNKIT_ATTNKIT_MERGE_H_

#include "attnkit/attnkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The arguments of attnkit_merge_states (attnkit::MergeStatesParams). Batched parts:
 * o [B, S, H, Dv] with lse [B, H, S]; packed / varlen parts: o [N, H, Dv] with lse [H, N]. */
typedef struct attnkit_merge_states_params {
  const attnkit_tensor* o_parts;   /* num_parts views: one dtype (fp16, bf16 or fp32), one shape */
  const attnkit_tensor* lse_parts; /* num_parts float32 views, natural log (as forward writes) */
  int num_parts;                   /* >= 1; at most 64 for device tensors */
  attnkit_tensor o;                /* out: fp16 / bf16 / fp32, the parts' shape; may be exactly o_parts[k] */
  attnkit_tensor lse;              /* out, optional (rank 0: not written); may be exactly lse_parts[k] */
  attnkit_tensor sink_logit;       /* optional float32 [H]: the learned sink, added once */
  attnkit_gate gate;               /* optional output gate, applied after combining */
  void* stream;                    /* cudaStream_t for device tensors; NULL = default stream */
} attnkit_merge_states_params;

/** \brief Fills `params` with the defaults of attnkit::MergeStatesParams (no parts, every
 * tensor absent, sigmoid gate activation). A NULL pointer is ignored. */
void attnkit_merge_states_params_init(attnkit_merge_states_params* params);

/** \brief Combines the partial states of `params` into params->o (and params->lse),
 * adding the sink once and applying the gate after combining; on the CPU for host tensors
 * and on a CUDA kernel for device tensors. */
attnkit_status attnkit_merge_states(const attnkit_merge_states_params* params);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTNKIT_ATTNKIT_MERGE_H_ */
