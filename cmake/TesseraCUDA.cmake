#===- TesseraCUDA.cmake - optional CUDA toolkit --------------------------===#
#
# CUDA is optional everywhere: the runtime loads CUDA, cuBLAS and NCCL at run
# time, so only headers are needed to build the CUDA backend.
#
#===----------------------------------------------------------------------===#
set(TESSERA_HAVE_CUDA OFF)
if(NOT TESSERA_ENABLE_CUDA STREQUAL "OFF")
  if(NOT CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    set(TESSERA_HAVE_CUDA ON)
  elseif(TESSERA_ENABLE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TESSERA_ENABLE_CUDA=ON but no CUDA toolkit was found")
  endif()
endif()
