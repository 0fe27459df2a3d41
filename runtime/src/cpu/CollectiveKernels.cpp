//===- CollectiveKernels.cpp - shard collectives as kernels ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// all_reduce, all_gather and reduce_scatter of partitioned programs, over the
// communicator of the kernel's group (attribute "group": the mesh ranks, in
// group order). Gathers and scatters along an inner axis pack the blocks so
// the communicator moves contiguous chunks in rank order.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include <cstring>
#include <vector>

namespace tessera::rt::cpu {
namespace {

Status needComm(const KernelCall &call) {
  return call.error("this program exchanges data with other ranks: run it with all of "
                    "its ranks (tessera-run --ranks N, or mpirun -np N tessera-run)");
}

/// Copies an [a][b] grid of `chunk`-byte blocks into [b][a] order: rank-major
/// blocks (what the communicator moves) to axis order and back.
void transposeBlocks(const uint8_t *src, uint8_t *dst, int64_t a, int64_t b, size_t chunk) {
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      std::memcpy(dst + (size_t(j) * size_t(a) + size_t(i)) * chunk,
                  src + (size_t(i) * size_t(b) + size_t(j)) * chunk, chunk);
}

/// A collective along `axis` of `shape`: `outer` runs of `group` blocks of
/// `chunk` bytes, one block per rank, where each rank's part of the axis is
/// `dim / parts` long.
struct AxisBlocks {
  int64_t outer, group;
  size_t chunk;
};
AxisBlocks axisBlocks(const KernelCall &call, const TensorRef &t, int64_t parts) {
  int64_t outer, dim, inner;
  splitAt(t.shape, call.attrInt("axis", 0), outer, dim, inner);
  return {outer, call.comm->size(), size_t(dim / parts * inner) * dtypeSize(t.dtype)};
}

/// A sum, or a maximum (attribute "max" 1: a partial maximum made whole).
ReduceOp reduceOp(const KernelCall &call) {
  return call.attrInt("max", 0) ? ReduceOp::Max : ReduceOp::Sum;
}

Status allReduce(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  size_t bytes = size_t(x.numel()) * dtypeSize(x.dtype);
  if (y.data != x.data)
    std::memcpy(y.data, x.data, bytes);
  // "async" 1 (the replicas' gradient sums): started; the session waits for
  // it before the first kernel that reads the result.
  Status s = call.attrInt("async", 0)
                 ? call.comm->allReduceStart(y.data, size_t(y.numel()), y.dtype,
                                             reduceOp(call))
                 : call.comm->allReduce(y.data, size_t(y.numel()), y.dtype,
                                        reduceOp(call));
  if (!s.ok())
    return call.error(s.message());
  return Status::okStatus();
}

Status allGather(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  AxisBlocks b = axisBlocks(call, x, 1);
  if (b.outer == 1) {
    if (Status s = call.comm->allGather(x.data, y.data, size_t(x.numel()), x.dtype); !s.ok())
      return call.error(s.message());
    return Status::okStatus();
  }
  std::vector<uint8_t> gathered(size_t(b.group) * size_t(b.outer) * b.chunk);
  if (Status s = call.comm->allGather(x.data, gathered.data(), size_t(x.numel()), x.dtype);
      !s.ok())
    return call.error(s.message());
  transposeBlocks(gathered.data(), y.data, b.group, b.outer, b.chunk);
  return Status::okStatus();
}

Status reduceScatter(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  AxisBlocks b = axisBlocks(call, x, call.comm->size());
  const uint8_t *send = x.data;
  std::vector<uint8_t> packed;
  if (b.outer > 1) {
    packed.resize(size_t(x.numel()) * dtypeSize(x.dtype));
    transposeBlocks(x.data, packed.data(), b.outer, b.group, b.chunk);
    send = packed.data();
  }
  if (Status s = call.comm->reduceScatter(send, y.data, size_t(y.numel()),
                                          x.dtype, reduceOp(call));
      !s.ok())
    return call.error(s.message());
  return Status::okStatus();
}

} // namespace

Status bindGroups(Communicator &world, const std::vector<const tpkg::Kernel *> &kernels,
                  CommGroups &groups, std::vector<Communicator *> &comms) {
  auto groupOf = [](const tpkg::Kernel &k) {
    std::vector<int> group;
    if (k.attrs())
      for (const tpkg::Attr *a : *k.attrs())
        if (a->name() && a->name()->str() == "group" && a->ints())
          group.assign(a->ints()->begin(), a->ints()->end());
    return group;
  };
  std::vector<std::vector<int>> kernelGroups(kernels.size());
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (!isCollective(kernels[i]->op()->str()))
      continue;
    kernelGroups[i] = groupOf(*kernels[i]);
    for (int r : kernelGroups[i])
      if (r < 0 || r >= world.size())
        return Status(StatusCode::InvalidArgument,
                      "a collective names rank " + std::to_string(r) + " but " +
                          std::to_string(world.size()) + " rank(s) run");
    groups[kernelGroups[i]];
  }
  for (auto &[group, comm] : groups) {
    bool whole = int(group.size()) == world.size();
    for (size_t i = 0; whole && i < group.size(); ++i)
      whole = group[i] == int(i);
    if (whole)
      continue; // the world itself, below
    if (Status s = world.subgroup(group, comm); !s.ok())
      return s;
  }
  comms.assign(kernels.size(), nullptr);
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (!isCollective(kernels[i]->op()->str()))
      continue;
    std::shared_ptr<Communicator> &comm = groups[kernelGroups[i]];
    comms[i] = comm ? comm.get() : &world;
  }
  return Status::okStatus();
}

bool isCollective(const std::string &op) {
  return op == "all_reduce" || op == "all_gather" || op == "reduce_scatter";
}

void registerCollectiveKernels(KernelTable &t) {
  t["all_reduce"] = allReduce;
  t["all_gather"] = allGather;
  t["reduce_scatter"] = reduceScatter;
}

} // namespace tessera::rt::cpu
