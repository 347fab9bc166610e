# CUDA sources of the attnkit library (included by the top-level CMakeLists.txt when the
# CUDA backend is on). One forward instance per (head dim, dtype): drop a line to trim.
target_sources(attnkit PRIVATE
  cuda/attention/launch.cu
  cuda/attention/instances/fwd_d64_bf16.cu
  cuda/attention/instances/fwd_d64_bf16_fp8kv.cu
  cuda/attention/instances/fwd_d64_fp16.cu
  cuda/attention/instances/fwd_d64_fp16_fp8kv.cu
  cuda/attention/instances/fwd_d128_bf16.cu
  cuda/attention/instances/fwd_d128_bf16_fp8kv.cu
  cuda/attention/instances/fwd_d128_fp16.cu
  cuda/attention/instances/fwd_d128_fp16_fp8kv.cu
  cuda/attention/instances/fwd_d256_bf16.cu
  cuda/attention/instances/fwd_d256_bf16_fp8kv.cu
  cuda/attention/instances/fwd_d256_fp16.cu
  cuda/attention/instances/fwd_d256_fp16_fp8kv.cu
  cuda/block_mask/block_mask_ops.cu
  cuda/decode/decode_launch.cu
  cuda/decode/instances/decode_d64_bf16.cu
  cuda/decode/instances/decode_d64_bf16_fp8kv.cu
  cuda/decode/instances/decode_d64_fp16.cu
  cuda/decode/instances/decode_d64_fp16_fp8kv.cu
  cuda/decode/instances/decode_d128_bf16.cu
  cuda/decode/instances/decode_d128_bf16_fp8kv.cu
  cuda/decode/instances/decode_d128_fp16.cu
  cuda/decode/instances/decode_d128_fp16_fp8kv.cu
  cuda/decode/instances/decode_d256_bf16.cu
  cuda/decode/instances/decode_d256_bf16_fp8kv.cu
  cuda/decode/instances/decode_d256_fp16.cu
  cuda/decode/instances/decode_d256_fp16_fp8kv.cu
  cuda/stats/stats_pass.cu
  cuda/stats/stats_outputs.cu
  cuda/stats/act.cu
  cuda/stats/stats_kernel_launch.cu
  cuda/planners/sparsed_plan.cu
  cuda/planners/rectified_plan.cu
  cuda/planners/planner_kernel_launch.cu
  cuda/merge/merge_device.cu
  cuda/merge/merge_launch.cu
)

# ---- the Hopper prefill family (cuda/hopper, sm_90a wgmma + TMA) ----------------------------
# Built for sm_90a whatever CMAKE_CUDA_ARCHITECTURES says (its code runs only on sm_90), so that
# every build -- CI's one-architecture build included -- compiles it; ATTNKIT_HOPPER=OFF drops it
# (sm_90 devices then run the mma.sync family, and explain() says so).
set(ATTNKIT_HOPPER AUTO CACHE STRING "Build the sm_90a Hopper prefill family: AUTO (when nvcc >= 12), ON or OFF")
set(ATTNKIT_WITH_HOPPER OFF)
if(ATTNKIT_HOPPER STREQUAL "ON" OR (ATTNKIT_HOPPER STREQUAL "AUTO" AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0))
  set(ATTNKIT_WITH_HOPPER ON)
endif()
if(ATTNKIT_WITH_HOPPER)
  add_library(attnkit_hopper OBJECT
    cuda/hopper/instances/hopper_d64_bf16.cu
    cuda/hopper/instances/hopper_d64_fp16.cu
    cuda/hopper/instances/hopper_d64_bf16_n64.cu
    cuda/hopper/instances/hopper_d64_fp16_n64.cu
    cuda/hopper/instances/hopper_d128_bf16.cu
    cuda/hopper/instances/hopper_d128_fp16.cu
    cuda/hopper/instances/hopper_d128_bf16_n64.cu
    cuda/hopper/instances/hopper_d128_fp16_n64.cu
    cuda/hopper/instances/hopper_d256_bf16.cu
    cuda/hopper/instances/hopper_d256_fp16.cu)
  set_target_properties(attnkit_hopper PROPERTIES CUDA_ARCHITECTURES 90a POSITION_INDEPENDENT_CODE ON
                                                  CUDA_RUNTIME_LIBRARY Static)
  target_include_directories(attnkit_hopper PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(attnkit_hopper PRIVATE --expt-relaxed-constexpr -lineinfo)
  target_sources(attnkit PRIVATE $<TARGET_OBJECTS:attnkit_hopper>)
  target_compile_definitions(attnkit PRIVATE ATTNKIT_WITH_HOPPER=1)
endif()
message(STATUS "attnkit: Hopper (sm_90a) prefill family ${ATTNKIT_WITH_HOPPER}")
