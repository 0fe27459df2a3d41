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

/// Writes one self-contained HTML page of a training run's curves from
/// `tessera-run --loss-log` (columns step,loss,grad_norm,lr[,val_loss,
/// val_ppl]): training and validation loss, learning rate and gradient norm
/// against the step, as inline SVG (LossCurves.cpp).
rt::Status writeLossCurves(const std::string &logPath, const std::string &htmlPath);

/// `s` with HTML's special characters escaped.
std::string htmlEscape(const std::string &s);
/// Writes `page` to `path`.
rt::Status writeHtmlFile(const std::string &path, const std::string &page);
/// `v` printed with a printf `format`.
std::string htmlNumber(const char *format, double v);

} // namespace tessera

#endif // TESSERA_TOOLS_TESSERA_INSPECT_HTMLREPORT_H
