//===- Package.cpp - reading .tpkg files ----------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cstring>
#include <map>
#include <mutex>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tessera::rt {

int Package::meshSize() const {
  int size = 1;
  if (plan_->mesh())
    for (uint32_t d : *plan_->mesh())
      size *= int(d);
  return size;
}

struct Package::Packs {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<void>> copies;
  uint64_t bytes = 0;
};

Package::Package() : packs_(std::make_unique<Packs>()) {}

Status Package::packedWeight(const std::string &key, uint64_t bytes, uint64_t budget,
                             const PackMaker &make, std::shared_ptr<void> &out) const {
  // One lock for the making too: sessions created at once (ranks as
  // threads) wait for the copy rather than making it twice.
  std::lock_guard<std::mutex> lock(packs_->mutex);
  out = nullptr;
  if (auto it = packs_->copies.find(key); it != packs_->copies.end()) {
    out = it->second;
    return Status::okStatus();
  }
  if (packs_->bytes + bytes > budget)
    return Status::okStatus();
  if (Status s = make(out); !s.ok())
    return s;
  if (out) {
    packs_->copies[key] = out;
    packs_->bytes += bytes;
  }
  return Status::okStatus();
}

uint64_t Package::packedBytes() const {
  std::lock_guard<std::mutex> lock(packs_->mutex);
  return packs_->bytes;
}

Package::~Package() {
  if (base_)
    munmap(const_cast<uint8_t *>(base_), size_);
  for (const MappedFile &f : external_)
    if (f.data)
      munmap(const_cast<uint8_t *>(f.data), f.size);
}

Status Package::open(const std::string &path, std::shared_ptr<Package> &out) {
  auto fail = [&](StatusCode code, const std::string &why) {
    return Status(code, path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return fail(StatusCode::NotFound, std::string("cannot open: ") + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return fail(StatusCode::Internal, "cannot stat");
  }
  size_t size = size_t(st.st_size);
  if (size < sizeof(PackageHeader)) {
    ::close(fd);
    return fail(StatusCode::DataLoss, "truncated: " + std::to_string(size) +
                                          " bytes, shorter than the header");
  }
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    return fail(StatusCode::Internal, "cannot map the file");
  std::shared_ptr<Package> pkg(new Package());
  pkg->path_ = path;
  pkg->base_ = static_cast<const uint8_t *>(map);
  pkg->size_ = size;
  std::memcpy(&pkg->header_, pkg->base_, sizeof(PackageHeader));
  const PackageHeader &h = pkg->header_;
  if (std::memcmp(h.magic, kPackageMagic, sizeof(kPackageMagic)) != 0)
    return fail(StatusCode::InvalidArgument, "not a Tessera package (bad magic)");
  if (h.formatVersion != kPackageFormatVersion)
    return fail(StatusCode::Unimplemented,
                "package format version " + std::to_string(h.formatVersion) +
                    ", this runtime reads version " +
                    std::to_string(kPackageFormatVersion) +
                    "; recompile the model with a matching tessera-compile");
  if (h.headerSize != sizeof(PackageHeader) || h.planOffset < h.headerSize ||
      h.planOffset > size || h.planSize > size - h.planOffset ||
      h.dataOffset > size || h.dataSize > size - h.dataOffset ||
      h.dataOffset % kPackageAlignment != 0 || h.planOffset % 8 != 0 ||
      h.dataOffset + h.dataSize != size)
    return fail(StatusCode::DataLoss,
                "truncated or corrupted: section sizes do not match the file (" +
                    std::to_string(size) + " bytes)");
  uint64_t checksum =
      packageChecksum(pkg->base_ + h.headerSize, size - h.headerSize);
  if (checksum != h.checksum)
    return fail(StatusCode::DataLoss, "checksum mismatch: the file is corrupted");
  flatbuffers::Verifier verifier(pkg->base_ + h.planOffset, h.planSize);
  if (!tpkg::VerifyPackageBuffer(verifier))
    return fail(StatusCode::DataLoss, "the plan does not verify");
  pkg->plan_ = tpkg::GetPackage(pkg->base_ + h.planOffset);
  // FlatBuffers' verifier checks a vector's length field (4-byte aligned),
  // not that 8-byte elements are 8-byte aligned: a crafted file could make
  // every read of a shape or an attribute a misaligned load. Check them.
  // (An empty vector has no element to load: its position does not matter.)
  auto aligned = [](const auto *v) {
    return v->size() == 0 || reinterpret_cast<uintptr_t>(v->data()) % 8 == 0;
  };
  bool misaligned = false;
  if (const auto *programs = pkg->plan_->programs())
    for (const tpkg::Program *prog : *programs) {
      if (prog->tensors())
        for (const tpkg::Tensor *t : *prog->tensors())
          misaligned |= t->shape() && !aligned(t->shape());
      if (prog->kernels())
        for (const tpkg::Kernel *k : *prog->kernels())
          if (k->attrs())
            for (const tpkg::Attr *a : *k->attrs())
              misaligned |= (a->ints() && !aligned(a->ints())) ||
                            (a->floats() && !aligned(a->floats()));
    }
  if (const auto *p = pkg->plan_->prediction())
    misaligned |= p->send_seconds() && !aligned(p->send_seconds());
  if (misaligned)
    return fail(StatusCode::DataLoss, "corrupted: a 64-bit vector of the plan is misaligned");
  // The mesh: every axis at least 1, at most 2^20 ranks in all.
  if (const auto *mesh = pkg->plan_->mesh()) {
    uint64_t ranks = 1;
    for (uint32_t d : *mesh)
      if (d == 0 || __builtin_mul_overflow(ranks, uint64_t(d), &ranks) || ranks > (1u << 20))
        return fail(StatusCode::DataLoss, "the device mesh is empty or absurd (over 2^20 ranks)");
  }
  if (const auto *files = pkg->plan_->external_files()) {
    std::string dir = path.find('/') == std::string::npos
                          ? std::string(".")
                          : path.substr(0, path.rfind('/'));
    for (const tpkg::ExternalFile *f : *files) {
      std::string rel = f->path() ? f->path()->str() : "";
      std::string full = !rel.empty() && rel[0] == '/' ? rel : dir + "/" + rel;
      int efd = ::open(full.c_str(), O_RDONLY);
      if (efd < 0)
        return fail(StatusCode::NotFound,
                    "external weight file '" + full +
                        "' (from --weights=external) cannot be opened: " +
                        strerror(errno));
      struct stat est;
      fstat(efd, &est);
      if (uint64_t(est.st_size) != f->size()) {
        ::close(efd);
        return fail(StatusCode::DataLoss,
                    "external weight file '" + full + "' has " +
                        std::to_string(est.st_size) +
                        " bytes; the package was compiled against " +
                        std::to_string(f->size()));
      }
      MappedFile mapped{full, nullptr, size_t(est.st_size)};
      void *m = est.st_size ? mmap(nullptr, size_t(est.st_size), PROT_READ,
                                   MAP_PRIVATE, efd, 0)
                            : nullptr;
      ::close(efd);
      if (m == MAP_FAILED)
        return fail(StatusCode::Internal, "cannot map '" + full + "'");
      mapped.data = static_cast<const uint8_t *>(m);
      pkg->external_.push_back(mapped);
    }
  }
  out = std::move(pkg);
  return Status::okStatus();
}

Status Package::storedBytes(const tpkg::Tensor &t, uint64_t bytes, const uint8_t *&out) const {
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, path_ + ": " + why);
  };
  const uint8_t *base = nullptr;
  uint64_t limit = 0;
  if (t.storage() == tpkg::Storage::Data) {
    base = data();
    limit = dataSize();
  } else if (t.storage() == tpkg::Storage::External) {
    if (t.file() >= external_.size())
      return corrupt("tensor names a missing external file");
    base = external_[t.file()].data;
    limit = external_[t.file()].size;
  } else {
    return corrupt("tensor with an unknown storage");
  }
  if (bytes != t.size() || t.offset() > limit || bytes > limit - t.offset())
    return corrupt("tensor '" + (t.name() ? t.name()->str() : "?") + "' lies outside its storage");
  out = base + t.offset();
  return Status::okStatus();
}

} // namespace tessera::rt
