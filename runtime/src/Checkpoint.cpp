//===- Checkpoint.cpp - saving and resuming training state ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Checkpoint.h"

#include "tessera/runtime/tpkg_generated.h"

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

} // namespace

Status saveCheckpoint(const Session &session, const std::string &dir) {
  std::vector<std::string> names = session.stateNames();
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
    HostTensor t;
    if (Status s = session.getState(names[i], t); !s.ok())
      return s;
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

Status loadCheckpoint(Session &session, const std::string &dir) {
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
  std::vector<std::string> wanted = session.stateNames();
  std::set<std::string> expected(wanted.begin(), wanted.end()), seen;
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
  for (const std::string &name : wanted)
    if (!seen.count(name))
      return bad("'" + name + "' is missing");
  for (const auto &[name, t] : values)
    if (Status s = session.setState(name, t); !s.ok())
      return s;
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
