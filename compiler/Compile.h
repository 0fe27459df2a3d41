//===- Compile.h - the tessera-compile driver -------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_COMPILE_H
#define TESSERA_COMPILER_COMPILE_H

namespace tessera {

/// Parses tessera-compile's command line and runs it; returns the exit code.
int compileMain(int argc, char **argv);

} // namespace tessera

#endif // TESSERA_COMPILER_COMPILE_H
