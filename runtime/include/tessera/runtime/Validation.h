//===- Validation.h - a training package's validation loss ------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A package compiled with --train holds, beside its training step, a
// validation program (role "eval"): the step's forward pass and loss alone,
// partitioned as the step. Validation runs it on every rank of a training
// mesh, reading each rank's current weights in place (Session::createEval):
// no optimizer step, no state changes, no copies.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_VALIDATION_H
#define TESSERA_RUNTIME_VALIDATION_H

#include "tessera/runtime/MeshRunner.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

class Validation {
public:
  /// Validation sessions beside every rank `training` runs in this process,
  /// bound to the same communicators (the step and validation never run at
  /// once). `training` and its sessions must outlive the result.
  static Status create(const std::shared_ptr<Package> &package, MeshRunner &training,
                       const SessionOptions &options, std::unique_ptr<Validation> &out);
  /// The whole tensors a batch gives (the step's inputs).
  const std::vector<TensorInfo> &inputs() const { return runner_->inputs(); }
  /// The loss of one batch (the same value on every replica: the mean over
  /// the whole batch). Under mpirun every process calls it; the loss is
  /// read where rank 0 runs (elsewhere 0).
  Status loss(const std::map<std::string, HostTensor> &batch, double &out);

private:
  Validation() = default;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::unique_ptr<MeshRunner> runner_;
  bool leader_ = false;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_VALIDATION_H
