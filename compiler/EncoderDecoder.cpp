//===- EncoderDecoder.cpp - export folders and encoder-decoders -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// `tessera-compile EXPORT_DIR --generate` on the folder Optimum writes:
// `model.onnx` (a decoder, compiled as the file itself), or
// `encoder_model.onnx` + `decoder_model.onnx` (T5, BART: text2text). For an
// encoder-decoder the decode step is made from the decoder (no past: its
// self-attention keys and values become caches, its cross-attention reads
// the encoder's output, an input the same at every step); the encoder is a
// program of its own (role "encoder") over the prompt right-padded to
// --max-seq positions, run once per generation. The encoder's weights join
// the decoder's store as "encoder:<name>": the two files name their
// initializers independently.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace tessera;

namespace {

std::string join(llvm::StringRef dir, llvm::StringRef file) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, file);
  return path.str().str();
}

/// The function's inputs by name.
std::vector<std::pair<std::string, RankedTensorType>> inputsOf(func::FuncOp main) {
  std::vector<std::pair<std::string, RankedTensorType>> out;
  for (unsigned i = 0; i < main.getNumArguments(); ++i) {
    auto name = main.getArgAttrOfType<StringAttr>(i, tsr::kNameAttr);
    out.push_back({name ? name.str() : "#" + std::to_string(i),
                   dyn_cast<RankedTensorType>(main.getArgument(i).getType())});
  }
  return out;
}

} // namespace

Step tessera::resolveExportFolder(Compilation &c, std::string &modelPath) {
  const CompileOptions &o = c.o;
  if (!llvm::sys::fs::is_directory(o.input))
    return std::nullopt;
  // The decoder without past (Optimum's), else the merged one (its If on
  // use_cache_branch imported as the branch without past).
  std::string encoder = join(o.input, "encoder_model.onnx"),
              decoder = join(o.input, "decoder_model.onnx"), single = join(o.input, "model.onnx");
  bool merged = !llvm::sys::fs::exists(decoder);
  if (merged)
    decoder = join(o.input, "decoder_model_merged.onnx");
  bool encdec = llvm::sys::fs::exists(encoder) && llvm::sys::fs::exists(decoder);
  // A decoder's folder: model.onnx, or an older export's decoder files.
  for (const char *file : {"decoder_model.onnx", "decoder_model_merged.onnx"})
    if (!encdec && !llvm::sys::fs::exists(single) && !llvm::sys::fs::exists(encoder) &&
        llvm::sys::fs::exists(join(o.input, file)))
      single = join(o.input, file);
  if (!encdec && !llvm::sys::fs::exists(single)) {
    llvm::errs() << "error: " << o.input
                 << ": a folder holds an export as Optimum writes it: model.onnx (a decoder; "
                    "or decoder_model.onnx, decoder_model_merged.onnx), or encoder_model.onnx "
                    "and decoder_model.onnx or decoder_model_merged.onnx (an encoder-decoder); "
                    "none is there\n";
    return 2;
  }
  if (encdec && !o.generate) {
    llvm::errs() << "error: " << o.input
                 << ": an encoder-decoder folder compiles with --generate (a package that "
                    "generates); compile one of its .onnx files for one forward pass\n";
    return 2;
  }
  modelPath = encdec ? decoder : single;
  if (encdec) {
    c.encoderPath = encoder;
    c.prefillLengths.clear(); // the decoder's prompt is its start token
    // decoder_model.onnx has no past; the merged decoder's is empty.
    c.importOptions.emptyPast = merged;
  }
  return std::nullopt;
}

LogicalResult tessera::findEncoderInputs(Compilation &c) {
  auto main = c.module->lookupSymbol<func::FuncOp>("main");
  if (!main)
    return c.module->emitError("encoder-decoder: the decoder has no @main");
  // The decoder's inputs that are not the token ids, the mask or positions:
  // the encoder's output (float, [batch, encoder positions, hidden]) and its
  // mask (integers, [batch, encoder positions]).
  std::string states, mask;
  for (auto &[name, type] : inputsOf(main)) {
    if (name == c.o.idsInput || name == c.o.maskInput || name == c.o.positionIdsInput)
      continue;
    if (type && type.getRank() >= 4 && isa<FloatType>(type.getElementType()))
      continue; // a merged decoder's past (empty, or read by no op: dropped)
    if (type && type.getRank() == 3 && isa<FloatType>(type.getElementType()) && states.empty())
      states = name;
    else if (type && type.getRank() == 2 && type.getElementType().isInteger() && mask.empty())
      mask = name;
    else
      return main.emitError("encoder-decoder: the decoder's input '")
             << name << "' is neither the token ids '" << c.o.idsInput
             << "', the encoder's output ([batch, positions, hidden]) nor its mask",
             failure();
  }
  if (states.empty())
    return main.emitError("encoder-decoder: the decoder has no input for the encoder's output "
                          "([batch, positions, hidden] floats)");
  c.encoderInputs = {states};
  if (!mask.empty())
    c.encoderInputs.push_back(mask);
  return success();
}

LogicalResult tessera::importEncoder(Compilation &c) {
  auto opened = tessera::onnx::ModelFile::open(c.encoderPath, c.o.planOnly);
  if (!opened) {
    llvm::errs() << "error: " << llvm::toString(opened.takeError()) << "\n";
    return failure();
  }
  c.encoderModel = std::move(*opened);
  tessera::onnx::ImportOptions options = c.importOptions;
  options.emptyPast = false;
  options.seq = c.o.maxSeq; // the prompt, right-padded to --max-seq positions
  c.encoder = tessera::onnx::importModel(c.context, *c.encoderModel, options);
  if (!c.encoder)
    return failure();
  // Its weights, under names of their own in the decoder's store.
  c.encoder->walk([&](tsr::WeightOp weight) {
    std::string name = "encoder:" + weight.getName().str();
    if (!c.model->weights.find(name))
      if (const tessera::onnx::WeightRecord *record =
              c.encoderModel->weights.find(weight.getName().str())) {
        tessera::onnx::WeightRecord renamed = *record;
        renamed.name = name;
        c.model->weights.add(std::move(renamed));
      }
    weight.setName(name);
  });
  auto main = c.encoder->lookupSymbol<func::FuncOp>("main");
  if (!main || main.getNumResults() < 1)
    return c.encoder->emitError("encoder-decoder: the encoder has no output");
  return success();
}

LogicalResult tessera::describeEncoder(Compilation &c, PackageGeneration &g) {
  auto main = c.encoder->lookupSymbol<func::FuncOp>("main");
  for (auto &[name, type] : inputsOf(main)) {
    if (name == c.o.idsInput)
      g.encoderIds = name;
    else if (name == c.o.maskInput)
      g.encoderMask = name;
    else
      return main.emitError("encoder-decoder: the encoder's input '")
             << name << "' is neither the token ids '" << c.o.idsInput << "' nor the mask '"
             << c.o.maskInput << "'",
             failure();
  }
  if (g.encoderIds.empty())
    return main.emitError("encoder-decoder: the encoder has no input '") << c.o.idsInput << "'",
           failure();
  auto output = main.getResultAttrOfType<StringAttr>(0, tsr::kNameAttr);
  g.encoderOutput = output ? output.str() : "#0";
  g.encoderStates = c.encoderInputs[0];
  if (c.encoderInputs.size() > 1)
    g.encoderStatesMask = c.encoderInputs[1];
  // The decoder's first token: the model's configuration beside the files.
  std::string folder = llvm::sys::path::parent_path(c.encoderPath).str();
  for (const char *file : {"generation_config.json", "config.json"}) {
    auto buffer = llvm::MemoryBuffer::getFile(join(folder, file));
    if (!buffer)
      continue;
    llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
    if (!json) {
      llvm::errs() << "error: " << join(folder, file) << ": "
                   << llvm::toString(json.takeError()) << "\n";
      return failure();
    }
    if (const llvm::json::Object *object = json->getAsObject())
      if (std::optional<int64_t> start = object->getInteger("decoder_start_token_id")) {
        g.decoderStart = *start;
        return success();
      }
  }
  llvm::errs() << "error: " << folder
               << ": no decoder_start_token_id in generation_config.json or config.json (the "
                  "token the decoder starts from)\n";
  return failure();
}
