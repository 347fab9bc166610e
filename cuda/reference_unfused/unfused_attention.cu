#include "cuda/reference_unfused/unfused_attention.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

namespace attnkit_unfused {
namespace {

constexpr int kSoftmaxThreads = 256;
enum Slot : int { kQ32 = 0, kK32 = 1, kV32 = 2, kS = 3, kP = 4 };

template <class T>
__global__ void to_float_kernel(const T* in, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = static_cast<float>(in[i]);
  }
}

__device__ float block_reduce(float x, bool is_max) {
  __shared__ float partial[kSoftmaxThreads / 32];
  for (int o = 16; o > 0; o /= 2) {
    const float y = __shfl_xor_sync(0xffffffffu, x, o);
    x = is_max ? fmaxf(x, y) : x + y;
  }
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = x;
  __syncthreads();
  x = partial[0];
  for (int w = 1; w < kSoftmaxThreads / 32; ++w) x = is_max ? fmaxf(x, partial[w]) : x + partial[w];
  __syncthreads();
  return x;
}

/// One CTA per row of S (group * Sq rows of one (b, kv head)): P = softmax(scale * S)
/// over the visible keys (causal: j <= i + Sk - Sq), written as fp32 or 16-bit.
template <class POut>
__global__ void softmax_kernel(const float* s, POut* p, float* maybe_lse, int64_t sq, int64_t sk, bool causal,
                               float scale, int64_t lse_head0, int64_t lse_head_stride) {
  const int64_t row = blockIdx.x;  // (head in group) * Sq + i
  const int64_t i = row % sq;
  const int64_t head = row / sq;
  const int64_t visible = causal ? (i + sk - sq + 1 < 0 ? 0 : (i + sk - sq + 1 > sk ? sk : i + sk - sq + 1)) : sk;
  const float* s_row = s + row * sk;
  POut* p_row = p + row * sk;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) m = fmaxf(m, s_row[j] * scale);
  m = block_reduce(m, true);
  const float ref = m == -INFINITY ? 0.0f : m;
  float l = 0.0f;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) l += expf(s_row[j] * scale - ref);
  l = block_reduce(l, false);
  for (int64_t j = threadIdx.x; j < sk; j += blockDim.x) {
    const float pj = j < visible ? expf(s_row[j] * scale - ref) / l : 0.0f;
    p_row[j] = static_cast<POut>(pj);
  }
  if (maybe_lse != nullptr && threadIdx.x == 0) {
    maybe_lse[(lse_head0 + head) * lse_head_stride + i] = l > 0.0f ? ref + logf(l) : -INFINITY;
  }
}

std::string cuda_text(const char* what, cudaError_t err) { return std::string(what) + ": " + cudaGetErrorString(err); }
std::string cublas_text(const char* what, cublasStatus_t st) {
  return std::string(what) + ": cuBLAS status " + std::to_string(static_cast<int>(st));
}

template <class T>
std::string convert(const void* in, float* out, int64_t n, cudaStream_t stream) {
  to_float_kernel<T><<<1024, 256, 0, stream>>>(static_cast<const T*>(in), out, n);
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? "" : cuda_text("to_float_kernel launch", err);
}

}  // namespace

Workspace::~Workspace() {
  for (void* p : ptr_) {
    if (p != nullptr) cudaFree(p);
  }
  if (handle_ != nullptr) cublasDestroy(handle_);
}

std::string Workspace::reserve(int slot, size_t bytes) {
  if (size_[slot] >= bytes) return "";
  if (ptr_[slot] != nullptr) cudaFree(ptr_[slot]);
  ptr_[slot] = nullptr;
  size_[slot] = 0;
  const cudaError_t err = cudaMalloc(&ptr_[slot], bytes);
  if (err != cudaSuccess) return cuda_text("cudaMalloc (unfused workspace)", err);
  size_[slot] = bytes;
  return "";
}

cublasHandle_t Workspace::handle() {
  if (handle_ == nullptr && cublasCreate(&handle_) != CUBLAS_STATUS_SUCCESS) handle_ = nullptr;
  return handle_;
}

std::string run(const Args& a, Workspace* ws) {
  const bool fp32 = a.precision == Precision::kFloat32;
  const int64_t group = a.hq / a.hkv;
  const int64_t q_elems = a.batch * a.sq * a.hq * a.d;
  const int64_t kv_elems = a.batch * a.sk * a.hkv * a.d;
  const size_t s_elems = static_cast<size_t>(group * a.sq * a.sk);
  cublasHandle_t handle = ws->handle();
  if (handle == nullptr) return "cublasCreate failed";
  cublasStatus_t st = cublasSetStream(handle, a.stream);
  if (st != CUBLAS_STATUS_SUCCESS) return cublas_text("cublasSetStream", st);

  std::string e;
  const void *q = a.q, *k = a.k, *v = a.v;
  const cudaDataType_t half_type = a.is_bf16 ? CUDA_R_16BF : CUDA_R_16F;
  cudaDataType_t in_type = half_type;
  if (fp32) {
    for (auto [slot, n] : {std::pair{kQ32, q_elems}, std::pair{kK32, kv_elems}, std::pair{kV32, kv_elems}}) {
      if (!(e = ws->reserve(slot, static_cast<size_t>(n) * 4)).empty()) return e;
    }
    float* q32 = static_cast<float*>(ws->slot(kQ32));
    float* k32 = static_cast<float*>(ws->slot(kK32));
    float* v32 = static_cast<float*>(ws->slot(kV32));
    if (a.is_bf16) {
      if (!(e = convert<__nv_bfloat16>(a.q, q32, q_elems, a.stream)).empty()) return e;
      if (!(e = convert<__nv_bfloat16>(a.k, k32, kv_elems, a.stream)).empty()) return e;
      if (!(e = convert<__nv_bfloat16>(a.v, v32, kv_elems, a.stream)).empty()) return e;
    } else {
      if (!(e = convert<__half>(a.q, q32, q_elems, a.stream)).empty()) return e;
      if (!(e = convert<__half>(a.k, k32, kv_elems, a.stream)).empty()) return e;
      if (!(e = convert<__half>(a.v, v32, kv_elems, a.stream)).empty()) return e;
    }
    q = q32;
    k = k32;
    v = v32;
    in_type = CUDA_R_32F;
  }
  if (!(e = ws->reserve(kS, s_elems * 4)).empty()) return e;
  if (!(e = ws->reserve(kP, s_elems * (fp32 ? 4 : 2))).empty()) return e;
  float* s = static_cast<float*>(ws->slot(kS));
  void* p = ws->slot(kP);
  const cudaDataType_t p_type = fp32 ? CUDA_R_32F : half_type;
  const int elem = fp32 ? 4 : 2;
  const float one = 1.0f, zero = 0.0f;

  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t kvh = 0; kvh < a.hkv; ++kvh) {
      const int64_t h0 = kvh * group;  // the group query heads that share kv head kvh
      const char* qh = static_cast<const char*>(q) + ((b * a.sq) * a.hq + h0) * a.d * elem;
      const char* kh = static_cast<const char*>(k) + ((b * a.sk) * a.hkv + kvh) * a.d * elem;
      const char* vh = static_cast<const char*>(v) + ((b * a.sk) * a.hkv + kvh) * a.d * elem;
      // S^T (col-major Sk x Sq) = K (Sk x D) * Q^T, one GEMM per query head of the group.
      st = cublasGemmStridedBatchedEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(a.sk), static_cast<int>(a.sq),
                                      static_cast<int>(a.d), &one, kh, in_type, static_cast<int>(a.hkv * a.d), 0, qh,
                                      in_type, static_cast<int>(a.hq * a.d), a.d, &zero, s, CUDA_R_32F,
                                      static_cast<int>(a.sk), a.sq * a.sk, static_cast<int>(group),
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      if (st != CUBLAS_STATUS_SUCCESS) return cublas_text("cublasGemmStridedBatchedEx (Q K^T)", st);
      const unsigned rows = static_cast<unsigned>(group * a.sq);
      const int64_t lse_head0 = b * a.hq + h0;
      if (fp32) {
        softmax_kernel<float><<<rows, kSoftmaxThreads, 0, a.stream>>>(s, static_cast<float*>(p), a.maybe_lse, a.sq,
                                                                     a.sk, a.causal, a.scale, lse_head0, a.sq);
      } else if (a.is_bf16) {
        softmax_kernel<__nv_bfloat16><<<rows, kSoftmaxThreads, 0, a.stream>>>(
            s, static_cast<__nv_bfloat16*>(p), a.maybe_lse, a.sq, a.sk, a.causal, a.scale, lse_head0, a.sq);
      } else {
        softmax_kernel<__half><<<rows, kSoftmaxThreads, 0, a.stream>>>(s, static_cast<__half*>(p), a.maybe_lse, a.sq,
                                                                      a.sk, a.causal, a.scale, lse_head0, a.sq);
      }
      const cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) return cuda_text("softmax_kernel launch", err);
      // O^T (col-major D x Sq, ld Hq * D) = V^T (D x Sk) * P^T (Sk x Sq).
      float* oh = a.o + ((b * a.sq) * a.hq + h0) * a.d;
      st = cublasGemmStridedBatchedEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(a.d), static_cast<int>(a.sq),
                                      static_cast<int>(a.sk), &one, vh, in_type, static_cast<int>(a.hkv * a.d), 0, p,
                                      p_type, static_cast<int>(a.sk), a.sq * a.sk, &zero, oh, CUDA_R_32F,
                                      static_cast<int>(a.hq * a.d), a.d, static_cast<int>(group), CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT);
      if (st != CUBLAS_STATUS_SUCCESS) return cublas_text("cublasGemmStridedBatchedEx (P V)", st);
    }
  }
  return "";
}

}  // namespace attnkit_unfused
