//===- PlanNames.h - reading names in a package ------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// What tessera-inspect reads out of names: the layer of an ONNX node or
// weight ("/h.3/attn/...", "model.layers.12.mlp...", "layers.3/matmul_5"),
// and the block of a partitioned weight ("w@[0,384]": the block of weight
// "w" that starts at [0, 384]; the shape is the tensor's).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_INSPECT_PLANNAMES_H
#define TESSERA_TOOLS_TESSERA_INSPECT_PLANNAMES_H

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tessera {

/// The layer number in a node or weight name, or -1.
inline int layerOf(const std::string &name) {
  for (const char *marker : {"h.", "layers.", "layer.", "h_", "layers_", "layer_"}) {
    for (size_t at = name.find(marker); at != std::string::npos;
         at = name.find(marker, at + 1)) {
      if (at > 0 && std::isalnum(static_cast<unsigned char>(name[at - 1])))
        continue; // "path." is not "h."
      size_t begin = at + std::strlen(marker), end = begin;
      while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end])))
        ++end;
      if (end > begin)
        return std::atoi(name.substr(begin, end - begin).c_str());
    }
  }
  return -1;
}

struct WeightName {
  std::string weight;           ///< the model's weight
  std::vector<int64_t> offsets; ///< where the block starts; empty: all of it
};

/// Splits a package tensor name into the weight and its block offsets.
inline WeightName parseWeightName(const std::string &name) {
  size_t at = name.find("@[");
  if (at == std::string::npos || name.back() != ']')
    return {name, {}};
  WeightName w{name.substr(0, at), {}};
  std::string list = name.substr(at + 2, name.size() - at - 3);
  for (size_t begin = 0; begin <= list.size();) {
    size_t comma = list.find(',', begin);
    w.offsets.push_back(std::atoll(list.substr(begin, comma - begin).c_str()));
    if (comma == std::string::npos)
      break;
    begin = comma + 1;
  }
  return w;
}

} // namespace tessera

#endif // TESSERA_TOOLS_TESSERA_INSPECT_PLANNAMES_H
