// Rectified SpaAttn (SPEC 8): pooled block selection plus rectification terms for video
// DiTs. The first Sv tokens are pooled in blocks of BM = BN; the last St (text) are not.
// CPU reference planner; rectified_attention then runs the reference forward.
#pragma once

#include <cstdint>

#include "attnkit/attention.hpp"
#include "common/problem.hpp"

namespace attnkit::planners {

/// \brief Writes the plan of a validated host self-attention problem (batched, Sq == Sk):
/// out.mask (kv_count [B, Hq, NQB], kv_index [B, Hq, NQB, NKB], ascending then -1) and
/// out.rectify (r [B, Hq, NQB], c [B, Hq, NQB, Dv]). Vision query blocks follow SPEC 8
/// steps 1-5; text query blocks get every key block, r = 1, c = 0.
void rectified_plan(const detail::Problem& pr, const AttentionParams& p, const RectifiedOptions& options,
                    const RectifiedPlan& out);

}  // namespace attnkit::planners
