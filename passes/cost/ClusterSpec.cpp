//===- ClusterSpec.cpp - the machines a plan is made for ------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/cost/ClusterSpec.h"

#include "llvm/Support/MemoryBuffer.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace tessera;
namespace json = llvm::json;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Datasheet figures (dense, no sparsity). Bandwidths are per device and
/// direction: NVLink 3 (A100) 300 GB/s, NVLink 4 (H100) 450 GB/s, one
/// 400 Gb/s NDR InfiniBand port per GPU = 50 GB/s.
const char *kPresets[][2] = {
    {"cpu", R"json({"name": "cpu", "nodes": 1, "devices_per_node": 2,
      "device": {"name": "CPU core (AVX2)", "memory_gb": 12,
                 "memory_bandwidth_gbps": 20,
                 "peak_tflops": {"f32": 0.1, "f64": 0.05},
                 "achievable_fraction": 0.6},
      "intra_node": {"bandwidth_gbps": 10, "latency_us": 1},
      "inter_node": {"bandwidth_gbps": 1.25, "latency_us": 50}})json"},
    {"a100-nvlink-8", R"json({"name": "a100-nvlink-8", "nodes": 1, "devices_per_node": 8,
      "device": {"name": "A100 SXM4 80GB", "memory_gb": 80,
                 "memory_bandwidth_gbps": 2039,
                 "peak_tflops": {"f32": 19.5, "tf32": 156, "bf16": 312, "f16": 312},
                 "achievable_fraction": 0.7},
      "intra_node": {"bandwidth_gbps": 300, "latency_us": 3},
      "inter_node": {"bandwidth_gbps": 25, "latency_us": 8}})json"},
    {"h100-nvlink-8", R"json({"name": "h100-nvlink-8", "nodes": 1, "devices_per_node": 8,
      "device": {"name": "H100 SXM5 80GB", "memory_gb": 80,
                 "memory_bandwidth_gbps": 3350,
                 "peak_tflops": {"f32": 67, "tf32": 494, "bf16": 989, "f16": 989},
                 "achievable_fraction": 0.7},
      "intra_node": {"bandwidth_gbps": 450, "latency_us": 3},
      "inter_node": {"bandwidth_gbps": 50, "latency_us": 8}})json"},
};

/// A number field; the first problem met is kept in `err`.
double number(const json::Object &o, llvm::StringRef key, llvm::StringRef where,
              std::string &err, bool required = true, double fallback = 0) {
  if (std::optional<double> v = o.getNumber(key)) {
    if (*v < 0 && err.empty())
      err = (where + "." + key + " must not be negative").str();
    return *v;
  }
  if (required && err.empty())
    err = (where + "." + key + " is missing or not a number").str();
  return fallback;
}

} // namespace

double DeviceSpec::peak(const std::string &dtype) const {
  auto it = peakFlops.find(dtype);
  if (it != peakFlops.end())
    return it->second;
  it = peakFlops.find("f32");
  return it == peakFlops.end() ? 0 : it->second;
}

llvm::Expected<ClusterSpec> ClusterSpec::fromJSON(llvm::StringRef text) {
  llvm::Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return fail("cluster spec is not valid JSON: " +
                llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return fail("cluster spec must be a JSON object");
  ClusterSpec spec;
  std::string err;
  spec.name = root->getString("name").value_or("custom").str();
  spec.nodes = int(number(*root, "nodes", "cluster", err, false, 1));
  spec.devicesPerNode = int(number(*root, "devices_per_node", "cluster", err));
  const json::Object *device = root->getObject("device");
  if (!device)
    return fail("cluster.device is missing");
  spec.device.name = device->getString("name").value_or("device").str();
  spec.device.memoryBytes = number(*device, "memory_gb", "device", err) * 1e9;
  spec.device.memoryBandwidth =
      number(*device, "memory_bandwidth_gbps", "device", err) * 1e9;
  spec.device.achievableFraction =
      number(*device, "achievable_fraction", "device", err, false, 0.7);
  if (const json::Object *peaks = device->getObject("peak_tflops")) {
    for (const auto &[key, value] : *peaks) {
      std::optional<double> v = value.getAsNumber();
      if (!v || *v <= 0)
        return fail("device.peak_tflops." + key.str() + " must be a positive number");
      spec.device.peakFlops[key.str()] = *v * 1e12;
    }
  }
  if (!spec.device.peakFlops.count("f32"))
    return fail("device.peak_tflops.f32 is missing");
  for (auto [key, link] : {std::pair("intra_node", &spec.intraNode),
                           std::pair("inter_node", &spec.interNode)}) {
    const json::Object *o = root->getObject(key);
    if (!o) {
      if (key == llvm::StringRef("inter_node") && spec.nodes == 1)
        continue;
      return fail(llvm::Twine("cluster.") + key + " is missing");
    }
    link->bandwidth = number(*o, "bandwidth_gbps", key, err) * 1e9;
    link->latency = number(*o, "latency_us", key, err) * 1e-6;
    link->launch = number(*o, "launch_us", key, err, /*required=*/false,
                          /*fallback=*/5) * 1e-6;
  }
  if (!err.empty())
    return fail(err);
  if (spec.nodes < 1 || spec.devicesPerNode < 1)
    return fail("cluster.nodes and cluster.devices_per_node must be at least 1");
  if (spec.device.memoryBytes <= 0 || spec.device.memoryBandwidth <= 0 ||
      spec.intraNode.bandwidth <= 0)
    return fail("memory size, memory bandwidth and link bandwidth must be positive");
  return spec;
}

llvm::Expected<ClusterSpec> ClusterSpec::preset(llvm::StringRef name) {
  for (auto &preset : kPresets)
    if (name == preset[0])
      return fromJSON(preset[1]);
  // N GPUs, 8 per node, nodes linked by InfiniBand: the 8-GPU node preset
  // (h100-ib-N: NDR, 50 GB/s per GPU; a100-ib-N: HDR, 25 GB/s per GPU, the
  // Selene nodes of Megatron-LM's published runs) on N / 8 nodes.
  for (auto [prefix, node] : {std::pair<llvm::StringRef, size_t>("h100-ib-", 2),
                              std::pair<llvm::StringRef, size_t>("a100-ib-", 1)}) {
    unsigned gpus;
    llvm::StringRef rest = name;
    if (!rest.consume_front(prefix) || rest.getAsInteger(10, gpus))
      continue;
    if (gpus < 8 || gpus % 8)
      return fail(prefix + "N needs N a multiple of 8 (8 GPUs per node)");
    llvm::Expected<ClusterSpec> spec = fromJSON(kPresets[node][1]);
    if (!spec)
      return spec.takeError();
    spec->name = (prefix + llvm::Twine(gpus)).str();
    spec->nodes = int(gpus / 8);
    return spec;
  }
  std::string names;
  for (const std::string &n : presetNames())
    names += (names.empty() ? "" : ", ") + n;
  return fail("unknown cluster preset '" + name + "' (presets: " + names +
              "; or a JSON file, see docs/cluster-spec.md)");
}

std::vector<std::string> ClusterSpec::presetNames() {
  std::vector<std::string> names;
  for (auto &preset : kPresets)
    names.push_back(preset[0]);
  names.push_back("h100-ib-64");
  names.push_back("a100-ib-64");
  return names;
}

std::string ClusterSpec::toJSON(bool compact) const {
  json::Object peaks;
  for (const auto &[dtype, flops] : device.peakFlops)
    peaks[dtype] = flops / 1e12;
  json::Value value = json::Object{
      {"name", name},
      {"nodes", nodes},
      {"devices_per_node", devicesPerNode},
      {"device", json::Object{{"name", device.name},
                              {"memory_gb", device.memoryBytes / 1e9},
                              {"memory_bandwidth_gbps", device.memoryBandwidth / 1e9},
                              {"peak_tflops", std::move(peaks)},
                              {"achievable_fraction", device.achievableFraction}}},
      {"intra_node", json::Object{{"bandwidth_gbps", intraNode.bandwidth / 1e9},
                                  {"latency_us", intraNode.latency * 1e6},
                                  {"launch_us", intraNode.launch * 1e6}}},
      {"inter_node", json::Object{{"bandwidth_gbps", interNode.bandwidth / 1e9},
                                  {"latency_us", interNode.latency * 1e6},
                                  {"launch_us", interNode.launch * 1e6}}}};
  return compact ? llvm::formatv("{0}", value).str() : llvm::formatv("{0:2}", value).str();
}

llvm::Expected<tessera::ClusterSpec> tessera::ClusterSpec::load(llvm::StringRef nameOrFile) {
  // The JSON text itself (tessera-compile hands its cluster to the passes so).
  if (nameOrFile.ltrim().starts_with("{"))
    return fromJSON(nameOrFile);
  if (!nameOrFile.ends_with(".json"))
    return preset(nameOrFile);
  auto buffer = llvm::MemoryBuffer::getFile(nameOrFile);
  if (!buffer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot read '" + nameOrFile.str() + "'");
  return fromJSON((*buffer)->getBuffer());
}
