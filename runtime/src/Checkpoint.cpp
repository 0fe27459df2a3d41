//===- Checkpoint.cpp - saving and resuming training state ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Checkpoint.h"

#include "tessera/runtime/Pipeline.h"
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

/// Blocks of one tensor by their offsets (replicas' equal copies once).
using Blocks = std::map<std::vector<int64_t>, HostTensor>;

/// The tensor `name` assembled from its `blocks`: its shape is their
/// extent, which they must cover exactly; an error starts with `where`.
Status assembleBlocks(const std::string &name, Blocks &blocks, const std::string &where,
                      HostTensor &whole) {
  whole = HostTensor();
  whole.dtype = blocks.begin()->second.dtype;
  whole.shape.assign(blocks.begin()->second.shape.size(), 0);
  int64_t covered = 0;
  for (auto &[offsets, t] : blocks) {
    if (t.dtype != whole.dtype)
      return Status(StatusCode::DataLoss,
                    where + ": the blocks of '" + name + "' differ in element type");
    for (size_t d = 0; d < whole.shape.size(); ++d) {
      if (offsets[d] < 0)
        return Status(StatusCode::DataLoss,
                      where + ": a block of '" + name + "' has a negative offset");
      whole.shape[d] = std::max(whole.shape[d], offsets[d] + t.shape[d]);
    }
    covered += t.numElements();
  }
  if (covered != whole.numElements())
    return Status(StatusCode::DataLoss,
                  where + ": the blocks of '" + name + "' cover " + std::to_string(covered) +
                      " of its " + std::to_string(whole.numElements()) +
                      " elements (a rank's manifest missing?)");
  whole.data.assign(size_t(whole.numElements()) * dtypeSize(whole.dtype), 0);
  for (auto &[offsets, t] : blocks)
    copyBlock(whole, t, offsets, /*intoWhole=*/true);
  return Status::okStatus();
}

/// Writes `tensors` (name, value) as .npy files into `dir` (created if
/// absent), then the manifest `manifestName` listing them; file names start
/// with `prefix` (distinct per manifest).
Status writeCheckpointFiles(const std::vector<std::pair<std::string, const HostTensor *>> &tensors,
                            const std::string &dir, const std::string &manifestName,
                            const std::string &prefix) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Status(StatusCode::InvalidArgument, dir + ": cannot create: " + ec.message());
  std::ostringstream manifest;
  manifest << kMagic << "\n";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto &[name, t] = tensors[i];
    std::string file = prefix + fileFor(name, i);
    std::string path = dir + "/" + file;
    if (Status s = writeNpy(path, *t); !s.ok())
      return s;
    std::vector<uint8_t> bytes;
    if (Status s = readBytes(path, bytes); !s.ok())
      return s;
    manifest << name << "\t" << file << "\t" << bytes.size() << "\t"
             << hex(packageChecksum(bytes.data(), bytes.size())) << "\n";
  }
  // The manifest last: a checkpoint without it is incomplete.
  std::ofstream out(dir + "/" + manifestName);
  out << manifest.str();
  if (!out)
    return Status(StatusCode::Internal, dir + "/" + manifestName + ": cannot write");
  return Status::okStatus();
}

/// The manifests of the checkpoint in `dir`: checkpoint.txt (whole tensors),
/// else every rank's checkpoint.rank<R>.txt (a sharded checkpoint).
std::vector<std::string> manifestsIn(const std::string &dir) {
  if (std::filesystem::exists(dir + "/" + kManifest))
    return {kManifest};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint.rank", 0) == 0 && name.size() > 19 &&
        name.compare(name.size() - 4, 4, ".txt") == 0)
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
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
  std::map<std::string, Blocks> blocks;
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
        blocks[name][offsets] = std::move(t);
    }
  for (auto &[name, list] : blocks)
    if (!wholes.count(name)) // else some rank holds all of it
      if (Status s = assembleBlocks(name, list, dir, wholes[name]); !s.ok())
        return s;
  if (names.empty())
    return Status(StatusCode::InvalidArgument,
                  "this package has no training state to save (compile with --train)");
  std::vector<std::pair<std::string, const HostTensor *>> tensors;
  for (const std::string &name : names)
    tensors.push_back({name, &wholes[name]});
  return writeCheckpointFiles(tensors, dir, kManifest, "");
}

Status saveCheckpointShards(const std::vector<const Session *> &sessions,
                            const std::vector<bool> &writers, const std::string &dir) {
  // Manifests left from an earlier save that this one does not replace (a
  // whole-tensor one would hide these, another mesh's ranks would mix in):
  // rank 0 removes them; the ranks that write replace their own.
  if (!sessions.empty() && sessions[0]) {
    std::error_code ec;
    std::filesystem::remove(dir + "/" + kManifest, ec);
    for (const std::string &name : manifestsIn(dir)) {
      size_t rank = std::strtoull(name.c_str() + 15, nullptr, 10);
      if (rank >= writers.size() || !writers[rank])
        std::filesystem::remove(dir + "/" + name, ec);
    }
  }
  if (std::none_of(writers.begin(), writers.end(), [](bool w) { return w; }))
    return Status(StatusCode::InvalidArgument,
                  "this package has no training state to save (compile with --train)");
  for (size_t r = 0; r < sessions.size(); ++r) {
    if (!sessions[r] || !writers[r])
      continue;
    std::vector<std::string> states = sessions[r]->stateNames();
    std::vector<HostTensor> values(states.size());
    std::vector<std::pair<std::string, const HostTensor *>> tensors;
    for (size_t i = 0; i < states.size(); ++i) {
      if (Status s = sessions[r]->getState(states[i], values[i]); !s.ok())
        return s;
      tensors.push_back({states[i], &values[i]});
    }
    std::string rank = std::to_string(r);
    if (Status s = writeCheckpointFiles(tensors, dir, "checkpoint.rank" + rank + ".txt",
                                        "r" + rank + "_");
        !s.ok())
      return s;
  }
  return Status::okStatus();
}

std::vector<bool> checkpointWriters(const Package &package) {
  // The names (with block offsets) of the state each rank's programs write.
  int size = package.meshSize();
  std::vector<std::set<std::string>> states(size_t(std::max(size, 0)));
  if (const auto *programs = package.plan()->programs())
    for (const tpkg::Program *p : *programs) {
      if (int(p->rank()) >= size || !p->state_updates() || !p->tensors())
        continue;
      for (const tpkg::StateUpdate *u : *p->state_updates())
        if (u->state() < p->tensors()->size() && p->tensors()->Get(u->state())->name())
          states[p->rank()].insert(p->tensors()->Get(u->state())->name()->str());
    }
  std::vector<bool> writers;
  for (int r = 0; r < size; ++r) {
    MeshPosition at = meshPosition(package, r);
    int first = (at.stage * at.tp) + at.tpIndex; // replica 0's counterpart
    // (A rank holding no state - a pipeline stage without weights - writes
    // nothing.)
    writers.push_back(!states[size_t(r)].empty() &&
                      (at.replica == 0 || states[size_t(r)] != states[size_t(first)]));
  }
  return writers;
}

Status loadCheckpoint(const std::vector<Session *> &sessions, const std::string &dir) {
  std::vector<std::string> manifests = manifestsIn(dir);
  if (manifests.empty())
    return Status(StatusCode::NotFound, dir + "/" + kManifest +
                                            ": no checkpoint here (missing or incomplete)");
  std::set<std::string> expected;
  bool partial = std::any_of(sessions.begin(), sessions.end(), [](Session *s) { return !s; });
  for (Session *session : sessions)
    if (session)
      for (const std::string &state : session->stateNames())
        expected.insert(splitBlockName(state).first);
  // Whole tensors, and blocks ("w@[0,128]") of a sharded checkpoint by the
  // tensor they are blocks of.
  std::map<std::string, HostTensor> values;
  std::map<std::string, Blocks> blocks;
  for (const std::string &manifestName : manifests) {
    std::string manifestPath = dir + "/" + manifestName;
    auto bad = [&](const std::string &why) {
      return Status(StatusCode::DataLoss, manifestPath + ": " + why);
    };
    std::ifstream in(manifestPath);
    std::string line;
    if (!in || !std::getline(in, line) || line != kMagic)
      return bad("not a Tessera checkpoint (expected '" + std::string(kMagic) + "')");
    int lineNo = 1;
    while (std::getline(in, line)) {
      ++lineNo;
      if (line.empty())
        continue;
      std::istringstream fields(line);
      std::string name, file, size, sum;
      if (!std::getline(fields, name, '\t') || !std::getline(fields, file, '\t') ||
          !std::getline(fields, size, '\t') || !std::getline(fields, sum, '\t'))
        return bad("line " + std::to_string(lineNo) +
                   " is not NAME<TAB>FILE<TAB>BYTES<TAB>CHECKSUM");
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
        return bad("line " + std::to_string(lineNo) + ": file '" + file +
                   "' is not a plain name in the checkpoint's folder");
      auto [base, offsets] = splitBlockName(name);
      // Under mpirun a pipeline's stages hold different weights: what no
      // rank of this process holds is another process's to read.
      if (!expected.count(base) && partial)
        continue;
      if (!expected.count(base))
        return bad("'" + base + "' is not training state of this package (a checkpoint of "
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
      if (offsets.empty())
        values[base] = std::move(t);
      else if (offsets.size() != t.shape.size())
        return bad("block '" + name + "' has " + std::to_string(offsets.size()) +
                   " offsets for a tensor of rank " + std::to_string(t.shape.size()));
      else
        blocks[base][offsets] = std::move(t); // replicas' equal copies once
    }
  }
  // A sharded checkpoint's blocks assembled: each tensor must be covered.
  std::string where =
      dir + "/" + manifests[0] + (manifests.size() > 1 ? " (and the other ranks')" : "");
  std::set<std::string> assembled;
  for (auto &[name, list] : blocks) {
    if (values.count(name))
      continue;
    assembled.insert(name);
    if (Status s = assembleBlocks(name, list, where, values[name]); !s.ok())
      return s;
  }
  auto bad = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, where + ": " + why);
  };
  for (const std::string &name : expected)
    if (!values.count(name))
      return bad("'" + name + "' is missing");
  // Each rank takes its block of every whole tensor: a checkpoint resumes
  // on any mesh.
  for (Session *session : sessions) {
    if (!session)
      continue; // a rank another process runs
    for (const std::string &state : session->stateNames()) {
      auto [name, offsets] = splitBlockName(state);
      HostTensor &whole = values[name];
      // Blocks that assemble to less than the tensor: a rank's part absent.
      std::string hint = assembled.count(name) ? " (a rank's manifest missing?)" : "";
      HostTensor block;
      bool isWhole = offsets.empty() || offsets.size() != whole.shape.size();
      // The session's shape: of its block, or of an assembled whole.
      if (!isWhole || !hint.empty())
        if (Status s = session->getState(state, block); !s.ok())
          return s;
      if (isWhole) {
        if (!hint.empty() && block.shape != whole.shape)
          return bad("the blocks of '" + name + "' assemble to " + formatShape(whole.shape) +
                     ", the package's is " + formatShape(block.shape) + hint);
        if (Status s = session->setState(state, whole); !s.ok())
          return s;
        continue;
      }
      for (size_t d = 0; d < offsets.size(); ++d)
        if (offsets[d] < 0 || offsets[d] + block.shape[d] > whole.shape[d])
          return bad("'" + name + "' " + formatShape(whole.shape) + " does not hold the block " +
                     state + " " + formatShape(block.shape) + hint);
      if (block.dtype != whole.dtype)
        return bad("'" + name + "' has another element type than the package's");
      copyBlock(whole, block, offsets, /*intoWhole=*/false);
      if (Status s = session->setState(state, block); !s.ok())
        return s;
    }
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
      if (int(p->rank()) == rank && (!p->role() || p->role()->str().empty()))
        program = p; // the training step (not its validation program)
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
