// SparseD's block-count rule (SPEC 8), shared by the CPU planner (host/planners) and the
// CUDA planner (cuda/planners), which must keep exactly the same number of blocks.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace attnkit::planners {

/// \brief The double a user meant by a float option: the shortest decimal that
/// round-trips the float (0.7f -> 0.7, not 0.699999988). SparseD's code computes
/// floor(NKB * rho) with a Python float; this makes 10 * 0.7f give 7 as there.
inline double decimal_value(float x) {
  if (!std::isfinite(x)) return static_cast<double>(x);
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf) - 1, x);  // shortest round-trip form
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

/// \brief Blocks kept per row: min(nkb, max(1, floor(nkb * rho) + 1)), product in double.
inline int64_t sparsed_keep(int64_t nkb, double rho) {
  const int64_t floor_part = static_cast<int64_t>(std::floor(static_cast<double>(nkb) * rho));
  return std::min(nkb, std::max<int64_t>(1, floor_part + 1));
}

}  // namespace attnkit::planners
