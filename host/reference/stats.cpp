#include "host/reference/stats.hpp"

#include <algorithm>

#include "host/numeric.hpp"
#include "host/reference/parallel.hpp"

namespace attnkit::reference {

using detail::store_from_double;

double HeadStats::blockmean(int64_t qb, int64_t kb) const {
  const int64_t rows = std::min(block_q, sq - qb * block_q);
  const int64_t keys = std::min(block_k, sk - kb * block_k);
  return rows > 0 && keys > 0 ? blockmass[qb * nkb + kb] / static_cast<double>(rows * keys) : 0.0;
}

HeadStats head_stats(const AttentionParams& p, const HeadData& hd, int64_t block_q, int64_t block_k,
                     int64_t restrict_from) {
  HeadStats st;
  st.sq = hd.sq;
  st.sk = hd.sk;
  st.colsum.assign(static_cast<size_t>(hd.sk), 0.0);
  st.colcount.assign(static_cast<size_t>(hd.sk), 0);
  if (block_q > 0 && block_k > 0) {
    st.block_q = block_q;
    st.block_k = block_k;
    st.nqb = (hd.sq + block_q - 1) / block_q;
    st.nkb = (hd.sk + block_k - 1) / block_k;
    st.blockmass.assign(static_cast<size_t>(st.nqb * st.nkb), 0.0);
  }
  const int64_t first = std::max<int64_t>(0, restrict_from);
  RowSoftmax row;
  for (int64_t i = 0; i < hd.sq; ++i) {
    row_softmax(p, hd, i, &row, first);
    double* mass = st.blockmass.empty() ? nullptr : st.blockmass.data() + (i / block_q) * st.nkb;
    for (int64_t j = first; j < hd.sk; ++j) {
      // A visible key whose logit is -inf (log_gamma = -inf) is still seen, with p = 0.
      if (!visible(p, hd, i, j)) continue;
      const double pij = row.prob(j);
      st.colsum[j] += pij;
      ++st.colcount[j];
      if (mass) mass[j / block_k] += pij;
    }
  }
  return st;
}

Status attention_stats(const detail::Problem& pr, const AttentionParams& p, const StatsOutputs& out) {
  const bool want_cols = out.colsum.present() || out.colcount.present() || out.colmean.present();
  const bool want_blocks = out.blockmass.present() || out.blockmean.present();
  const int64_t bq = want_blocks ? out.block_q : 0, bk = want_blocks ? out.block_k : 0;

  // Column offset of key j of sequence b, head h: batched [B, Hq, Sk], varlen [Hq, total_k].
  auto col_offset = [&](const TensorView& t, int64_t b, int64_t h, int64_t j) {
    return pr.varlen ? h * t.stride[0] + (pr.k_start[b] + j) * t.stride[1]
                     : b * t.stride[0] + h * t.stride[1] + j * t.stride[2];
  };
  auto block_offset = [](const TensorView& t, int64_t b, int64_t h, int64_t qb, int64_t kb) {
    return b * t.stride[0] + h * t.stride[1] + qb * t.stride[2] + kb * t.stride[3];
  };

  parallel_for(pr.batch * pr.hq, [&](int64_t task) {
    const int64_t b = task / pr.hq, h = task % pr.hq;
    const HeadData hd = load_head(pr, p, b, h, /*with_v=*/false);
    const HeadStats st = head_stats(p, hd, bq, bk);
    if (want_cols) {
      for (int64_t j = 0; j < hd.sk; ++j) {
        if (out.colsum.present()) store_from_double(out.colsum, col_offset(out.colsum, b, h, j), st.colsum[j]);
        if (out.colcount.present()) {
          store_from_double(out.colcount, col_offset(out.colcount, b, h, j), static_cast<double>(st.colcount[j]));
        }
        if (out.colmean.present()) store_from_double(out.colmean, col_offset(out.colmean, b, h, j), st.colmean(j));
      }
      // Batched outputs have no padding keys (Sk_b = Sk); varlen padding is written below.
    }
    if (want_blocks) {
      const TensorView& any = out.blockmass.present() ? out.blockmass : out.blockmean;
      const int64_t nqb = any.shape[2], nkb = any.shape[3];
      for (int64_t qb = 0; qb < nqb; ++qb) {
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const bool inside = qb < st.nqb && kb < st.nkb;
          if (out.blockmass.present()) {
            store_from_double(out.blockmass, block_offset(out.blockmass, b, h, qb, kb),
                              inside ? st.blockmass[qb * st.nkb + kb] : 0.0);
          }
          if (out.blockmean.present()) {
            store_from_double(out.blockmean, block_offset(out.blockmean, b, h, qb, kb),
                              inside ? st.blockmean(qb, kb) : 0.0);
          }
        }
      }
    }
  });

  return Status::ok();
}

}  // namespace attnkit::reference
