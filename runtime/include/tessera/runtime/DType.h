//===- DType.h - element types the runtime moves ----------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_DTYPE_H
#define TESSERA_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tessera::rt {

/// Element types of runtime tensors. The values are stable: packages store them.
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F64 = 3,
  I8 = 4,
  I32 = 5,
  I64 = 6,
  Bool = 7,
};

/// Bytes per element.
size_t dtypeSize(DType dtype);

/// The lower-case name used in messages and on the command line: "f32", "i64".
std::string_view dtypeName(DType dtype);

/// Parses a name produced by dtypeName().
std::optional<DType> parseDType(std::string_view name);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_DTYPE_H
