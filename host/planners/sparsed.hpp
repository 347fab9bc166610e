// SparseD (SPEC 8): head-specific block masks for diffusion LMs, built once from one
// layer's Q and K and reused over the later denoising steps. CPU reference planner.
#pragma once

#include <cstdint>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/problem.hpp"
#include "common/sparsed_rule.hpp"

namespace attnkit::planners {

/// \brief Indices of the `keep` largest scores (ties: lower index), in selection order.
std::vector<int64_t> top_blocks(const std::vector<double>& scores, int64_t keep);

/// \brief Writes SparseD's mask for a validated host problem into `out`
/// (kv_count [B, Hq, NQB], kv_index [B, Hq, NQB, NKB], entries ascending then -1).
/// Query blocks past a shorter sequence's end (varlen) get kv_count 0.
void sparsed_plan(const detail::Problem& pr, const AttentionParams& p, const SparseDOptions& options,
                  const BlockMask& out);

}  // namespace attnkit::planners
