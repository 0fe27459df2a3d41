//===- Train.h - tessera-run's training loop --------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_RUN_TRAIN_H
#define TESSERA_TOOLS_TESSERA_RUN_TRAIN_H

#include "tessera/runtime/MeshRunner.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/TokenData.h"

#include <map>
#include <memory>
#include <string>

namespace tessera::tools {

struct TrainOptions {
  int steps = 1;
  std::string lossLog;    ///< CSV: step,loss,grad_norm,lr
  rt::TokenDataOptions data; ///< --data files (.npy, .bin, text), --shuffle --seed
  std::string windowsLog; ///< CSV: step,row,start,tokens of every window read
  std::string save, resume; ///< checkpoint folders
  std::string exportOnnx; ///< the model with its trained weights
  bool quiet = false;     ///< no per-step progress lines
  bool profile = false;   ///< per-op time over all steps
  /// Pipelined packages: the order of the micro-batches' passes (gpipe,
  /// 1f1b); null: gpipe.
  const rt::Schedule *schedule = nullptr;
  std::string trace;      ///< a Chrome trace of every step (ranks as threads)
  /// Validation (--eval-data): consecutive windows of these files, the loss
  /// of `evalBatches` batches (0: all the data holds) every `evalEvery`
  /// steps (0: after the last step only; always after the last).
  rt::TokenDataOptions evalData;
  int evalEvery = 0, evalBatches = 0;
  /// Checkpoints on a schedule: every `saveEvery` steps into
  /// `checkpointDir`/step-<N> (the newest `keep`; 0: all); the best
  /// validation loss's into `saveBest`; stop after `earlyStop` validations
  /// without a better loss (0: never).
  int saveEvery = 0, keep = 0, earlyStop = 0;
  std::string checkpointDir, saveBest;
  /// The sessions' options (validation sessions are made like the step's).
  rt::SessionOptions session;
};

/// Runs `options.steps` training steps of a package compiled with --train:
/// the same `inputs` every step, or with `data` consecutive windows of the
/// token stream as input_ids and the shifted labels. Returns the exit code.
/// Runs options.steps training steps of every rank of `mesh` (ranks as
/// threads; data-parallel replicas share the batch). Checkpoints and ONNX
/// export are of single-rank packages for now.
int runTraining(const std::shared_ptr<rt::Package> &package, rt::MeshRunner &mesh,
                std::map<std::string, rt::HostTensor> inputs, const TrainOptions &options);

} // namespace tessera::tools

#endif // TESSERA_TOOLS_TESSERA_RUN_TRAIN_H
