//===- module.cpp - the tessera Python package's native module ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// `tessera._tessera`: the compiler (tessera-compile in this process, its
// messages captured) and the runtime (packages, every rank of a package as
// threads, generation, training steps) for the Python layer in
// tessera/__init__.py, which holds the public API. Runtime failures raise
// ValueError (the caller's input) or RuntimeError; nothing here exits or
// aborts the interpreter.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileOptions.h"
#include "Summary.h"

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Generate.h"
#include "tessera/runtime/MeshRunner.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/TokenData.h"
#include "tessera/runtime/Validation.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <unistd.h>

namespace nb = nanobind;
using namespace tessera;
using namespace tessera::rt;

namespace {

void check(const Status &s) {
  if (s.ok())
    return;
  if (s.code() == StatusCode::InvalidArgument || s.code() == StatusCode::NotFound)
    throw nb::value_error(s.message().c_str());
  throw std::runtime_error(s.message());
}

/// Runs the compile `options` describe with its stdout and stderr captured.
std::pair<int, std::string> compileCaptured(const CompileOptions &options) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::FILE *log = std::tmpfile();
  if (!log)
    throw std::runtime_error("cannot create a temporary file for the compiler's messages");
  int savedOut = dup(1), savedErr = dup(2);
  dup2(fileno(log), 1);
  dup2(fileno(log), 2);
  int code;
  {
    nb::gil_scoped_release release;
    code = tessera::compile(options);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(savedOut, 1);
  dup2(savedErr, 2);
  close(savedOut);
  close(savedErr);
  std::string text;
  std::rewind(log);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), log)) > 0)
    text.append(buffer, n);
  std::fclose(log);
  return {code, text};
}

/// CompileOptions to Python: each field under its tessera-compile option's
/// name with underscores (`max_seq` is --max-seq), so that keyword arguments
/// of tessera.compile set them by name.
void bindCompileOptions(nb::module_ &m) {
  using O = CompileOptions;
  nb::class_<O>(m, "CompileOptions")
      .def(nb::init<>())
      .def_rw("input", &O::input)
      .def_rw("input_shape", &O::inputShapes)
      .def_rw("dim", &O::dims)
      .def_rw("batch", &O::batch)
      .def_rw("seq", &O::seq)
      .def_rw("allow_newer_opset", &O::allowNewerOpset)
      .def_rw("plan_only", &O::planOnly)
      .def_rw("train", &O::train)
      .def_rw("loss", &O::loss)
      .def_rw("logits", &O::logits)
      .def_rw("labels", &O::labels)
      .def_rw("optimizer", &O::optimizer)
      .def_rw("lr", &O::lr)
      .def_rw("betas", &O::betas)
      .def_rw("eps", &O::eps)
      .def_rw("dropout_seed", &O::dropoutSeed)
      .def_rw("weight_decay", &O::weightDecay)
      .def_rw("momentum", &O::momentum)
      .def_rw("dampening", &O::dampening)
      .def_rw("nesterov", &O::nesterov)
      .def_rw("clip_grad_norm", &O::clipGradNorm)
      .def_rw("lr_schedule", &O::lrSchedule)
      .def_rw("warmup_steps", &O::warmupSteps)
      .def_rw("total_steps", &O::totalSteps)
      .def_rw("frozen", &O::frozen)
      .def_rw("tie", &O::ties)
      .def_rw("untie", &O::untie)
      .def_rw("grad_inputs", &O::gradInputs)
      .def_rw("generate", &O::generate)
      .def_rw("max_seq", &O::maxSeq)
      .def_rw("prefill", &O::prefill)
      .def_rw("ids_input", &O::idsInput)
      .def_rw("mask_input", &O::maskInput)
      .def_rw("position_ids_input", &O::positionIdsInput)
      .def_rw("target", &O::target)
      .def_rw("dtype", &O::dtype)
      .def_rw("no_gemm_epilogues", &O::noGemmEpilogues)
      .def_rw("no_attention_views", &O::noAttentionViews)
      .def_rw("no_graph_fusion", &O::noGraphFusion)
      .def_rw("cuda_arch", &O::cudaArchs)
      .def_rw("weights", &O::weights)
      .def_rw("mesh", &O::mesh)
      .def_rw("devices", &O::devices)
      .def_rw("cluster", &O::cluster)
      .def_rw("cluster_given", &O::clusterGiven)
      .def_rw("objective", &O::objective)
      .def_rw("shard", &O::shardHints)
      .def_rw("microbatches", &O::microbatches)
      .def_rw("microbatch_size", &O::microbatchSize)
      .def_rw("grad_bucket_mb", &O::gradBucketMb)
      .def_rw("zero", &O::zero)
      .def_rw("recompute", &O::recompute)
      .def_rw("pipeline_split", &O::pipelineSplit)
      .def_rw("explain", &O::explain)
      .def_rw("output", &O::output)
      .def_rw("verify", &O::verify)
      .def_rw("verify_rtol", &O::verifyRtol)
      .def_rw("verify_atol", &O::verifyAtol)
      .def_rw("producer", &O::producer);
}

using Spec = std::tuple<std::string, std::string, std::vector<int64_t>>;

std::vector<Spec> specs(const std::vector<TensorInfo> &infos) {
  std::vector<Spec> out;
  for (const TensorInfo &info : infos)
    out.emplace_back(info.name, std::string(dtypeName(info.dtype)), info.shape);
  return out;
}

nb::dlpack::dtype dlpackOf(DType dtype) {
  switch (dtype) {
  case DType::F32: return nb::dtype<float>();
  case DType::F64: return nb::dtype<double>();
  case DType::I8: return nb::dtype<int8_t>();
  case DType::I32: return nb::dtype<int32_t>();
  case DType::I64: return nb::dtype<int64_t>();
  case DType::Bool: return nb::dtype<bool>();
  case DType::F16: return {uint8_t(nb::dlpack::dtype_code::Float), 16, 1};
  case DType::BF16: return {uint8_t(nb::dlpack::dtype_code::Bfloat), 16, 1};
  }
  return nb::dtype<float>();
}

/// A NumPy array owning `t`'s memory (no copy).
nb::object toArray(HostTensor &&t) {
  auto *owned = new HostTensor(std::move(t));
  nb::capsule owner(owned, [](void *p) noexcept { delete static_cast<HostTensor *>(p); });
  std::vector<size_t> shape(owned->shape.begin(), owned->shape.end());
  return nb::cast(nb::ndarray<nb::numpy>(owned->data.data(), shape.size(), shape.data(), owner,
                                         nullptr, dlpackOf(owned->dtype)));
}

/// `array` (C-contiguous, from the Python layer) as a tensor of `info`'s
/// dtype; the Python layer has converted the element type already.
HostTensor fromArray(const nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu> &array,
                     const TensorInfo &info) {
  if (array.dtype() != dlpackOf(info.dtype))
    throw nb::value_error(("input '" + info.name + "' must have element type " +
                           std::string(dtypeName(info.dtype)))
                              .c_str());
  HostTensor t;
  t.dtype = info.dtype;
  for (size_t d = 0; d < array.ndim(); ++d)
    t.shape.push_back(int64_t(array.shape(d)));
  t.data.resize(array.nbytes());
  if (array.nbytes())
    std::memcpy(t.data.data(), array.data(), array.nbytes());
  return t;
}

struct PyPackage {
  std::shared_ptr<Package> package;
  std::string path;

  explicit PyPackage(const std::string &p) : path(p) {
    nb::gil_scoped_release release;
    check(Package::open(p, package));
  }
  int ranks() const { return package->meshSize(); }
  std::pair<std::vector<Spec>, std::vector<Spec>> describe() const {
    std::vector<TensorInfo> in, out;
    check(MeshRunner::describe(*package, in, out));
    return {specs(in), specs(out)};
  }
  std::string inspectJson(const std::string &shownPath) const {
    return tessera::inspectJson(*package, shownPath);
  }
  bool generation() const { return isGenerationPackage(*package); }
};

/// Every rank of a package as threads, one process.
struct PySession {
  std::shared_ptr<Package> package;
  std::unique_ptr<LocalGroup> group;
  std::vector<std::unique_ptr<Session>> sessions;
  std::unique_ptr<PromptPrograms> prompts;
  std::unique_ptr<MeshRunner> mesh;
  std::unique_ptr<DecodeRunner> decoder;
  std::unique_ptr<Validation> validation; ///< made at the first validation
  SessionOptions sessionOptions;

  PySession(const PyPackage &p, const std::string &backend, int threads) : package(p.package) {
    nb::gil_scoped_release release;
    int ranks = package->meshSize();
    if (ranks > 1)
      group = std::make_unique<LocalGroup>(ranks, std::chrono::milliseconds(600000));
    SessionOptions &options = sessionOptions;
    options.backend = backend;
    options.threads = threads; // every rank's runs, in the thread running it
    options.ranksOnHost = ranks; // they share this process's cores
    std::vector<Session *> all;
    std::vector<Communicator *> comms;
    for (int r = 0; r < ranks; ++r) {
      sessions.emplace_back();
      check(Session::create(package, r, sessions.back(), options));
      Communicator *comm = group ? &group->communicator(r) : nullptr;
      if (comm)
        check(sessions.back()->bindCommunicator(*comm));
      all.push_back(sessions.back().get());
      comms.push_back(comm);
    }
    check(MeshRunner::create(*package, all, comms, mesh, group.get()));
    if (isGenerationPackage(*package)) {
      check(PromptPrograms::create(package, options, comms, prompts));
      decoder = makeDecodeRunner(*package, all, comms);
      if (!decoder)
        throw std::runtime_error("generation runs tensor- and pipeline-parallel packages with "
                                 "one micro-batch");
    }
  }

  std::vector<Spec> inputs() const { return specs(mesh->inputs()); }
  std::vector<Spec> outputs() const { return specs(mesh->outputs()); }

  void setInput(const std::string &name,
                const nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu> &array) {
    const TensorInfo *info = findInfo(mesh->inputs(), name);
    if (!info) {
      check(mesh->setInput(name, HostTensor())); // the message lists the inputs
      return;
    }
    check(mesh->setInput(name, fromArray(array, *info)));
  }
  void run() {
    nb::gil_scoped_release release;
    check(mesh->run());
  }
  nb::object getOutput(const std::string &name) {
    HostTensor t;
    check(mesh->getOutput(name, t));
    return toArray(std::move(t));
  }

  void enableProfiling(bool on) {
    for (auto &s : sessions)
      s->enableProfiling(on);
  }
  std::vector<std::tuple<std::string, std::string, double, int64_t>> profile() const {
    std::vector<std::tuple<std::string, std::string, double, int64_t>> rows;
    for (const KernelProfile &p : sessions[0]->profile())
      rows.emplace_back(p.op, p.location, p.seconds, p.calls);
    return rows;
  }

  /// A training package's validation loss of one batch (its validation
  /// program on every rank, reading the current weights; no state changes).
  double validationLoss(
      const std::map<std::string, nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>> &batch) {
    if (!validation) {
      nb::gil_scoped_release release;
      check(Validation::create(package, *mesh, sessionOptions, validation));
    }
    std::map<std::string, HostTensor> tensors;
    for (const auto &[name, array] : batch) {
      const TensorInfo *info = findInfo(validation->inputs(), name);
      if (!info)
        throw nb::value_error(("the validation program has no input named '" + name + "'").c_str());
      tensors[name] = fromArray(array, *info);
    }
    double loss = 0;
    {
      nb::gil_scoped_release release;
      check(validation->loss(tensors, loss));
    }
    return loss;
  }

  std::vector<std::string> stateNames() const { return sessions[0]->stateNames(); }
  /// Rank 0's state tensor `name` (a training step's "train.step").
  nb::object getState(const std::string &name) {
    HostTensor t;
    check(sessions[0]->getState(name, t));
    return toArray(std::move(t));
  }

  std::vector<std::vector<int64_t>> generate(const std::vector<std::vector<int64_t>> &prompts,
                                             int64_t maxNewTokens, double temperature,
                                             int64_t topK, double topP, uint64_t seed,
                                             const std::vector<int64_t> &stopIds) {
    if (!decoder)
      throw nb::value_error("generate() needs a package compiled for generation "
                            "(tessera.compile(..., generate=True, max_seq=N))");
    GenerateOptions options;
    options.maxNewTokens = maxNewTokens;
    options.stopIds = stopIds;
    options.sampling.temperature = temperature;
    options.sampling.topK = topK;
    options.sampling.topP = topP;
    options.sampling.seed = seed;
    GenerateResult result;
    {
      nb::gil_scoped_release release;
      check(rt::generate(*decoder, *package, prompts, options, result, this->prompts->list(),
                         this->prompts->encoder()));
    }
    return result.tokens;
  }
};

/// Training data (tessera-run --data's): windows of a token stream.
struct PyTokenData {
  std::unique_ptr<TokenData> data;

  PyTokenData(const std::vector<std::string> &files, const std::string &tokenizer,
              const std::string &binDType, bool shuffle, uint64_t seed) {
    TokenDataOptions options;
    options.files = files;
    options.tokenizer = tokenizer;
    options.binDType = binDType;
    options.shuffle = shuffle;
    options.seed = seed;
    check(TokenData::open(options, data));
  }
  int64_t size() const { return data->size(); }
  /// (input_ids, labels) of training step `step`: int64 [batch, seq].
  nb::tuple windows(int64_t step, int64_t batch, int64_t seq) const {
    if (step < 0 || batch < 1 || seq < 1 || data->size() < seq + 1)
      throw nb::value_error("windows(): a step >= 0 and a batch and sequence the stream holds");
    HostTensor x{DType::I64, {batch, seq}, std::vector<uint8_t>(size_t(batch * seq) * 8)};
    HostTensor y = x;
    data->windows(step, batch, seq, reinterpret_cast<int64_t *>(x.data.data()),
                  reinterpret_cast<int64_t *>(y.data.data()));
    return nb::make_tuple(toArray(std::move(x)), toArray(std::move(y)));
  }
  double epochs(int64_t steps, int64_t batch, int64_t seq) const {
    return data->epochs(steps, batch, seq);
  }
};

} // namespace

NB_MODULE(_tessera, m) {
  m.doc() = "Tessera's compiler and runtime (native part of the tessera package)";
  bindCompileOptions(m);
  m.def("compile", &compileCaptured, nb::arg("options"),
        "Runs the compile `options` describe; returns (exit code, its messages).");
  nb::class_<PyPackage>(m, "Package")
      .def(nb::init<const std::string &>(), nb::arg("path"))
      .def_prop_ro("ranks", &PyPackage::ranks)
      .def_prop_ro("generation", &PyPackage::generation)
      .def("describe", &PyPackage::describe)
      .def("inspect_json", &PyPackage::inspectJson, nb::arg("path"));
  nb::class_<PyTokenData>(m, "TokenData")
      .def(nb::init<const std::vector<std::string> &, const std::string &, const std::string &,
                    bool, uint64_t>(),
           nb::arg("files"), nb::arg("tokenizer"), nb::arg("bin_dtype"), nb::arg("shuffle"),
           nb::arg("seed"))
      .def_prop_ro("size", &PyTokenData::size)
      .def("windows", &PyTokenData::windows, nb::arg("step"), nb::arg("batch"), nb::arg("seq"))
      .def("epochs", &PyTokenData::epochs, nb::arg("steps"), nb::arg("batch"), nb::arg("seq"));
  nb::class_<PySession>(m, "Session")
      .def(nb::init<const PyPackage &, const std::string &, int>(), nb::arg("package"),
           nb::arg("backend"), nb::arg("threads"))
      .def("inputs", &PySession::inputs)
      .def("outputs", &PySession::outputs)
      .def("set_input", &PySession::setInput, nb::arg("name"), nb::arg("array").noconvert())
      .def("run", &PySession::run)
      .def("get_output", &PySession::getOutput, nb::arg("name"))
      .def("enable_profiling", &PySession::enableProfiling, nb::arg("on"))
      .def("profile", &PySession::profile)
      .def("validation_loss", &PySession::validationLoss, nb::arg("batch"))
      .def("state_names", &PySession::stateNames)
      .def("get_state", &PySession::getState, nb::arg("name"))
      .def("generate", &PySession::generate, nb::arg("prompts"), nb::arg("max_new_tokens"),
           nb::arg("temperature"), nb::arg("top_k"), nb::arg("top_p"), nb::arg("seed"),
           nb::arg("stop_ids"));
}
