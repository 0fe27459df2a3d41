//===- Session.h - running one rank's program -------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A Session binds one rank's program of a Package to the CPU backend: it
// allocates the activation arena once, resolves every kernel, and runs the
// program on host inputs.
//
// Thread safety: one thread at a time per session; sessions over the same
// package are independent.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_SESSION_H
#define TESSERA_RUNTIME_SESSION_H

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Host.h"
#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Package.h"

#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// For data-parallel packages: the axis along which the global tensor is
  /// split over the ranks (this rank holds slice `rank`); -1 if not split.
  int splitAxis = -1;
};

/// The entry of `infos` named `name`, or null.
const TensorInfo *findInfo(const std::vector<TensorInfo> &infos, const std::string &name);

/// When one kernel of a run began and ended (steady clock, seconds).
struct KernelSpan {
  size_t kernel = 0; ///< index into profile()
  double start = 0, end = 0;
};

/// Time spent in each kernel over the runs of a session.
struct KernelProfile {
  std::string op;
  std::string location;
  double seconds = 0;
  int64_t calls = 0;
};

namespace gpu {
class DeviceProgram;
} // namespace gpu
} // namespace tessera::rt

namespace tessera::tpkg {
struct Program;
struct Package;
} // namespace tessera::tpkg

namespace tessera::rt {

/// The weights and optimizer state the sessions of one rank's segments share
/// (pipeline training): one writable copy of each, by name.
struct SharedState;

struct SessionOptions {
  /// "cpu"; "cuda": the package's CUDA kernels on GPU `device` (packages
  /// compiled with --target=cuda); "cuda-host": the same kernels compiled for
  /// the host and emulated there (tests the CUDA path without a GPU; slow).
  std::string backend = "cpu";
  /// The GPU; -1: the rank's share (rank modulo the GPUs, so that several
  /// ranks on one GPU are virtual devices).
  int device = -1;
  /// Benchmarking only (CUDA backends): weights absent from a plan-only
  /// package are filled with seeded random values (uniform in +-0.02) instead
  /// of refusing to run. 0: off.
  uint64_t randomWeights = 0;
  /// The most a session may allocate (activation arena, training state);
  /// 0: TESSERA_MAX_MEMORY ("64G", "512M", bytes), else physical memory.
  uint64_t maxMemoryBytes = 0;
  /// Which of the rank's programs: "" the main one; generation packages also
  /// hold "prefill:<length>" programs.
  std::string role;
  /// CPU threads of each run (OpenMP, set in the thread that calls run(), so
  /// ranks run as threads each get theirs); 0: TESSERA_NUM_THREADS, else
  /// OMP_NUM_THREADS, else the host's cores divided by `ranksOnHost`
  /// (tessera/runtime/Host.h).
  int threads = 0;
  /// The ranks sharing this host's cores: the ranks a process runs as
  /// threads; 0: the MPI launcher's local ranks, else 1.
  int ranksOnHost = 0;
  /// Internal: the state a segment's session shares with the rank's others.
  std::shared_ptr<SharedState> sharedState;
};

/// The memory limit `options` give (see SessionOptions::maxMemoryBytes).
uint64_t memoryLimit(const SessionOptions &options);
/// "64G", "512MiB", "1048576" -> bytes; 0 when malformed.
uint64_t parseByteSize(const std::string &text);

class Session {
public:
  ~Session();

  /// A session for `rank` of `package`.
  static Status create(std::shared_ptr<Package> package, int rank,
                       std::unique_ptr<Session> &out,
                       const SessionOptions &options = SessionOptions());
  /// The device a CUDA session runs on (empty for the CPU backend).
  std::string deviceName() const;

  /// The graph inputs and outputs of `rank`'s program, read from the package
  /// alone (no arena, no kernels): what a process that does not run that
  /// rank needs to know of it.
  static Status describe(const Package &package, int rank, std::vector<TensorInfo> &inputs,
                         std::vector<TensorInfo> &outputs, const std::string &role = "");

  const std::vector<TensorInfo> &inputs() const { return inputs_; }
  const std::vector<TensorInfo> &outputs() const { return outputs_; }

  /// Copies `value` into the input named `name`; its dtype and shape must match.
  Status setInput(const std::string &name, const HostTensor &value);
  /// Inputs the package holds (batch-sized constants of data-parallel and
  /// micro-batched programs; not in inputs()): gives each chunk `chunk` of
  /// `chunks` (replica r, micro-batch m: r * micro-batches + m), as the
  /// caller gives the graph's inputs. Every runner calls it before a run
  /// that takes graph inputs; without held inputs it does nothing.
  Status selectChunk(int chunk, int chunks);
  bool holdsInputs() const { return !held_.empty(); }
  /// Connects the program's collectives to the mesh: `world` is this rank's
  /// communicator over all ranks of the package; each collective gets the
  /// group it names. Every rank calls it before its first run.
  Status bindCommunicator(Communicator &world);
  /// Whether the program exchanges data with other ranks.
  bool hasCollectives() const;

  /// Runs the program once; with `spans`, records when each kernel ran.
  Status run(std::vector<KernelSpan> *spans = nullptr);
  /// The value of the steady clock the spans use, in seconds.
  static double now();
  /// Copies the output named `name` out.
  Status getOutput(const std::string &name, HostTensor &out) const;

  /// Training packages: the weights and optimizer state a run updates (each
  /// run is a training step), by name; read and written for checkpoints.
  std::vector<std::string> stateNames() const;
  Status getState(const std::string &name, HostTensor &out) const;
  Status setState(const std::string &name, const HostTensor &value);

  /// Validation: a session of `training`'s rank running the package's
  /// validation program (role "eval": the step's forward and loss alone)
  /// that reads `training`'s current weights and uses its activation arena in
  /// place - no copies; the two never run at once, and `training` must
  /// outlive it. Refused for packages without one (pipelined or ZeRO-3
  /// steps, compiled with --no-eval-program or before validation existed).
  static Status createEval(std::shared_ptr<Package> package, int rank, Session &training,
                           std::unique_ptr<Session> &out,
                           const SessionOptions &options = SessionOptions());

  /// Pipeline training: a rank runs the training step as segments, one
  /// program each (role "train:<phase>:<once|forward|backward>:<level>"):
  /// its session holds one session per segment, in the order a step runs
  /// them (by phase; once segments by level, then the micro-batches' forward
  /// and backward passes), sharing the weights and optimizer state. Inputs
  /// and outputs are then the step's (not the "x:N" values between
  /// segments), and run() is refused: runTrainingPipelineRank runs them.
  struct Segment {
    enum class Kind { Once, Forward, Backward };
    std::string role;
    int phase = 0, level = 0;
    Kind kind = Kind::Once;
    Session *session = nullptr;
    /// "once", "forward" or "backward" (errors, traces).
    const char *kindName() const {
      return kind == Kind::Forward    ? "forward"
             : kind == Kind::Backward ? "backward"
                                      : "once";
    }
  };
  const std::vector<Segment> &segments() const { return segments_; }
  /// The segments of `rank` in `package` (no sessions), in that order.
  static std::vector<Segment> listSegments(const Package &package, int rank);
  bool segmented() const { return !segments_.empty(); }
  /// Zeroes the running sums over micro-batches ("pipe.acc:N") of a
  /// segmented session, before each step.
  void zeroAccumulators();

  /// Per-kernel timings, when enabled before run().
  void enableProfiling(bool on) {
    profiling_ = on;
    for (Segment &s : segments_)
      s.session->enableProfiling(on);
  }
  const std::vector<KernelProfile> &profile() const { return profile_; }
  /// How this session's threads share the host (see SessionOptions::threads).
  const ThreadPlacement &threadPlacement() const { return placement_; }
  /// Bytes of the activation arena (the memory plan's peak).
  uint64_t arenaBytes() const { return arenaBytes_; }

  /// The CPU binding of a program (runtime/src/SessionImpl.h).
  struct Impl;

private:
  Session() = default;
  static Status bindState(const Package &package, const tpkg::Program &program, Impl &impl);
  /// Binds `program` to the CPU backend: memory checked, tensors, kernels.
  static Status bindCpu(const std::shared_ptr<Package> &package, int rank,
                        const tpkg::Program &program, const SessionOptions &options,
                        Session &session);
  static Status createSegmented(std::shared_ptr<Package> package, int rank,
                                std::unique_ptr<Session> &out, const SessionOptions &options);
  static std::vector<Segment> segmentsOf(const tpkg::Package *plan, int rank);
  std::vector<Segment> segments_;
  std::vector<std::unique_ptr<Session>> owned_;
  std::shared_ptr<SharedState> shared_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<gpu::DeviceProgram> device_;
  std::shared_ptr<Package> package_;
  std::vector<TensorInfo> inputs_, outputs_;
  /// The program input each of inputs_ is (held inputs are left out).
  std::vector<size_t> inputSlots_;
  struct HeldInput {
    size_t slot = 0;               ///< index into the program's inputs
    TensorInfo local;              ///< the chunk's name, type and shape
    const uint8_t *whole = nullptr; ///< all chunks, one after the other
    size_t wholeBytes = 0;
  };
  std::vector<HeldInput> held_;
  bool heldSelected_ = false;
  Status bindHeldInputs(const tpkg::Program &program);
  Status setSlot(size_t slot, const HostTensor &value);
  std::vector<KernelProfile> profile_;
  bool profiling_ = false;
  uint64_t arenaBytes_ = 0;
  int threads_ = 0;
  bool blasShared_ = false;
  ThreadPlacement placement_;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_SESSION_H
