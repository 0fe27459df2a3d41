//===- TsrAttrs.td - the tsr dialect's attributes ----------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRATTRS_TD
#define TESSERA_DIALECTS_TSR_IR_TSRATTRS_TD

include "dialects/tsr/IR/TsrBase.td"
include "mlir/IR/AttrTypeBase.td"

class Tsr_Attr<string name, string attrMnemonic> : AttrDef<Tsr_Dialect, name> {
  let mnemonic = attrMnemonic;
}

def Tsr_MeshPlanAttr : Tsr_Attr<"MeshPlan", "mesh_plan"> {
  let summary = "The device mesh and schedule a module is planned for";
  let description = [{
    What the mesh search chose, on the planned module (`tsr.mesh_plan`) and
    every rank module made from it: `dp` data-parallel replicas x `tp`
    tensor-parallel ranks x `pp` pipeline stages (rank
    `r = (d * pp + s) * tp + t`), `microbatches` per pipeline (or, training
    without pipelines, `accumulated` micro-batches whose gradients a step
    sums), the ZeRO stage (0-3), the activation recomputation of a training
    pipeline (`none`, `selective`, `full`), and with pipelines the stage
    bounds: the index of each stage's first op in the planned function, then
    its op count (pp + 1 values, ascending).

    ```mlir
    module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 2, tp = 2, pp = 2,
        microbatches = 4, accumulated = 1, zero = 0, recompute = "none",
        stages = [0, 57, 120]>}
    ```
  }];
  let parameters = (ins
    "int64_t":$dp,
    "int64_t":$tp,
    "int64_t":$pp,
    "int64_t":$microbatches,
    "int64_t":$accumulated,
    "int64_t":$zero,
    StringRefParameter<"activation recomputation">:$recompute,
    OptionalParameter<"::mlir::DenseI64ArrayAttr", "stage bounds">:$stages
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The number of ranks of the mesh.
    int64_t ranks() const { return getDp() * getTp() * getPp(); }
  }];
}

def Tsr_ShardingAttr : Tsr_Attr<"Sharding", "sharding"> {
  let summary = "The tensor-parallel layouts chosen for one op";
  let description = [{
    What tsr-partition-search (or tsr-partition-plan-mesh) chose for an op,
    on the op as `tsr.sharding`: one layout per operand and per result -
    `R` replicated, `P` a partial sum, `M` a partial maximum, `S<d>` split
    along dimension d over the tensor-parallel ranks - and the plan's
    figures for it: its predicted `seconds` (compute and the resharding it
    feeds), the `weight_bytes` it holds per rank, the `share` of its work a
    rank does, `vocab_parallel` for a vocabulary-parallel gather.
    `tsr-partition-spmd` reads it; figures left out are 0 (share 1).

    ```mlir
    %h = tsr.matmul %x, %w {tsr.sharding = #tsr.sharding<operands = [R, S1],
        results = [S1], seconds = 1.7664e-06, share = 0.5>}
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "operand layouts">:$operands,
    ArrayRefParameter<"int64_t", "result layouts">:$results,
    APFloatParameter<"predicted seconds">:$seconds,
    APFloatParameter<"weight bytes per rank">:$weightBytes,
    APFloatParameter<"share of the work per rank">:$share,
    "bool":$vocabParallel
  );
  let builders = [
    AttrBuilder<(ins "::llvm::ArrayRef<int64_t>":$operands,
                     "::llvm::ArrayRef<int64_t>":$results, "double":$seconds,
                     "double":$weightBytes, "double":$share, "bool":$vocabParallel), [{
      return $_get($_ctxt, operands, results, ::llvm::APFloat(seconds),
                   ::llvm::APFloat(weightBytes), ::llvm::APFloat(share), vocabParallel);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Layout codes: a dimension d >= 0 (split along d), or these.
    static constexpr int64_t kReplicated = -1, kPartial = -2, kPartialMax = -3;
    /// "R", "P", "M" or "S<d>".
    static std::string layoutName(int64_t layout);
    /// The code of "R", "P", "M" or "S<d>", or nullopt.
    static std::optional<int64_t> parseLayout(::llvm::StringRef text);
    double seconds() const { return getSeconds().convertToDouble(); }
    double weightBytes() const { return getWeightBytes().convertToDouble(); }
    double share() const { return getShare().convertToDouble(); }
  }];
}

#endif // TESSERA_DIALECTS_TSR_IR_TSRATTRS_TD
