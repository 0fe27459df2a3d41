//===- Session.cpp - running one rank's program ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Session.h"
#include "tessera/runtime/Roles.h"

#include "cpu/Kernels.h"
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

struct Session::Impl {
  const tpkg::Program *program = nullptr;
  uint8_t *arena = nullptr;
  std::vector<cpu::TensorRef> tensors;
  std::vector<cpu::KernelCall> calls;
  std::vector<cpu::KernelFn> fns;
  std::vector<int64_t> inputIds, outputIds;
  /// Aligned copies of external weights that sit unaligned in their files.
  std::vector<uint8_t *> copies;
  /// Communicators of the collectives' groups.
  cpu::CommGroups groups;
  /// Training: (state tensor, value tensor) copied after every run, and the
  /// states' names.
  std::vector<std::pair<uint32_t, uint32_t>> updates;
  std::vector<std::string> stateNames;
  /// Tensors whose bytes are the rank's shared state (pipeline segments).
  std::vector<bool> shared;
  /// All-reduces started asynchronously (kernel attribute "async"): waited
  /// for before the first kernel that reads their result (waitBefore[k];
  /// empty when the program starts none), or at the end of the run.
  using Started = std::pair<Communicator *, const void *>;
  std::vector<std::vector<Started>> waitBefore;
  std::vector<Started> waitAtEnd;
  bool ownsArena = true;
  ~Impl() {
    if (ownsArena)
      std::free(arena);
    for (uint8_t *c : copies)
      std::free(c);
  }
};

struct SharedState {
  /// Every state a segment of the rank updates, and its one writable copy.
  std::set<std::string> names;
  std::map<std::string, std::pair<uint8_t *, uint64_t>> buffers;
  /// The arena the segments share (the largest segment's).
  uint8_t *arena = nullptr;
  uint64_t arenaBytes = 0;
  ~SharedState() {
    std::free(arena);
    for (auto &entry : buffers)
      std::free(entry.second.first);
  }
};

Session::~Session() = default;

namespace {

} // namespace

/// The roles of `rank`'s segment programs, in the order a step runs them.
std::vector<Session::Segment> Session::listSegments(const Package &package, int rank) {
  return segmentsOf(package.plan(), rank);
}

std::vector<Session::Segment> Session::segmentsOf(const tpkg::Package *plan, int rank) {
  std::vector<Session::Segment> out;
  if (!plan->programs())
    return out;
  for (const tpkg::Program *p : *plan->programs()) {
    std::string role = p->role() ? p->role()->str() : "";
    std::optional<roles::SegmentRole> parsed = roles::SegmentRole::parse(role);
    if (int(p->rank()) != rank || !parsed)
      continue;
    Session::Segment seg;
    seg.role = role;
    seg.phase = parsed->phase;
    seg.level = parsed->level;
    seg.kind = parsed->kind == roles::SegmentRole::Kind::Forward    ? Session::Segment::Kind::Forward
               : parsed->kind == roles::SegmentRole::Kind::Backward ? Session::Segment::Kind::Backward
                                                                    : Session::Segment::Kind::Once;
    out.push_back(seg);
  }
  std::sort(out.begin(), out.end(), [](const Session::Segment &a, const Session::Segment &b) {
    return std::make_tuple(a.phase, int(a.kind), a.level) <
           std::make_tuple(b.phase, int(b.kind), b.level);
  });
  return out;
}

uint64_t memoryLimit(const SessionOptions &options) {
  if (options.maxMemoryBytes)
    return options.maxMemoryBytes;
  if (const char *env = std::getenv("TESSERA_MAX_MEMORY"))
    if (uint64_t v = parseByteSize(env))
      return v;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 40;
}

uint64_t parseByteSize(const std::string &text) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno || !(v > 0))
    return 0;
  std::string unit(end);
  double scale = unit.empty() || unit == "B" ? 1
                 : unit == "K" || unit == "KB" || unit == "KiB" ? 1024.0
                 : unit == "M" || unit == "MB" || unit == "MiB" ? 1048576.0
                 : unit == "G" || unit == "GB" || unit == "GiB" ? 1073741824.0
                 : unit == "T" || unit == "TB" || unit == "TiB" ? 1099511627776.0
                                                               : 0;
  double bytes = v * scale;
  return scale == 0 || bytes >= 1.8e19 ? 0 : uint64_t(bytes);
}

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

/// Rank `rank`'s program of role `role` ("" the main one), or null.
static const tpkg::Program *findProgram(const tpkg::Package *plan, int rank,
                                        const std::string &role) {
  const tpkg::Program *program = nullptr;
  if (plan->programs())
    for (const tpkg::Program *p : *plan->programs())
      if (int(p->rank()) == rank && (p->role() ? p->role()->str() : std::string()) == role)
        program = p;
  return program;
}

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
  if (plan->target() && plan->target()->str() == "cuda")
    for (const tpkg::Tensor *t : *program->tensors())
      if (DType(t->dtype()) == DType::BF16 || DType(t->dtype()) == DType::F16)
        return Status(StatusCode::InvalidArgument,
                      package->path() + " holds " + std::string(dtypeName(DType(t->dtype()))) +
                          " tensors (compiled with --dtype): run it with the CUDA backend "
                          "(--backend cuda); the CPU backend computes in fp32");
  // What the session will allocate, checked against the memory limit before
  // anything is: the arena and the training state (a hostile or mistaken
  // package may declare any size).
  uint64_t needed = program->arena_bytes();
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
  uint64_t limit = memoryLimit(options);
  if (needed > limit)
    return Status(StatusCode::InvalidArgument,
                  package->path() + ": rank " + std::to_string(rank) + " needs " +
                      std::to_string(needed) + " bytes (activation arena and training state), " +
                      "over the memory limit of " + std::to_string(limit) +
                      " bytes (raise it with --max-memory or TESSERA_MAX_MEMORY)");
  auto impl = std::make_unique<Impl>();
  impl->program = program;
  uint64_t arenaBytes = program->arena_bytes();
  if (options.sharedState && options.sharedState->arena &&
      arenaBytes <= options.sharedState->arenaBytes) {
    // A pipeline segment: one run at a time, what crosses segments copied
    // out, so the rank's segments share one arena.
    impl->arena = options.sharedState->arena;
    impl->ownsArena = false;
  } else {
    impl->arena = static_cast<uint8_t *>(
        std::aligned_alloc(kPackageAlignment,
                           (std::max<uint64_t>(arenaBytes, 1) + kPackageAlignment - 1) /
                               kPackageAlignment * kPackageAlignment));
  }
  if (!impl->arena)
    return Status(StatusCode::Internal, "cannot allocate a " +
                                            std::to_string(arenaBytes) +
                                            "-byte activation arena");
  session->arenaBytes_ = arenaBytes;
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
      for (size_t j = 0; j < impl->tensors.size() && t->name(); ++j) {
        const tpkg::Tensor *other = program->tensors()->Get(uint32_t(j));
        if (other->storage() == tpkg::Storage::Zeros && other->name() &&
            other->name()->str() == t->name()->str() && impl->tensors[j].bytes() == bytes) {
          ref.data = impl->tensors[j].data;
          found = true;
          break;
        }
      }
      if (found || (options.sharedState && t->name() &&
                    options.sharedState->names.count(t->name()->str()))) {
        impl->tensors.push_back(ref); // (the rank's shared copy, bound below)
        continue;
      }
      auto *zeros = static_cast<uint8_t *>(std::aligned_alloc(
          kPackageAlignment, (bytes + kPackageAlignment - 1) / kPackageAlignment *
                                     kPackageAlignment + kPackageAlignment));
      if (!zeros)
        return Status(StatusCode::Internal, "out of memory for training state");
      std::memset(zeros, 0, bytes);
      impl->copies.push_back(zeros);
      ref.data = zeros;
      impl->tensors.push_back(ref);
      continue;
    }
    if (t->storage() == tpkg::Storage::Arena) {
      if (bytes != t->size() || t->offset() > arenaBytes || bytes > arenaBytes - t->offset())
        return corrupt("tensor '" + (t->name() ? t->name()->str() : "?") +
                       "' lies outside its storage");
      ref.data = impl->arena + t->offset();
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
      impl->copies.push_back(copy);
      ref.data = copy;
    }
    impl->tensors.push_back(ref);
  }
  size_t count = impl->tensors.size();
  impl->shared.assign(count, false);
  if (options.sharedState)
    for (size_t i = 0; i < count; ++i) {
      const tpkg::Tensor *t = program->tensors()->Get(uint32_t(i));
      if (t->storage() == tpkg::Storage::Arena || !t->name() ||
          !options.sharedState->names.count(t->name()->str()))
        continue;
      uint64_t bytes = impl->tensors[i].bytes();
      auto &buffer = options.sharedState->buffers[t->name()->str()];
      if (!buffer.first) {
        buffer.second = bytes;
        buffer.first = static_cast<uint8_t *>(std::aligned_alloc(
            kPackageAlignment,
            (bytes + kPackageAlignment - 1) / kPackageAlignment * kPackageAlignment +
                kPackageAlignment));
        if (!buffer.first)
          return Status(StatusCode::Internal, "out of memory for training state");
        if (impl->tensors[i].data)
          std::memcpy(buffer.first, impl->tensors[i].data, bytes);
        else
          std::memset(buffer.first, 0, bytes);
      } else if (buffer.second != bytes) {
        return corrupt("the segments of rank " + std::to_string(rank) + " hold state '" +
                       t->name()->str() + "' in different sizes");
      }
      impl->tensors[i].data = buffer.first;
      impl->shared[i] = true;
    }
  if (Status s = bindState(*package, *program, *impl); !s.ok())
    return s;
  const cpu::KernelTable &table = cpu::cpuKernels();
  const auto &prepares = cpu::cpuPrepareFunctions();
  // Stored weights no run writes: not training state (nor a view sharing a
  // state's writable copy). Kernels may repack these once.
  std::vector<bool> constant(count, false);
  for (size_t id = 0; id < count; ++id) {
    auto storage = program->tensors()->Get(uint32_t(id))->storage();
    constant[id] = storage == tpkg::Storage::Data || storage == tpkg::Storage::External;
  }
  for (auto [state, value] : impl->updates)
    for (size_t id = 0; id < count; ++id)
      if (impl->tensors[id].data == impl->tensors[state].data)
        constant[id] = false;
  for (size_t id = 0; id < count; ++id)
    if (impl->shared[id])
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
        bool state = std::any_of(impl->updates.begin(), impl->updates.end(),
                                 [&](const auto &u) { return u.first == id; });
        if (storage != tpkg::Storage::Arena && storage != tpkg::Storage::Zeros && !state)
          return corrupt("kernel '" + k->op()->str() + "' writes stored tensor " +
                         std::to_string(id));
      }
    if (k->inputs())
      for (uint32_t id : *k->inputs())
        call.inputs.push_back(impl->tensors[id]);
    if (k->outputs())
      for (uint32_t id : *k->outputs())
        call.outputs.push_back(impl->tensors[id]);
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
    impl->calls.push_back(std::move(call));
    impl->fns.push_back(it->second);
    session->profile_.push_back(
        {k->op()->str(), k->location() ? k->location()->str() : "", 0, 0});
  }
  if (Status s = describe(*package, rank, session->inputs_, session->outputs_, options.role);
      !s.ok())
    return s;
  if (program->inputs())
    impl->inputIds.assign(program->inputs()->begin(), program->inputs()->end());
  if (program->outputs())
    impl->outputIds.assign(program->outputs()->begin(), program->outputs()->end());
  session->impl_ = std::move(impl);
  if (Status s = session->bindHeldInputs(*program); !s.ok())
    return s;
  out = std::move(session);
  return Status::okStatus();
}

Status Session::createSegmented(std::shared_ptr<Package> package, int rank,
                                std::unique_ptr<Session> &out, const SessionOptions &options) {
  if (options.backend != "cpu")
    return Status(StatusCode::Unimplemented,
                  package->path() + ": pipeline training runs on the CPU backend for now "
                                    "(backend '" + options.backend + "')");
  const tpkg::Package *plan = package->plan();
  auto shared = std::make_shared<SharedState>();
  for (const tpkg::Program *p : *plan->programs()) {
    std::string role = p->role() ? p->role()->str() : "";
    if (int(p->rank()) != rank || !roles::isSegment(role) || !p->state_updates() || !p->tensors())
      continue;
    for (const tpkg::StateUpdate *u : *p->state_updates())
      if (u->state() < p->tensors()->size() && p->tensors()->Get(u->state())->name())
        shared->names.insert(p->tensors()->Get(u->state())->name()->str());
  }
  // The rank's segments share one arena and one copy of each state tensor
  // (zero-initialised state and writable copies of what a step updates):
  // the rank needs the largest arena and each state tensor once. (Each
  // segment's session checks its own sizes for validity.)
  std::map<std::string, uint64_t> stateBytes;
  for (const tpkg::Program *p : *plan->programs()) {
    if (int(p->rank()) != rank ||
        !roles::isSegment(p->role() ? p->role()->str() : ""))
      continue;
    shared->arenaBytes =
        std::max<uint64_t>(shared->arenaBytes, p->arena_bytes());
    if (!p->tensors())
      continue;
    for (const tpkg::Tensor *t : *p->tensors())
      if (t->storage() == tpkg::Storage::Zeros && t->name())
        stateBytes[t->name()->str()] = t->size();
    if (p->state_updates())
      for (const tpkg::StateUpdate *u : *p->state_updates())
        if (u->state() < p->tensors()->size() &&
            p->tensors()->Get(u->state())->name())
          stateBytes[roles::updateName(p->tensors()->Get(u->state())->name()->str())] =
              p->tensors()->Get(u->state())->size();
  }
  uint64_t needed = shared->arenaBytes;
  for (const auto &[name, bytes] : stateBytes)
    if (__builtin_add_overflow(needed, bytes, &needed))
      return Status(StatusCode::DataLoss, package->path() + ": state '" + name +
                                              "' has an invalid size");
  if (needed > memoryLimit(options))
    return Status(
        StatusCode::InvalidArgument,
        package->path() + ": rank " + std::to_string(rank) + " needs " +
            std::to_string(needed) + " bytes (a " +
            std::to_string(shared->arenaBytes) +
            "-byte activation arena and the training state), over the memory "
            "limit of " +
            std::to_string(memoryLimit(options)) +
            " bytes (raise it with --max-memory or TESSERA_MAX_MEMORY)");
  shared->arena = static_cast<uint8_t *>(std::aligned_alloc(
      kPackageAlignment, (std::max<uint64_t>(shared->arenaBytes, 1) + kPackageAlignment - 1) /
                             kPackageAlignment * kPackageAlignment));
  if (!shared->arena)
    return Status(StatusCode::Internal, "cannot allocate a " +
                                            std::to_string(shared->arenaBytes) +
                                            "-byte activation arena");
  std::unique_ptr<Session> session(new Session());
  session->package_ = package;
  session->shared_ = shared;
  session->segments_ = segmentsOf(plan, rank);
  for (Segment &seg : session->segments_) {
    SessionOptions o = options;
    o.role = seg.role;
    o.sharedState = shared;
    std::unique_ptr<Session> child;
    if (Status s = create(package, rank, child, o); !s.ok())
      return s;
    seg.session = child.get();
    session->owned_.push_back(std::move(child));
  }
  session->arenaBytes_ = shared->arenaBytes;
  if (!session->owned_.empty())
    session->placement_ = session->owned_.front()->placement_;
  if (Status s = describe(*package, rank, session->inputs_, session->outputs_); !s.ok())
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
