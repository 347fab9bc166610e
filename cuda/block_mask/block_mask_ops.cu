// One thread per mask row (b, h, query block): rows hold at most a few hundred blocks,
// and these helpers run once per pattern, not per attention call.
#include "cuda/block_mask/block_mask_ops.hpp"

#include <cuda_runtime.h>

#include <string>

namespace attnkit::cuda_backend {
namespace {

constexpr int kThreads = 256;

/// Strides and shape of a [Bm, Hm, NQB, ...] tensor, passed by value to the kernels.
struct RowView {
  int64_t stride[4];
  int64_t hm, nqb;

  explicit RowView(const TensorView& t) : hm(t.shape[1]), nqb(t.shape[2]) {
    for (int d = 0; d < 4; ++d) stride[d] = d < t.rank ? t.stride[d] : 0;
  }
  __device__ int64_t row_offset(int64_t row) const {
    const int64_t qb = row % nqb;
    const int64_t h = (row / nqb) % hm;
    const int64_t b = row / (nqb * hm);
    return b * stride[0] + h * stride[1] + qb * stride[2];
  }
};

__global__ void from_dense_kernel(const uint8_t* dense, RowView dense_view, int64_t nkb, int32_t* count,
                                  RowView count_view, int32_t* index, RowView index_view, int64_t max_kv,
                                  int64_t rows, unsigned int* overflow_rows) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  const uint8_t* d = dense + dense_view.row_offset(row);
  int32_t* idx = index + index_view.row_offset(row);
  int64_t n = 0;
  for (int64_t kb = 0; kb < nkb; ++kb) {
    if (d[kb * dense_view.stride[3]] == 0) continue;
    if (n < max_kv) idx[n * index_view.stride[3]] = static_cast<int32_t>(kb);
    ++n;
  }
  if (n > max_kv) atomicAdd(overflow_rows, 1u);
  for (int64_t e = n; e < max_kv; ++e) idx[e * index_view.stride[3]] = -1;
  count[count_view.row_offset(row)] = static_cast<int32_t>(n < max_kv ? n : max_kv);
}

__global__ void to_dense_kernel(const int32_t* count, RowView count_view, const int32_t* index, RowView index_view,
                                int64_t max_kv, uint8_t* dense, RowView dense_view, int64_t nkb, int64_t rows) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  uint8_t* d = dense + dense_view.row_offset(row);
  for (int64_t kb = 0; kb < nkb; ++kb) d[kb * dense_view.stride[3]] = 0;
  int64_t n = count[count_view.row_offset(row)];
  n = n < 0 ? 0 : (n > max_kv ? max_kv : n);
  const int32_t* idx = index + index_view.row_offset(row);
  // The forward kernel's rule (docs/api.md): an entry is used when it lies in [0, nkb) and
  // above the last used entry, so the dense view shows exactly the blocks that run.
  int64_t last = -1;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t kb = idx[e * index_view.stride[3]];
    if (kb > last && kb < nkb) {
      d[kb * dense_view.stride[3]] = 1;
      last = kb;
    }
  }
}

__global__ void check_kernel(const int32_t* count, RowView count_view, const int32_t* index, RowView index_view,
                             int64_t max_kv, int64_t nkb, int64_t rows, unsigned long long* bad) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  unsigned long long local = 0;
  int64_t n = count[count_view.row_offset(row)];
  if (n < 0 || n > max_kv) {
    ++local;
    n = n < 0 ? 0 : max_kv;
  }
  const int32_t* idx = index + index_view.row_offset(row);
  for (int64_t e = 0; e < n; ++e) {  // same rule as the host (reference/block_mask.cpp)
    const int64_t kb = idx[e * index_view.stride[3]];
    if (kb < 0 || kb >= nkb || (e > 0 && kb <= idx[(e - 1) * index_view.stride[3]])) ++local;
  }
  if (local != 0) atomicAdd(bad, local);
}

Status cuda_error(const std::string& what, cudaError_t err) {
  return Status(StatusCode::kCudaError, what + ": " + cudaGetErrorString(err));
}

int64_t mask_rows(const TensorView& kv_count) { return kv_count.shape[0] * kv_count.shape[1] * kv_count.shape[2]; }

unsigned grid_for(int64_t rows) { return static_cast<unsigned>((rows + kThreads - 1) / kThreads); }

/// A device counter zeroed on `stream`, read back (synchronously) and freed by `read`.
template <class T>
class DeviceCounter {
 public:
  explicit DeviceCounter(cudaStream_t stream) : stream_(stream) {
    err_ = cudaMalloc(&ptr_, sizeof(T));
    if (err_ == cudaSuccess) err_ = cudaMemsetAsync(ptr_, 0, sizeof(T), stream_);
  }
  ~DeviceCounter() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceCounter(const DeviceCounter&) = delete;
  DeviceCounter& operator=(const DeviceCounter&) = delete;

  cudaError_t error() const { return err_; }
  T* get() const { return ptr_; }
  cudaError_t read(T* value) {
    cudaError_t err = cudaMemcpyAsync(value, ptr_, sizeof(T), cudaMemcpyDeviceToHost, stream_);
    if (err == cudaSuccess) err = cudaStreamSynchronize(stream_);
    return err;
  }

 private:
  cudaStream_t stream_;
  T* ptr_ = nullptr;
  cudaError_t err_ = cudaSuccess;
};

}  // namespace

Status block_mask_from_dense_device(const TensorView& dense, const BlockMask& out, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t rows = mask_rows(out.kv_count);
  if (rows == 0) return Status::ok();
  DeviceCounter<unsigned int> overflow(s);
  if (overflow.error() != cudaSuccess) return cuda_error("block_mask_from_dense: allocating a counter", overflow.error());
  from_dense_kernel<<<grid_for(rows), kThreads, 0, s>>>(
      static_cast<const uint8_t*>(dense.data), RowView(dense), dense.shape[3], static_cast<int32_t*>(out.kv_count.data),
      RowView(out.kv_count), static_cast<int32_t*>(out.kv_index.data), RowView(out.kv_index), out.kv_index.shape[3],
      rows, overflow.get());
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return cuda_error("block_mask_from_dense kernel launch failed", err);
  unsigned int overflow_rows = 0;
  err = overflow.read(&overflow_rows);
  if (err != cudaSuccess) return cuda_error("block_mask_from_dense", err);
  if (overflow_rows != 0) {
    return Status(StatusCode::kInvalidArgument,
                  "out.kv_index.shape[3] = " + std::to_string(out.kv_index.shape[3]) + ": " +
                      std::to_string(overflow_rows) +
                      " rows of dense list more blocks than that (max_kv must be >= the longest row; NKB always suffices)");
  }
  return Status::ok();
}

Status block_mask_to_dense_device(const BlockMask& mask, const TensorView& dense_out, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t rows = mask_rows(mask.kv_count);
  if (rows == 0) return Status::ok();
  to_dense_kernel<<<grid_for(rows), kThreads, 0, s>>>(
      static_cast<const int32_t*>(mask.kv_count.data), RowView(mask.kv_count),
      static_cast<const int32_t*>(mask.kv_index.data), RowView(mask.kv_index), mask.kv_index.shape[3],
      static_cast<uint8_t*>(dense_out.data), RowView(dense_out), dense_out.shape[3], rows);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return cuda_error("block_mask_to_dense kernel launch failed", err);
  return Status::ok();
}

Status block_mask_check_device(const BlockMask& mask, int64_t nkb, int64_t* bad_entries, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  *bad_entries = 0;
  const int64_t rows = mask_rows(mask.kv_count);
  if (rows == 0) return Status::ok();
  DeviceCounter<unsigned long long> bad(s);
  if (bad.error() != cudaSuccess) return cuda_error("block_mask_check: allocating a counter", bad.error());
  check_kernel<<<grid_for(rows), kThreads, 0, s>>>(
      static_cast<const int32_t*>(mask.kv_count.data), RowView(mask.kv_count),
      static_cast<const int32_t*>(mask.kv_index.data), RowView(mask.kv_index), mask.kv_index.shape[3], nkb, rows,
      bad.get());
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return cuda_error("block_mask_check kernel launch failed", err);
  unsigned long long count = 0;
  err = bad.read(&count);
  if (err != cudaSuccess) return cuda_error("block_mask_check", err);
  *bad_entries = static_cast<int64_t>(count);
  return Status::ok();
}

}  // namespace attnkit::cuda_backend
