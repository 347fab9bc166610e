// Split attention over keys for the merge_states tests (tests/merge, tests/emulation): one
// forward call per chunk of key blocks, each a block mask that lists only that chunk's
// blocks (intersected with the call's own mask when it has one), without the sink and the
// gate. The CPU backend accepts any positive block sizes and block masks compose with the
// SPEC 2 visibility, so the chunks' keys partition every row's visible keys.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {

/// A dense block matrix [bm, hm, nqb, nkb] (1 = computed) and its compressed rows.
struct DenseBlocks {
  int64_t bm = 1, hm = 1, nqb = 0, nkb = 0;
  std::vector<uint8_t> allowed;  // empty: every block

  bool at(int64_t b, int64_t h, int64_t qb, int64_t kb) const {
    return allowed.empty() || allowed[static_cast<size_t>(((b * hm + h) * nqb + qb) * nkb + kb)] != 0;
  }
};

/// Owning compressed block mask (SPEC 5) built from a predicate over (b, h, qb, kb).
struct MaskTensors {
  HostTensor count, index;
  attnkit::BlockMask mask;

  MaskTensors() = default;
  MaskTensors(int64_t bm, int64_t hm, int64_t nqb, int64_t nkb, int block_q, int block_k,
              const std::function<bool(int64_t, int64_t, int64_t, int64_t)>& listed) {
    count.reset(DType::kInt32, {bm, hm, nqb});
    index.reset(DType::kInt32, {bm, hm, nqb, nkb});  // max_kv = NKB: room for every block
    for (int64_t b = 0; b < bm; ++b)
      for (int64_t h = 0; h < hm; ++h)
        for (int64_t qb = 0; qb < nqb; ++qb) {
          const int64_t row = (b * hm + h) * nqb + qb;
          int32_t n = 0;
          for (int64_t kb = 0; kb < nkb; ++kb) {
            if (listed(b, h, qb, kb)) index.ptr<int32_t>()[row * nkb + n++] = static_cast<int32_t>(kb);
          }
          for (int64_t e = n; e < nkb; ++e) index.ptr<int32_t>()[row * nkb + e] = -1;
          count.ptr<int32_t>()[row] = n;
        }
    mask.kv_count = count.view;
    mask.kv_index = index.view;
    mask.block_q = block_q;
    mask.block_k = block_k;
  }
  MaskTensors(const MaskTensors&) = delete;
  MaskTensors& operator=(const MaskTensors&) = delete;
};

/// How the keys are split: key block kb (of block_k keys) goes to chunk chunk_of[kb];
/// `feature` is the call's own mask (same block sizes), empty when it has none.
struct Chunking {
  int block_q = 4;
  int block_k = 3;
  int num_chunks = 1;
  std::vector<int> chunk_of;  // [nkb]
  DenseBlocks feature;
};

/// \brief A random assignment of `nkb` key blocks to `num_chunks` chunks (seeded). With 3 or
/// more chunks the last one stays empty, so every split has an empty part to merge.
inline std::vector<int> random_chunks(int64_t nkb, int num_chunks, Rng& rng) {
  std::vector<int> of(static_cast<size_t>(nkb));
  const int used = num_chunks >= 3 ? num_chunks - 1 : num_chunks;
  for (auto& c : of) c = static_cast<int>(rng.integer(0, used - 1));
  return of;
}

/// The partial states of one split: O and LSE per chunk (the call's shapes and dtypes).
struct Parts {
  std::vector<HostTensor> o, lse;
  std::vector<attnkit::TensorView> o_views, lse_views;

  void bind() {
    o_views.clear();
    lse_views.clear();
    for (auto& t : o) o_views.push_back(t.view);
    for (auto& t : lse) lse_views.push_back(t.view);
  }
};

/// \brief A contiguous host tensor of `like`'s dtype (or `dtype`) and shape, NaN-poisoned.
inline HostTensor nan_like(const TensorView& like, DType dtype) {
  HostTensor t;
  switch (like.rank) {
    case 2: t.reset(dtype, {like.shape[0], like.shape[1]}); break;
    case 3: t.reset(dtype, {like.shape[0], like.shape[1], like.shape[2]}); break;
    default: t.reset(dtype, {like.shape[0], like.shape[1], like.shape[2], like.shape[3]}); break;
  }
  fill_nan(t);
  return t;
}

/// \brief Runs `full` (with o and lse given) once per chunk of `split` on the CPU backend,
/// without sink, gate and rectification, into NaN-poisoned parts. `nqb` / `nkb` count the
/// blocks of the longest sequence.
inline attnkit::Status forward_parts(const attnkit::AttentionParams& full, const Chunking& split, int64_t nqb,
                                     int64_t nkb, Parts* parts) {
  parts->o.clear();
  parts->lse.clear();
  for (int c = 0; c < split.num_chunks; ++c) {
    const DenseBlocks& f = split.feature;
    MaskTensors chunk(f.bm, f.hm, nqb, nkb, split.block_q, split.block_k,
                      [&](int64_t b, int64_t h, int64_t qb, int64_t kb) {
                        return f.at(b, h, qb, kb) && split.chunk_of[static_cast<size_t>(kb)] == c;
                      });
    parts->o.push_back(nan_like(full.o, full.o.dtype));
    parts->lse.push_back(nan_like(full.lse, DType::kFloat32));
    attnkit::AttentionParams p = full;
    p.block_mask = chunk.mask;
    p.sink_logit = TensorView{};
    p.gate = attnkit::Gate{};
    p.rectify = attnkit::Rectification{};
    p.o = parts->o.back().view;
    p.lse = parts->lse.back().view;
    if (attnkit::Status s = attnkit::forward(p); !s) {
      return attnkit::Status(s.code(), "chunk " + std::to_string(c) + ": " + s.message());
    }
  }
  parts->bind();
  return attnkit::Status::ok();
}

}  // namespace attnkit_test
