// A random batched attention problem on the host (BSHD, contiguous) with its params,
// shared by the reference, API and planner tests.
#pragma once

#include <cmath>
#include <cstdint>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {

struct CaseShape {
  int64_t batch = 2, sq = 5, sk = 7, hq = 4, hkv = 2, d = 8, dv = 8;
  DType dtype = DType::kFloat32;
};

/// Owns Q, K, V, O (NaN-poisoned), LSE (NaN-poisoned) and builds AttentionParams over them.
struct AttentionCase {
  CaseShape shape;
  HostTensor q, k, v, o, lse;
  attnkit::AttentionParams params;

  AttentionCase(const CaseShape& s, uint64_t seed) : shape(s) {
    Rng rng(seed);
    q = make_normal(s.dtype, {s.batch, s.sq, s.hq, s.d}, rng);
    k = make_normal(s.dtype, {s.batch, s.sk, s.hkv, s.d}, rng);
    v = make_normal(s.dtype, {s.batch, s.sk, s.hkv, s.dv}, rng);
    o = make_nan(s.dtype, {s.batch, s.sq, s.hq, s.dv});
    lse = make_nan(DType::kFloat32, {s.batch, s.hq, s.sq});
    params.q = q.view;
    params.k = k.view;
    params.v = v.view;
    params.o = o.view;
    params.lse = lse.view;
  }
  /// Re-poisons the outputs (for a second call on the same case).
  void poison() {
    fill_nan(o);
    fill_nan(lse);
  }
  double q_at(int64_t b, int64_t i, int64_t h, int64_t x) const {
    return q.get(((b * shape.sq + i) * shape.hq + h) * shape.d + x);
  }
  double k_at(int64_t b, int64_t j, int64_t h, int64_t x) const {
    return k.get(((b * shape.sk + j) * shape.hkv + h) * shape.d + x);
  }
  double v_at(int64_t b, int64_t j, int64_t h, int64_t x) const {
    return v.get(((b * shape.sk + j) * shape.hkv + h) * shape.dv + x);
  }
  double o_at(int64_t b, int64_t i, int64_t h, int64_t x) const {
    return o.get(((b * shape.sq + i) * shape.hq + h) * shape.dv + x);
  }
  double lse_at(int64_t b, int64_t h, int64_t i) const { return lse.get((b * shape.hq + h) * shape.sq + i); }
};

/// A float32 per-head array [Hq] filled with `values` (cycled).
inline HostTensor head_array(int64_t hq, std::initializer_list<double> values) {
  HostTensor t(DType::kFloat32, {hq});
  int64_t i = 0;
  while (i < hq) {
    for (double v : values) {
      if (i < hq) t.set(i++, v);
    }
  }
  return t;
}

}  // namespace attnkit_test
