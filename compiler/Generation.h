//===- Generation.h - the prompt lengths of --generate ----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_GENERATION_H
#define TESSERA_COMPILER_GENERATION_H

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

/// The prompt lengths of --prefill: "16,64,256" (each clamped to max-seq,
/// duplicates dropped), "none" or "0" for none. Empty and an error on bad text.
bool parsePrefillLengths(const std::string &text, int64_t maxSeq, std::vector<int64_t> &out,
                         std::string &error);

} // namespace tessera

#endif // TESSERA_COMPILER_GENERATION_H
