//===- RunArgs.h - tessera-run's command line -------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_RUN_RUNARGS_H
#define TESSERA_TOOLS_TESSERA_RUN_RUNARGS_H

#include "Generate.h"
#include "Train.h"

#include "tessera/runtime/Session.h"

#include <map>
#include <string>
#include <vector>

namespace tessera::tools {

/// Everything tessera-run is told.
struct RunArgs {
  std::string packagePath;
  std::map<std::string, std::string> inputs, outputs, checks; ///< NAME -> FILE
  std::string testData; ///< an ONNX test folder
  double rtol = 1e-4, atol = 1e-4;
  int repeat = 1, benchRuns = 0;
  std::string commKind = "default";
  bool profile = false;
  std::string profileJson;
  int ranks = 0; ///< 0: the package's
  double timeoutSeconds = 60;
  std::string tracePath, scheduleName = "gpipe";
  int dieRank = -1, dieMicrobatch = 0; ///< --die-at (testing)
  rt::SessionOptions session; ///< device -1: rank r on GPU r modulo the GPUs
  TrainOptions train;
  bool training = false; ///< a training option was given
  GenerateCliOptions generate;
  bool generating = false; ///< a generation option was given
};

/// Reads `args` (the program name left out) into `out`; prints the error
/// and returns false on a bad one (exit code 2).
bool parseRunArgs(const std::vector<std::string> &args, RunArgs &out);

} // namespace tessera::tools

#endif // TESSERA_TOOLS_TESSERA_RUN_RUNARGS_H
