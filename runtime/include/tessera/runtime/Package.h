//===- Package.h - reading .tpkg files --------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A package is one file:
//
//   [0, 64)        PackageHeader (magic, format version, section offsets,
//                  checksum of everything after the header)
//   plan           FlatBuffer (runtime/schema/tpkg.fbs): mesh, per-rank
//                  programs, tensors, kernels, memory plan
//   data           weights and constants, each 64-byte aligned
//
// Package::open maps the file and refuses it (with a reason) when the magic,
// version, sizes, checksum or FlatBuffer do not hold up. Packages written
// with --weights=external also map the model files they reference (paths
// relative to the package), refusing files whose size changed.
//
// Thread safety: immutable once opened; share it between sessions freely.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_PACKAGE_H
#define TESSERA_RUNTIME_PACKAGE_H

#include "tessera/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera::tpkg {
struct Package;
struct Tensor;
} // namespace tessera::tpkg

namespace tessera::rt {

constexpr char kPackageMagic[8] = {'T', 'E', 'S', 'S', 'E', 'R', 'A', 'P'};
/// Bumped whenever the header, schema or kernel semantics change.
constexpr uint32_t kPackageFormatVersion = 1;
constexpr size_t kPackageAlignment = 64;

struct PackageHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t headerSize;
  uint64_t planOffset;
  uint64_t planSize;
  uint64_t dataOffset;
  uint64_t dataSize;
  uint64_t checksum; ///< FNV-1a 64 of bytes [headerSize, file end)
  uint64_t reserved;
};
static_assert(sizeof(PackageHeader) == 64, "the header is 64 bytes");

/// FNV-1a 64 over `size` bytes, continuing from `hash` (writers stream).
constexpr uint64_t kChecksumSeed = 0xcbf29ce484222325ull;
inline uint64_t packageChecksum(const uint8_t *data, size_t size,
                                uint64_t hash = kChecksumSeed) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

class Package {
public:
  ~Package();
  Package(const Package &) = delete;
  Package &operator=(const Package &) = delete;

  /// Maps and validates `path`.
  static Status open(const std::string &path, std::shared_ptr<Package> &out);

  const tpkg::Package *plan() const { return plan_; }
  /// Number of ranks the package is planned for (the mesh's size).
  int meshSize() const;
  /// External weight file `index` (--weights=external packages), mapped.
  struct MappedFile {
    std::string path;
    const uint8_t *data = nullptr;
    size_t size = 0;
  };
  const std::vector<MappedFile> &externalFiles() const { return external_; }
  const uint8_t *data() const { return base_ + header_.dataOffset; }
  uint64_t dataSize() const { return header_.dataSize; }
  const std::string &path() const { return path_; }
  /// Where the bytes of a Data or External tensor of `bytes` bytes lie in
  /// memory (the data section or a mapped weight file), checked to lie
  /// inside it; DataLoss naming the tensor otherwise.
  Status storedBytes(const tpkg::Tensor &tensor, uint64_t bytes, const uint8_t *&out) const;

  /// Repacked copies of stored weights (a weight no run writes, laid out
  /// for one kernel's use: a GEMM library's blocked layout, a matrix-vector
  /// product's panels), shared by every session of the package: the first
  /// session whose kernel asks for `key` (the weight's address and the
  /// layout) makes it with `make`; later sessions - the other programs of a
  /// generation package, ranks run as threads over a replicated weight - get
  /// the same copy. A new copy of `bytes` is made only while all copies stay
  /// within `budget` bytes; past it `out` is null (the kernel reads the
  /// weight where it lies). Thread-safe.
  using PackMaker = std::function<Status(std::shared_ptr<void> &out)>;
  Status packedWeight(const std::string &key, uint64_t bytes, uint64_t budget,
                      const PackMaker &make, std::shared_ptr<void> &out) const;
  /// Bytes the packed copies hold.
  uint64_t packedBytes() const;

private:
  Package();
  struct Packs;
  std::unique_ptr<Packs> packs_;
  std::string path_;
  const uint8_t *base_ = nullptr;
  size_t size_ = 0;
  PackageHeader header_{};
  const tpkg::Package *plan_ = nullptr;
  std::vector<MappedFile> external_;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_PACKAGE_H
