//===- tessera-run.cpp - run a compiled package ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   tessera-run model.tpkg [--input NAME=FILE.npy]... [--output NAME=FILE.npy]...
//               [--check NAME=FILE.npy]... [--rtol R] [--atol A]
//               [--test-data DIR] [--repeat N] [--profile]
//
// Tensor files are NumPy .npy or ONNX TensorProto .pb (by extension).
// Without --input, inputs are generated deterministically (integers 1, floats
// a fixed sinusoid). --check compares an output with a reference and fails
// when |out - ref| > atol + rtol * |ref| anywhere.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/TensorProto.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace tessera::rt;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: tessera-run model.tpkg [--input NAME=FILE.npy]... "
               "[--output NAME=FILE.npy]... [--check NAME=FILE.npy]... "
               "[--test-data DIR] [--rtol R] [--atol A] [--repeat N] [--profile]\n");
  return 2;
}

bool splitSpec(const std::string &spec, std::string &name, std::string &file) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return false;
  name = spec.substr(0, eq);
  file = spec.substr(eq + 1);
  return true;
}

HostTensor generated(const TensorInfo &info) {
  HostTensor t;
  t.dtype = info.dtype;
  t.shape = info.shape;
  int64_t n = t.numElements();
  t.data.resize(size_t(n) * dtypeSize(t.dtype));
  for (int64_t i = 0; i < n; ++i) {
    double v = std::sin(0.37 * double(i)) * 0.5;
    switch (t.dtype) {
    case DType::F32: { float f = float(v); std::memcpy(&t.data[i * 4], &f, 4); break; }
    case DType::F64: std::memcpy(&t.data[i * 8], &v, 8); break;
    case DType::I64: { int64_t x = 1; std::memcpy(&t.data[i * 8], &x, 8); break; }
    case DType::I32: { int32_t x = 1; std::memcpy(&t.data[i * 4], &x, 4); break; }
    default: t.data[size_t(i) * dtypeSize(t.dtype)] = 1; break;
    }
  }
  return t;
}

double element(const HostTensor &t, int64_t i) {
  switch (t.dtype) {
  case DType::F32: { float f; std::memcpy(&f, &t.data[i * 4], 4); return f; }
  case DType::F64: { double d; std::memcpy(&d, &t.data[i * 8], 8); return d; }
  case DType::I64: { int64_t x; std::memcpy(&x, &t.data[i * 8], 8); return double(x); }
  case DType::I32: { int32_t x; std::memcpy(&x, &t.data[i * 4], 4); return double(x); }
  case DType::I8: return double(int8_t(t.data[i]));
  case DType::Bool: return t.data[i] ? 1.0 : 0.0;
  default: return std::nan("");
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string packagePath;
  std::map<std::string, std::string> inputs, outputs, checks;
  double rtol = 1e-4, atol = 1e-4;
  int repeat = 1;
  bool profile = false;
  std::string testData;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    std::string name, file;
    if (arg == "--input" || arg == "--output" || arg == "--check") {
      std::string spec = next();
      if (!splitSpec(spec, name, file)) {
        std::fprintf(stderr, "error: %s '%s' is not NAME=FILE\n", arg.c_str(), spec.c_str());
        return 2;
      }
      (arg == "--input" ? inputs : arg == "--output" ? outputs : checks)[name] = file;
    } else if (arg == "--test-data") {
      testData = next();
    } else if (arg == "--rtol") {
      rtol = std::atof(next().c_str());
    } else if (arg == "--atol") {
      atol = std::atof(next().c_str());
    } else if (arg == "--repeat") {
      repeat = std::max(1, std::atoi(next().c_str()));
    } else if (arg == "--profile") {
      profile = true;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "error: unknown option '%s'\n", arg.c_str());
      return usage();
    } else if (packagePath.empty()) {
      packagePath = arg;
    } else {
      return usage();
    }
  }
  if (packagePath.empty())
    return usage();

  auto check = [](const Status &s) {
    if (s.ok())
      return true;
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return false;
  };
  std::shared_ptr<Package> package;
  if (!check(Package::open(packagePath, package)))
    return 1;
  std::unique_ptr<Session> session;
  if (!check(Session::create(package, 0, session)))
    return 1;
  // ONNX test data: input_N.pb / output_N.pb, matched by the tensor's name
  // or else by position.
  if (!testData.empty()) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<TensorInfo> &infos =
          kind == 0 ? session->inputs() : session->outputs();
      for (size_t n = 0; n < infos.size(); ++n) {
        std::string file = testData + (kind == 0 ? "/input_" : "/output_") +
                           std::to_string(n) + ".pb";
        HostTensor t;
        std::string protoName;
        if (!check(readTensorProto(file, t, protoName)))
          return 1;
        std::string name = infos[n].name;
        for (const TensorInfo &info : infos)
          if (info.name == protoName)
            name = protoName;
        (kind == 0 ? inputs : checks)[name] = file;
      }
    }
  }
  for (const auto &[name, file] : inputs) {
    HostTensor t;
    if (!check(readTensorFile(file, t)) || !check(session->setInput(name, t)))
      return 1;
  }
  for (const TensorInfo &info : session->inputs())
    if (!inputs.count(info.name)) {
      if (!inputs.empty()) {
        std::fprintf(stderr, "error: no --input for '%s' (%s %s)\n", info.name.c_str(),
                     std::string(dtypeName(info.dtype)).c_str(),
                     formatShape(info.shape).c_str());
        return 1;
      }
      if (!check(session->setInput(info.name, generated(info))))
        return 1;
    }
  for (const auto &[name, file] : outputs) {
    bool known = false;
    for (const TensorInfo &info : session->outputs())
      known |= info.name == name;
    if (!known) {
      std::fprintf(stderr, "error: no output named '%s'\n", name.c_str());
      return 1;
    }
  }
  session->enableProfiling(profile);
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (!check(session->run()))
      return 1;
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  std::printf("ran %s: %d run(s), median %.3f ms, arena %llu bytes\n",
              packagePath.c_str(), repeat, times[times.size() / 2] * 1e3,
              (unsigned long long)session->arenaBytes());
  int status = 0;
  for (const TensorInfo &info : session->outputs()) {
    HostTensor out;
    if (!check(session->getOutput(info.name, out)))
      return 1;
    std::printf("output %s: %s %s", info.name.c_str(),
                std::string(dtypeName(out.dtype)).c_str(), formatShape(out.shape).c_str());
    for (int64_t i = 0; i < std::min<int64_t>(4, out.numElements()); ++i)
      std::printf("%s%g", i ? " " : " [", element(out, i));
    std::printf("%s\n", out.numElements() ? " ...]" : "");
    if (outputs.count(info.name) && !check(writeNpy(outputs[info.name], out)))
      return 1;
    if (checks.count(info.name)) {
      HostTensor ref;
      if (!check(readTensorFile(checks[info.name], ref)))
        return 1;
      if (ref.shape != out.shape || ref.dtype != out.dtype) {
        std::fprintf(stderr, "error: %s: reference %s %s, output %s %s\n", info.name.c_str(),
                     std::string(dtypeName(ref.dtype)).c_str(), formatShape(ref.shape).c_str(),
                     std::string(dtypeName(out.dtype)).c_str(), formatShape(out.shape).c_str());
        return 1;
      }
      double maxAbs = 0, maxRel = 0;
      int64_t bad = 0;
      for (int64_t i = 0; i < out.numElements(); ++i) {
        double o = element(out, i), e = element(ref, i), d = std::fabs(o - e);
        maxAbs = std::max(maxAbs, d);
        maxRel = std::max(maxRel, d / std::max(std::fabs(e), 1e-30));
        if (!(d <= atol + rtol * std::fabs(e)) && !(std::isnan(o) && std::isnan(e)))
          ++bad;
      }
      std::printf("check %s: %s (max |diff| %.3g, max rel %.3g, %lld of %lld outside "
                  "rtol %g atol %g)\n",
                  info.name.c_str(), bad ? "FAIL" : "ok", maxAbs, maxRel, (long long)bad,
                  (long long)out.numElements(), rtol, atol);
      if (bad)
        status = 1;
    }
  }
  if (profile) {
    std::vector<KernelProfile> rows = session->profile();
    std::map<std::string, std::pair<double, int64_t>> byOp;
    double total = 0;
    for (const KernelProfile &p : rows) {
      byOp[p.op].first += p.seconds;
      byOp[p.op].second += p.calls;
      total += p.seconds;
    }
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> sorted(byOp.begin(), byOp.end());
    std::sort(sorted.begin(), sorted.end(),
              [](auto &a, auto &b) { return a.second.first > b.second.first; });
    std::printf("%-14s %10s %8s %7s\n", "kernel", "total ms", "calls", "share");
    for (auto &[op, v] : sorted)
      std::printf("%-14s %10.3f %8lld %6.1f%%\n", op.c_str(), v.first * 1e3,
                  (long long)v.second, total > 0 ? 100 * v.first / total : 0.0);
  }
  return status;
}
