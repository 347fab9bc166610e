// SPEC 6.2's output gate on one finished row, in double, before the single rounding to O's
// dtype: shared by the forward reference and the merge reference (which applies it after
// combining the parts).
#pragma once

#include <cmath>
#include <cstdint>

#include "attnkit/params.hpp"
#include "host/numeric.hpp"

namespace attnkit::reference {

/// \brief o[x] *= act(g) for x in [0, dv); g at element `base` of gate.g (headwise: one value
/// for the row; elementwise: one per column, unit stride after validation).
inline void apply_gate(const Gate& gate, int64_t base, bool elementwise, int64_t dv, double* o) {
  const bool sigmoid = gate.activation == GateActivation::kSigmoid;
  for (int64_t x = 0; x < dv; ++x) {
    const double gv = detail::load_as_double(gate.g, base + (elementwise ? x : 0));
    o[x] *= sigmoid ? 1.0 / (1.0 + std::exp(-gv)) : gv;
  }
}

}  // namespace attnkit::reference
