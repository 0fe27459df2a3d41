#===- TesseraMLIR.cmake - find MLIR 22 and set up tablegen ---------------===#
#
# Only the compiler half includes this file; the runtime never sees MLIR.
#
#===----------------------------------------------------------------------===#
# MLIRConfigVersion accepts only exact versions ("22.1.8"), so check the major.
find_package(MLIR REQUIRED CONFIG PATHS /usr/lib/llvm-22/lib/cmake/mlir)
if(NOT LLVM_VERSION_MAJOR EQUAL 22)
  message(FATAL_ERROR "Tessera needs MLIR 22, found ${LLVM_PACKAGE_VERSION} "
                      "at ${MLIR_DIR}; run tools/setup-deps.sh")
endif()
message(STATUS "Tessera: MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR}")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)

# Tools link the one shared libMLIR.so so that each link takes seconds.
if(NOT TARGET MLIR)
  message(FATAL_ERROR "libMLIR.so (target MLIR) not found; install libmlir-22-dev")
endif()

set(TESSERA_LLVM_TOOLS_DIR "${LLVM_TOOLS_BINARY_DIR}")

# Compiler targets are built the way libMLIR.so was: without RTTI, with
# LLVM's include directories (system, so their warnings stay quiet).
function(tessera_compiler_target target)
  target_include_directories(${target} SYSTEM PUBLIC
    ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
  target_include_directories(${target} PUBLIC
    ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  separate_arguments(defs UNIX_COMMAND "${LLVM_DEFINITIONS}")
  target_compile_options(${target} PUBLIC ${defs})
  if(NOT LLVM_ENABLE_RTTI)
    target_compile_options(${target} PUBLIC -fno-rtti)
  endif()
  # libMLIR.so leaves LLVM's support symbols (APFloat, raw_ostream) to libLLVM.so.
  target_link_libraries(${target} PUBLIC MLIR LLVM)
endfunction()
