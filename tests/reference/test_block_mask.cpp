// Host block-mask helpers (SPEC 5): dense <-> compressed conversions and the checker.
#include <gtest/gtest.h>

#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {
namespace {

using attnkit::BlockMask;
using attnkit::StatusCode;

HostTensor make_dense(int64_t bm, int64_t hm, int64_t nqb, int64_t nkb, const std::vector<int>& values) {
  HostTensor t(DType::kUInt8, {bm, hm, nqb, nkb});
  for (size_t n = 0; n < values.size(); ++n) t.ptr<uint8_t>()[n] = static_cast<uint8_t>(values[n]);
  return t;
}

struct MaskBuffers {
  HostTensor count, index;
  BlockMask mask;
  MaskBuffers(int64_t bm, int64_t hm, int64_t nqb, int64_t max_kv)
      : count(DType::kInt32, {bm, hm, nqb}), index(DType::kInt32, {bm, hm, nqb, max_kv}) {
    for (int64_t n = 0; n < count.numel(); ++n) count.ptr<int32_t>()[n] = 555;  // poison
    for (int64_t n = 0; n < index.numel(); ++n) index.ptr<int32_t>()[n] = 555;
    mask.kv_count = count.view;
    mask.kv_index = index.view;
  }
  bool untouched() const {
    for (int64_t n = 0; n < count.numel(); ++n)
      if (count.ptr<int32_t>()[n] != 555) return false;
    for (int64_t n = 0; n < index.numel(); ++n)
      if (index.ptr<int32_t>()[n] != 555) return false;
    return true;
  }
  std::vector<int32_t> counts() const { return {count.ptr<int32_t>(), count.ptr<int32_t>() + count.numel()}; }
  std::vector<int32_t> indices() const { return {index.ptr<int32_t>(), index.ptr<int32_t>() + index.numel()}; }
};

TEST(BlockMask, FromDenseHandChecked) {
  // One head, 3 query blocks, 4 key blocks; the longest row has 3 blocks.
  HostTensor dense = make_dense(1, 1, 3, 4, {1, 0, 1, 0,  //
                                             0, 0, 0, 0,  //
                                             1, 1, 0, 1});
  MaskBuffers mb(1, 1, 3, 3);
  ASSERT_TRUE(attnkit::block_mask_from_dense(dense.view, mb.mask).is_ok());
  EXPECT_EQ(mb.counts(), (std::vector<int32_t>{2, 0, 3}));
  EXPECT_EQ(mb.indices(), (std::vector<int32_t>{0, 2, -1, -1, -1, -1, 0, 1, 3}));
}

TEST(BlockMask, RandomRoundTripAndCheckerAcceptsIt) {
  Rng rng(7);
  for (int64_t max_kv_extra : {0, 2}) {
    const int64_t bm = 2, hm = 3, nqb = 5, nkb = 7;
    HostTensor dense(DType::kUInt8, {bm, hm, nqb, nkb});
    int64_t longest = 0;
    for (int64_t r = 0; r < bm * hm * nqb; ++r) {
      int64_t n = 0;
      for (int64_t k = 0; k < nkb; ++k) n += dense.ptr<uint8_t>()[r * nkb + k] = rng.uniform(0, 1) < 0.4;
      longest = std::max(longest, n);
    }
    MaskBuffers mb(bm, hm, nqb, std::min(nkb, longest + max_kv_extra));
    ASSERT_TRUE(attnkit::block_mask_from_dense(dense.view, mb.mask).is_ok());
    HostTensor back(DType::kUInt8, {bm, hm, nqb, nkb});
    for (int64_t n = 0; n < back.numel(); ++n) back.ptr<uint8_t>()[n] = 9;
    ASSERT_TRUE(attnkit::block_mask_to_dense(mb.mask, back.view).is_ok());
    for (int64_t n = 0; n < back.numel(); ++n) ASSERT_EQ(back.ptr<uint8_t>()[n], dense.ptr<uint8_t>()[n]) << n;
    int64_t bad = -1;
    ASSERT_TRUE(attnkit::block_mask_check(mb.mask, nkb, &bad).is_ok());
    EXPECT_EQ(bad, 0);
  }
}

TEST(BlockMask, StridedDenseViewIsRead) {
  // A dense view with a padded row stride (last dim contiguous).
  HostTensor storage(DType::kUInt8, {2, 6});
  const int vals[] = {0, 1, 1, 7, 7, 7, 1, 0, 1, 7, 7, 7};
  for (int n = 0; n < 12; ++n) storage.ptr<uint8_t>()[n] = static_cast<uint8_t>(vals[n] == 7 ? 0 : vals[n]);
  storage.ptr<uint8_t>()[3] = 1;  // padding that must not be read as a block
  TensorView dense = TensorView::strided(storage.bytes.data(), DType::kUInt8, {1, 1, 2, 3}, {12, 12, 6, 1});
  MaskBuffers mb(1, 1, 2, 3);
  ASSERT_TRUE(attnkit::block_mask_from_dense(dense, mb.mask).is_ok());
  EXPECT_EQ(mb.counts(), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(mb.indices(), (std::vector<int32_t>{1, 2, -1, 0, 2, -1}));
}

TEST(BlockMask, ToDenseSkipsOutOfRangeEntriesAndClampsCounts) {
  // NKB = 4, max_kv = 3. Rows: {count 2: 3, 9}, {count -1}, {count 5 > max_kv: 0, -2, 2}.
  HostTensor count = make_int32({1, 1, 3}, {2, -1, 5});
  HostTensor index = make_int32({1, 1, 3, 3}, {3, 9, 1, 0, 1, 2, 0, -2, 2});
  BlockMask mask;
  mask.kv_count = count.view;
  mask.kv_index = index.view;
  HostTensor dense(DType::kUInt8, {1, 1, 3, 4});
  for (int64_t n = 0; n < dense.numel(); ++n) dense.ptr<uint8_t>()[n] = 9;
  ASSERT_TRUE(attnkit::block_mask_to_dense(mask, dense.view).is_ok());
  const std::vector<uint8_t> want = {0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0};
  EXPECT_EQ(std::vector<uint8_t>(dense.ptr<uint8_t>(), dense.ptr<uint8_t>() + 12), want);
}

TEST(BlockMask, ToDenseFollowsTheKernelsRuleForUnsortedRows) {
  // An entry is used when in range and above the last used one (docs/api.md), as the
  // CUDA kernel walks rows. Row {2, 1, 3}: 1 is skipped. Row {3, 0, 1}: only 3 is used.
  HostTensor count = make_int32({1, 1, 2}, {3, 3});
  HostTensor index = make_int32({1, 1, 2, 3}, {2, 1, 3, 3, 0, 1});
  BlockMask mask;
  mask.kv_count = count.view;
  mask.kv_index = index.view;
  HostTensor dense(DType::kUInt8, {1, 1, 2, 4});
  ASSERT_TRUE(attnkit::block_mask_to_dense(mask, dense.view).is_ok());
  const std::vector<uint8_t> want = {0, 0, 1, 1, 0, 0, 0, 1};
  EXPECT_EQ(std::vector<uint8_t>(dense.ptr<uint8_t>(), dense.ptr<uint8_t>() + 8), want);
}

TEST(BlockMask, CheckerCountsEachBadEntryOnce) {
  // NKB = 4, max_kv = 3.
  //  row 0: count 3: {0, 2, 3}             valid                          -> 0
  //  row 1: count 3: {1, 1, 0}             two not ascending              -> 2
  //  row 2: count 2: {0, 4, (ignored 9)}   4 out of range                 -> 1
  //  row 3: count -1                       bad count, no entries read     -> 1
  //  row 4: count 4 > max_kv: {-1, 2, 2}   count + (-1) + duplicate 2     -> 3
  //  row 5: count 3: {3, 5, 1}             5 out of range; 1 <= its predecessor 5 -> 2
  HostTensor count = make_int32({1, 1, 6}, {3, 3, 2, -1, 4, 3});
  HostTensor index = make_int32({1, 1, 6, 3}, {0, 2, 3, 1, 1, 0, 0, 4, 9, 7, 7, 7, -1, 2, 2, 3, 5, 1});
  BlockMask mask;
  mask.kv_count = count.view;
  mask.kv_index = index.view;
  int64_t bad = -1;
  ASSERT_TRUE(attnkit::block_mask_check(mask, /*nkb=*/4, &bad).is_ok());
  EXPECT_EQ(bad, 0 + 2 + 1 + 1 + 3 + 2);
}

TEST(BlockMask, BadArgumentsAreRejectedAndNothingIsWritten) {
  auto check = [](const attnkit::Status& s, const char* name) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << name << ": " << s.message();
  };
  HostTensor dense = make_dense(1, 1, 2, 3, {1, 1, 1, 0, 1, 0});
  {
    MaskBuffers mb(1, 1, 2, 2);  // longest row is 3
    check(attnkit::block_mask_from_dense(dense.view, mb.mask), "out.kv_index");
    EXPECT_TRUE(mb.untouched());
  }
  {
    MaskBuffers mb(1, 1, 2, 4);  // max_kv > NKB = 3
    check(attnkit::block_mask_from_dense(dense.view, mb.mask), "out.kv_index");
    EXPECT_TRUE(mb.untouched());
  }
  {
    MaskBuffers mb(1, 2, 2, 3);  // Hm differs from dense's
    check(attnkit::block_mask_from_dense(dense.view, mb.mask), "out.kv_count");
    EXPECT_TRUE(mb.untouched());
  }
  {
    MaskBuffers mb(1, 1, 2, 3);
    TensorView wrong = dense.view;
    wrong.dtype = DType::kInt32;
    check(attnkit::block_mask_from_dense(wrong, mb.mask), "dense");
    mb.mask.block_q = 0;
    check(attnkit::block_mask_from_dense(dense.view, mb.mask), "out.block_q");
    mb.mask.block_q = 128;
    mb.mask.kv_index = TensorView{};
    check(attnkit::block_mask_from_dense(dense.view, mb.mask), "out.kv_index");
    EXPECT_TRUE(mb.untouched());
  }
  {
    MaskBuffers mb(1, 1, 2, 3);
    ASSERT_TRUE(attnkit::block_mask_from_dense(dense.view, mb.mask).is_ok());
    HostTensor out(DType::kUInt8, {1, 1, 3, 3});  // NQB 3 != 2
    for (int64_t n = 0; n < out.numel(); ++n) out.ptr<uint8_t>()[n] = 9;
    check(attnkit::block_mask_to_dense(mb.mask, out.view), "dense_out");
    for (int64_t n = 0; n < out.numel(); ++n) EXPECT_EQ(out.ptr<uint8_t>()[n], 9);
    int64_t bad = 42;
    check(attnkit::block_mask_check(mb.mask, /*nkb=*/-1, &bad), "nkb");
    check(attnkit::block_mask_check(mb.mask, /*nkb=*/2, &bad), "mask.kv_index");  // max_kv 3 > NKB 2
    check(attnkit::block_mask_check(mb.mask, /*nkb=*/3, nullptr), "bad_entries");
    EXPECT_EQ(bad, 42);
  }
}

}  // namespace
}  // namespace attnkit_test
