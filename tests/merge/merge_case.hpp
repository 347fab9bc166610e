// A seeded attention call with every key-separable option (SPEC 2-5: causal, windows, sink
// tokens, GQA, head scale, key bias, block mask; batched or varlen) plus the learned sink
// and the gate, for the merge_states tests: the call once, and the same call split over
// keys (merge_split.hpp) then merged, must agree.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"
#include "merge/merge_split.hpp"

namespace attnkit_test {

/// The shape and options of one call.
struct MergeSetup {
  std::string name;
  int64_t batch = 2, sq = 7, sk = 13, hq = 4, hkv = 4, d = 8, dv = 12;
  DType dtype = DType::kFloat32;
  // Varlen: cu_seqlens (then batch = cu_q.size() - 1 and sq / sk are unused).
  std::vector<int32_t> cu_q, cu_k;
  bool causal = false;
  int64_t window_left = -1, window_right = -1, sink_tokens = 0;
  bool head_scale = false;
  bool key_bias = false;  // log_gamma with a -inf head, keys [1, 4)
  bool block_mask = false;
  int block_q = 4, block_k = 3;

  bool varlen() const { return !cu_q.empty(); }
};

/// What merge_states adds on top of the split calls.
enum class MergeExtra : int {
  kNone = 0,
  kSink = 1,              // learned sinks (one head at -inf)
  kSinkHeadwiseGate = 2,  // sinks and a float32 headwise sigmoid gate
  kElementwiseGate = 3,   // an elementwise identity gate in the call's dtype
};

inline const char* extra_name(MergeExtra e) {
  switch (e) {
    case MergeExtra::kNone: return "plain";
    case MergeExtra::kSink: return "sink";
    case MergeExtra::kSinkHeadwiseGate: return "sink+headwise_gate";
    case MergeExtra::kElementwiseGate: return "elementwise_gate";
  }
  return "?";
}

/// The owned tensors and params of one full call (heap-allocated: params point into it).
struct MergeCall {
  MergeSetup setup;
  HostTensor q, k, v, o, lse, cu_q, cu_k, head_scale, log_gamma, sink, gate;
  std::unique_ptr<MaskTensors> mask;
  Chunking split;  // block sizes and the call's own mask; the chunk assignment is the test's
  int64_t nqb = 0, nkb = 0, total_q = 0;
  attnkit::AttentionParams params;

  /// \brief Builds the call: inputs N(0, 1) (keys scaled so that logits spread), outputs NaN.
  static std::unique_ptr<MergeCall> make(const MergeSetup& s, MergeExtra extra, uint64_t seed) {
    auto c = std::make_unique<MergeCall>();
    c->setup = s;
    Rng rng(seed);
    attnkit::AttentionParams& p = c->params;
    int64_t max_sq = s.sq, max_sk = s.sk, total_k = 0;
    const int64_t batch = s.varlen() ? static_cast<int64_t>(s.cu_q.size()) - 1 : s.batch;
    if (s.varlen()) {
      max_sq = max_sk = 0;
      for (int64_t b = 0; b < batch; ++b) {
        max_sq = std::max<int64_t>(max_sq, s.cu_q[b + 1] - s.cu_q[b]);
        max_sk = std::max<int64_t>(max_sk, s.cu_k[b + 1] - s.cu_k[b]);
      }
      c->total_q = s.cu_q.back();
      total_k = s.cu_k.back();
      c->q = make_normal(s.dtype, {c->total_q, s.hq, s.d}, rng);
      c->k = make_normal(s.dtype, {total_k, s.hkv, s.d}, rng, 2.0);
      c->v = make_normal(s.dtype, {total_k, s.hkv, s.dv}, rng);
      c->o = make_nan(s.dtype, {c->total_q, s.hq, s.dv});
      c->lse = make_nan(DType::kFloat32, {s.hq, c->total_q});
      c->cu_q = make_int32({batch + 1}, s.cu_q);
      c->cu_k = make_int32({batch + 1}, s.cu_k);
      p.cu_seqlens_q = c->cu_q.view;
      p.cu_seqlens_k = c->cu_k.view;
    } else {
      c->total_q = s.batch * s.sq;
      c->q = make_normal(s.dtype, {s.batch, s.sq, s.hq, s.d}, rng);
      c->k = make_normal(s.dtype, {s.batch, s.sk, s.hkv, s.d}, rng, 2.0);
      c->v = make_normal(s.dtype, {s.batch, s.sk, s.hkv, s.dv}, rng);
      c->o = make_nan(s.dtype, {s.batch, s.sq, s.hq, s.dv});
      c->lse = make_nan(DType::kFloat32, {s.batch, s.hq, s.sq});
    }
    p.q = c->q.view;
    p.k = c->k.view;
    p.v = c->v.view;
    p.o = c->o.view;
    p.lse = c->lse.view;
    p.causal = s.causal;
    p.window_left = s.window_left;
    p.window_right = s.window_right;
    p.sink_tokens = s.sink_tokens;
    if (s.head_scale) {
      c->head_scale = HostTensor(DType::kFloat32, {s.hq});
      for (int64_t h = 0; h < s.hq; ++h) c->head_scale.set(h, 0.5 + 0.4 * static_cast<double>(h));
      p.head_scale = c->head_scale.view;
    }
    if (s.key_bias) {
      c->log_gamma = HostTensor(DType::kFloat32, {s.hq});
      for (int64_t h = 0; h < s.hq; ++h) c->log_gamma.set(h, h == 1 ? -std::numeric_limits<double>::infinity() : 1.5 - h);
      p.log_gamma = c->log_gamma.view;
      p.bias_begin = 1;
      p.bias_end = 4;
    }
    c->nqb = (max_sq + s.block_q - 1) / s.block_q;
    c->nkb = (max_sk + s.block_k - 1) / s.block_k;
    c->split.block_q = s.block_q;
    c->split.block_k = s.block_k;
    if (s.block_mask) {  // per (sequence, kv head): about two thirds of the blocks
      DenseBlocks& f = c->split.feature;
      f.bm = batch;
      f.hm = s.hkv;
      f.nqb = c->nqb;
      f.nkb = c->nkb;
      f.allowed.resize(static_cast<size_t>(f.bm * f.hm * f.nqb * f.nkb));
      for (auto& a : f.allowed) a = rng.uniform(0.0, 1.0) < 0.67 ? 1 : 0;
      c->mask = std::make_unique<MaskTensors>(f.bm, f.hm, f.nqb, f.nkb, s.block_q, s.block_k,
                                              [&f](int64_t b, int64_t h, int64_t qb, int64_t kb) { return f.at(b, h, qb, kb); });
      p.block_mask = c->mask->mask;
    }
    if (extra == MergeExtra::kSink || extra == MergeExtra::kSinkHeadwiseGate) {
      c->sink = HostTensor(DType::kFloat32, {s.hq});
      for (int64_t h = 0; h < s.hq; ++h) c->sink.set(h, h == 2 ? -std::numeric_limits<double>::infinity() : rng.uniform(-1.0, 3.0));
      p.sink_logit = c->sink.view;
    }
    if (extra == MergeExtra::kSinkHeadwiseGate || extra == MergeExtra::kElementwiseGate) {
      const bool elementwise = extra == MergeExtra::kElementwiseGate;
      const DType gd = elementwise ? s.dtype : DType::kFloat32;
      if (s.varlen()) {
        c->gate = elementwise ? make_normal(gd, {c->total_q, s.hq, s.dv}, rng) : make_normal(gd, {c->total_q, s.hq}, rng);
      } else {
        c->gate = elementwise ? make_normal(gd, {s.batch, s.sq, s.hq, s.dv}, rng) : make_normal(gd, {s.batch, s.sq, s.hq}, rng);
      }
      p.gate.g = c->gate.view;
      p.gate.activation = elementwise ? attnkit::GateActivation::kIdentity : attnkit::GateActivation::kSigmoid;
    }
    return c;
  }

  /// \brief Re-poisons the outputs of the call made once (before calling it again).
  void poison() {
    fill_nan(o);
    fill_nan(lse);
  }

  /// \brief merge_states params over `parts` into (o, lse), with this call's sink and gate.
  attnkit::MergeStatesParams merge_params(Parts& parts, const TensorView& out_o, const TensorView& out_lse) const {
    attnkit::MergeStatesParams m;
    m.o_parts = parts.o_views.data();
    m.lse_parts = parts.lse_views.data();
    m.num_parts = static_cast<int>(parts.o_views.size());
    m.o = out_o;
    m.lse = out_lse;
    m.sink_logit = params.sink_logit;
    m.gate = params.gate;
    return m;
  }
};

/// The key-separable features of SPEC 2-5, each as one call shape.
inline std::vector<MergeSetup> merge_setups() {
  std::vector<MergeSetup> v;
  {
    MergeSetup s;
    s.name = "dense";
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "causal_sq_lt_sk";
    s.sq = 5;
    s.sk = 14;
    s.causal = true;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "causal_sq_gt_sk_empty_rows";
    s.sq = 11;
    s.sk = 6;
    s.causal = true;
    s.block_k = 2;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "window_sink_tokens";
    s.sq = 9;
    s.sk = 16;
    s.causal = true;
    s.window_left = 4;
    s.sink_tokens = 2;
    s.block_k = 2;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "window_both_sides";
    s.sq = 8;
    s.sk = 12;
    s.window_left = 3;
    s.window_right = 2;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "gqa";
    s.hq = 6;
    s.hkv = 2;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "head_scale";
    s.head_scale = true;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "key_bias";
    s.key_bias = true;
    s.block_k = 2;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "block_mask";
    s.sq = 10;
    s.sk = 17;
    s.hkv = 2;
    s.block_mask = true;
    s.block_q = 3;
    s.block_k = 4;
    v.push_back(s);
  }
  {
    MergeSetup s;
    s.name = "varlen_empty_sequences";
    s.cu_q = {0, 3, 3, 8, 8, 10};  // sequence 1 has no queries, 3 none either
    s.cu_k = {0, 5, 9, 9, 16, 21};  // sequence 2 has no keys: its rows see nothing
    s.hkv = 2;
    s.causal = true;
    s.block_mask = true;
    s.block_k = 2;
    v.push_back(s);
  }
  return v;
}

}  // namespace attnkit_test
