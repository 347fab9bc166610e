# The unfused cuBLAS baseline, shared by tests/cuda and bench (never linked into attnkit).
if(NOT TARGET attnkit_unfused)
  add_library(attnkit_unfused STATIC ${PROJECT_SOURCE_DIR}/cuda/reference_unfused/unfused_attention.cu)
  target_include_directories(attnkit_unfused PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(attnkit_unfused PUBLIC CUDA::cudart CUDA::cublas)
  set_target_properties(attnkit_unfused PROPERTIES POSITION_INDEPENDENT_CODE ON)
endif()
