#include "host/reference/row_softmax.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "host/numeric.hpp"

namespace attnkit::reference {

using detail::load_as_double;

KvReader::KvReader(const detail::Problem& pr, const TensorView& t, const TensorView& scale, int64_t kvh) : t_(t) {
  // A [1] scale serves every kv head; a [Hkv] one is read at its stride (validated shape).
  if (pr.kv_fp8) scale_ = load_as_double(scale, (scale.shape[0] == 1 ? 0 : kvh) * scale.stride[0]);
}

double KvReader::operator()(int64_t offset) const { return load_as_double(t_, offset) * scale_; }

HeadData load_head(const detail::Problem& pr, const AttentionParams& p, int64_t b, int64_t h, bool with_v) {
  HeadData hd;
  hd.b = b;
  hd.h = h;
  hd.kvh = h / pr.group;
  hd.sq = pr.sq[b];
  hd.sk = pr.sk[b];
  hd.d = pr.d;
  hd.dv = pr.dv;
  hd.q.resize(static_cast<size_t>(hd.sq * hd.d));
  hd.k.resize(static_cast<size_t>(hd.sk * hd.d));
  for (int64_t i = 0; i < hd.sq; ++i) {
    const int64_t row = pr.q_row(p.q, b, i, h);
    for (int64_t x = 0; x < hd.d; ++x) hd.q[i * hd.d + x] = load_as_double(p.q, row + x);
  }
  const KvReader k = KvReader::keys(pr, p, hd.kvh);
  for (int64_t j = 0; j < hd.sk; ++j) {
    const int64_t row = pr.k_row(k.tensor(), b, j, hd.kvh);
    for (int64_t x = 0; x < hd.d; ++x) hd.k[j * hd.d + x] = k(row + x);
  }
  if (with_v) {
    const KvReader v = KvReader::values(pr, p, hd.kvh);
    hd.v.resize(static_cast<size_t>(hd.sk * hd.dv));
    for (int64_t j = 0; j < hd.sk; ++j) {
      const int64_t row = pr.k_row(v.tensor(), b, j, hd.kvh);
      for (int64_t x = 0; x < hd.dv; ++x) hd.v[j * hd.dv + x] = v(row + x);
    }
  }
  hd.logit_scale = pr.scale;
  if (pr.has_head_scale) hd.logit_scale *= load_as_double(p.head_scale, h * p.head_scale.stride[0]);
  if (pr.has_bias) {
    hd.log_gamma = load_as_double(p.log_gamma, h * p.log_gamma.stride[0]);
    hd.bias_begin = p.bias_begin;
    hd.bias_end = p.bias_end;
  }
  if (pr.has_sink) hd.sink = load_as_double(p.sink_logit, h * p.sink_logit.stride[0]);
  if (pr.has_block_mask) {
    const TensorView& c = p.block_mask.kv_count;
    const TensorView& x = p.block_mask.kv_index;
    const int64_t mb = c.shape[0] == 1 ? 0 : b;
    const int64_t mh = h / (pr.hq / c.shape[1]);
    hd.block_q = p.block_mask.block_q;
    hd.block_k = p.block_mask.block_k;
    hd.nkb = pr.mask_nkb;
    hd.block_allowed.assign(static_cast<size_t>(pr.mask_nqb * pr.mask_nkb), 0);
    for (int64_t qb = 0; qb < pr.mask_nqb; ++qb) {
      const int64_t base = mb * x.stride[0] + mh * x.stride[1] + qb * x.stride[2];
      const int64_t count = static_cast<int64_t>(load_as_double(c, mb * c.stride[0] + mh * c.stride[1] + qb * c.stride[2]));
      for (int64_t e = 0; e < count; ++e) {
        const int64_t kb = static_cast<int64_t>(load_as_double(x, base + e * x.stride[3]));
        hd.block_allowed[qb * pr.mask_nkb + kb] = 1;  // host masks are validated: kb in range
      }
    }
  }
  return hd;
}

bool visible(const AttentionParams& p, const HeadData& hd, int64_t i, int64_t j) {
  if (j < 0 || j >= hd.sk) return false;
  const int64_t ip = i + hd.sk - hd.sq;  // bottom-right aligned absolute position
  if (p.causal && j > ip) return false;
  // Compared as distances: ip - j and j - ip are small, while ip -/+ window may overflow
  // int64 for huge windows (which are valid and mean "unbounded").
  if (p.window_left >= 0 && ip - j > p.window_left && j >= p.sink_tokens) return false;
  if (p.window_right >= 0 && j - ip > p.window_right) return false;
  if (!hd.block_allowed.empty() && !hd.block_allowed[(i / hd.block_q) * hd.nkb + j / hd.block_k]) return false;
  return true;
}

void row_softmax(const AttentionParams& p, const HeadData& hd, int64_t i, RowSoftmax* row, int64_t restrict_from) {
  row->s.assign(static_cast<size_t>(hd.sk), kNegInf);
  double max_s = kNegInf;
  bool nan_logit = false;
  const double* q = hd.q.data() + i * hd.d;
  for (int64_t j = std::max<int64_t>(0, restrict_from); j < hd.sk; ++j) {
    if (!visible(p, hd, i, j)) continue;
    const double* k = hd.k.data() + j * hd.d;
    double dot = 0.0;
    for (int64_t x = 0; x < hd.d; ++x) dot += q[x] * k[x];
    double s = hd.logit_scale * dot;
    if (j >= hd.bias_begin && j < hd.bias_end) s += hd.log_gamma;
    row->s[j] = s;
    max_s = std::max(max_s, s);
    nan_logit = nan_logit || std::isnan(s);
  }
  // std::max skips NaN, which would turn a row whose logits are all NaN into an "empty"
  // row (O = 0, LSE = -inf). A NaN must reach the outputs it touches (docs/reliability.md).
  if (nan_logit) max_s = std::numeric_limits<double>::quiet_NaN();
  row->no_keys = max_s == kNegInf;
  row->m = std::max(max_s, hd.sink);  // SPEC 4: the sink joins the max before any exp
  row->l = 0.0;
  if (row->m == kNegInf) return;  // nothing visible and no sink
  if (hd.sink != kNegInf) row->l += std::exp(hd.sink - row->m);
  if (!row->no_keys) {
    for (int64_t j = 0; j < hd.sk; ++j) {
      if (row->s[j] != kNegInf) row->l += std::exp(row->s[j] - row->m);
    }
  }
}

void row_output(const HeadData& hd, const RowSoftmax& row, double* o) {
  std::fill(o, o + hd.dv, 0.0);
  if (row.no_keys) return;
  for (int64_t j = 0; j < hd.sk; ++j) {
    if (row.s[j] == kNegInf) continue;
    const double pj = std::exp(row.s[j] - row.m) / row.l;
    const double* v = hd.v.data() + j * hd.dv;
    for (int64_t x = 0; x < hd.dv; ++x) o[x] += pj * v[x];
  }
}

}  // namespace attnkit::reference
