//===- Generation.h - the prefill programs of --generate --------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_GENERATION_H
#define TESSERA_COMPILER_GENERATION_H

#include "frontends/onnx/OnnxImporter.h"
#include "passes/lower/ProgramPlan.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace tessera {

/// The prompt lengths of --prefill: "16,64,256" (each clamped to max-seq,
/// duplicates dropped), "none" or "0" for none. Empty and an error on bad text.
bool parsePrefillLengths(const std::string &text, int64_t maxSeq, std::vector<int64_t> &out,
                         std::string &error);

/// One prefill program per length: the model imported at that sequence
/// length, the graph pipeline, tsr-generate-prefill, lowered for rank 0 with
/// role "prefill:<length>".
mlir::LogicalResult buildPrefillPrograms(mlir::MLIRContext &context,
                                         const onnx::ModelFile &model,
                                         onnx::ImportOptions options,
                                         const std::vector<int64_t> &lengths, int64_t maxSeq,
                                         const std::string &ids,
                                         std::vector<lower::ProgramPlan> &out);

} // namespace tessera

#endif // TESSERA_COMPILER_GENERATION_H
