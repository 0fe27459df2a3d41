//===- Passes.td - the partitioning passes -----------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_PASSES_TD
#define TESSERA_PASSES_PARTITION_PASSES_TD

include "mlir/Pass/PassBase.td"

def SplitBatchPass : Pass<"tsr-partition-split-batch", "mlir::func::FuncOp"> {
  let summary = "Rewrite a function to compute one slice of its batch";
  let description = [{
    Data parallelism (`dp` replicas) and micro-batching (`m` micro-batches)
    run the same program on `parts = dp x m` equal slices of the batch. This
    pass rewrites the function in place: every argument and result is split
    along its first dimension, and the split is propagated through the ops by
    the sharding rules (the ones the tensor-parallel search uses), each op
    rebuilt on its local shapes. Weights and batch-independent values stay
    whole; a batch-sized value that is the same for every sample (an
    expanded mask, a constant tiled over the batch) is cut to the local batch.

    An op that needs the whole batch (a reduction over it, an op without a
    rule keeping the split) is refused with its name and location: the
    model is not data-parallel. Unlike re-importing the model at a smaller
    batch, this works for exports whose batch is fixed in the file.

    ```mlir
    // --tsr-partition-split-batch=parts=2
    func.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32>
    // becomes
    func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32>
    ```
  }];
  let options = [
    Option<"parts", "parts", "int64_t", /*default=*/"1",
           "number of equal slices of the batch (dp x micro-batches)">,
    Option<"reduceOverBatch", "reduce-over-batch", "bool", /*default=*/"false",
           "the parts are data-parallel replicas: an op that reduces over the "
           "batch (a training step's loss and gradients) computes its replica's "
           "partial result, summed over the replicas by tsr.replica_sum; "
           "results that do not follow the batch are returned whole">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def AccumulatePass : Pass<"tsr-partition-accumulate", "mlir::func::FuncOp"> {
  let summary = "Run m slices of a split training step one after the other";
  let description = [{
    Gradient accumulation. The function is a training step split by
    `tsr-partition-split-batch` with reduce-over-batch into slices of the
    batch; this pass makes it take `microbatches` slices and run them in
    sequence: ops that do not depend on the batch once, the rest once per
    micro-batch on its slice of the arguments, each `tsr.replica_sum` as a
    running sum of its operand's copies (then a `tsr.replica_sum` over the
    data-parallel replicas with `replica-sums`), and what needs the sums
    once after them. Each op runs in the latest phase its users allow, so
    one micro-batch's activations die before the next one's are made.

    ```mlir
    // --tsr-partition-accumulate=microbatches=2
    func.func @main(%x: tensor<2x8xf32>) -> ...   // one slice
    // becomes
    func.func @main(%x: tensor<4x8xf32>) -> ...   // two, in sequence
    ```
  }];
  let options = [
    Option<"microbatches", "microbatches", "int64_t", /*default=*/"1",
           "slices run one after the other within the step">,
    Option<"replicaSums", "replica-sums", "bool", /*default=*/"false",
           "the step also has data-parallel replicas: the accumulated sums "
           "are summed over them by tsr.replica_sum">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def PlanMeshPass : Pass<"tsr-partition-plan-mesh", "mlir::ModuleOp"> {
  let summary = "Choose the mesh, micro-batches, ZeRO stage and recomputation; plan it";
  let description = [{
    The outer loop of planning, on the whole model's `@main` (a training step
    after the train passes, a decode step after tsr-generate-decode): every
    candidate mesh (the one given by `dp`, `tp`, `pp`, or every dp x tp x pp
    of `devices`) and micro-batch count is costed on the cluster - the batch
    split into a replica of batch / (dp x m) (tsr-partition-split-batch,
    with gradient accumulation tsr-partition-accumulate), the
    tensor-parallel search on it (tsr-partition-search), for pipelines the
    stage cut (tsr-partition-cut-stages) - and the fastest that fits the
    device memory is chosen (training: with the ZeRO stage and the
    recomputation that make it fit, unless given).

    The module becomes the chosen replica: `@main` on its local batch,
    every op annotated with its layout (`tsr.sharding`, `tsr.plan`), and the
    module carries the choice as `tsr.mesh_plan = #tsr.mesh_plan<dp, tp, pp,
    microbatches, accumulated, zero, recompute, stages = [...]>` and the
    cluster as `tsr.cluster` (its JSON form). The passes after it read both:
    the stage cuts cut at the plan's bounds, tsr-partition-ranks makes its
    ranks, tsr-partition-zero shards with its stage. One line per candidate
    goes to stderr when there are several; none fitting is an error naming
    each mesh and why.

    ```mlir
    // --tsr-partition-plan-mesh=devices=4
    module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 1, tp = 2, pp = 1, ...>,
                       tsr.cluster = "{...}"} { func.func @main ... }
    ```
  }];
  let options = [
    Option<"dp", "dp", "int64_t", /*default=*/"0",
           "the mesh's data-parallel replicas (with tp and pp: that mesh only; "
           "0: search)">,
    Option<"tp", "tp", "int64_t", /*default=*/"0", "the mesh's tensor-parallel degree">,
    Option<"pp", "pp", "int64_t", /*default=*/"0", "the mesh's pipeline stages">,
    Option<"devices", "devices", "int64_t", /*default=*/"0",
           "search every dp x tp x pp of this many devices (0 and no mesh: one device)">,
    Option<"cluster", "cluster", "std::string", /*default=*/"\"\"",
           "cluster preset or JSON file; empty: this machine's CPU cores as "
           "devices (\"cpu\"), as many as the mesh or `devices` needs">,
    Option<"throughput", "throughput", "bool", /*default=*/"false",
           "rank by time per batch with batches streamed back to back instead "
           "of one batch's latency">,
    Option<"microbatches", "microbatches", "int64_t", /*default=*/"0",
           "micro-batches per pipeline, or accumulated in a training step; 0: "
           "every count that divides the replica's batch (training: the fewest "
           "that fit)">,
    Option<"microbatchSize", "microbatch-size", "int64_t", /*default=*/"0",
           "samples per micro-batch of a pipeline (the count follows the mesh); "
           "0: any">,
    Option<"training", "training", "bool", /*default=*/"false",
           "the module is a training step: replicas sum their gradients, "
           "ZeRO and recomputation are choices">,
    Option<"evaluation", "evaluation", "bool", /*default=*/"false",
           "the module is a training step's forward and loss (a validation "
           "program): as in the step, replicas sum what reduces over the batch "
           "and fused projections stay whole (the step's weights)">,
    Option<"zero", "zero", "int64_t", /*default=*/"0",
           "training: the ZeRO stage (0-3); -1: the fastest that fits">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"\"",
           "training pipelines: none, selective or full; empty: the fastest "
           "that fits">,
    Option<"even", "even", "bool", /*default=*/"false",
           "Megatron's even stage split instead of balanced times">,
    ListOption<"hints", "shard", "std::string",
               "fixed weight layouts: NAME-or-glob=R|S0|S1...">,
    Option<"explain", "explain", "bool", /*default=*/"false",
           "print the chosen plan, every alternative by predicted time and the "
           "meshes ruled out (stdout)">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def SelectRankPass : Pass<"tsr-partition-select-rank", "mlir::ModuleOp"> {
  let summary = "Keep one rank's program of a partitioned module";
  let description = [{
    On a module partitioned by tsr-partition-ranks (and the passes nested on
    its rank modules): the module becomes rank `rank`'s module - its
    attributes, name and the functions of its pipeline stage (rank r = (d *
    pp + s) * tp + t runs stage s of module `@tp<t>` or, with ZeRO,
    `@dp<d>.tp<t>`). What tessera-compile --emit=partitioned --rank r prints.
  }];
  let options = [
    Option<"rank", "rank", "int64_t", /*default=*/"0", "the rank (0 <= rank < dp x tp x pp)">,
  ];
}

def ShardingSearchPass : Pass<"tsr-partition-search", "mlir::func::FuncOp"> {
  let summary = "Choose every op's tensor-parallel layout and annotate it";
  let description = [{
    The tensor-parallel search of one replica: fused projections are cut
    into per-piece matmuls (so that GPT-2's QKV can be split by heads), every
    op gets the strategies of its sharding rules (replicated, batch, heads,
    Megatron column/row splits, vocabulary-parallel gathers, partial sums),
    and the assignment minimising the cost model's time (compute + the
    collectives between layouts) under the device memory is found exactly
    (chain elimination, then an integer program on COIN-OR CBC).

    The choice is written on the IR: each op gets a `tsr.sharding`
    attribute (`#tsr.sharding<operands = [...], results = [...], ...>`,
    layouts `R` replicated, `P` partial sum, `M` partial maximum, `S<d>`
    split along dimension d; its predicted `seconds`), the function a
    `tsr.plan` dictionary (grid, tp, predicted compute and communication
    time, weight bytes per rank). `tsr-partition-spmd` reads it. A function
    that already carries a `tsr.plan` (planned by `tsr-partition-plan-mesh`)
    keeps it.

    ```mlir
    %w = tsr.weight "fc" {tsr.sharding = #tsr.sharding<operands = [], results = [S1], ...>}
    ```
  }];
  let options = [
    Option<"tp", "tp", "int64_t", /*default=*/"0",
           "tensor-parallel degree; 0: the module's tsr.mesh_plan, else 1">,
    Option<"dp", "dp", "int64_t", /*default=*/"0",
           "data-parallel replicas (the grid's first axis); 0: the module's "
           "tsr.mesh_plan, else 1">,
    Option<"cluster", "cluster", "std::string", /*default=*/"\"\"",
           "cluster preset or JSON file of the cost model; empty: the "
           "module's tsr.cluster, else \"cpu\"">,
    ListOption<"hints", "shard", "std::string",
               "fixed weight layouts: NAME-or-glob=R|S0|S1...">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def CutStagesPass : Pass<"tsr-partition-cut-stages", "mlir::ModuleOp"> {
  let summary = "Cut the planned main function into pipeline stages";
  let description = [{
    Pipeline parallelism: `@main`, annotated by `tsr-partition-search`, is
    cut at layer boundaries (the positions where the fewest activation bytes
    cross) into `pp` consecutive stages by dynamic programming over the ops'
    predicted times (or Megatron's even split), each stage's weights under
    the device memory. The module's `@main` is replaced by functions
    `@stage0` ... `@stage<pp-1>`; each takes the values crossing the cut
    before it and returns those crossing the cut after it, and carries
    `tsr.stage` and its predicted seconds. Stages are searched again
    (`tsr-partition-search` runs on every function) before partitioning.
    A module planned by `tsr-partition-plan-mesh` is cut where its
    `tsr.mesh_plan` says (its pp and stage bounds; a plan with pp = 1 is
    left whole).
  }];
  let options = [
    Option<"pp", "pp", "int64_t", /*default=*/"2", "number of stages">,
    Option<"cluster", "cluster", "std::string", /*default=*/"\"\"",
           "cluster preset or JSON file of the cost model; empty: the "
           "module's tsr.cluster, else \"cpu\"">,
    Option<"even", "even", "bool", /*default=*/"false",
           "the same number of layers per stage instead of balanced times">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def CutTrainStagesPass : Pass<"tsr-partition-cut-train-stages", "mlir::ModuleOp"> {
  let summary = "Cut a planned training step into pipeline segments";
  let description = [{
    Pipeline training: `@main`, one micro-batch of one replica's training
    step (`tsr-partition-split-batch` with `reduce-over-batch`) annotated by
    `tsr-partition-search`, is cut in its forward pass at layer boundaries
    into `pp` stages (as `tsr-partition-cut-stages` does), every other op
    following: the backward pass to the stage of the activations it reads,
    what runs once per step (clipping, the optimizer) to the stage of its
    largest operand. Each stage becomes segments `@stage<s>.<k>`: its
    forward pass and backward pass (run once per micro-batch), what runs once
    per step (in levels), each with `tsr.stage` and `tsr.segment`
    ("train:<phase>:<once|forward|backward>:<level>", the runtime's role of
    its program). Sums over the micro-batches become running sums in state
    `pipe.acc:<n>`; values between segments are named `x:<n>`. The grid
    becomes [dp, pp, tp]; `tsr-partition-spmd` partitions every segment.
    A module planned by `tsr-partition-plan-mesh` is cut where its
    `tsr.mesh_plan` says, with its recomputation (pp = 1: left whole).
  }];
  let options = [
    Option<"pp", "pp", "int64_t", /*default=*/"2", "number of stages">,
    Option<"cluster", "cluster", "std::string", /*default=*/"\"\"",
           "cluster preset or JSON file of the cost model; empty: the "
           "module's tsr.cluster, else \"cpu\"">,
    Option<"even", "even", "bool", /*default=*/"false",
           "the same number of layers per stage instead of balanced times">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"none\"",
           "activation recomputation: none, selective (all but matmul and "
           "attention results) or full (each stage's forward pass again)">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def ZeroPass : Pass<"tsr-partition-zero", "mlir::ModuleOp"> {
  let summary = "Shard a replica's optimizer state, gradients or parameters (ZeRO)";
  let description = [{
    ZeRO on one data-parallel replica's SPMD training step (after
    `tsr-partition-spmd`): each gradient summed over the replicas (a
    `shard.all_reduce` over the grid's first axis) is cut along the first
    dimension dp divides and the optimizer's elementwise update runs on this
    replica's block. Stage 1: the optimizer state is a block per replica
    (`tsr.weight "adamw.m:w" offsets = [...] zeros`), the gradient sliced
    after the all-reduce, the new weight all-gathered. Stage 2: the gradient
    reduce-scattered instead. Stage 3: the parameters too are blocks,
    all-gathered before each op that reads them and updated as blocks.
    Sums over a block (the gradient norm) are all-reduced over the replicas.
  }];
  let options = [
    Option<"stage", "stage", "int64_t", /*default=*/"1",
           "ZeRO stage: 0 (off), 1, 2 or 3; -1: the module's tsr.mesh_plan's">,
    Option<"rank", "rank", "int64_t", /*default=*/"-1",
           "the data-parallel replica (0 <= rank < dp); -1: the module's "
           "`tsr.replica` (tsr-partition-ranks), else 0">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect", "mlir::shard::ShardDialect"];
}

def BucketGradientsPass : Pass<"tsr-partition-bucket-gradients", "mlir::ModuleOp"> {
  let summary = "Sum the replicas' gradients in buckets";
  let description = [{
    On a replica's SPMD training step: the all-reduces over the grid's first
    axis (the data-parallel replicas) are grouped, in the order the backward
    pass makes their operands, into buckets of about `bucket-bytes`: each
    bucket's operands are flattened and concatenated, summed by one
    `shard.all_reduce` placed where the bucket's last gradient is ready, and
    sliced back. A bucket closes early where an op reads one of its sums.
    Fewer, larger messages (each collective pays a latency); the runtime
    starts each data-parallel all-reduce asynchronously and waits only
    where its sum is first read, so the buckets overlap the rest of the
    backward pass.
  }];
  let options = [
    Option<"bucketBytes", "bucket-bytes", "int64_t", /*default=*/"25 << 20",
           "the bytes a bucket gathers before it is summed">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect", "mlir::shard::ShardDialect"];
}

def SpmdPartitionPass : Pass<"tsr-partition-spmd", "mlir::ModuleOp"> {
  let summary = "Write one tensor-parallel rank's SPMD program";
  let description = [{
    Reads the layouts `tsr-partition-search` annotated on each function and
    rewrites it as the program of tensor-parallel index `rank`: ops on local
    shapes, split weights as blocks (`tsr.weight "w" offsets = [0, 384]`),
    and upstream `shard` collectives where layouts change (partial sums:
    `shard.all_reduce` or `shard.reduce_scatter`; splits gathered:
    `shard.all_gather`) on a `shard.grid @mesh` holding the plan's grid.
  }];
  let options = [
    Option<"rank", "rank", "int64_t", /*default=*/"-1",
           "tensor-parallel index of the rank (0 <= rank < tp); -1: the module's "
           "`tsr.tp_rank` (tsr-partition-ranks), else 0">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect", "mlir::shard::ShardDialect"];
}

def RanksPass : Pass<"tsr-partition-ranks", "mlir::ModuleOp"> {
  let summary = "One nested module per distinct rank program of the planned module";
  let description = [{
    Materialises the ranks of a planned module (every function annotated by
    `tsr-partition-search`, pipelines cut by `tsr-partition-cut-stages` or
    `tsr-partition-cut-train-stages`). Its functions move into nested
    modules, one per tensor-parallel index `t` (`module @tp<t> attributes
    {tsr.tp_rank = t}`), on which `tsr-partition-spmd` writes index t's
    program. With `replicas` = dp > 1 each such module is copied once per
    data-parallel replica `d` (`module @dp<d>.tp<t>`, `tsr.replica = d`:
    ZeRO keeps a block per replica); run after the SPMD partition, the copies
    share it. Rank `r = (d * pp + s) * tp + t` runs stage `s`'s functions of
    module `d * tp + t` (or `t`). The module's attributes are copied onto
    each nested module; the passes nested on them read their index there:

      builtin.module(tsr-partition-ranks, builtin.module(tsr-partition-spmd),
                     tsr-partition-ranks{replicas=2},
                     builtin.module(tsr-partition-zero{stage=2}))
  }];
  let options = [
    Option<"replicas", "replicas", "int64_t", /*default=*/"1",
           "data-parallel replicas that get modules of their own (ZeRO); -1: "
           "the module's tsr.mesh_plan's dp when it shards with ZeRO, else 1">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

#endif // TESSERA_PASSES_PARTITION_PASSES_TD
