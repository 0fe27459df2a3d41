//===- Checkpoint.cpp - saving and resuming training state ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Checkpoint.h"

#include <cctype>
#include <cstdio>
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

} // namespace tessera::rt
