/* attnkit: the C API. A plain C99 view of every public entry point of attention.hpp,
 * for engines written in C and for foreign-function interfaces (ctypes, cffi, Rust,
 * Go). The math is SPEC.md's; the C++ header documents each option in detail.
 *
 * Conventions
 * - Every struct has an init function that fills the C++ defaults; start from it, then
 *   set what you need. A zeroed attnkit_tensor (rank 0) is an absent optional tensor.
 * - Enum-valued struct fields are plain `int` (not the enum type) so that any value a
 *   caller stores is representable; the library rejects out-of-range values with
 *   ATTNKIT_STATUS_INVALID_ARGUMENT and a message naming the field.
 * - Boolean fields are `int`: 0 is false, anything else is true.
 * - Every call that can fail returns an attnkit_status (attnkit_is_supported returns
 *   0 or 1). On failure attnkit_last_error() names the argument and the expected value,
 *   nothing was written to any output, and the library stays usable. No call aborts,
 *   and no C++ exception crosses this boundary.
 * - Functions that take a stream take a cudaStream_t as void* (NULL = default stream);
 *   host calls ignore it.
 */
#ifndef ATTNKIT_ATTNKIT_H_
#define ATTNKIT_ATTNKIT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Enumerations (values equal the C++ enums)                                  */
/* ------------------------------------------------------------------------- */

/** Element types (attnkit::DType). */
typedef enum attnkit_dtype {
  ATTNKIT_DTYPE_FLOAT32 = 0,
  ATTNKIT_DTYPE_FLOAT16 = 1,
  ATTNKIT_DTYPE_BFLOAT16 = 2,
  ATTNKIT_DTYPE_INT32 = 3,
  ATTNKIT_DTYPE_UINT8 = 4,
  ATTNKIT_DTYPE_FLOAT8_E4M3 = 5, /* OCP FP8 E4M3 ("e4m3fn"): K/V caches only, with k_scale / v_scale */
  ATTNKIT_DTYPE_FLOAT8_E5M2 = 6  /* OCP FP8 E5M2: K/V caches only, with k_scale / v_scale */
} attnkit_dtype;

/** Where a tensor's memory lives (attnkit::DeviceKind). */
typedef enum attnkit_device {
  ATTNKIT_DEVICE_HOST = 0,
  ATTNKIT_DEVICE_CUDA = 1
} attnkit_device;

/** Result of every call (attnkit::StatusCode). */
typedef enum attnkit_status {
  ATTNKIT_STATUS_OK = 0,
  ATTNKIT_STATUS_INVALID_ARGUMENT = 1, /* an argument breaks a SPEC rule */
  ATTNKIT_STATUS_NOT_SUPPORTED = 2,    /* valid, but no backend implements it */
  ATTNKIT_STATUS_CUDA_ERROR = 3,       /* a CUDA runtime call or launch failed */
  ATTNKIT_STATUS_INTERNAL = 4          /* a bug in attnkit (or out of memory) */
} attnkit_status;

/** Activation applied to the output gate (attnkit::GateActivation). */
typedef enum attnkit_gate_activation {
  ATTNKIT_GATE_SIGMOID = 0, /* Gated Attention (Qwen3-Next) */
  ATTNKIT_GATE_IDENTITY = 1 /* MoH head weights */
} attnkit_gate_activation;

/** What one SparseD denoising step runs (attnkit::SparseDStep). */
typedef enum attnkit_sparsed_step {
  ATTNKIT_SPARSED_STEP_DENSE = 0,
  ATTNKIT_SPARSED_STEP_BUILD_PATTERN = 1,
  ATTNKIT_SPARSED_STEP_SPARSE = 2
} attnkit_sparsed_step;

/* ------------------------------------------------------------------------- */
/* Tensors and call arguments                                                 */
/* ------------------------------------------------------------------------- */

#define ATTNKIT_MAX_RANK 4

/** A non-owning strided view: base pointer, dtype, shape and strides in elements.
 * rank 0 means absent (optional arguments). Only the last dimension must be contiguous. */
typedef struct attnkit_tensor {
  void* data;
  int dtype; /* attnkit_dtype */
  int rank;  /* 0 (absent) to ATTNKIT_MAX_RANK */
  int64_t shape[ATTNKIT_MAX_RANK];
  int64_t stride[ATTNKIT_MAX_RANK];
  int device; /* attnkit_device */
} attnkit_tensor;

/** Compressed-row block mask (SPEC 5): kv_count int32 [Bm, Hm, NQB], kv_index int32
 * [Bm, Hm, NQB, max_kv]. Absent when kv_count is absent. Defaults: 128 x 128. */
typedef struct attnkit_block_mask {
  attnkit_tensor kv_count;
  attnkit_tensor kv_index;
  int block_q;
  int block_k;
} attnkit_block_mask;

/** Rectification terms (SPEC 6.1): r float32 [B, Hq, NQB], c float32 [B, Hq, NQB, Dv].
 * Absent when r is absent. Default block_q: 128. */
typedef struct attnkit_rectification {
  attnkit_tensor r;
  attnkit_tensor c;
  int block_q;
} attnkit_rectification;

/** Output gate (SPEC 6.2): g [B, Sq, Hq] (headwise) or [B, Sq, Hq, Dv] (elementwise),
 * varlen without B; Q's dtype or float32. Absent when g is absent. */
typedef struct attnkit_gate {
  attnkit_tensor g;
  int activation; /* attnkit_gate_activation, default ATTNKIT_GATE_SIGMOID */
} attnkit_gate;

/** Everything one attention call needs (attnkit::AttentionParams). */
typedef struct attnkit_attention_params {
  /* Batched: q [B, Sq, Hq, D], k [B, Sk, Hkv, D], v [B, Sk, Hkv, Dv], o [B, Sq, Hq, Dv];
   * varlen: the batch dimension is dropped. lse (optional) float32 [B, Hq, Sq] or
   * [Hq, total_q]. */
  attnkit_tensor q;
  attnkit_tensor k;
  attnkit_tensor v;
  attnkit_tensor o;
  attnkit_tensor lse;
  /* Varlen: int32 [B + 1] each; both or neither. */
  attnkit_tensor cu_seqlens_q;
  attnkit_tensor cu_seqlens_k;
  int64_t max_seqlen_q; /* default -1; required for device cu_seqlens */
  int64_t max_seqlen_k; /* default -1; required for a device paged cache */
  /* Paged KV (optional): k, v [num_pages, page_size, Hkv, D|Dv]; page_table int32
   * [B, max_pages_per_seq]; seqlens_k int32 [B]. Replaces cu_seqlens_k. */
  attnkit_tensor page_table;
  attnkit_tensor seqlens_k;
  int has_scale;        /* 0 (default): scale = 1 / sqrt(D) */
  float scale;          /* used when has_scale != 0 */
  int causal;           /* bottom-right aligned; default 0 */
  int64_t window_left;  /* -1 = off (default) */
  int64_t window_right; /* -1 = off (default) */
  int64_t sink_tokens;  /* StreamingLLM sink tokens; default 0 */
  attnkit_tensor head_scale; /* optional float32 [Hq] */
  attnkit_tensor log_gamma;  /* optional float32 [Hq], added to keys in [bias_begin, bias_end) */
  int64_t bias_begin;        /* default 0 */
  int64_t bias_end;          /* default 1 */
  attnkit_tensor sink_logit; /* optional float32 [Hq]: learned sink */
  attnkit_block_mask block_mask;
  attnkit_rectification rectify;
  attnkit_gate gate;
  void* stream; /* cudaStream_t for device calls; NULL = default stream */
  /* FP8 KV cache (appended last, so the offsets of the fields above never move): with k, v
   * float8 (both ATTNKIT_DTYPE_FLOAT8_E4M3 or both _E5M2; q and o stay float16 / bfloat16,
   * float32 too on the host), attention runs on k_scale * k and v_scale * v. float32 [1]
   * (per tensor) or [Hkv] (per kv head); required with float8 k / v, absent otherwise. */
  attnkit_tensor k_scale;
  attnkit_tensor v_scale;
} attnkit_attention_params;

/** Outputs of attnkit_attention_stats; each optional, at least one required. Column
 * stats [B, Hq, Sk] (varlen [Hq, total_k]); block stats [B, Hq, NQB, NKB]. */
typedef struct attnkit_stats_outputs {
  attnkit_tensor colsum;    /* float32 */
  attnkit_tensor colcount;  /* int32 */
  attnkit_tensor colmean;   /* float32 */
  attnkit_tensor blockmass; /* float32 */
  attnkit_tensor blockmean; /* float32 */
  int block_q;              /* default 128 */
  int block_k;              /* default 128 */
} attnkit_stats_outputs;

/** ACT options (SPEC 7). Defaults: theta 0.1, beta 0.4, keep_first_sink 1, max_sinks 64,
 * no head mask (every head calibrated). */
typedef struct attnkit_act_options {
  float theta;
  float beta;
  int keep_first_sink;
  int max_sinks;
  attnkit_tensor head_mask; /* optional uint8 [Hq], nonzero = calibrate */
} attnkit_act_options;

/** Detected sink sets: count int32 [B, Hq], index int32 [B, Hq, max_sinks]. */
typedef struct attnkit_sink_sets {
  attnkit_tensor count;
  attnkit_tensor index;
} attnkit_sink_sets;

/** SparseD planner options (SPEC 8). Defaults: block_size 128, rho 0.3, no generation
 * start (-1). */
typedef struct attnkit_sparsed_options {
  int block_size;
  float rho;
  int64_t generation_start;
} attnkit_sparsed_options;

/** SparseD denoising schedule (SPEC 8). Defaults: total_steps 0, skip 0.2. */
typedef struct attnkit_sparsed_schedule {
  int total_steps;
  double skip;
} attnkit_sparsed_schedule;

/** Rectified SpaAttn options (SPEC 8). Defaults: block_size 128, text_tokens 0,
 * top_k -1 (must be set, >= 0), tau 0.3, gapr 1, no forced blocks. */
typedef struct attnkit_rectified_options {
  int block_size;
  int64_t text_tokens;
  int top_k;
  float tau;
  int gapr;
  attnkit_tensor forced; /* optional uint8 [Bm, Hm, NB, NB] */
} attnkit_rectified_options;

/** Rectified SpaAttn plan outputs (attnkit::RectifiedPlan): the block mask and the
 * rectification terms. Named *_outputs because attnkit_rectified_plan is the function. */
typedef struct attnkit_rectified_plan_outputs {
  attnkit_block_mask mask;
  attnkit_rectification rectify;
} attnkit_rectified_plan_outputs;

/* ------------------------------------------------------------------------- */
/* Defaults and helpers                                                       */
/* ------------------------------------------------------------------------- */

/** \brief Fills `params` with the defaults of attnkit::AttentionParams (every tensor
 * absent). A NULL pointer is ignored. */
void attnkit_attention_params_init(attnkit_attention_params* params);

/** \brief Fills `mask` with the defaults of attnkit::BlockMask (absent, 128 x 128). */
void attnkit_block_mask_init(attnkit_block_mask* mask);

/** \brief Fills `outputs` with the defaults of attnkit::StatsOutputs. */
void attnkit_stats_outputs_init(attnkit_stats_outputs* outputs);

/** \brief Fills `options` with the defaults of attnkit::ActOptions. */
void attnkit_act_options_init(attnkit_act_options* options);

/** \brief Fills `sets` with absent tensors. */
void attnkit_sink_sets_init(attnkit_sink_sets* sets);

/** \brief Fills `options` with the defaults of attnkit::SparseDOptions. */
void attnkit_sparsed_options_init(attnkit_sparsed_options* options);

/** \brief Fills `schedule` with the defaults of attnkit::SparseDSchedule. */
void attnkit_sparsed_schedule_init(attnkit_sparsed_schedule* schedule);

/** \brief Fills `options` with the defaults of attnkit::RectifiedOptions. */
void attnkit_rectified_options_init(attnkit_rectified_options* options);

/** \brief Fills `plan` with the defaults of attnkit::RectifiedPlan (absent tensors, 128). */
void attnkit_rectified_plan_outputs_init(attnkit_rectified_plan_outputs* plan);

/** \brief A row-major contiguous view of `shape[0 .. rank)`. A rank outside 0..4 or a
 * NULL shape with rank > 0 gives a view that every call rejects (naming its rank). */
attnkit_tensor attnkit_tensor_contiguous(void* data, int dtype, int rank, const int64_t* shape,
                                         int device);

/** \brief A view with explicit strides (in elements), both arrays of length `rank`.
 * Bad arguments give a view that every call rejects, as attnkit_tensor_contiguous. */
attnkit_tensor attnkit_tensor_strided(void* data, int dtype, int rank, const int64_t* shape,
                                      const int64_t* stride, int device);

/** \brief The message of the last failing call on this thread: every call that returns
 * an attnkit_status (and attnkit_is_supported) sets it on failure and clears it to ""
 * on success; the init and tensor helpers leave it alone. The pointer is valid for the
 * life of the thread; its text changes with the next such call. Messages longer than
 * 4095 bytes are truncated. */
const char* attnkit_last_error(void);

/** \brief The library version, "MAJOR.MINOR.PATCH". */
const char* attnkit_version(void);

/* ------------------------------------------------------------------------- */
/* Forward attention (SPEC 1-6)                                               */
/* ------------------------------------------------------------------------- */

/** \brief Computes O (and LSE when given) for every option in `params`, on the CPU for
 * host tensors and on a CUDA kernel for device tensors. */
attnkit_status attnkit_forward(const attnkit_attention_params* params);

/** \brief 1 when attnkit_forward(params) would run, 0 otherwise; when 0,
 * attnkit_last_error() says what is unsupported or invalid. */
int attnkit_is_supported(const attnkit_attention_params* params);

/** \brief Describes what attnkit_forward(params) would run (backend, kernel, tile, why).
 * Writes at most `capacity` bytes into `buffer`, always NUL-terminated when capacity > 0
 * (truncated if needed; `buffer` may be NULL when capacity is 0), and stores the full
 * length without the NUL in `*length` when `length` is non-NULL, as snprintf does.
 * On error the buffer holds "" and `*length` is 0. */
attnkit_status attnkit_explain(const attnkit_attention_params* params, char* buffer, size_t capacity,
                               size_t* length);

/* ------------------------------------------------------------------------- */
/* Plan / run with a caller workspace (serving loops, CUDA graph capture)      */
/* ------------------------------------------------------------------------- */

/** Opaque: everything decided for a family of calls (see attnkit::AttentionPlan). */
typedef struct attnkit_plan attnkit_plan;

/** \brief Validates `params` (a call of the largest shape the plan will serve) and makes a
 * plan in `*plan` (NULL on error). Free it with attnkit_plan_destroy. */
attnkit_status attnkit_plan_create(const attnkit_attention_params* params, attnkit_plan** plan);

/** \brief Device workspace bytes attnkit_run needs for the plan's largest call (0: none). */
size_t attnkit_plan_workspace_bytes(const attnkit_plan* plan);

/** \brief Runs `params` with `plan` and the caller's `workspace` (16-byte aligned, at least
 * the bytes the call needs; may be NULL when that is 0). Allocates nothing and never
 * synchronises: safe inside CUDA graph capture. A call the plan does not fit is refused. */
attnkit_status attnkit_run(const attnkit_plan* plan, const attnkit_attention_params* params, void* workspace,
                           size_t workspace_bytes);

/** \brief Frees a plan (NULL is a no-op). */
void attnkit_plan_destroy(attnkit_plan* plan);

/* ------------------------------------------------------------------------- */
/* Attention statistics and ACT (SPEC 7)                                      */
/* ------------------------------------------------------------------------- */

/** \brief Column and/or block statistics of the softmax under the options of `params`
 * (O, LSE and output transforms are unused). */
attnkit_status attnkit_attention_stats(const attnkit_attention_params* params,
                                       const attnkit_stats_outputs* outputs);

/** \brief Detects the ACT sink sets of every (b, h) into `out`. */
attnkit_status attnkit_act_detect(const attnkit_attention_params* params,
                                  const attnkit_act_options* options, const attnkit_sink_sets* out);

/** \brief Forward with ACT calibration; the detected sets are also written to
 * `detected` when it is non-NULL. */
attnkit_status attnkit_act_forward(const attnkit_attention_params* params,
                                   const attnkit_act_options* options,
                                   const attnkit_sink_sets* detected);

/** \brief Forward with ACT calibration using sink sets from an earlier detect. */
attnkit_status attnkit_act_forward_with_sets(const attnkit_attention_params* params,
                                             const attnkit_act_options* options,
                                             const attnkit_sink_sets* sets);

/* ------------------------------------------------------------------------- */
/* Block masks (SPEC 5)                                                       */
/* ------------------------------------------------------------------------- */

/** \brief Converts a dense uint8 block matrix [Bm, Hm, NQB, NKB] into the compressed
 * rows of `out` (kv_count, kv_index with max_kv >= the longest row; unused entries -1). */
attnkit_status attnkit_block_mask_from_dense(const attnkit_tensor* dense, const attnkit_block_mask* out,
                                             void* stream);

/** \brief Expands a compressed block mask into a dense uint8 matrix [Bm, Hm, NQB, NKB];
 * out-of-range entries are skipped. */
attnkit_status attnkit_block_mask_to_dense(const attnkit_block_mask* mask, const attnkit_tensor* dense_out,
                                           void* stream);

/** \brief Counts the entries of `mask` that break SPEC 5 for `nkb` key blocks into
 * `*bad_entries` (0 = valid). Works for host and device masks. */
attnkit_status attnkit_block_mask_check(const attnkit_block_mask* mask, int64_t nkb, int64_t* bad_entries,
                                        void* stream);

/* ------------------------------------------------------------------------- */
/* Sparse pattern planners (SPEC 8)                                           */
/* ------------------------------------------------------------------------- */

/** \brief Builds SparseD's head-specific block mask from Q and K of one layer into `out`
 * (kv_count [B, Hq, NQB], kv_index [B, Hq, NQB, NKB], block sizes = block_size). */
attnkit_status attnkit_sparsed_plan(const attnkit_attention_params* params,
                                    const attnkit_sparsed_options* options, const attnkit_block_mask* out);

/** \brief The step at which the SparseD pattern is built: floor(T * skip) + 1, the
 * product in double. Requires total_steps >= 0 and skip finite in [0, 1]. */
attnkit_status attnkit_sparsed_build_step(const attnkit_sparsed_schedule* schedule, int* step);

/** \brief What denoising step `step` runs, as an attnkit_sparsed_step value in `*kind`.
 * Requires step >= 0 and the schedule rules of attnkit_sparsed_build_step. */
attnkit_status attnkit_sparsed_step_kind(const attnkit_sparsed_schedule* schedule, int step, int* kind);

/** \brief Plans Rectified SpaAttn for self-attention (Sq == Sk, batched layout) into
 * `out` (block mask and rectification terms). */
attnkit_status attnkit_rectified_plan(const attnkit_attention_params* params,
                                      const attnkit_rectified_options* options,
                                      const attnkit_rectified_plan_outputs* out);

/** \brief Plans into `workspace`, then runs block-sparse attention with rectification
 * (vision rows R_i * O_sparse + c_i, text rows dense), then the gate. */
attnkit_status attnkit_rectified_attention(const attnkit_attention_params* params,
                                           const attnkit_rectified_options* options,
                                           const attnkit_rectified_plan_outputs* workspace);

#ifdef __cplusplus
} /* extern "C" */
#endif

#include "attnkit/attnkit_merge.h" /* merging partial attention states */
#endif /* ATTNKIT_ATTNKIT_H_ */
