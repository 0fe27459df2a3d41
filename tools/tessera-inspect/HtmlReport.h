//===- HtmlReport.h - tessera-inspect --html --------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_INSPECT_HTMLREPORT_H
#define TESSERA_TOOLS_TESSERA_INSPECT_HTMLREPORT_H

#include "tessera/runtime/Package.h"

#include <string>

namespace tessera {

/// Writes one self-contained HTML page (inline SVG and a few lines of
/// script, nothing fetched): the layers coloured by pipeline stage with the
/// split of their weights, a memory bar per rank against the device's
/// capacity, and the predicted pipeline schedule as a Gantt chart; with a
/// `tessera-run --trace` file, the measured schedule beside it.
rt::Status writeHtmlReport(const rt::Package &package, const std::string &packagePath,
                           const std::string &htmlPath, const std::string &tracePath);

} // namespace tessera

#endif // TESSERA_TOOLS_TESSERA_INSPECT_HTMLREPORT_H
