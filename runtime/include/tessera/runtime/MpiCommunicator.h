//===- MpiCommunicator.h - one process per rank under mpirun ----*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A Communicator over MPI_COMM_WORLD (OpenMPI). Collectives are issued
// non-blocking and polled against a deadline: a rank that does not take part
// in time makes the caller abort the whole job (MPI_Abort) with a message
// naming the collective, instead of hanging; a rank that dies is turned into
// a job failure by mpirun itself.
//
// Available when the runtime is built with MPI (TESSERA_HAVE_MPI).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_MPICOMMUNICATOR_H
#define TESSERA_RUNTIME_MPICOMMUNICATOR_H

#include "tessera/runtime/Communicator.h"

#include <memory>

namespace tessera::rt {

/// Initialises MPI (once per process) and returns the world communicator.
Status createMpiCommunicator(std::chrono::milliseconds timeout,
                             std::unique_ptr<Communicator> &out);

/// Finalises MPI; call once before the process exits normally.
void finalizeMpi();

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_MPICOMMUNICATOR_H
