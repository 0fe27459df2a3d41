//===- TsrAttrs.cpp - the tsr dialect's attributes ------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrDialect.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::tsr;

#define GET_ATTRDEF_CLASSES
#include "dialects/tsr/IR/TsrAttrs.cpp.inc"

void TsrDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/tsr/IR/TsrAttrs.cpp.inc"
      >();
}

LogicalResult MeshPlanAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t dp,
                                   int64_t tp, int64_t pp, int64_t microbatches,
                                   int64_t accumulated, int64_t zero, StringRef recompute,
                                   DenseI64ArrayAttr stageBounds) {
  ArrayRef<int64_t> stages = stageBounds ? stageBounds.asArrayRef() : ArrayRef<int64_t>();
  if (dp < 1 || tp < 1 || pp < 1 || microbatches < 1 || accumulated < 1)
    return emitError() << "mesh plan: dp, tp, pp, microbatches and accumulated must be at "
                          "least 1";
  if (zero < 0 || zero > 3)
    return emitError() << "mesh plan: zero must be 0, 1, 2 or 3, not " << zero;
  if (recompute != "none" && recompute != "selective" && recompute != "full")
    return emitError() << "mesh plan: recompute must be none, selective or full, not '"
                       << recompute << "'";
  if (pp > 1 && stages.size() != size_t(pp + 1))
    return emitError() << "mesh plan: " << pp << " stages need " << pp + 1
                       << " stage bounds, not " << stages.size();
  if (pp == 1 && !stages.empty() && stages.size() != 2)
    return emitError() << "mesh plan: one stage has 2 bounds or none";
  for (size_t i = 0; i < stages.size(); ++i)
    if (stages[i] < 0 || (i && stages[i] < stages[i - 1]))
      return emitError() << "mesh plan: stage bounds must ascend from 0";
  return success();
}

std::string ShardingAttr::layoutName(int64_t layout) {
  switch (layout) {
  case kReplicated: return "R";
  case kPartial: return "P";
  case kPartialMax: return "M";
  default: return "S" + std::to_string(layout);
  }
}

std::optional<int64_t> ShardingAttr::parseLayout(StringRef text) {
  if (text == "R")
    return kReplicated;
  if (text == "P")
    return kPartial;
  if (text == "M")
    return kPartialMax;
  int64_t d;
  if (text.consume_front("S") && !text.empty() && !text.getAsInteger(10, d) && d >= 0)
    return d;
  return std::nullopt;
}

LogicalResult ShardingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   ArrayRef<int64_t> operands, ArrayRef<int64_t> results,
                                   APFloat secondsFloat, APFloat weightBytesFloat,
                                   APFloat shareFloat, bool) {
  double seconds = secondsFloat.convertToDouble(), share = shareFloat.convertToDouble();
  double weightBytes = weightBytesFloat.convertToDouble();
  for (ArrayRef<int64_t> layouts : {operands, results})
    for (int64_t l : layouts)
      if (l < kPartialMax)
        return emitError() << "sharding: layout code " << l << " is not a layout";
  if (seconds < 0 || weightBytes < 0 || !(share > 0))
    return emitError() << "sharding: seconds and weight_bytes must not be negative, share "
                          "must be positive";
  return success();
}

namespace {

/// The shortest "%g" form of `v` that reads back as `v`.
void printExact(llvm::raw_ostream &os, double v) {
  char text[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, v);
    if (std::strtod(text, nullptr) == v)
      break;
  }
  // A float literal, never an integer one.
  llvm::StringRef t(text);
  os << t << (t.find_first_of(".eEin") == llvm::StringRef::npos ? ".0" : "");
}

} // namespace

void ShardingAttr::print(AsmPrinter &printer) const {
  llvm::raw_ostream &os = printer.getStream();
  auto layouts = [&](ArrayRef<int64_t> list) {
    os << "[";
    llvm::interleaveComma(list, os, [&](int64_t l) { os << layoutName(l); });
    os << "]";
  };
  os << "<operands = ";
  layouts(getOperands());
  os << ", results = ";
  layouts(getResults());
  if (seconds() != 0) {
    os << ", seconds = ";
    printExact(os, seconds());
  }
  if (weightBytes() != 0) {
    os << ", weight_bytes = ";
    printExact(os, weightBytes());
  }
  if (share() != 1.0) {
    os << ", share = ";
    printExact(os, share());
  }
  if (getVocabParallel())
    os << ", vocab_parallel";
  os << ">";
}

Attribute ShardingAttr::parse(AsmParser &parser, Type) {
  SmallVector<int64_t> operands, results;
  double seconds = 0, weightBytes = 0, share = 1.0;
  bool vocabParallel = false;
  auto layouts = [&](SmallVectorImpl<int64_t> &out) {
    return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&]() -> ParseResult {
      SMLoc at = parser.getCurrentLocation();
      StringRef word;
      if (parser.parseKeyword(&word))
        return failure();
      std::optional<int64_t> layout = parseLayout(word);
      if (!layout)
        return parser.emitError(at, "'tsr.sharding': layout \"")
               << word << "\" is not \"R\", \"P\" or \"S<dim>\" (or \"M\", a partial maximum)";
      out.push_back(*layout);
      return success();
    });
  };
  if (parser.parseLess() || parser.parseKeyword("operands") || parser.parseEqual() ||
      layouts(operands) || parser.parseComma() || parser.parseKeyword("results") ||
      parser.parseEqual() || layouts(results))
    return {};
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc at = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key))
      return {};
    if (key == "vocab_parallel") {
      vocabParallel = true;
      continue;
    }
    double *field = key == "seconds"        ? &seconds
                    : key == "weight_bytes" ? &weightBytes
                    : key == "share"        ? &share
                                            : nullptr;
    if (!field) {
      parser.emitError(at, "'tsr.sharding': unknown field '")
          << key << "' (seconds, weight_bytes, share, vocab_parallel)";
      return {};
    }
    if (parser.parseEqual() || parser.parseFloat(*field))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<ShardingAttr>(parser.getContext(), operands, results,
                                         APFloat(seconds), APFloat(weightBytes), APFloat(share),
                                         vocabParallel);
}
