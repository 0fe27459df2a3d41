//===- SessionState.cpp - a session's training state ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "SessionImpl.h"

#include "tessera/runtime/Roles.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace tessera::rt {

/// Training packages: every weight a step updates gets a writable copy that
/// all tensors reading the same stored bytes share (views included); each
/// update's value must be a graph output (alive after the run).
Status Session::bindState(const Package &package, const tpkg::Program &program, Impl &impl) {
  if (!program.state_updates())
    return Status::okStatus();
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, package.path() + ": " + why);
  };
  const auto *tensors = program.tensors();
  size_t count = impl.tensors.size();
  std::map<std::tuple<int, uint32_t, uint64_t>, uint8_t *> copies;
  for (const tpkg::StateUpdate *u : *program.state_updates()) {
    if (u->state() >= count || u->value() >= count)
      return corrupt("a state update names a missing tensor");
    const tpkg::Tensor *state = tensors->Get(u->state());
    const cpu::TensorRef &from = impl.tensors[u->value()], &to = impl.tensors[u->state()];
    if (from.dtype != to.dtype || from.shape != to.shape ||
        state->storage() == tpkg::Storage::Arena)
      return corrupt("state update of '" + (state->name() ? state->name()->str() : "?") +
                     "' does not match its value");
    bool inPlace = u->value() == u->state(); // a kernel writes the state itself
    if (!inPlace &&
        (!program.outputs() ||
         std::find(program.outputs()->begin(), program.outputs()->end(), u->value()) ==
             program.outputs()->end()))
      return corrupt("state update of '" + (state->name() ? state->name()->str() : "?") +
                     "' is not a graph output");
    impl.updates.push_back({u->state(), u->value()});
    if (state->storage() == tpkg::Storage::Zeros ||
        (u->state() < impl.shared.size() && impl.shared[u->state()]))
      continue; // already a writable buffer of its own (or the rank's)
    auto key = std::make_tuple(int(state->storage()), state->file(), state->offset());
    if (copies.count(key))
      continue;
    uint64_t bytes = to.bytes();
    auto *copy = static_cast<uint8_t *>(std::aligned_alloc(
        kPackageAlignment,
        (bytes + kPackageAlignment - 1) / kPackageAlignment * kPackageAlignment + kPackageAlignment));
    if (!copy)
      return Status(StatusCode::Internal, "out of memory for a trained weight");
    std::memcpy(copy, to.data, bytes);
    impl.copies.push_back(copy);
    copies[key] = copy;
  }
  for (size_t i = 0; i < count; ++i) {
    const tpkg::Tensor *t = tensors->Get(uint32_t(i));
    auto it = copies.find(std::make_tuple(int(t->storage()), t->file(), t->offset()));
    if (it != copies.end() && t->storage() != tpkg::Storage::Arena &&
        !(i < impl.shared.size() && impl.shared[i]))
      impl.tensors[i].data = it->second;
  }
  for (auto [state, value] : impl.updates)
    impl.stateNames.push_back(tensors->Get(state)->name() ? tensors->Get(state)->name()->str()
                                                          : "");
  return Status::okStatus();
}

std::vector<std::string> Session::stateNames() const {
  if (!segments_.empty()) {
    std::vector<std::string> names;
    for (const Segment &seg : segments_)
      for (const std::string &n : seg.session->stateNames())
        // Running sums over the micro-batches are scratch, zeroed each step.
        if (!roles::isAccumulator(n) &&
            std::find(names.begin(), names.end(), n) == names.end())
          names.push_back(n);
    return names;
  }
  return impl_ ? impl_->stateNames : std::vector<std::string>();
}

void Session::zeroAccumulators() {
  if (!shared_)
    return;
  for (auto &[name, buffer] : shared_->buffers)
    if (roles::isAccumulator(name))
      std::memset(buffer.first, 0, buffer.second);
}

Status Session::getState(const std::string &name, HostTensor &out) const {
  for (const Segment &seg : segments_)
    if (seg.session->getState(name, out).ok())
      return Status::okStatus();
  for (size_t i = 0; impl_ && i < impl_->stateNames.size(); ++i)
    if (impl_->stateNames[i] == name) {
      const cpu::TensorRef &ref = impl_->tensors[impl_->updates[i].first];
      out.dtype = ref.dtype;
      out.shape = ref.shape;
      out.data.assign(ref.data, ref.data + ref.bytes());
      return Status::okStatus();
    }
  return Status(StatusCode::NotFound, "no training state named '" + name + "'");
}

Status Session::setState(const std::string &name, const HostTensor &value) {
  for (const Segment &seg : segments_)
    if (Status s = seg.session->setState(name, value); s.code() != StatusCode::NotFound)
      return s; // the segments share the state: one write is all of them
  for (size_t i = 0; impl_ && i < impl_->stateNames.size(); ++i)
    if (impl_->stateNames[i] == name) {
      const cpu::TensorRef &ref = impl_->tensors[impl_->updates[i].first];
      if (value.dtype != ref.dtype || value.shape != ref.shape)
        return Status(StatusCode::InvalidArgument,
                      "training state '" + name + "' must be " +
                          std::string(dtypeName(ref.dtype)) + " " + formatShape(ref.shape) +
                          ", got " + std::string(dtypeName(value.dtype)) + " " +
                          formatShape(value.shape));
      std::memcpy(ref.data, value.data.data(), ref.bytes());
      return Status::okStatus();
    }
  return Status(StatusCode::NotFound, "no training state named '" + name + "'");
}

Status Session::createEval(std::shared_ptr<Package> package, int rank, Session &training,
                           std::unique_ptr<Session> &out, const SessionOptions &options) {
  if (options.backend != "cpu" || training.device_)
    return Status(StatusCode::Unimplemented,
                  package->path() + ": validation runs on the CPU backend for now");
  const std::string role(roles::kEvalRole);
  const tpkg::Program *program = findProgram(package->plan(), rank, role);
  if (training.segmented() || !training.impl_ || !program || !program->tensors())
    return Status(StatusCode::NotFound,
                  package->path() +
                      ": no validation program (pipelined and ZeRO-3 training steps have none "
                      "yet; else recompile with --train, without --no-eval-program)");
  // The step's weights by name, and its arena, lent to the validation program.
  auto shared = std::make_shared<SharedState>();
  shared->borrowed = true;
  Impl &step = *training.impl_;
  auto baseOf = [](const std::string &name) { return name.substr(0, name.rfind("@[")); };
  std::set<std::string> trained;
  for (size_t i = 0; i < step.stateNames.size(); ++i) {
    const cpu::TensorRef &ref = step.tensors[step.updates[i].first];
    shared->buffers[step.stateNames[i]] = {ref.data, ref.bytes()};
    trained.insert(baseOf(step.stateNames[i]));
  }
  shared->arena = step.arena;
  shared->arenaBytes = step.program->arena_bytes();
  // Every trained weight the program reads must be a block the step holds
  // (never the package's initial values).
  for (const tpkg::Tensor *t : *program->tensors()) {
    if (t->storage() == tpkg::Storage::Arena || !t->name())
      continue;
    std::string name = t->name()->str();
    auto it = shared->buffers.find(name);
    if (it == shared->buffers.end()) {
      if (trained.count(baseOf(name)))
        return Status(StatusCode::DataLoss,
                      package->path() + ": rank " + std::to_string(rank) +
                          "'s validation program reads '" + name +
                          "', a block of a trained weight its training step does not hold");
      continue;
    }
    if (it->second.second != t->size())
      return Status(StatusCode::DataLoss, package->path() + ": rank " + std::to_string(rank) +
                                              "'s validation program reads '" + name + "' in " +
                                              std::to_string(t->size()) + " bytes, the step holds " +
                                              std::to_string(it->second.second));
    shared->names.insert(name);
  }
  SessionOptions o = options;
  o.role = role;
  o.sharedState = shared;
  if (Status s = create(package, rank, out, o); !s.ok())
    return s;
  out->shared_ = shared;
  return Status::okStatus();
}

} // namespace tessera::rt
