// CPU reference forward (SPEC 2-6): what forward() runs on host tensors.
#pragma once

#include <functional>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/problem.hpp"
#include "host/reference/row_softmax.hpp"

namespace attnkit::reference {

/// A step between SPEC 4's output o_i and SPEC 6's transforms (ACT calibration uses it);
/// it may rewrite o (length Dv) in place. Called once per query row; must be thread-safe.
using RowHook = std::function<void(const HeadData& hd, int64_t i, const RowSoftmax& row, double* o)>;

/// \brief Computes O (and LSE) for a validated host problem. Parallel over (b, h).
Status forward(const detail::Problem& pr, const AttentionParams& p, const RowHook& hook = nullptr);

}  // namespace attnkit::reference
