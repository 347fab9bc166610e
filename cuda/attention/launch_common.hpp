// Host code shared by the CUDA launchers (prefill, decode, statistics): status helpers, the
// runtime-to-template switches, the cached device properties and the layout checks their
// cp.async / ldmatrix paths need. Header-only so that the CPU emulation of the kernels
// (tests/emulation) compiles it with the launchers.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/make_fwd_params.hpp"

namespace attnkit::cuda_backend {

/// Positions and windows are int in the kernels: sequences must stay below this.
inline constexpr int64_t kMaxSeqLen = int64_t{1} << 30;

inline Status not_supported(const std::string& message) { return Status(StatusCode::kNotSupported, message); }
inline Status cuda_error(const std::string& what, cudaError_t err) {
  return Status(StatusCode::kCudaError, what + ": " + cudaGetErrorString(err));
}

/// \brief Runtime head dim -> template argument (the one switch on this axis); `kernel`
/// names the kernel in the message.
template <class Fn>
Status switch_head_dim(int64_t head_dim, const char* kernel, Fn&& fn) {
  switch (head_dim) {
    case 64: return fn(std::integral_constant<int, 64>{});
    case 128: return fn(std::integral_constant<int, 128>{});
    case 256: return fn(std::integral_constant<int, 256>{});
    default: return not_supported("head dim " + std::to_string(head_dim) + ": the " + kernel +
                                  " supports head dims 64, 128 and 256");
  }
}

/// \brief Runtime bool -> template argument (std::true_type / std::false_type).
template <class Fn>
Status switch_bool(bool value, Fn&& fn) {
  return value ? fn(std::true_type{}) : fn(std::false_type{});
}

/// \brief Runtime (Q dtype, head dim, FP8 KV cache or not) -> the instance's template
/// arguments, fn(head_dim, is_bf16, kv_fp8) as integral constants.
template <class Fn>
Status switch_instance(DType dtype, int64_t head_dim, bool kv_fp8, Fn&& fn);

/// \brief Runtime dtype -> template argument (true = bf16).
template <class Fn>
Status switch_dtype(DType dtype, const char* kernel, Fn&& fn) {
  switch (dtype) {
    case DType::kBFloat16: return fn(std::true_type{});
    case DType::kFloat16: return fn(std::false_type{});
    default: return not_supported(std::string("dtype ") + dtype_name(dtype) + ": the " + kernel +
                                  " supports float16 and bfloat16 Q/K/V/O");
  }
}

template <class Fn>
Status switch_instance(DType dtype, int64_t head_dim, bool kv_fp8, Fn&& fn) {
  return switch_dtype(dtype, "CUDA kernel", [&](auto is_bf16) {
    return switch_head_dim(head_dim, "CUDA kernel", [&](auto d) {
      return switch_bool(kv_fp8, [&](auto fp8) { return fn(d, is_bf16, fp8); });
    });
  });
}

/// \brief Limits every CUDA kernel of the backend shares: float16 / bfloat16 inputs, and
/// sequences shorter than 2^30 (positions and windows are int in the kernels). `kernel`
/// names the kernel(s) in the message ("CUDA kernel", "CUDA statistics kernels", ...).
inline Status check_dtype_and_length(const detail::Problem& problem, const char* kernel) {
  if (problem.dtype != DType::kBFloat16 && problem.dtype != DType::kFloat16) {
    return not_supported(std::string("dtype ") + dtype_name(problem.dtype) + ": the " + kernel +
                         " take float16 or bfloat16 Q/K/V/O");
  }
  if (problem.max_sq >= kMaxSeqLen || problem.max_sk >= kMaxSeqLen) {
    return not_supported("sequence length " + std::to_string(std::max(problem.max_sq, problem.max_sk)) + ": the " +
                         kernel + " take sequences shorter than 2^30");
  }
  return Status::ok();
}

/// \brief The head dims of the tensor-core kernels (prefill and decode): the instances of
/// instances/ are 64, 128 and 256, with Dv == D.
inline Status check_mma_head_dims(const detail::Problem& problem, const char* kernel) {
  if (problem.dv != problem.d) {
    return not_supported("Dv = " + std::to_string(problem.dv) + " with D = " + std::to_string(problem.d) + ": the " +
                         kernel + " needs Dv == D");
  }
  if (problem.d != 64 && problem.d != 128 && problem.d != 256) {
    return not_supported("head dim " + std::to_string(problem.d) + ": the " + kernel +
                         " supports head dims 64, 128 and 256");
  }
  return Status::ok();
}

/// \brief Kernels that index cu_seqlens without a stride need them contiguous.
inline Status check_contiguous_cu_seqlens(const detail::Problem& problem, const AttentionParams& params,
                                          const char* kernel) {
  if (problem.varlen && (params.cu_seqlens_q.stride[0] != 1 || params.cu_seqlens_k.stride[0] != 1)) {
    return Status(StatusCode::kInvalidArgument,
                  std::string("cu_seqlens_q / cu_seqlens_k: the ") + kernel + " needs contiguous cu_seqlens (stride 1)");
  }
  return Status::ok();
}

/// \brief The current device's properties, queried once per device and cached (every
/// select_* call needs them; the launchers read them from the KernelChoice). kCudaError when
/// no device is usable.
inline Status current_device_info(detail::DeviceInfo* info) {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static detail::DeviceInfo cache[kMaxDevices];
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return cuda_error("no CUDA device is available", err);
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= 0 && device < kMaxDevices && cache[device].ordinal == device) {
    *info = cache[device];
    return Status::ok();
  }
  detail::DeviceInfo d;
  d.ordinal = device;
  if ((err = cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, device)) != cudaSuccess ||
      (err = cudaDeviceGetAttribute(&d.minor, cudaDevAttrComputeCapabilityMinor, device)) != cudaSuccess ||
      (err = cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess ||
      (err = cudaDeviceGetAttribute(&d.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) != cudaSuccess ||
      (err = cudaDeviceGetAttribute(&d.smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device)) != cudaSuccess) {
    return cuda_error("cudaDeviceGetAttribute failed on device " + std::to_string(device), err);
  }
  if (device >= 0 && device < kMaxDevices) cache[device] = d;
  *info = d;
  return Status::ok();
}

/// \brief "sm_90" for a device.
inline std::string sm_name(const detail::DeviceInfo& d) { return "sm_" + std::to_string(d.major) + std::to_string(d.minor); }

/// \brief The backend's common refusal of pre-Ampere devices.
inline Status check_sm80(const detail::DeviceInfo& d, const char* kernel) {
  if (d.major >= 8) return Status::ok();
  return not_supported("device " + std::to_string(d.ordinal) + " is " + sm_name(d) + ": the " + kernel +
                       " needs sm_80 or newer");
}

/// \brief Opts `kernel` in to `bytes` of dynamic shared memory (needed above 48 KB).
template <class Kernel>
Status set_max_dynamic_smem(Kernel kernel, size_t bytes, const char* name) {
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  return err == cudaSuccess ? Status::ok() : cuda_error(std::string("cudaFuncSetAttribute (") + name + ")", err);
}

/// \brief cp.async copies 16-byte chunks of Q/K/V rows (contiguous or paged), so every base
/// pointer must be 16-byte aligned and every non-last stride a multiple of 16 bytes (8
/// 16-bit elements, 16 FP8 elements).
/// `kernel` names the kernel in the message ("CUDA kernel", "CUDA decode kernel").
inline Status check_row_alignment(const TensorView& t, const char* name, const char* kernel) {
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0) {
    return Status(StatusCode::kInvalidArgument, std::string(name) + ".data is not 16-byte aligned: the " + kernel +
                                                    " needs 16-byte aligned base pointers");
  }
  const int64_t per_chunk = 16 / dtype_size(t.dtype);  // elements per 16-byte copy
  for (int dim = 0; dim + 1 < t.rank; ++dim) {
    if (t.stride[dim] % per_chunk != 0) {
      return Status(StatusCode::kInvalidArgument, std::string(name) + ".stride[" + std::to_string(dim) + "] = " +
                                                      std::to_string(t.stride[dim]) + ": the " + kernel +
                                                      " needs row strides that are multiples of " +
                                                      std::to_string(per_chunk) + " elements (16 bytes)");
    }
  }
  return Status::ok();
}

/// \brief "bf16" or "fp16", for kernel names.
inline const char* dtype_tag(DType dtype) { return dtype == DType::kBFloat16 ? "bf16" : "fp16"; }

}  // namespace attnkit::cuda_backend
