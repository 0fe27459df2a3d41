//===- HtmlReport.cpp - tessera-inspect --html ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "HtmlReport.h"
#include "PlanNames.h"

#include "tessera/runtime/tpkg_generated.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

using namespace tessera;

std::string tessera::htmlEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

rt::Status tessera::writeHtmlFile(const std::string &path, const std::string &page) {
  std::ofstream file(path);
  file << page;
  if (!file)
    return rt::Status(rt::StatusCode::InvalidArgument, "cannot write '" + path + "'");
  return rt::Status::okStatus();
}

std::string tessera::htmlNumber(const char *format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, v);
  return buffer;
}

namespace {

std::string escape(const std::string &s) { return htmlEscape(s); }
std::string fmt(const char *format, double v) { return htmlNumber(format, v); }

const char *kStageColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                              "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

struct TraceRun {
  int rank;
  double start, duration;
  std::string name;
};

/// The "run" spans of a trace written by tessera-run (one event a line).
std::vector<TraceRun> readTraceRuns(const std::string &path) {
  std::vector<TraceRun> runs;
  std::ifstream in(path);
  std::string line;
  auto field = [&](const std::string &key) -> std::string {
    size_t at = line.find("\"" + key + "\": ");
    if (at == std::string::npos)
      return "";
    at += key.size() + 4;
    if (line[at] == '"') {
      size_t end = line.find('"', at + 1);
      return line.substr(at + 1, end - at - 1);
    }
    size_t end = line.find_first_of(",}", at);
    return line.substr(at, end - at);
  };
  while (std::getline(in, line))
    if (field("cat") == "run")
      runs.push_back({std::atoi(field("tid").c_str()), std::atof(field("ts").c_str()) * 1e-6,
                      std::atof(field("dur").c_str()) * 1e-6, field("name")});
  return runs;
}

/// One Gantt chart: rows of labelled spans.
struct Span {
  int row;
  double start, duration;
  std::string label, cssClass;
  int colour;
};

void gantt(std::ostringstream &out, const std::string &id, const std::vector<std::string> &rows,
           const std::vector<Span> &spans) {
  double end = 1e-12;
  for (const Span &s : spans)
    end = std::max(end, s.start + s.duration);
  const int left = 90, width = 760, rowHeight = 22;
  out << "<svg id=\"" << id << "\" width=\"" << left + width + 20 << "\" height=\""
      << rows.size() * rowHeight + 30 << "\">\n";
  for (size_t r = 0; r < rows.size(); ++r)
    out << "<text x=\"4\" y=\"" << r * rowHeight + 15 << "\">" << escape(rows[r]) << "</text>\n";
  for (const Span &s : spans) {
    double x = left + width * s.start / end, w = std::max(1.0, width * s.duration / end);
    out << "<rect class=\"" << s.cssClass << "\" x=\"" << fmt("%.1f", x) << "\" y=\""
        << s.row * rowHeight + 2 << "\" width=\"" << fmt("%.1f", w) << "\" height=\""
        << rowHeight - 4 << "\" fill=\"" << kStageColors[s.colour % 10]
        << "\"><title>" << escape(s.label) << "</title></rect>\n";
    if (w > 22)
      out << "<text class=\"span-label\" x=\"" << fmt("%.1f", x + 3) << "\" y=\""
          << s.row * rowHeight + 16 << "\">" << escape(s.label) << "</text>\n";
  }
  out << "<text x=\"" << left << "\" y=\"" << rows.size() * rowHeight + 22 << "\">0</text>"
      << "<text x=\"" << left + width - 60 << "\" y=\"" << rows.size() * rowHeight + 22
      << "\">" << fmt("%.4f ms", end * 1e3) << "</text>\n</svg>\n";
}

/// Layers coloured by stage, with the split of their weights (the
/// dimension where tp ranks 0 and 1 of replica 0 hold different blocks).
void writeLayers(std::ostringstream &out, const std::vector<const tpkg::Program *> &programs,
                 unsigned stages, int tp) {
  int ranks = int(programs.size());
  std::map<int, unsigned> layerStage;
  std::map<int, std::set<std::string>> layerSplits;
  for (unsigned s = 0; s < stages; ++s) {
    int r0 = int(s) * tp;
    if (r0 >= ranks)
      break;
    for (const tpkg::Kernel *k : *programs[size_t(r0)]->kernels())
      if (k->location()) {
        int layer = layerOf(k->location()->str());
        if (layer >= 0 && !layerStage.count(layer))
          layerStage[layer] = s;
      }
    auto blocks = [&](int rank) {
      std::map<std::string, std::vector<int64_t>> m;
      for (const tpkg::Tensor *t : *programs[size_t(rank)]->tensors()) {
        if (!t->name() || t->storage() == tpkg::Storage::Arena)
          continue;
        WeightName w = parseWeightName(t->name()->str());
        if (!w.offsets.empty())
          m[w.weight] = w.offsets;
      }
      return m;
    };
    if (tp > 1 && r0 + 1 < ranks) {
      auto a = blocks(r0), b = blocks(r0 + 1);
      for (auto &[name, offsets] : a) {
        auto it = b.find(name);
        int layer = layerOf(name);
        if (it == b.end() || layer < 0)
          continue;
        for (size_t d = 0; d < offsets.size() && d < it->second.size(); ++d)
          if (offsets[d] != it->second[d]) {
            std::string shortName = name.substr(name.rfind('.', name.size() - 8) + 1);
            size_t dot = name.find(std::to_string(layer) + ".");
            if (dot != std::string::npos)
              shortName = name.substr(dot + std::to_string(layer).size() + 1);
            layerSplits[layer].insert(shortName + " S" + std::to_string(d));
          }
      }
    }
  }
  out << "<h2>Layers by stage</h2>\n";
  {
    const int boxWidth = 150, boxHeight = 64, perRow = 6;
    size_t n = layerStage.size();
    out << "<svg id=\"layers\" width=\"" << perRow * (boxWidth + 10) + 10 << "\" height=\""
        << ((n + perRow - 1) / perRow) * (boxHeight + 10) + 10 << "\">\n";
    size_t i = 0;
    for (auto &[layer, stage] : layerStage) {
      int x = 10 + int(i % perRow) * (boxWidth + 10), y = 10 + int(i / perRow) * (boxHeight + 10);
      out << "<g class=\"layer\" data-layer=\"" << layer << "\" data-stage=\"" << stage
          << "\"><rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << boxWidth
          << "\" height=\"" << boxHeight << "\" rx=\"6\" fill=\"" << kStageColors[stage % 10]
          << "\"/><text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\" fill=\"white\">layer "
          << layer << " - stage " << stage << "</text>";
      int line = 0;
      for (const std::string &split : layerSplits[layer]) {
        if (line == 3)
          break;
        out << "<text class=\"split\" x=\"" << x + 6 << "\" y=\"" << y + 30 + 12 * line++
            << "\" fill=\"white\" font-size=\"9\">" << escape(split) << "</text>";
      }
      out << "</g>\n";
      ++i;
    }
    out << "</svg>\n";
  }

}

/// Memory per rank against the device's capacity.
void writeMemory(std::ostringstream &out, const std::vector<const tpkg::Program *> &programs,
                 const tpkg::Prediction *predicted) {
  int ranks = int(programs.size());
  double capacity = predicted && predicted->device_memory_bytes() > 0
                        ? predicted->device_memory_bytes() : 0;
  out << "<h2>Memory per rank</h2>\n<p>parameters + activation arena"
      << (capacity > 0 ? ", against " + fmt("%.1f", capacity / 1e9) + " GB per device" : "")
      << "</p>\n";
  {
    std::vector<double> params(size_t(ranks), 0), arena(size_t(ranks), 0);
    double most = capacity;
    for (int r = 0; r < ranks; ++r) {
      std::set<std::string> seen;
      for (const tpkg::Tensor *t : *programs[size_t(r)]->tensors())
        if (t->storage() != tpkg::Storage::Arena &&
            seen.insert((t->name() ? t->name()->str() : "") + "#" +
                        std::to_string(t->offset()) + "#" + std::to_string(int(t->storage())))
                .second)
          params[size_t(r)] += double(t->size());
      arena[size_t(r)] = double(programs[size_t(r)]->arena_bytes());
      most = std::max(most, params[size_t(r)] + arena[size_t(r)]);
    }
    const int left = 70, width = 700, barHeight = 14;
    out << "<svg id=\"memory\" width=\"" << left + width + 120 << "\" height=\""
        << ranks * (barHeight + 4) + 20 << "\">\n";
    for (int r = 0; r < ranks; ++r) {
      double wp = width * params[size_t(r)] / most, wa = width * arena[size_t(r)] / most;
      int y = 4 + r * (barHeight + 4);
      unsigned stage = programs[size_t(r)]->stage();
      out << "<g class=\"rank-bar\" data-rank=\"" << r << "\"><text x=\"4\" y=\"" << y + 11
          << "\">rank " << r << "</text><rect x=\"" << left << "\" y=\"" << y << "\" width=\""
          << fmt("%.1f", std::max(1.0, wp)) << "\" height=\"" << barHeight << "\" fill=\""
          << kStageColors[stage % 10] << "\"><title>parameters "
          << fmt("%.0f", params[size_t(r)]) << " B</title></rect><rect x=\""
          << fmt("%.1f", left + wp) << "\" y=\"" << y << "\" width=\""
          << fmt("%.1f", std::max(1.0, wa)) << "\" height=\"" << barHeight
          << "\" fill=\"#bbb\"><title>activations " << fmt("%.0f", arena[size_t(r)])
          << " B</title></rect><text x=\"" << fmt("%.1f", left + wp + wa + 4) << "\" y=\""
          << y + 11 << "\">" << fmt("%.1f MiB", (params[size_t(r)] + arena[size_t(r)]) / 1048576.0)
          << "</text></g>\n";
    }
    if (capacity > 0)
      out << "<line id=\"capacity\" x1=\"" << left + width * capacity / most << "\" y1=\"0\" x2=\""
          << left + width * capacity / most << "\" y2=\"" << ranks * (barHeight + 4) + 20
          << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n";
    out << "</svg>\n";
  }

}

/// The predicted schedule: GPipe fill-drain from the stages' times.
void writePredictedSchedule(std::ostringstream &out,
                            const std::vector<const tpkg::Program *> &programs, unsigned stages,
                            unsigned micro, int tp, const tpkg::Prediction *predicted) {
  int ranks = int(programs.size());
  out << "<h2>Pipeline schedule (predicted)</h2>\n";
  {
    std::vector<double> stageTime(stages, 0), send(stages, 0);
    for (unsigned s = 0; s < stages; ++s) {
      if (int(s) * tp < ranks)
        stageTime[s] = programs[size_t(s) * size_t(tp)]->predicted_seconds();
      if (predicted && predicted->send_seconds() && s < predicted->send_seconds()->size())
        send[s] = predicted->send_seconds()->Get(s);
    }
    std::vector<std::vector<double>> end(stages, std::vector<double>(micro, 0));
    std::vector<Span> spans;
    std::vector<std::string> rows;
    for (unsigned s = 0; s < stages; ++s)
      rows.push_back("stage " + std::to_string(s));
    for (unsigned mb = 0; mb < micro; ++mb)
      for (unsigned s = 0; s < stages; ++s) {
        double start = std::max(mb ? end[s][mb - 1] : 0.0,
                                s ? end[s - 1][mb] + send[s - 1] : 0.0);
        end[s][mb] = start + stageTime[s];
        spans.push_back({int(s), start, stageTime[s], "mb " + std::to_string(mb),
                         "gantt-step", int(mb)});
      }
    gantt(out, "gantt-predicted", rows, spans);
  }
}

} // namespace

rt::Status tessera::writeHtmlReport(const rt::Package &package, const std::string &packagePath,
                                    const std::string &htmlPath, const std::string &tracePath) {
  const tpkg::Package *plan = package.plan();
  unsigned stages = std::max(1u, plan->stages()), micro = std::max(1u, plan->microbatches());
  const tpkg::Prediction *predicted = plan->prediction();
  // Each rank's main program (not its prompt, encoder or validation ones).
  std::vector<const tpkg::Program *> programs;
  for (const tpkg::Program *p : *plan->programs())
    if (!p->role() || p->role()->str().empty())
      programs.push_back(p);
  int ranks = int(programs.size());
  int tp = std::max(1, ranks / std::max(1, int(plan->mesh() && plan->mesh()->size()
                                                    ? plan->mesh()->Get(0) : 1) *
                                                int(stages)));
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>Tessera plan: "
      << escape(packagePath) << "</title>\n<style>\n"
      << "body { font-family: sans-serif; margin: 20px; color: #222; }\n"
      << "svg { font-size: 11px; background: #fafafa; border: 1px solid #ddd; margin: 4px 0; }\n"
      << ".span-label { fill: white; font-size: 10px; }\n"
      << "table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: right; }\n"
      << "</style></head><body>\n<h1>Tessera plan</h1>\n";

  // Summary.
  std::string meshText;
  if (plan->mesh())
    for (uint32_t i = 0; i < plan->mesh()->size(); ++i)
      meshText += (i ? " x " : "") + std::to_string(plan->mesh()->Get(i));
  out << "<p id=\"summary\">" << escape(packagePath) << ": mesh " << meshText << " ("
      << ranks << " ranks), <span id=\"stage-count\">" << stages << " stage"
      << (stages == 1 ? "" : "s") << "</span>, <span id=\"microbatch-count\">" << micro
      << " micro-batch" << (micro == 1 ? "" : "es") << "</span>";
  if (predicted)
    out << "; predicted on " << escape(predicted->cluster() ? predicted->cluster()->str() : "")
        << " (" << escape(predicted->objective() ? predicted->objective()->str() : "")
        << "): " << fmt("%.4f", predicted->batch_seconds() * 1e3) << " ms per batch = compute "
        << fmt("%.4f", predicted->compute_seconds() * 1e3) << " + communication "
        << fmt("%.4f", predicted->communication_seconds() * 1e3) << " + bubble "
        << fmt("%.4f", predicted->bubble_seconds() * 1e3) << " ms";
  out << "</p>\n";

  writeLayers(out, programs, stages, tp);
  writeMemory(out, programs, predicted);
  writePredictedSchedule(out, programs, stages, micro, tp, predicted);
  if (!tracePath.empty()) {
    std::vector<TraceRun> runs = readTraceRuns(tracePath);
    if (runs.empty())
      return rt::Status(rt::StatusCode::InvalidArgument,
                        tracePath + ": no pipeline runs in this trace (write one with "
                                    "tessera-run --trace)");
    double first = runs[0].start;
    int rows = 0;
    for (const TraceRun &r : runs) {
      first = std::min(first, r.start);
      rows = std::max(rows, r.rank + 1);
    }
    std::vector<std::string> rowNames;
    for (int r = 0; r < rows; ++r)
      rowNames.push_back("rank " + std::to_string(r));
    std::vector<Span> spans;
    for (const TraceRun &r : runs) {
      size_t at = r.name.find(" mb ");
      int mb = at == std::string::npos ? 0 : std::atoi(r.name.c_str() + at + 4);
      spans.push_back({r.rank, r.start - first, r.duration,
                       at == std::string::npos ? r.name : r.name.substr(at + 1),
                       "gantt-measured-step", mb});
    }
    out << "<h2>Pipeline schedule (measured, " << escape(tracePath) << ")</h2>\n";
    gantt(out, "gantt-measured", rowNames, spans);
  }
  out << "<p id=\"rendered\"></p>\n<script>\nwindow.addEventListener('load', function () {\n"
      << "  var n = function (s) { return document.querySelectorAll(s).length; };\n"
      << "  document.getElementById('rendered').textContent = 'rendered: ' + "
         "n('.rank-bar') + ' rank bars, ' + n('.layer') + ' layers, ' + n('.gantt-step') + "
         "' predicted steps, ' + n('.gantt-measured-step') + ' measured steps';\n"
      << "});\n</script>\n</body></html>\n";
  return writeHtmlFile(htmlPath, out.str());
}
