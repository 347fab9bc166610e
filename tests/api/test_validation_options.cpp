// Validation tests (SPEC 10): scale, windows, sink tokens, per-head arrays, bias range.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "api/validation_fixture.hpp"

namespace attnkit_test::validation {
namespace {

// ---- options ----------------------------------------------------------------

TEST_F(ValidationTest, ScaleNotFinite) {
  for (float scale : {kNaN, kInf, -kInf}) {
    AttentionParams p = batched();
    p.scale = scale;
    expect_rejected(p, "scale");
  }
}

TEST_F(ValidationTest, WindowAndSinkTokenRanges) {
  AttentionParams p = batched();
  p.window_left = -2;
  expect_rejected(p, "window_left");
  p = batched();
  p.window_right = -2;
  expect_rejected(p, "window_right");
  p = batched();
  p.sink_tokens = -1;
  expect_rejected(p, "sink_tokens");
}

// The three per-head float32 [Hq] arrays share their shape and dtype rules.
TEST_F(ValidationTest, PerHeadArrayShapeAndDtype) {
  HostTensor wrong_shape = make_f32({kHq + 1}, {1, 1, 1, 1, 1});
  HostTensor wrong_rank = make_f32({1, kHq}, {1, 1, 1, 1});
  for (auto [field, name] : {std::pair{&AttentionParams::head_scale, "head_scale"},
                             {&AttentionParams::log_gamma, "log_gamma"},
                             {&AttentionParams::sink_logit, "sink_logit"}}) {
    AttentionParams p = batched();
    p.*field = wrong_shape.view;
    expect_rejected(p, std::string(name) + ": expected shape [Hq]");
    p.*field = wrong_rank.view;
    expect_rejected(p, std::string(name) + ": expected shape [Hq]");
    p.*field = head_values_.view;
    (p.*field).dtype = DType::kInt32;
    expect_rejected(p, std::string(name) + ": expected dtype float32");
  }
}

TEST_F(ValidationTest, HeadScaleValuesMustBeFinite) {
  for (float bad : {kNaN, kInf, -kInf}) {
    HostTensor t = make_f32({kHq}, {1.0f, bad, 1.0f, 1.0f});
    AttentionParams p = batched();
    p.head_scale = t.view;
    expect_rejected(p, "head_scale[1]");
  }
}

TEST_F(ValidationTest, LogGammaAndSinkLogitRejectPlusInfAndNaN) {
  for (auto field : {&AttentionParams::log_gamma, &AttentionParams::sink_logit}) {
    const std::string name = field == &AttentionParams::log_gamma ? "log_gamma" : "sink_logit";
    for (float bad : {kNaN, kInf}) {
      HostTensor t = make_f32({kHq}, {0.0f, 0.0f, bad, 0.0f});
      AttentionParams p = batched();
      p.*field = t.view;
      expect_rejected(p, name + "[2]");
    }
  }
}

TEST_F(ValidationTest, LogGammaAndSinkLogitAcceptMinusInf) {
  HostTensor t = make_f32({kHq}, {0.0f, -kInf, 0.5f, -kInf});
  for (auto field : {&AttentionParams::log_gamma, &AttentionParams::sink_logit}) {
    AttentionParams p = batched();
    p.*field = t.view;
    expect_accepted(p);
  }
}

TEST_F(ValidationTest, BiasRange) {
  AttentionParams p = batched();
  p.log_gamma = head_values_.view;
  p.bias_begin = -1;
  expect_rejected(p, "bias_begin");
  p.bias_begin = 3;
  p.bias_end = 2;
  expect_rejected(p, "bias_end");
}

// docs/api.md: 0 <= bias_begin <= bias_end always, so a bad range is refused even when no
// log_gamma makes it matter (an outside check found it accepted).
TEST_F(ValidationTest, BiasRangeIsCheckedWithoutLogGamma) {
  AttentionParams p = batched();
  p.bias_begin = -1;
  expect_rejected(p, "bias_begin");
  p.bias_begin = 3;
  p.bias_end = 2;
  expect_rejected(p, "bias_end");
  p.bias_begin = 2;
  p.bias_end = 2;
  expect_accepted(p);
}

}  // namespace
}  // namespace attnkit_test::validation
