#===- TesseraPackageFormat.cmake - the .tpkg schema ----------------------===#
#
# The package format is shared: the compiler writes it, the runtime reads it.
# Both include the generated FlatBuffers header through TesseraPackageFormat.
#
#===----------------------------------------------------------------------===#
find_program(TESSERA_FLATC flatc REQUIRED)
set(TPKG_SCHEMA ${PROJECT_SOURCE_DIR}/runtime/schema/tpkg.fbs)
set(TPKG_GENERATED_DIR ${PROJECT_BINARY_DIR}/runtime/include/tessera/runtime)
set(TPKG_GENERATED ${TPKG_GENERATED_DIR}/tpkg_generated.h)
add_custom_command(
  OUTPUT ${TPKG_GENERATED}
  COMMAND ${TESSERA_FLATC} --cpp --scoped-enums -o ${TPKG_GENERATED_DIR} ${TPKG_SCHEMA}
  DEPENDS ${TPKG_SCHEMA}
  COMMENT "Generating the .tpkg FlatBuffers header")
add_custom_target(TesseraPackageSchema DEPENDS ${TPKG_GENERATED})
add_library(TesseraPackageFormat INTERFACE)
add_dependencies(TesseraPackageFormat TesseraPackageSchema)
target_include_directories(TesseraPackageFormat INTERFACE
  ${PROJECT_SOURCE_DIR}/runtime/include ${PROJECT_BINARY_DIR}/runtime/include)
