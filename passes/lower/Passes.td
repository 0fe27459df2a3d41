//===- Passes.td - the lowering passes ---------------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_PASSES_TD
#define TESSERA_PASSES_LOWER_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToPlanPass : Pass<"tsr-lower-plan", "mlir::ModuleOp"> {
  let summary = "Lower each function to the runtime's kernel plan and print it";
  let description = [{
    The last step before the package: every function of the module (a
    rank's SPMD program, or a stage's) becomes a list of kernels over
    numbered tensors with a static memory plan: activations get offsets in
    one arena by liveness (greedy by size), reshapes become free views,
    chains of f32 elementwise ops one `elementwise` kernel, weights and
    constants references into the package's data section, `shard`
    collectives kernels over the mesh rank's groups.

    The plan is not MLIR: the pass prints it (the text of
    `tessera-compile --emit=plan`) to `output` ("-" for stdout) and leaves
    the IR unchanged; tessera-compile serialises the same plan into the
    package.
  }];
  let options = [
    Option<"rank", "rank", "int64_t", /*default=*/"0",
           "mesh rank the program runs as (fixes each collective's group)">,
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "where to print the plan">,
  ];
}

#endif // TESSERA_PASSES_LOWER_PASSES_TD
