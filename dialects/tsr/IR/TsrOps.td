//===- TsrOps.td - tsr operations ------------------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSROPS_TD
#define TESSERA_DIALECTS_TSR_IR_TSROPS_TD

include "dialects/tsr/IR/TsrBase.td"

//===----------------------------------------------------------------------===//
// Sources: weights and constants
//===----------------------------------------------------------------------===//

def Tsr_WeightOp : Tsr_Op<"weight", [Pure]> {
  let summary = "a reference to a model weight (never its data)";
  let description = [{
    Names a tensor held in the weight store (an ONNX initializer, inline or in
    an external data file). The IR records the name, element type and shape
    only; the data stays in the store and is mapped lazily when a package is
    written, so compiling a large model never copies weights into the IR.

    With `offsets`, the result is the block of the stored tensor that starts
    there and has the result's shape: a column block of a fused QKV
    projection, or one rank's shard after partitioning.

    With `zeros`, the tensor is not in the model's store but starts as zeros:
    training state the compiler adds (optimizer moments, the step counter),
    which the runtime keeps and updates between steps.

    ```mlir
    %w = tsr.weight "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
    %q = tsr.weight "h.0.attn.c_attn.weight" offsets = [0, 384]
        : tensor<768x384xf32>
    ```

    From ONNX: graph initializers.
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<DenseI64ArrayAttr>:$offsets,
                       UnitAttr:$zeros);
  let results = (outs Tsr_Tensor:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::llvm::StringRef":$name), [{
      build($_builder, $_state, type, $_builder.getStringAttr(name), nullptr, nullptr);
    }]>
  ];
  let assemblyFormat =
      "$name (`offsets` `=` $offsets^)? (`zeros` $zeros^)? attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tsr_ConstantOp : Tsr_Op<"constant", [ConstantLike, Pure,
                                        AllTypesMatch<["value", "result"]>]> {
  let summary = "a small constant tensor";
  let description = [{
    A constant held in the IR: scalars, shape values, masks. Large tensors
    belong in the weight store (`tsr.weight`), not here.

    ```mlir
    %eps = tsr.constant dense<1.0e-05> : tensor<f32>
    ```

    From ONNX: Constant, ConstantOfShape, small initializers.
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise unary
//===----------------------------------------------------------------------===//

def Tsr_NegOp : Tsr_UnaryElementwiseOp<"neg", Tsr_NumericTensor, "Neg"> {
  let summary = "elementwise negation";
}
def Tsr_AbsOp : Tsr_UnaryElementwiseOp<"abs", Tsr_NumericTensor, "Abs"> {
  let summary = "elementwise absolute value";
}
def Tsr_ReluOp : Tsr_UnaryElementwiseOp<"relu", Tsr_NumericTensor, "Relu"> {
  let summary = "elementwise max(x, 0)";
}
def Tsr_ExpOp : Tsr_UnaryElementwiseOp<"exp", Tsr_FloatTensor, "Exp"> {
  let summary = "elementwise e^x";
}
def Tsr_LogOp : Tsr_UnaryElementwiseOp<"log", Tsr_FloatTensor, "Log"> {
  let summary = "elementwise natural logarithm";
}
def Tsr_SqrtOp : Tsr_UnaryElementwiseOp<"sqrt", Tsr_FloatTensor, "Sqrt"> {
  let summary = "elementwise square root";
}
def Tsr_RsqrtOp : Tsr_UnaryElementwiseOp<"rsqrt", Tsr_FloatTensor,
                                         "Reciprocal(Sqrt(x))"> {
  let summary = "elementwise 1 / sqrt(x)";
}
def Tsr_ReciprocalOp : Tsr_UnaryElementwiseOp<"reciprocal", Tsr_FloatTensor,
                                              "Reciprocal"> {
  let summary = "elementwise 1 / x";
}
def Tsr_TanhOp : Tsr_UnaryElementwiseOp<"tanh", Tsr_FloatTensor, "Tanh"> {
  let summary = "elementwise hyperbolic tangent";
}
def Tsr_ErfOp : Tsr_UnaryElementwiseOp<"erf", Tsr_FloatTensor, "Erf"> {
  let summary = "elementwise error function";
}
def Tsr_SigmoidOp : Tsr_UnaryElementwiseOp<"sigmoid", Tsr_FloatTensor,
                                           "Sigmoid"> {
  let summary = "elementwise 1 / (1 + e^-x)";
}
def Tsr_SinOp : Tsr_UnaryElementwiseOp<"sin", Tsr_FloatTensor, "Sin"> {
  let summary = "elementwise sine";
}
def Tsr_CosOp : Tsr_UnaryElementwiseOp<"cos", Tsr_FloatTensor, "Cos"> {
  let summary = "elementwise cosine";
}
def Tsr_SiluOp : Tsr_UnaryElementwiseOp<"silu", Tsr_FloatTensor,
                                        "Mul(x, Sigmoid(x)) (fused)"> {
  let summary = "elementwise x * sigmoid(x) (SiLU, swish)";
}
def Tsr_NotOp : Tsr_UnaryElementwiseOp<"not", Tsr_BoolTensor, "Not"> {
  let summary = "elementwise logical negation";
}

def Tsr_GeluOp : Tsr_Op<"gelu", [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "elementwise GELU, exact (erf) or tanh-approximated";
  let description = [{
    `none`: x * 0.5 * (1 + erf(x / sqrt(2))).
    `tanh`: x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).

    ```mlir
    %y = tsr.gelu %x : tensor<4x3072xf32>
    %z = tsr.gelu %x approximate = tanh : tensor<4x3072xf32>
    ```

    From ONNX: Gelu (opset 20), or the erf/tanh formulas fused by
    the graph passes.
  }];
  let arguments = (ins Tsr_FloatTensor:$input,
                       DefaultValuedAttr<Tsr_GeluApproximation,
                                         "GeluApproximation::none">:$approximate);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat =
      "$input (`approximate` `=` $approximate^)? attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Elementwise binary, comparison, selection, cast
//===----------------------------------------------------------------------===//

def Tsr_AddOp : Tsr_BinaryElementwiseOp<"add", Tsr_NumericTensor, "Add",
                                        [Commutative]> {
  let summary = "elementwise addition";
  let hasFolder = 1;
}
def Tsr_SubOp : Tsr_BinaryElementwiseOp<"sub", Tsr_NumericTensor, "Sub"> {
  let summary = "elementwise subtraction";
  let hasFolder = 1;
}
def Tsr_MulOp : Tsr_BinaryElementwiseOp<"mul", Tsr_NumericTensor, "Mul",
                                        [Commutative]> {
  let summary = "elementwise multiplication";
  let hasFolder = 1;
}
def Tsr_DivOp : Tsr_BinaryElementwiseOp<"div", Tsr_NumericTensor, "Div"> {
  let summary = "elementwise division (integers truncate toward zero)";
  let hasFolder = 1;
}
def Tsr_PowOp : Tsr_BinaryElementwiseOp<"pow", Tsr_FloatTensor, "Pow"> {
  let summary = "elementwise lhs ^ rhs";
}
def Tsr_MaxOp : Tsr_BinaryElementwiseOp<"max", Tsr_NumericTensor, "Max, Clip",
                                        [Commutative]> {
  let summary = "elementwise maximum";
}
def Tsr_MinOp : Tsr_BinaryElementwiseOp<"min", Tsr_NumericTensor, "Min, Clip",
                                        [Commutative]> {
  let summary = "elementwise minimum";
}
def Tsr_AndOp : Tsr_BinaryElementwiseOp<"and", Tsr_BoolTensor, "And",
                                        [Commutative]> {
  let summary = "elementwise logical and";
}
def Tsr_OrOp : Tsr_BinaryElementwiseOp<"or", Tsr_BoolTensor, "Or",
                                       [Commutative]> {
  let summary = "elementwise logical or";
}
def Tsr_XorOp : Tsr_BinaryElementwiseOp<"xor", Tsr_BoolTensor, "Xor",
                                        [Commutative]> {
  let summary = "elementwise logical exclusive or";
}

def Tsr_CompareOp : Tsr_Op<"compare", [Pure, ResultsBroadcastableShape,
                                      AllElementTypesMatch<["lhs", "rhs"]>,
                                      InferTypeOpAdaptor]> {
  let summary = "elementwise comparison with broadcasting";
  let description = [{
    Compares after NumPy broadcasting; the result is `i1`.

    ```mlir
    %m = tsr.compare lt, %a, %b : (tensor<128x128xi64>, tensor<128x1xi64>)
                                -> tensor<128x128xi1>
    ```

    From ONNX: Equal, Less, LessOrEqual, Greater, GreaterOrEqual.
  }];
  let arguments = (ins Tsr_ComparePredicate:$predicate,
                       Tsr_NumericTensor:$lhs, Tsr_NumericTensor:$rhs);
  let results = (outs Tsr_BoolTensor:$result);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def Tsr_SelectOp : Tsr_Op<"select", [Pure, ResultsBroadcastableShape,
                                    AllElementTypesMatch<["on_true", "on_false",
                                                          "result"]>,
                                    InferTypeOpAdaptor]> {
  let summary = "elementwise choice between two tensors by a condition";
  let description = [{
    `result = condition ? on_true : on_false`, all three broadcast together.

    ```mlir
    %s = tsr.select %mask, %scores, %neg_inf
        : (tensor<1x1x128x128xi1>, tensor<4x12x128x128xf32>, tensor<f32>)
        -> tensor<4x12x128x128xf32>
    ```

    From ONNX: Where.
  }];
  let arguments = (ins Tsr_BoolTensor:$condition, Tsr_Tensor:$on_true,
                       Tsr_Tensor:$on_false);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:`
    functional-type(operands, results)
  }];
}

def Tsr_CastOp : Tsr_Op<"cast", [Pure, Elementwise, SameOperandsAndResultShape]> {
  let summary = "elementwise conversion of the element type";
  let description = [{
    Converts each element; floats to integers truncate toward zero, anything
    to `i1` tests for non-zero.

    ```mlir
    %h = tsr.cast %x : tensor<4x768xf32> to tensor<4x768xbf16>
    ```

    From ONNX: Cast.
  }];
  let arguments = (ins Tsr_Tensor:$input);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def Tsr_MatmulOp : Tsr_Op<"matmul", [Pure, InferTypeOpAdaptor,
                                    AllElementTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "batched matrix product with broadcasting batch dimensions";
  let description = [{
    Multiplies the last two dimensions, `[..., M, K] x [..., K, N] ->
    [..., M, N]`; leading (batch) dimensions broadcast with NumPy rules.
    `transpose_lhs` / `transpose_rhs` swap the last two dimensions of an
    operand first. Both operands have rank at least 2 (the frontend reshapes
    vectors).

    ```mlir
    %y = tsr.matmul %x, %w : (tensor<4x128x768xf32>, tensor<768x2304xf32>)
                           -> tensor<4x128x2304xf32>
    %s = tsr.matmul %q, %k {transpose_rhs}
        : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>)
        -> tensor<4x12x128x128xf32>
    ```

    From ONNX: MatMul, Gemm (with `add` for the bias), Einsum.
  }];
  let arguments = (ins Tsr_NumericTensor:$lhs, Tsr_NumericTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Tsr_NumericTensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Reductions and normalisations
//===----------------------------------------------------------------------===//

def Tsr_ReduceSumOp : Tsr_ReductionOp<"reduce_sum", "ReduceSum"> {
  let summary = "sum over axes";
}
def Tsr_ReduceMeanOp : Tsr_ReductionOp<"reduce_mean", "ReduceMean"> {
  let summary = "arithmetic mean over axes";
}
def Tsr_ReduceMaxOp : Tsr_ReductionOp<"reduce_max", "ReduceMax"> {
  let summary = "maximum over axes";
}
def Tsr_ReduceMinOp : Tsr_ReductionOp<"reduce_min", "ReduceMin"> {
  let summary = "minimum over axes";
}
def Tsr_ReduceProdOp : Tsr_ReductionOp<"reduce_prod", "ReduceProd"> {
  let summary = "product over axes";
}

def Tsr_CumSumOp : Tsr_Op<"cumsum", [Pure, SameOperandsAndResultType]> {
  let summary = "cumulative sum along an axis";
  let description = [{
    `result[.., i, ..] = sum of input[.., j, ..]` for `j <= i` along `axis`
    (`j < i` with `exclusive`; from the end with `reverse`), accumulated in
    order.

    ```mlir
    %pos = tsr.cumsum %mask axis = 1 : tensor<4x128xi64>
    ```

    From ONNX: CumSum on run-time values (positions computed from the
    attention mask, as OPT and BLOOM do); CumSum of constants folds at import.
  }];
  let arguments = (ins Tsr_NumericTensor:$input, I64Attr:$axis, UnitAttr:$exclusive,
                       UnitAttr:$reverse);
  let results = (outs Tsr_NumericTensor:$result);
  let assemblyFormat = [{
    $input `axis` `=` $axis (`exclusive` $exclusive^)? (`reverse` $reverse^)? attr-dict `:`
    type($result)
  }];
  let hasVerifier = 1;
}

def Tsr_ReplicaSumOp : Tsr_Op<"replica_sum", [SameOperandsAndResultType]> {
  let summary = "sum over the data-parallel replicas";
  let description = [{
    Each data-parallel replica holds a partial value (its slice of the batch
    reduced); the result is the sum over all replicas, the same on each.

    ```mlir
    %dw = tsr.replica_sum %dw_local : tensor<768x3072xf32>
    ```

    From data parallelism of a training step (`tsr-partition-split-batch`
    with `reduce-over-batch`): the loss and the gradients reduce over the
    batch, which the replicas share. `tsr-partition-spmd` turns it into an
    all-reduce over the mesh's data-parallel axis.
  }];
  let arguments = (ins Tsr_FloatTensor:$input);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{ $input attr-dict `:` type($result) }];
}

def Tsr_SoftmaxOp : Tsr_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax along one axis";
  let description = [{
    `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`.

    ```mlir
    %p = tsr.softmax %s axis = 3 : tensor<4x12x128x128xf32>
    ```

    From ONNX: Softmax (opset 13 semantics: one axis).
  }];
  let arguments = (ins Tsr_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = "$input `axis` `=` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tsr_LayerNormOp : Tsr_Op<"layer_norm", [Pure,
                                           AllTypesMatch<["input", "result"]>]> {
  let summary = "layer normalisation over the trailing axes";
  let description = [{
    Normalises `input` over the axes `[axis, rank)` to zero mean and unit
    variance (population variance, plus `epsilon`), then multiplies by `scale`
    and adds `bias` (optional). `scale` and `bias` have the shape of the
    normalised axes.

    ```mlir
    %y = tsr.layer_norm %x, %gamma, %beta axis = 2 epsilon = 1.0e-05
        : (tensor<4x128x768xf32>, tensor<768xf32>, tensor<768xf32>)
        -> tensor<4x128x768xf32>
    ```

    From ONNX: LayerNormalization (opset 17), or the ReduceMean / Sub / Pow /
    Sqrt / Div form fused by the graph passes.
  }];
  let arguments = (ins Tsr_FloatTensor:$input, Tsr_FloatTensor:$scale,
                       Optional<Tsr_FloatTensor>:$bias, I64Attr:$axis,
                       F64Attr:$epsilon);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? `axis` `=` $axis `epsilon` `=` $epsilon
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tsr_RmsNormOp : Tsr_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "root-mean-square normalisation over the trailing axes";
  let description = [{
    `x / sqrt(mean(x^2 over [axis, rank)) + epsilon) * scale`.

    ```mlir
    %y = tsr.rms_norm %x, %w axis = 2 epsilon = 1.0e-06
        : (tensor<1x16x64xf32>, tensor<64xf32>) -> tensor<1x16x64xf32>
    ```

    From ONNX: RMSNormalization (opset 23), or Llama's Pow / ReduceMean / Add /
    Sqrt / Div / Mul form fused by the graph passes.
  }];
  let arguments = (ins Tsr_FloatTensor:$input, Tsr_FloatTensor:$scale,
                       I64Attr:$axis, F64Attr:$epsilon);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `axis` `=` $axis `epsilon` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def Tsr_ReshapeOp : Tsr_Op<"reshape", [Pure,
                                      AllElementTypesMatch<["input", "result"]>]> {
  let summary = "reinterpret a tensor with another shape of the same size";
  let description = [{
    ```mlir
    %y = tsr.reshape %x : tensor<4x128x768xf32> -> tensor<4x128x12x64xf32>
    ```

    From ONNX: Reshape, Flatten, Squeeze, Unsqueeze.
  }];
  let arguments = (ins Tsr_Tensor:$input);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Tsr_TransposeOp : Tsr_Op<"transpose", [Pure, InferTypeOpAdaptor,
                                          AllElementTypesMatch<["input", "result"]>]> {
  let summary = "permute the dimensions";
  let description = [{
    Result dimension `i` is input dimension `permutation[i]`.

    ```mlir
    %y = tsr.transpose %x perm = [0, 2, 1, 3]
        : tensor<4x128x12x64xf32> -> tensor<4x12x128x64xf32>
    ```

    From ONNX: Transpose.
  }];
  let arguments = (ins Tsr_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $input `perm` `=` $permutation attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Tsr_ConcatOp : Tsr_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "join tensors along one axis";
  let description = [{
    All inputs have the same rank and element type and agree on every
    dimension but `axis`.

    ```mlir
    %kv = tsr.concat %past, %k axis = 2
        : (tensor<1x12x7x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x8x64xf32>
    ```

    From ONNX: Concat.
  }];
  let arguments = (ins Variadic<Tsr_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $inputs `axis` `=` $axis attr-dict `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def Tsr_SliceOp : Tsr_Op<"slice", [Pure, InferTypeOpAdaptor,
                                  AllElementTypesMatch<["input", "result"]>]> {
  let summary = "a strided box of a tensor";
  let description = [{
    For every dimension `d`, takes indices `start[d], start[d] + stride[d], ...`
    below `limit[d]`, with `0 <= start <= limit <= size` and `stride >= 1`
    (1 when `strides` is absent). The frontend resolves ONNX's negative and
    clamped bounds and its partial `axes` lists into this full form.

    ```mlir
    %q = tsr.slice %qkv start = [0, 0, 0] limit = [4, 128, 768]
        : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>
    ```

    From ONNX: Slice.
  }];
  let arguments = (ins Tsr_Tensor:$input, DenseI64ArrayAttr:$start,
                       DenseI64ArrayAttr:$limit,
                       OptionalAttr<DenseI64ArrayAttr>:$strides);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $input `start` `=` $start `limit` `=` $limit (`strides` `=` $strides^)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

def Tsr_SplitOp : Tsr_Op<"split", [Pure, InferTypeOpAdaptor]> {
  let summary = "cut a tensor into consecutive pieces along one axis";
  let description = [{
    `sizes` gives the extent of each piece along `axis`; they sum to the
    dimension.

    ```mlir
    %q, %k, %v = tsr.split %qkv axis = 2 sizes = [768, 768, 768]
        : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>, tensor<4x128x768xf32>,
                                    tensor<4x128x768xf32>
    ```

    From ONNX: Split.
  }];
  let arguments = (ins Tsr_Tensor:$input, I64Attr:$axis,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Tsr_Tensor>:$results);
  let assemblyFormat = [{
    $input `axis` `=` $axis `sizes` `=` $sizes attr-dict `:` type($input) `->`
    type($results)
  }];
}

def Tsr_BroadcastOp : Tsr_Op<"broadcast", [Pure,
                                          AllElementTypesMatch<["input", "result"]>]> {
  let summary = "stretch a tensor to a larger shape with NumPy rules";
  let description = [{
    The input's dimensions align with the result's trailing ones; each is
    equal to the result's or 1.

    ```mlir
    %m = tsr.broadcast %mask : tensor<1x1x128x128xi1> -> tensor<4x12x128x128xi1>
    ```

    From ONNX: Expand.
  }];
  let arguments = (ins Tsr_Tensor:$input);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tsr_GatherOp : Tsr_Op<"gather", [Pure, InferTypeOpAdaptor,
                                    AllElementTypesMatch<["input", "result"]>]> {
  let summary = "pick slices of a tensor by index along one axis";
  let description = [{
    ONNX Gather: the result shape is `input.shape[:axis] + indices.shape +
    input.shape[axis+1:]`. Negative indices count from the end.

    ```mlir
    %e = tsr.gather %wte[%ids] axis = 0
        : (tensor<50257x768xf32>, tensor<4x128xi64>) -> tensor<4x128x768xf32>
    ```

    A vocabulary-parallel shard of a table (made by the partitioner) carries
    `row_offset`: it holds rows `[row_offset, row_offset + dim(axis))` of the
    global table, indices stay global, and indices outside its rows give zeros
    (the ranks' partial results are summed by an all-reduce).

    From ONNX: Gather (embeddings, position lookups).
  }];
  let arguments = (ins Tsr_Tensor:$input, Tsr_IndexTensor:$indices, I64Attr:$axis,
                       OptionalAttr<I64Attr>:$row_offset);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $indices `]` `axis` `=` $axis attr-dict `:`
    functional-type(operands, results)
  }];
}

def Tsr_ScatterAddOp : Tsr_Op<"scatter_add", [Pure,
                                            AllElementTypesMatch<["updates", "result"]>]> {
  let summary = "sum slices into a zero tensor by index: the transpose of gather";
  let description = [{
    The gradient of `gather`: a zero tensor of the result's type, to which
    each slice of `updates` is added at its index along `axis` (repeated
    indices accumulate). `updates` has the shape
    `result.shape[:axis] + indices.shape + result.shape[axis+1:]`; negative
    indices count from the end, indices out of range are an error at run time.

    ```mlir
    %dwte = tsr.scatter_add %dx[%ids] axis = 0
        : (tensor<4x128x768xf32>, tensor<4x128xi64>) -> tensor<50257x768xf32>
    ```

    From training: the gradient of an embedding lookup.
  }];
  let arguments = (ins Tsr_FloatTensor:$updates, Tsr_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $updates `[` $indices `]` `axis` `=` $axis attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tsr_DropoutOp : Tsr_Op<"dropout", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "training-mode dropout from a counter-based random stream";
  let description = [{
    Each element is kept with probability 1 - `ratio` and scaled by
    1 / (1 - ratio), else zeroed. Whether element g (its linear index in the
    whole tensor, of shape `global_shape`) is kept depends only on (`seed`,
    `stream`, `step`, g): a hash, no state, so the same element draws the
    same on every mesh, and the gradient (a dropout of the output gradient
    with the same attributes and operands) drops the same elements.

    `step` is the training step count (the optimizer's `train.step`). This
    value's block starts at `origin` in the whole tensor; with `chunk` (the
    index of this replica's or micro-batch's block of the batch, a held
    input), `chunk * chunk_stride` more along `chunk_dim`.

    ```mlir
    %y = tsr.dropout %x, %step ratio = 1.000000e-01 seed = 0 stream = 3
        global_shape = [4, 128, 768] origin = [0, 0, 0]
        : (tensor<4x128x768xf32>, tensor<f32>) -> tensor<4x128x768xf32>
    ```

    From ONNX: Dropout with training_mode true and ratio > 0 under
    `tessera-compile --train` (`--dropout-seed` sets the seed).
  }];
  let arguments = (ins Tsr_FloatTensor:$input, Tsr_FloatTensor:$step,
                       Optional<Tsr_IndexTensor>:$chunk, F64Attr:$ratio, I64Attr:$seed,
                       I64Attr:$stream, DenseI64ArrayAttr:$global_shape,
                       DenseI64ArrayAttr:$origin, DefaultValuedAttr<I64Attr, "0">:$chunk_dim,
                       DefaultValuedAttr<I64Attr, "0">:$chunk_stride);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $step (`chunk` $chunk^)? `ratio` `=` $ratio `seed` `=` $seed `stream` `=` $stream
    `global_shape` `=` $global_shape `origin` `=` $origin attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Generation: one position per sequence, the KV cache
//===----------------------------------------------------------------------===//

def Tsr_TakeRowsOp : Tsr_Op<"take_rows", [Pure,
                                          AllElementTypesMatch<["input", "result"]>]> {
  let summary = "the row at each sequence's position along a sequence axis";
  let description = [{
    Dimension `axis` of `input` has `outer * S * inner` elements (a sequence
    axis of length `S`, possibly merged with others); the result keeps
    `outer * inner` of them, the ones at sequence index `positions[b]`:

      result[.., o * inner + i, ..] = input[.., (o * S + positions[b]) * inner + i, ..]

    where `b` is the result's index along dimension 0 when `axis > 0` (an
    input of size 1 there is broadcast to the batch) and `o` when `axis` is 0.
    `positions` holds one position per sequence (`[B]`, or `[1]` for all).

    ```mlir
    %row = tsr.take_rows %cos[%pos] axis = 2 inner = 1
        : (tensor<1x1x128x64xf32>, tensor<4xi64>) -> tensor<4x1x1x64xf32>
    ```

    From generation: a position-dependent value (position table, rotary
    angles, causal mask rows) read at the decode position.
  }];
  let arguments = (ins Tsr_Tensor:$input, Tsr_IndexTensor:$positions, I64Attr:$axis,
                       I64Attr:$inner);
  let results = (outs Tsr_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $positions `]` `axis` `=` $axis `inner` `=` $inner attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tsr_CacheWriteOp : Tsr_Op<"cache_write", [Pure,
                                              AllTypesMatch<["cache", "result"]>,
                                              AllElementTypesMatch<["cache", "update"]>]> {
  let summary = "the cache with new rows per sequence written from its position on";
  let description = [{
    `cache` `[B, .., T, ..]` with `update` of the same shape except `R <= T`
    at `axis`: the result is the cache where, for every sequence `b`, the `R`
    slices from index `positions[b]` on along `axis` hold `update[b]` (one
    row per decode step; a whole prompt in a prefill). Rows outside `[0, T)`
    are an error at run time.

    ```mlir
    %k = tsr.cache_write %cache[%pos], %k_new axis = 2
        : (tensor<1x12x1024x64xf32>, tensor<1xi64>, tensor<1x12x1x64xf32>)
          -> tensor<1x12x1024x64xf32>
    ```

    From generation: the key or value rows of the decode position appended to
    a layer's KV cache.
  }];
  let arguments = (ins Tsr_FloatTensor:$cache, Tsr_IndexTensor:$positions,
                       Tsr_FloatTensor:$update, I64Attr:$axis);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $cache `[` $positions `]` `,` $update `axis` `=` $axis attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused transformer ops
//===----------------------------------------------------------------------===//

def Tsr_AttentionOp : Tsr_Op<"attention", [Pure, InferTypeOpAdaptor]> {
  let summary = "scaled dot-product attention, multi-head or grouped-query";
  let description = [{
    `softmax(scale * Q Kᵀ + mask) V` per head, with layouts

      query `[B, Hq, S, D]`, key `[B, Hkv, T, D]`, value `[B, Hkv, T, Dv]`
      -> result `[B, Hq, S, Dv]`.

    The head counts are the shapes' second dimensions: `Hq == Hkv` is
    multi-head attention, `Hkv` dividing `Hq` is grouped-query attention (query
    head `h` uses key/value head `h / (Hq / Hkv)`). `causal` masks key
    positions after the query position (aligned at the end: query `i` sees keys
    `j <= i + T - S`). `mask` is optional and broadcasts to `[B, Hq, S, T]`:
    `i1` (true = attend) or additive, of the query's element type. `scale` is
    usually `1 / sqrt(D)`. `softcap`, where present, caps the scaled scores
    before the mask: `softcap * tanh(scale * Q Kᵀ / softcap)` (Gemma 2).

    ```mlir
    %o = tsr.attention %q, %k, %v causal scale = 0.125
        : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>,
           tensor<4x12x128x64xf32>) -> tensor<4x12x128x64xf32>
    ```

    From ONNX: the MatMul / Mul / Add or Where / Softmax / MatMul chain fused
    by the graph passes; Attention (opset 23).
  }];
  let arguments = (ins Tsr_FloatTensor:$query, Tsr_FloatTensor:$key,
                       Tsr_FloatTensor:$value, Optional<Tsr_Tensor>:$mask,
                       UnitAttr:$causal, F64Attr:$scale, OptionalAttr<F64Attr>:$softcap);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `)`)? (`causal` $causal^)?
    `scale` `=` $scale (`softcap` `=` $softcap^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Tsr_RotaryOp : Tsr_Op<"rotary", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates pairs of features of `input` (`[..., S, D]`) by position-dependent
    angles. `cos` and `sin` have shape `[..., S, R]` broadcastable to the
    input's leading dimensions, where `R <= D` is the even rotary width; the
    first `R` features are rotated, the rest pass through. Pairs are
    `(i, i + R/2)` (GPT-NeoX/Llama `rotate_half`, with `cos`/`sin` holding each
    angle twice) or, with `interleaved`, `(2i, 2i + 1)` (GPT-J).

    ```mlir
    %qr = tsr.rotary %q, %cos, %sin
        : (tensor<1x8x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>)
        -> tensor<1x8x16x64xf32>
    ```

    From ONNX: the Mul / Slice / Neg / Concat / Add rotate-half chain fused by
    the graph passes; RotaryEmbedding (opset 23).
  }];
  let arguments = (ins Tsr_FloatTensor:$input, Tsr_FloatTensor:$cos,
                       Tsr_FloatTensor:$sin, UnitAttr:$interleaved);
  let results = (outs Tsr_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin (`interleaved` $interleaved^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // TESSERA_DIALECTS_TSR_IR_TSROPS_TD
