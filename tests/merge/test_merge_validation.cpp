// merge_states validation (every rule of docs/api.md, "Merging attention states"): the
// message names the argument and the expected value, and nothing is written. Then the
// device side without a device, and the C API (attnkit_merge.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attnkit.h"
#include "attnkit/merge.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {
namespace {

using attnkit::DeviceKind;
using attnkit::MergeStatesParams;
using attnkit::StatusCode;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kB = 2, kS = 3, kH = 4, kDv = 8;

/// A valid batched merge of two float32 parts with a sink and a headwise gate; the
/// outputs are NaN, and `expect_rejected` checks they stay so.
struct MergeStatesValidation : ::testing::Test {
  Rng rng{5};
  HostTensor o0 = make_normal(DType::kFloat32, {kB, kS, kH, kDv}, rng);
  HostTensor o1 = make_normal(DType::kFloat32, {kB, kS, kH, kDv}, rng);
  HostTensor l0 = make_normal(DType::kFloat32, {kB, kH, kS}, rng);
  HostTensor l1 = make_normal(DType::kFloat32, {kB, kH, kS}, rng);
  HostTensor o = make_nan(DType::kFloat32, {kB, kS, kH, kDv});
  HostTensor lse = make_nan(DType::kFloat32, {kB, kH, kS});
  HostTensor sink = make_normal(DType::kFloat32, {kH}, rng);
  HostTensor gate = make_normal(DType::kFloat32, {kB, kS, kH}, rng);
  std::vector<TensorView> o_parts{o0.view, o1.view}, lse_parts{l0.view, l1.view};
  MergeStatesParams m;

  MergeStatesValidation() {
    m.o_parts = o_parts.data();
    m.lse_parts = lse_parts.data();
    m.num_parts = 2;
    m.o = o.view;
    m.lse = lse.view;
    m.sink_logit = sink.view;
    m.gate.g = gate.view;
  }

  void expect_rejected(const std::string& needle, StatusCode code = StatusCode::kInvalidArgument) {
    const std::vector<unsigned char> o_before = o.bytes, lse_before = lse.bytes;
    const std::vector<unsigned char> p0 = o0.bytes, pl0 = l0.bytes;
    const attnkit::Status s = attnkit::merge_states(m);
    EXPECT_EQ(s.code(), code) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << "message: " << s.message() << "\nexpected: " << needle;
    EXPECT_EQ(o.bytes, o_before) << "o written on error";
    EXPECT_EQ(lse.bytes, lse_before) << "lse written on error";
    EXPECT_EQ(o0.bytes, p0) << "o_parts[0] written on error";
    EXPECT_EQ(l0.bytes, pl0) << "lse_parts[0] written on error";
  }
};

TEST_F(MergeStatesValidation, ValidCallWritesEverything) {
  ASSERT_TRUE(attnkit::merge_states(m));
  for (int64_t n = 0; n < o.numel(); ++n) ASSERT_TRUE(std::isfinite(o.get(n))) << n;
  for (int64_t n = 0; n < lse.numel(); ++n) ASSERT_TRUE(std::isfinite(lse.get(n))) << n;
}

TEST_F(MergeStatesValidation, PartCountAndArrays) {
  m.num_parts = 0;
  expect_rejected("num_parts = 0: expected >= 1");
  m.num_parts = -3;
  expect_rejected("num_parts = -3: expected >= 1");
  m.num_parts = 2;
  m.o_parts = nullptr;
  expect_rejected("o_parts: expected an array of num_parts = 2 views, got null");
  m.o_parts = o_parts.data();
  m.lse_parts = nullptr;
  expect_rejected("lse_parts: expected an array of num_parts = 2 views, got null");
}

TEST_F(MergeStatesValidation, PartsShareDtypeShapeAndSide) {
  o_parts[0] = TensorView{};
  expect_rejected("o_parts[0]: required, got an absent tensor");
  o_parts[0] = o0.view;
  o_parts[1] = TensorView{};
  expect_rejected("o_parts[1]: required, got an absent tensor");
  HostTensor ints(DType::kInt32, {kB, kS, kH, kDv});
  o_parts[0] = ints.view;
  expect_rejected("o_parts[0]: expected dtype float32, float16 or bfloat16, got int32");
  HostTensor rank2(DType::kFloat32, {kB * kS, kH * kDv});
  o_parts[0] = rank2.view;
  expect_rejected("o_parts[0]: expected rank 4 [B, S, H, Dv] (batched) or rank 3 [N, H, Dv]");
  o_parts[0] = o0.view;
  HostTensor half(DType::kFloat16, {kB, kS, kH, kDv});
  o_parts[1] = half.view;
  expect_rejected("o_parts[1]: expected dtype float32 (o_parts[0]'s), got float16");
  HostTensor other(DType::kFloat32, {kB, kS, kH, kDv + 1});
  o_parts[1] = other.view;
  expect_rejected("o_parts[1]: expected shape [2, 3, 4, 8] (o_parts[0]'s), got [2, 3, 4, 9]");
  o_parts[1] = o1.view;
  o_parts[1].device = DeviceKind::kCuda;
  expect_rejected("o_parts[1]: lives on a CUDA device but o_parts[0] lives on the host");
  o_parts[1] = o1.view;
  o_parts[1].stride[3] = 2;
  expect_rejected("o_parts[1].stride[3] = 2: expected 1 (the last dimension must be contiguous)");
}

TEST_F(MergeStatesValidation, LseParts) {
  lse_parts[1] = TensorView{};
  expect_rejected("lse_parts[1]: required, got an absent tensor");
  HostTensor wrong(DType::kFloat32, {kB, kS, kH});
  lse_parts[1] = wrong.view;
  expect_rejected("lse_parts[1]: expected shape [B, H, S] = [2, 4, 3], got [2, 3, 4]");
  HostTensor half(DType::kFloat16, {kB, kH, kS});
  lse_parts[1] = half.view;
  expect_rejected("lse_parts[1]: expected dtype float32, got float16");
  lse_parts[1] = l1.view;
  lse_parts[1].device = DeviceKind::kCuda;
  expect_rejected("lse_parts[1]: lives on a CUDA device but o_parts[0] lives on the host");
}

TEST_F(MergeStatesValidation, Outputs) {
  m.o = TensorView{};
  expect_rejected("o: required, got an absent tensor");
  HostTensor ints(DType::kInt32, {kB, kS, kH, kDv});
  m.o = ints.view;
  expect_rejected("o: expected dtype float32, float16 or bfloat16, got int32");
  HostTensor other(DType::kFloat32, {kB, kS + 1, kH, kDv});
  m.o = other.view;
  expect_rejected("o: expected shape [2, 3, 4, 8] (the parts'), got [2, 4, 4, 8]");
  m.o = o.view;
  m.o.device = DeviceKind::kCuda;
  expect_rejected("o: lives on a CUDA device but o_parts[0] lives on the host");
  m.o = o.view;
  HostTensor bad_lse(DType::kFloat32, {kB, kH, kS + 1});
  m.lse = bad_lse.view;
  expect_rejected("lse: expected shape [B, H, S] = [2, 4, 3], got [2, 4, 4]");
}

TEST_F(MergeStatesValidation, SinkValues) {
  HostTensor wrong(DType::kFloat32, {kH + 1});
  m.sink_logit = wrong.view;
  expect_rejected("sink_logit: expected shape [H] = [4], got [5]");
  HostTensor half(DType::kFloat16, {kH});
  m.sink_logit = half.view;
  expect_rejected("sink_logit: expected dtype float32, got float16");
  m.sink_logit = sink.view;
  sink.set(2, kInf);
  expect_rejected("sink_logit[2] = inf: expected finite or -inf");
  sink.set(2, std::numeric_limits<double>::quiet_NaN());
  expect_rejected("sink_logit[2] = nan: expected finite or -inf");
  sink.set(2, -kInf);  // allowed: no sink on that head
  EXPECT_TRUE(attnkit::merge_states(m));
}

TEST_F(MergeStatesValidation, GateShapeDtypeActivation) {
  HostTensor half(DType::kFloat16, {kB, kS, kH});
  m.gate.g = half.view;
  expect_rejected("gate.g: expected dtype float32 (o is float32), got float16");
  HostTensor wrong(DType::kFloat32, {kB, kS, kH, kDv + 1});
  m.gate.g = wrong.view;
  expect_rejected("gate.g: expected shape [B, S, H] = [2, 3, 4] (headwise) or [B, S, H, Dv] (elementwise), got [2, 3, 4, 9]");
  m.gate.g = gate.view;
  m.gate.activation = static_cast<attnkit::GateActivation>(9);
  expect_rejected("gate.activation: expected kSigmoid or kIdentity");
}

TEST_F(MergeStatesValidation, OutputsOverlappingInputsAreRejectedUnlessExactlyInPlace) {
  // o one row into the buffer of o_parts[1]: overlapping, not the same view.
  HostTensor big(DType::kFloat32, {kB + 1, kS, kH, kDv});
  o_parts[1] = TensorView::contiguous(big.view.data, DType::kFloat32, {kB, kS, kH, kDv});
  m.o = TensorView::contiguous(big.ptr<float>() + kDv, DType::kFloat32, {kB, kS, kH, kDv});
  expect_rejected("o: overlaps o_parts[1]; expected either exactly the view o_parts[1]");
  o_parts[1] = o1.view;
  m.o = o.view;
  // o over an LSE part, the gate or the sink; lse over an O part or a partial LSE view.
  HostTensor shared(DType::kFloat32, {kB * kS * kH * kDv});
  m.o = TensorView::contiguous(shared.view.data, DType::kFloat32, {kB, kS, kH, kDv});
  lse_parts[0] = TensorView::contiguous(shared.ptr<float>() + 4, DType::kFloat32, {kB, kH, kS});
  expect_rejected("o: overlaps lse_parts[0]; expected memory disjoint from lse_parts[0]");
  lse_parts[0] = l0.view;
  m.gate.g = TensorView::contiguous(shared.ptr<float>() + 8, DType::kFloat32, {kB, kS, kH});
  expect_rejected("o: overlaps gate.g; expected memory disjoint from gate.g");
  m.gate.g = gate.view;
  m.o = o.view;
  m.lse = TensorView::contiguous(o0.ptr<float>() + 3, DType::kFloat32, {kB, kH, kS});
  expect_rejected("lse: overlaps o_parts[0]; expected memory disjoint from o_parts[0]");
  m.lse = TensorView::strided(l1.view.data, DType::kFloat32, {kB, kH, kS}, {kS, kS, 1});  // same data, other strides
  expect_rejected("lse: overlaps lse_parts[1]; expected either exactly the view lse_parts[1]");
  HostTensor roomy_sink(DType::kFloat32, {kB * kH * kS});
  m.lse = TensorView::contiguous(roomy_sink.view.data, DType::kFloat32, {kB, kH, kS});
  m.sink_logit = TensorView::contiguous(roomy_sink.ptr<float>() + 2, DType::kFloat32, {kH});
  expect_rejected("lse: overlaps sink_logit; expected memory disjoint from sink_logit");
  // The exact views are fine.
  m.sink_logit = sink.view;
  m.o = o_parts[0];
  m.lse = lse_parts[1];
  EXPECT_TRUE(attnkit::merge_states(m));
}

TEST_F(MergeStatesValidation, DeviceTensorsWithoutADevice) {
  if (cuda_device_usable()) GTEST_SKIP() << "a CUDA device is present: fake device pointers would be read";
  alignas(16) static float fake[1024];
  auto dev = [&](const TensorView& t) {
    TensorView d = t;
    d.data = fake;
    d.device = DeviceKind::kCuda;
    return d;
  };
  // Distinct fake addresses would be needed for the aliasing rule; give each its own slice.
  std::vector<TensorView> dp{dev(o0.view), dev(o1.view)}, dl{dev(l0.view), dev(l1.view)};
  dp[1].data = fake + 200;
  dl[0].data = fake + 400;
  dl[1].data = fake + 450;
  m.o_parts = dp.data();
  m.lse_parts = dl.data();
  m.o = dev(o.view);
  m.o.data = fake + 500;
  m.lse = dev(lse.view);
  m.lse.data = fake + 700;
  m.sink_logit = dev(sink.view);
  m.sink_logit.data = fake + 750;
  m.gate.g = dev(gate.view);
  m.gate.g.data = fake + 800;
  const attnkit::Status s = attnkit::merge_states(m);
  EXPECT_TRUE(is_no_device_status(s)) << s.message();
  // More parts than the CUDA kernel takes: refused before any device query.
  std::vector<TensorView> many_o(65, dp[0]), many_l(65, dl[0]);
  m.o_parts = many_o.data();
  m.lse_parts = many_l.data();
  m.num_parts = 65;
  const attnkit::Status t = attnkit::merge_states(m);
  if (t.code() == StatusCode::kNotSupported && t.message().find("built without the CUDA backend") != std::string::npos) {
    return;  // a CPU-only build refuses every device call
  }
  EXPECT_EQ(t.code(), StatusCode::kNotSupported) << t.message();
  EXPECT_NE(t.message().find("num_parts = 65: the CUDA merge kernel combines at most 64 parts"), std::string::npos)
      << t.message();
}

// ---- C API ---------------------------------------------------------------------------

attnkit_tensor c_view(const TensorView& t) {
  attnkit_tensor c{};
  c.data = t.data;
  c.dtype = static_cast<int>(t.dtype);
  c.rank = t.rank;
  c.device = static_cast<int>(t.device);
  for (int i = 0; i < t.rank; ++i) {
    c.shape[i] = t.shape[i];
    c.stride[i] = t.stride[i];
  }
  return c;
}

TEST_F(MergeStatesValidation, CApiInitMatchesCppDefaults) {
  attnkit_merge_states_params p;
  std::memset(&p, 0x5a, sizeof(p));
  attnkit_merge_states_params_init(&p);
  const MergeStatesParams d{};
  EXPECT_EQ(p.o_parts, nullptr);
  EXPECT_EQ(p.lse_parts, nullptr);
  EXPECT_EQ(p.num_parts, d.num_parts);
  EXPECT_EQ(p.o.rank, 0);
  EXPECT_EQ(p.lse.rank, 0);
  EXPECT_EQ(p.sink_logit.rank, 0);
  EXPECT_EQ(p.gate.g.rank, 0);
  EXPECT_EQ(p.gate.activation, ATTNKIT_GATE_SIGMOID);
  EXPECT_EQ(p.stream, nullptr);
  attnkit_merge_states_params_init(nullptr);  // ignored
}

TEST_F(MergeStatesValidation, CApiEqualsCppAndReportsErrors) {
  ASSERT_TRUE(attnkit::merge_states(m));
  const HostTensor o_cpp = o, lse_cpp = lse;
  fill_nan(o);
  fill_nan(lse);
  const attnkit_tensor parts[] = {c_view(o0.view), c_view(o1.view)}, lses[] = {c_view(l0.view), c_view(l1.view)};
  attnkit_merge_states_params p;
  attnkit_merge_states_params_init(&p);
  p.o_parts = parts;
  p.lse_parts = lses;
  p.num_parts = 2;
  p.o = c_view(o.view);
  p.lse = c_view(lse.view);
  p.sink_logit = c_view(sink.view);
  p.gate.g = c_view(gate.view);
  ASSERT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_STREQ(attnkit_last_error(), "");
  EXPECT_EQ(o.bytes, o_cpp.bytes);
  EXPECT_EQ(lse.bytes, lse_cpp.bytes);

  EXPECT_EQ(attnkit_merge_states(nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("params: expected a non-null pointer"), std::string::npos);
  p.gate.activation = 7;
  EXPECT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("gate.activation = 7: expected an attnkit_gate_activation value in [0, 1]"),
            std::string::npos)
      << attnkit_last_error();
  p.gate.activation = ATTNKIT_GATE_SIGMOID;
  attnkit_tensor bad[] = {parts[0], parts[1]};
  bad[1].rank = 9;
  p.o_parts = bad;
  EXPECT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("o_parts[1].rank = 9: expected 0 (absent) to 4"), std::string::npos)
      << attnkit_last_error();
  bad[1] = parts[1];
  bad[1].dtype = 42;
  EXPECT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("o_parts[1].dtype = 42"), std::string::npos) << attnkit_last_error();
  p.o_parts = nullptr;
  EXPECT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("o_parts: expected an array of num_parts = 2 views, got null"),
            std::string::npos)
      << attnkit_last_error();
  p.o_parts = parts;
  p.num_parts = 0;
  EXPECT_EQ(attnkit_merge_states(&p), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("num_parts = 0: expected >= 1"), std::string::npos);
  EXPECT_EQ(o.bytes, o_cpp.bytes);  // untouched by the failed calls
}

}  // namespace
}  // namespace attnkit_test
