//===- LossCurves.cpp - tessera-inspect --loss-log LOG --html FILE --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A training run's curves from tessera-run's loss log, as one page with no
// outside resources: loss (training, and validation where it ran), learning
// rate and gradient norm against the step, each an inline SVG chart with
// its axes' ranges; a few lines of script count what was drawn (checked in
// a headless browser by the tests).
//
//===----------------------------------------------------------------------===//

#include "HtmlReport.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

using namespace tessera;

namespace {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points; ///< (step, value), finite only
  int skipped = 0;                                ///< non-finite values left out
};

/// The log's columns by header name; a cell may be empty (no validation at
/// that step).
rt::Status readLog(const std::string &path, std::map<std::string, Series> &columns,
                   int &rows) {
  std::ifstream in(path);
  if (!in)
    return rt::Status(rt::StatusCode::NotFound, path + ": cannot read the loss log");
  std::string line;
  if (!std::getline(in, line))
    return rt::Status(rt::StatusCode::InvalidArgument, path + ": empty (no header line)");
  std::vector<std::string> names;
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');)
    names.push_back(cell);
  if (names.size() < 2 || names[0] != "step" || names[1] != "loss")
    return rt::Status(rt::StatusCode::InvalidArgument,
                      path + ": not a tessera-run --loss-log (the header is '" + line +
                          "', expected step,loss,...)");
  rows = 0;
  for (int lineNo = 2; std::getline(in, line); ++lineNo) {
    if (line.empty())
      continue;
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');)
      cells.push_back(cell);
    if (!line.empty() && line.back() == ',')
      cells.push_back("");
    if (cells.size() != names.size())
      return rt::Status(rt::StatusCode::InvalidArgument,
                        path + ":" + std::to_string(lineNo) + ": " +
                            std::to_string(cells.size()) + " fields, the header has " +
                            std::to_string(names.size()));
    char *end = nullptr;
    double step = std::strtod(cells[0].c_str(), &end);
    if (cells[0].empty() || *end)
      return rt::Status(rt::StatusCode::InvalidArgument,
                        path + ":" + std::to_string(lineNo) + ": step '" + cells[0] +
                            "' is not a number");
    for (size_t i = 1; i < cells.size(); ++i) {
      if (cells[i].empty())
        continue;
      double v = std::strtod(cells[i].c_str(), &end);
      if (*end)
        return rt::Status(rt::StatusCode::InvalidArgument,
                          path + ":" + std::to_string(lineNo) + ": " + names[i] + " '" +
                              cells[i] + "' is not a number");
      Series &s = columns[names[i]];
      if (std::isfinite(v))
        s.points.push_back({step, v});
      else
        ++s.skipped;
    }
    ++rows;
  }
  if (rows == 0)
    return rt::Status(rt::StatusCode::InvalidArgument, path + ": no steps in the loss log");
  return rt::Status::okStatus();
}

/// One chart: every series against the step, with the axes' ranges.
void chart(std::ostringstream &out, const std::string &id, const std::string &title,
           const std::vector<const Series *> &series) {
  const double width = 720, height = 240, left = 70, right = 20, top = 20, bottom = 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series *s : series)
    for (auto [x, y] : s->points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  out << "<h2>" << htmlEscape(title) << "</h2>\n";
  if (x0 > x1) {
    out << "<p class=\"empty-chart\" id=\"" << id << "\">no values</p>\n";
    return;
  }
  if (x1 == x0)
    x1 = x0 + 1;
  if (y1 == y0) { // a constant (a learning rate): a band around it
    double band = y0 != 0 ? std::fabs(y0) * 0.5 : 1.0;
    y0 -= band, y1 += band;
  }
  double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (width - left - right); };
  auto py = [&](double y) { return top + (y1 - y) / (y1 - y0) * (height - top - bottom); };
  out << "<svg class=\"chart\" id=\"" << id << "\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\">\n";
  // Axes, five ticks each.
  out << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right
      << "\" y2=\"" << height - bottom << "\" stroke=\"#888\"/>\n<line x1=\"" << left
      << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << height - bottom
      << "\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    double x = x0 + (x1 - x0) * i / 4, y = y0 + (y1 - y0) * i / 4;
    out << "<text class=\"tick\" x=\"" << px(x) << "\" y=\"" << height - bottom + 14
        << "\" text-anchor=\"middle\">" << htmlNumber("%.0f", x) << "</text>\n";
    out << "<text class=\"tick\" x=\"" << left - 6 << "\" y=\"" << py(y) + 4
        << "\" text-anchor=\"end\">" << htmlNumber("%.4g", y) << "</text>\n";
    out << "<line x1=\"" << left << "\" y1=\"" << py(y) << "\" x2=\"" << width - right
        << "\" y2=\"" << py(y) << "\" stroke=\"#eee\"/>\n";
  }
  out << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 6
      << "\" text-anchor=\"middle\">step</text>\n";
  double legend = left + 10;
  for (const Series *s : series) {
    if (s->points.empty())
      continue;
    out << "<polyline class=\"curve\" data-series=\"" << htmlEscape(s->name)
        << "\" fill=\"none\" stroke=\"" << s->color << "\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : s->points)
      out << htmlNumber("%.2f", px(x)) << "," << htmlNumber("%.2f", py(y)) << " ";
    out << "\"/>\n";
    if (s->points.size() < 50) // sparse series (validation): a dot per value
      for (auto [x, y] : s->points)
        out << "<circle cx=\"" << htmlNumber("%.2f", px(x)) << "\" cy=\""
            << htmlNumber("%.2f", py(y)) << "\" r=\"2.5\" fill=\"" << s->color << "\"/>\n";
    out << "<text x=\"" << legend << "\" y=\"" << top + 4 << "\" fill=\"" << s->color << "\">"
        << htmlEscape(s->name) << "</text>\n";
    legend += 12 + 7 * double(s->name.size());
  }
  out << "</svg>\n";
  for (const Series *s : series)
    if (s->skipped)
      out << "<p class=\"skipped\">" << htmlEscape(s->name) << ": " << s->skipped
          << " value(s) not finite, left out</p>\n";
}

} // namespace

rt::Status tessera::writeLossCurves(const std::string &logPath, const std::string &htmlPath) {
  std::map<std::string, Series> columns;
  int rows = 0;
  if (rt::Status s = readLog(logPath, columns, rows); !s.ok())
    return s;
  Series &train = columns["loss"], &val = columns["val_loss"], &lr = columns["lr"],
         &norm = columns["grad_norm"];
  train.name = "training loss", train.color = "#4e79a7";
  val.name = "validation loss", val.color = "#e15759";
  lr.name = "learning rate", lr.color = "#59a14f";
  norm.name = "gradient norm", norm.color = "#f28e2b";
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>Tessera training: "
      << htmlEscape(logPath) << "</title>\n<style>\n"
      << "body { font-family: sans-serif; margin: 20px; color: #222; }\n"
      << "svg { font-size: 11px; background: #fafafa; border: 1px solid #ddd; }\n"
      << "</style></head><body>\n<h1>Tessera training</h1>\n<p id=\"summary\">"
      << htmlEscape(logPath) << ": " << rows << " steps";
  if (!train.points.empty())
    out << "; last training loss " << htmlNumber("%.6g", train.points.back().second)
        << " at step " << htmlNumber("%.0f", train.points.back().first);
  if (!val.points.empty()) {
    auto best = std::min_element(val.points.begin(), val.points.end(),
                                 [](auto &a, auto &b) { return a.second < b.second; });
    out << "; best validation loss " << htmlNumber("%.6g", best->second) << " at step "
        << htmlNumber("%.0f", best->first) << " (" << val.points.size() << " validations)";
  }
  out << "</p>\n";
  chart(out, "chart-loss", "Loss", {&train, &val});
  chart(out, "chart-lr", "Learning rate", {&lr});
  chart(out, "chart-grad-norm", "Gradient norm", {&norm});
  out << "<p id=\"rendered\"></p>\n<script>\nwindow.addEventListener('load', function () {\n"
      << "  var count = function (series) {\n"
      << "    var c = document.querySelector('polyline[data-series=\"' + series + '\"]');\n"
      << "    return c ? c.points.numberOfItems : 0;\n  };\n"
      << "  document.getElementById('rendered').textContent = 'rendered: ' +\n"
      << "    document.querySelectorAll('svg.chart').length + ' charts, ' +\n"
      << "    count('training loss') + ' training loss points, ' +\n"
      << "    count('validation loss') + ' validation loss points, ' +\n"
      << "    count('learning rate') + ' learning rate points, ' +\n"
      << "    count('gradient norm') + ' gradient norm points';\n"
      << "});\n</script>\n</body></html>\n";
  return writeHtmlFile(htmlPath, out.str());
}
