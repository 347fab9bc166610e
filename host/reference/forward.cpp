#include "host/reference/forward.hpp"

#include <cmath>
#include <vector>

#include "host/numeric.hpp"
#include "host/reference/gate.hpp"
#include "host/reference/parallel.hpp"

namespace attnkit::reference {

using detail::load_as_double;
using detail::store_from_double;

namespace {

/// SPEC 6.1 and 6.2 on one row, in double, before the single rounding to O's dtype.
void apply_output_transforms(const detail::Problem& pr, const AttentionParams& p, int64_t b, int64_t h, int64_t i,
                             double* o) {
  if (pr.has_rectify) {
    const TensorView& r = p.rectify.r;
    const TensorView& c = p.rectify.c;
    const int64_t qb = i / p.rectify.block_q;
    const double rv = load_as_double(r, b * r.stride[0] + h * r.stride[1] + qb * r.stride[2]);
    const int64_t cbase = b * c.stride[0] + h * c.stride[1] + qb * c.stride[2];
    for (int64_t x = 0; x < pr.dv; ++x) o[x] = rv * o[x] + load_as_double(c, cbase + x);
  }
  if (pr.has_gate) apply_gate(p.gate, pr.q_row(p.gate.g, b, i, h), pr.gate_elementwise, pr.dv, o);
}

}  // namespace

Status forward(const detail::Problem& pr, const AttentionParams& p, const RowHook& hook) {
  parallel_for(pr.batch * pr.hq, [&](int64_t task) {
    const int64_t b = task / pr.hq, h = task % pr.hq;
    const HeadData hd = load_head(pr, p, b, h);
    RowSoftmax row;
    std::vector<double> o(static_cast<size_t>(pr.dv));
    for (int64_t i = 0; i < hd.sq; ++i) {
      row_softmax(p, hd, i, &row);
      row_output(hd, row, o.data());
      if (pr.has_lse) {
        const TensorView& l = p.lse;
        const int64_t off = pr.varlen ? h * l.stride[0] + (pr.q_start[b] + i) * l.stride[1]
                                      : b * l.stride[0] + h * l.stride[1] + i * l.stride[2];
        store_from_double(l, off, row.lse());
      }
      if (hook) hook(hd, i, row, o.data());
      apply_output_transforms(pr, p, b, h, i, o.data());
      const int64_t base = pr.q_row(p.o, b, i, h);
      for (int64_t x = 0; x < pr.dv; ++x) store_from_double(p.o, base + x, o[x]);
    }
  });
  return Status::ok();
}

}  // namespace attnkit::reference
