// The curated prefill cases both emulated families run (emu_cases.hpp).
#include "emu_cases.hpp"

#include <limits>
#include <vector>

namespace attnkit_test {

// Shapes stay around 70-260 with odd tails so every case covers partial kv tiles and
// partial query blocks while an emulated CTA stays cheap; most cases are one or two
// heads and one batch. Head dim 64 carries the features, 128 and 256 the tile shapes.
std::vector<EmuCase> curated_cases() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr DType kBf16 = DType::kBFloat16;
  constexpr DType kFp16 = DType::kFloat16;
  std::vector<EmuCase> v;
  {
    GpuCase c = small("dense_bshd_batch2", 97, 131);
    c.batch = 2;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("dense_bhsd", 75, 140);
    c.bhsd = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("causal_sq_lt_sk", 70, 203);
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("causal_sq_gt_sk_empty_rows", 140, 45);  // rows 0-94 see no key: O = 0, LSE = -inf
    c.causal = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("window_left_sink_tokens_gap_skip", 230, 230);  // the last CTA skips the tile between sinks and window
    c.hq = c.hkv = 1;
    c.causal = true;
    c.window_left = 20;
    c.sink_tokens = 5;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("window_left_right", 100, 137);
    c.window_left = 30;
    c.window_right = 10;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("gqa_4to1_causal_no_lse", 75, 90);
    c.hq = 4;
    c.hkv = 1;
    c.causal = true;
    c.lse = false;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("varlen_gqa_with_empty_sequences", 0, 0);  // (9 queries, 0 keys) and (0, 0)
    c.hq = 4;
    c.varlen_q = {70, 0, 9, 33};
    c.varlen_k = {90, 0, 0, 17};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("head_scale_key_bias_neg_inf", 80, 130);
    c.causal = true;
    c.head_scale = {0.5, 2.0};
    c.log_gamma = {1.0, -kInf};
    c.bias_begin = 10;
    c.bias_end = 90;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("learned_sink_rows_without_keys", 100, 40);
    c.causal = true;
    c.sink_logit = {0.5, -kInf};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("learned_sink_huge_all_keys_biased_out", 70, 100);  // head 1: every key -inf, only the sink
    c.sink_logit = {1e4, 2.0};
    c.log_gamma = {0.3, -kInf};
    c.bias_begin = 0;
    c.bias_end = 100;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("gate_headwise_f32_sigmoid_varlen", 0, 0);
    c.varlen_q = {33, 80};
    c.varlen_k = {40, 71};
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("gate_elementwise_qdtype_identity", 70, 70);
    c.gate = GateKind::kElementwise;
    c.gate_float32 = false;
    c.gate_sigmoid = false;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("gate_elementwise_packed_in_place_causal", 77, 77);
    c.gate = GateKind::kElementwise;
    c.gate_packed = true;
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("rectify_block_q64_causal", 130, 100);
    c.causal = true;
    c.rectify_block_q = 64;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("block_mask_64x64_empty_rows_bm1", 140, 140);
    c.batch = 2;
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.5;
    c.mask_empty_rows = true;
    c.mask_batch_broadcast = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("block_mask_64x128_hm_eq_hkv_causal", 130, 260);
    c.hq = 4;
    c.mask_heads = 2;
    c.mask_block_q = 64;
    c.mask_block_k = 128;
    c.mask_density = 0.6;
    c.mask_empty_rows = true;
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = everything(128, 64, 2, GateKind::kElementwise);
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = everything(64, 128, 1, GateKind::kHeadwise);
    c.gate_float32 = false;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("causal_bhsd_batch2", 90, 130);
    c.hq = c.hkv = 1;
    c.batch = 2;
    c.bhsd = true;
    c.causal = true;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("gqa_window_sink_gate", 100, 120);
    c.hkv = 1;
    c.causal = true;
    c.window_left = 40;
    c.sink_logit = {0.7, -1.0};
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 128, kBf16));
  }
  {
    GpuCase c = small("dense", 70, 100);
    c.hq = c.hkv = 1;
    v.push_back(at(c, 256, kBf16));
  }
  {
    GpuCase c = small("causal_varlen", 0, 0);
    c.hq = c.hkv = 1;
    c.varlen_q = {33, 70};
    c.varlen_k = {50, 70};
    c.causal = true;
    v.push_back(at(c, 256, kFp16));
  }
  {
    // FP8 caches on the prefill kernel (kKvFp8 instances): raw tiles staged, converted exactly.
    GpuCase c = small("fp8_e4m3_causal_gqa_sinks", 113, 203);
    c.hq = 4;
    c.kv_fp8 = DType::kFloat8E4M3;
    c.causal = true;
    c.sink_logit = {0.5, -1.0, 2.0, -kInf};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("fp8_e5m2_per_head_varlen_mask_gate", 0, 0);
    c.hq = 4;
    c.kv_fp8 = DType::kFloat8E5M2;
    c.kv_scale_per_head = true;
    c.varlen_q = {70, 0, 33};
    c.varlen_k = {140, 10, 0};
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.7;
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("fp8_e4m3_per_head_window", 90, 150);
    c.hq = c.hkv = 1;
    c.kv_fp8 = DType::kFloat8E4M3;
    c.kv_scale_per_head = true;
    c.causal = true;
    c.window_left = 40;
    c.sink_tokens = 2;
    v.push_back(at(c, 256, kBf16));
  }
  {
    // d256 walks 32-key tiles (kernel_traits.cuh): a 64-key mask block is two of them,
    // and the window / sink-token gap is skipped at 32-key granularity.
    GpuCase c = small("block_mask_64x64_window_sinks", 150, 230);
    c.hq = c.hkv = 1;
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.6;
    c.causal = true;
    c.window_left = 70;
    c.sink_tokens = 3;
    v.push_back(at(c, 256, kBf16));
  }
  return v;
}

}  // namespace attnkit_test
