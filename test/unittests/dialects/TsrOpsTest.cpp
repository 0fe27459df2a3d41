//===- TsrOpsTest.cpp - building tsr ops from C++ -------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The frontend builds tsr ops without spelling result types; these tests pin
// the inferred types and the folds it relies on.
//
//===----------------------------------------------------------------------===//

#include "compiler/Registration.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::tsr;

namespace {

class TsrOpsTest : public ::testing::Test {
protected:
  TsrOpsTest() : builder(&context), loc(builder.getUnknownLoc()) {
    DialectRegistry registry;
    tessera::registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    module = ModuleOp::create(loc);
    builder.setInsertionPointToEnd(module->getBody());
  }

  Value weight(ArrayRef<int64_t> shape, Type element = {}) {
    if (!element)
      element = builder.getF32Type();
    return WeightOp::create(builder, loc, RankedTensorType::get(shape, element),
                            "w" + std::to_string(counter++));
  }

  static ArrayRef<int64_t> shapeOf(Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  }

  MLIRContext context;
  OpBuilder builder;
  Location loc;
  OwningOpRef<ModuleOp> module;
  int counter = 0;
};

TEST_F(TsrOpsTest, BinaryOpsInferBroadcastShape) {
  Value x = weight({4, 1, 768});
  Value bias = weight({128, 768});
  auto add = AddOp::create(builder, loc, x, bias);
  EXPECT_EQ(shapeOf(add), (ArrayRef<int64_t>{4, 128, 768}));
  auto cmp = CompareOp::create(builder, loc, ComparePredicate::lt, x, bias);
  EXPECT_TRUE(cmp.getType().getElementType().isInteger(1));
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(TsrOpsTest, BroadcastInferenceReportsMismatch) {
  Value a = weight({4, 8});
  Value b = weight({3});
  SmallVector<Type> inferred;
  SmallVector<Value> operands{a, b};
  AddOp::Adaptor adaptor(operands);
  EXPECT_TRUE(failed(AddOp::inferReturnTypes(&context, std::nullopt, adaptor,
                                             inferred)));
}

TEST_F(TsrOpsTest, MatmulInfersTransposedAndBatchedShapes) {
  Value q = weight({2, 12, 128, 64});
  Value k = weight({2, 12, 128, 64});
  auto scores = MatmulOp::create(builder, loc, q, k, /*transpose_lhs=*/false,
                                 /*transpose_rhs=*/true);
  EXPECT_EQ(shapeOf(scores), (ArrayRef<int64_t>{2, 12, 128, 128}));
  Value w = weight({64, 256});
  auto proj = MatmulOp::create(builder, loc, q, w, false, false);
  EXPECT_EQ(shapeOf(proj), (ArrayRef<int64_t>{2, 12, 128, 256}));
}

TEST_F(TsrOpsTest, GroupedQueryAttention) {
  Value q = weight({1, 8, 16, 32});
  Value k = weight({1, 2, 20, 32});
  Value v = weight({1, 2, 20, 48});
  auto out = AttentionOp::create(builder, loc, q, k, v, /*mask=*/Value(),
                                 /*causal=*/builder.getUnitAttr(), builder.getF64FloatAttr(0.125),
                                 /*softcap=*/FloatAttr());
  EXPECT_EQ(shapeOf(out), (ArrayRef<int64_t>{1, 8, 16, 48}));
  EXPECT_TRUE(succeeded(verify(*module)));

  // Three key/value heads do not divide eight query heads.
  Value k3 = weight({1, 3, 20, 32});
  SmallVector<Type> inferred;
  SmallVector<Value> operands{q, k3, v};
  AttentionOp::Adaptor adaptor(operands, builder.getDictionaryAttr({}), {}, {});
  EXPECT_TRUE(failed(AttentionOp::inferReturnTypes(&context, std::nullopt,
                                                   adaptor, inferred)));
}

TEST_F(TsrOpsTest, SplitInfersOneTypePerPiece) {
  Value qkv = weight({4, 128, 2304});
  auto split = SplitOp::create(builder, loc, qkv, 2,
                               ArrayRef<int64_t>{768, 768, 768});
  ASSERT_EQ(split.getNumResults(), 3u);
  for (Value piece : split.getResults())
    EXPECT_EQ(shapeOf(piece), (ArrayRef<int64_t>{4, 128, 768}));
}

TEST_F(TsrOpsTest, ConstantShapeArithmeticFolds) {
  auto type = RankedTensorType::get({2}, builder.getI64Type());
  Value a = ConstantOp::create(
      builder, loc, DenseIntElementsAttr::get(type, ArrayRef<int64_t>{4, 128}));
  Value b = ConstantOp::create(
      builder, loc, DenseIntElementsAttr::get(type, ArrayRef<int64_t>{2, 2}));
  Value product = builder.createOrFold<MulOp>(loc, a, b);
  auto folded = product.getDefiningOp<ConstantOp>();
  ASSERT_TRUE(folded);
  auto values = cast<DenseIntElementsAttr>(folded.getValue());
  EXPECT_EQ(values.getValues<int64_t>()[0], 8);
  EXPECT_EQ(values.getValues<int64_t>()[1], 256);

  // Integer division by zero is left for run time.
  Value zero = ConstantOp::create(
      builder, loc, DenseIntElementsAttr::get(type, ArrayRef<int64_t>{1, 0}));
  Value quotient = builder.createOrFold<DivOp>(loc, a, zero);
  EXPECT_TRUE(quotient.getDefiningOp<DivOp>());
}

TEST_F(TsrOpsTest, TransposeOfTransposeComposes) {
  Value x = weight({2, 3, 4});
  Value t1 = builder.createOrFold<TransposeOp>(loc, x,
                                               ArrayRef<int64_t>{1, 2, 0});
  Value t2 = builder.createOrFold<TransposeOp>(loc, t1,
                                               ArrayRef<int64_t>{2, 0, 1});
  EXPECT_EQ(t2, x) << "the two permutations compose to the identity";
}

} // namespace
