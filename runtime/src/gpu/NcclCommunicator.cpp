//===- NcclCommunicator.cpp - collectives on GPU memory with NCCL ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/NcclCommunicator.h"

#if defined(TESSERA_HAVE_CUDA_HEADERS) && defined(TESSERA_HAVE_NCCL_HEADERS)
#include <cuda.h>
#include <dlfcn.h>
#include <nccl.h>

#include <cstring>
#include <mutex>

namespace tessera::rt {
namespace {

struct Nccl {
  void *lib = nullptr, *cuda = nullptr;
  std::string why;
  decltype(&::ncclGetUniqueId) getUniqueId = nullptr;
  decltype(&::ncclCommInitRank) commInitRank = nullptr;
  decltype(&::ncclCommDestroy) commDestroy = nullptr;
  decltype(&::ncclAllReduce) allReduce = nullptr;
  decltype(&::ncclAllGather) allGather = nullptr;
  decltype(&::ncclReduceScatter) reduceScatter = nullptr;
  decltype(&::ncclGetErrorString) errorString = nullptr;
  decltype(&::cuStreamCreate) streamCreate = nullptr;
  decltype(&::cuStreamSynchronize) streamSynchronize = nullptr;
  decltype(&::cuStreamDestroy) streamDestroy = nullptr;
};

const Nccl &nccl() {
  static Nccl n;
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char *name : {"libnccl.so.2", "libnccl.so", "/usr/local/cuda/lib64/libnccl.so.2",
                             "/usr/local/cuda/lib/libnccl.so.2"})
      if ((n.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    n.cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n.lib || !n.cuda) {
      n.why = !n.lib ? "libnccl.so.2 not found" : "no CUDA driver (libcuda.so.1)";
      n.lib = nullptr;
      return;
    }
    auto sym = [&](void *lib, auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && n.why.empty())
        n.why = std::string("missing ") + name;
    };
    sym(n.lib, n.getUniqueId, "ncclGetUniqueId");
    sym(n.lib, n.commInitRank, "ncclCommInitRank");
    sym(n.lib, n.commDestroy, "ncclCommDestroy");
    sym(n.lib, n.allReduce, "ncclAllReduce");
    sym(n.lib, n.allGather, "ncclAllGather");
    sym(n.lib, n.reduceScatter, "ncclReduceScatter");
    sym(n.lib, n.errorString, "ncclGetErrorString");
    sym(n.cuda, n.streamCreate, "cuStreamCreate");
    sym(n.cuda, n.streamSynchronize, "cuStreamSynchronize");
    sym(n.cuda, n.streamDestroy, "cuStreamDestroy_v2");
    if (!n.why.empty())
      n.lib = nullptr;
  });
  return n;
}

ncclDataType_t ncclType(DType t, bool &ok) {
  ok = true;
  switch (t) {
  case DType::F32: return ncclFloat32;
  case DType::F16: return ncclFloat16;
  case DType::BF16: return ncclBfloat16;
  case DType::F64: return ncclFloat64;
  case DType::I32: return ncclInt32;
  case DType::I64: return ncclInt64;
  case DType::I8: return ncclInt8;
  default: ok = false; return ncclFloat32;
  }
}

/// One NCCL communicator, created at its first collective (when the rank's
/// CUDA context is current) among `members` (bootstrap ranks, in group
/// order); point-to-point goes through the bootstrap.
class NcclCommunicator final : public Communicator {
public:
  NcclCommunicator(Communicator *bootstrap, std::vector<int> members, int rank)
      : bootstrap_(bootstrap), members_(std::move(members)), rank_(rank) {}
  ~NcclCommunicator() override {
    const Nccl &n = nccl();
    if (comm_)
      n.commDestroy(comm_);
    if (stream_)
      n.streamDestroy(stream_);
  }
  int rank() const override { return rank_; }
  int size() const override { return int(members_.size()); }
  bool deviceCollectives() const override { return true; }

  Status allReduce(void *buffer, size_t count, DType dtype, ReduceOp op) override {
    return collective("all_reduce", dtype, [&](ncclDataType_t t) {
      return nccl().allReduce(buffer, buffer, count, t, op == ReduceOp::Sum ? ncclSum : ncclMax,
                              comm_, stream_);
    });
  }
  Status allGather(const void *send, void *recv, size_t count, DType dtype) override {
    return collective("all_gather", dtype, [&](ncclDataType_t t) {
      return nccl().allGather(send, recv, count, t, comm_, stream_);
    });
  }
  Status reduceScatter(const void *send, void *recv, size_t count, DType dtype,
                       ReduceOp op) override {
    return collective("reduce_scatter", dtype, [&](ncclDataType_t t) {
      return nccl().reduceScatter(send, recv, count, t, op == ReduceOp::Sum ? ncclSum : ncclMax,
                                  comm_, stream_);
    });
  }
  Status send(const void *data, size_t bytes, int peer, int tag) override {
    if (!bootstrap_)
      return Status(StatusCode::InvalidArgument, "a world of one rank has no peers");
    return bootstrap_->send(data, bytes, members_[size_t(peer)], tag);
  }
  Status recv(void *data, size_t bytes, int peer, int tag) override {
    if (!bootstrap_)
      return Status(StatusCode::InvalidArgument, "a world of one rank has no peers");
    return bootstrap_->recv(data, bytes, members_[size_t(peer)], tag);
  }
  Status sendAsync(std::vector<uint8_t> data, int peer, int tag) override {
    if (!bootstrap_)
      return Status(StatusCode::InvalidArgument, "a world of one rank has no peers");
    return bootstrap_->sendAsync(std::move(data), members_[size_t(peer)], tag);
  }
  Status flush() override { return bootstrap_ ? bootstrap_->flush() : Status::okStatus(); }

  Status subgroup(const std::vector<int> &ranks, std::shared_ptr<Communicator> &out) override {
    std::vector<int> members;
    int mine = -1;
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (ranks[i] < 0 || ranks[i] >= size())
        return Status(StatusCode::InvalidArgument, "subgroup names a rank outside the group");
      members.push_back(members_[size_t(ranks[i])]);
      if (ranks[i] == rank_)
        mine = int(i);
    }
    if (mine < 0)
      return Status(StatusCode::InvalidArgument, "subgroup without the calling rank");
    out = std::make_shared<NcclCommunicator>(bootstrap_, std::move(members), mine);
    return Status::okStatus();
  }

private:
  Status fail(const char *what, ncclResult_t r) {
    return Status(StatusCode::Internal,
                  std::string("NCCL ") + what + ": " + nccl().errorString(r));
  }

  /// The unique id travels from the group's first member to the others over
  /// the bootstrap; the tag is derived from the members, so that groups
  /// created concurrently do not mix up their ids.
  Status init() {
    const Nccl &n = nccl();
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    int tag = 1 << 22;
    for (int m : members_)
      tag = (tag * 31 + m) & 0x3fffff;
    tag |= 1 << 22;
    if (rank_ == 0) {
      if (ncclResult_t r = n.getUniqueId(&id); r != ncclSuccess)
        return fail("unique id", r);
      for (size_t i = 1; i < members_.size(); ++i)
        if (Status s = bootstrap_->send(&id, sizeof id, members_[i], tag); !s.ok())
          return s;
    } else if (Status s = bootstrap_->recv(&id, sizeof id, members_[0], tag); !s.ok()) {
      return s;
    }
    if (CUresult r = n.streamCreate(&stream_, CU_STREAM_NON_BLOCKING); r != CUDA_SUCCESS)
      return Status(StatusCode::Internal, "NCCL: cannot create a stream (no CUDA context?)");
    if (ncclResult_t r = n.commInitRank(&comm_, size(), id, rank_); r != ncclSuccess)
      return fail("init (one GPU per rank: several ranks on one GPU run as threads, "
                  "tessera-run --ranks N, with the local communicator)",
                  r);
    return Status::okStatus();
  }

  template <typename Fn> Status collective(const char *what, DType dtype, Fn &&call) {
    const Nccl &n = nccl();
    if (!comm_)
      if (Status s = init(); !s.ok())
        return s;
    bool ok;
    ncclDataType_t t = ncclType(dtype, ok);
    if (!ok)
      return Status(StatusCode::Unimplemented,
                    std::string("NCCL ") + what + ": no " + std::string(dtypeName(dtype)));
    if (ncclResult_t r = call(t); r != ncclSuccess)
      return fail(what, r);
    if (n.streamSynchronize(stream_) != CUDA_SUCCESS)
      return Status(StatusCode::Internal, std::string("NCCL ") + what + ": stream failed");
    return Status::okStatus();
  }

  Communicator *bootstrap_;
  std::vector<int> members_;
  int rank_;
  ncclComm_t comm_ = nullptr;
  CUstream stream_ = nullptr;
};

} // namespace

bool ncclAvailable(std::string &why) {
  why = nccl().why;
  return nccl().lib != nullptr;
}

Status createNcclCommunicator(Communicator *bootstrap, std::unique_ptr<Communicator> &out) {
  std::string why;
  if (!ncclAvailable(why))
    return Status(StatusCode::Unimplemented, "the nccl communicator cannot start: " + why);
  int size = bootstrap ? bootstrap->size() : 1, rank = bootstrap ? bootstrap->rank() : 0;
  std::vector<int> members(size_t(size), 0);
  for (int i = 0; i < size; ++i)
    members[size_t(i)] = i;
  out = std::make_unique<NcclCommunicator>(bootstrap, std::move(members), rank);
  return Status::okStatus();
}

} // namespace tessera::rt

#else

namespace tessera::rt {
bool ncclAvailable(std::string &why) {
  why = "this runtime was built without the CUDA toolkit's headers";
  return false;
}
Status createNcclCommunicator(Communicator *, std::unique_ptr<Communicator> &) {
  return Status(StatusCode::Unimplemented,
                "the nccl communicator cannot start: this runtime was built without CUDA");
}
} // namespace tessera::rt

#endif
