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

Status allReduce(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  size_t bytes = size_t(x.numel()) * dtypeSize(x.dtype);
  if (y.data != x.data)
    std::memcpy(y.data, x.data, bytes);
  if (Status s = call.comm->allReduce(y.data, size_t(y.numel()), y.dtype, ReduceOp::Sum);
      !s.ok())
    return call.error(s.message());
  return Status::okStatus();
}

Status allGather(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", 0);
  int64_t outer, dim, inner;
  splitAt(x.shape, axis, outer, dim, inner);
  int64_t group = call.comm->size();
  size_t element = dtypeSize(x.dtype);
  size_t chunk = size_t(dim * inner) * element;
  if (outer == 1) {
    if (Status s = call.comm->allGather(x.data, y.data, size_t(x.numel()), x.dtype); !s.ok())
      return call.error(s.message());
    return Status::okStatus();
  }
  std::vector<uint8_t> gathered(size_t(group) * size_t(outer) * chunk);
  if (Status s = call.comm->allGather(x.data, gathered.data(), size_t(x.numel()), x.dtype);
      !s.ok())
    return call.error(s.message());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = 0; r < group; ++r)
      std::memcpy(y.data + (size_t(o) * size_t(group) + size_t(r)) * chunk,
                  gathered.data() + (size_t(r) * size_t(outer) + size_t(o)) * chunk, chunk);
  return Status::okStatus();
}

Status reduceScatter(const KernelCall &call) {
  if (!call.comm)
    return needComm(call);
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", 0);
  int64_t outer, dim, inner;
  splitAt(x.shape, axis, outer, dim, inner);
  int64_t group = call.comm->size();
  size_t element = dtypeSize(x.dtype);
  size_t chunk = size_t(dim / group * inner) * element;
  if (outer == 1) {
    if (Status s = call.comm->reduceScatter(x.data, y.data, size_t(y.numel()), x.dtype,
                                            ReduceOp::Sum);
        !s.ok())
      return call.error(s.message());
    return Status::okStatus();
  }
  // Rank r's blocks, contiguous: [r][outer][chunk].
  std::vector<uint8_t> packed(size_t(x.numel()) * element);
  for (int64_t r = 0; r < group; ++r)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(packed.data() + (size_t(r) * size_t(outer) + size_t(o)) * chunk,
                  x.data + (size_t(o) * size_t(group) + size_t(r)) * chunk, chunk);
  if (Status s = call.comm->reduceScatter(packed.data(), y.data, size_t(y.numel()),
                                          x.dtype, ReduceOp::Sum);
      !s.ok())
    return call.error(s.message());
  return Status::okStatus();
}

} // namespace

bool isCollective(const std::string &op) {
  return op == "all_reduce" || op == "all_gather" || op == "reduce_scatter";
}

void registerCollectiveKernels(KernelTable &t) {
  t["all_reduce"] = allReduce;
  t["all_gather"] = allGather;
  t["reduce_scatter"] = reduceScatter;
}

} // namespace tessera::rt::cpu
