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

#endif // TESSERA_DIALECTS_TSR_IR_TSRATTRS_TD
