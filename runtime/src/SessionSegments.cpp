//===- SessionSegments.cpp - pipelined training's segments ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "SessionImpl.h"

#include "tessera/runtime/Roles.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace tessera::rt {

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

} // namespace tessera::rt
