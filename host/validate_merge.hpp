// Argument validation of merge_states (SPEC 10 style: every message names the argument and
// the expected value; nothing here writes to any tensor).
#pragma once

#include "attnkit/merge.hpp"
#include "attnkit/status.hpp"
#include "common/merge_problem.hpp"

namespace attnkit::detail {

/// \brief Checks every rule of a merge_states call (docs/api.md, "Merging attention
/// states") and fills `problem`: parts of one dtype and shape with matching float32 LSEs,
/// an output of the same shape, the optional sink, gate and LSE output, one side for every
/// tensor, and no overlap between an output and another argument except the exact in-place
/// views.
Status validate_merge(const MergeStatesParams& params, MergeProblem* problem);

}  // namespace attnkit::detail
