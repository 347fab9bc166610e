#include "host/reference/merge.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "host/numeric.hpp"
#include "host/reference/gate.hpp"
#include "host/reference/parallel.hpp"
#include "host/reference/row_softmax.hpp"

namespace attnkit::reference {

using detail::load_as_double;
using detail::store_from_double;

Status merge_states(const detail::MergeProblem& pr, const MergeStatesParams& p) {
  if (pr.rows() == 0 || pr.heads == 0) return Status::ok();
  const int n = pr.num_parts;
  parallel_for(pr.rows(), [&](int64_t row) {
    const int64_t b = row / pr.seqlen, s = row % pr.seqlen;
    std::vector<double> lse(static_cast<size_t>(n)), o(static_cast<size_t>(pr.dv));
    for (int64_t h = 0; h < pr.heads; ++h) {
      const double sigma = pr.has_sink ? load_as_double(p.sink_logit, h * p.sink_logit.stride[0]) : kNegInf;
      // m >= every term, so no exp below can overflow, whatever the magnitudes (a sink of
      // 3.4e38 included). A NaN LSE is skipped by the max and reaches Z through its exp.
      double m = sigma;
      for (int i = 0; i < n; ++i) {
        lse[i] = load_as_double(p.lse_parts[i], pr.lse_at(p.lse_parts[i], b, s, h));
        if (lse[i] != kNegInf) m = std::max(m, lse[i]);
      }
      const double ref = m == kNegInf ? 0.0 : m;
      double z = sigma == kNegInf ? 0.0 : std::exp(sigma - ref);
      std::fill(o.begin(), o.end(), 0.0);
      for (int i = 0; i < n; ++i) {
        if (lse[i] == kNegInf) continue;  // contributes nothing; its O is never read
        const double w = std::exp(lse[i] - ref);
        z += w;
        const TensorView& oi = p.o_parts[i];
        const int64_t base = pr.o_row(oi, b, s, h);
        for (int64_t x = 0; x < pr.dv; ++x) o[x] += w * load_as_double(oi, base + x);
      }
      // z == 0 only when every term is -inf: O = 0 and LSE = -inf (a row nobody saw).
      if (z != 0.0) {
        for (int64_t x = 0; x < pr.dv; ++x) o[x] /= z;
      }
      if (pr.has_gate) apply_gate(p.gate, pr.o_row(p.gate.g, b, s, h), pr.gate_elementwise, pr.dv, o.data());
      // Every input of (row, h) has been read: the in-place views may be written now.
      const int64_t obase = pr.o_row(p.o, b, s, h);
      for (int64_t x = 0; x < pr.dv; ++x) store_from_double(p.o, obase + x, o[x]);
      if (pr.has_lse) store_from_double(p.lse, pr.lse_at(p.lse, b, s, h), z == 0.0 ? kNegInf : ref + std::log(z));
    }
  });
  return Status::ok();
}

}  // namespace attnkit::reference
