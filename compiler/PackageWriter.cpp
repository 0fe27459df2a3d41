//===- PackageWriter.cpp - writing .tpkg files ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/PackageWriter.h"

#include "frontends/onnx/ModelFile.h"

#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

using namespace tessera;
using llvm::Twine;

namespace {

llvm::Error fail(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

uint64_t alignUp(uint64_t v) {
  return (v + rt::kPackageAlignment - 1) / rt::kPackageAlignment *
         rt::kPackageAlignment;
}

/// Where each tensor's data goes in the data section.
struct DataLayout {
  std::map<std::string, uint64_t> weightOffsets;   // by weight name
  std::vector<std::vector<uint64_t>> tensorOffsets; // per program, per tensor
  uint64_t size = 0;
};

} // namespace

llvm::Expected<PackageStats>
tessera::writePackage(const std::string &path,
                      const std::vector<lower::ProgramPlan> &programs,
                      const std::vector<unsigned> &mesh,
                      const onnx::ModelFile &model, const std::string &producer,
                      bool progress, bool externalWeights) {
  // External files (--weights=external): index by absolute path.
  std::vector<std::string> externalPaths;
  std::map<std::string, uint32_t> externalIndex;
  auto isExternal = [&](const onnx::WeightRecord *r) {
    return externalWeights && !r->file.empty();
  };
  // Lay the data section out: each weight once, each constant once per use.
  DataLayout layout;
  std::vector<const onnx::WeightRecord *> weightOrder;
  for (const lower::ProgramPlan &plan : programs) {
    std::vector<uint64_t> offsets(plan.tensors.size(), 0);
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const lower::PlannedTensor &t = plan.tensors[i];
      if (t.aliasOf >= 0 || t.kind == lower::PlannedTensor::Kind::Arena)
        continue;
      if (t.kind == lower::PlannedTensor::Kind::Weight) {
        auto [it, inserted] = layout.weightOffsets.try_emplace(t.weight, 0);
        if (inserted) {
          const onnx::WeightRecord *record = model.weights.find(t.weight);
          if (!record)
            return fail("weight '" + t.weight + "' is not in the model's weight store");
          if (record->length != t.size)
            return fail("weight '" + t.weight + "' has " + Twine(record->length) +
                        " bytes, the program expects " + Twine(t.size));
          if (isExternal(record)) {
            auto [at, fresh] =
                externalIndex.try_emplace(record->file, uint32_t(externalPaths.size()));
            if (fresh)
              externalPaths.push_back(record->file);
            it->second = record->offset;
          } else {
            it->second = layout.size;
            layout.size = alignUp(layout.size + t.size);
            weightOrder.push_back(record);
          }
        }
        offsets[i] = it->second;
      } else {
        offsets[i] = layout.size;
        layout.size = alignUp(layout.size + t.size);
      }
    }
    for (size_t i = 0; i < plan.tensors.size(); ++i)
      if (plan.tensors[i].aliasOf >= 0)
        offsets[i] = offsets[size_t(plan.tensors[i].aliasOf)];
    layout.tensorOffsets.push_back(std::move(offsets));
  }

  // The plan.
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  std::vector<flatbuffers::Offset<tpkg::Program>> programOffsets;
  PackageStats stats;
  for (auto [rank, plan] : llvm::enumerate(programs)) {
    std::vector<flatbuffers::Offset<tpkg::Tensor>> tensors;
    for (auto [i, t] : llvm::enumerate(plan.tensors)) {
      bool arena = t.kind == lower::PlannedTensor::Kind::Arena;
      tpkg::Storage storage = arena ? tpkg::Storage::Arena : tpkg::Storage::Data;
      uint32_t file = 0;
      if (t.kind == lower::PlannedTensor::Kind::Weight) {
        const onnx::WeightRecord *record = model.weights.find(t.weight);
        if (record && isExternal(record)) {
          storage = tpkg::Storage::External;
          file = externalIndex[record->file];
        }
      }
      tensors.push_back(tpkg::CreateTensor(
          fbb, fbb.CreateString(t.name), tpkg::DType(uint8_t(t.dtype)),
          fbb.CreateVector(t.shape), storage,
          arena ? t.offset : layout.tensorOffsets[rank][i], t.size, file,
          t.splitAxis));
    }
    std::vector<flatbuffers::Offset<tpkg::Kernel>> kernels;
    for (const lower::PlannedKernel &k : plan.kernels) {
      std::vector<flatbuffers::Offset<tpkg::Attr>> attrs;
      for (const lower::PlannedAttr &a : k.attrs)
        attrs.push_back(tpkg::CreateAttr(fbb, fbb.CreateString(a.name),
                                         fbb.CreateVector(a.ints),
                                         fbb.CreateVector(a.floats)));
      kernels.push_back(tpkg::CreateKernel(
          fbb, fbb.CreateString(k.op), fbb.CreateVector(k.inputs),
          fbb.CreateVector(k.outputs), fbb.CreateVector(attrs),
          fbb.CreateString(k.location)));
    }
    programOffsets.push_back(tpkg::CreateProgram(
        fbb, uint32_t(rank), fbb.CreateVector(tensors), fbb.CreateVector(kernels),
        fbb.CreateVector(plan.inputs), fbb.CreateVector(plan.outputs),
        plan.arenaBytes));
    stats.arenaBytes = std::max(stats.arenaBytes, plan.arenaBytes);
    stats.kernels += plan.kernels.size();
  }
  // External paths are stored relative to the package's folder.
  std::vector<flatbuffers::Offset<tpkg::ExternalFile>> externals;
  std::error_code ec;
  std::filesystem::path packageDir =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path();
  for (const std::string &file : externalPaths) {
    std::filesystem::path relative =
        std::filesystem::relative(std::filesystem::path(file), packageDir, ec);
    uint64_t size = std::filesystem::file_size(file, ec);
    if (ec)
      return fail("cannot stat weight file '" + file + "'");
    externals.push_back(tpkg::CreateExternalFile(
        fbb, fbb.CreateString(relative.empty() ? file : relative.string()), size));
  }
  auto root = tpkg::CreatePackage(fbb, fbb.CreateString(producer),
                                  fbb.CreateVector(mesh),
                                  fbb.CreateVector(programOffsets),
                                  fbb.CreateVector(externals));
  tpkg::FinishPackageBuffer(fbb, root);

  rt::PackageHeader header{};
  std::memcpy(header.magic, rt::kPackageMagic, sizeof(header.magic));
  header.formatVersion = rt::kPackageFormatVersion;
  header.headerSize = sizeof(rt::PackageHeader);
  header.planOffset = sizeof(rt::PackageHeader);
  header.planSize = fbb.GetSize();
  header.dataOffset = alignUp(header.planOffset + header.planSize);
  header.dataSize = layout.size;

  // Stream the file, hashing as it goes; the header is written last.
  std::string temp = path + ".partial";
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out)
    return fail("cannot create '" + temp + "'");
  uint64_t hash = rt::kChecksumSeed, written = 0;
  auto put = [&](const uint8_t *data, size_t size) {
    out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
    hash = rt::packageChecksum(data, size, hash);
    written += size;
  };
  std::vector<uint8_t> zeros(rt::kPackageAlignment, 0);
  auto padTo = [&](uint64_t offset) {
    while (header.headerSize + written < offset) {
      size_t n = size_t(std::min<uint64_t>(zeros.size(),
                                           offset - header.headerSize - written));
      put(zeros.data(), n);
    }
  };
  out.write(reinterpret_cast<const char *>(&header), sizeof(header));
  put(fbb.GetBufferPointer(), fbb.GetSize());
  padTo(header.dataOffset);

  uint64_t totalWeights = 0, copied = 0;
  for (const onnx::WeightRecord *r : weightOrder)
    totalWeights += r->length;
  stats.weightBytes = totalWeights;
  bool showProgress = progress && totalWeights > (64u << 20);
  int lastPercent = -1;
  // Data: weights (chunked reads) and constants, in layout order.
  std::vector<std::pair<uint64_t, std::function<llvm::Error()>>> items;
  std::vector<uint8_t> chunk(8u << 20);
  for (const onnx::WeightRecord *record : weightOrder) {
    uint64_t offset = layout.weightOffsets[record->name];
    items.push_back({offset, [&, record]() -> llvm::Error {
      if (record->file.empty()) {
        put(record->inlineBytes.data(), record->inlineBytes.size());
        return llvm::Error::success();
      }
      std::ifstream in(record->file, std::ios::binary);
      if (!in)
        return fail("cannot open weight file '" + record->file + "'");
      in.seekg(std::streamoff(record->offset));
      uint64_t left = record->length;
      while (left) {
        size_t n = size_t(std::min<uint64_t>(left, chunk.size()));
        in.read(reinterpret_cast<char *>(chunk.data()), std::streamsize(n));
        if (!in)
          return fail("cannot read weight '" + record->name + "' from '" +
                      record->file + "'");
        put(chunk.data(), n);
        left -= n;
        copied += n;
        int percent = int(100 * copied / std::max<uint64_t>(totalWeights, 1));
        if (showProgress && percent / 10 != lastPercent / 10) {
          llvm::errs() << "tessera-compile: writing weights " << percent << "% ("
                       << (copied >> 20) << " / " << (totalWeights >> 20)
                       << " MiB)\n";
          lastPercent = percent;
        }
      }
      return llvm::Error::success();
    }});
  }
  for (auto [rank, plan] : llvm::enumerate(programs))
    for (auto [i, t] : llvm::enumerate(plan.tensors))
      if (t.kind == lower::PlannedTensor::Kind::Constant && t.aliasOf < 0) {
        const lower::PlannedTensor *tp = &t;
        items.push_back({layout.tensorOffsets[rank][i], [&, tp]() {
          put(tp->bytes.data(), tp->bytes.size());
          return llvm::Error::success();
        }});
      }
  std::stable_sort(items.begin(), items.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  for (auto &[offset, write] : items) {
    padTo(header.dataOffset + offset);
    if (llvm::Error e = write())
      return std::move(e);
  }
  padTo(header.dataOffset + layout.size);
  header.checksum = hash;
  out.seekp(0);
  out.write(reinterpret_cast<const char *>(&header), sizeof(header));
  out.close();
  if (!out)
    return fail("cannot write '" + temp + "'");
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    return fail("cannot rename '" + temp + "' to '" + path + "'");
  stats.fileBytes = header.headerSize + written;
  return stats;
}
