//===- SessionCpu.cpp - binding a program to the CPU backend --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "SessionImpl.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace tessera::rt {

namespace {

/// What the CPU backend cannot run (fp16/bf16 tensors), and what the session
/// will allocate, checked against the memory limit before anything is: the
/// arena and the training state (a hostile or mistaken package may declare
/// any size). Sets `needed` and `limit`.
Status checkCpuProgram(const std::shared_ptr<Package> &package, int rank,
                       const tpkg::Program *program, const SessionOptions &options,
                       uint64_t &needed, uint64_t &limit) {
  const tpkg::Package *plan = package->plan();
  if (plan->target() && plan->target()->str() == "cuda")
    for (const tpkg::Tensor *t : *program->tensors())
      if (DType(t->dtype()) == DType::BF16 || DType(t->dtype()) == DType::F16)
        return Status(StatusCode::InvalidArgument,
                      package->path() + " holds " + std::string(dtypeName(DType(t->dtype()))) +
                          " tensors (compiled with --dtype): run it with the CUDA backend "
                          "(--backend cuda); the CPU backend computes in fp32");
  needed = program->arena_bytes();
  if (program->tensors())
    for (const tpkg::Tensor *t : *program->tensors()) {
      uint64_t elements = 1;
      if (t->shape())
        for (int64_t d : *t->shape())
          if (d < 0 || __builtin_mul_overflow(elements, uint64_t(d), &elements))
            return Status(StatusCode::DataLoss, package->path() + ": tensor '" +
                                                    (t->name() ? t->name()->str() : "?") +
                                                    "' has an invalid shape");
      uint64_t bytes;
      if (uint8_t(t->dtype()) > uint8_t(DType::Bool) ||
          __builtin_mul_overflow(elements, uint64_t(dtypeSize(DType(t->dtype()))), &bytes) ||
          (t->storage() == tpkg::Storage::Zeros &&
           __builtin_add_overflow(needed, bytes, &needed)))
        return Status(StatusCode::DataLoss, package->path() + ": tensor '" +
                                                (t->name() ? t->name()->str() : "?") +
                                                "' has an invalid type or size");
    }
  if (program->state_updates())
    for (const tpkg::StateUpdate *u : *program->state_updates())
      if (program->tensors() && u->state() < program->tensors()->size())
        needed += program->tensors()->Get(u->state())->size(); // writable copies
  limit = memoryLimit(options);
  if (needed > limit)
    return Status(StatusCode::InvalidArgument,
                  package->path() + ": rank " + std::to_string(rank) + " needs " +
                      std::to_string(needed) + " bytes (activation arena and training state), " +
                      "over the memory limit of " + std::to_string(limit) +
                      " bytes (raise it with --max-memory or TESSERA_MAX_MEMORY)");
  return Status::okStatus();
}

/// The arena (or the rank's shared one), every tensor's bytes (arena,
/// stored weights, zero-initialised state) and the state the segments of a
/// pipelined rank share.
Status bindTensors(const std::shared_ptr<Package> &package, int rank,
                   const tpkg::Program *program, const SessionOptions &options,
                   Session::Impl &impl) {
  impl.program = program;
  uint64_t arenaBytes = program->arena_bytes();
  if (options.sharedState && options.sharedState->arena &&
      arenaBytes <= options.sharedState->arenaBytes) {
    // A pipeline segment: one run at a time, what crosses segments copied
    // out, so the rank's segments share one arena.
    impl.arena = options.sharedState->arena;
    impl.ownsArena = false;
  } else {
    impl.arena = static_cast<uint8_t *>(
        std::aligned_alloc(kPackageAlignment,
                           (std::max<uint64_t>(arenaBytes, 1) + kPackageAlignment - 1) /
                               kPackageAlignment * kPackageAlignment));
  }
  if (!impl.arena)
    return Status(StatusCode::Internal, "cannot allocate a " +
                                            std::to_string(arenaBytes) +
                                            "-byte activation arena");
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, package->path() + ": " + why);
  };
  for (const tpkg::Tensor *t : *program->tensors()) {
    cpu::TensorRef ref;
    ref.dtype = DType(t->dtype());
    if (uint8_t(ref.dtype) > uint8_t(DType::Bool))
      return corrupt("tensor with an unknown element type");
    if (t->shape())
      ref.shape.assign(t->shape()->begin(), t->shape()->end());
    uint64_t bytes = ref.bytes();
    if (t->storage() == tpkg::Storage::Absent)
      return Status(StatusCode::Unimplemented,
                    package->path() + ": weight '" +
                        (t->name() ? t->name()->str() : "?") +
                        "' is absent: this is a plan-only package (compiled "
                        "without the model's weights); inspect it, or compile "
                        "with the weights to run it");
    if (t->storage() == tpkg::Storage::Zeros) {
      // Training state: zeros, kept writable by the session; views of it
      // (same name and size) read the same bytes.
      bool found = false;
      for (size_t j = 0; j < impl.tensors.size() && t->name(); ++j) {
        const tpkg::Tensor *other = program->tensors()->Get(uint32_t(j));
        if (other->storage() == tpkg::Storage::Zeros && other->name() &&
            other->name()->str() == t->name()->str() && impl.tensors[j].bytes() == bytes) {
          ref.data = impl.tensors[j].data;
          found = true;
          break;
        }
      }
      if (found || (options.sharedState && t->name() &&
                    options.sharedState->names.count(t->name()->str()))) {
        impl.tensors.push_back(ref); // (the rank's shared copy, bound below)
        continue;
      }
      auto *zeros = static_cast<uint8_t *>(std::aligned_alloc(
          kPackageAlignment, (bytes + kPackageAlignment - 1) / kPackageAlignment *
                                     kPackageAlignment + kPackageAlignment));
      if (!zeros)
        return Status(StatusCode::Internal, "out of memory for training state");
      std::memset(zeros, 0, bytes);
      impl.copies.push_back(zeros);
      ref.data = zeros;
      impl.tensors.push_back(ref);
      continue;
    }
    if (t->storage() == tpkg::Storage::Arena) {
      if (bytes != t->size() || t->offset() > arenaBytes || bytes > arenaBytes - t->offset())
        return corrupt("tensor '" + (t->name() ? t->name()->str() : "?") +
                       "' lies outside its storage");
      ref.data = impl.arena + t->offset();
    } else {
      const uint8_t *stored = nullptr;
      if (Status s = package->storedBytes(*t, bytes, stored); !s.ok())
        return s;
      ref.data = const_cast<uint8_t *>(stored);
    }
    if (t->storage() == tpkg::Storage::External &&
        reinterpret_cast<uintptr_t>(ref.data) % kPackageAlignment) {
      // Kernels may assume aligned weights; copy the rare unaligned one.
      auto *copy = static_cast<uint8_t *>(std::aligned_alloc(
          kPackageAlignment, (bytes + kPackageAlignment - 1) / kPackageAlignment *
                                 kPackageAlignment + kPackageAlignment));
      if (!copy)
        return Status(StatusCode::Internal, "out of memory copying a weight");
      std::memcpy(copy, ref.data, bytes);
      impl.copies.push_back(copy);
      ref.data = copy;
    }
    impl.tensors.push_back(ref);
  }
  size_t count = impl.tensors.size();
  impl.shared.assign(count, false);
  if (options.sharedState)
    for (size_t i = 0; i < count; ++i) {
      const tpkg::Tensor *t = program->tensors()->Get(uint32_t(i));
      if (t->storage() == tpkg::Storage::Arena || !t->name() ||
          !options.sharedState->names.count(t->name()->str()))
        continue;
      uint64_t bytes = impl.tensors[i].bytes();
      auto &buffer = options.sharedState->buffers[t->name()->str()];
      if (!buffer.first) {
        buffer.second = bytes;
        buffer.first = static_cast<uint8_t *>(std::aligned_alloc(
            kPackageAlignment,
            (bytes + kPackageAlignment - 1) / kPackageAlignment * kPackageAlignment +
                kPackageAlignment));
        if (!buffer.first)
          return Status(StatusCode::Internal, "out of memory for training state");
        if (impl.tensors[i].data)
          std::memcpy(buffer.first, impl.tensors[i].data, bytes);
        else
          std::memset(buffer.first, 0, bytes);
      } else if (buffer.second != bytes) {
        return corrupt("the segments of rank " + std::to_string(rank) + " hold state '" +
                       t->name()->str() + "' in different sizes");
      }
      impl.tensors[i].data = buffer.first;
      impl.shared[i] = true;
    }
  return Status::okStatus();
}

/// Every kernel resolved to the CPU backend's function, its operands bound,
/// and prepared (weights packed once where they never change).
Status bindKernels(const std::shared_ptr<Package> &package, const tpkg::Program *program,
                   uint64_t needed, uint64_t limit, Session::Impl &impl,
                   std::vector<KernelProfile> &profile) {
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, package->path() + ": " + why);
  };
  size_t count = impl.tensors.size();
  const cpu::KernelTable &table = cpu::cpuKernels();
  const auto &prepares = cpu::cpuPrepareFunctions();
  // Stored weights no run writes: not training state (nor a view sharing a
  // state's writable copy). Kernels may repack these once.
  std::vector<bool> constant(count, false);
  for (size_t id = 0; id < count; ++id) {
    auto storage = program->tensors()->Get(uint32_t(id))->storage();
    constant[id] = storage == tpkg::Storage::Data || storage == tpkg::Storage::External;
  }
  for (auto [state, value] : impl.updates)
    for (size_t id = 0; id < count; ++id)
      if (impl.tensors[id].data == impl.tensors[state].data)
        constant[id] = false;
  for (size_t id = 0; id < count; ++id)
    if (impl.shared[id])
      constant[id] = false; // another segment writes it
  for (const tpkg::Kernel *k : *program->kernels()) {
    auto it = table.find(k->op()->str());
    if (it == table.end())
      return Status(StatusCode::Unimplemented,
                    "the CPU backend has no kernel for '" + k->op()->str() + "'");
    cpu::KernelCall call;
    call.kernel = k;
    for (auto list : {k->inputs(), k->outputs()}) {
      if (!list)
        continue;
      for (uint32_t id : *list)
        if (id >= count)
          return corrupt("kernel '" + k->op()->str() + "' names tensor " +
                         std::to_string(id) + " of " + std::to_string(count));
    }
    if (k->outputs())
      for (uint32_t id : *k->outputs()) {
        // Kernels write the arena and state the session keeps writable,
        // never the package's mapped bytes.
        auto storage = program->tensors()->Get(id)->storage();
        bool state = std::any_of(impl.updates.begin(), impl.updates.end(),
                                 [&](const auto &u) { return u.first == id; });
        if (storage != tpkg::Storage::Arena && storage != tpkg::Storage::Zeros && !state)
          return corrupt("kernel '" + k->op()->str() + "' writes stored tensor " +
                         std::to_string(id));
      }
    if (k->inputs())
      for (uint32_t id : *k->inputs())
        call.inputs.push_back(impl.tensors[id]);
    if (k->outputs())
      for (uint32_t id : *k->outputs())
        call.outputs.push_back(impl.tensors[id]);
    if (auto prepare = prepares.find(k->op()->str()); prepare != prepares.end()) {
      cpu::PrepareContext context;
      context.package = package.get();
      context.packBudget = limit - needed;
      if (k->inputs())
        for (uint32_t id : *k->inputs())
          context.constant.push_back(constant[id]);
      if (Status s = prepare->second(call, context); !s.ok())
        return s;
    }
    impl.calls.push_back(std::move(call));
    impl.fns.push_back(it->second);
    profile.push_back(
        {k->op()->str(), k->location() ? k->location()->str() : "", 0, 0});
  }
  return Status::okStatus();
}

} // namespace

Status Session::bindCpu(const std::shared_ptr<Package> &package, int rank,
                        const tpkg::Program &program, const SessionOptions &options,
                        Session &session) {
  uint64_t needed = 0, limit = 0;
  if (Status s = checkCpuProgram(package, rank, &program, options, needed, limit); !s.ok())
    return s;
  auto impl = std::make_unique<Impl>();
  if (Status s = bindTensors(package, rank, &program, options, *impl); !s.ok())
    return s;
  if (Status s = bindState(*package, program, *impl); !s.ok())
    return s;
  session.arenaBytes_ = program.arena_bytes();
  if (Status s = bindKernels(package, &program, needed, limit, *impl, session.profile_); !s.ok())
    return s;
  if (program.inputs())
    impl->inputIds.assign(program.inputs()->begin(), program.inputs()->end());
  if (program.outputs())
    impl->outputIds.assign(program.outputs()->begin(), program.outputs()->end());
  session.impl_ = std::move(impl);
  return Status::okStatus();
}

} // namespace tessera::rt
