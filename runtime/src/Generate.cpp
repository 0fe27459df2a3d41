//===- Generate.cpp - text generation with a decode package ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Generate.h"
#include "tessera/runtime/Roles.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/MeshRunner.h"

#include "tessera/runtime/tpkg_generated.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <string>

namespace tessera::rt {

Sampler::Sampler(const SamplingOptions &options)
    : options_(options), state_(options.seed ^ 0x9e3779b97f4a7c15ull) {}

/// splitmix64: the same numbers on every platform for a seed.
double Sampler::uniform() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

std::vector<double> Sampler::distribution(const float *logits, int64_t vocab) const {
  std::vector<double> p(static_cast<size_t>(vocab), 0.0);
  if (vocab <= 0)
    return p;
  if (options_.temperature <= 0) {
    p[size_t(std::max_element(logits, logits + vocab) - logits)] = 1.0;
    return p;
  }
  // Hugging Face's order: temperature, top-k, top-p, then softmax.
  std::vector<double> scaled(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i)
    scaled[size_t(i)] = double(logits[i]) / options_.temperature;
  std::vector<int64_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scaled[size_t(a)] > scaled[size_t(b)]; });
  size_t keep = size_t(vocab);
  if (options_.topK > 0 && options_.topK < vocab) {
    // Ties with the k-th logit stay, as torch.topk's threshold keeps them.
    double threshold = scaled[size_t(order[size_t(options_.topK - 1)])];
    keep = size_t(options_.topK);
    while (keep < size_t(vocab) && scaled[size_t(order[keep])] >= threshold)
      ++keep;
  }
  double top = scaled[size_t(order[0])];
  std::vector<double> e(keep);
  double sum = 0;
  for (size_t i = 0; i < keep; ++i)
    sum += e[i] = std::exp(scaled[size_t(order[i])] - top);
  if (options_.topP < 1.0) {
    // Keep the most likely tokens until their mass reaches top_p: Hugging
    // Face drops the tokens whose ascending cumulative mass is <= 1 - top_p.
    double cumulative = 0;
    size_t n = 0;
    while (n < keep) {
      cumulative += e[n] / sum;
      ++n;
      if (cumulative >= options_.topP)
        break;
    }
    keep = std::max<size_t>(n, 1);
    sum = 0;
    for (size_t i = 0; i < keep; ++i)
      sum += e[i];
  }
  for (size_t i = 0; i < keep; ++i)
    p[size_t(order[i])] = e[i] / sum;
  return p;
}

int64_t Sampler::next(const float *logits, int64_t vocab) {
  if (options_.temperature <= 0)
    return int64_t(std::max_element(logits, logits + vocab) - logits);
  std::vector<double> p = distribution(logits, vocab);
  double u = uniform(), cumulative = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[size_t(i)] <= 0)
      continue;
    cumulative += p[size_t(i)];
    last = i;
    if (u < cumulative)
      return i;
  }
  return last;
}

std::vector<int64_t> prefillLengths(const Package &package, int rank) {
  std::vector<int64_t> out;
  if (package.plan() && package.plan()->programs())
    for (const tpkg::Program *p : *package.plan()->programs()) {
      std::string role = p->role() ? p->role()->str() : "";
      if (auto prefill = roles::PrefillRole::parse(role);
          prefill && int(p->rank()) == rank && prefill->length > 0)
        out.push_back(prefill->length);
    }
  return out;
}

bool isGenerationPackage(const Package &package) {
  return package.plan() && package.plan()->generation();
}

namespace {

/// Element `i` of an integer, float or boolean tensor set to `value`.
void store(HostTensor &t, int64_t i, int64_t value) {
  switch (t.dtype) {
  case DType::I64: reinterpret_cast<int64_t *>(t.data.data())[i] = value; break;
  case DType::I32: reinterpret_cast<int32_t *>(t.data.data())[i] = int32_t(value); break;
  case DType::F32: reinterpret_cast<float *>(t.data.data())[i] = float(value); break;
  case DType::Bool:
  case DType::I8: t.data[size_t(i)] = uint8_t(value != 0); break;
  default: break;
  }
}

HostTensor filled(const TensorInfo &info, int64_t value) {
  HostTensor t;
  t.dtype = info.dtype;
  t.shape = info.shape;
  int64_t n = t.numElements();
  t.data.resize(size_t(n) * dtypeSize(info.dtype));
  for (int64_t i = 0; i < n; ++i)
    store(t, i, value);
  return t;
}

/// One session: the package's only rank.
class SessionRunner : public DecodeRunner {
public:
  explicit SessionRunner(Session &s) : s_(s) {}
  const std::vector<TensorInfo> &inputs() const override { return s_.inputs(); }
  const std::vector<TensorInfo> &outputs() const override { return s_.outputs(); }
  Status setInput(const std::string &name, const HostTensor &value) override {
    return s_.setInput(name, value);
  }
  Status run() override { return s_.run(); }
  Status getOutput(const std::string &name, HostTensor &out) override {
    return s_.getOutput(name, out);
  }
  Status resetState() override { return zeroState(s_); }
  std::vector<Session *> rankSessions() override { return {&s_}; }

  static Status zeroState(Session &s) {
    for (const std::string &name : s.stateNames()) {
      HostTensor t;
      if (Status st = s.getState(name, t); !st.ok())
        return st;
      std::fill(t.data.begin(), t.data.end(), uint8_t(0));
      if (Status st = s.setState(name, t); !st.ok())
        return st;
    }
    return Status::okStatus();
  }

private:
  Session &s_;
};

/// Every rank of a partitioned package as threads: each step runs each
/// rank's stage (one micro-batch) with the pipeline executor; inputs enter
/// at the first stage, outputs leave the last.
class RanksRunner : public DecodeRunner {
public:
  RanksRunner(std::vector<Session *> sessions) : sessions_(std::move(sessions)) {}

  Status init(const Package &package, std::vector<Communicator *> comms,
              const std::string &role) {
    if (meshPosition(package, 0).microbatches != 1)
      return Status(StatusCode::Unimplemented,
                    "generation runs pipelines with one micro-batch (compile with "
                    "--microbatches 1)");
    return MeshRunner::create(package, sessions_, std::move(comms), mesh_, nullptr, role);
  }

  const std::vector<TensorInfo> &inputs() const override { return mesh_->inputs(); }
  const std::vector<TensorInfo> &outputs() const override { return mesh_->outputs(); }
  Status setInput(const std::string &name, const HostTensor &value) override {
    return mesh_->setInput(name, value);
  }
  Status run() override { return mesh_->run(); }
  Status getOutput(const std::string &name, HostTensor &out) override {
    return mesh_->getOutput(name, out);
  }
  std::vector<Session *> rankSessions() override { return sessions_; }
  Status resetState() override {
    for (Session *s : sessions_)
      if (Status st = SessionRunner::zeroState(*s); !st.ok())
        return st;
    return Status::okStatus();
  }

private:
  std::vector<Session *> sessions_;
  std::unique_ptr<MeshRunner> mesh_;
};

} // namespace

std::unique_ptr<DecodeRunner> makeDecodeRunner(const Package &package,
                                               std::vector<Session *> sessions,
                                               std::vector<Communicator *> comms,
                                               const std::string &role) {
  if (sessions.size() == 1)
    return std::make_unique<SessionRunner>(*sessions[0]);
  auto runner = std::make_unique<RanksRunner>(std::move(sessions));
  if (!runner->init(package, std::move(comms), role).ok())
    return nullptr;
  return runner;
}

Status PromptPrograms::create(const std::shared_ptr<Package> &package,
                              const SessionOptions &options,
                              const std::vector<Communicator *> &comms,
                              std::unique_ptr<PromptPrograms> &out) {
  auto programs = std::unique_ptr<PromptPrograms>(new PromptPrograms());
  int ranks = package->meshSize();
  if (int(comms.size()) != ranks)
    return Status(StatusCode::InvalidArgument,
                  "prompt programs: " + std::to_string(comms.size()) +
                      " communicator(s) for a package of " + std::to_string(ranks) +
                      " rank(s)");
  // One session per rank running the programs of `role`, and a runner over them.
  auto addRunner = [&](const std::string &role, DecodeRunner *&runner,
                       Session *&single) -> Status {
    SessionOptions o = options;
    o.role = role;
    std::vector<Session *> sessions;
    for (int r = 0; r < ranks; ++r) {
      std::unique_ptr<Session> session;
      if (Status s = Session::create(package, r, session, o); !s.ok())
        return s;
      if (comms[size_t(r)])
        if (Status s = session->bindCommunicator(*comms[size_t(r)]); !s.ok())
          return s;
      sessions.push_back(session.get());
      programs->sessions_.push_back(std::move(session));
    }
    std::unique_ptr<DecodeRunner> made = makeDecodeRunner(*package, sessions, comms, role);
    if (!made)
      return Status(StatusCode::DataLoss,
                    package->path() + ": the " + role + " programs do not run as a mesh");
    runner = made.get();
    single = ranks == 1 ? sessions[0] : nullptr;
    programs->runners_.push_back(std::move(made));
    return Status::okStatus();
  };
  for (int64_t length : prefillLengths(*package, 0)) {
    PrefillSession prefill{length, nullptr, nullptr};
    if (Status s = addRunner(roles::PrefillRole{length}.str(), prefill.runner, prefill.session);
        !s.ok())
      return s;
    programs->list_.push_back(prefill);
  }
  Session *unused = nullptr;
  if (isEncoderDecoder(*package))
    if (Status s = addRunner(std::string(roles::kEncoderRole), programs->encoder_, unused);
        !s.ok())
      return s;
  out = std::move(programs);
  return Status::okStatus();
}

bool isEncoderDecoder(const Package &package) {
  return package.plan() && package.plan()->generation() &&
         package.plan()->generation()->encoder_output();
}

int64_t decoderStartToken(const Package &package) {
  return isEncoderDecoder(package) ? package.plan()->generation()->decoder_start() : 0;
}

Status generate(Session &session, const Package &package,
                const std::vector<std::vector<int64_t>> &prompts,
                const GenerateOptions &options, GenerateResult &result,
                const std::vector<PrefillSession> &prefills) {
  SessionRunner runner(session);
  return generate(runner, package, prompts, options, result, prefills);
}

namespace {

/// An encoder-decoder's encoder on the prompts (right-padded to its length,
/// masked), its output and mask given to the decode step.
Status runEncoder(DecodeRunner &encoder, DecodeRunner &step, const tpkg::Generation &g,
                  const std::string &path, const std::vector<std::vector<int64_t>> &prompts) {
  auto str = [](const flatbuffers::String *s) { return s ? s->str() : std::string(); };
  const TensorInfo *ids = findInfo(encoder.inputs(), str(g.encoder_ids()));
  const TensorInfo *mask =
      g.encoder_mask() ? findInfo(encoder.inputs(), str(g.encoder_mask())) : nullptr;
  if (!ids || ids->shape.size() != 2 || (g.encoder_mask() && (!mask || mask->shape != ids->shape)))
  {
    std::string names;
    for (const TensorInfo &i : encoder.inputs())
      names += (names.empty() ? "" : ", ") + i.name + " " + formatShape(i.shape);
    return Status(StatusCode::DataLoss, path + ": generation: an encoder program of unexpected "
                                               "inputs (" + names + ")");
  }
  int64_t batch = ids->shape[0], length = ids->shape[1];
  for (size_t b = 0; b < prompts.size(); ++b)
    if (int64_t(prompts[b].size()) > length)
      return Status(StatusCode::InvalidArgument,
                    "generation: prompt " + std::to_string(b) + " (" +
                        std::to_string(prompts[b].size()) + " tokens) is longer than the "
                        "encoder's " + std::to_string(length) +
                        " positions (compile with a larger --max-seq)");
  HostTensor tokens = filled(*ids, 0), ones = mask ? filled(*mask, 0) : HostTensor();
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<int64_t> &p = prompts[size_t(b) < prompts.size() ? size_t(b) : 0];
    for (size_t t = 0; t < p.size(); ++t) {
      store(tokens, b * length + int64_t(t), p[t]);
      if (mask)
        store(ones, b * length + int64_t(t), 1);
    }
  }
  if (Status s = encoder.setInput(ids->name, tokens); !s.ok())
    return s;
  if (mask)
    if (Status s = encoder.setInput(mask->name, ones); !s.ok())
      return s;
  if (Status s = encoder.run(); !s.ok())
    return s;
  HostTensor states;
  if (Status s = encoder.getOutput(str(g.encoder_output()), states); !s.ok())
    return s;
  if (Status s = step.setInput(str(g.encoder_states()), states); !s.ok())
    return s;
  if (g.encoder_states_mask())
    if (Status s = step.setInput(str(g.encoder_states_mask()), mask ? ones : filled(*ids, 1));
        !s.ok())
      return s;
  return Status::okStatus();
}

} // namespace

Status generate(DecodeRunner &session, const Package &package,
                const std::vector<std::vector<int64_t>> &inputPrompts,
                const GenerateOptions &options, GenerateResult &result,
                const std::vector<PrefillSession> &prefills, DecodeRunner *encoder) {
  const tpkg::Generation *g = package.plan() ? package.plan()->generation() : nullptr;
  if (!g || !g->ids() || !g->positions() || !g->logits())
    return Status(StatusCode::InvalidArgument,
                  package.path() + ": not a generation package (compile with --generate)");
  auto str = [](const flatbuffers::String *s) { return s ? s->str() : std::string(); };
  const TensorInfo *ids = findInfo(session.inputs(), str(g->ids()));
  const TensorInfo *positions = findInfo(session.inputs(), str(g->positions()));
  const TensorInfo *logits = findInfo(session.outputs(), str(g->logits()));
  const TensorInfo *mask = g->mask() ? findInfo(session.inputs(), str(g->mask())) : nullptr;
  const TensorInfo *positionIds =
      g->position_ids() ? findInfo(session.inputs(), str(g->position_ids())) : nullptr;
  int64_t batch = g->batch(), maxSeq = g->max_seq();
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, package.path() + ": generation: " + why);
  };
  if (!ids || !positions || !logits || (g->mask() && !mask) ||
      (g->position_ids() && !positionIds))
    return corrupt("an input or output it names is missing");
  if (ids->shape != std::vector<int64_t>{batch, 1} ||
      positions->shape != std::vector<int64_t>{batch} || logits->dtype != DType::F32 ||
      logits->shape.empty() || batch < 1 || maxSeq < 1)
    return corrupt("inputs or outputs of unexpected shapes");
  int64_t vocab = logits->shape.back();
  int64_t logitCount = 1;
  for (int64_t d : logits->shape)
    logitCount *= d;
  if (vocab < 1 || logitCount != batch * vocab)
    return corrupt("logits are not one row per sequence");

  // An encoder-decoder: the encoder reads the prompts once; each decoder
  // starts from the start token.
  std::vector<std::vector<int64_t>> starts;
  bool encdec = g->encoder_output() != nullptr;
  if (encdec)
    starts.assign(inputPrompts.size(), {g->decoder_start()});
  const std::vector<std::vector<int64_t>> &prompts = encdec ? starts : inputPrompts;
  if (prompts.empty() || int64_t(prompts.size()) > batch)
    return Status(StatusCode::InvalidArgument,
                  "generation: " + std::to_string(prompts.size()) +
                      " prompt(s) for a package compiled for a batch of " +
                      std::to_string(batch) + " (--batch when compiling)");
  if (options.maxNewTokens < 1)
    return Status(StatusCode::InvalidArgument, "generation: no new tokens asked for");
  for (size_t b = 0; b < inputPrompts.size(); ++b) {
    if (inputPrompts[b].empty())
      return Status(StatusCode::InvalidArgument,
                    "generation: prompt " + std::to_string(b) + " is empty");
    for (int64_t t : inputPrompts[b])
      if (t < 0 || t >= vocab)
        return Status(StatusCode::InvalidArgument,
                      "generation: prompt " + std::to_string(b) + " has token " +
                          std::to_string(t) + ", outside the vocabulary of " +
                          std::to_string(vocab));
  }
  if (encdec) {
    if (!encoder)
      return Status(StatusCode::InvalidArgument,
                    package.path() + ": an encoder-decoder's package: generation needs its "
                                     "encoder program (PromptPrograms::encoder())");
    if (Status s = runEncoder(*encoder, session, *g, package.path(), inputPrompts); !s.ok())
      return s;
  }
  size_t longest = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    for (int64_t t : prompts[b])
      if (t < 0 || t >= vocab)
        return Status(StatusCode::InvalidArgument,
                      "generation: prompt " + std::to_string(b) + " has token " +
                          std::to_string(t) + ", outside the vocabulary of " +
                          std::to_string(vocab));
    int64_t needed = int64_t(prompts[b].size()) + options.maxNewTokens - 1;
    if (needed > maxSeq)
      return Status(StatusCode::InvalidArgument,
                    "generation: prompt " + std::to_string(b) + " (" +
                        std::to_string(prompts[b].size()) + " tokens) and " +
                        std::to_string(options.maxNewTokens) + " new tokens need " +
                        std::to_string(needed) + " positions, the package's KV cache holds " +
                        std::to_string(maxSeq) +
                        " (compile with a larger --max-seq, or ask for fewer tokens)");
    longest = std::max(longest, prompts[b].size());
  }

  std::vector<Sampler> samplers;
  for (size_t b = 0; b < size_t(batch); ++b) {
    SamplingOptions o = options.sampling;
    o.seed = options.sampling.seed + b; // each sequence its own stream
    samplers.emplace_back(o);
  }
  result = GenerateResult();
  result.tokens.assign(prompts.size(), {});
  size_t n = prompts.size();
  std::vector<bool> done(n, false);
  std::vector<int64_t> pos(n, 0), next(n, 0);
  for (size_t b = 0; b < n; ++b)
    next[b] = prompts[b][0];
  // A token from sequence b's logits; true when the sequence is done.
  auto take = [&](size_t b, const float *row) {
    int64_t token = samplers[b].next(row, vocab);
    result.tokens[b].push_back(token);
    if (options.onToken)
      options.onToken(b, token);
    next[b] = token;
    done[b] = int64_t(result.tokens[b].size()) >= options.maxNewTokens ||
              std::find(options.stopIds.begin(), options.stopIds.end(), token) !=
                  options.stopIds.end();
  };

  // The prompt in one run: the smallest prefill length that holds the
  // longest prompt, else the longest (the rest goes step by step).
  const PrefillSession *prefill = nullptr;
  size_t ranks = session.rankSessions().size();
  for (const PrefillSession &p : prefills) {
    // A single session's, or a runner over as many ranks as the decode step.
    if ((!p.runner && (!p.session || ranks != 1)) || p.length < 1 ||
        (p.runner && p.runner->rankSessions().size() != ranks))
      continue;
    bool fits = p.length >= int64_t(longest);
    bool chosenFits = prefill && prefill->length >= int64_t(longest);
    if (!prefill || (fits && (!chosenFits || p.length < prefill->length)) ||
        (!fits && !chosenFits && p.length > prefill->length))
      prefill = &p;
  }
  HostTensor out;
  if (prefill) {
    std::unique_ptr<DecodeRunner> wrapped;
    if (!prefill->runner)
      wrapped = std::make_unique<SessionRunner>(*prefill->session);
    DecodeRunner &ps = prefill->runner ? *prefill->runner : *wrapped;
    const TensorInfo *pIds = findInfo(ps.inputs(), ids->name);
    const TensorInfo *pLast = g->last_positions() ? findInfo(ps.inputs(), str(g->last_positions()))
                                                  : nullptr;
    const TensorInfo *pLogits = findInfo(ps.outputs(), logits->name);
    int64_t length = prefill->length;
    if (!pIds || !pLast || !pLogits || pIds->shape != std::vector<int64_t>{batch, length} ||
        pLast->shape != std::vector<int64_t>{batch} || pLogits->shape != logits->shape ||
        (pIds->dtype != DType::I64 && pIds->dtype != DType::I32))
      return corrupt("a prefill program of unexpected inputs or outputs");
    HostTensor tokens = filled(*pIds, 0), last = filled(*pLast, 0);
    for (size_t b = 0; b < size_t(batch); ++b) {
      const std::vector<int64_t> &p = prompts[b < n ? b : 0];
      int64_t used = std::min<int64_t>(int64_t(p.size()), length);
      for (int64_t t = 0; t < used; ++t)
        store(tokens, int64_t(b) * length + t, p[size_t(t)]);
      store(last, int64_t(b), used - 1);
    }
    for (const TensorInfo &info : ps.inputs()) {
      HostTensor value = info.name == pIds->name    ? tokens
                         : info.name == pLast->name ? last
                         : filled(info, 1);
      if (g->position_ids() && info.name == str(g->position_ids()))
        for (int64_t i = 0; i < value.numElements(); ++i)
          store(value, i, i % length);
      if (Status s = ps.setInput(info.name, value); !s.ok())
        return s;
    }
    double start = Session::now();
    if (Status s = ps.run(); !s.ok())
      return s;
    if (Status s = ps.getOutput(pLogits->name, out); !s.ok())
      return s;
    // The decode step continues from the prompt's caches, rank by rank.
    std::vector<Session *> from = ps.rankSessions(), to = session.rankSessions();
    for (size_t r = 0; r < ranks; ++r)
      for (const std::string &name : to[r]->stateNames()) {
        HostTensor t;
        if (Status s = from[r]->getState(name, t); !s.ok())
          return s;
        if (Status s = to[r]->setState(name, t); !s.ok())
          return s;
      }
    result.promptSeconds += Session::now() - start;
    ++result.promptSteps;
    const float *rows = reinterpret_cast<const float *>(out.data.data());
    for (size_t b = 0; b < n; ++b) {
      if (int64_t(prompts[b].size()) <= length) {
        pos[b] = int64_t(prompts[b].size());
        take(b, rows + int64_t(b) * vocab);
      } else {
        pos[b] = length;
        next[b] = prompts[b][size_t(length)];
      }
    }
  } else {
    // A fresh cache, the prompt step by step.
    if (Status s = session.resetState(); !s.ok())
      return s;
  }
  if (mask)
    if (Status s = session.setInput(mask->name, filled(*mask, 1)); !s.ok())
      return s;

  // Decode steps: every sequence feeds its next token at its own position;
  // one still in its prompt feeds the prompt's next token.
  if (ids->dtype != DType::I64 && ids->dtype != DType::I32)
    return corrupt("token ids are not int32/int64");
  HostTensor idsIn = filled(*ids, 0), posIn = filled(*positions, 0);
  HostTensor posIdsIn = positionIds ? filled(*positionIds, 0) : HostTensor();
  while (std::find(done.begin(), done.end(), false) != done.end()) {
    for (size_t b = 0; b < size_t(batch); ++b) {
      size_t s = b < n ? b : 0; // rows beyond the prompts repeat the first
      int64_t p = std::min(pos[s], maxSeq - 1);
      store(idsIn, int64_t(b), next[s]);
      store(posIn, int64_t(b), p);
      if (positionIds)
        store(posIdsIn, int64_t(b), p);
    }
    if (Status s = session.setInput(ids->name, idsIn); !s.ok())
      return s;
    if (Status s = session.setInput(positions->name, posIn); !s.ok())
      return s;
    if (positionIds)
      if (Status s = session.setInput(positionIds->name, posIdsIn); !s.ok())
        return s;
    double start = Session::now();
    if (Status s = session.run(); !s.ok())
      return s;
    if (Status s = session.getOutput(logits->name, out); !s.ok())
      return s;
    double seconds = Session::now() - start;
    const float *rows = reinterpret_cast<const float *>(out.data.data());
    int64_t produced = 0;
    for (size_t b = 0; b < n; ++b) {
      if (done[b])
        continue;
      if (options.onLogits)
        options.onLogits(b, pos[b], rows + int64_t(b) * vocab, vocab);
      if (pos[b] + 1 < int64_t(prompts[b].size())) {
        next[b] = prompts[b][size_t(pos[b] + 1)];
      } else {
        take(b, rows + int64_t(b) * vocab);
        ++produced;
      }
      ++pos[b];
    }
    (produced ? result.decodeSeconds : result.promptSeconds) += seconds;
    ++(produced ? result.decodeSteps : result.promptSteps);
    result.decodeTokens += produced;
  }
  return Status::okStatus();
}

} // namespace tessera::rt
