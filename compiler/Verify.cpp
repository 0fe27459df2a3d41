//===- Verify.cpp - tessera-compile --verify ------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Verify.h"

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
    auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "tsr.name");
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

std::vector<std::string> tessera::referenceCompileArgs(int argc, char **argv,
                                                       const std::string &output,
                                                       bool generation, int64_t batch,
                                                       int64_t maxSeq) {
  static const std::set<std::string> droppedForGeneration = {
      "max-seq", "prefill", "ids-input", "mask-input", "position-ids-input", "batch", "seq"};
  // Options that only shape the plan, the target or the output, each with
  // its value (as --flag=value or --flag value).
  static const std::set<std::string> dropped = {
      "o",           "mesh",         "devices",    "cluster",       "microbatches",
      "zero",        "shard",        "pipeline-split", "objective", "recompute",
      "grad-bucket-mb", "target",    "dtype",      "emit",          "cuda-arch",
      "rank",        "verify-rtol",  "verify-atol", "weights",      "max-memory"};
  static const std::set<std::string> droppedFlags = {"verify", "explain", "no-gemm-epilogues",
                                                     "no-attention-views"};
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    llvm::StringRef name = arg;
    if (!name.consume_front("--"))
      name.consume_front("-");
    if (name.size() == arg.size()) { // not an option: the model
      args.push_back(arg.str());
      continue;
    }
    auto [key, value] = name.split('=');
    if (droppedFlags.count(key.str()) || (generation && key == "generate"))
      continue;
    if (dropped.count(key.str()) || (generation && droppedForGeneration.count(key.str()))) {
      if (!name.contains('=') && i + 1 < argc)
        ++i; // its value
      continue;
    }
    args.push_back(arg.str());
  }
  if (generation) {
    args.push_back("--batch=" + std::to_string(batch));
    args.push_back("--seq=" + std::to_string(maxSeq));
  }
  args.push_back("--no-graph-fusion");
  args.push_back("-o");
  args.push_back(output);
  return args;
}

namespace tessera {
namespace {

int verifyWith(int argc, char **argv, const std::string &compiledPath,
               const std::map<std::string, int64_t> &bounds, double rtol, double atol,
               bool generation, int64_t batch, int64_t maxSeq) {
#if TESSERA_HAVE_RUNTIME
  std::string reference = compiledPath + ".reference.tpkg";
  llvm::errs() << "tessera-compile: --verify: compiling the reference (as imported: no "
                  "fusion, one rank"
               << (generation ? ", a forward pass over " + std::to_string(batch) + " x " +
                                    std::to_string(maxSeq) + " tokens"
                              : std::string())
               << ")\n";
  int code = compileArgs(referenceCompileArgs(argc, argv, reference, generation, batch, maxSeq));
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
  (void)argc, (void)argv, (void)compiledPath, (void)bounds, (void)rtol, (void)atol;
  (void)generation, (void)batch, (void)maxSeq;
  llvm::errs() << "error: --verify needs the runtime (this tessera-compile was built "
                  "without it: TESSERA_BUILD_RUNTIME=OFF)\n";
  return 2;
#endif
}

} // namespace
} // namespace tessera

int tessera::verifyAgainstReference(int argc, char **argv, const std::string &compiledPath,
                                    const std::map<std::string, int64_t> &bounds,
                                    double rtol, double atol) {
  return verifyWith(argc, argv, compiledPath, bounds, rtol, atol, false, 0, 0);
}

int tessera::verifyGenerationAgainstReference(int argc, char **argv,
                                              const std::string &compiledPath,
                                              const std::map<std::string, int64_t> &bounds,
                                              int64_t batch, int64_t maxSeq, double rtol,
                                              double atol) {
  return verifyWith(argc, argv, compiledPath, bounds, rtol, atol, true, batch, maxSeq);
}
