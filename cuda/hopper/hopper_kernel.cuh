// The Hopper (sm_90a) prefill kernel: warp-specialized, FlashAttention-3's structure. One CTA
// owns kBlockM = 128 query rows of one (sequence, head) and has three warpgroups:
//   warpgroup 0 (producer, setmaxnreg down): one thread loads Q once and K / V tiles with TMA
//     into a kStages-deep ring per tensor, each stage guarded by a "full" mbarrier (TMA's
//     transaction bytes) and an "empty" one (every consumer thread's arrival); it alone walks
//     the key schedule and publishes each tile in its K stage's shared-memory slot;
//   warpgroups 1, 2 (consumers, setmaxnreg up): 64 rows each. S = Q K^T by wgmma with both
//     operands in shared memory, the variant's logit hook and the online softmax on the
//     accumulator fragments (mma.sync's D layout, so the same code as the sm_80 family), then
//     O += P V by wgmma with P from registers and V read transposed from shared memory. K's
//     stage is released as soon as S is done, so the next K load overlaps softmax and P V.
//     Where the tile table says `overlap`, the P V of tile n - 1 is issued behind tile n's S
//     and runs under tile n's softmax (FlashAttention-3's intra-warpgroup overlap); the two
//     warpgroups take turns issuing GEMMs through named barriers (ping-pong).
// Every feature comes from cuda/variant: the tile schedule (visible keys, block-mask rows per
// warpgroup), the logit hook, the sink at finalize and the output transforms. docs/hopper.md.
#pragma once

#include <cstdint>

#include "cuda/attention/epilogue.cuh"
#include "cuda/core/gmma_desc.hpp"
#include "cuda/core/ldmatrix.cuh"  // smem_address
#include "cuda/core/mbarrier.cuh"
#include "cuda/core/smem_access.cuh"
#include "cuda/core/tma.cuh"
#include "cuda/core/vec_types.cuh"
#include "cuda/core/warpgroup.cuh"
#include "cuda/core/wgmma.cuh"
#include "cuda/hopper/hopper_params.hpp"
#include "cuda/hopper/hopper_schedule.cuh"
#include "cuda/hopper/hopper_traits.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/block_info.cuh"
#include "cuda/variant/online_softmax.cuh"
#include "cuda/variant/score_tile.cuh"

namespace attnkit::cuda_backend {

/// \brief Grid (ceil(max Sq / kBlockM), Hq, B), Traits::kNumThreads threads,
/// Traits::kSmemBytes of dynamic shared memory (1024-byte aligned).
template <class Traits>
__global__ void __launch_bounds__(Traits::kNumThreads, 1) hopper_fwd_kernel(const __grid_constant__ HopperFwdParams hp) {
  constexpr int kBlockM = Traits::kBlockM;
  constexpr int kBlockN = Traits::kBlockN;
  constexpr int kStages = Traits::kStages;
  constexpr int kRows = Traits::kConsumerRows;
  const FwdParams& p = hp.p;

  extern __shared__ __align__(1024) uint8_t hopper_smem[];
  const uint32_t smem = cuda_core::smem_address(hopper_smem);
  const uint32_t s_q = smem + Traits::kQOffset;
  auto s_k = [smem](int stage) { return smem + Traits::kKOffset + stage * Traits::kKVBytes; };
  auto s_v = [smem](int stage) { return smem + Traits::kVOffset + stage * Traits::kKVBytes; };
  const uint32_t bar_q = smem + Traits::kBarrierOffset;
  auto full_k = [bar_q](int stage) { return bar_q + 8 * (1 + stage); };
  auto full_v = [bar_q](int stage) { return bar_q + 8 * (1 + kStages + stage); };
  auto empty_k = [bar_q](int stage) { return bar_q + 8 * (1 + 2 * kStages + stage); };
  auto empty_v = [bar_q](int stage) { return bar_q + 8 * (1 + 3 * kStages + stage); };
  // The tile each K stage holds, published by the producer with the stage: tile * 4 + the
  // warpgroups that need it (bit c), or -1 after the last tile.
  int32_t* s_tiles = reinterpret_cast<int32_t*>(hopper_smem + Traits::kScheduleOffset);

  // Causal CTAs of the last query blocks do the most work: launch them first.
  const int m_block = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const BlockInfo info(p, b);
  const int m0 = m_block * kBlockM;
  if (m0 >= info.seqlen_q) return;  // varlen: this sequence is shorter than the longest (whole CTA)
  const int tid = threadIdx.x;
  const int warpgroup = tid / 128;

  if (tid == 0) {
    cuda_core::mbarrier_init(bar_q, 1);
    for (int s = 0; s < kStages; ++s) {
      cuda_core::mbarrier_init(full_k(s), 1);
      cuda_core::mbarrier_init(full_v(s), 1);
      cuda_core::mbarrier_init(empty_k(s), Traits::kConsumerThreads);
      cuda_core::mbarrier_init(empty_v(s), Traits::kConsumerThreads);
    }
    cuda_core::fence_barrier_init();
  }
  __syncthreads();

  const AttentionVariant variant(p, h, info.seqlen_q, info.seqlen_k);

  if (warpgroup == 0) {
    // ---- producer: one thread issues every TMA load ----------------------------------------
    cuda_core::setmaxnreg_dec<Traits::kConfig.producer_regs>();
    if (tid / 32 != 0 || !cuda_core::elect_one_sync()) return;
    const bool varlen = p.maybe_cu_seqlens_q != nullptr;
    const int batch_coord = varlen ? 0 : b;
    const int kv_head = h / p.group;
    cuda_core::tma_prefetch_descriptor(&hp.tma_q);
    cuda_core::tma_prefetch_descriptor(&hp.tma_k);
    cuda_core::tma_prefetch_descriptor(&hp.tma_v);
    // Box (64 columns, rows) per 128-byte column block; rows past the tensor read as zeros.
    auto load = [&](const CUtensorMap* map, uint32_t dst, int rows, uint32_t bar, int row, int head) {
#pragma unroll
      for (int c = 0; c < Traits::kColBlocks; ++c) {
        cuda_core::tma_load_4d(dst + c * rows * 128, map, bar, 64 * c, row, head, batch_coord);
      }
    };
    cuda_core::mbarrier_arrive_expect_tx(bar_q, Traits::kQBytes);
    load(&hp.tma_q, s_q, kBlockM, bar_q, static_cast<int>(info.q_row_start) + m0, h);
    // The schedule lives here only: the consumers learn each tile from its stage's slot.
    UnionSchedule<kBlockN, Traits::kConsumers, kRows> schedule(p, variant.visibility, b, h, m0, info.seqlen_q);
    unsigned users = 0;
    int i = 0;
    for (int tile = schedule.next(&users); tile >= 0; ++i, tile = schedule.next(&users)) {
      const int stage = i % kStages;
      const uint32_t phase = (i / kStages) & 1;
      const int row = static_cast<int>(info.k_row_start) + tile * kBlockN;
      cuda_core::mbarrier_wait(empty_k(stage), phase ^ 1);  // the consumers are done with the stage (and its slot)
      cuda_core::st_shared(s_tiles + stage, static_cast<int32_t>(tile * 4 + users));
      cuda_core::mbarrier_arrive_expect_tx(full_k(stage), Traits::kKVBytes);  // releases the slot too
      load(&hp.tma_k, s_k(stage), kBlockN, full_k(stage), row, kv_head);
      cuda_core::mbarrier_wait(empty_v(stage), phase ^ 1);
      cuda_core::mbarrier_arrive_expect_tx(full_v(stage), Traits::kKVBytes);
      load(&hp.tma_v, s_v(stage), kBlockN, full_v(stage), row, kv_head);
    }
    const int stage = i % kStages;  // the end: -1 in the next slot, its phase completed without bytes
    cuda_core::mbarrier_wait(empty_k(stage), ((i / kStages) & 1) ^ 1);
    cuda_core::st_shared(s_tiles + stage, int32_t{-1});
    cuda_core::mbarrier_arrive(full_k(stage));
    return;
  }

  // ---- consumers: warpgroup c computes rows m0 + 64 (c - 1) .. + 63 -------------------------
  cuda_core::setmaxnreg_inc<Traits::kConfig.consumer_regs>();
  const int half = warpgroup - 1;
  const int warp = (tid / 32) % 4;  // warp of the warpgroup: 16 rows each
  const int lane = tid % 32;
  const int rows0 = m0 + half * kRows;
  const int rows_last = min(rows0 + kRows, info.seqlen_q) - 1;
  const uint32_t q_tile = s_q + half * kRows * 128;  // this warpgroup's 64 rows of every column block

  OnlineSoftmax<Traits::kNTilesS, Traits::kNTilesO> softmax;
  float acc_o[Traits::kNTilesO][4];
#pragma unroll
  for (int nt = 0; nt < Traits::kNTilesO; ++nt) acc_o[nt][0] = acc_o[nt][1] = acc_o[nt][2] = acc_o[nt][3] = 0.0f;

  // Every warpgroup walks every tile of the union; a tile only the other warpgroup needs (its
  // keys are invisible to these rows, or outside their block-mask row) is computed fully
  // masked, P = 0, so that no wgmma sits on a divergent path (ptxas would serialize them) and
  // the stage protocol is the same for all. kOverlap (the tile table): the P V of tile n - 1 is
  // issued behind tile n's S = Q K^T and runs under tile n's softmax, the accumulators rescaled
  // once it completes (FlashAttention-3's intra-warpgroup overlap).
  constexpr bool kOverlap = Traits::kConfig.overlap;
  float s[Traits::kNTilesS][4];
  uint32_t p_frag[Traits::kKStepsPV][4];  // P, rounded to 16 bits, as wgmma's register A operand
  auto issue_s = [&](int stage) {
#pragma unroll
    for (int kk = 0; kk < Traits::kKStepsQK; ++kk) {
      cuda_core::wgmma_ss<kBlockN, Traits::kIsBf16>(s, cuda_core::gmma_desc_k_major(q_tile, kBlockM, kk),
                                                    cuda_core::gmma_desc_k_major(s_k(stage), kBlockN, kk), kk > 0);
    }
    cuda_core::wgmma_commit();
  };
  auto issue_pv = [&](int stage) {
#pragma unroll
    for (int kk = 0; kk < Traits::kKStepsPV; ++kk) {
      cuda_core::wgmma_rs_tb<Traits::kHeadDim, Traits::kIsBf16>(
          acc_o, p_frag[kk], cuda_core::gmma_desc_mn_major(s_v(stage), kBlockN, kk), 1);
    }
    cuda_core::wgmma_commit();
  };
  // Waits for K's stage of union tile i and reads which tile it holds (-1: none left).
  auto next_tile = [&](int i) {
    cuda_core::mbarrier_wait(full_k(i % kStages), (i / kStages) & 1);
    return cuda_core::ld_shared(s_tiles + i % kStages);
  };
  // The variant's logit hook (or full masking), then the softmax of the tile: s becomes P.
  auto softmax_tile = [&](int code, float (&alpha)[2]) {
    if (code >> half & 1) {
      const int n0 = (code >> 2) * kBlockN;
      score_tile<kBlockN>(variant, s, rows0, rows_last, n0, rows0 + warp * 16 + lane / 4, n0 + 2 * (lane % 4));
    } else {
#pragma unroll
      for (int nt = 0; nt < Traits::kNTilesS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = cuda_core::neg_inf();
    }
    softmax.update_scores(s, alpha);
  };
  auto pack_p = [&]() {
#pragma unroll
    for (int kk = 0; kk < Traits::kKStepsPV; ++kk) {
      p_frag[kk][0] = cuda_core::pack_pair<Traits::kIsBf16>(s[2 * kk][0], s[2 * kk][1]);
      p_frag[kk][1] = cuda_core::pack_pair<Traits::kIsBf16>(s[2 * kk][2], s[2 * kk][3]);
      p_frag[kk][2] = cuda_core::pack_pair<Traits::kIsBf16>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      p_frag[kk][3] = cuda_core::pack_pair<Traits::kIsBf16>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
  };

  // Ping-pong (FlashAttention-3's warp scheduler barriers): a warpgroup issues its GEMMs only on
  // its turn and hands the turn over once they are issued, so one warpgroup's softmax runs under
  // the other's GEMMs. Named barrier 1 + c (256 threads) is warpgroup c's turn: the other
  // warpgroup arrives on it, c syncs on it. Warpgroup 0 takes the first turn (its own arrival)
  // and consumes the last hand-over after the loop, so no arrival is left over.
  auto my_turn = [&]() { cuda_core::named_barrier_sync(1 + half, Traits::kConsumerThreads); };
  auto pass_turn = [&]() { cuda_core::named_barrier_arrive(2 - half, Traits::kConsumerThreads); };
  if (half == 0) cuda_core::named_barrier_arrive(1, Traits::kConsumerThreads);

  cuda_core::mbarrier_wait(bar_q, 0);
  int code = next_tile(0);
  if constexpr (kOverlap) {
    if (code >= 0) {  // prologue: tile 0's S and softmax; its P V waits for tile 1's S
      my_turn();
      cuda_core::wgmma_fence();
      issue_s(0);
      pass_turn();
      cuda_core::wgmma_wait<0>();
      cuda_core::wgmma_fence_operands(s);
      cuda_core::mbarrier_arrive(empty_k(0));
      float alpha[2];
      softmax_tile(code, alpha);
      pack_p();
      int prev_stage = 0;
      uint32_t prev_phase = 0;
      for (int i = 1; (code = next_tile(i)) >= 0; ++i) {
        const int stage = i % kStages;
        const uint32_t phase = (i / kStages) & 1;
        cuda_core::mbarrier_wait(full_v(prev_stage), prev_phase);
        my_turn();
        cuda_core::wgmma_fence();  // s, P and the rescaled accumulators were last written by ordinary code
        issue_s(stage);
        issue_pv(prev_stage);
        pass_turn();
        cuda_core::wgmma_wait<1>();  // S is done; the P V behind it may still run
        cuda_core::wgmma_fence_operands(s);
        cuda_core::mbarrier_arrive(empty_k(stage));  // K's stage may refill under the softmax
        softmax_tile(code, alpha);
        cuda_core::wgmma_wait<0>();
        cuda_core::wgmma_fence_operands(acc_o);
        cuda_core::mbarrier_arrive(empty_v(prev_stage));
        OnlineSoftmax<Traits::kNTilesS, Traits::kNTilesO>::rescale(acc_o, alpha);
        pack_p();
        prev_stage = stage;
        prev_phase = phase;
      }
      cuda_core::mbarrier_wait(full_v(prev_stage), prev_phase);  // epilogue: the last tile's P V
      cuda_core::wgmma_fence();
      issue_pv(prev_stage);
      cuda_core::wgmma_wait<0>();
      cuda_core::wgmma_fence_operands(acc_o);
      // No release of this last V stage: nothing refills it (the producer's end of schedule
      // waits on K's stages only), and the CTA's barriers end with it.
    }
  } else {
    for (int i = 0; code >= 0; code = next_tile(++i)) {
      const int stage = i % kStages;
      const uint32_t phase = (i / kStages) & 1;
      my_turn();
      cuda_core::wgmma_fence();
      issue_s(stage);
      pass_turn();
      cuda_core::wgmma_wait<0>();
      cuda_core::wgmma_fence_operands(s);
      cuda_core::mbarrier_arrive(empty_k(stage));  // K's stage may refill under the softmax and P V
      float alpha[2];
      softmax_tile(code, alpha);
      OnlineSoftmax<Traits::kNTilesS, Traits::kNTilesO>::rescale(acc_o, alpha);
      pack_p();
      cuda_core::mbarrier_wait(full_v(stage), phase);
      cuda_core::wgmma_fence();  // P and the rescaled accumulators were written by ordinary code
      issue_pv(stage);
      cuda_core::wgmma_wait<0>();
      cuda_core::wgmma_fence_operands(acc_o);
      cuda_core::mbarrier_arrive(empty_v(stage));
    }
  }

  if (half == 0) my_turn();  // the other warpgroup's last hand-over

  const RowFinal rows[2] = {variant.finalize(softmax.state(0)), variant.finalize(softmax.state(1))};
  write_output<Traits>(p, info, b, h, rows0 + warp * 16, acc_o, rows);
}

}  // namespace attnkit::cuda_backend
