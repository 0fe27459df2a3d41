//===- ClusterSpec.h - the machines a plan is made for ----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A cluster is `nodes` x `devices_per_node` identical devices. Each device
// has a peak FLOP/s per element type, a memory size and a memory bandwidth;
// devices talk over an intra-node link (NVLink, shared memory) and an
// inter-node link (InfiniBand), each with a per-device bandwidth (one
// direction) and a latency. docs/cluster-spec.md documents the JSON form:
//
//   {
//     "name": "h100-nvlink-8",
//     "nodes": 1, "devices_per_node": 8,
//     "device": {"name": "H100 SXM5", "memory_gb": 80,
//                "memory_bandwidth_gbps": 3350,
//                "peak_tflops": {"f32": 67, "tf32": 494, "bf16": 989, "f16": 989},
//                "achievable_fraction": 0.7},
//     "intra_node": {"bandwidth_gbps": 450, "latency_us": 3},
//     "inter_node": {"bandwidth_gbps": 50, "latency_us": 8}
//   }
//
// Units: GB/s and TFLOP/s are 1e9 bytes/s and 1e12 FLOP/s.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_COST_CLUSTERSPEC_H
#define TESSERA_PASSES_COST_CLUSTERSPEC_H

#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace tessera {

struct LinkSpec {
  double bandwidth = 0; ///< bytes/s per device, one direction
  double latency = 0;   ///< seconds per message
  /// Fixed seconds per collective call (kernel launch, synchronisation):
  /// what makes one all-reduce cheaper than a reduce-scatter + all-gather.
  double launch = 5e-6;
};

struct DeviceSpec {
  std::string name;
  double memoryBytes = 0;
  double memoryBandwidth = 0;          ///< bytes/s
  std::map<std::string, double> peakFlops; ///< per element type, FLOP/s
  double achievableFraction = 0.7;     ///< of peak, for dense kernels

  /// Peak FLOP/s for `dtype` ("f32", "bf16", ...); falls back to f32.
  double peak(const std::string &dtype) const;
};

struct ClusterSpec {
  std::string name;
  int nodes = 1;
  int devicesPerNode = 1;
  DeviceSpec device;
  LinkSpec intraNode, interNode;

  int devices() const { return nodes * devicesPerNode; }
  /// Whether a group of `size` ranks, `stride` apart in rank order, spans
  /// more than one node. Ranks fill the nodes in order (rank r on node r /
  /// devicesPerNode), and a mesh numbers its ranks r = (d * pp + s) * tp + t:
  /// a tensor-parallel group is `tp` ranks 1 apart, a data-parallel group
  /// `dp` ranks tp * pp apart, a replica's pipeline tp * pp ranks 1 apart.
  bool spansNodes(int64_t size, int64_t stride = 1) const {
    return size > 1 && (size - 1) * stride + 1 > devicesPerNode;
  }
  /// The memory a plan may fill on one device: 90% of it (the rest for the
  /// runtime, the allocator's fragmentation, communication buffers). Every
  /// planner checks against this one figure.
  double memoryCap() const { return device.memoryBytes * 0.9; }

  /// Parses the JSON form; errors name the missing or bad field.
  static llvm::Expected<ClusterSpec> fromJSON(llvm::StringRef text);
  /// A preset by name: cpu, a100-nvlink-8, h100-nvlink-8, or h100-ib-N
  /// (N H100s, 8 per node, InfiniBand between nodes).
  static llvm::Expected<ClusterSpec> preset(llvm::StringRef name);
  /// A preset, the JSON file `nameOrFile` when it ends in ".json", or JSON
  /// text when it starts with "{".
  static llvm::Expected<ClusterSpec> load(llvm::StringRef nameOrFile);
  /// The preset names (h100-ib-N listed as h100-ib-64).
  static std::vector<std::string> presetNames();
  /// The JSON form (round-trips through fromJSON); `compact`: on one line.
  std::string toJSON(bool compact = false) const;
};

} // namespace tessera

#endif // TESSERA_PASSES_COST_CLUSTERSPEC_H
