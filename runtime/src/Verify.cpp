//===- Verify.cpp - a compiled package against its unfused reference ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Verify.h"

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Generate.h"
#include "tessera/runtime/MeshRunner.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/tpkg_generated.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

namespace tessera::rt {
namespace {

/// SplitMix64: the inputs are a function of the seed alone.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
};

bool looksLikeMask(const std::string &name) {
  std::string lower(name);
  for (char &c : lower)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("mask") != std::string::npos;
}

HostTensor randomInput(const TensorInfo &info, const VerifyOptions &options, Random &random) {
  HostTensor t;
  t.dtype = info.dtype;
  t.shape = info.shape;
  int64_t n = t.numElements();
  t.data.assign(size_t(n) * dtypeSize(t.dtype), 0);
  auto bound = options.integerBounds.find(info.name);
  int64_t high = bound != options.integerBounds.end() ? std::max<int64_t>(bound->second, 1) : 2;
  bool ones = looksLikeMask(info.name);
  for (int64_t i = 0; i < n; ++i) {
    int64_t integer = ones ? 1 : int64_t(random.next() % uint64_t(high));
    double real = 2.0 * random.uniform() - 1.0;
    uint8_t *p = t.data.data() + size_t(i) * dtypeSize(t.dtype);
    switch (t.dtype) {
    case DType::F32: { float f = ones ? 1.0f : float(real); std::memcpy(p, &f, 4); break; }
    case DType::F64: { double d = ones ? 1.0 : real; std::memcpy(p, &d, 8); break; }
    case DType::I64: std::memcpy(p, &integer, 8); break;
    case DType::I32: { int32_t x = int32_t(integer); std::memcpy(p, &x, 4); break; }
    case DType::I8: *p = uint8_t(integer); break;
    case DType::Bool: *p = ones ? 1 : uint8_t(integer & 1); break;
    default: break; // f16/bf16 inputs stay zero
    }
  }
  return t;
}

double valueAt(const HostTensor &t, int64_t i) {
  const uint8_t *p = t.data.data() + size_t(i) * dtypeSize(t.dtype);
  switch (t.dtype) {
  case DType::F32: { float f; std::memcpy(&f, p, 4); return f; }
  case DType::F64: { double d; std::memcpy(&d, p, 8); return d; }
  case DType::I64: { int64_t x; std::memcpy(&x, p, 8); return double(x); }
  case DType::I32: { int32_t x; std::memcpy(&x, p, 4); return double(x); }
  case DType::I8: return double(int8_t(*p));
  case DType::Bool: return *p ? 1.0 : 0.0;
  default: return 0.0;
  }
}

/// Counts the elements of `got` beyond the tolerance of `want`'s.
void compare(const HostTensor &got, const HostTensor &want, const VerifyOptions &options,
             OutputDifference &d) {
  d.elements = want.numElements();
  for (int64_t i = 0; i < d.elements; ++i) {
    double a = valueAt(got, i), b = valueAt(want, i);
    if (a == b || (std::isnan(a) && std::isnan(b)))
      continue;
    double diff = std::fabs(a - b);
    if (std::isnan(diff) || diff > options.atol + options.rtol * std::fabs(b))
      ++d.outside;
    d.maxAbs = std::isnan(diff) ? INFINITY : std::max(d.maxAbs, diff);
  }
}

/// Every rank of `package` as threads.
struct Ranks {
  std::unique_ptr<LocalGroup> group;
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<Session *> all;
  std::vector<Communicator *> comms;

  Status create(std::shared_ptr<Package> package) {
    int ranks = package->meshSize();
    if (ranks > 1)
      group = std::make_unique<LocalGroup>(ranks, std::chrono::milliseconds(600000));
    sessions.resize(size_t(ranks));
    SessionOptions options;
    options.ranksOnHost = ranks;
    for (int r = 0; r < ranks; ++r) {
      if (Status s = Session::create(package, r, sessions[size_t(r)], options); !s.ok())
        return s;
      Communicator *comm = group ? &group->communicator(r) : nullptr;
      if (comm)
        if (Status s = sessions[size_t(r)]->bindCommunicator(*comm); !s.ok())
          return s;
      all.push_back(sessions[size_t(r)].get());
      comms.push_back(comm);
    }
    return Status::okStatus();
  }
};

/// Opens the compiled package and the reference (one rank), with a session
/// of the reference.
Status openBoth(const std::string &compiledPath, const std::string &referencePath,
                std::shared_ptr<Package> &compiled, std::unique_ptr<Session> &refSession) {
  std::shared_ptr<Package> reference;
  if (Status s = Package::open(compiledPath, compiled); !s.ok())
    return s;
  if (Status s = Package::open(referencePath, reference); !s.ok())
    return s;
  if (reference->meshSize() != 1)
    return Status(StatusCode::InvalidArgument,
                  referencePath + ": a reference package has one rank, not " +
                      std::to_string(reference->meshSize()));
  return Session::create(reference, 0, refSession);
}

} // namespace

Status verifyPackages(const std::string &compiledPath, const std::string &referencePath,
                      const VerifyOptions &options, std::vector<OutputDifference> &out) {
  out.clear();
  // The reference: one session. The compiled package: every rank as threads.
  std::shared_ptr<Package> compiled;
  std::unique_ptr<Session> refSession;
  if (Status s = openBoth(compiledPath, referencePath, compiled, refSession); !s.ok())
    return s;
  Ranks ranks;
  if (Status s = ranks.create(compiled); !s.ok())
    return s;
  std::unique_ptr<MeshRunner> mesh;
  if (Status s = MeshRunner::create(*compiled, ranks.all, ranks.comms, mesh, ranks.group.get());
      !s.ok())
    return s;

  // The same inputs on both sides; they must agree on names, types and shapes.
  Random random{options.seed};
  for (const TensorInfo &info : refSession->inputs()) {
    const TensorInfo *other = findInfo(mesh->inputs(), info.name);
    if (!other)
      return Status(StatusCode::InvalidArgument,
                    compiledPath + ": no input '" + info.name + "' (the reference has one)");
    if (other->dtype != info.dtype || other->shape != info.shape)
      return Status(StatusCode::InvalidArgument,
                    compiledPath + ": input '" + info.name + "' is " +
                        std::string(dtypeName(other->dtype)) + " " + formatShape(other->shape) +
                        ", the reference's " + std::string(dtypeName(info.dtype)) + " " +
                        formatShape(info.shape));
    HostTensor value = randomInput(info, options, random);
    if (Status s = refSession->setInput(info.name, value); !s.ok())
      return s;
    if (Status s = mesh->setInput(info.name, value); !s.ok())
      return s;
  }
  if (Status s = refSession->run(); !s.ok())
    return Status(s.code(), "the reference: " + s.message());
  if (Status s = mesh->run(); !s.ok())
    return Status(s.code(), "the compiled package: " + s.message());

  for (const TensorInfo &info : refSession->outputs()) {
    if (!findInfo(mesh->outputs(), info.name))
      continue;
    HostTensor want, got;
    if (Status s = refSession->getOutput(info.name, want); !s.ok())
      return s;
    if (Status s = mesh->getOutput(info.name, got); !s.ok())
      return s;
    OutputDifference d;
    d.name = info.name;
    if (got.shape != want.shape) {
      return Status(StatusCode::InvalidArgument,
                    "output '" + info.name + "' is " + formatShape(got.shape) +
                        " in the compiled package, " + formatShape(want.shape) +
                        " in the reference");
    }
    compare(got, want, options, d);
    out.push_back(d);
  }
  return Status::okStatus();
}

Status verifyGeneration(const std::string &decodePath, const std::string &referencePath,
                        const VerifyOptions &options, std::vector<OutputDifference> &out) {
  out.clear();
  std::shared_ptr<Package> compiled;
  std::unique_ptr<Session> ref;
  if (Status s = openBoth(decodePath, referencePath, compiled, ref); !s.ok())
    return s;
  const tpkg::Generation *g = compiled->plan() ? compiled->plan()->generation() : nullptr;
  if (!g || !g->ids() || !g->logits())
    return Status(StatusCode::InvalidArgument, decodePath + ": not a generation package");
  std::string ids = g->ids()->str(), logits = g->logits()->str();
  std::string positionIds = g->position_ids() ? g->position_ids()->str() : "";
  const TensorInfo *idsInfo = findInfo(ref->inputs(), ids);
  const TensorInfo *logitsInfo = findInfo(ref->outputs(), logits);
  if (!idsInfo || idsInfo->shape.size() != 2 || !logitsInfo || logitsInfo->shape.size() != 3)
    return Status(StatusCode::InvalidArgument,
                  referencePath + ": the reference needs input '" + ids + "' [B, S] and output '" +
                      logits + "' [B, S, V]");
  int64_t batch = idsInfo->shape[0], length = idsInfo->shape[1], vocab = logitsInfo->shape[2];

  // The prompts, and the reference's inputs: masks all ones, positions in order.
  Random random{options.seed};
  auto bound = options.integerBounds.find(ids);
  int64_t high = bound != options.integerBounds.end() ? bound->second : vocab;
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch));
  for (auto &prompt : prompts)
    prompt.assign(size_t(length), 0);
  for (auto &prompt : prompts)
    for (int64_t &t : prompt)
      t = int64_t(random.next() % uint64_t(std::max<int64_t>(1, std::min(high, vocab))));
  for (const TensorInfo &info : ref->inputs()) {
    HostTensor value = randomInput(info, options, random);
    if (info.name == ids || info.name == positionIds) {
      for (int64_t i = 0; i < value.numElements(); ++i) {
        int64_t v = info.name == ids ? prompts[size_t(i / length)][size_t(i % length)] : i % length;
        if (value.dtype == DType::I64)
          std::memcpy(value.data.data() + i * 8, &v, 8);
        else if (value.dtype == DType::I32) {
          int32_t x = int32_t(v);
          std::memcpy(value.data.data() + i * 4, &x, 4);
        }
      }
    }
    if (Status s = ref->setInput(info.name, value); !s.ok())
      return s;
  }
  if (Status s = ref->run(); !s.ok())
    return Status(s.code(), "the reference: " + s.message());
  HostTensor want;
  if (Status s = ref->getOutput(logits, want); !s.ok())
    return s;

  // The decode step, token by token through its cache, every rank.
  Ranks ranks;
  if (Status s = ranks.create(compiled); !s.ok())
    return s;
  std::unique_ptr<DecodeRunner> runner = makeDecodeRunner(*compiled, ranks.all, ranks.comms);
  if (!runner)
    return Status(StatusCode::InvalidArgument, decodePath + ": cannot run its decode step");
  HostTensor got = want;
  std::vector<bool> seen(size_t(batch * length), false);
  GenerateOptions generate;
  generate.maxNewTokens = 1;
  generate.onLogits = [&](size_t b, int64_t position, const float *row, int64_t n) {
    if (int64_t(b) >= batch || position >= length || n != vocab || want.dtype != DType::F32)
      return;
    std::memcpy(got.data.data() + size_t((int64_t(b) * length + position) * vocab) * 4, row,
                size_t(vocab) * 4);
    seen[size_t(int64_t(b) * length + position)] = true;
  };
  GenerateResult result;
  if (Status s = rt::generate(*runner, *compiled, prompts, generate, result); !s.ok())
    return Status(s.code(), "the compiled package: " + s.message());
  if (std::find(seen.begin(), seen.end(), false) != seen.end())
    return Status(StatusCode::Internal, "the decode steps did not give every position's logits");
  OutputDifference d;
  d.name = logits + " (" + std::to_string(batch) + " x " + std::to_string(length) +
           " positions, step by step)";
  compare(got, want, options, d);
  out.push_back(d);
  return Status::okStatus();
}

} // namespace tessera::rt
