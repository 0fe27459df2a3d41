//===- Compile.h - the tessera-compile driver -------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_COMPILE_H
#define TESSERA_COMPILER_COMPILE_H

#include <string>
#include <vector>

namespace tessera {

struct CompileOptions;

/// Reads tessera-compile's command line into `options`; false (messages
/// printed) when it is malformed.
bool parseCompileCommandLine(int argc, char **argv, CompileOptions &options);

/// Parses tessera-compile's command line and runs it; returns the exit code.
/// Every call parses afresh (options of an earlier call do not carry over).
/// (The Python package fills a CompileOptions and calls tessera::compile.)
int compileMain(int argc, char **argv);

} // namespace tessera

#endif // TESSERA_COMPILER_COMPILE_H
