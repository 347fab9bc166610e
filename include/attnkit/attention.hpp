// attnkit: public C++ entry points. Every call validates its arguments first and
// returns a Status; on error nothing is written to any output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "attnkit/merge.hpp"
#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// ---------------------------------------------------------------------------
// Forward attention (SPEC 1-6)
// ---------------------------------------------------------------------------

/// \brief Computes O (and LSE when given) for every option in `params`. Runs on the
/// CPU backend when the tensors are in host memory, on a CUDA kernel otherwise.
Status forward(const AttentionParams& params);

/// \brief True when `forward(params)` would run; otherwise `why` (optional) says what
/// is unsupported or invalid.
bool is_supported(const AttentionParams& params, std::string* why = nullptr);

/// \brief Describes in words what `forward(params)` would run: backend, kernel, tile
/// and why. Returns the validation error instead when the call is invalid.
Status explain(const AttentionParams& params, std::string* description);

// ---------------------------------------------------------------------------
// Plan / run with a caller workspace (serving loops, CUDA graph capture)
// ---------------------------------------------------------------------------

/// \brief Everything decided for a family of calls: backend, kernel, tile row, split count
/// and device, plus the workspace those calls need. Made by `plan`, executed by `run`;
/// cheap to copy (shared, immutable). A default-constructed plan is empty.
class AttentionPlan {
 public:
  /// \brief False for an empty plan (default-constructed, or `plan` failed).
  bool valid() const { return impl_ != nullptr; }
  /// \brief Device workspace bytes `run` needs for the largest call of the plan (0: none;
  /// pass a 16-byte aligned buffer of at least this size otherwise).
  size_t workspace_bytes() const;
  /// \brief What `run` launches, in explain()'s words.
  const std::string& description() const;

  struct Impl;  ///< internal

 private:
  friend Status plan(const AttentionParams&, AttentionPlan*);
  friend Status run(const AttentionPlan&, const AttentionParams&, void*, size_t);
  std::shared_ptr<const Impl> impl_;
};

/// \brief Validates `params` (a call of the largest shape the plan will serve: batch, max Sq,
/// max Sk) and decides everything for it, querying the device once. The plan serves any
/// later call with the same dtype, head dims, head counts, layout (varlen / paged, page
/// size, block-mask block sizes) and no larger batch, max Sq or max Sk; options such as
/// causal, windows, sinks, bias, masks' contents and output transforms may change.
Status plan(const AttentionParams& params, AttentionPlan* out);

/// \brief Runs `params` with `plan`: validates, checks the call fits the plan (a call it
/// does not fit is refused, naming the dimension), checks the workspace (`workspace_bytes`
/// the call needs, 16-byte aligned), then launches on params.stream. Allocates no memory,
/// queries no device, reads no device memory and never synchronises: safe inside CUDA graph
/// capture. The workspace must not be used by another call until this one has finished on
/// the stream.
Status run(const AttentionPlan& plan, const AttentionParams& params, void* workspace, size_t workspace_bytes);

// ---------------------------------------------------------------------------
// Attention statistics (SPEC 7)
// ---------------------------------------------------------------------------

/// \brief Outputs of `attention_stats`; each is optional, at least one is required.
/// Column stats: batched [B, Hq, Sk], varlen [Hq, total_k]. Block stats:
/// [B, Hq, NQB, NKB] with NQB = ceil(max Sq / block_q), NKB = ceil(max Sk / block_k);
/// entries beyond a shorter sequence's blocks are written as 0.
struct StatsOutputs {
  TensorView colsum;     ///< float32
  TensorView colcount;   ///< int32
  TensorView colmean;    ///< float32
  TensorView blockmass;  ///< float32
  TensorView blockmean;  ///< float32
  int block_q = 128;
  int block_k = 128;
};

/// \brief Column and/or block statistics of the softmax of SPEC 4 under every mask,
/// bias, scale and sink option of `params` (O, LSE and output transforms are unused).
Status attention_stats(const AttentionParams& params, const StatsOutputs& out);

// ---------------------------------------------------------------------------
// ACT: attention sink calibration (SPEC 7)
// ---------------------------------------------------------------------------

struct ActOptions {
  float theta = 0.1f;           ///< colmean threshold for a sink, in [0, 1]
  float beta = 0.4f;            ///< calibration strength, in [0, 1]
  bool keep_first_sink = true;  ///< never scale the smallest detected j
  int max_sinks = 64;           ///< at most this many sinks per (b, h), >= 1
  TensorView head_mask;         ///< optional uint8 [Hq], nonzero = calibrate; absent = all
};

/// \brief Detected sink sets: count int32 [B, Hq] and index int32 [B, Hq, max_sinks],
/// the first count entries ascending key positions (within the sequence).
struct SinkSets {
  TensorView count;
  TensorView index;
};

/// \brief Detects the sink sets of every (b, h) (SPEC 7, detect step).
Status act_detect(const AttentionParams& params, const ActOptions& options, const SinkSets& out);

/// \brief Forward with ACT calibration: detects the sink sets, calibrates, then applies
/// the output transforms. When `detected` is non-null the sets are also written there.
Status act_forward(const AttentionParams& params, const ActOptions& options,
                   const SinkSets* detected = nullptr);

/// \brief Forward with ACT calibration using sink sets from an earlier detect.
Status act_forward_with_sets(const AttentionParams& params, const ActOptions& options,
                             const SinkSets& sets);

// ---------------------------------------------------------------------------
// Block masks (SPEC 5)
// ---------------------------------------------------------------------------

/// \brief Converts a dense uint8 block matrix [Bm, Hm, NQB, NKB] to compressed rows:
/// out.kv_count [Bm, Hm, NQB], out.kv_index [Bm, Hm, NQB, max_kv] with max_kv >= the
/// longest row (NKB always suffices). Unused index entries are set to -1.
Status block_mask_from_dense(const TensorView& dense, const BlockMask& out, void* stream = nullptr);

/// \brief Expands a compressed block mask into a dense uint8 matrix [Bm, Hm, NQB, NKB].
/// Out-of-range entries are skipped (as kernels skip them).
Status block_mask_to_dense(const BlockMask& mask, const TensorView& dense_out,
                           void* stream = nullptr);

/// \brief Counts the entries of a compressed mask that break SPEC 5 (count outside
/// [0, max_kv], index outside [0, nkb), rows not strictly ascending). Works for host
/// and device masks; `bad_entries` receives the count (0 = valid).
Status block_mask_check(const BlockMask& mask, int64_t nkb, int64_t* bad_entries,
                        void* stream = nullptr);

// ---------------------------------------------------------------------------
// SparseD (SPEC 8)
// ---------------------------------------------------------------------------

struct SparseDOptions {
  int block_size = 128;           ///< bs, for both queries and keys
  float rho = 0.3f;               ///< keep ratio, in (0, 1]
  int64_t generation_start = -1;  ///< g (first key of the generated region), -1 = none
};

/// \brief Builds SparseD's head-specific block mask from Q and K of one layer.
/// out.kv_count int32 [B, Hq, NQB], out.kv_index int32 [B, Hq, NQB, NKB];
/// out.block_q and out.block_k must equal options.block_size.
Status sparsed_plan(const AttentionParams& params, const SparseDOptions& options,
                    const BlockMask& out);

enum class SparseDStep : int {
  kDense = 0,         ///< run dense attention
  kBuildPattern = 1,  ///< run dense attention and build the pattern (sparsed_plan)
  kSparse = 2,        ///< run block-sparse attention with the cached pattern
};

/// \brief SparseD's denoising schedule: steps 0 .. end-1 dense, step `end` builds the
/// pattern, later steps sparse, with end = floor(T * skip) + 1 (product in double).
struct SparseDSchedule {
  int total_steps = 0;
  double skip = 0.2;

  int build_step() const;
  SparseDStep step_kind(int step) const;
};

// ---------------------------------------------------------------------------
// Rectified SpaAttn (SPEC 8)
// ---------------------------------------------------------------------------

struct RectifiedOptions {
  int block_size = 128;     ///< BM = BN
  int64_t text_tokens = 0;  ///< St: the last St tokens are text (unpooled)
  int top_k = -1;           ///< required, >= 0
  float tau = 0.3f;         ///< cumulative probability threshold, in [0, 1]
  bool gapr = true;
  /// Optional uint8 [Bm, Hm, NB, NB] over vision blocks, OR-ed into the selection.
  TensorView forced;
};

/// \brief Plan outputs: the mask (kv_count [B, Hq, NQB], kv_index [B, Hq, NQB, NKB],
/// block sizes = block_size) and the rectification terms r [B, Hq, NQB] and
/// c [B, Hq, NQB, Dv]. Text query blocks get every key block, r = 1, c = 0.
struct RectifiedPlan {
  BlockMask mask;
  Rectification rectify;
};

/// \brief Plans Rectified SpaAttn for self-attention (Sq == Sk, batched layout).
Status rectified_plan(const AttentionParams& params, const RectifiedOptions& options,
                      const RectifiedPlan& out);

/// \brief Plans into `workspace`, then runs block-sparse attention with rectification:
/// vision rows R_i * O_sparse + c_i, text rows dense, then the gate.
Status rectified_attention(const AttentionParams& params, const RectifiedOptions& options,
                           const RectifiedPlan& workspace);

/// \brief The library version, "MAJOR.MINOR.PATCH".
const char* version();

}  // namespace attnkit
