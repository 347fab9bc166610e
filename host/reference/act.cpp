#include "host/reference/act.hpp"

#include <algorithm>

#include "host/numeric.hpp"
#include "host/reference/forward.hpp"
#include "host/reference/parallel.hpp"

namespace attnkit::reference {

using detail::load_as_double;
using detail::store_from_double;

namespace {

/// SPEC 7: rows whose sink mass leaves less than this outside S are left unchanged.
constexpr double kMinOutsideMass = 1e-6;

}  // namespace

bool act_head_enabled(const ActOptions& options, int64_t h) {
  const TensorView& m = options.head_mask;
  return !m.present() || load_as_double(m, h * m.stride[0]) != 0.0;
}

std::vector<int64_t> detect_sinks(const HeadStats& stats, const ActOptions& options) {
  const double theta = options.theta;
  std::vector<int64_t> set;
  for (int64_t j = 0; j < stats.sk; ++j) {
    if (stats.colmean(j) > theta) set.push_back(j);
  }
  if (options.keep_first_sink && !set.empty()) set.erase(set.begin());  // the primary sink is never scaled
  const size_t max_sinks = static_cast<size_t>(std::max(options.max_sinks, 1));
  if (set.size() > max_sinks) {
    // Largest colmean first; stable_sort keeps ascending j among equal means (ties: lower j).
    std::stable_sort(set.begin(), set.end(),
                     [&](int64_t a, int64_t b) { return stats.colmean(a) > stats.colmean(b); });
    set.resize(max_sinks);
    std::sort(set.begin(), set.end());
  }
  return set;
}

SinkSetList act_detect(const detail::Problem& pr, const AttentionParams& p, const ActOptions& options) {
  SinkSetList sets(static_cast<size_t>(pr.batch * pr.hq));
  parallel_for(pr.batch * pr.hq, [&](int64_t task) {
    const int64_t b = task / pr.hq, h = task % pr.hq;
    if (!act_head_enabled(options, h)) return;
    const HeadData hd = load_head(pr, p, b, h, /*with_v=*/false);
    sets[task] = detect_sinks(head_stats(p, hd, /*block_q=*/0, /*block_k=*/0), options);
  });
  return sets;
}

void write_sink_sets(const detail::Problem& pr, const SinkSetList& sets, const SinkSets& out) {
  const TensorView& c = out.count;
  const TensorView& x = out.index;
  for (int64_t b = 0; b < pr.batch; ++b) {
    for (int64_t h = 0; h < pr.hq; ++h) {
      const std::vector<int64_t>& set = sets[b * pr.hq + h];
      store_from_double(c, b * c.stride[0] + h * c.stride[1], static_cast<double>(set.size()));
      for (int64_t e = 0; e < x.shape[2]; ++e) {
        const double value = e < static_cast<int64_t>(set.size()) ? static_cast<double>(set[e]) : -1.0;
        store_from_double(x, b * x.stride[0] + h * x.stride[1] + e * x.stride[2], value);
      }
    }
  }
}

SinkSetList read_sink_sets(const detail::Problem& pr, const ActOptions& options, const SinkSets& in) {
  const TensorView& c = in.count;
  const TensorView& x = in.index;
  SinkSetList sets(static_cast<size_t>(pr.batch * pr.hq));
  for (int64_t b = 0; b < pr.batch; ++b) {
    for (int64_t h = 0; h < pr.hq; ++h) {
      if (!act_head_enabled(options, h)) continue;
      const int64_t count = static_cast<int64_t>(load_as_double(c, b * c.stride[0] + h * c.stride[1]));
      std::vector<int64_t>& set = sets[b * pr.hq + h];
      for (int64_t e = 0; e < count; ++e) {
        set.push_back(static_cast<int64_t>(load_as_double(x, b * x.stride[0] + h * x.stride[1] + e * x.stride[2])));
      }
    }
  }
  return sets;
}

Status act_forward(const detail::Problem& pr, const AttentionParams& p, const ActOptions& options,
                   const SinkSetList& sets) {
  const double beta = options.beta;
  RowHook calibrate = [&](const HeadData& hd, int64_t /*i*/, const RowSoftmax& row, double* o) {
    const std::vector<int64_t>& set = sets[hd.b * pr.hq + hd.h];
    if (set.empty() || row.no_keys) return;  // no keys: every p_ij = 0, so m = 0 and u = 0
    double m = 0.0;
    std::vector<double> u(static_cast<size_t>(hd.dv), 0.0);
    for (int64_t j : set) {
      const double pj = row.prob(j);
      m += pj;
      const double* v = hd.v.data() + j * hd.dv;
      for (int64_t x = 0; x < hd.dv; ++x) u[x] += pj * v[x];
    }
    if (1.0 - m < kMinOutsideMass) return;
    const double rest = (1.0 - beta * m) / (1.0 - m);  // rescales the mass outside S
    for (int64_t x = 0; x < hd.dv; ++x) o[x] = beta * u[x] + rest * (o[x] - u[x]);
  };
  return forward(pr, p, calibrate);
}

}  // namespace attnkit::reference
