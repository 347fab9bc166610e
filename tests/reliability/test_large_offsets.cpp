// 64-bit element offsets (docs/reliability.md): strided host views whose element offsets
// pass 2^31 (and byte offsets pass 2^32) give the same bits as contiguous copies. The
// views are sparse: one batch (or one varlen row) sits more than 2^31 elements after the
// previous one in a reserved-but-untouched mapping (MAP_NORESERVE), so the test touches a
// few pages of a ~40 GiB virtual range and costs no real memory.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

/// A lazily backed anonymous mapping; pages cost memory only once written.
class SparseMapping {
 public:
  explicit SparseMapping(size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    data_ = p == MAP_FAILED ? nullptr : static_cast<unsigned char*>(p);
  }
  ~SparseMapping() {
    if (data_) munmap(data_, bytes_);
  }
  SparseMapping(const SparseMapping&) = delete;
  SparseMapping& operator=(const SparseMapping&) = delete;
  unsigned char* data() const { return data_; }

 private:
  size_t bytes_;
  unsigned char* data_ = nullptr;
};

/// More than 2^31 elements between consecutive batches (or rows).
constexpr int64_t kFarStride = (int64_t{1} << 31) + 4096;

/// Copies a contiguous [B, S, H, X] tensor into a view whose batch stride is kFarStride
/// (inner dims contiguous); returns that view.
attnkit::TensorView spread_batches(const HostTensor& src, unsigned char* base) {
  const TensorView& s = src.view;
  const int64_t eb = attnkit::dtype_size(s.dtype);
  const int64_t per_batch = s.stride[0];
  for (int64_t b = 0; b < s.shape[0]; ++b) {
    std::memcpy(base + b * kFarStride * eb, src.bytes.data() + b * per_batch * eb, static_cast<size_t>(per_batch * eb));
  }
  return attnkit::TensorView::strided(base, s.dtype, {s.shape[0], s.shape[1], s.shape[2], s.shape[3]},
                                      {kFarStride, s.stride[1], s.stride[2], 1});
}

/// Copies batch-strided elements back into a contiguous tensor of `like`'s shape.
HostTensor gather_batches(const HostTensor& like, const unsigned char* base) {
  HostTensor out = like;
  const int64_t eb = attnkit::dtype_size(like.view.dtype);
  const int64_t per_batch = like.view.stride[0];
  for (int64_t b = 0; b < like.view.shape[0]; ++b) {
    std::memcpy(out.bytes.data() + b * per_batch * eb, base + b * kFarStride * eb, static_cast<size_t>(per_batch * eb));
  }
  return out;
}

TEST(ReliabilityLargeOffsets, BatchStridePastTwoToTheThirtyOneElements) {
  // B = 2: batch 1 of every tensor starts 2^31 + 4096 elements after batch 0. Q, K, V,
  // O (fp16, 2 bytes) and LSE (fp32, 4 bytes: byte offsets past 2^33) each get a region.
  const CaseShape shape{2, 5, 7, 4, 2, 8, 8, DType::kFloat16};
  AttentionCase ref(shape, 31);
  ref.params.causal = true;
  ASSERT_TRUE(attnkit::forward(ref.params));

  const size_t region = static_cast<size_t>(kFarStride + 4096) * 4;  // one batch past kFarStride, fp32
  SparseMapping map(5 * region);
  if (map.data() == nullptr) GTEST_SKIP() << "cannot reserve " << 5 * region / (1 << 30) << " GiB of address space";
  AttentionCase c(shape, 31);
  attnkit::AttentionParams p = c.params;
  p.causal = true;
  p.q = spread_batches(c.q, map.data());
  p.k = spread_batches(c.k, map.data() + region);
  p.v = spread_batches(c.v, map.data() + 2 * region);
  p.o = spread_batches(c.o, map.data() + 3 * region);  // NaN-poisoned
  p.lse = attnkit::TensorView::strided(map.data() + 4 * region, DType::kFloat32, {2, 4, 5}, {kFarStride, 5, 1});
  for (int64_t b = 0; b < 2; ++b) {
    std::memcpy(map.data() + 4 * region + b * kFarStride * 4, c.lse.bytes.data() + b * 20 * 4, 20 * 4);
  }
  std::string why;
  ASSERT_TRUE(attnkit::is_supported(p, &why)) << why;
  ASSERT_TRUE(attnkit::forward(p));

  EXPECT_TRUE(gather_batches(ref.o, map.data() + 3 * region).bytes == ref.o.bytes);
  HostTensor lse = ref.lse;
  for (int64_t b = 0; b < 2; ++b) {
    std::memcpy(lse.bytes.data() + b * 20 * 4, map.data() + 4 * region + b * kFarStride * 4, 20 * 4);
  }
  EXPECT_TRUE(lse.bytes == ref.lse.bytes);
}

TEST(ReliabilityLargeOffsets, VarlenRowStridePastTwoToTheThirtyOneElements) {
  // Varlen: 3 query rows and 3 key rows, each row 2^31 + 4096 elements after the
  // previous one (row offsets reach 2^32 + 8192 elements, 2^33 bytes), two sequences.
  const CaseShape shape{1, 3, 3, 2, 1, 8, 8, DType::kBFloat16};
  AttentionCase ref(shape, 32);
  HostTensor cu_q = make_int32({3}, {0, 1, 3});
  HostTensor cu_k = make_int32({3}, {0, 2, 3});
  // The contiguous reference: rows [3, H, 8] over the batched [1, 3, H, 8] tensors.
  ref.params.k = attnkit::TensorView::contiguous(ref.k.view.data, shape.dtype, {3, 1, 8});
  ref.params.v = attnkit::TensorView::contiguous(ref.v.view.data, shape.dtype, {3, 1, 8});
  ref.params.q = attnkit::TensorView::contiguous(ref.q.view.data, shape.dtype, {3, 2, 8});
  ref.params.o = attnkit::TensorView::contiguous(ref.o.view.data, shape.dtype, {3, 2, 8});
  ref.params.lse = {};
  ref.params.cu_seqlens_q = cu_q.view;
  ref.params.cu_seqlens_k = cu_k.view;
  ref.params.causal = true;
  ASSERT_TRUE(attnkit::forward(ref.params));

  const int64_t eb = 2;
  const size_t region = static_cast<size_t>((2 * kFarStride + 4096) * eb);  // rows 0..2
  SparseMapping map(4 * region);
  if (map.data() == nullptr) GTEST_SKIP() << "cannot reserve " << 4 * region / (1 << 30) << " GiB of address space";
  AttentionCase c(shape, 32);
  const HostTensor* src[3] = {&c.q, &c.k, &c.v};
  const int64_t row_elems[4] = {16, 8, 8, 16};  // q, k, v, o: H * X per row
  for (int t = 0; t < 3; ++t) {
    for (int64_t r = 0; r < 3; ++r) {
      std::memcpy(map.data() + t * region + r * kFarStride * eb, src[t]->bytes.data() + r * row_elems[t] * eb,
                  static_cast<size_t>(row_elems[t] * eb));
    }
  }
  attnkit::AttentionParams p = ref.params;
  p.q = attnkit::TensorView::strided(map.data(), shape.dtype, {3, 2, 8}, {kFarStride, 8, 1});
  p.k = attnkit::TensorView::strided(map.data() + region, shape.dtype, {3, 1, 8}, {kFarStride, 8, 1});
  p.v = attnkit::TensorView::strided(map.data() + 2 * region, shape.dtype, {3, 1, 8}, {kFarStride, 8, 1});
  p.o = attnkit::TensorView::strided(map.data() + 3 * region, shape.dtype, {3, 2, 8}, {kFarStride, 8, 1});
  ASSERT_TRUE(attnkit::forward(p));
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_EQ(std::memcmp(map.data() + 3 * region + r * kFarStride * eb, ref.o.bytes.data() + r * row_elems[3] * eb,
                          static_cast<size_t>(row_elems[3] * eb)),
              0)
        << "row " << r;
  }
}

}  // namespace
}  // namespace attnkit_test
