//===- NcclCommunicator.h - collectives on GPU memory with NCCL -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// NCCL (libnccl.so.2, opened at run time) for the collectives of --target=cuda
// packages: one GPU per rank, buffers in device memory. The ranks agree on
// NCCL's unique id over a bootstrap communicator (MPI under mpirun; none for a
// world of one), which also carries point-to-point traffic (pipeline stages
// exchange host buffers). Subgroups bootstrap their own NCCL communicator
// over the same channel, among their members only.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_NCCLCOMMUNICATOR_H
#define TESSERA_RUNTIME_NCCLCOMMUNICATOR_H

#include "tessera/runtime/Communicator.h"

#include <memory>

namespace tessera::rt {

/// Whether NCCL can be loaded (`why` if not).
bool ncclAvailable(std::string &why);

/// An NCCL communicator over the ranks of `bootstrap` (nullptr: a world of
/// one rank). The calling thread's CUDA context must be the rank's GPU; the
/// bootstrap must outlive the result.
Status createNcclCommunicator(Communicator *bootstrap, std::unique_ptr<Communicator> &out);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_NCCLCOMMUNICATOR_H
