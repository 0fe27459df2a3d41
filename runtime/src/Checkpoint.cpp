//===- Checkpoint.cpp - saving and resuming training state ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Checkpoint.h"

#include "tessera/runtime/tpkg_generated.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace tessera::rt {
namespace {

constexpr const char *kManifest = "checkpoint.txt";
constexpr const char *kMagic = "tessera-checkpoint 1";

/// A file name for a state name ("adamw.m:h.0.w" -> "adamw.m_h.0.w.npy").
std::string fileFor(const std::string &name, size_t index) {
  std::string file;
  for (char c : name)
    file += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return std::to_string(index) + "_" + file + ".npy";
}

Status readBytes(const std::string &path, std::vector<uint8_t> &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(StatusCode::NotFound, path + ": cannot open");
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return Status::okStatus();
}

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", (unsigned long long)v);
  return text;
}

/// A state name as the weight it is a block of and the block's offsets:
/// "w@[0,128]" -> ("w", {0, 128}); a whole tensor has no offsets.
std::pair<std::string, std::vector<int64_t>> splitBlockName(const std::string &name) {
  size_t at = name.rfind("@[");
  if (at == std::string::npos || name.back() != ']')
    return {name, {}};
  std::vector<int64_t> offsets;
  std::istringstream list(name.substr(at + 2, name.size() - at - 3));
  std::string item;
  while (std::getline(list, item, ','))
    offsets.push_back(std::strtoll(item.c_str(), nullptr, 10));
  return {name.substr(0, at), offsets};
}

/// Copies the block `block` (at `offsets`) into `whole`, or out of it.
void copyBlock(HostTensor &whole, HostTensor &block, const std::vector<int64_t> &offsets,
               bool intoWhole) {
  size_t rank = whole.shape.size(), size = dtypeSize(whole.dtype);
  if (rank == 0) {
    if (intoWhole)
      whole.data = block.data;
    else
      block.data = whole.data;
    return;
  }
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d)
    rows *= block.shape[d];
  size_t rowBytes = size_t(block.shape[rank - 1]) * size;
  std::vector<int64_t> index(rank - 1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t at = 0;
    for (size_t d = 0; d + 1 < rank; ++d)
      at = at * whole.shape[d] + index[d] + offsets[d];
    at = at * whole.shape[rank - 1] + offsets[rank - 1];
    uint8_t *w = whole.data.data() + size_t(at) * size, *b = block.data.data() + size_t(r) * rowBytes;
    if (intoWhole)
      std::memcpy(w, b, rowBytes);
    else
      std::memcpy(b, w, rowBytes);
    for (size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < block.shape[d])
        break;
      index[d] = 0;
    }
  }
}

} // namespace

Status saveCheckpoint(const Session &session, const std::string &dir) {
  return saveCheckpoint(std::vector<const Session *>{&session}, dir);
}

Status loadCheckpoint(Session &session, const std::string &dir) {
  return loadCheckpoint(std::vector<Session *>{&session}, dir);
}

Status saveCheckpoint(const std::vector<const Session *> &sessions, const std::string &dir) {
  // Every rank's blocks of a weight (or of its optimizer state) assembled
  // into the whole tensor: the checkpoint of any mesh is the one-device one.
  std::vector<std::string> names;
  std::map<std::string, HostTensor> wholes;
  std::map<std::string, std::vector<std::pair<HostTensor, std::vector<int64_t>>>> blocks;
  for (const Session *session : sessions)
    for (const std::string &state : session->stateNames()) {
      auto [name, offsets] = splitBlockName(state);
      HostTensor t;
      if (Status s = session->getState(state, t); !s.ok())
        return s;
      if (!blocks.count(name) && !wholes.count(name))
        names.push_back(name);
      if (offsets.empty() || offsets.size() != t.shape.size())
        wholes[name] = std::move(t);
      else
        blocks[name].push_back({std::move(t), offsets});
    }
  for (auto &[name, list] : blocks) {
    if (wholes.count(name))
      continue; // some rank holds all of it
    HostTensor whole;
    whole.dtype = list[0].first.dtype;
    whole.shape.assign(list[0].first.shape.size(), 0);
    for (auto &[t, offsets] : list)
      for (size_t d = 0; d < whole.shape.size(); ++d)
        whole.shape[d] = std::max(whole.shape[d], offsets[d] + t.shape[d]);
    whole.data.assign(size_t(whole.numElements()) * dtypeSize(whole.dtype), 0);
    for (auto &[t, offsets] : list)
      copyBlock(whole, t, offsets, /*intoWhole=*/true);
    wholes[name] = std::move(whole);
  }
  if (names.empty())
    return Status(StatusCode::InvalidArgument,
                  "this package has no training state to save (compile with --train)");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Status(StatusCode::InvalidArgument, dir + ": cannot create: " + ec.message());
  std::ostringstream manifest;
  manifest << kMagic << "\n";
  for (size_t i = 0; i < names.size(); ++i) {
    const HostTensor &t = wholes[names[i]];
    std::string file = fileFor(names[i], i);
    std::string path = dir + "/" + file;
    if (Status s = writeNpy(path, t); !s.ok())
      return s;
    std::vector<uint8_t> bytes;
    if (Status s = readBytes(path, bytes); !s.ok())
      return s;
    manifest << names[i] << "\t" << file << "\t" << bytes.size() << "\t"
             << hex(packageChecksum(bytes.data(), bytes.size())) << "\n";
  }
  // The manifest last: a checkpoint without it is incomplete.
  std::ofstream out(dir + "/" + kManifest);
  out << manifest.str();
  if (!out)
    return Status(StatusCode::Internal, dir + "/" + kManifest + ": cannot write");
  return Status::okStatus();
}

Status loadCheckpoint(const std::vector<Session *> &sessions, const std::string &dir) {
  std::string manifestPath = dir + "/" + kManifest;
  std::ifstream in(manifestPath);
  if (!in)
    return Status(StatusCode::NotFound,
                  manifestPath + ": no checkpoint here (missing or incomplete)");
  auto bad = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, manifestPath + ": " + why);
  };
  std::string line;
  if (!std::getline(in, line) || line != kMagic)
    return bad("not a Tessera checkpoint (expected '" + std::string(kMagic) + "')");
  std::set<std::string> expected, seen;
  for (Session *session : sessions)
    for (const std::string &state : session->stateNames())
      expected.insert(splitBlockName(state).first);
  std::map<std::string, HostTensor> values;
  int lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty())
      continue;
    std::istringstream fields(line);
    std::string name, file, size, sum;
    if (!std::getline(fields, name, '\t') || !std::getline(fields, file, '\t') ||
        !std::getline(fields, size, '\t') || !std::getline(fields, sum, '\t'))
      return bad("line " + std::to_string(lineNo) + " is not NAME<TAB>FILE<TAB>BYTES<TAB>CHECKSUM");
    if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
      return bad("line " + std::to_string(lineNo) + ": file '" + file +
                 "' is not a plain name in the checkpoint's folder");
    if (!expected.count(name))
      return bad("'" + name + "' is not training state of this package (a checkpoint of "
                 "another model or optimizer?)");
    std::vector<uint8_t> bytes;
    if (Status s = readBytes(dir + "/" + file, bytes); !s.ok())
      return s;
    if (std::to_string(bytes.size()) != size ||
        hex(packageChecksum(bytes.data(), bytes.size())) != sum)
      return bad("'" + file + "' does not match its size and checksum: the checkpoint is "
                 "corrupted");
    HostTensor t;
    if (Status s = parseNpy(bytes, dir + "/" + file, t); !s.ok())
      return s;
    values[name] = std::move(t);
    seen.insert(name);
  }
  for (const std::string &name : expected)
    if (!seen.count(name))
      return bad("'" + name + "' is missing");
  // Each rank takes its block of every whole tensor: a checkpoint resumes
  // on any mesh.
  for (Session *session : sessions)
    for (const std::string &state : session->stateNames()) {
      auto [name, offsets] = splitBlockName(state);
      HostTensor &whole = values[name];
      if (offsets.empty() || offsets.size() != whole.shape.size()) {
        if (Status s = session->setState(state, whole); !s.ok())
          return s;
        continue;
      }
      HostTensor block;
      if (Status s = session->getState(state, block); !s.ok())
        return s; // for its shape
      for (size_t d = 0; d < offsets.size(); ++d)
        if (offsets[d] < 0 || offsets[d] + block.shape[d] > whole.shape[d])
          return bad("'" + name + "' " + formatShape(whole.shape) + " does not hold the block " +
                     state + " " + formatShape(block.shape));
      if (block.dtype != whole.dtype)
        return bad("'" + name + "' has another element type than the package's");
      copyBlock(whole, block, offsets, /*intoWhole=*/false);
      if (Status s = session->setState(state, block); !s.ok())
        return s;
    }
  return Status::okStatus();
}

Status exportTrainedModel(const Package &package, const Session &session, int rank,
                          const std::string &out) {
  namespace fs = std::filesystem;
  const tpkg::Package *plan = package.plan();
  const tpkg::Program *program = nullptr;
  if (plan->programs())
    for (const tpkg::Program *p : *plan->programs())
      if (int(p->rank()) == rank)
        program = p;
  if (!program || !program->export_patches() || !plan->source_model())
    return Status(StatusCode::InvalidArgument,
                  package.path() + ": no trained weights to export (compile the model with "
                                   "--train)");
  fs::path packageDir = fs::absolute(fs::path(package.path())).parent_path();
  auto resolve = [&](const std::string &file) {
    fs::path p(file);
    return (p.is_absolute() ? p : packageDir / p).lexically_normal();
  };
  fs::path model = resolve(plan->source_model()->str());
  fs::path modelDir = model.parent_path();
  fs::path target = fs::absolute(fs::path(out));
  std::error_code ec;
  if (fs::equivalent(model, target, ec))
    return Status(StatusCode::InvalidArgument, out + ": would overwrite the source model");
  std::map<fs::path, std::vector<uint8_t>> files; // source file -> patched bytes
  for (const tpkg::ExportPatch *patch : *program->export_patches()) {
    fs::path file = resolve(patch->file() ? patch->file()->str() : "");
    fs::path inside = file.lexically_relative(modelDir);
    if (inside.empty() || *inside.begin() == "..")
      return Status(StatusCode::DataLoss, package.path() + ": trained weight file '" +
                                              file.string() + "' lies outside the model's folder");
    auto it = files.find(file);
    if (it == files.end()) {
      std::vector<uint8_t> bytes;
      if (Status s = readBytes(file.string(), bytes); !s.ok())
        return Status(StatusCode::NotFound, s.message() + " (the model the package was "
                                                          "compiled from)");
      it = files.emplace(file, std::move(bytes)).first;
    }
    const tpkg::Tensor *t = program->tensors() && patch->state() < program->tensors()->size()
                                ? program->tensors()->Get(patch->state())
                                : nullptr;
    if (!t)
      return Status(StatusCode::DataLoss, package.path() + ": an export patch names no tensor");
    HostTensor value;
    if (Status s = session.getState(t->name() ? t->name()->str() : "", value); !s.ok())
      return s;
    if (value.dtype != DType::F32 || value.data.size() != patch->size() ||
        patch->offset() > it->second.size() || patch->size() > it->second.size() - patch->offset())
      return Status(StatusCode::DataLoss, package.path() + ": trained weight '" +
                                              (t->name() ? t->name()->str() : "?") +
                                              "' does not fit its place in " + file.string());
    uint8_t *dst = it->second.data() + patch->offset();
    if (patch->transposed()) {
      if (value.shape.size() != 2)
        return Status(StatusCode::DataLoss, "a transposed export of a non-matrix");
      int64_t rows = value.shape[0], cols = value.shape[1];
      const float *src = reinterpret_cast<const float *>(value.data.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          std::memcpy(dst + (c * rows + r) * 4, src + r * cols + c, 4);
    } else {
      std::memcpy(dst, value.data.data(), value.data.size());
    }
  }
  if (!files.count(model)) {
    std::vector<uint8_t> bytes;
    if (Status s = readBytes(model.string(), bytes); !s.ok())
      return s;
    files.emplace(model, std::move(bytes));
  }
  for (const auto &[source, bytes] : files) {
    fs::path dest = source == model ? target : target.parent_path() / source.lexically_relative(modelDir);
    fs::create_directories(dest.parent_path(), ec);
    std::ofstream o(dest, std::ios::binary);
    o.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    if (!o)
      return Status(StatusCode::Internal, dest.string() + ": cannot write");
  }
  return Status::okStatus();
}

} // namespace tessera::rt
