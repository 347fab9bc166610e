// Device-side block-mask helpers (SPEC 5) behind the public block_mask_from_dense /
// block_mask_to_dense / block_mask_check when the tensors live on the GPU. Shapes are
// validated by the caller (host/api.cpp); every tensor is read through its strides.
#pragma once

#include <cstdint>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit::cuda_backend {

/// \brief dense uint8 [Bm, Hm, NQB, NKB] -> out.kv_count [Bm, Hm, NQB] and out.kv_index
/// [Bm, Hm, NQB, max_kv]; unused index entries are set to -1. A row with more than max_kv
/// blocks returns kInvalidArgument (the call synchronizes `stream` to find out).
Status block_mask_from_dense_device(const TensorView& dense, const BlockMask& out, void* stream);

/// \brief Expands `mask` into dense uint8 [Bm, Hm, NQB, NKB]; entries out of [0, NKB) are
/// skipped (as the host version does).
Status block_mask_to_dense_device(const BlockMask& mask, const TensorView& dense_out, void* stream);

/// \brief Counts entries breaking SPEC 5: a count outside [0, max_kv] (one per row), an
/// index outside [0, nkb), an index not above the entry before it (the host rule). Synchronizes
/// `stream`; *bad_entries receives the count.
Status block_mask_check_device(const BlockMask& mask, int64_t nkb, int64_t* bad_entries, void* stream);

}  // namespace attnkit::cuda_backend
