// Inputs and comparisons shared by the GPU suites of the statistics, ACT and planner paths
// (tests/cuda/test_cuda_stats.cpp, test_cuda_planners.cpp) and their CPU emulation
// (tests/emulation/test_stats_emulation.cpp): planted structure with clear margins, so
// that sink sets and masks are unambiguous on both sides and can be compared exactly.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "cuda/attention_gpu_case.hpp"

namespace attnkit_test {

/// \brief |got - ref| <= 1e-4 + 2e-3 |ref| for every element; integer outputs exactly.
inline void expect_close(const HostTensor& got, const HostTensor& ref, const std::string& what, bool exact = false) {
  ASSERT_EQ(got.numel(), ref.numel()) << what;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double a = got.get(i), b = ref.get(i);
    const bool ok = exact ? a == b : std::abs(a - b) <= 1e-4 + 2e-3 * std::abs(b);
    if (!ok && bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << ref.numel() << " differ; first at " << first << " got "
                    << (first >= 0 ? got.get(first) : 0.0) << " want " << (first >= 0 ? ref.get(first) : 0.0);
}

/// \brief Every entry equal (masks, counts).
inline void expect_equal_ints(const HostTensor& got, const HostTensor& ref, const std::string& what) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    if (got.get(i) != ref.get(i) && bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " entries differ, first at " << first;
}

/// \brief ACT: sinks planted with clear margins (keys 0, 5 and 17 of every sequence share a
/// large first component with every query), so detection is unambiguous on both sides.
/// Batched layouts only.
inline void plant_sinks(BuiltCall& host, const GpuCase& c, int64_t d) {
  attnkit::AttentionParams& p = host.params;
  auto set_first = [&](const attnkit::TensorView& v, int64_t rows, int64_t heads, auto value_of_row) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < heads; ++h) {
        const double value = value_of_row(r);
        if (std::isnan(value)) continue;
        attnkit::detail::store_from_double(v, r * v.stride[v.rank == 4 ? 1 : 0] + h * v.stride[v.rank == 4 ? 2 : 1], value);
      }
    }
  };
  for (int64_t b = 0; b < c.batch; ++b) {  // batched cases only
    attnkit::TensorView q = p.q, k = p.k;
    q.data = static_cast<unsigned char*>(q.data) + b * q.stride[0] * attnkit::dtype_size(q.dtype);
    k.data = static_cast<unsigned char*>(k.data) + b * k.stride[0] * attnkit::dtype_size(k.dtype);
    const int64_t rows_q = c.sq, rows_k = c.sk;
    set_first(q, rows_q, c.hq, [](int64_t) { return 3.0; });
    // q0 = 3 and k0 = 2 sqrt(D) add a logit of 6 (p ~ 0.25 each against ~0.001 for other
    // keys); key 17 is 15% stronger than key 5, so a one-sink cut is unambiguous too.
    const double strength = 2.0 * std::sqrt(static_cast<double>(d));
    set_first(k, rows_k, c.hkv, [&](int64_t j) {
      return (j == 0 || j == 5 || j == 17) ? strength * (j == 17 ? 1.15 : 1.0) : 0.0;
    });
  }
}

/// \brief Adds `value` to feature 0 of every row [r0, r1) of head h of a [B, S, H, D] tensor.
inline void add_first(const attnkit::TensorView& v, int64_t b, int64_t h, int64_t r0, int64_t r1, double value) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t off = b * v.stride[0] + r * v.stride[1] + h * v.stride[2];
    attnkit::detail::store_from_double(v, off, attnkit::detail::load_as_double(v, off) + value);
  }
}

/// \brief SparseD, for 8 key blocks of `bs` (the last may be short; batched BSHD): every
/// query gets +3 on feature 0; per (b, kv head) five key blocks get +c with distinct
/// strengths, three before block 4 (a generation start of 4 bs) and two after, so both
/// top-k cuts have clear margins.
inline void plant_sparsed_blocks(BuiltCall& host, const GpuCase& c, int64_t bs) {
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.hq; ++h) add_first(host.params.q, b, h, 0, c.sq, 3.0);
    for (int64_t h = 0; h < c.hkv; ++h) {
      // Distinct strengths: blocks o, o + 1, o + 2 (mod 4) before the generation start, one
      // of 4/5 and one of 6/7 after; a strength step of 1 is a logit step of 3/8 (a 1.45x
      // ratio) at head dim 64.
      const int64_t o = (h + b) % 4;
      const int64_t planted[5] = {o, (o + 1) % 4, (o + 2) % 4, 4 + (h % 2), 6 + (b % 2)};
      const double strength[5] = {14.0, 11.0, 8.0, 12.0, 9.0};
      for (int e = 0; e < 5; ++e) {
        add_first(host.params.k, b, h, planted[e] * bs, std::min<int64_t>((planted[e] + 1) * bs, c.sk), strength[e]);
      }
    }
  }
}

/// \brief Rectified SpaAttn: structure in the pooled queries and keys (otherwise every pooled
/// score is ~0): +2 on feature 0 of every query, and a per-(b, kv head, block) step on the
/// keys of each vision block of `bs`.
inline void plant_rectified_structure(BuiltCall& host, const GpuCase& c, int64_t vision, int64_t bs) {
  const int64_t nb = (vision + bs - 1) / bs;
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.hq; ++h) add_first(host.params.q, b, h, 0, c.sq, 2.0);
    for (int64_t h = 0; h < c.hkv; ++h) {
      for (int64_t j = 0; j < nb; ++j) {
        add_first(host.params.k, b, h, j * bs, std::min((j + 1) * bs, vision), 0.8 * static_cast<double>((j * 5 + h + b) % 7));
      }
    }
  }
}

}  // namespace attnkit_test
