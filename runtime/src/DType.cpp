//===- DType.cpp - element types the runtime moves ------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/DType.h"
#include "tessera/runtime/Status.h"

namespace tessera::rt {

namespace {
struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", 4}, {DType::F16, "f16", 2}, {DType::BF16, "bf16", 2},
    {DType::F64, "f64", 8}, {DType::I8, "i8", 1},   {DType::I32, "i32", 4},
    {DType::I64, "i64", 8}, {DType::Bool, "bool", 1},
};
} // namespace

size_t dtypeSize(DType dtype) { return kDTypes[size_t(dtype)].size; }

std::string_view dtypeName(DType dtype) { return kDTypes[size_t(dtype)].name; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.dtype;
  return std::nullopt;
}

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "Ok";
  case StatusCode::InvalidArgument:
    return "InvalidArgument";
  case StatusCode::NotFound:
    return "NotFound";
  case StatusCode::DataLoss:
    return "DataLoss";
  case StatusCode::Unimplemented:
    return "Unimplemented";
  case StatusCode::Internal:
    return "Internal";
  }
  return "Unknown";
}

} // namespace tessera::rt
