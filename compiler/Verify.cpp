//===- Verify.cpp - tessera-compile --verify ------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Verify.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "compiler/Compile.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#if TESSERA_HAVE_RUNTIME
#include "tessera/runtime/Verify.h"
#endif

#include <set>

using namespace mlir;

std::map<std::string, int64_t> tessera::integerInputBounds(ModuleOp module) {
  std::map<std::string, int64_t> bounds;
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return bounds;
  for (BlockArgument arg : main.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || !type.getElementType().isInteger() || type.getElementType().isInteger(1))
      continue;
    auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr);
    if (!name)
      continue;
    int64_t bound = -1;
    std::vector<Value> work{arg};
    std::set<Operation *> seen;
    while (!work.empty()) {
      Value v = work.back();
      work.pop_back();
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (!seen.insert(user).second)
          continue;
        if (auto gather = dyn_cast<tsr::GatherOp>(user)) {
          if (use.getOperandNumber() == 1) {
            int64_t size = cast<RankedTensorType>(gather.getInput().getType())
                               .getShape()[gather.getAxis()];
            bound = bound < 0 ? size : std::min(bound, size);
          }
          continue;
        }
        if (isa<tsr::ReshapeOp, tsr::CastOp, tsr::BroadcastOp, tsr::TransposeOp>(user))
          work.push_back(user->getResult(0));
      }
    }
    if (bound > 0)
      bounds[name.str()] = bound;
  }
  return bounds;
}

namespace tessera {
namespace {

int verifyWith(const CompileOptions &compiled, const std::string &compiledPath,
               const std::map<std::string, int64_t> &bounds, bool generation, int64_t batch,
               int64_t maxSeq) {
  double rtol = compiled.verifyRtol, atol = compiled.verifyAtol;
#if TESSERA_HAVE_RUNTIME
  std::string reference = compiledPath + ".reference.tpkg";
  llvm::errs() << "tessera-compile: --verify: compiling the reference (as imported: no "
                  "fusion, one rank"
               << (generation ? ", a forward pass over " + std::to_string(batch) + " x " +
                                    std::to_string(maxSeq) + " tokens"
                              : std::string())
               << ")\n";
  int code = compile(referenceOptions(compiled, reference, batch, maxSeq));
  if (code != 0) {
    llvm::sys::fs::remove(reference);
    llvm::errs() << "error: --verify: the reference did not compile\n";
    return 1;
  }
  rt::VerifyOptions options;
  options.rtol = rtol;
  options.atol = atol;
  options.integerBounds = bounds;
  std::vector<rt::OutputDifference> differences;
  rt::Status s = generation
                     ? rt::verifyGeneration(compiledPath, reference, options, differences)
                     : rt::verifyPackages(compiledPath, reference, options, differences);
  llvm::sys::fs::remove(reference);
  if (!s.ok()) {
    llvm::errs() << "error: --verify: " << s.message() << "\n";
    return 1;
  }
  bool ok = !differences.empty();
  for (const rt::OutputDifference &d : differences) {
    llvm::errs() << "verify: output '" << d.name << "': max |diff| "
                 << llvm::format("%.3g", d.maxAbs) << ", " << d.outside << " of "
                 << d.elements << " outside rtol " << llvm::format("%g", rtol) << " atol "
                 << llvm::format("%g", atol)
                 << (d.ok() ? ": ok" : ": DIFFERS") << "\n";
    ok &= d.ok();
  }
  if (differences.empty())
    llvm::errs() << "error: --verify: the packages share no output\n";
  else if (!ok)
    llvm::errs() << "error: --verify: the compiled package differs from the model as imported\n";
  return ok ? 0 : 1;
#else
  (void)compiled, (void)compiledPath, (void)bounds, (void)rtol, (void)atol;
  (void)generation, (void)batch, (void)maxSeq;
  llvm::errs() << "error: --verify needs the runtime (this tessera-compile was built "
                  "without it: TESSERA_BUILD_RUNTIME=OFF)\n";
  return 2;
#endif
}

} // namespace
} // namespace tessera

int tessera::verifyAgainstReference(const CompileOptions &compiled,
                                    const std::string &compiledPath,
                                    const std::map<std::string, int64_t> &bounds) {
  return verifyWith(compiled, compiledPath, bounds, false, 0, 0);
}

int tessera::verifyGenerationAgainstReference(const CompileOptions &compiled,
                                              const std::string &compiledPath,
                                              const std::map<std::string, int64_t> &bounds,
                                              int64_t batch, int64_t maxSeq) {
  return verifyWith(compiled, compiledPath, bounds, true, batch, maxSeq);
}
