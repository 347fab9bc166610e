// The CUDA split-KV decode kernel (SPEC 9) against the CPU reference, through the public
// API: contiguous (batched, BHSD, varlen) and paged caches (shuffled pages, partial last
// page, poisoned unused slots, page sizes 16 / 64 / 256), GQA 1:1 to 8:1, Sq 1 to 16, very
// different key lengths in one batch, and every SPEC 2-6 feature.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/attention_gpu_case.hpp"
#include "cuda/decode_gpu_case.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Builds `c` on the host (paged when asked) and mirrors it, page table included.
void build_decode_call(const DecodeCase& c, int64_t d, DType dtype, uint64_t seed, BuiltCall* host, DeviceCall* dev) {
  build_host_decode_call(c, d, dtype, seed, host);
  mirror_to_device(*host, dev);
  for (attnkit::TensorView* t : {&dev->params.paged_kv.page_table, &dev->params.paged_kv.seqlens_k}) {
    if (!t->present()) continue;
    for (const auto& s : host->store) {
      if (s->bytes.data() != t->data) continue;
      dev->index[s.get()] = dev->copies.size();
      dev->copies.push_back(to_device(*s));
      *t = dev->copies.back().view;
      break;
    }
  }
}

/// \brief Runs `c` on the CPU reference and the CUDA decode kernel; compares O and LSE
/// (tolerance_for + LSE 1e-3) and checks that the decode kernel is the one that ran.
void expect_decode_matches_reference(const DecodeCase& c, int64_t d, DType dtype, uint64_t seed) {
  BuiltCall host;
  DeviceCall dev;
  build_decode_call(c, d, dtype, seed, &host, &dev);
  const attnkit::Status ref = attnkit::forward(host.params);
  ASSERT_TRUE(ref.is_ok()) << "CPU reference: " << ref.message();
  std::string description;
  const attnkit::Status ex = attnkit::explain(dev.params, &description);
  ASSERT_TRUE(ex.is_ok()) << ex.message();
  EXPECT_NE(description.find("decode_sm80<"), std::string::npos) << description;
  const attnkit::Status got = attnkit::forward(dev.params);
  ASSERT_TRUE(got.is_ok()) << "CUDA: " << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());

  expect_device_outputs_match(host, dev, dtype, description);
}

/// Feature cases; each also runs on a paged cache (page size cycling 16, 64, 256).
std::vector<DecodeCase> feature_cases() {
  std::vector<DecodeCase> v;
  v.push_back(named("sq1_gqa1", 1, 777));
  { DecodeCase c = named("sq1_causal_gqa4", 1, 1000); c.call.causal = true; c.call.hq = 8; c.call.hkv = 2; v.push_back(c); }
  { DecodeCase c = named("sq4_causal_gqa8", 4, 900); c.call.causal = true; c.call.hq = 16; c.call.hkv = 2; v.push_back(c); }
  { DecodeCase c = named("sq16_causal_gqa8_row_chunks", 16, 300); c.call.causal = true; c.call.hq = 16; c.call.hkv = 2; c.call.batch = 1; v.push_back(c); }
  { DecodeCase c = named("sq3_gqa4_odd_rows", 3, 129); c.call.hq = 8; c.call.hkv = 2; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("mqa_sq2", 2, 500); c.call.hq = 4; c.call.hkv = 1; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("long_many_splits", 1, 20000); c.call.batch = 1; c.call.hq = 4; c.call.hkv = 1; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("sq_gt_sk_empty_rows", 8, 3); c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("sk0", 2, 0); c.call.sink_logit = {0.5, -kInf}; v.push_back(c); }
  { DecodeCase c = named("window_left_causal", 4, 2000); c.call.causal = true; c.call.window_left = 100; v.push_back(c); }
  { DecodeCase c = named("window_left_right", 4, 600); c.call.window_left = 30; c.call.window_right = 1; v.push_back(c); }
  { DecodeCase c = named("window_right_only", 4, 300); c.call.window_right = 0; v.push_back(c); }
  { DecodeCase c = named("streaming_llm", 1, 5000); c.call.causal = true; c.call.window_left = 256; c.call.sink_tokens = 4; c.call.hq = 8; c.call.hkv = 2; v.push_back(c); }
  { DecodeCase c = named("streaming_llm_wide_sinks", 4, 3000); c.call.causal = true; c.call.window_left = 50; c.call.sink_tokens = 300; v.push_back(c); }
  { DecodeCase c = named("head_scale", 2, 700); c.call.head_scale = {0.5, 1.0, 2.0, 1.5}; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("key_bias_first_token", 1, 800); c.call.log_gamma = {1.0, -kInf, -2.0, 3.0}; v.push_back(c); }
  { DecodeCase c = named("key_bias_range", 4, 800); c.call.log_gamma = {0.7, -kInf, -1.5, 2.0}; c.call.bias_begin = 10; c.call.bias_end = 390; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("key_bias_all_keys_neg_inf", 1, 400); c.call.log_gamma = {0.5, -kInf}; c.call.bias_begin = 0; c.call.bias_end = 400; v.push_back(c); }
  { DecodeCase c = named("learned_sink", 1, 3000); c.call.sink_logit = {0.5, -1.0, 3.0, -kInf}; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("learned_sink_huge", 1, 2000); c.call.sink_logit = {1e4, 2.0}; v.push_back(c); }
  { DecodeCase c = named("fp8_e4m3_per_tensor", 1, 3000); c.call.kv_fp8 = DType::kFloat8E4M3; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("fp8_e5m2_per_head_gqa_sinks", 4, 2500); c.call.kv_fp8 = DType::kFloat8E5M2; c.call.kv_scale_per_head = true; c.call.hq = 8; c.call.hkv = 2; c.call.sink_logit = {0.5, -1.0}; v.push_back(c); }
  { DecodeCase c = named("fp8_e4m3_paged_window", 1, 5000); c.call.kv_fp8 = DType::kFloat8E4M3; c.call.kv_scale_per_head = true; c.page_size = 64; c.call.causal = true; c.call.window_left = 300; c.call.sink_tokens = 4; v.push_back(c); }
  { DecodeCase c = named("learned_sink_near_float_max", 1, 2000); c.call.sink_logit = {2.3e38, 2.4e38, 3.4e38, 1e4}; v.push_back(c); }
  { DecodeCase c = named("learned_sink_below_minus_float_max_empty_rows", 8, 3); c.call.causal = true; c.call.sink_logit = {-2.3e38, -2.4e38, -3.4e38, -1e4}; v.push_back(c); }
  { DecodeCase c = named("learned_sink_rows_without_keys", 6, 2); c.call.sink_logit = {1.0, -2.0}; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("gate_headwise_sigmoid_f32", 1, 600); c.call.gate = GateKind::kHeadwise; v.push_back(c); }
  { DecodeCase c = named("gate_headwise_identity_qdtype", 2, 600); c.call.gate = GateKind::kHeadwise; c.call.gate_float32 = false; c.call.gate_sigmoid = false; v.push_back(c); }
  { DecodeCase c = named("gate_elementwise_sigmoid_qdtype", 1, 600); c.call.gate = GateKind::kElementwise; c.call.gate_float32 = false; v.push_back(c); }
  { DecodeCase c = named("gate_elementwise_identity_f32", 4, 600); c.call.gate = GateKind::kElementwise; c.call.gate_sigmoid = false; v.push_back(c); }
  { DecodeCase c = named("gate_packed_beside_q", 2, 600); c.call.gate = GateKind::kElementwise; c.call.gate_packed = true; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("rectify_block_q_64", 4, 500); c.call.rectify_block_q = 64; v.push_back(c); }
  { DecodeCase c = named("rectify_block_q_3", 8, 500); c.call.rectify_block_q = 3; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("block_mask_64x64", 1, 2000); c.call.mask_block_q = 64; c.call.mask_block_k = 64; c.call.mask_density = 0.4; v.push_back(c); }
  { DecodeCase c = named("block_mask_128x128_empty_rows", 4, 3000); c.call.mask_block_q = 128; c.call.mask_block_k = 128; c.call.mask_density = 0.3; c.call.mask_empty_rows = true; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("block_mask_2x16_per_row_blocks", 4, 700); c.call.mask_block_q = 2; c.call.mask_block_k = 16; c.call.mask_density = 0.5; c.call.causal = true; v.push_back(c); }
  { DecodeCase c = named("block_mask_hm_eq_hkv_bm1", 2, 1500); c.call.mask_block_q = 64; c.call.mask_block_k = 64; c.call.mask_density = 0.5; c.call.hq = 8; c.call.hkv = 2; c.call.mask_heads = 2; c.call.mask_batch_broadcast = true; v.push_back(c); }
  { DecodeCase c = named("varlen_q", 0, 0); c.call.varlen_q = {1, 4, 0, 2, 3}; c.call.varlen_k = {300, 5000, 10, 0, 2}; c.call.causal = true; c.call.hq = 8; c.call.hkv = 2; v.push_back(c); }
  { DecodeCase c = named("varlen_gate_rectify", 0, 0); c.call.varlen_q = {2, 1}; c.call.varlen_k = {400, 1500}; c.call.gate = GateKind::kHeadwise; c.call.rectify_block_q = 1; v.push_back(c); }
  { DecodeCase c = named("no_lse", 1, 900); c.call.lse = false; c.call.causal = true; v.push_back(c); }
  {
    DecodeCase c = named("everything", 4, 4000);
    c.call.hq = 8; c.call.hkv = 2; c.call.causal = true; c.call.window_left = 700; c.call.sink_tokens = 8;
    c.call.head_scale = {1.2, 0.8}; c.call.log_gamma = {-0.5, 0.4, -kInf}; c.call.bias_begin = 0; c.call.bias_end = 4;
    c.call.sink_logit = {0.3, -0.2, 2.0}; c.call.mask_block_q = 64; c.call.mask_block_k = 64; c.call.mask_density = 0.7;
    c.call.mask_heads = 2; c.call.rectify_block_q = 64; c.call.gate = GateKind::kElementwise;
    v.push_back(c);
  }
  // Paged twins of every case (the gate packed beside Q is a Q-side layout: kept too).
  const int64_t page_sizes[] = {16, 64, 256};
  const size_t n = v.size();
  for (size_t i = 0; i < n; ++i) {
    DecodeCase c = v[i];
    c.page_size = page_sizes[i % 3];
    c.call.name = "paged" + std::to_string(c.page_size) + "_" + c.call.name;
    v.push_back(c);
  }
  // Contiguous-only layout.
  { DecodeCase c = named("bhsd_causal", 2, 640); c.call.bhsd = true; c.call.causal = true; v.push_back(c); }
  // Very different key lengths in one batch (1 to 32k), few heads to keep the CPU reference cheap.
  for (int64_t page : {16, 64, 256}) {
    DecodeCase c = named("paged" + std::to_string(page) + "_lengths_1_to_32k_sq1", 1, 32768);
    c.call.batch = 5; c.call.hq = 4; c.call.hkv = 1; c.call.causal = true; c.call.sink_logit = {0.2, -1.0};
    c.page_size = page;
    c.paged_lens = {1, 32768, 100, 0, 5000};
    v.push_back(c);
  }
  {
    DecodeCase c = named("paged64_lengths_sq4_streaming", 4, 20000);
    c.call.batch = 4; c.call.hq = 8; c.call.hkv = 1; c.call.causal = true; c.call.window_left = 500; c.call.sink_tokens = 4;
    c.page_size = 64;
    c.paged_lens = {4, 20000, 65, 1000};
    v.push_back(c);
  }
  return v;
}

using Param = std::tuple<DecodeCase, int, DType>;

class CudaDecodeVsReference : public CudaTestWithParam<Param> {};

TEST_P(CudaDecodeVsReference, MatchesCpuReference) {
  const auto& [c, d, dtype] = GetParam();
  expect_decode_matches_reference(c, d, dtype, /*seed=*/2000 + d);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [c, d, dtype] = info.param;
  return c.call.name + "_d" + std::to_string(d) + (dtype == DType::kBFloat16 ? "_bf16" : "_fp16");
}

INSTANTIATE_TEST_SUITE_P(Decode, CudaDecodeVsReference,
                         ::testing::Combine(::testing::ValuesIn(feature_cases()), ::testing::Values(64, 128, 256),
                                            ::testing::Values(DType::kBFloat16, DType::kFloat16)),
                         param_name);

// ---------------------------------------------------------------------------
// Which family explain() names, and what the decode path rejects.
// ---------------------------------------------------------------------------

class CudaDecodeDispatch : public CudaTest {};

std::string explain_for(int64_t sq, int64_t page_size) {
  DecodeCase c = named("explain", sq, 1024);
  c.page_size = page_size;
  BuiltCall host;
  DeviceCall dev;
  build_decode_call(c, 128, DType::kBFloat16, 1, &host, &dev);
  std::string description;
  const attnkit::Status s = attnkit::explain(dev.params, &description);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return description;
}

TEST_F(CudaDecodeDispatch, ExplainSaysDecodeForSq1AndPrefillForSq64) {
  const std::string decode = explain_for(1, 0);
  EXPECT_NE(decode.find("decode_sm80<bf16,d128>"), std::string::npos) << decode;
  EXPECT_NE(decode.find("splits="), std::string::npos) << decode;
  EXPECT_NE(decode.find("GQA packing"), std::string::npos) << decode;
  EXPECT_NE(decode.find("contiguous"), std::string::npos) << decode;
  const std::string prefill = explain_for(64, 0);
  EXPECT_NE(prefill.find("fwd_sm80<bf16,d128>"), std::string::npos) << prefill;
  EXPECT_EQ(prefill.find("decode"), std::string::npos) << prefill;
}

TEST_F(CudaDecodeDispatch, PagedAlwaysDecodes) {
  const std::string paged = explain_for(64, 16);  // no prefill kernel reads pages
  EXPECT_NE(paged.find("decode_sm80<bf16,d128>"), std::string::npos) << paged;
  EXPECT_NE(paged.find("paged KV cache (page size 16)"), std::string::npos) << paged;
}

TEST_F(CudaDecodeDispatch, PagedUnalignedStrideIsRejectedAndWritesNothing) {
  DecodeCase c = named("unaligned", 1, 64);
  c.call.batch = 1; c.call.hq = c.call.hkv = 1;
  c.page_size = 16;
  BuiltCall host;
  DeviceCall dev;
  build_decode_call(c, 64, DType::kBFloat16, 1, &host, &dev);
  // Q rows 100 elements apart: not a multiple of 8.
  HostTensor& wide = host.add(DType::kBFloat16, {1, 1, 1, 100});
  DeviceTensor wide_dev = to_device(wide, nullptr);
  dev.params.q = attnkit::TensorView::strided(wide_dev.buffer.get(), DType::kBFloat16, {1, 1, 1, 64}, {100, 100, 100, 1});
  dev.params.q.device = attnkit::DeviceKind::kCuda;
  dev.params.q.data = static_cast<unsigned char*>(wide_dev.buffer.get()) + 2 * 4;  // 8 bytes: not 16-byte aligned
  const attnkit::Status s = attnkit::forward(dev.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument) << s.message();
  EXPECT_NE(s.message().find("q."), std::string::npos) << s.message();
  HostTensor o = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o);
  EXPECT_EQ(compare(o, *host.o).mismatched_nonfinite, 0) << "a rejected call must leave O untouched (NaN)";
}

TEST_F(CudaDecodeDispatch, PagedUnsupportedHeadDimIsNotSupported) {
  DecodeCase c = named("d96", 1, 64);
  c.call.batch = 1; c.call.hq = c.call.hkv = 1;
  c.page_size = 16;
  BuiltCall host;
  DeviceCall dev;
  build_decode_call(c, 96, DType::kBFloat16, 1, &host, &dev);
  const attnkit::Status s = attnkit::forward(dev.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kNotSupported) << s.message();
  EXPECT_NE(s.message().find("64, 128 and 256"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace attnkit_test
