//===- Passes.td - graph-level passes on tsr ---------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_GRAPH_PASSES_TD
#define TESSERA_PASSES_GRAPH_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseTransformerOpsPass : Pass<"tsr-graph-fuse", "mlir::func::FuncOp"> {
  let summary = "Recognise transformer building blocks in primitive tsr ops";
  let description = [{
    Rewrites the primitive forms that ONNX exporters emit into tsr's
    high-level ops:

    - `gelu`: x * 0.5 * (1 + erf(x / sqrt(2))) and the tanh approximation;
    - `silu`: x * sigmoid(x);
    - `layer_norm`: (x - mean) / sqrt(var + eps) * gamma + beta;
    - `rms_norm`: x * rsqrt(mean(x^2) + eps) * w (also via sqrt/reciprocal/div);
    - `attention`: softmax(Q Kᵀ * scale + mask) V, with the scale split over
      Q and K, boolean or additive masks, the causal mask recognised, NaN-safe
      softmax, and grouped-query attention's repeated K/V undone;
    - `rotary`: x * cos + rotate_half(x) * sin, also on a leading part of the
      features (partial rotary).

    Every match checks constants and shapes exactly; near misses are left as
    they are.
  }];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

#endif // TESSERA_PASSES_GRAPH_PASSES_TD
