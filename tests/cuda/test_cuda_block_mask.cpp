// Device block-mask helpers (SPEC 5) against their definitions, through the public API.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/cuda_test_util.hpp"

namespace attnkit_test {
namespace {

class CudaBlockMask : public CudaTest {};

TEST_F(CudaBlockMask, FromDenseToDenseRoundTrip) {
  const int64_t bm = 2, hm = 3, nqb = 5, nkb = 7;
  Rng rng(7);
  HostTensor dense(DType::kUInt8, {bm, hm, nqb, nkb});
  for (int64_t i = 0; i < dense.numel(); ++i) dense.ptr<uint8_t>()[i] = rng.uniform(0, 1) < 0.4 ? 1 : 0;
  HostTensor count(DType::kInt32, {bm, hm, nqb});
  HostTensor index(DType::kInt32, {bm, hm, nqb, nkb});
  DeviceTensor d_dense = to_device(dense), d_count = to_device(count), d_index = to_device(index);
  attnkit::BlockMask mask;
  mask.kv_count = d_count.view;
  mask.kv_index = d_index.view;
  mask.block_q = mask.block_k = 64;
  ASSERT_TRUE(attnkit::block_mask_from_dense(d_dense.view, mask).is_ok());
  to_host(d_count, &count);
  to_host(d_index, &index);
  for (int64_t row = 0; row < bm * hm * nqb; ++row) {
    std::vector<int32_t> expect;
    for (int64_t kb = 0; kb < nkb; ++kb) {
      if (dense.ptr<uint8_t>()[row * nkb + kb]) expect.push_back(static_cast<int32_t>(kb));
    }
    ASSERT_EQ(count.ptr<int32_t>()[row], static_cast<int32_t>(expect.size())) << "row " << row;
    for (int64_t e = 0; e < nkb; ++e) {
      const int32_t want = e < static_cast<int64_t>(expect.size()) ? expect[e] : -1;
      EXPECT_EQ(index.ptr<int32_t>()[row * nkb + e], want) << "row " << row << " entry " << e;
    }
  }
  HostTensor back(DType::kUInt8, {bm, hm, nqb, nkb});
  DeviceTensor d_back = to_device(back);
  int64_t bad = -1;
  ASSERT_TRUE(attnkit::block_mask_check(mask, nkb, &bad).is_ok());
  EXPECT_EQ(bad, 0);
  ASSERT_TRUE(attnkit::block_mask_to_dense(mask, d_back.view).is_ok());
  to_host(d_back, &back);
  for (int64_t i = 0; i < dense.numel(); ++i) EXPECT_EQ(back.ptr<uint8_t>()[i], dense.ptr<uint8_t>()[i]) << i;
}

TEST_F(CudaBlockMask, CheckCountsBadEntriesAndToDenseSkipsThem) {
  // Row 0 (max_kv = 5, NKB = 4): entries 1, 1 (not ascending), 9 (out of range), 3 (not
  // above 9): 3 bad. Row 1: count 6 > max_kv, then its fifth entry -1: 2 bad.
  HostTensor count(DType::kInt32, {1, 2, 1});
  HostTensor index(DType::kInt32, {1, 2, 1, 5});
  const int32_t rows[2][5] = {{1, 1, 9, 3, -1}, {0, 1, 2, 3, -1}};
  count.ptr<int32_t>()[0] = 4;
  count.ptr<int32_t>()[1] = 6;
  for (int r = 0; r < 2; ++r) {
    for (int e = 0; e < 5; ++e) index.ptr<int32_t>()[r * 5 + e] = rows[r][e];
  }
  DeviceTensor d_count = to_device(count), d_index = to_device(index);
  attnkit::BlockMask mask;
  mask.kv_count = d_count.view;
  mask.kv_index = d_index.view;
  mask.block_q = mask.block_k = 128;
  int64_t bad = -1;
  ASSERT_TRUE(attnkit::block_mask_check(mask, /*nkb=*/4, &bad).is_ok());
  EXPECT_EQ(bad, 5);
  HostTensor dense(DType::kUInt8, {1, 2, 1, 4});
  DeviceTensor d_dense = to_device(dense);
  ASSERT_TRUE(attnkit::block_mask_to_dense(mask, d_dense.view).is_ok());
  to_host(d_dense, &dense);
  const uint8_t want[8] = {0, 1, 0, 1, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(dense.ptr<uint8_t>()[i], want[i]) << i;
}

}  // namespace
}  // namespace attnkit_test
