// Host conversions between dense boolean block matrices and compressed block masks
// (SPEC 5), and the checker that counts entries breaking SPEC 5's rules.
#pragma once

#include <cstdint>

#include "attnkit/params.hpp"

namespace attnkit::reference {

/// \brief Longest row (number of nonzero blocks) of a host uint8 dense matrix
/// [Bm, Hm, NQB, NKB]: the smallest max_kv from_dense accepts.
int64_t dense_longest_row(const TensorView& dense);

/// \brief Writes the compressed form of `dense`: kv_count = nonzero blocks of the row,
/// kv_index = their key blocks ascending, then -1 up to max_kv. max_kv must be at least
/// dense_longest_row(dense).
void block_mask_from_dense(const TensorView& dense, const BlockMask& out);

/// \brief Expands `mask` into `dense_out` [Bm, Hm, NQB, NKB] (every element written).
/// Reads the first clamp(kv_count, 0, max_kv) entries of each row and skips entries
/// outside [0, NKB), as kernels do; order and duplicates do not matter here.
void block_mask_to_dense(const BlockMask& mask, const TensorView& dense_out);

/// \brief Number of SPEC 5 violations of a host mask against `nkb` key blocks:
///   - a row whose kv_count is outside [0, max_kv] counts 1 (the count itself), and its
///     first clamp(kv_count, 0, max_kv) entries are still examined;
///   - an examined entry counts 1 when it is outside [0, nkb) or when it is not greater
///     than the entry just before it in the row (not strictly ascending); an entry that
///     breaks both rules counts once.
/// So 0 means every row is valid. Each entry is judged against its predecessor only,
/// which a device kernel can evaluate independently per entry.
int64_t block_mask_bad_entries(const BlockMask& mask, int64_t nkb);

}  // namespace attnkit::reference
