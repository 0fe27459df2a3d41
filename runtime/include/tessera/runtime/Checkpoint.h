//===- Checkpoint.h - saving and resuming training state ---------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A checkpoint is a folder: one .npy file per training state tensor (the
// weights, the optimizer's moments, the step counter) and `checkpoint.txt`,
// whose first line is "tessera-checkpoint 1" and whose other lines are
// "NAME<TAB>FILE<TAB>BYTES<TAB>CHECKSUM" (FNV-1a of the .npy file, hex).
// Loading checks every file's size and checksum and that the names are
// exactly the session's, so a resumed run continues bit for bit. A sharded
// checkpoint (training under mpirun) has a manifest per rank,
// `checkpoint.rank<R>.txt`, whose names are blocks ("w@[0,128]").
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CHECKPOINT_H
#define TESSERA_RUNTIME_CHECKPOINT_H

#include "tessera/runtime/Session.h"

#include <string>
#include <vector>

namespace tessera::rt {

/// Writes `session`'s training state into `dir` (created if absent).
Status saveCheckpoint(const Session &session, const std::string &dir);

/// Replaces `session`'s training state by the checkpoint in `dir`.
Status loadCheckpoint(Session &session, const std::string &dir);

/// The same for every rank of a mesh: each state block ("w@[0,128]") goes
/// into its whole tensor, so the checkpoint of any dp x tp mesh is the
/// one-device one, and a checkpoint resumes on any mesh (each rank takes its
/// blocks). Replicas' equal copies are written once.
Status saveCheckpoint(const std::vector<const Session *> &sessions, const std::string &dir);
/// Reads a whole-tensor checkpoint or a sharded one (below): every tensor is
/// assembled from the blocks the manifests list, then each rank takes its
/// block, so a checkpoint resumes on any mesh. `sessions[r]` may be null
/// for a rank another process runs.
Status loadCheckpoint(const std::vector<Session *> &sessions, const std::string &dir);

/// Under mpirun, where each process runs some ranks (`sessions[r]` null for
/// the others): each rank with `writers[r]` (the first replica's: replicas
/// hold equal copies) writes its state blocks as they are, with a manifest
/// of its own, `checkpoint.rank<R>.txt` - no gathering between processes.
/// The ranks that write a sharded checkpoint of `package`: the first
/// replica's, and each rank of another replica whose state blocks differ
/// from its counterpart's in the first (ZeRO keeps a block per replica); a
/// rank holding no state (a pipeline stage without weights) writes nothing.
std::vector<bool> checkpointWriters(const Package &package);

Status saveCheckpointShards(const std::vector<const Session *> &sessions,
                            const std::vector<bool> &writers, const std::string &dir);

/// Writes the ONNX model the package was compiled from, with `session`'s
/// trained weights, to `out`: the model file (and its external data files,
/// beside `out` under the same relative names) copied, and every trained
/// initializer's bytes replaced in place (same size: float32). Weights tied
/// with --tie get their parameter's values. Refuses a package compiled from
/// a model it cannot find, or without training state.
Status exportTrainedModel(const Package &package, const Session &session, int rank,
                          const std::string &out);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_CHECKPOINT_H
