//===- Summary.cpp - what each rank of a package holds and does -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Summary.h"
#include "PlanNames.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <set>

using namespace tessera;

namespace {

void appendf(std::string &out, const char *format, ...) {
  va_list args, copy;
  va_start(args, format);
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n > 0) {
    size_t at = out.size();
    out.resize(at + size_t(n) + 1);
    std::vsnprintf(out.data() + at, size_t(n) + 1, format, args);
    out.resize(at + size_t(n));
  }
  va_end(args);
}


int64_t numel(const tpkg::Tensor *t) {
  int64_t n = 1;
  if (t->shape())
    for (int64_t d : *t->shape())
      n *= d;
  return n;
}

} // namespace

std::string tessera::describe(const tpkg::Tensor *t) {
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

static RankSummary summarize(const tpkg::Program *p, unsigned microbatches, bool lastStage) {
  RankSummary r;
  r.rank = int(p->rank());
  r.stage = p->stage();
  r.predictedSeconds = p->predicted_seconds();
  r.arenaBytes = p->arena_bytes();
  const auto *tensors = p->tensors();
  std::set<std::pair<int, uint64_t>> seen; // weights shared by views count once
  std::set<std::string> absent; // plan-only weights and training state, by name
  for (const tpkg::Tensor *t : *tensors) {
    if (t->storage() == tpkg::Storage::Arena)
      continue;
    bool byName = t->storage() == tpkg::Storage::Absent || t->storage() == tpkg::Storage::Zeros;
    bool fresh = byName
                     ? absent.insert(t->name() ? t->name()->str() : "").second
                     : seen.insert({int(t->storage()) * 65536 + int(t->file()), t->offset()})
                           .second;
    if (fresh)
      r.parameterBytes += t->size();
    if (fresh && t->storage() == tpkg::Storage::Zeros)
      r.optimizerBytes += t->size();
  }
  r.stateUpdates = p->state_updates() ? int(p->state_updates()->size()) : 0;
  auto bytes = [](const tpkg::Tensor *t) { return double(t->size()); };
  for (const tpkg::Kernel *k : *p->kernels()) {
    std::string op = k->op()->str();
    ++r.kernels[op];
    int number = k->location() ? layerOf(k->location()->str()) : -1;
    std::string layer = number >= 0 ? std::to_string(number) : "";
    if (!layer.empty()) {
      if (r.firstLayer.empty())
        r.firstLayer = layer;
      r.lastLayer = layer;
    }
    if (op == "all_reduce" || op == "all_gather")
      r.traffic[op] += bytes(tensors->Get(k->outputs()->Get(0))) * microbatches;
    else if (op == "reduce_scatter")
      r.traffic[op] += bytes(tensors->Get(k->inputs()->Get(0))) * microbatches;
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
      // dims = [B, H, Hkv, S, T, D, Dv] where the operands are strided views
      // (the head transposes folded away); else the [B, H, S, D] shapes.
      std::vector<double> dims;
      if (k->attrs())
        for (const tpkg::Attr *a : *k->attrs())
          if (a->name()->str() == "dims" && a->ints() && a->ints()->size() == 7)
            dims.assign(a->ints()->begin(), a->ints()->end());
      const tpkg::Tensor *q = in(0), *key = in(1);
      if (dims.empty() && q->shape()->size() == 4 && key->shape()->size() == 4 &&
          out->shape()->size() == 4)
        dims = {double(q->shape()->Get(0)), double(q->shape()->Get(1)), 0,
                double(q->shape()->Get(2)), double(key->shape()->Get(2)),
                double(q->shape()->Get(3)), double(out->shape()->Get(3))};
      if (!dims.empty())
        r.flops += 2.0 * dims[0] * dims[1] * dims[3] * dims[4] * (dims[5] + dims[6]);
    }
  }
  for (uint32_t i = 0; i < p->inputs()->size(); ++i) {
    r.inputs.push_back(describe(tensors->Get(p->inputs()->Get(i))));
    if (p->held_inputs())
      for (const tpkg::HeldInput *h : *p->held_inputs())
        if (h->input() == i)
          r.inputs.back() += " (held in the package: each replica and micro-batch takes its "
                             "block of a batch-sized constant)";
  }
  for (uint32_t id : *p->outputs()) {
    r.outputs.push_back(describe(tensors->Get(id)));
    if (!lastStage)
      r.traffic["send"] += bytes(tensors->Get(id)) * microbatches;
  }
  return r;
}

std::string tessera::jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}


std::vector<RankSummary> tessera::summarizeRanks(const tpkg::Package &plan,
                                                 std::vector<const tpkg::Program *> *prefills) {
  unsigned stages = std::max(1u, plan.stages()), micro = std::max(1u, plan.microbatches());
  std::vector<RankSummary> ranks;
  std::map<uint32_t, size_t> segmented; // rank -> its row
  for (const tpkg::Program *p : *plan.programs()) {
    std::string role = p->role() ? p->role()->str() : "";
    if (role.rfind("train:", 0) == 0) {
      // A pipelined training step's segments: one row per rank, their
      // kernels, work and traffic summed, the largest arena and weights.
      RankSummary one = summarize(p, micro, p->stage() + 1 == stages);
      auto [it, fresh] = segmented.try_emplace(p->rank(), ranks.size());
      if (fresh) {
        ranks.push_back(std::move(one));
        continue;
      }
      RankSummary &row = ranks[it->second];
      row.predictedSeconds += one.predictedSeconds;
      row.flops += one.flops;
      for (const auto &[kind, bytes] : one.traffic)
        row.traffic[kind] += bytes;
      for (const auto &[op, n] : one.kernels)
        row.kernels[op] += n;
      row.parameterBytes = std::max(row.parameterBytes, one.parameterBytes);
      row.optimizerBytes = std::max(row.optimizerBytes, one.optimizerBytes);
      row.stateUpdates += one.stateUpdates;
      row.arenaBytes = std::max(row.arenaBytes, one.arenaBytes);
      continue;
    }
    if (!role.empty()) {
      if (prefills)
        prefills->push_back(p);
      continue;
    }
    ranks.push_back(summarize(p, micro, p->stage() + 1 == stages));
  }
  return ranks;
}

std::string tessera::inspectJson(const rt::Package &package, const std::string &path) {
  const tpkg::Package *plan = package.plan();
  std::vector<unsigned> mesh;
  if (plan->mesh())
    mesh.assign(plan->mesh()->begin(), plan->mesh()->end());
  unsigned stages = std::max(1u, plan->stages()), micro = std::max(1u, plan->microbatches());
  std::vector<RankSummary> ranks = summarizeRanks(*plan);
  const tpkg::Prediction *predicted = plan->prediction();
  std::string out;
  appendf(out, "{\n  \"schema\": \"tessera-inspect/1\",\n  \"package\": %s,\n",
              jsonString(path).c_str());
  appendf(out, "  \"producer\": %s,\n  \"mesh\": [",
              jsonString(plan->producer() ? plan->producer()->str() : "").c_str());
  for (size_t i = 0; i < mesh.size(); ++i)
    appendf(out, "%s%u", i ? ", " : "", mesh[i]);
  appendf(out, "],\n  \"stages\": %u,\n  \"microbatches\": %u,\n", stages, micro);
  if (predicted)
    appendf(out, "  \"prediction\": {\"cluster\": %s, \"objective\": %s, "
                "\"batch_seconds\": %.9g, \"compute_seconds\": %.9g, "
                "\"communication_seconds\": %.9g, \"bubble_seconds\": %.9g},\n",
                jsonString(predicted->cluster() ? predicted->cluster()->str() : "").c_str(),
                jsonString(predicted->objective() ? predicted->objective()->str() : "").c_str(),
                predicted->batch_seconds(), predicted->compute_seconds(),
                predicted->communication_seconds(), predicted->bubble_seconds());
  appendf(out, "  \"ranks\": [\n");
  for (size_t i = 0; i < ranks.size(); ++i) {
    const RankSummary &r = ranks[i];
    appendf(out, "    {\"rank\": %d, \"stage\": %u, \"predicted_seconds\": %.9g, "
                "\"parameter_bytes\": %llu, \"activation_bytes\": %llu, ",
                r.rank, r.stage, r.predictedSeconds, (unsigned long long)r.parameterBytes,
                (unsigned long long)r.arenaBytes);
    if (r.stateUpdates && plan->generation())
      appendf(out, "\"kv_cache_bytes\": %llu, \"state_updates\": %d, ",
                  (unsigned long long)r.optimizerBytes, r.stateUpdates);
    else if (r.stateUpdates)
      appendf(out, "\"optimizer_state_bytes\": %llu, \"state_updates\": %d, ",
                  (unsigned long long)r.optimizerBytes, r.stateUpdates);
    appendf(out, "\"flops\": %.0f, \"traffic_bytes\": {", r.flops);
    size_t t = 0;
    for (const auto &[kind, b] : r.traffic)
      appendf(out, "%s%s: %.0f", t++ ? ", " : "", jsonString(kind).c_str(), b);
    appendf(out, "}, \"kernels\": {");
    size_t k = 0;
    for (const auto &[op, n] : r.kernels)
      appendf(out, "%s%s: %d", k++ ? ", " : "", jsonString(op).c_str(), n);
    appendf(out, "}}%s\n", i + 1 < ranks.size() ? "," : "");
  }
  appendf(out, "  ]\n}\n");
  return out;
}
