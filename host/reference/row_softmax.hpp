// The heart of the CPU reference: SPEC sections 2 to 4 for one query row, in double.
// Forward, statistics, ACT and the planners all build on HeadData + row_softmax.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attnkit/params.hpp"
#include "common/problem.hpp"

namespace attnkit::reference {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Inputs of one (sequence b, query head h), converted to double once (K and V through
/// KvReader: an FP8 cache arrives dequantised).
struct HeadData {
  int64_t b = 0, h = 0, kvh = 0;
  int64_t sq = 0, sk = 0;        // this sequence's lengths
  int64_t d = 0, dv = 0;
  std::vector<double> q;         // [sq, d]
  std::vector<double> k;         // [sk, d]
  std::vector<double> v;         // [sk, dv]
  double logit_scale = 1.0;      // scale * tau_h
  double log_gamma = 0.0;        // key-range bias (0 when absent)
  int64_t bias_begin = 0, bias_end = 0;
  double sink = kNegInf;         // sigma_h (-inf when absent)
  // Block mask of this head: allowed[qb * nkb + kb] (empty when no block mask).
  std::vector<uint8_t> block_allowed;
  int64_t block_q = 0, block_k = 0, nkb = 0;
};

/// Reads K or V of one kv head as attention sees it: the stored element times the FP8
/// cache's scale for that head (exact in double: an FP8 value has 4 significant bits and a
/// float32 scale 24), or the element itself when K/V are not an FP8 cache. The only way the
/// reference reads K and V, so no reader can forget the scale.
class KvReader {
 public:
  /// \brief K of kv head `kvh` (scaled by k_scale when K is float8).
  static KvReader keys(const detail::Problem& pr, const AttentionParams& p, int64_t kvh) {
    return KvReader(pr, p.k, p.k_scale, kvh);
  }
  /// \brief V of kv head `kvh` (scaled by v_scale when V is float8).
  static KvReader values(const detail::Problem& pr, const AttentionParams& p, int64_t kvh) {
    return KvReader(pr, p.v, p.v_scale, kvh);
  }
  /// \brief Element `offset` of the tensor (its kv head's rows only), dequantised.
  double operator()(int64_t offset) const;
  const TensorView& tensor() const { return t_; }

 private:
  KvReader(const detail::Problem& pr, const TensorView& t, const TensorView& scale, int64_t kvh);
  TensorView t_;
  double scale_ = 1.0;
};

/// \brief Loads the inputs of (b, h). `with_v` = false skips V (statistics passes).
HeadData load_head(const detail::Problem& pr, const AttentionParams& p, int64_t b, int64_t h, bool with_v = true);

/// \brief SPEC 2: is key j visible to query i (positions within the sequence)?
bool visible(const AttentionParams& p, const HeadData& hd, int64_t i, int64_t j);

/// The softmax of one query row (SPEC 4): logits s[j] (-inf when invisible), the max m
/// (sink included) and the denominator L (sink term included).
struct RowSoftmax {
  std::vector<double> s;  // [sk]
  double m = kNegInf;
  double l = 0.0;
  /// True when no visible key has a finite logit (o = 0; LSE = sink or -inf).
  bool no_keys = true;

  double prob(int64_t j) const { return no_keys || s[j] == kNegInf ? 0.0 : std::exp(s[j] - m) / l; }
  double lse() const { return !(l <= 0.0) ? m + std::log(l) : kNegInf; }  // a NaN l stays NaN
};

/// \brief Computes the logits and softmax state of query row i. `restrict_from` limits the
/// keys to j >= restrict_from (SparseD's generation-region pass); 0 = all keys.
void row_softmax(const AttentionParams& p, const HeadData& hd, int64_t i, RowSoftmax* row, int64_t restrict_from = 0);

/// \brief o_i = sum_j p_ij v_j (SPEC 4), written to `o` [dv].
void row_output(const HeadData& hd, const RowSoftmax& row, double* o);

}  // namespace attnkit::reference
