// CPU reference of merge_states: what the call runs on host tensors, and the oracle the
// CUDA merge kernel is tested against.
#pragma once

#include "attnkit/merge.hpp"
#include "attnkit/status.hpp"
#include "common/merge_problem.hpp"

namespace attnkit::reference {

/// \brief Combines the partial states of a validated host call in double: m = max(LSE_i,
/// sigma), w_i = exp(LSE_i - m), Z = sum w_i + exp(sigma - m), O = sum w_i O_i / Z, then the
/// gate, one rounding to o's dtype; LSE = m + ln Z. Parts at -inf are never read. Every
/// (row, head) reads all of its inputs before writing, so the exact in-place views are safe.
Status merge_states(const detail::MergeProblem& pr, const MergeStatesParams& p);

}  // namespace attnkit::reference
