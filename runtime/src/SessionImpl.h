//===- SessionImpl.h - what a Session holds (private) -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The CPU binding of one program (Session::Impl) and the state the segments
// of a pipelined training rank share (SharedState), for the files that
// implement Session by responsibility:
//   Session.cpp          creation, inputs and outputs, runs, the CUDA path
//   SessionCpu.cpp       binding a program to the CPU backend (memory,
//                        tensors, kernels)
//   SessionState.cpp     training state: writable copies, checkpoints
//   SessionSegments.cpp  pipelined training: one session per segment
//   SessionOptions.cpp   the limits the environment sets
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_SRC_SESSIONIMPL_H
#define TESSERA_RUNTIME_SRC_SESSIONIMPL_H

#include "tessera/runtime/Session.h"

#include "cpu/Kernels.h"
#include "gpu/DeviceProgram.h"

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tessera::rt {

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
  /// A validation program's (Session::createEval): the buffers and arena
  /// are the training step's session's, not freed here.
  bool borrowed = false;
  ~SharedState() {
    if (borrowed)
      return;
    std::free(arena);
    for (auto &entry : buffers)
      std::free(entry.second.first);
  }
};

/// Rank `rank`'s program of role `role` ("" the main one), or null.
inline const tpkg::Program *findProgram(const tpkg::Package *plan, int rank,
                                        const std::string &role) {
  const tpkg::Program *program = nullptr;
  if (plan->programs())
    for (const tpkg::Program *p : *plan->programs())
      if (int(p->rank()) == rank && (p->role() ? p->role()->str() : std::string()) == role)
        program = p;
  return program;
}

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_SRC_SESSIONIMPL_H
