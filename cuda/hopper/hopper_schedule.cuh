// The key tiles of a Hopper CTA: each consumer warpgroup's 64 query rows have their own
// KvTileSchedule (their visible keys, their block-mask row when the mask has 64-row
// blocks); the producer loads the ascending union, and every thread of the CTA walks the same
// union so that pipeline stages and phases agree. Each tile comes with the set of
// warpgroups that compute it; the others only pass the stage on.
#pragma once

#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/key_tiles.cuh"
#include "cuda/variant/visibility.cuh"

namespace attnkit::cuda_backend {

template <int kBlockN, int kHalves, int kHalfRows>
struct UnionSchedule {
  KvTileSchedule<kBlockN> half[kHalves];
  int upcoming[kHalves];  // each half's next tile (-1: done)

  /// Rows [m0, m0 + kHalves * kHalfRows) of a sequence with seqlen_q rows; halves with no
  /// row get no tile.
  __device__ UnionSchedule(const FwdParams& p, const VisibilityMask& vis, int b, int h, int m0, int seqlen_q)
      : half{KvTileSchedule<kBlockN>(p, vis, b, h, m0, min(m0 + kHalfRows, seqlen_q) - 1),
             KvTileSchedule<kBlockN>(p, vis, b, h, m0 + kHalfRows, min(m0 + 2 * kHalfRows, seqlen_q) - 1)} {
    static_assert(kHalves == 2, "two consumer warpgroups");
#pragma unroll
    for (int i = 0; i < kHalves; ++i) {
      upcoming[i] = m0 + i * kHalfRows < seqlen_q ? half[i].next() : -1;
    }
  }

  /// \brief The next tile of the union (-1: none), and in *users bit i set when half i
  /// computes it.
  __device__ int next(unsigned* users) {
    int t = -1;
#pragma unroll
    for (int i = 0; i < kHalves; ++i) {
      if (upcoming[i] >= 0 && (t < 0 || upcoming[i] < t)) t = upcoming[i];
    }
    *users = 0;
    if (t < 0) return -1;
#pragma unroll
    for (int i = 0; i < kHalves; ++i) {
      if (upcoming[i] == t) {
        *users |= 1u << i;
        upcoming[i] = half[i].next();
      }
    }
    return t;
  }
};

}  // namespace attnkit::cuda_backend
