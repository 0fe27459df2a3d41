//===- PackageWriter.cpp - writing .tpkg files ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/PackageWriter.h"

#include "frontends/onnx/ModelFile.h"

#include "tessera/runtime/DType.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
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
/// An f32 weight that a --dtype bf16/fp16 program holds in 16 bits.
bool narrowed(const tessera::onnx::WeightRecord *record, const lower::PlannedTensor &t) {
  return record->onnxType == 1 /* FLOAT */ &&
         (t.dtype == lower::ElementType::BF16 || t.dtype == lower::ElementType::F16);
}

/// Rounds f32 values to bf16 or binary16 (nearest even), as the GPU does.
void narrow(const uint8_t *src, size_t bytes, lower::ElementType to, std::vector<uint8_t> &out) {
  size_t n = bytes / 4;
  out.resize(n * 2);
  rt::DType dtype = to == lower::ElementType::BF16 ? rt::DType::BF16 : rt::DType::F16;
  for (size_t i = 0; i < n; ++i) {
    float f;
    std::memcpy(&f, src + 4 * i, 4);
    uint16_t h = rt::floatToHalfBits(dtype, f);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
}

struct DataLayout {
  std::map<std::string, uint64_t> weightOffsets;   // by weight name
  std::vector<std::vector<uint64_t>> tensorOffsets; // per program, per tensor
  uint64_t size = 0;
};

/// A weight to copy: all of a record, or a block of it.
struct WeightItem {
  const tessera::onnx::WeightRecord *record;
  std::string key;
  std::vector<int64_t> offsets, shape;
  uint64_t size;
  /// f32 weights of --dtype bf16/fp16 packages are converted as written.
  bool narrow = false;
  lower::ElementType dtype = lower::ElementType::F32;
};

/// Everything one package is built from, and the steps: the data section's
/// layout, the FlatBuffer plan, the file.
class PackageBuilder {
public:
  PackageBuilder(const std::string &path, const std::vector<lower::ProgramPlan> &programs,
                 const tessera::onnx::ModelFile &model, bool externalWeights)
      : path(path), programs(programs), model(model), externalWeights(externalWeights),
        packageFolder(std::filesystem::absolute(std::filesystem::path(path)).parent_path()) {}

  /// Lays the data section out: each weight once, each constant once per use.
  llvm::Error layOut();
  /// The plan: programs, external files, prediction, CUDA modules, generation.
  llvm::Error buildPlan(const std::vector<unsigned> &mesh, const std::string &producer,
                        unsigned stages, unsigned microbatches,
                        const PackagePrediction *prediction, const PackageCuda *cuda,
                        const PackageGeneration *generation);
  /// Streams header, plan and data to the file, hashing as it goes.
  llvm::Error writeFile(bool progress);

  PackageStats stats;

private:
  bool isExternal(const tessera::onnx::WeightRecord *r) const {
    return externalWeights && !r->file.empty();
  }
  /// Paths are stored relative to the package's folder when they can be.
  std::string relativeToPackage(const std::string &file) const {
    std::error_code ec;
    std::filesystem::path relative =
        std::filesystem::relative(std::filesystem::absolute(file), packageFolder, ec);
    return ec || relative.empty() ? file : relative.string();
  }
  llvm::Expected<uint64_t> weightOffset(const lower::PlannedTensor &t);
  flatbuffers::Offset<tpkg::Program> program(size_t rank, const lower::ProgramPlan &plan,
                                             const PackageCuda *cuda);
  /// The writes of the data section, by offset.
  using Item = std::pair<uint64_t, std::function<llvm::Error()>>;
  void blockItem(const WeightItem &w, std::vector<Item> &items);
  void weightItem(const WeightItem &w, std::vector<Item> &items);

  const std::string &path;
  const std::vector<lower::ProgramPlan> &programs;
  const tessera::onnx::ModelFile &model;
  bool externalWeights;
  std::filesystem::path packageFolder;

  DataLayout layout;
  std::vector<WeightItem> weightOrder;
  // External files (--weights=external): index by absolute path.
  std::vector<std::string> externalPaths;
  std::map<std::string, uint32_t> externalIndex;
  flatbuffers::FlatBufferBuilder fbb{1 << 16};

  // While writing the file.
  std::ofstream out;
  uint64_t hash = rt::kChecksumSeed, written = 0;
  std::vector<uint8_t> narrowed16;
  std::vector<uint8_t> chunk;
  uint64_t totalWeights = 0, copied = 0;
  bool showProgress = false;
  int lastPercent = -1;
  void put(const uint8_t *data, size_t size) {
    out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
    hash = rt::packageChecksum(data, size, hash);
    written += size;
  }
  void putWeight(const WeightItem &w, const uint8_t *data, size_t size) {
    if (!w.narrow)
      return put(data, size);
    narrow(data, size, w.dtype, narrowed16);
    put(narrowed16.data(), narrowed16.size());
  }
  void advance(uint64_t n) {
    copied += n;
    int percent = int(100 * copied / std::max<uint64_t>(totalWeights, 1));
    if (showProgress && percent / 10 != lastPercent / 10) {
      llvm::errs() << "tessera-compile: writing weights " << percent << "% ("
                   << (copied >> 20) << " / " << (totalWeights >> 20) << " MiB)\n";
      lastPercent = percent;
    }
  }
};

/// The data offset of weight tensor `t` (laid out on first sight).
llvm::Expected<uint64_t> PackageBuilder::weightOffset(const lower::PlannedTensor &t) {
  bool block = !t.blockOffsets.empty();
  // A block is its offsets and its shape: two stages may cut the same
  // (tied) weight differently.
  std::string key = t.weight;
  if (block) {
    key = t.name + ":";
    for (int64_t d : t.shape)
      key += std::to_string(d) + "x";
  }
  auto [it, inserted] = layout.weightOffsets.try_emplace(key, 0);
  if (!inserted)
    return it->second;
  const tessera::onnx::WeightRecord *record = model.weights.find(t.weight);
  if (!record)
    return fail("weight '" + t.weight + "' is not in the model's weight store");
  if (record->absent) {
    it->second = 0; // plan-only: nothing to copy
  } else if (block) {
    bool inside = t.blockOffsets.size() == record->shape.size() &&
                  t.shape.size() == record->shape.size();
    for (size_t d = 0; inside && d < t.shape.size(); ++d)
      inside = t.blockOffsets[d] >= 0 && t.blockOffsets[d] + t.shape[d] <= record->shape[d];
    if (!inside)
      return fail("block " + t.name + " lies outside weight '" + t.weight + "'");
    // Blocks are copied into the package, also with external weights.
    it->second = layout.size;
    layout.size = alignUp(layout.size + t.size);
    weightOrder.push_back(
        {record, key, t.blockOffsets, t.shape, t.size, narrowed(record, t), t.dtype});
  } else if (narrowed(record, t)) {
    if (isExternal(record))
      return fail("weight '" + t.weight + "': --weights=external keeps the model's "
                  "f32 bytes; a --dtype " +
                  Twine(t.dtype == lower::ElementType::BF16 ? "bf16" : "fp16") +
                  " package embeds its weights");
    it->second = layout.size;
    layout.size = alignUp(layout.size + t.size);
    weightOrder.push_back({record, key, {}, {}, t.size, true, t.dtype});
  } else if (record->length != t.size) {
    return fail("weight '" + t.weight + "' has " + Twine(record->length) +
                " bytes, the program expects " + Twine(t.size));
  } else if (isExternal(record)) {
    auto [at, fresh] = externalIndex.try_emplace(record->file, uint32_t(externalPaths.size()));
    if (fresh)
      externalPaths.push_back(record->file);
    it->second = record->offset;
  } else {
    it->second = layout.size;
    layout.size = alignUp(layout.size + t.size);
    weightOrder.push_back({record, key, {}, {}, t.size, false, t.dtype});
  }
  return it->second;
}

llvm::Error PackageBuilder::layOut() {
  for (const lower::ProgramPlan &plan : programs) {
    std::vector<uint64_t> offsets(plan.tensors.size(), 0);
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const lower::PlannedTensor &t = plan.tensors[i];
      if (t.aliasOf >= 0 || t.kind == lower::PlannedTensor::Kind::Arena)
        continue;
      if (t.kind == lower::PlannedTensor::Kind::Weight && t.zeros) {
        offsets[i] = 0; // training state: not stored
      } else if (t.kind == lower::PlannedTensor::Kind::Weight) {
        llvm::Expected<uint64_t> offset = weightOffset(t);
        if (!offset)
          return offset.takeError();
        offsets[i] = *offset;
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
  return llvm::Error::success();
}

flatbuffers::Offset<tpkg::Program> PackageBuilder::program(size_t rank,
                                                           const lower::ProgramPlan &plan,
                                                           const PackageCuda *cuda) {
  std::vector<flatbuffers::Offset<tpkg::Tensor>> tensors;
  for (auto [i, t] : llvm::enumerate(plan.tensors)) {
    bool arena = t.kind == lower::PlannedTensor::Kind::Arena;
    tpkg::Storage storage = arena ? tpkg::Storage::Arena : tpkg::Storage::Data;
    uint32_t file = 0;
    if (t.kind == lower::PlannedTensor::Kind::Weight && t.zeros) {
      storage = tpkg::Storage::Zeros;
    } else if (t.kind == lower::PlannedTensor::Kind::Weight) {
      const tessera::onnx::WeightRecord *record = model.weights.find(t.weight);
      if (record && record->absent) {
        storage = tpkg::Storage::Absent;
      } else if (record && isExternal(record) && t.blockOffsets.empty()) {
        storage = tpkg::Storage::External;
        file = externalIndex[record->file];
      }
    }
    // A view of zero-initialised state reads it by its name.
    const std::string &name =
        t.aliasOf >= 0 && t.zeros ? plan.tensors[size_t(t.aliasOf)].name : t.name;
    tensors.push_back(tpkg::CreateTensor(
        fbb, fbb.CreateString(name), tpkg::DType(uint8_t(t.dtype)), fbb.CreateVector(t.shape),
        storage, arena ? t.offset : layout.tensorOffsets[rank][i], t.size, file, t.splitAxis));
  }
  std::vector<flatbuffers::Offset<tpkg::Kernel>> kernels;
  for (const lower::PlannedKernel &k : plan.kernels) {
    std::vector<flatbuffers::Offset<tpkg::Attr>> attrs;
    for (const lower::PlannedAttr &a : k.attrs)
      attrs.push_back(tpkg::CreateAttr(fbb, fbb.CreateString(a.name), fbb.CreateVector(a.ints),
                                       fbb.CreateVector(a.floats)));
    kernels.push_back(tpkg::CreateKernel(
        fbb, fbb.CreateString(k.op), fbb.CreateVector(k.inputs), fbb.CreateVector(k.outputs),
        fbb.CreateVector(attrs), fbb.CreateString(k.location), k.predictedSeconds));
  }
  int cudaModule = -1;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<tpkg::CudaLaunch>>> launches = 0;
  if (cuda) {
    cudaModule = cuda->programModule[rank];
    std::vector<flatbuffers::Offset<tpkg::CudaLaunch>> list;
    for (const lower::CudaLaunch &l : cuda->launches[rank])
      list.push_back(tpkg::CreateCudaLaunch(
          fbb, tpkg::LaunchKind(uint8_t(l.kind)), fbb.CreateString(l.function),
          fbb.CreateVector(std::vector<uint32_t>(l.grid, l.grid + 3)), l.block));
    launches = fbb.CreateVector(list);
  }
  std::vector<flatbuffers::Offset<tpkg::StateUpdate>> updates;
  std::vector<flatbuffers::Offset<tpkg::ExportPatch>> patches;
  auto patch = [&](const std::string &weight, uint32_t state, bool transposed) {
    const tessera::onnx::WeightRecord *record = model.weights.find(weight);
    if (!record || record->file.empty() || record->absent)
      return; // not in a file (inline float_data): --export-onnx refuses it
    if (!record->copyOf.empty())
      return; // a reader's copy (untied): the file holds the first reader's
    patches.push_back(tpkg::CreateExportPatch(fbb, state,
                                              fbb.CreateString(relativeToPackage(record->file)),
                                              record->offset, record->length, transposed));
  };
  for (auto [state, value] : plan.stateUpdates) {
    updates.push_back(tpkg::CreateStateUpdate(fbb, state, value));
    const lower::PlannedTensor &t = plan.tensors[state];
    if (!t.zeros)
      patch(t.weight, state, false);
  }
  for (const lower::ProgramPlan::TiedWeight &tie : plan.tiedWeights)
    patch(tie.weight, tie.state, tie.transposed);
  std::vector<flatbuffers::Offset<tpkg::HeldInput>> held;
  for (const lower::ProgramPlan::HeldInput &h : plan.heldInputs)
    held.push_back(tpkg::CreateHeldInput(fbb, h.input, h.data));
  stats.arenaBytes = std::max(stats.arenaBytes, plan.arenaBytes);
  stats.kernels += plan.kernels.size();
  return tpkg::CreateProgram(
      fbb, plan.role.empty() ? uint32_t(rank) : plan.prefillRank, fbb.CreateVector(tensors),
      fbb.CreateVector(kernels), fbb.CreateVector(plan.inputs), fbb.CreateVector(plan.outputs),
      plan.arenaBytes, plan.stage, plan.predictedSeconds, cudaModule, launches,
      updates.empty() ? 0 : fbb.CreateVector(updates),
      patches.empty() ? 0 : fbb.CreateVector(patches),
      plan.role.empty() ? 0 : fbb.CreateString(plan.role),
      held.empty() ? 0 : fbb.CreateVector(held));
}

llvm::Error PackageBuilder::buildPlan(const std::vector<unsigned> &mesh,
                                      const std::string &producer, unsigned stages,
                                      unsigned microbatches, const PackagePrediction *prediction,
                                      const PackageCuda *cuda,
                                      const PackageGeneration *generation) {
  std::vector<flatbuffers::Offset<tpkg::Program>> programOffsets;
  for (auto [rank, plan] : llvm::enumerate(programs))
    programOffsets.push_back(program(rank, plan, cuda));
  // External paths are stored relative to the package's folder.
  std::vector<flatbuffers::Offset<tpkg::ExternalFile>> externals;
  std::error_code ec;
  for (const std::string &file : externalPaths) {
    std::filesystem::path relative =
        std::filesystem::relative(std::filesystem::path(file), packageFolder, ec);
    uint64_t size = std::filesystem::file_size(file, ec);
    if (ec)
      return fail("cannot stat weight file '" + file + "'");
    externals.push_back(tpkg::CreateExternalFile(
        fbb, fbb.CreateString(relative.empty() ? file : relative.string()), size));
  }
  flatbuffers::Offset<tpkg::Prediction> predicted = 0;
  if (prediction)
    predicted = tpkg::CreatePrediction(
        fbb, fbb.CreateString(prediction->cluster), fbb.CreateString(prediction->objective),
        prediction->batchSeconds, prediction->computeSeconds, prediction->communicationSeconds,
        prediction->bubbleSeconds, prediction->deviceMemoryBytes,
        fbb.CreateVector(prediction->sendSeconds));
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<tpkg::CudaModule>>> modules = 0;
  if (cuda) {
    std::vector<flatbuffers::Offset<tpkg::CudaModule>> list;
    for (const PackageCuda::Module &m : cuda->modules) {
      std::vector<flatbuffers::Offset<tpkg::CudaImage>> images;
      for (const CudaImage &image : m.images)
        images.push_back(tpkg::CreateCudaImage(fbb, fbb.CreateString(image.arch), image.ptx,
                                               fbb.CreateVector(image.data)));
      list.push_back(tpkg::CreateCudaModule(fbb, fbb.CreateString(m.source),
                                            fbb.CreateVectorOfStrings(m.functions),
                                            fbb.CreateVector(images)));
    }
    modules = fbb.CreateVector(list);
  }
  flatbuffers::Offset<tpkg::Generation> generated = 0;
  if (generation) {
    auto optional = [&](const std::string &s) { return s.empty() ? 0 : fbb.CreateString(s); };
    generated = tpkg::CreateGeneration(
        fbb, fbb.CreateString(generation->ids), fbb.CreateString(generation->positions),
        fbb.CreateString(generation->logits), optional(generation->mask),
        optional(generation->positionIds), generation->maxSeq, generation->batch,
        optional(generation->lastPositions), optional(generation->encoderIds),
        optional(generation->encoderMask), optional(generation->encoderOutput),
        optional(generation->encoderStates), optional(generation->encoderStatesMask),
        generation->decoderStart);
  }
  auto root = tpkg::CreatePackage(
      fbb, fbb.CreateString(producer), fbb.CreateVector(mesh), fbb.CreateVector(programOffsets),
      fbb.CreateVector(externals), stages, microbatches, predicted,
      fbb.CreateString(cuda ? "cuda" : "cpu"), modules,
      model.path.empty() ? 0 : fbb.CreateString(relativeToPackage(model.path)), generated);
  tpkg::FinishPackageBuffer(fbb, root);
  return llvm::Error::success();
}

/// A block: rows of the innermost dimension, gathered from the whole.
void PackageBuilder::blockItem(const WeightItem &item, std::vector<Item> &items) {
  const WeightItem *w = &item;
  items.push_back({layout.weightOffsets[item.key], [this, w]() -> llvm::Error {
    const tessera::onnx::WeightRecord *record = w->record;
    std::vector<uint8_t> whole;
    if (record->file.empty()) {
      whole = record->inlineBytes;
    } else {
      std::ifstream in(record->file, std::ios::binary);
      whole.resize(record->length);
      in.seekg(std::streamoff(record->offset));
      in.read(reinterpret_cast<char *>(whole.data()), std::streamsize(whole.size()));
      if (!in)
        return fail("cannot read weight '" + record->name + "' from '" + record->file + "'");
    }
    const std::vector<int64_t> &full = record->shape;
    size_t rank = full.size();
    uint64_t elements = 1;
    for (int64_t d : full)
      elements *= uint64_t(d);
    uint64_t element = record->length / std::max<uint64_t>(1, elements);
    uint64_t rows = 1;
    for (size_t d = 0; d + 1 < rank; ++d)
      rows *= uint64_t(w->shape[d]);
    uint64_t rowBytes = (rank ? uint64_t(w->shape[rank - 1]) : 1) * element;
    std::vector<int64_t> index(rank, 0);
    for (uint64_t r = 0; r < rows; ++r) {
      uint64_t linear = 0;
      for (size_t d = 0; d < rank; ++d)
        linear = linear * uint64_t(full[d]) + uint64_t(index[d] + w->offsets[d]);
      putWeight(*w, whole.data() + linear * element, rowBytes);
      for (int64_t d = int64_t(rank) - 2; d >= 0; --d) { // next row
        if (++index[size_t(d)] < w->shape[size_t(d)])
          break;
        index[size_t(d)] = 0;
      }
    }
    advance(w->size);
    return llvm::Error::success();
  }});
}

/// A whole weight, read in chunks.
void PackageBuilder::weightItem(const WeightItem &item, std::vector<Item> &items) {
  const WeightItem *w = &item;
  items.push_back({layout.weightOffsets[item.key], [this, w]() -> llvm::Error {
    const tessera::onnx::WeightRecord *record = w->record;
    if (record->file.empty()) {
      putWeight(*w, record->inlineBytes.data(), record->inlineBytes.size());
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
        return fail("cannot read weight '" + record->name + "' from '" + record->file + "'");
      putWeight(*w, chunk.data(), n);
      left -= n;
      advance(n);
    }
    return llvm::Error::success();
  }});
}

llvm::Error PackageBuilder::writeFile(bool progress) {
  rt::PackageHeader header{};
  std::memcpy(header.magic, rt::kPackageMagic, sizeof(header.magic));
  header.formatVersion = rt::kPackageFormatVersion;
  header.headerSize = sizeof(rt::PackageHeader);
  header.planOffset = sizeof(rt::PackageHeader);
  header.planSize = fbb.GetSize();
  header.dataOffset = alignUp(header.planOffset + header.planSize);
  header.dataSize = layout.size;

  // Stream the file, hashing as it goes; the header is written last.
  // A regular file is written beside and renamed into place, so a failed
  // compile never leaves half a package; anything else (/dev/null, a pipe)
  // is written directly.
  std::error_code statError;
  auto status = std::filesystem::status(path, statError);
  bool direct = std::filesystem::exists(status) && !std::filesystem::is_regular_file(status);
  std::string temp = direct ? path : path + ".partial";
  out.open(temp, std::ios::binary | std::ios::trunc);
  if (!out)
    return fail("cannot create '" + temp + "'");
  std::vector<uint8_t> zeros(rt::kPackageAlignment, 0);
  auto padTo = [&](uint64_t offset) {
    while (header.headerSize + written < offset) {
      size_t n = size_t(std::min<uint64_t>(zeros.size(), offset - header.headerSize - written));
      put(zeros.data(), n);
    }
  };
  out.write(reinterpret_cast<const char *>(&header), sizeof(header));
  put(fbb.GetBufferPointer(), fbb.GetSize());
  padTo(header.dataOffset);

  for (const WeightItem &w : weightOrder)
    totalWeights += w.size;
  stats.weightBytes = totalWeights;
  showProgress = progress && totalWeights > (64u << 20);
  // Data: weights (chunked reads) and constants, in layout order.
  std::vector<Item> items;
  chunk.resize(8u << 20);
  for (const WeightItem &item : weightOrder)
    (item.offsets.empty() ? weightItem(item, items) : blockItem(item, items));
  for (auto [rank, plan] : llvm::enumerate(programs))
    for (auto [i, t] : llvm::enumerate(plan.tensors))
      if (t.kind == lower::PlannedTensor::Kind::Constant && t.aliasOf < 0) {
        const lower::PlannedTensor *tp = &t;
        items.push_back({layout.tensorOffsets[rank][i], [this, tp]() {
          put(tp->bytes.data(), tp->bytes.size());
          return llvm::Error::success();
        }});
      }
  std::stable_sort(items.begin(), items.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  for (auto &[offset, write] : items) {
    padTo(header.dataOffset + offset);
    if (llvm::Error e = write())
      return e;
  }
  padTo(header.dataOffset + layout.size);
  header.checksum = hash;
  out.seekp(0);
  out.write(reinterpret_cast<const char *>(&header), sizeof(header));
  out.close();
  if (!out)
    return fail("cannot write '" + temp + "'");
  if (!direct && std::rename(temp.c_str(), path.c_str()) != 0)
    return fail("cannot rename '" + temp + "' to '" + path + "'");
  stats.fileBytes = header.headerSize + written;
  return llvm::Error::success();
}

} // namespace

llvm::Expected<PackageStats>
tessera::writePackage(const std::string &path, const std::vector<lower::ProgramPlan> &programs,
                      const std::vector<unsigned> &mesh, const onnx::ModelFile &model,
                      const std::string &producer, bool progress, bool externalWeights,
                      unsigned stages, unsigned microbatches,
                      const PackagePrediction *prediction, const PackageCuda *cuda,
                      const PackageGeneration *generation) {
  PackageBuilder builder(path, programs, model, externalWeights);
  if (llvm::Error e = builder.layOut())
    return std::move(e);
  if (llvm::Error e = builder.buildPlan(mesh, producer, stages, microbatches, prediction, cuda,
                                        generation))
    return std::move(e);
  if (llvm::Error e = builder.writeFile(progress))
    return std::move(e);
  return builder.stats;
}
