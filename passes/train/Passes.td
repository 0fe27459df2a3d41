//===- Passes.td - the training passes ---------------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_TRAIN_PASSES_TD
#define TESSERA_PASSES_TRAIN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AddLossPass : Pass<"tsr-train-loss", "mlir::func::FuncOp"> {
  let summary = "Replace the function's outputs by a training loss";
  let description = [{
    `cross-entropy`: the mean, over the positions whose label is not -100
    (PyTorch's `ignore_index`), of `logsumexp(logits) - logits[label]`, with
    `logits` the output named by `logits` (the first by default, shape
    `[..., V]`) and the labels a new int64 argument named by `labels`, of the
    logits' leading shape. The labels are not shifted: the user shifts them
    (as Hugging Face's models do inside). The function then returns the loss
    (a scalar named "loss") and nothing else.

    ```mlir
    func.func @main(%ids: tensor<2x16xi64>, %labels: tensor<2x16xi64>) -> (tensor<f32> {tsr.name = "loss"})
    ```
  }];
  let options = [
    Option<"loss", "loss", "std::string", /*default=*/"\"cross-entropy\"", "the loss">,
    Option<"logits", "logits", "std::string", /*default=*/"\"\"",
           "the output the loss reads (default: the first)">,
    Option<"labels", "labels", "std::string", /*default=*/"\"labels\"",
           "the name of the labels input">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def AutodiffPass : Pass<"tsr-train-autodiff", "mlir::func::FuncOp"> {
  let summary = "Append the gradient of the loss with respect to every weight";
  let description = [{
    Reverse-mode differentiation of a function whose first result is a scalar
    loss: the ops are visited from the last to the first, each op's gradient
    rule (GradientRules.h: one per tsr op, written in tsr ops) turning its
    results' gradients into its operands', summed where a value has several
    users. Every float `tsr.weight` is a parameter unless `frozen` matches its
    name (a glob); a weight used in several places (a tied embedding and LM
    head) gets the sum of its uses' gradients. `tie=A=B` makes weight A an
    alias of B (`A=B.T`: of B's transpose; implied when the shapes are
    transposed), for exporters that wrote one parameter twice. The function then returns the
    loss followed by one gradient per parameter, each named `grad:<weight>`
    with `tsr.grad_of = "<weight>"`.
  }];
  let options = [
    ListOption<"frozen", "frozen", "std::string",
               "weights (names or globs) that are not trained">,
    ListOption<"ties", "tie", "std::string",
               "A=B: weight A is weight B (or B.T, its transpose), one parameter">,
    Option<"wrtInputs", "wrt-inputs", "bool", /*default=*/"false",
           "also return the gradient of every float input (`grad:<input>`)">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def OptimizerPass : Pass<"tsr-train-optimizer", "mlir::func::FuncOp"> {
  let summary = "Turn the gradients into an optimizer step with its state";
  let description = [{
    Consumes the `grad:<weight>` results of `tsr-train-autodiff` and writes the
    update of each parameter, with PyTorch's semantics:

    - the step counter `train.step` (a state weight, starting at 0) counts up;
    - `clip-grad-norm` > 0: `torch.nn.utils.clip_grad_norm_` (the global L2
      norm over all gradients, coefficient `min(1, max / (norm + 1e-6))`);
    - the learning rate: `constant`, or `cosine` with linear warm-up over
      `warmup-steps` then a half cosine to 0 at `total-steps`;
    - `adamw`: `torch.optim.AdamW` (decoupled weight decay, bias-corrected
      moments `adamw.m:<weight>`, `adamw.v:<weight>`); `sgd`:
      `torch.optim.SGD` (weight decay, momentum `sgd.momentum:<weight>`,
      dampening, nesterov).

    State tensors are `tsr.weight ... zeros`. The function returns `loss`,
    `grad_norm` and `lr`, then every updated parameter and state tensor with
    `tsr.updates = "<weight>"`: after each step the runtime writes it back.
  }];
  let options = [
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adamw\"", "adamw or sgd">,
    Option<"lr", "lr", "double", /*default=*/"1e-3", "learning rate">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999", "AdamW beta2">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.01",
           "weight decay (AdamW: decoupled; SGD: added to the gradient)">,
    Option<"momentum", "momentum", "double", /*default=*/"0", "SGD momentum">,
    Option<"dampening", "dampening", "double", /*default=*/"0", "SGD dampening">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false", "SGD Nesterov momentum">,
    Option<"clipGradNorm", "clip-grad-norm", "double", /*default=*/"0",
           "clip the global gradient norm to this (0: no clipping)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"constant\"",
           "learning-rate schedule: constant or cosine">,
    Option<"warmupSteps", "warmup-steps", "int64_t", /*default=*/"0",
           "linear warm-up steps">,
    Option<"totalSteps", "total-steps", "int64_t", /*default=*/"0",
           "steps of the cosine schedule (to lr 0)">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

#endif // TESSERA_PASSES_TRAIN_PASSES_TD
