//===- TsrBase.td - the tsr dialect and its base classes ---*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRBASE_TD
#define TESSERA_DIALECTS_TSR_IR_TSRBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tsr_Dialect : Dialect {
  let name = "tsr";
  let cppNamespace = "::mlir::tsr";
  let summary = "Tessera's value-semantics graph dialect for transformer models";
  let description = [{
    `tsr` holds a whole model as a graph of operations on statically shaped
    builtin tensors. Weights are references (`tsr.weight`): the IR carries their
    name, element type and shape, never their data. High-level operations that
    the partitioner and the backends treat as units (`layer_norm`, `rms_norm`,
    `gelu`, `attention`, `rotary`) are first-class ops; the ONNX frontend emits
    the primitive forms and graph passes fuse them.

    Conventions: all shapes are static; axes are non-negative; binary
    elementwise ops broadcast with NumPy rules.
  }];
  let hasConstantMaterializer = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Tsr_ElementType : AnyTypeOf<[AnyFloat, AnySignlessInteger],
                                "float or signless integer">;
def Tsr_Tensor : StaticShapeTensorOf<[AnyFloat, AnySignlessInteger]>;
def Tsr_FloatTensor : StaticShapeTensorOf<[AnyFloat]>;
def Tsr_NumericTensor : StaticShapeTensorOf<[AnyFloat, AnySignlessInteger]>;
def Tsr_BoolTensor : StaticShapeTensorOf<[I1]>;
def Tsr_IndexTensor : StaticShapeTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Tsr_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how gelu is computed", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"tanh", 1>
    ]> {
  let cppNamespace = "::mlir::tsr";
}

def Tsr_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "elementwise comparison", [
      I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
      I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
      I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>
    ]> {
  let cppNamespace = "::mlir::tsr";
}

//===----------------------------------------------------------------------===//
// Base op classes
//===----------------------------------------------------------------------===//

class Tsr_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tsr_Dialect, mnemonic, traits>;

/// One operand, one result of the same type.
class Tsr_UnaryElementwiseOp<string mnemonic, Type type, string onnxOps,
                             list<Trait> traits = []>
    : Tsr_Op<mnemonic, traits # [Pure, Elementwise, SameOperandsAndResultType]> {
  let arguments = (ins type:$input);
  let results = (outs type:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let description = [{
    Applies the function to every element.

    ```mlir
    %y = tsr.}] # mnemonic # [{ %x : tensor<4x128xf32>
    ```

    From ONNX: }] # onnxOps # ".";
}

/// Two operands broadcast with NumPy rules; the result type is inferred.
class Tsr_BinaryElementwiseOp<string mnemonic, Type type, string onnxOps,
                              list<Trait> traits = []>
    : Tsr_Op<mnemonic, traits # [Pure, ResultsBroadcastableShape,
                                 AllElementTypesMatch<["lhs", "rhs", "result"]>,
                                 InferTypeOpAdaptor]> {
  let arguments = (ins type:$lhs, type:$rhs);
  let results = (outs type:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let description = [{
    Applies the operation elementwise after broadcasting both operands to a
    common shape (NumPy rules: dimensions are aligned from the right; a
    dimension of size 1 stretches).

    ```mlir
    %c = tsr.}] # mnemonic # [{ %a, %b : (tensor<4x128x768xf32>, tensor<768xf32>)
                       -> tensor<4x128x768xf32>
    ```

    From ONNX: }] # onnxOps # ".";
}

/// Reductions over a set of axes.
class Tsr_ReductionOp<string mnemonic, string onnxOps, list<Trait> traits = []>
    : Tsr_Op<mnemonic, traits # [Pure, InferTypeOpAdaptor,
                                 AllElementTypesMatch<["input", "result"]>]> {
  let arguments = (ins Tsr_NumericTensor:$input, DenseI64ArrayAttr:$axes,
                       UnitAttr:$keep_dims);
  let results = (outs Tsr_NumericTensor:$result);
  let assemblyFormat = [{
    $input `axes` `=` $axes (`keep_dims` $keep_dims^)? attr-dict `:`
    type($input) `->` type($result)
  }];
  let description = [{
    Reduces `input` over `axes` (sorted, unique, in range). With `keep_dims`
    the reduced axes stay as size 1; otherwise they are removed. An empty
    `axes` list is the identity.

    ```mlir
    %m = tsr.}] # mnemonic # [{ %x axes = [2] keep_dims
           : tensor<4x128x768xf32> -> tensor<4x128x1xf32>
    ```

    From ONNX: }] # onnxOps # ".";
  let hasFolder = 1;
}

#endif // TESSERA_DIALECTS_TSR_IR_TSRBASE_TD
