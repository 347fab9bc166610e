#include "host/planners/rectified.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "host/numeric.hpp"
#include "host/validate_outputs.hpp"
#include "host/reference/parallel.hpp"
#include "host/reference/row_softmax.hpp"

namespace attnkit::planners {

using detail::load_as_double;

namespace {

/// Step 1: per-block means and mean absolute deviations, accumulated in float32 as the
/// spec fixes (so the CUDA planner can match the pooled values closely).
struct Pooled {
  int64_t nb = 0, d = 0, dv = 0;
  std::vector<float> qbar, dq;  // [nb, d]
  std::vector<float> kbar, dk;  // [nb, d]
  std::vector<float> vbar;      // [nb, dv]
  std::vector<int64_t> n;       // tokens per block (tail blocks are shorter)
};

/// Means of rows [r0, r1) of `src` (row-major, `width` columns) into `mean`, and the mean of
/// |row - mean| into `dev` when non-null.
void pool_rows(const std::vector<double>& src, int64_t width, int64_t r0, int64_t r1, float* mean, float* dev) {
  const float count = static_cast<float>(r1 - r0);
  for (int64_t x = 0; x < width; ++x) {
    float sum = 0.0f;
    for (int64_t r = r0; r < r1; ++r) sum += static_cast<float>(src[r * width + x]);
    mean[x] = sum / count;
  }
  if (dev == nullptr) return;
  for (int64_t x = 0; x < width; ++x) {
    float sum = 0.0f;
    for (int64_t r = r0; r < r1; ++r) sum += std::fabs(static_cast<float>(src[r * width + x]) - mean[x]);
    dev[x] = sum / count;
  }
}

Pooled pool_head(const reference::HeadData& hd, int64_t sv, int64_t bn) {
  Pooled pl;
  pl.nb = (sv + bn - 1) / bn;
  pl.d = hd.d;
  pl.dv = hd.dv;
  pl.qbar.resize(static_cast<size_t>(pl.nb * pl.d));
  pl.dq.resize(pl.qbar.size());
  pl.kbar.resize(pl.qbar.size());
  pl.dk.resize(pl.qbar.size());
  pl.vbar.resize(static_cast<size_t>(pl.nb * pl.dv));
  pl.n.resize(static_cast<size_t>(pl.nb));
  for (int64_t j = 0; j < pl.nb; ++j) {
    const int64_t r0 = j * bn, r1 = std::min(sv, r0 + bn);
    pl.n[j] = r1 - r0;
    pool_rows(hd.q, pl.d, r0, r1, &pl.qbar[j * pl.d], &pl.dq[j * pl.d]);
    pool_rows(hd.k, pl.d, r0, r1, &pl.kbar[j * pl.d], &pl.dk[j * pl.d]);
    pool_rows(hd.v, pl.dv, r0, r1, &pl.vbar[j * pl.dv], nullptr);
  }
  return pl;
}

template <class A, class B>
double dot(const A* a, const B* b, int64_t n) {
  double s = 0.0;
  for (int64_t x = 0; x < n; ++x) s += static_cast<double>(a[x]) * static_cast<double>(b[x]);
  return s;
}

/// One vision query block's plan: selected vision key blocks (ascending), R and c.
struct BlockPlan {
  std::vector<int64_t> vision;  // vision key blocks of M_i, ascending
  double r = 1.0;
  std::vector<double> c;        // [dv]
};

BlockPlan plan_vision_block(const reference::HeadData& hd, const Pooled& pl, int64_t i, int64_t sv, double scale,
                            const RectifiedOptions& options, const std::vector<uint8_t>& forced_row) {
  const int64_t nb = pl.nb, d = pl.d, st = hd.sk - sv;
  const float* qbar = &pl.qbar[i * d];

  // Step 2: pooled scores over vision blocks and text tokens (only `scale`), one softmax.
  std::vector<double> s_vis(static_cast<size_t>(nb)), s_txt(static_cast<size_t>(st));
  double m = reference::kNegInf;
  for (int64_t j = 0; j < nb; ++j) m = std::max(m, s_vis[j] = scale * dot(qbar, &pl.kbar[j * d], d));
  for (int64_t t = 0; t < st; ++t) m = std::max(m, s_txt[t] = scale * dot(qbar, &hd.k[(sv + t) * d], d));
  double l = 0.0;
  for (double& s : s_vis) l += (s = std::exp(s - m));
  for (double& s : s_txt) l += (s = std::exp(s - m));
  double z = 0.0, text_mass = 0.0;
  for (int64_t j = 0; j < nb; ++j) z += static_cast<double>(pl.n[j]) * (s_vis[j] / l);
  for (int64_t t = 0; t < st; ++t) text_mass += s_txt[t] / l;
  z += text_mass;
  // Phat: vision entries 0..nb-1, then the text entry (index nb) when St > 0.
  std::vector<double> phat(static_cast<size_t>(nb + (st > 0 ? 1 : 0)));
  for (int64_t j = 0; j < nb; ++j) phat[j] = static_cast<double>(pl.n[j]) * (s_vis[j] / l) / z;
  if (st > 0) phat[nb] = text_mass / z;

  // Step 3: stable descending sort; n_i = min(#entries, max(top_k, 1 + #{r : cumsum_r <= tau})).
  std::vector<int64_t> order(phat.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return phat[a] > phat[b]; });
  const double tau = options.tau;
  int64_t within_tau = 0;
  double cumsum = 0.0;
  for (int64_t e : order) {
    cumsum += phat[e];
    if (cumsum <= tau) ++within_tau;
  }
  const int64_t entries = static_cast<int64_t>(order.size());
  const int64_t n_sel = std::min(entries, std::max<int64_t>(options.top_k, 1 + within_tau));
  std::vector<uint8_t> in_m(static_cast<size_t>(nb), 0);
  for (int64_t r = 0; r < n_sel; ++r) {
    if (order[r] < nb) in_m[order[r]] = 1;  // the text entry is always in M anyway
  }
  for (int64_t j = 0; j < nb && !forced_row.empty(); ++j) in_m[j] |= forced_row[j];

  // Steps 4-5: GAPR keeps the probability of blocks whose pooled score is unreliable in R;
  // the rest of the unselected mass is compensated by c with pooled values.
  BlockPlan plan;
  plan.r = st > 0 ? phat[nb] : 0.0;
  plan.c.assign(static_cast<size_t>(pl.dv), 0.0);
  for (int64_t j = 0; j < nb; ++j) {
    bool in_r = in_m[j] != 0;
    if (!in_r && options.gapr) {
      const float* kbar = &pl.kbar[j * d];
      in_r = std::fabs(dot(qbar, kbar, d)) <= std::fabs(dot(&pl.dq[i * d], kbar, d)) + std::fabs(dot(qbar, &pl.dk[j * d], d));
    }
    if (in_r) {
      plan.r += phat[j];
    } else {
      for (int64_t x = 0; x < pl.dv; ++x) plan.c[x] += phat[j] * static_cast<double>(pl.vbar[j * pl.dv + x]);
    }
    if (in_m[j]) plan.vision.push_back(j);
  }
  return plan;
}

}  // namespace

void rectified_plan(const detail::Problem& pr, const AttentionParams& p, const RectifiedOptions& options,
                    const RectifiedPlan& out) {
  const int64_t bn = options.block_size;
  const int64_t s = pr.max_sq;
  const int64_t st = options.text_tokens, sv = s - st;
  const int64_t nqb = detail::ceil_div(s, bn);
  const TensorView& kc = out.mask.kv_count;
  const TensorView& ki = out.mask.kv_index;
  const TensorView& rv = out.rectify.r;
  const TensorView& cv = out.rectify.c;
  const TensorView& fm = options.forced;

  reference::parallel_for(pr.batch * pr.hq, [&](int64_t task) {
    const int64_t b = task / pr.hq, h = task % pr.hq;
    const reference::HeadData hd = reference::load_head(pr, p, b, h);
    const Pooled pl = pool_head(hd, sv, bn);
    for (int64_t i = 0; i < nqb; ++i) {
      BlockPlan plan;
      if (i < pl.nb) {
        std::vector<uint8_t> forced_row;
        if (fm.present()) {
          const int64_t mb = fm.shape[0] == 1 ? 0 : b, mh = h / (pr.hq / fm.shape[1]);
          forced_row.resize(static_cast<size_t>(pl.nb));
          for (int64_t j = 0; j < pl.nb; ++j) {
            forced_row[j] = load_as_double(fm, mb * fm.stride[0] + mh * fm.stride[1] + i * fm.stride[2] + j * fm.stride[3]) != 0.0;
          }
        }
        plan = plan_vision_block(hd, pl, i, sv, pr.scale, options, forced_row);
      } else {
        plan.c.assign(static_cast<size_t>(pr.dv), 0.0);  // text query block: dense, r = 1, c = 0
      }
      // Mask row: the vision blocks of M_i, then every key block holding text (>= Sv / BN);
      // text query blocks take every key block.
      std::vector<int64_t> row = plan.vision;
      for (int64_t kb = i < pl.nb ? pl.nb : 0; kb < nqb; ++kb) row.push_back(kb);
      static_cast<int32_t*>(kc.data)[b * kc.stride[0] + h * kc.stride[1] + i * kc.stride[2]] = static_cast<int32_t>(row.size());
      int32_t* idx = static_cast<int32_t*>(ki.data) + b * ki.stride[0] + h * ki.stride[1] + i * ki.stride[2];
      for (int64_t e = 0; e < ki.shape[3]; ++e) {
        idx[e * ki.stride[3]] = e < static_cast<int64_t>(row.size()) ? static_cast<int32_t>(row[e]) : -1;
      }
      static_cast<float*>(rv.data)[b * rv.stride[0] + h * rv.stride[1] + i * rv.stride[2]] = static_cast<float>(plan.r);
      float* c = static_cast<float*>(cv.data) + b * cv.stride[0] + h * cv.stride[1] + i * cv.stride[2];
      for (int64_t x = 0; x < pr.dv; ++x) c[x * cv.stride[3]] = static_cast<float>(plan.c[x]);
    }
  });
}

}  // namespace attnkit::planners
