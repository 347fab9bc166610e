# Host sources of the attnkit library (always built: API, validation, dispatch, CPU reference).
target_sources(attnkit PRIVATE
  host/api.cpp
  host/api_block_mask.cpp
  host/api_merge.cpp
  host/api_planners.cpp
  host/api_stats.cpp
  host/c_api.cpp
  host/c_api_convert.cpp
  host/c_api_merge.cpp
  host/dispatch.cpp
  host/tensor_names.cpp
  host/validate.cpp
  host/validate_layout.cpp
  host/validate_merge.cpp
  host/validate_outputs.cpp
  host/reference/act.cpp
  host/reference/block_mask.cpp
  host/reference/forward.cpp
  host/reference/merge.cpp
  host/reference/parallel.cpp
  host/reference/row_softmax.cpp
  host/reference/stats.cpp
  host/planners/rectified.cpp
  host/planners/sparsed.cpp
)
