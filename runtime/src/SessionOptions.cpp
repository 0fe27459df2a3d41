//===- SessionOptions.cpp - the limits of a session -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Session.h"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace tessera::rt {

uint64_t memoryLimit(const SessionOptions &options) {
  if (options.maxMemoryBytes)
    return options.maxMemoryBytes;
  if (const char *env = std::getenv("TESSERA_MAX_MEMORY"))
    if (uint64_t v = parseByteSize(env))
      return v;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 40;
}

uint64_t parseByteSize(const std::string &text) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno || !(v > 0))
    return 0;
  std::string unit(end);
  double scale = unit.empty() || unit == "B" ? 1
                 : unit == "K" || unit == "KB" || unit == "KiB" ? 1024.0
                 : unit == "M" || unit == "MB" || unit == "MiB" ? 1048576.0
                 : unit == "G" || unit == "GB" || unit == "GiB" ? 1073741824.0
                 : unit == "T" || unit == "TB" || unit == "TiB" ? 1099511627776.0
                                                               : 0;
  double bytes = v * scale;
  return scale == 0 || bytes >= 1.8e19 ? 0 : uint64_t(bytes);
}

} // namespace tessera::rt
