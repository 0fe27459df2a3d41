//===- tessera-inspect.cpp - what a package holds and will do -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   tessera-inspect model.tpkg [--json]
//
// The mesh, and per rank: inputs and outputs (with their split), parameter
// bytes, the activation arena (the memory plan's peak), FLOPs of the
// matrix products and attention, and the kernels by op. --json prints the
// same as a versioned JSON object (schema "tessera-inspect/1").
//
// Works from the package alone: no MLIR, no model files.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace tessera;

namespace {

struct RankSummary {
  int rank = 0;
  uint64_t parameterBytes = 0;
  uint64_t arenaBytes = 0;
  double flops = 0;
  std::map<std::string, int> kernels;
  std::vector<std::string> inputs, outputs;
};

int64_t numel(const tpkg::Tensor *t) {
  int64_t n = 1;
  if (t->shape())
    for (int64_t d : *t->shape())
      n *= d;
  return n;
}

std::string describe(const tpkg::Tensor *t) {
  static const char *names[] = {"f32", "f16", "bf16", "f64", "i8", "i32", "i64", "bool"};
  std::string s = (t->name() ? t->name()->str() : "?") + ": " +
                  names[std::min<int>(int(t->dtype()), 7)] + " ";
  if (t->shape())
    for (size_t i = 0; i < t->shape()->size(); ++i)
      s += (i ? "x" : "") + std::to_string(t->shape()->Get(uint32_t(i)));
  if (t->split_axis() >= 0)
    s += " (split on axis " + std::to_string(t->split_axis()) + " over the mesh)";
  return s;
}

RankSummary summarize(const tpkg::Program *p) {
  RankSummary r;
  r.rank = int(p->rank());
  r.arenaBytes = p->arena_bytes();
  const auto *tensors = p->tensors();
  std::set<std::pair<int, uint64_t>> seen; // weights shared by views count once
  std::set<std::string> absent;             // plan-only weights, by name
  for (const tpkg::Tensor *t : *tensors) {
    if (t->storage() == tpkg::Storage::Arena)
      continue;
    bool fresh = t->storage() == tpkg::Storage::Absent
                     ? absent.insert(t->name() ? t->name()->str() : "").second
                     : seen.insert({int(t->storage()) * 65536 + int(t->file()), t->offset()})
                           .second;
    if (fresh)
      r.parameterBytes += t->size();
  }
  for (const tpkg::Kernel *k : *p->kernels()) {
    std::string op = k->op()->str();
    ++r.kernels[op];
    auto in = [&](uint32_t i) { return tensors->Get(k->inputs()->Get(i)); };
    auto out = tensors->Get(k->outputs()->Get(0));
    if (op == "matmul") {
      const tpkg::Tensor *lhs = in(0);
      size_t rank = lhs->shape()->size();
      bool transposed = false;
      if (k->attrs())
        for (const tpkg::Attr *a : *k->attrs())
          if (a->name()->str() == "transpose_lhs" && a->ints() && a->ints()->size())
            transposed = a->ints()->Get(0) != 0;
      int64_t kdim = lhs->shape()->Get(uint32_t(transposed ? rank - 2 : rank - 1));
      r.flops += 2.0 * double(numel(out)) * double(kdim);
    } else if (op == "attention") {
      const tpkg::Tensor *q = in(0), *key = in(1);
      double scores = double(numel(out)) / double(out->shape()->Get(3)) *
                      double(key->shape()->Get(2));
      r.flops += 2.0 * scores * double(q->shape()->Get(3)) +
                 2.0 * scores * double(out->shape()->Get(3));
    }
  }
  for (uint32_t id : *p->inputs())
    r.inputs.push_back(describe(tensors->Get(id)));
  for (uint32_t id : *p->outputs())
    r.outputs.push_back(describe(tensors->Get(id)));
  return r;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

int main(int argc, char **argv) {
  std::string path;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0)
      json = true;
    else if (argv[i][0] != '-' && path.empty())
      path = argv[i];
    else {
      std::fprintf(stderr, "usage: tessera-inspect model.tpkg [--json]\n");
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: tessera-inspect model.tpkg [--json]\n");
    return 2;
  }
  std::shared_ptr<rt::Package> package;
  if (rt::Status s = rt::Package::open(path, package); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  const tpkg::Package *plan = package->plan();
  std::vector<unsigned> mesh;
  if (plan->mesh())
    mesh.assign(plan->mesh()->begin(), plan->mesh()->end());
  std::vector<RankSummary> ranks;
  for (const tpkg::Program *p : *plan->programs())
    ranks.push_back(summarize(p));

  if (json) {
    std::printf("{\n  \"schema\": \"tessera-inspect/1\",\n  \"package\": %s,\n",
                jsonString(path).c_str());
    std::printf("  \"producer\": %s,\n  \"mesh\": [",
                jsonString(plan->producer() ? plan->producer()->str() : "").c_str());
    for (size_t i = 0; i < mesh.size(); ++i)
      std::printf("%s%u", i ? ", " : "", mesh[i]);
    std::printf("],\n  \"ranks\": [\n");
    for (size_t i = 0; i < ranks.size(); ++i) {
      const RankSummary &r = ranks[i];
      std::printf("    {\"rank\": %d, \"parameter_bytes\": %llu, \"activation_bytes\": %llu, "
                  "\"flops\": %.0f, \"kernels\": {",
                  r.rank, (unsigned long long)r.parameterBytes,
                  (unsigned long long)r.arenaBytes, r.flops);
      size_t k = 0;
      for (const auto &[op, n] : r.kernels)
        std::printf("%s%s: %d", k++ ? ", " : "", jsonString(op).c_str(), n);
      std::printf("}}%s\n", i + 1 < ranks.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
    return 0;
  }

  std::printf("package %s (format %u, %s)\n", path.c_str(), rt::kPackageFormatVersion,
              plan->producer() ? plan->producer()->c_str() : "");
  std::printf("mesh: [");
  for (size_t i = 0; i < mesh.size(); ++i)
    std::printf("%s%u", i ? ", " : "", mesh[i]);
  std::printf("] (%zu rank%s)\n", ranks.size(), ranks.size() == 1 ? "" : "s");
  if (!ranks.empty()) {
    std::printf("inputs:\n");
    for (const std::string &s : ranks[0].inputs)
      std::printf("  %s\n", s.c_str());
    std::printf("outputs:\n");
    for (const std::string &s : ranks[0].outputs)
      std::printf("  %s\n", s.c_str());
  }
  std::printf("%-5s %16s %16s %14s %8s\n", "rank", "parameters (B)", "activations (B)",
              "GFLOP", "kernels");
  for (const RankSummary &r : ranks) {
    int kernels = 0;
    for (const auto &[op, n] : r.kernels)
      kernels += n;
    std::printf("%-5d %16llu %16llu %14.3f %8d\n", r.rank,
                (unsigned long long)r.parameterBytes, (unsigned long long)r.arenaBytes,
                r.flops / 1e9, kernels);
  }
  if (!ranks.empty()) {
    std::printf("kernels of rank 0:");
    for (const auto &[op, n] : ranks[0].kernels)
      std::printf(" %s x%d", op.c_str(), n);
    std::printf("\n");
  }
  return 0;
}
