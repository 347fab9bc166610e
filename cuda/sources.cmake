# CUDA sources of the attnkit library (included by the top-level CMakeLists.txt when the
# CUDA backend is on). One forward instance per (head dim, dtype): drop a line to trim.
target_sources(attnkit PRIVATE
  cuda/attention/launch.cu
  cuda/attention/instances/fwd_d64_bf16.cu
  cuda/attention/instances/fwd_d64_fp16.cu
  cuda/attention/instances/fwd_d128_bf16.cu
  cuda/attention/instances/fwd_d128_fp16.cu
  cuda/attention/instances/fwd_d256_bf16.cu
  cuda/attention/instances/fwd_d256_fp16.cu
  cuda/block_mask/block_mask_ops.cu
  cuda/decode/decode_launch.cu
  cuda/decode/instances/decode_d64_bf16.cu
  cuda/decode/instances/decode_d64_fp16.cu
  cuda/decode/instances/decode_d128_bf16.cu
  cuda/decode/instances/decode_d128_fp16.cu
  cuda/decode/instances/decode_d256_bf16.cu
  cuda/decode/instances/decode_d256_fp16.cu
  cuda/stats/stats_pass.cu
  cuda/stats/stats_outputs.cu
  cuda/stats/act.cu
  cuda/stats/stats_kernel_launch.cu
  cuda/planners/sparsed_plan.cu
  cuda/planners/rectified_plan.cu
  cuda/planners/planner_kernel_launch.cu
)
