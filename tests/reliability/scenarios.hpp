// Forward calls with a spread of shapes and options, shared by the concurrency and
// determinism tests: each Scenario owns its inputs and can run into fresh outputs, so
// many threads can run the same call without sharing anything they write.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {

/// One forward call: the inputs (owned) and the params pointing at them. O and LSE in
/// `params` point at `c.o` / `c.lse`; run_into() swaps in caller-owned outputs.
struct Scenario {
  std::string name;
  AttentionCase c;
  HostTensor head_scale, log_gamma, sink, kv_count, kv_index, rect_r, rect_c, gate, cu_q, cu_k;
  attnkit::AttentionParams params;
  bool varlen = false;

  Scenario(std::string n, const CaseShape& s, uint64_t seed) : name(std::move(n)), c(s, seed) { params = c.params; }

  /// Fresh NaN-poisoned outputs of the right shapes.
  HostTensor make_o() const { return make_nan(c.shape.dtype, {c.shape.batch, c.shape.sq, c.shape.hq, c.shape.dv}); }
  HostTensor make_lse() const { return make_nan(DType::kFloat32, {c.shape.batch, c.shape.hq, c.shape.sq}); }

  /// Runs forward into `o` and `lse` (made by make_o / make_lse).
  attnkit::Status run_into(HostTensor* o, HostTensor* lse) const {
    attnkit::AttentionParams p = params;
    p.o = varlen ? reshape_rows(o->view, c.shape.dv) : o->view;
    p.lse = varlen ? attnkit::TensorView::contiguous(lse->view.data, DType::kFloat32,
                                                      {c.shape.hq, c.shape.batch * c.shape.sq})
                   : lse->view;
    return attnkit::forward(p);
  }

  /// A batched contiguous [B, S, H, X] view seen as varlen rows [B * S, H, X].
  static attnkit::TensorView reshape_rows(const attnkit::TensorView& t, int64_t x) {
    return attnkit::TensorView::contiguous(t.data, t.dtype, {t.shape[0] * t.shape[1], t.shape[2], x});
  }
};

inline bool bitwise_equal(const HostTensor& a, const HostTensor& b) {
  return a.bytes.size() == b.bytes.size() && std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0;
}

/// The scenarios: every option family of SPEC 2-6, each dtype, GQA, varlen.
inline std::vector<std::unique_ptr<Scenario>> make_scenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  auto add = [&](const std::string& name, CaseShape s, uint64_t seed) -> Scenario& {
    all.push_back(std::make_unique<Scenario>(name, s, seed));
    return *all.back();
  };
  {
    add("dense_fp32", {/*batch=*/2, /*sq=*/9, /*sk=*/13, /*hq=*/4, /*hkv=*/4, /*d=*/16, /*dv=*/16, DType::kFloat32}, 1);
  }
  {
    Scenario& s = add("causal_window_sink_tokens_bf16", {2, 11, 17, 4, 2, 32, 32, DType::kBFloat16}, 2);
    s.params.causal = true;
    s.params.window_left = 5;
    s.params.sink_tokens = 2;
  }
  {
    Scenario& s = add("gqa_head_scale_bias_fp16", {1, 7, 12, 6, 2, 8, 24, DType::kFloat16}, 3);
    s.head_scale = head_array(6, {0.5, 1.0, 2.0});
    s.log_gamma = head_array(6, {-1.0, 0.0, 3.0});
    s.params.head_scale = s.head_scale.view;
    s.params.log_gamma = s.log_gamma.view;
    s.params.bias_begin = 0;
    s.params.bias_end = 3;
  }
  {
    Scenario& s = add("learned_sink_window_right_fp32", {3, 5, 8, 2, 1, 8, 8, DType::kFloat32}, 4);
    s.sink = head_array(2, {0.7, -2.0});
    s.params.sink_logit = s.sink.view;
    s.params.window_right = 1;
    s.params.window_left = 2;
  }
  {
    // Block mask: NQB = 3, NKB = 4 with block 4 x 4; rows keep blocks {0, qb + 1}.
    Scenario& s = add("block_mask_fp32", {2, 10, 14, 2, 2, 8, 8, DType::kFloat32}, 5);
    s.kv_count = HostTensor(DType::kInt32, {1, 2, 3});
    s.kv_index = HostTensor(DType::kInt32, {1, 2, 3, 2});
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t qb = 0; qb < 3; ++qb) {
        s.kv_count.ptr<int32_t>()[h * 3 + qb] = 2;
        s.kv_index.ptr<int32_t>()[(h * 3 + qb) * 2] = 0;
        s.kv_index.ptr<int32_t>()[(h * 3 + qb) * 2 + 1] = static_cast<int32_t>(qb + 1);
      }
    s.params.block_mask.kv_count = s.kv_count.view;
    s.params.block_mask.kv_index = s.kv_index.view;
    s.params.block_mask.block_q = 4;
    s.params.block_mask.block_k = 4;
  }
  {
    Scenario& s = add("rectify_gate_bf16", {2, 6, 6, 2, 1, 16, 8, DType::kBFloat16}, 6);
    Rng rng(66);
    s.rect_r = make_normal(DType::kFloat32, {2, 2, 2}, rng);
    s.rect_c = make_normal(DType::kFloat32, {2, 2, 2, 8}, rng);
    s.gate = make_normal(DType::kFloat32, {2, 6, 2, 8}, rng);
    s.params.rectify.r = s.rect_r.view;
    s.params.rectify.c = s.rect_c.view;
    s.params.rectify.block_q = 4;
    s.params.gate.g = s.gate.view;
    s.params.causal = true;
  }
  {
    // Varlen: B * Sq query rows split 1 : 5 : rest, keys 4 : 0 : rest (an empty sequence).
    Scenario& s = add("varlen_causal_fp16", {3, 6, 6, 4, 2, 8, 8, DType::kFloat16}, 7);
    s.varlen = true;
    s.cu_q = make_int32({4}, {0, 1, 6, 18});
    s.cu_k = make_int32({4}, {0, 4, 4, 18});
    s.params.q = Scenario::reshape_rows(s.c.q.view, 8);
    s.params.k = Scenario::reshape_rows(s.c.k.view, 8);
    s.params.v = Scenario::reshape_rows(s.c.v.view, 8);
    s.params.o = Scenario::reshape_rows(s.c.o.view, 8);
    s.params.lse = attnkit::TensorView::contiguous(s.c.lse.view.data, DType::kFloat32, {4, 18});
    s.params.cu_seqlens_q = s.cu_q.view;
    s.params.cu_seqlens_k = s.cu_k.view;
    s.params.causal = true;
  }
  {
    // BHSD input views (strided, no copy) and an explicit scale.
    Scenario& s = add("bhsd_views_scale_fp32", {2, 7, 9, 3, 3, 8, 8, DType::kFloat32}, 8);
    const int64_t b = 2, sq = 7, sk = 9, h = 3, d = 8;
    s.params.q = attnkit::TensorView::strided(s.c.q.view.data, DType::kFloat32, {b, sq, h, d},
                                              {h * sq * d, d, sq * d, 1});
    s.params.k = attnkit::TensorView::strided(s.c.k.view.data, DType::kFloat32, {b, sk, h, d},
                                              {h * sk * d, d, sk * d, 1});
    s.params.scale = 0.3f;
  }
  return all;
}

}  // namespace attnkit_test
