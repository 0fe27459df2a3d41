//===- DType.h - element types the runtime moves ----------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_DTYPE_H
#define TESSERA_RUNTIME_DTYPE_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// 16-bit floats as bit patterns, rounded to nearest even as the GPU rounds
/// (NaN stays NaN; binary16 overflow gives infinity). The compiler narrows
/// weights with these, the runtime converts inputs, outputs and staged
/// collectives.
inline uint16_t floatToBf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffff) > 0x7f800000)
    return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

inline float bf16ToFloat(uint16_t bits) {
  uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t floatToHalf(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffff;
  if (a > 0x7f800000)
    return uint16_t(sign | 0x7e00);
  if (a >= 0x477ff000) // rounds to infinity
    return uint16_t(sign | 0x7c00);
  if (a < 0x38800000) { // subnormal or zero: in units of 2^-24
    float v;
    std::memcpy(&v, &a, 4);
    return uint16_t(sign | uint32_t(std::nearbyint(v * 16777216.0f)));
  }
  uint32_t h = (((a >> 23) - 112) << 10) | ((a & 0x7fffff) >> 13), rest = a & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h;
  return uint16_t(sign | h);
}

inline float halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16, exp = (bits >> 10) & 0x1f, man = bits & 0x3ff;
  float f;
  if (exp == 0x1f) {
    uint32_t u = sign | 0x7f800000 | (man << 13);
    std::memcpy(&f, &u, 4);
  } else if (exp == 0) {
    f = std::ldexp(float(man), -24);
    if (sign)
      f = -f;
  } else {
    uint32_t u = sign | (exp + 112) << 23 | man << 13;
    std::memcpy(&f, &u, 4);
  }
  return f;
}

/// `bits` of a BF16 or F16 element as a float.
inline float halfBitsToFloat(DType dtype, uint16_t bits) {
  return dtype == DType::BF16 ? bf16ToFloat(bits) : halfToFloat(bits);
}
inline uint16_t floatToHalfBits(DType dtype, float value) {
  return dtype == DType::BF16 ? floatToBf16(value) : floatToHalf(value);
}

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_DTYPE_H
