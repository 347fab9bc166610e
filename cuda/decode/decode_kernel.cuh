// The split-KV decode kernel (flash-decoding) and its LSE merge. One CTA: one sequence,
// one kv head, up to kRowsPerCta packed (query row, query head) rows, one split of the
// visible keys. K/V tiles of 64 keys stream through a cp.async double buffer (contiguous
// or paged rows alike, 16-byte chunks); each warp computes S = Q K^T and O += P V with
// mma.sync m16n8k16 on its (16 rows, 16 keys) steps, with its own online softmax; the
// warps' states combine through shared memory at the end.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/core/cp_async.cuh"
#include "cuda/core/fp8_tile.cuh"
#include "cuda/core/ldmatrix.cuh"
#include "cuda/core/math.cuh"
#include "cuda/core/mma.cuh"
#include "cuda/core/smem_access.cuh"
#include "cuda/core/vec_types.cuh"
#include "cuda/decode/decode_epilogue.cuh"
#include "cuda/decode/decode_params.hpp"
#include "cuda/decode/decode_seq.cuh"
#include "cuda/decode/decode_traits.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/online_softmax.cuh"

namespace attnkit::cuda_backend {

template <class Traits>
__global__ void __launch_bounds__(Traits::kNumThreads, Traits::kMinCtasPerSm) decode_split_kernel(const DecodeParams p) {
  using Elem = typename Traits::Elem;
  using Tile = typename Traits::Tile;
  constexpr int kD = Traits::kHeadDim;
  constexpr int kBlockN = Traits::kBlockN;
  constexpr int kChunks = Traits::kChunks;
  constexpr bool kIsBf16 = Traits::kIsBf16;

  extern __shared__ __align__(16) unsigned char smem[];
  Elem* s_k = reinterpret_cast<Elem*>(smem);                 // (kStages, kBlockN, kD), swizzled
  Elem* s_v = s_k + Traits::kStages * Traits::kKvTileElems;  // (kStages, kBlockN, kD), swizzled
  uint8_t* s_k8 = reinterpret_cast<uint8_t*>(s_v + Traits::kStages * Traits::kKvTileElems);  // FP8: (kBlockN, kD)
  uint8_t* s_v8 = s_k8 + Traits::kSmemFp8Bytes / 2;                                          // FP8: (kBlockN, kD)
  Elem* s_q = reinterpret_cast<Elem*>(s_v8 + Traits::kSmemFp8Bytes / 2);                      // (kRowsPerCta, kD)

  const FwdParams& f = p.fwd;
  int flat = static_cast<int>(blockIdx.x);
  const int split = flat % p.num_splits;
  flat /= p.num_splits;
  const int hk = flat % p.hkv;
  flat /= p.hkv;
  const int chunk = flat % p.row_chunks;
  const int b = flat / p.row_chunks;

  const DecodeSeq seq(p, b);
  const int group = f.group;
  const int row0 = chunk * Traits::kRowsPerCta;  // packed row r = i * group + (h - hk * group)
  const int rows = min(Traits::kRowsPerCta, group * seq.seqlen_q - row0);
  if (rows <= 0) return;  // past this sequence's rows: nothing to write, the merge skips them

  const int m_tiles = rows <= 16 ? 1 : (rows <= 32 ? 2 : 4);
  const int key_groups = Traits::kNumWarps / m_tiles;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int m_tile = warp % m_tiles;
  const int key_group = warp / m_tiles;

  // The keys the CTA's query rows [row0 / group, (row0 + rows - 1) / group] may see, as a
  // virtual range (sink tokens, then the window): the gap between them is never loaded.
  const VisibleKeys keys =
      VisibilityMask(f, seq.seqlen_q, seq.seqlen_k).keys(row0 / group, (row0 + rows - 1) / group);
  const int num_tiles = (keys.count() + kBlockN - 1) / kBlockN;
  const int tiles_per_split = (num_tiles + p.num_splits - 1) / p.num_splits;
  const int tile_begin = min(split * tiles_per_split, num_tiles);
  const int tile_end = min(tile_begin + tiles_per_split, num_tiles);
  const int v_end = min(tile_end * kBlockN, keys.count());

  // Q rows of this CTA (zero past `rows`), in the first cp.async group.
  const Elem* g_q = static_cast<const Elem*>(f.q);
  for (int idx = threadIdx.x; idx < m_tiles * 16 * kChunks; idx += Traits::kNumThreads) {
    const int lr = idx / kChunks, c = idx % kChunks;
    const int r = row0 + lr;
    const bool valid = lr < rows;
    const int64_t off = valid ? seq.q_offset(f.q_stride, b, r / group, hk * group + r % group) + 8 * c : 0;
    cuda_core::cp_async_16(cuda_core::smem_address(s_q + Tile::offset(lr, c)), g_q + off, valid);
  }

  const Elem* g_k = static_cast<const Elem*>(f.k);
  const Elem* g_v = static_cast<const Elem*>(f.v);
  // One K/V tile: keys at virtual positions [tile * kBlockN, + kBlockN); rows past v_end
  // are zero-filled (never read from memory), so no stale or NaN value meets P * V.
  // Element offsets of virtual key v's K and V rows (0 when !valid), asked by every lane
  // that copies one of its 16-byte chunks. A warp's lanes cover whole rows (kRowChunks
  // consecutive lanes per row), so a paged cache's page table is read once per row and
  // tile: by the row's chunk-0 lane, which hands the offsets to the others by shuffle.
  // `paged` is std::true_type / std::false_type: the copy loops are compiled once per layout.
  auto row_offsets = [&](auto paged, int v, bool valid, int c, int row_chunks, int64_t* k_off, int64_t* v_off) {
    *k_off = *v_off = 0;
    const int j = valid ? keys.key(v) : 0;
    if constexpr (!decltype(paged)::value) {
      if (valid) seq.kv_offsets(p, b, hk, j, k_off, v_off);
    } else {
      int32_t page = valid && c == 0 ? seq.page_of(p, b, j) : 0;
      page = __shfl_sync(0xffffffffu, page, (threadIdx.x % 32) / row_chunks * row_chunks);
      if (valid) DecodeSeq::paged_offsets(p, page, hk, j, k_off, v_off);
    }
  };
  auto for_layout = [&](auto&& body) {
    if (p.maybe_page_table != nullptr) {
      body(std::true_type{});
    } else {
      body(std::false_type{});
    }
  };
  static_assert(kChunks <= 32 && 32 % kChunks == 0 && Traits::kNumThreads % kChunks == 0,
                "a warp covers whole rows of 16-byte chunks");
  auto load_tile = [&](int tile, int stage) {
    Elem* sk = s_k + stage * Traits::kKvTileElems;
    Elem* sv = s_v + stage * Traits::kKvTileElems;
    for_layout([&](auto paged) {
      for (int idx = threadIdx.x; idx < kBlockN * kChunks; idx += Traits::kNumThreads) {
        const int row = idx / kChunks, c = idx % kChunks;
        const int v = tile * kBlockN + row;
        const bool valid = v < v_end;
        int64_t k_off, v_off;
        row_offsets(paged, v, valid, c, kChunks, &k_off, &v_off);
        cuda_core::cp_async_16(cuda_core::smem_address(sk + Tile::offset(row, c)), g_k + k_off + 8 * c, valid);
        cuda_core::cp_async_16(cuda_core::smem_address(sv + Tile::offset(row, c)), g_v + v_off + 8 * c, valid);
      }
    });
  };

  // FP8 caches: one tile's raw K and V bytes, row-major (kBlockN, kD), staged by cp.async
  // (16 values per copy, half the bytes of a 16-bit tile), rows past v_end zero-filled.
  const uint8_t* g_k8 = static_cast<const uint8_t*>(f.k);
  const uint8_t* g_v8 = static_cast<const uint8_t*>(f.v);
  auto load_tile_fp8 = [&](int tile) {
    for_layout([&](auto paged) {
      for (int idx = threadIdx.x; idx < kBlockN * Traits::kFp8Chunks; idx += Traits::kNumThreads) {
        const int row = idx / Traits::kFp8Chunks, c = idx % Traits::kFp8Chunks;
        const int v = tile * kBlockN + row;
        const bool valid = v < v_end;
        int64_t k_off, v_off;  // element offsets are byte offsets in an FP8 cache
        row_offsets(paged, v, valid, c, Traits::kFp8Chunks, &k_off, &v_off);
        cuda_core::cp_async_16(cuda_core::smem_address(s_k8 + row * kD + 16 * c), g_k8 + k_off + 16 * c, valid);
        cuda_core::cp_async_16(cuda_core::smem_address(s_v8 + row * kD + 16 * c), g_v8 + v_off + 16 * c, valid);
      }
    });
  };
  // ... and their exact conversion into the 16-bit tiles the mma path reads (the scales are
  // the variant's: k_scale in the logits, v_scale in the output).
  auto convert_tile_fp8 = [&]() {
    cuda_core::convert_fp8_tile<kBlockN, kD, Traits::kNumThreads, kIsBf16>(s_k, s_k8, f.kv_e5m2, threadIdx.x);
    cuda_core::convert_fp8_tile<kBlockN, kD, Traits::kNumThreads, kIsBf16>(s_v, s_v8, f.kv_e5m2, threadIdx.x);
  };

  // This lane's two rows of its m tile, g and g + 8: query row i of query head h each, with
  // the variant of its head and its block-mask row (walked as a cursor: keys ascend).
  // Padding rows (past `rows`) take row0's state: their Q is zero and nothing reads them.
  int row_i[2];
  AttentionVariant variant[2] = {AttentionVariant(f, hk * group, seq.seqlen_q, seq.seqlen_k),
                                 AttentionVariant(f, hk * group, seq.seqlen_q, seq.seqlen_k)};
  BlockMaskRow mask_row[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int lr = m_tile * 16 + lane / 4 + 8 * rr;
    const int r = row0 + (lr < rows ? lr : 0);
    const int h = hk * group + r % group;
    row_i[rr] = r / group;
    variant[rr] = AttentionVariant(f, h, seq.seqlen_q, seq.seqlen_k);
    if (f.maybe_kv_count != nullptr) mask_row[rr] = AttentionVariant::mask_row(f, b, h, row_i[rr] / f.mask_block_q);
  }

  float acc_o[Traits::kNTilesO][4];
#pragma unroll
  for (int nt = 0; nt < Traits::kNTilesO; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc_o[nt][e] = 0.0f;
  OnlineSoftmax<2, Traits::kNTilesO> softmax;  // one step is (16 rows, 16 keys): two n8 tiles

  // Tile t's share of the CTA's work, on its (kBlockN, kD) K and V tiles in shared memory:
  // each warp takes 16-key steps of its key group, S = Q K^T, the variant's logits, the
  // online softmax, O += P V.
  auto compute_tile = [&](int t, const Elem* sk, const Elem* sv) {
    for (int step = key_group; step < Traits::kStepsPerTile; step += key_groups) {
      const int key_row0 = step * Traits::kStepN;  // (kStepN, kD) slice of the stage
      const int v0 = t * kBlockN + key_row0;
      if (v0 >= v_end) break;  // the rest of the tile is past the split

      // S = Q K^T: (16 rows, 16 keys) as two n8 tiles.
      float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
      for (int kk = 0; kk < Traits::kKSteps; ++kk) {
        uint32_t a[4], kb[4];
        cuda_core::ldmatrix_x4(a, cuda_core::smem_address(s_q + Tile::offset(m_tile * 16 + lane % 16, 2 * kk + lane / 16)));
        cuda_core::ldmatrix_x4(
            kb, cuda_core::smem_address(sk + Tile::offset(key_row0 + lane % 8 + (lane / 16) * 8, 2 * kk + (lane / 8) % 2)));
        const uint32_t b0[2] = {kb[0], kb[1]};
        const uint32_t b1[2] = {kb[2], kb[3]};
        cuda_core::mma_m16n8k16<kIsBf16>(s[0], a, b0);
        cuda_core::mma_m16n8k16<kIsBf16>(s[1], a, b1);
      }

      // SPEC 2-5 per element: s[n][e] is row g + 8 (e / 2), key 8 n + 2 (lane % 4) + e % 2.
#pragma unroll
      for (int n = 0; n < 2; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int v = v0 + 8 * n + 2 * (lane % 4) + (e % 2);
          const int j = keys.key(v);
          const int rr = e / 2;
          s[n][e] = v < v_end && variant[rr].visible(row_i[rr], j) && mask_row[rr].lists_key(j)
                        ? variant[rr].logit(s[n][e], j)
                        : cuda_core::neg_inf();
        }
      softmax.update(s, acc_o);

      // O += P V: the S accumulators are P's A fragment (FA2's register reuse).
      const uint32_t pa[4] = {cuda_core::pack_pair<kIsBf16>(s[0][0], s[0][1]), cuda_core::pack_pair<kIsBf16>(s[0][2], s[0][3]),
                              cuda_core::pack_pair<kIsBf16>(s[1][0], s[1][1]), cuda_core::pack_pair<kIsBf16>(s[1][2], s[1][3])};
#pragma unroll
      for (int pair = 0; pair < Traits::kNTilesO / 2; ++pair) {
        uint32_t vb[4];
        cuda_core::ldmatrix_x4_trans(
            vb, cuda_core::smem_address(sv + Tile::offset(key_row0 + lane % 8 + ((lane / 8) % 2) * 8, 2 * pair + lane / 16)));
        const uint32_t b0[2] = {vb[0], vb[1]};
        const uint32_t b1[2] = {vb[2], vb[3]};
        cuda_core::mma_m16n8k16<kIsBf16>(acc_o[2 * pair], pa, b0);
        cuda_core::mma_m16n8k16<kIsBf16>(acc_o[2 * pair + 1], pa, b1);
      }
    }
  };

  if constexpr (!Traits::kKvFp8) {
    if (tile_begin < tile_end) load_tile(tile_begin, 0);
    cuda_core::cp_async_commit();
    for (int t = tile_begin; t < tile_end; ++t) {
      const int stage = (t - tile_begin) & 1;
      if (t + 1 < tile_end) load_tile(t + 1, stage ^ 1);
      cuda_core::cp_async_commit();
      cuda_core::cp_async_wait<1>();
      __syncthreads();
      compute_tile(t, s_k + stage * Traits::kKvTileElems, s_v + stage * Traits::kKvTileElems);
      __syncthreads();  // the stage is refilled by the next iteration's prefetch (and, after the
                        // last tile, overwritten by the combine below)
    }
  } else {
    if (tile_begin < tile_end) load_tile_fp8(tile_begin);
    cuda_core::cp_async_commit();
    for (int t = tile_begin; t < tile_end; ++t) {
      cuda_core::cp_async_wait<0>();
      __syncthreads();  // FP8 tile t has landed for every thread; every warp is done with tile t - 1
      convert_tile_fp8();
      __syncthreads();  // the 16-bit tile t is complete, and the staging buffer is free
      if (t + 1 < tile_end) load_tile_fp8(t + 1);  // overlaps tile t's compute
      cuda_core::cp_async_commit();
      compute_tile(t, s_k, s_v);
    }
    __syncthreads();  // every warp is done with the last tile before the combine overwrites it
  }
  cuda_core::cp_async_wait<0>();  // only Q and empty groups can be in flight: nothing reads them

  // Combine the warps that shared an m tile: each writes its (16, kD) float output and
  // (m, l) into the K/V stages, which are free now.
  float* s_o = reinterpret_cast<float*>(smem);                 // (kNumWarps, 16, kD)
  float* s_ml = s_o + Traits::kNumWarps * 16 * kD;             // (kNumWarps, 16, 2)
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int row = lane / 4 + 8 * rr;
    const SoftmaxState st = softmax.state(rr);
#pragma unroll
    for (int nt = 0; nt < Traits::kNTilesO; ++nt) {
      cuda_core::st_shared(reinterpret_cast<float2*>(s_o + (warp * 16 + row) * kD + nt * 8 + 2 * (lane % 4)),
                           make_float2(acc_o[nt][2 * rr], acc_o[nt][2 * rr + 1]));
    }
    if (lane % 4 == 0) cuda_core::st_shared(reinterpret_cast<float2*>(s_ml + (warp * 16 + row) * 2), make_float2(st.m, st.l));
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < rows * kChunks; idx += Traits::kNumThreads) {
    const int lr = idx / kChunks, c = idx % kChunks;
    const int mt = lr / 16, rr = lr % 16;
    SoftmaxState merged;  // the key groups' states of this row, merged
    for (int kg = 0; kg < key_groups; ++kg) {
      merged.m = fmaxf(merged.m, cuda_core::ld_shared(s_ml + ((mt + kg * m_tiles) * 16 + rr) * 2));
    }
    float o[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int kg = 0; kg < key_groups; ++kg) {
      const int w = mt + kg * m_tiles;
      const float2 ml = cuda_core::ld_shared(reinterpret_cast<const float2*>(s_ml + (w * 16 + rr) * 2));
      const float scale = SoftmaxState::rescale(ml.x, merged.m);
      merged.l += ml.y * scale;
      const float4* src = reinterpret_cast<const float4*>(s_o + (w * 16 + rr) * kD + 8 * c);
      const float4 lo = cuda_core::ld_shared(src), hi = cuda_core::ld_shared(src + 1);
      o[0] += lo.x * scale; o[1] += lo.y * scale; o[2] += lo.z * scale; o[3] += lo.w * scale;
      o[4] += hi.x * scale; o[5] += hi.y * scale; o[6] += hi.z * scale; o[7] += hi.w * scale;
    }
    const int r = row0 + lr;
    const int i = r / group, h = hk * group + r % group;
    if (p.num_splits == 1) {
      write_final_chunk<kIsBf16>(p, seq, b, i, h, c, o, merged);
    } else {
      write_partial_chunk<kD>(p, split, b, i, h, c, o, merged);
    }
  }
}

/// Merges the splits of one (b, i, h) row chunk by their LSE and finalises it (sink,
/// normalisation, LSE, rectification, gate). One thread per 8-column chunk.
template <class Traits>
__global__ void __launch_bounds__(256) decode_merge_kernel(const DecodeParams p) {
  constexpr int kD = Traits::kHeadDim;
  constexpr int kChunks = Traits::kChunks;
  const FwdParams& f = p.fwd;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t total = static_cast<int64_t>(f.batch) * p.max_seqlen_q * f.hq * kChunks;
  if (item >= total) return;
  const int c = static_cast<int>(item % kChunks);
  int64_t rest = item / kChunks;
  const int h = static_cast<int>(rest % f.hq);
  rest /= f.hq;
  const int i = static_cast<int>(rest % p.max_seqlen_q);
  const int b = static_cast<int>(rest / p.max_seqlen_q);
  const DecodeSeq seq(p, b);
  if (i >= seq.seqlen_q) return;

  SoftmaxState merged;  // the splits' states of this row, merged
  for (int s = 0; s < p.num_splits; ++s) merged.m = fmaxf(merged.m, p.maybe_partial_ml[2 * partial_slot(p, s, b, i, h)]);
  float o[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (int s = 0; s < p.num_splits; ++s) {
    const int64_t slot = partial_slot(p, s, b, i, h);
    const float scale = SoftmaxState::rescale(p.maybe_partial_ml[2 * slot], merged.m);
    merged.l += p.maybe_partial_ml[2 * slot + 1] * scale;
    const float4* src = reinterpret_cast<const float4*>(p.maybe_partial_o + slot * kD + 8 * c);
    const float4 lo = src[0], hi = src[1];
    o[0] += lo.x * scale; o[1] += lo.y * scale; o[2] += lo.z * scale; o[3] += lo.w * scale;
    o[4] += hi.x * scale; o[5] += hi.y * scale; o[6] += hi.z * scale; o[7] += hi.w * scale;
  }
  write_final_chunk<Traits::kIsBf16>(p, seq, b, i, h, c, o, merged);
}

}  // namespace attnkit::cuda_backend
