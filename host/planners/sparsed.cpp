#include "host/planners/sparsed.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "host/reference/parallel.hpp"
#include "host/reference/stats.hpp"

namespace attnkit::planners {

std::vector<int64_t> top_blocks(const std::vector<double>& scores, int64_t keep) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  // stable_sort on an ascending index list: equal scores keep the lower index first.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  order.resize(static_cast<size_t>(std::clamp<int64_t>(keep, 0, static_cast<int64_t>(order.size()))));
  return order;
}

void sparsed_plan(const detail::Problem& pr, const AttentionParams& p, const SparseDOptions& options,
                  const BlockMask& out) {
  const int64_t bs = options.block_size;
  const double rho = decimal_value(options.rho);
  const int64_t g = options.generation_start;
  const TensorView& c = out.kv_count;
  const TensorView& x = out.kv_index;
  const int64_t nqb_out = c.shape[2], nkb_out = x.shape[3];

  reference::parallel_for(pr.batch * pr.hq, [&](int64_t task) {
    const int64_t b = task / pr.hq, h = task % pr.hq;
    const reference::HeadData hd = reference::load_head(pr, p, b, h, /*with_v=*/false);
    // Importance: blockmean over all keys under the call's own options.
    const reference::HeadStats full = reference::head_stats(p, hd, bs, bs);
    const int64_t nkb = full.nkb;
    const int64_t gen_block = g >= 0 ? g / bs : nkb;  // first generation key block
    const int64_t nkb_gen = std::max<int64_t>(0, nkb - gen_block);
    reference::HeadStats gen;
    if (nkb_gen > 0) gen = reference::head_stats(p, hd, bs, bs, /*restrict_from=*/g);

    std::vector<double> scores;
    for (int64_t qb = 0; qb < nqb_out; ++qb) {
      std::vector<int64_t> row;
      if (qb < full.nqb) {
        scores.assign(static_cast<size_t>(nkb), 0.0);
        for (int64_t kb = 0; kb < nkb; ++kb) scores[kb] = full.blockmean(qb, kb);
        for (int64_t kb : top_blocks(scores, sparsed_keep(nkb, rho))) {
          if (kb < gen_block) row.push_back(kb);  // with g: the generation columns are re-chosen below
        }
        if (nkb_gen > 0) {
          scores.assign(static_cast<size_t>(nkb_gen), 0.0);
          for (int64_t e = 0; e < nkb_gen; ++e) scores[e] = gen.blockmean(qb, gen_block + e);
          const int64_t keep_gen =
              std::min(nkb_gen, static_cast<int64_t>(std::floor(static_cast<double>(nkb_gen) * rho)) + 1);
          for (int64_t e : top_blocks(scores, keep_gen)) row.push_back(gen_block + e);
        }
        std::sort(row.begin(), row.end());
      }
      const int64_t cbase = b * c.stride[0] + h * c.stride[1] + qb * c.stride[2];
      static_cast<int32_t*>(c.data)[cbase] = static_cast<int32_t>(row.size());
      int32_t* idx = static_cast<int32_t*>(x.data) + b * x.stride[0] + h * x.stride[1] + qb * x.stride[2];
      for (int64_t e = 0; e < nkb_out; ++e) {
        idx[e * x.stride[3]] = e < static_cast<int64_t>(row.size()) ? static_cast<int32_t>(row[e]) : -1;
      }
    }
  });
}

}  // namespace attnkit::planners
