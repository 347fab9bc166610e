// Public block-mask helpers (SPEC 5): dense <-> compressed conversions and the checker.
// Host masks run the reference code here; device masks call the CUDA backend.
#include <string>

#include "attnkit/attention.hpp"
#include "host/reference/block_mask.hpp"
#include "host/validate.hpp"
#include "host/validate_outputs.hpp"

#ifdef ATTNKIT_WITH_CUDA
#include "cuda/block_mask/block_mask_ops.hpp"
#endif

namespace attnkit {

namespace {

using detail::invalid;

#ifndef ATTNKIT_WITH_CUDA
Status not_built_with_cuda(const char* what) {
  return Status(StatusCode::kNotSupported,
                std::string(what) + ": the tensors live on a CUDA device but attnkit was built without CUDA");
}
#endif

/// Structure of a compressed mask: kv_count int32 [Bm, Hm, NQB], kv_index int32
/// [Bm, Hm, NQB, max_kv] with max_kv <= nkb, both on `device`, positive block sizes.
/// `name` is the argument ("mask" or "out"). Entry values are not read here.
Status check_mask_structure(const BlockMask& m, const std::string& name, DeviceKind device, int64_t nkb) {
  if (m.block_q <= 0 || m.block_k <= 0) {
    return invalid(name + ".block_q/block_k = " + std::to_string(m.block_q) + "/" + std::to_string(m.block_k) +
                   ": expected positive block sizes");
  }
  const TensorView& c = m.kv_count;
  const TensorView& x = m.kv_index;
  if (!c.present()) return invalid(name + ".kv_count: required, got an absent tensor");
  if (!x.present()) return invalid(name + ".kv_index: required, got an absent tensor");
  if (Status s = detail::check_tensor_view(c, name + ".kv_count", device); !s) return s;
  if (c.dtype != DType::kInt32) return invalid(name + ".kv_count: expected dtype int32, got " + dtype_name(c.dtype));
  if (c.rank != 3) return invalid(name + ".kv_count: expected rank 3 [Bm, Hm, NQB], got " + detail::shape_string(c));
  if (Status s = detail::check_tensor_view(x, name + ".kv_index", device); !s) return s;
  if (x.dtype != DType::kInt32) return invalid(name + ".kv_index: expected dtype int32, got " + dtype_name(x.dtype));
  if (x.rank != 4 || x.shape[0] != c.shape[0] || x.shape[1] != c.shape[1] || x.shape[2] != c.shape[2] ||
      x.shape[3] > nkb) {
    return invalid(name + ".kv_index: expected shape [Bm, Hm, NQB, max_kv] = [" + std::to_string(c.shape[0]) + ", " +
                   std::to_string(c.shape[1]) + ", " + std::to_string(c.shape[2]) + ", max_kv <= NKB = " +
                   std::to_string(nkb) + "], got " + detail::shape_string(x));
  }
  return Status::ok();
}

/// A dense uint8 block matrix [Bm, Hm, NQB, NKB] on `device`.
Status check_dense(const TensorView& d, const std::string& name, DeviceKind device) {
  if (!d.present()) return invalid(name + ": required, got an absent tensor");
  if (Status s = detail::check_tensor_view(d, name, device); !s) return s;
  if (d.dtype != DType::kUInt8) return invalid(name + ": expected dtype uint8, got " + dtype_name(d.dtype));
  if (d.rank != 4) return invalid(name + ": expected rank 4 [Bm, Hm, NQB, NKB], got " + detail::shape_string(d));
  return Status::ok();
}

}  // namespace

Status block_mask_from_dense(const TensorView& dense, const BlockMask& out, void* stream) {
  if (Status s = check_dense(dense, "dense", dense.device); !s) return s;
  const int64_t nkb = dense.shape[3];
  if (Status s = check_mask_structure(out, "out", dense.device, nkb); !s) return s;
  const TensorView& c = out.kv_count;
  if (c.shape[0] != dense.shape[0] || c.shape[1] != dense.shape[1] || c.shape[2] != dense.shape[2]) {
    return invalid("out.kv_count: expected shape [Bm, Hm, NQB] = [" + std::to_string(dense.shape[0]) + ", " +
                   std::to_string(dense.shape[1]) + ", " + std::to_string(dense.shape[2]) + "] (dense's), got " +
                   detail::shape_string(c));
  }
  if (dense.device == DeviceKind::kHost) {
    const int64_t longest = reference::dense_longest_row(dense);
    if (out.kv_index.shape[3] < longest) {
      return invalid("out.kv_index.shape[3] = max_kv = " + std::to_string(out.kv_index.shape[3]) +
                     ": expected >= the longest row of dense = " + std::to_string(longest) + " (NKB always suffices)");
    }
    reference::block_mask_from_dense(dense, out);
    return Status::ok();
  }
#ifdef ATTNKIT_WITH_CUDA
  return cuda_backend::block_mask_from_dense_device(dense, out, stream);
#else
  (void)stream;
  return not_built_with_cuda("block_mask_from_dense");
#endif
}

Status block_mask_to_dense(const BlockMask& mask, const TensorView& dense_out, void* stream) {
  const DeviceKind device = mask.kv_count.device;
  if (Status s = check_dense(dense_out, "dense_out", device); !s) return s;
  if (Status s = check_mask_structure(mask, "mask", device, dense_out.shape[3]); !s) return s;
  const TensorView& c = mask.kv_count;
  if (dense_out.shape[0] != c.shape[0] || dense_out.shape[1] != c.shape[1] || dense_out.shape[2] != c.shape[2]) {
    return invalid("dense_out: expected shape [Bm, Hm, NQB, NKB] = [" + std::to_string(c.shape[0]) + ", " +
                   std::to_string(c.shape[1]) + ", " + std::to_string(c.shape[2]) + ", NKB] (the mask's), got " +
                   detail::shape_string(dense_out));
  }
  if (device == DeviceKind::kHost) {
    reference::block_mask_to_dense(mask, dense_out);
    return Status::ok();
  }
#ifdef ATTNKIT_WITH_CUDA
  return cuda_backend::block_mask_to_dense_device(mask, dense_out, stream);
#else
  (void)stream;
  return not_built_with_cuda("block_mask_to_dense");
#endif
}

Status block_mask_check(const BlockMask& mask, int64_t nkb, int64_t* bad_entries, void* stream) {
  if (bad_entries == nullptr) return invalid("bad_entries: expected a non-null pointer");
  if (nkb < 0) return invalid("nkb = " + std::to_string(nkb) + ": expected >= 0 (the number of key blocks)");
  const DeviceKind device = mask.kv_count.device;
  if (Status s = check_mask_structure(mask, "mask", device, nkb); !s) return s;
  if (device == DeviceKind::kHost) {
    *bad_entries = reference::block_mask_bad_entries(mask, nkb);
    return Status::ok();
  }
#ifdef ATTNKIT_WITH_CUDA
  return cuda_backend::block_mask_check_device(mask, nkb, bad_entries, stream);
#else
  (void)stream;
  return not_built_with_cuda("block_mask_check");
#endif
}

}  // namespace attnkit
