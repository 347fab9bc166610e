// SparseD (SPEC 8): head-specific block masks for diffusion LMs, built once from one
// layer's Q and K and reused over the later denoising steps. CPU reference planner.
#pragma once

#include <cstdint>
#include <vector>

#include "attnkit/attention.hpp"
#include "host/problem.hpp"

namespace attnkit::planners {

/// \brief The double a user meant by a float option: the shortest decimal that
/// round-trips the float (0.7f -> 0.7, not 0.699999988). SparseD's code computes
/// floor(NKB * rho) with a Python float; this makes 10 * 0.7f give 7 as there.
double decimal_value(float x);

/// \brief Blocks kept per row: min(nkb, max(1, floor(nkb * rho) + 1)), product in double.
int64_t sparsed_keep(int64_t nkb, double rho);

/// \brief Indices of the `keep` largest scores (ties: lower index), in selection order.
std::vector<int64_t> top_blocks(const std::vector<double>& scores, int64_t keep);

/// \brief Writes SparseD's mask for a validated host problem into `out`
/// (kv_count [B, Hq, NQB], kv_index [B, Hq, NQB, NKB], entries ascending then -1).
/// Query blocks past a shorter sequence's end (varlen) get kv_count 0.
void sparsed_plan(const detail::Problem& pr, const AttentionParams& p, const SparseDOptions& options,
                  const BlockMask& out);

}  // namespace attnkit::planners
