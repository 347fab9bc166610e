// C API tests: out-of-range enums and ranks, null pointers, absent tensors, attnkit_last_error().
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "api/c_api_fixture.hpp"

namespace attnkit_test::c_api {
namespace {

// ---- enum values and pointers coming from C ---------------------------------------------

struct BadField {
  const char* needle;
  void (*spoil)(attnkit_attention_params*);
};

TEST_F(CApiTest, OutOfRangeEnumsAndRanksAreRejected) {
  const BadField cases[] = {
      {"q.dtype", [](attnkit_attention_params* p) { p->q.dtype = 99; }},
      {"k.dtype", [](attnkit_attention_params* p) { p->k.dtype = -1; }},
      {"v.device", [](attnkit_attention_params* p) { p->v.device = 2; }},
      {"o.device", [](attnkit_attention_params* p) { p->o.device = -7; }},
      {"lse.rank", [](attnkit_attention_params* p) { p->lse.rank = 5; }},
      {"q.rank", [](attnkit_attention_params* p) { p->q.rank = -1; }},
      {"sink_logit.dtype", [](attnkit_attention_params* p) { p->sink_logit.dtype = 7; }},  // 5, 6: float8
      {"k_scale.dtype", [](attnkit_attention_params* p) { p->k_scale = p->sink_logit; p->k_scale.dtype = 7; }},
      {"v_scale.rank", [](attnkit_attention_params* p) { p->v_scale.rank = 5; }},
      {"block_mask.kv_count.dtype", [](attnkit_attention_params* p) { p->block_mask.kv_count.dtype = 1000; }},
      {"block_mask.kv_index.rank", [](attnkit_attention_params* p) { p->block_mask.kv_index.rank = 9; }},
      {"rectify.c.device", [](attnkit_attention_params* p) { p->rectify.c.device = 3; }},
      {"gate.g.dtype", [](attnkit_attention_params* p) { p->gate.g.dtype = -100; }},
      {"gate.activation", [](attnkit_attention_params* p) { p->gate.activation = 2; }},
      {"gate.activation", [](attnkit_attention_params* p) { p->gate.activation = -1; }},
  };
  for (const BadField& bad : cases) {
    attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
    bad.spoil(&c);
    EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT) << bad.needle;
    EXPECT_NE(std::string(attnkit_last_error()).find(bad.needle), std::string::npos)
        << "expected \"" << bad.needle << "\" in: " << attnkit_last_error();
  }
  EXPECT_TRUE(all_nan(o_c_));
  EXPECT_TRUE(all_nan(lse_c_));
  // Still usable.
  const attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
}

TEST_F(CApiTest, AbsentTensorFieldsAreIgnored) {
  attnkit_attention_params c = c_params(plain(o_c_));
  c.lse.dtype = 77;  // rank 0: absent, so the other fields do not matter
  c.lse.device = 12;
  c.head_scale.data = reinterpret_cast<void*>(0x10);
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
}

TEST_F(CApiTest, NullPointersAreRejected) {
  EXPECT_EQ(attnkit_forward(nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("params"), std::string::npos);
  const attnkit_attention_params c = c_params(plain(o_c_));
  EXPECT_EQ(attnkit_act_forward(&c, nullptr, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("options"), std::string::npos);
  EXPECT_EQ(attnkit_attention_stats(&c, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("outputs"), std::string::npos);
  int64_t bad = 0;
  EXPECT_EQ(attnkit_block_mask_check(nullptr, 3, &bad, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("mask"), std::string::npos);
  attnkit_sparsed_schedule schedule;
  attnkit_sparsed_schedule_init(&schedule);
  EXPECT_EQ(attnkit_sparsed_build_step(&schedule, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("step"), std::string::npos);
  EXPECT_TRUE(all_nan(o_c_));
}

// ---- attnkit_last_error ---------------------------------------------------------------

TEST_F(CApiTest, LastErrorIsClearedBySuccess) {
  attnkit_attention_params c = c_params(plain(o_c_));
  c.window_right = -9;
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_STRNE(attnkit_last_error(), "");
  c.window_right = -1;
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK);
  EXPECT_STREQ(attnkit_last_error(), "");
}

TEST_F(CApiTest, LastErrorIsPerThread) {
  attnkit_attention_params bad = c_params(plain(o_c_));
  bad.window_left = -4;
  ASSERT_EQ(attnkit_forward(&bad), ATTNKIT_STATUS_INVALID_ARGUMENT);
  const std::string mine = attnkit_last_error();
  ASSERT_NE(mine.find("window_left"), std::string::npos);

  std::string other_initial, other_after_bad, other_after_good;
  std::thread other([&] {
    other_initial = attnkit_last_error();
    attnkit_attention_params p = c_params(plain(o_cpp_));
    p.sink_tokens = -2;
    (void)attnkit_forward(&p);
    other_after_bad = attnkit_last_error();
    p.sink_tokens = 0;
    (void)attnkit_forward(&p);
    other_after_good = attnkit_last_error();
  });
  other.join();
  EXPECT_EQ(other_initial, "");
  EXPECT_NE(other_after_bad.find("sink_tokens"), std::string::npos) << other_after_bad;
  EXPECT_EQ(other_after_good, "");
  EXPECT_EQ(std::string(attnkit_last_error()), mine);  // untouched by the other thread
}

}  // namespace
}  // namespace attnkit_test::c_api
