//===- Session.cpp - running one rank's program ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Creation (the CUDA path here, the CPU binding in SessionCpu.cpp), the
// graph's inputs and outputs, collectives and runs. Training state, pipeline
// segments and the environment's limits have files of their own
// (SessionImpl.h lists them).
//
//===----------------------------------------------------------------------===//

#include "SessionImpl.h"

#include "tessera/runtime/Roles.h"

#include "gpu/DeviceProgram.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <cerrno>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tessera::rt {

const TensorInfo *findInfo(const std::vector<TensorInfo> &infos, const std::string &name) {
  for (const TensorInfo &info : infos)
    if (info.name == name)
      return &info;
  return nullptr;
}


Session::~Session() = default;


Status Session::create(std::shared_ptr<Package> package, int rank,
                       std::unique_ptr<Session> &out, const SessionOptions &options) {
  const tpkg::Package *plan = package->plan();
  const tpkg::Program *program = findProgram(plan, rank, options.role);
  if (!program && options.role.empty() && !segmentsOf(plan, rank).empty())
    return createSegmented(package, rank, out, options);
  if (!program)
    return Status(StatusCode::InvalidArgument,
                  package->path() + ": no program for rank " + std::to_string(rank) +
                      (options.role.empty() ? "" : " with role '" + options.role + "'"));
  if (!program->tensors() || !program->kernels())
    return Status(StatusCode::DataLoss, package->path() + ": the program of rank " +
                                            std::to_string(rank) +
                                            " has no tensor or kernel list");
  for (const tpkg::Kernel *k : *program->kernels())
    if (!k->op())
      return Status(StatusCode::DataLoss,
                    package->path() + ": a kernel of rank " + std::to_string(rank) +
                        " has no op name");
  std::unique_ptr<Session> session(new Session());
  session->package_ = package;
  if (Status s = placeThreads(options.threads, options.ranksOnHost, session->placement_); !s.ok())
    return s;
  session->threads_ = session->placement_.threadsPerRank;
  // Ranks of this process with several threads each take turns in BLAS.
  session->blasShared_ = options.ranksOnHost > 1 && session->threads_ > 1;
  if (Status s = configureCpuPaths(); !s.ok())
    return s;
#ifdef _OPENMP
  // Kernels prepared below (library GEMMs) plan their work for this count.
  if (session->threads_ > 0)
    omp_set_num_threads(session->threads_);
#endif
  if (options.backend != "cpu") {
    std::unique_ptr<gpu::Device> device;
    if (options.backend == "cuda") {
      if (Status s = gpu::createCudaDevice(options.device >= 0 ? options.device : -1 - rank, device); !s.ok())
        return s;
    } else if (options.backend == "cuda-host") {
      if (Status s = gpu::createHostDevice(device); !s.ok())
        return s;
    } else {
      return Status(StatusCode::InvalidArgument,
                    "unknown backend '" + options.backend + "' (cpu, cuda, cuda-host)");
    }
    if (Status s = gpu::DeviceProgram::create(*package, *program, std::move(device),
                                              session->device_, options.randomWeights);
        !s.ok())
      return s;
    if (Status s = describe(*package, rank, session->inputs_, session->outputs_, options.role);
        !s.ok())
      return s;
    if (Status s = session->bindHeldInputs(*program); !s.ok())
      return s;
    session->arenaBytes_ = program->arena_bytes();
    for (const tpkg::Kernel *k : *program->kernels())
      session->profile_.push_back(
          {k->op()->str(), k->location() ? k->location()->str() : "", 0, 0});
    out = std::move(session);
    return Status::okStatus();
  }
  if (Status s = bindCpu(package, rank, *program, options, *session); !s.ok())
    return s;
  if (Status s = describe(*package, rank, session->inputs_, session->outputs_, options.role);
      !s.ok())
    return s;
  if (Status s = session->bindHeldInputs(*program); !s.ok())
    return s;
  out = std::move(session);
  return Status::okStatus();
}

Status Session::describe(const Package &package, int rank, std::vector<TensorInfo> &inputs,
                         std::vector<TensorInfo> &outputs, const std::string &role) {
  if (role.empty() && !findProgram(package.plan(), rank, role)) {
    std::vector<Segment> segments = segmentsOf(package.plan(), rank);
    if (!segments.empty()) {
      // The step's inputs and results, whichever segments take and give them.
      inputs.clear();
      outputs.clear();
      for (const Segment &seg : segments) {
        std::vector<TensorInfo> in, out;
        if (Status s = describe(package, rank, in, out, seg.role); !s.ok())
          return s;
        const tpkg::Program *p = findProgram(package.plan(), rank, seg.role);
        for (const TensorInfo &info : in)
          if (!roles::isValue(info.name) && !findInfo(inputs, info.name))
            inputs.push_back(info);
        for (size_t i = 0; i < out.size(); ++i) {
          bool state = false;
          if (p->state_updates())
            for (const tpkg::StateUpdate *u : *p->state_updates())
              state |= u->value() == p->outputs()->Get(uint32_t(i));
          if (!state && !roles::isValue(out[i].name) && !findInfo(outputs, out[i].name))
            outputs.push_back(out[i]);
        }
      }
      return Status::okStatus();
    }
  }
  const tpkg::Program *program = findProgram(package.plan(), rank, role);
  if (!program || !program->tensors())
    return Status(StatusCode::InvalidArgument,
                  package.path() + ": no program for rank " + std::to_string(rank));
  auto list = [&](const flatbuffers::Vector<uint32_t> *ids,
                  std::vector<TensorInfo> &infos) -> Status {
    infos.clear();
    if (!ids)
      return Status::okStatus();
    for (uint32_t index = 0; index < ids->size(); ++index) {
      uint32_t id = ids->Get(index);
      if (ids == program->inputs() && program->held_inputs() &&
          std::any_of(program->held_inputs()->begin(), program->held_inputs()->end(),
                      [&](const tpkg::HeldInput *h) { return h->input() == index; }))
        continue; // the package holds it

      if (id >= program->tensors()->size())
        return Status(StatusCode::DataLoss,
                      package.path() + ": graph input/output names a missing tensor");
      const tpkg::Tensor *t = program->tensors()->Get(id);
      if (uint8_t(t->dtype()) > uint8_t(DType::Bool))
        return Status(StatusCode::DataLoss,
                      package.path() + ": tensor with an unknown element type");
      TensorInfo info{t->name() ? t->name()->str() : "", DType(t->dtype()), {},
                      t->split_axis()};
      if (t->shape())
        info.shape.assign(t->shape()->begin(), t->shape()->end());
      infos.push_back(std::move(info));
    }
    return Status::okStatus();
  };
  if (Status s = list(program->inputs(), inputs); !s.ok())
    return s;
  return list(program->outputs(), outputs);
}

std::string Session::deviceName() const {
  return device_ ? device_->device().name() : std::string();
}

Status Session::setInput(const std::string &name, const HostTensor &value) {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].name != name)
      continue;
    const TensorInfo &info = inputs_[i];
    if (value.dtype != info.dtype || value.shape != info.shape)
      return Status(StatusCode::InvalidArgument,
                    "input '" + name + "' must be " +
                        std::string(dtypeName(info.dtype)) + " " +
                        formatShape(info.shape) + ", got " +
                        std::string(dtypeName(value.dtype)) + " " +
                        formatShape(value.shape));
    return setSlot(inputSlots_[i], value);
  }
  std::string names;
  for (const TensorInfo &info : inputs_)
    names += (names.empty() ? "" : ", ") + info.name;
  return Status(StatusCode::NotFound,
                "no input named '" + name + "' (inputs: " + names + ")");
}

Status Session::setSlot(size_t slot, const HostTensor &value) {
  if (device_)
    return device_->setInput(slot, value);
  const cpu::TensorRef &ref = impl_->tensors[size_t(impl_->inputIds[slot])];
  if (!value.data.empty()) // an empty input (a past of no positions) has nothing to copy
    std::memcpy(ref.data, value.data.data(), value.data.size());
  return Status::okStatus();
}

Status Session::bindHeldInputs(const tpkg::Program &program) {
  size_t count = program.inputs() ? program.inputs()->size() : 0;
  std::vector<bool> held(count, false);
  if (program.held_inputs())
    for (const tpkg::HeldInput *h : *program.held_inputs()) {
      const auto *tensors = program.tensors();
      if (h->input() >= count || !tensors || h->data() >= tensors->size())
        return Status(StatusCode::DataLoss,
                      package_->path() + ": a held input names a missing tensor");
      const tpkg::Tensor *local = tensors->Get(program.inputs()->Get(h->input()));
      const tpkg::Tensor *whole = tensors->Get(h->data());
      if (whole->storage() != tpkg::Storage::Data || local->dtype() != whole->dtype() ||
          whole->offset() + whole->size() > package_->dataSize())
        return Status(StatusCode::DataLoss, package_->path() + ": held input '" +
                                                (local->name() ? local->name()->str() : "") +
                                                "' has no data of its type");
      HeldInput in;
      in.slot = h->input();
      in.local.name = local->name() ? local->name()->str() : "";
      in.local.dtype = DType(local->dtype());
      if (local->shape())
        in.local.shape.assign(local->shape()->begin(), local->shape()->end());
      in.whole = package_->data() + whole->offset();
      in.wholeBytes = size_t(whole->size());
      held[h->input()] = true;
      held_.push_back(std::move(in));
    }
  inputSlots_.clear();
  for (size_t i = 0; i < count; ++i)
    if (!held[i])
      inputSlots_.push_back(i);
  if (inputSlots_.size() != inputs_.size())
    return Status(StatusCode::DataLoss, package_->path() + ": inputs and held inputs disagree");
  return Status::okStatus();
}

Status Session::selectChunk(int chunk, int chunks) {
  for (Segment &seg : segments_)
    if (Status s = seg.session->selectChunk(chunk, chunks); !s.ok())
      return s;
  for (const HeldInput &in : held_) {
    HostTensor t;
    t.dtype = in.local.dtype;
    t.shape = in.local.shape;
    size_t bytes = size_t(t.numElements()) * dtypeSize(t.dtype);
    if (chunks < 1 || chunk < 0 || chunk >= chunks || bytes * size_t(chunks) != in.wholeBytes)
      return Status(StatusCode::InvalidArgument,
                    "held input '" + in.local.name + "' (" + formatShape(in.local.shape) +
                        " per chunk, " + std::to_string(in.wholeBytes) +
                        " bytes in all) does not split into " + std::to_string(chunks) +
                        " chunks of the batch");
    t.data.assign(in.whole + size_t(chunk) * bytes, in.whole + size_t(chunk + 1) * bytes);
    if (Status s = setSlot(in.slot, t); !s.ok())
      return s;
  }
  heldSelected_ = true;
  return Status::okStatus();
}

bool Session::hasCollectives() const {
  for (const Segment &seg : segments_)
    if (seg.session->hasCollectives())
      return true;
  if (device_)
    return device_->hasCollectives();
  if (!impl_)
    return false;
  for (const cpu::KernelCall &call : impl_->calls)
    if (cpu::isCollective(call.kernel->op()->str()))
      return true;
  return false;
}

Status Session::bindCommunicator(Communicator &world) {
  for (const Segment &seg : segments_)
    if (Status s = seg.session->bindCommunicator(world); !s.ok())
      return s;
  if (device_)
    return device_->bindCommunicator(world);
  if (!impl_)
    return Status::okStatus();
  std::vector<const tpkg::Kernel *> kernels;
  for (const cpu::KernelCall &call : impl_->calls)
    kernels.push_back(call.kernel);
  std::vector<Communicator *> comms;
  if (Status s = cpu::bindGroups(world, kernels, impl_->groups, comms); !s.ok())
    return s;
  for (size_t i = 0; i < comms.size(); ++i)
    impl_->calls[i].comm = comms[i];
  // Where each asynchronous all-reduce is waited for: before the first
  // later kernel that reads any byte of its result.
  impl_->waitBefore.clear();
  impl_->waitAtEnd.clear();
  for (size_t k = 0; k < impl_->calls.size(); ++k) {
    const cpu::KernelCall &call = impl_->calls[k];
    if (!call.comm || !call.attrInt("async", 0) || call.outputs.size() != 1)
      continue;
    if (impl_->waitBefore.empty())
      impl_->waitBefore.resize(impl_->calls.size());
    const uint8_t *begin = call.outputs[0].data,
                  *end = begin + call.outputs[0].bytes();
    size_t reader = k + 1;
    for (; reader < impl_->calls.size(); ++reader)
      if (std::any_of(impl_->calls[reader].inputs.begin(),
                      impl_->calls[reader].inputs.end(),
                      [&](const cpu::TensorRef &t) {
                        return t.data < end && begin < t.data + t.bytes();
                      }))
        break;
    (reader < impl_->calls.size() ? impl_->waitBefore[reader]
                                  : impl_->waitAtEnd)
        .push_back({call.comm, begin});
  }
  return Status::okStatus();
}

double Session::now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status Session::run(std::vector<KernelSpan> *spans) {
  if (!impl_ && !device_)
    return Status(StatusCode::InvalidArgument,
                  "this rank runs a pipelined training step as segments: run it with "
                  "runTrainingPipelineRank (tessera-run --train)");
  if (!held_.empty() && !heldSelected_)
    return Status(StatusCode::InvalidArgument,
                  "the program holds batch-sized inputs ('" + held_[0].local.name +
                      "'): its runner must select the chunk of the batch (Session::selectChunk)");
  if (device_)
    return device_->run(spans, profiling_ ? &profile_ : nullptr);
#ifdef _OPENMP
  if (threads_ > 0 && omp_get_max_threads() != threads_)
    omp_set_num_threads(threads_);
#endif
  cpu::setBlasShared(blasShared_);
  cpu::setParallelGrain(placement_.oversubscribed()
                            ? double(placement_.ranksOnHost * placement_.threadsPerRank) /
                                  double(std::max(1, placement_.cores))
                            : 1.0);
  const bool async = !impl_->waitBefore.empty();
  for (size_t k = 0; k < impl_->calls.size(); ++k) {
    auto start = std::chrono::steady_clock::now();
    if (async)
      for (auto [comm, buffer] : impl_->waitBefore[k])
        if (Status s = comm->wait(buffer); !s.ok())
          return impl_->calls[k].error("waiting for an all-reduce it reads: " +
                                       s.message());
    if (Status s = impl_->fns[k](impl_->calls[k]); !s.ok())
      return s;
    if (profiling_ || spans) {
      auto end = std::chrono::steady_clock::now();
      std::chrono::duration<double> dt = end - start;
      if (profiling_) {
        profile_[k].seconds += dt.count();
        ++profile_[k].calls;
      }
      if (spans)
        spans->push_back(
            {k, std::chrono::duration<double>(start.time_since_epoch()).count(),
             std::chrono::duration<double>(end.time_since_epoch()).count()});
    }
  }
  for (auto [comm, buffer] : impl_->waitAtEnd)
    if (Status s = comm->wait(buffer); !s.ok())
      return s;
  // A training step: the updated weights and optimizer state replace the old.
  for (auto [state, value] : impl_->updates)
    if (state != value)
      std::memcpy(impl_->tensors[state].data, impl_->tensors[value].data,
                  impl_->tensors[state].bytes());
  return Status::okStatus();
}

Status Session::getOutput(const std::string &name, HostTensor &out) const {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].name != name)
      continue;
    if (device_)
      return device_->getOutput(i, out);
    const cpu::TensorRef &ref = impl_->tensors[size_t(impl_->outputIds[i])];
    out.dtype = ref.dtype;
    out.shape = ref.shape;
    out.data.assign(ref.data, ref.data + ref.numel() * int64_t(dtypeSize(ref.dtype)));
    return Status::okStatus();
  }
  return Status(StatusCode::NotFound, "no output named '" + name + "'");
}

} // namespace tessera::rt
