// CPU reference for SPEC 7's attention statistics: column stats (the attention each key
// receives) and block stats (the mass of each (query block, key block) tile), from the
// p_ij of SPEC 4 (the sink is in the denominator, never a column). ACT and SparseD reuse
// head_stats.
#pragma once

#include <cstdint>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/problem.hpp"
#include "host/reference/row_softmax.hpp"

namespace attnkit::reference {

/// Statistics of one (sequence b, query head h), positions within the sequence.
struct HeadStats {
  int64_t sq = 0, sk = 0;
  // Column stats over keys [0, sk).
  std::vector<double> colsum;     // [sk]
  std::vector<int64_t> colcount;  // [sk]: queries that see j (SPEC 2 visibility)
  // Block stats (empty when block_q == 0): nqb = ceil(sq / block_q), nkb = ceil(sk / block_k).
  int64_t block_q = 0, block_k = 0, nqb = 0, nkb = 0;
  std::vector<double> blockmass;  // [nqb, nkb]

  /// \brief colsum / colcount, 0 when no query sees j.
  double colmean(int64_t j) const { return colcount[j] > 0 ? colsum[j] / static_cast<double>(colcount[j]) : 0.0; }
  /// \brief blockmass / (rows in qb * keys in kb), with the actual sizes of tail blocks.
  double blockmean(int64_t qb, int64_t kb) const;
};

/// \brief Column and (when block_q > 0) block statistics of head (hd.b, hd.h).
/// `restrict_from` > 0 limits the softmax, and the keys counted, to j >= restrict_from
/// (SparseD's generation-region pass).
HeadStats head_stats(const AttentionParams& p, const HeadData& hd, int64_t block_q, int64_t block_k,
                     int64_t restrict_from = 0);

/// \brief attention_stats on a validated host problem: writes every requested output
/// completely (entries of no sequence, i.e. varlen keys past cu_seqlens_k[B] and blocks
/// past a shorter sequence's last block, are 0).
Status attention_stats(const detail::Problem& pr, const AttentionParams& p, const StatsOutputs& out);

}  // namespace attnkit::reference
