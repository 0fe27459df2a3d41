//===- DeviceProgram.cpp - running a rank's program on a device -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "gpu/DeviceProgram.h"

#include "cpu/Kernels.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

namespace tessera::rt::gpu {

namespace {
/// Seeded values uniform in [-0.02, 0.02] (integers: 0), for benchmarks.
void fillRandom(std::vector<uint8_t> &out, DType dtype, uint64_t seed) {
  uint64_t x = seed | 1;
  size_t el = dtypeSize(dtype);
  for (size_t i = 0; i + el <= out.size(); i += el) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    float f = (float(x >> 40) / float(1 << 24) - 0.5f) * 0.04f;
    if (dtype == DType::F32) {
      std::memcpy(&out[i], &f, 4);
    } else if (dtype == DType::BF16 || dtype == DType::F16) {
      uint16_t h = floatToHalfBits(dtype, f);
      std::memcpy(&out[i], &h, 2);
    } else {
      std::memset(&out[i], 0, el);
    }
  }
}
} // namespace

DeviceProgram::~DeviceProgram() {
  if (device_) {
    (void)device_->synchronize();
    for (void *w : weights_)
      device_->release(w);
    if (arena_)
      device_->release(arena_);
    if (scratch_)
      device_->release(scratch_);
  }
}

Status DeviceProgram::create(const Package &package, const tpkg::Program &program,
                             std::unique_ptr<Device> device,
                             std::unique_ptr<DeviceProgram> &out, uint64_t randomWeights) {
  auto corrupt = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, package.path() + ": " + why);
  };
  const tpkg::Package *plan = package.plan();
  if (program.cuda_module() < 0 || !plan->cuda_modules() ||
      program.cuda_module() >= int(plan->cuda_modules()->size()) || !program.cuda_launches() ||
      !program.kernels() || program.cuda_launches()->size() != program.kernels()->size())
    return Status(StatusCode::InvalidArgument,
                  package.path() + " was not compiled for CUDA: compile it with "
                                   "tessera-compile --target=cuda, or run it with the CPU "
                                   "backend");
  std::unique_ptr<DeviceProgram> p(new DeviceProgram());
  p->device_ = std::move(device);
  p->program_ = &program;
  Device &dev = *p->device_;
  if (Status s = dev.loadModule(*plan->cuda_modules()->Get(uint32_t(program.cuda_module())));
      !s.ok())
    return s;
  uint64_t arenaBytes = program.arena_bytes();
  if (Status s = dev.alloc(size_t(std::max<uint64_t>(arenaBytes, 1)), &p->arena_); !s.ok())
    return s;
  // Weights: one device copy per distinct host location.
  std::map<const uint8_t *, void *> uploaded;
  for (const tpkg::Tensor *t : *program.tensors()) {
    Tensor ref;
    ref.dtype = DType(t->dtype());
    if (uint8_t(ref.dtype) > uint8_t(DType::Bool))
      return corrupt("tensor with an unknown element type");
    if (t->shape())
      ref.shape.assign(t->shape()->begin(), t->shape()->end());
    uint64_t bytes = ref.bytes();
    if (t->storage() == tpkg::Storage::Arena) {
      if (t->offset() > arenaBytes || bytes > arenaBytes - t->offset())
        return corrupt("tensor '" + (t->name() ? t->name()->str() : "?") +
                       "' lies outside the arena");
      ref.data = static_cast<uint8_t *>(p->arena_) + t->offset();
      p->tensors_.push_back(ref);
      continue;
    }
    if (t->storage() == tpkg::Storage::Zeros)
      return Status(StatusCode::Unimplemented,
                    package.path() + ": a training package (state '" +
                        (t->name() ? t->name()->str() : "?") +
                        "'): training runs on the CPU backend only, for now");
    if (t->storage() == tpkg::Storage::Absent) {
      if (!randomWeights)
        return Status(StatusCode::Unimplemented,
                      package.path() + ": weight '" + (t->name() ? t->name()->str() : "?") +
                          "' is absent: this is a plan-only package (tessera-run "
                          "--random-weights SEED fills such weights for benchmarking)");
      std::string key = t->name() ? t->name()->str() : "";
      auto [it, fresh] = p->randomFilled_.try_emplace(key + ":" + std::to_string(bytes), nullptr);
      if (fresh) {
        if (Status s = dev.alloc(size_t(std::max<uint64_t>(bytes, 1)), &it->second); !s.ok())
          return s;
        p->weights_.push_back(it->second);
        std::vector<uint8_t> values(bytes);
        fillRandom(values, ref.dtype, randomWeights ^ std::hash<std::string>()(key));
        if (Status s = dev.upload(it->second, values.data(), values.size()); !s.ok())
          return s;
      }
      ref.data = static_cast<uint8_t *>(it->second);
      p->tensors_.push_back(ref);
      continue;
    }
    const uint8_t *host = nullptr;
    if (Status s = package.storedBytes(*t, bytes, host); !s.ok())
      return s;
    auto [it, fresh] = uploaded.try_emplace(host, nullptr);
    if (fresh) {
      if (Status s = dev.alloc(size_t(std::max<uint64_t>(bytes, 1)), &it->second); !s.ok())
        return s;
      p->weights_.push_back(it->second);
      if (Status s = dev.upload(it->second, host, size_t(bytes)); !s.ok())
        return s;
    }
    ref.data = static_cast<uint8_t *>(it->second);
    p->tensors_.push_back(ref);
  }
  size_t count = p->tensors_.size();
  for (uint32_t k = 0; k < program.kernels()->size(); ++k) {
    const tpkg::Kernel *kernel = program.kernels()->Get(k);
    const tpkg::CudaLaunch *l = program.cuda_launches()->Get(k);
    Launch launch;
    launch.kernel = kernel;
    launch.kind = l->kind();
    for (auto list : {kernel->inputs(), kernel->outputs()}) {
      if (!list)
        continue;
      for (uint32_t id : *list) {
        if (id >= count)
          return corrupt("kernel '" + kernel->op()->str() + "' names a missing tensor");
        launch.pointers.push_back(p->tensors_[id].data);
      }
    }
    switch (launch.kind) {
    case tpkg::LaunchKind::Generated:
      if (!l->function() || !l->grid() || l->grid()->size() != 3)
        return corrupt("a CUDA launch without a function");
      if (Status s = dev.function(l->function()->str(), &launch.fn); !s.ok())
        return s;
      for (int i = 0; i < 3; ++i)
        launch.grid[i] = l->grid()->Get(uint32_t(i));
      launch.block = l->block();
      if (launch.block == 0 || launch.block > 1024)
        return corrupt("a CUDA launch with " + std::to_string(launch.block) + " threads");
      break;
    case tpkg::LaunchKind::Gemm:
      if (Status s = p->prepareGemm(launch); !s.ok())
        return s;
      break;
    case tpkg::LaunchKind::Collective:
    case tpkg::LaunchKind::Copy:
      if (launch.pointers.size() < 2)
        return corrupt("kernel '" + kernel->op()->str() + "' lacks operands");
      break;
    default:
      return corrupt("a CUDA launch of an unknown kind");
    }
    p->launches_.push_back(std::move(launch));
  }
  if (program.inputs())
    p->inputIds_.assign(program.inputs()->begin(), program.inputs()->end());
  if (program.outputs())
    p->outputIds_.assign(program.outputs()->begin(), program.outputs()->end());
  for (size_t id : p->inputIds_)
    if (id >= count)
      return corrupt("a graph input names a missing tensor");
  for (size_t id : p->outputIds_)
    if (id >= count)
      return corrupt("a graph output names a missing tensor");
  const char *stage = std::getenv("TESSERA_STAGE_COLLECTIVES");
  p->stageCollectives_ = stage && std::string(stage) == "1";
  const char *graphs = std::getenv("TESSERA_CUDA_GRAPHS");
  if (!p->hasCollectives() && !(graphs && std::string(graphs) == "0"))
    p->graph_ = Graph::Warm;
  out = std::move(p);
  return Status::okStatus();
}

/// The batched GEMMs of a matmul, as the CPU backend's gemmBatched reads
/// the shapes: one GEMM over all rows when the right operand is shared,
/// one strided batch when the batch strides are uniform, else one per batch.
Status DeviceProgram::prepareGemm(Launch &launch) {
  const tpkg::Kernel &k = *launch.kernel;
  if (!k.inputs() || k.inputs()->size() < 2 || k.inputs()->size() > 3 || !k.outputs() ||
      k.outputs()->size() != 1)
    return Status(StatusCode::DataLoss, "matmul without two inputs (and a bias) and one output");
  const Tensor &a = tensors_[k.inputs()->Get(0)], &b = tensors_[k.inputs()->Get(1)],
               &y = tensors_[k.outputs()->Get(0)];
  bool ta = false, tb = false;
  int epilogue = 0;
  if (k.attrs())
    for (const tpkg::Attr *attr : *k.attrs())
      if (attr->ints() && attr->ints()->size() == 1 && attr->name()) {
        if (attr->name()->str() == "transpose_lhs")
          ta = attr->ints()->Get(0) != 0;
        if (attr->name()->str() == "transpose_rhs")
          tb = attr->ints()->Get(0) != 0;
        if (attr->name()->str() == "epilogue")
          epilogue = int(attr->ints()->Get(0));
      }
  size_t ra = a.shape.size(), rb = b.shape.size(), ry = y.shape.size();
  if (ra < 2 || rb < 2 || ry < 2 || a.dtype != b.dtype || a.dtype != y.dtype)
    return Status(StatusCode::InvalidArgument,
                  "matmul at " + (k.location() ? k.location()->str() : "?") +
                      ": operands the CUDA backend cannot multiply");
  if ((epilogue != 0) != (k.inputs()->size() == 3) || epilogue < 0 || epilogue > 2)
    return Status(StatusCode::DataLoss, "matmul with a malformed epilogue");
  GemmDesc d;
  d.epilogue = epilogue;
  d.dtype = a.dtype;
  d.transA = ta;
  d.transB = tb;
  d.m = y.shape[ry - 2];
  d.n = y.shape[ry - 1];
  d.k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  d.lda = a.shape[ra - 1];
  d.ldb = b.shape[rb - 1];
  d.ldc = d.n;
  std::vector<int64_t> batch(y.shape.begin(), y.shape.end() - 2);
  std::vector<int64_t> aBatch(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> bBatch(b.shape.begin(), b.shape.end() - 2);
  int64_t batches = 1;
  for (int64_t v : batch)
    batches *= v;
  if (bBatch.empty() && !ta) {
    d.m *= batches;
    launch.gemms.push_back(d);
    launch.gemmOffsets.insert(launch.gemmOffsets.end(), {0, 0, 0});
    return Status::okStatus();
  }
  std::vector<int64_t> sa = cpu::broadcastStrides(aBatch, batch.size());
  std::vector<int64_t> sb = cpu::broadcastStrides(bBatch, batch.size());
  int64_t aMatrix = a.shape[ra - 2] * a.shape[ra - 1], bMatrix = b.shape[rb - 2] * b.shape[rb - 1];
  std::vector<int64_t> offA, offB;
  for (int64_t i = 0; i < batches; ++i) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int64_t dd = int64_t(batch.size()) - 1; dd >= 0; --dd) {
      int64_t c = rem % batch[size_t(dd)];
      rem /= batch[size_t(dd)];
      ia += c * sa[size_t(dd)];
      ib += c * sb[size_t(dd)];
    }
    offA.push_back(ia * aMatrix);
    offB.push_back(ib * bMatrix);
  }
  bool uniform = true;
  int64_t stepA = batches > 1 ? offA[1] - offA[0] : 0, stepB = batches > 1 ? offB[1] - offB[0] : 0;
  for (int64_t i = 0; i < batches && uniform; ++i)
    uniform = offA[size_t(i)] == i * stepA && offB[size_t(i)] == i * stepB;
  if (uniform) {
    d.batch = batches;
    d.strideA = stepA;
    d.strideB = stepB;
    d.strideC = d.m * d.n;
    launch.gemms.push_back(d);
    launch.gemmOffsets.insert(launch.gemmOffsets.end(), {0, 0, 0});
    return Status::okStatus();
  }
  for (int64_t i = 0; i < batches; ++i) {
    launch.gemms.push_back(d);
    launch.gemmOffsets.insert(launch.gemmOffsets.end(),
                              {size_t(offA[size_t(i)]), size_t(offB[size_t(i)]),
                               size_t(i * d.m * d.n)});
  }
  return Status::okStatus();
}

bool DeviceProgram::hasCollectives() const {
  for (const Launch &l : launches_)
    if (l.kind == tpkg::LaunchKind::Collective)
      return true;
  return false;
}

Status DeviceProgram::bindCommunicator(Communicator &world) {
  std::vector<const tpkg::Kernel *> kernels;
  for (const Launch &l : launches_)
    kernels.push_back(l.kernel);
  std::vector<Communicator *> comms;
  if (Status s = cpu::bindGroups(world, kernels, groups_, comms); !s.ok())
    return s;
  for (size_t i = 0; i < comms.size(); ++i)
    launches_[i].comm = comms[i];
  return Status::okStatus();
}

/// A collective on device memory: NCCL, or a host communicator on the host
/// emulation's memory. Blocks along an inner axis are regrouped with 2-D
/// copies, as the CPU backend's transposeBlocks does.
Status DeviceProgram::collectiveInPlace(const Launch &launch) {
  const tpkg::Kernel &k = *launch.kernel;
  const Tensor &x = tensors_[k.inputs()->Get(0)], &y = tensors_[k.outputs()->Get(0)];
  std::string op = k.op()->str();
  Communicator &comm = *launch.comm;
  int64_t axis = 0;
  ReduceOp reduce = ReduceOp::Sum; // "max" 1: a partial maximum made whole
  if (k.attrs())
    for (const tpkg::Attr *a : *k.attrs()) {
      if (a->name() && a->name()->str() == "axis" && a->ints() && a->ints()->size())
        axis = a->ints()->Get(0);
      if (a->name() && a->name()->str() == "max" && a->ints() &&
          a->ints()->size() && a->ints()->Get(0))
        reduce = ReduceOp::Max;
    }
  if (Status s = device_->synchronize(); !s.ok())
    return s;
  if (op == "all_reduce") {
    if (x.data != y.data)
      if (Status s = device_->copy(y.data, x.data, x.bytes()); !s.ok())
        return s;
    if (Status s = device_->synchronize(); !s.ok())
      return s;
    return comm.allReduce(y.data, size_t(y.numel()), y.dtype, reduce);
  }
  bool gather = op == "all_gather";
  if (!gather && op != "reduce_scatter")
    return Status(StatusCode::Unimplemented, "no collective '" + op + "'");
  // outer runs of `group` blocks of `chunk` bytes along `axis`.
  int64_t outer, dim, inner;
  cpu::splitAt(x.shape, axis, outer, dim, inner);
  int64_t group = comm.size();
  size_t chunk = size_t((gather ? dim : dim / group) * inner) * dtypeSize(x.dtype);
  if (outer == 1)
    return gather ? comm.allGather(x.data, y.data, size_t(x.numel()), x.dtype)
                  : comm.reduceScatter(x.data, y.data, size_t(y.numel()),
                                       x.dtype, reduce);
  size_t need = gather ? y.bytes() : x.bytes();
  if (need > scratchBytes_) {
    if (scratch_)
      device_->release(scratch_);
    scratch_ = nullptr;
    scratchBytes_ = 0;
    if (Status s = device_->alloc(need, &scratch_); !s.ok())
      return s;
    scratchBytes_ = need;
  }
  auto *scratch = static_cast<uint8_t *>(scratch_);
  if (gather) {
    if (Status s = comm.allGather(x.data, scratch, size_t(x.numel()), x.dtype); !s.ok())
      return s;
    // [group][outer] chunks -> [outer][group].
    for (int64_t g = 0; g < group; ++g)
      if (Status s = device_->copy2D(y.data + size_t(g) * chunk, size_t(group) * chunk,
                                     scratch + size_t(g * outer) * chunk, chunk, chunk,
                                     size_t(outer));
          !s.ok())
        return s;
    return device_->synchronize();
  }
  // [outer][group] chunks -> [group][outer], then reduce-scatter.
  for (int64_t g = 0; g < group; ++g)
    if (Status s = device_->copy2D(scratch + size_t(g * outer) * chunk, chunk,
                                   x.data + size_t(g) * chunk, size_t(group) * chunk, chunk,
                                   size_t(outer));
        !s.ok())
      return s;
  if (Status s = device_->synchronize(); !s.ok())
    return s;
  return comm.reduceScatter(scratch, y.data, size_t(y.numel()), x.dtype,
                            reduce);
}

/// A collective through host memory with the CPU backend's kernels (16-bit
/// floats reduced in f32).
Status DeviceProgram::collective(const Launch &launch) {
  const tpkg::Kernel &k = *launch.kernel;
  cpu::KernelCall call;
  call.kernel = &k;
  call.comm = launch.comm;
  std::vector<std::vector<uint8_t>> buffers;
  auto stage = [&](uint32_t id, bool load) -> Status {
    const Tensor &t = tensors_[id];
    bool half = t.dtype == DType::BF16 || t.dtype == DType::F16;
    cpu::TensorRef ref;
    ref.dtype = half ? DType::F32 : t.dtype;
    ref.shape = t.shape;
    buffers.emplace_back(size_t(t.numel()) * dtypeSize(ref.dtype));
    std::vector<uint8_t> &buf = buffers.back();
    ref.data = buf.data();
    if (load) {
      std::vector<uint8_t> raw(t.bytes());
      if (Status s = device_->download(raw.data(), t.data, raw.size()); !s.ok())
        return s;
      if (half)
        for (int64_t i = 0; i < t.numel(); ++i) {
          uint16_t h;
          std::memcpy(&h, raw.data() + 2 * i, 2);
          float f = halfBitsToFloat(t.dtype, h);
          std::memcpy(buf.data() + 4 * i, &f, 4);
        }
      else
        buf = std::move(raw), ref.data = buf.data();
    }
    (load ? call.inputs : call.outputs).push_back(ref);
    return Status::okStatus();
  };
  buffers.reserve(k.inputs()->size() + k.outputs()->size());
  if (Status s = device_->synchronize(); !s.ok())
    return s;
  for (uint32_t id : *k.inputs())
    if (Status s = stage(id, true); !s.ok())
      return s;
  for (uint32_t id : *k.outputs())
    if (Status s = stage(id, false); !s.ok())
      return s;
  const cpu::KernelTable &table = cpu::cpuKernels();
  auto it = table.find(k.op()->str());
  if (it == table.end())
    return Status(StatusCode::Unimplemented, "no collective '" + k.op()->str() + "'");
  if (Status s = it->second(call); !s.ok())
    return s;
  for (size_t o = 0; o < k.outputs()->size(); ++o) {
    const Tensor &t = tensors_[k.outputs()->Get(uint32_t(o))];
    const cpu::TensorRef &ref = call.outputs[o];
    std::vector<uint8_t> raw(t.bytes());
    if (t.dtype == DType::BF16 || t.dtype == DType::F16) {
      for (int64_t i = 0; i < t.numel(); ++i) {
        float f;
        std::memcpy(&f, ref.data + 4 * i, 4);
        uint16_t h = floatToHalfBits(t.dtype, f);
        std::memcpy(raw.data() + 2 * i, &h, 2);
      }
    } else {
      std::memcpy(raw.data(), ref.data, raw.size());
    }
    if (Status s = device_->upload(t.data, raw.data(), raw.size()); !s.ok())
      return s;
  }
  return device_->synchronize();
}

Status DeviceProgram::run(std::vector<KernelSpan> *spans, std::vector<KernelProfile> *profile) {
  bool timed = spans || profile;
  if (!timed && graph_ == Graph::Ready) {
    if (Status s = device_->replay(); !s.ok())
      return s;
    return device_->synchronize();
  }
  if (!timed && graph_ == Graph::Capture) {
    // Nothing runs while the stream records: record, then replay once.
    if (device_->beginCapture()) {
      Status s = launchAll(nullptr, nullptr, /*sync=*/false);
      Status e = device_->endCapture();
      if (s.ok() && e.ok()) {
        graph_ = Graph::Ready;
        if (Status r = device_->replay(); !r.ok())
          return r;
        return device_->synchronize();
      }
      if (!s.ok())
        return s;
    }
    graph_ = Graph::Off; // the device cannot: run eagerly from now on
  }
  if (!timed && graph_ == Graph::Warm)
    graph_ = Graph::Capture; // the first run set up GEMM plans eagerly
  return launchAll(spans, profile);
}

Status DeviceProgram::launchAll(std::vector<KernelSpan> *spans,
                                std::vector<KernelProfile> *profile, bool sync) {
  bool timed = spans || profile;
  for (size_t i = 0; i < launches_.size(); ++i) {
    const Launch &l = launches_[i];
    auto start = std::chrono::steady_clock::now();
    Status s = Status::okStatus();
    switch (l.kind) {
    case tpkg::LaunchKind::Generated: {
      std::vector<void *> args(l.pointers.size());
      std::vector<void *> values = l.pointers;
      for (size_t a = 0; a < values.size(); ++a)
        args[a] = &values[a];
      s = device_->launch(l.fn, l.grid, l.block, args.data(), args.size());
      break;
    }
    case tpkg::LaunchKind::Gemm: {
      size_t el = dtypeSize(l.gemms[0].dtype);
      // pointers: a, b, [bias,] y
      void *y = l.pointers.back();
      for (size_t g = 0; g < l.gemms.size() && s.ok(); ++g) {
        GemmDesc desc = l.gemms[g];
        if (desc.epilogue)
          desc.bias = l.pointers[2];
        s = device_->gemm(desc,
                          static_cast<uint8_t *>(l.pointers[0]) + l.gemmOffsets[3 * g] * el,
                          static_cast<uint8_t *>(l.pointers[1]) + l.gemmOffsets[3 * g + 1] * el,
                          static_cast<uint8_t *>(y) + l.gemmOffsets[3 * g + 2] * el);
      }
      break;
    }
    case tpkg::LaunchKind::Copy:
      if (l.pointers[0] != l.pointers[1])
        s = device_->copy(l.pointers[1], l.pointers[0],
                          tensors_[l.kernel->inputs()->Get(0)].bytes());
      break;
    case tpkg::LaunchKind::Collective:
      if (!l.comm)
        return Status(StatusCode::InvalidArgument,
                      "kernel '" + l.kernel->op()->str() +
                          "': this program exchanges data with other ranks: run it with all "
                          "of its ranks (tessera-run --ranks N, or mpirun -np N tessera-run)");
    {
      // Host communicators reduce 32- and 64-bit types only: 16-bit floats
      // are staged (and reduced in f32) also on the host emulation.
      DType t = tensors_[l.kernel->inputs()->Get(0)].dtype;
      bool half = t == DType::BF16 || t == DType::F16;
      s = !stageCollectives_ &&
                  (l.comm->deviceCollectives() || (device_->hostMemory() && !half))
              ? collectiveInPlace(l)
              : collective(l);
    }
      break;
    default:
      break;
    }
    if (!s.ok())
      return Status(s.code(), "kernel '" + l.kernel->op()->str() + "' at " +
                                  (l.kernel->location() ? l.kernel->location()->str() : "?") +
                                  ": " + s.message());
    if (timed) {
      if (Status sync = device_->synchronize(); !sync.ok())
        return sync;
      auto end = std::chrono::steady_clock::now();
      if (profile) {
        (*profile)[i].seconds += std::chrono::duration<double>(end - start).count();
        ++(*profile)[i].calls;
      }
      if (spans)
        spans->push_back({i, std::chrono::duration<double>(start.time_since_epoch()).count(),
                          std::chrono::duration<double>(end.time_since_epoch()).count()});
    }
  }
  return sync ? device_->synchronize() : Status::okStatus();
}

Status DeviceProgram::setInput(size_t index, const HostTensor &value) {
  const Tensor &t = tensors_[inputIds_[index]];
  if (value.data.size() != t.bytes())
    return Status(StatusCode::InvalidArgument, "input of the wrong size");
  return device_->upload(t.data, value.data.data(), value.data.size());
}

Status DeviceProgram::getOutput(size_t index, HostTensor &out) {
  const Tensor &t = tensors_[outputIds_[index]];
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.data.resize(t.bytes());
  if (Status s = device_->synchronize(); !s.ok())
    return s;
  return device_->download(out.data.data(), t.data, out.data.size());
}

} // namespace tessera::rt::gpu
