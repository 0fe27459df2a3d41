//===- LocalCommunicator.cpp - ranks as threads ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A collective is a rendezvous: each rank posts its buffers and waits; the
// last rank to arrive computes every rank's result (all buffers are valid
// while their owners wait), bumps the generation and wakes the others.
// Send/recv go through per-(source, destination, tag) mailboxes.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Communicator.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

namespace tessera::rt {

struct LocalGroup::State {
  int size;
  std::chrono::milliseconds timeout;
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t generation = 0;
  int arrived = 0;
  std::vector<bool> present;
  std::string pendingOp;
  std::vector<const void *> sends;
  std::vector<void *> recvs;
  bool failed = false;
  std::string failure;
  std::map<std::tuple<int, int, int>, std::deque<std::vector<uint8_t>>> mail;
  /// Groups of world ranks created by subgroup(), shared by their members.
  std::mutex groupsMutex;
  std::map<std::vector<int>, std::shared_ptr<State>> groups;

  void fail(const std::string &why) {
    if (!failed) {
      failed = true;
      failure = why;
    }
    cv.notify_all();
  }
};

namespace {

template <typename T>
void reduceInto(T *out, const T *in, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i)
    out[i] = op == ReduceOp::Sum ? T(out[i] + in[i]) : std::max(out[i], in[i]);
}

bool reduceTyped(void *out, const void *in, size_t count, DType dtype,
                 ReduceOp op) {
  switch (dtype) {
  case DType::F32: reduceInto(static_cast<float *>(out), static_cast<const float *>(in), count, op); return true;
  case DType::F64: reduceInto(static_cast<double *>(out), static_cast<const double *>(in), count, op); return true;
  case DType::I32: reduceInto(static_cast<int32_t *>(out), static_cast<const int32_t *>(in), count, op); return true;
  case DType::I64: reduceInto(static_cast<int64_t *>(out), static_cast<const int64_t *>(in), count, op); return true;
  default: return false;
  }
}

class LocalCommunicator : public Communicator {
public:
  LocalCommunicator(std::shared_ptr<LocalGroup::State> state, int rank)
      : state_(std::move(state)), rank_(rank) {}
  ~LocalCommunicator() override {
    if (worker_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(asyncMutex_);
        stopping_ = true;
      }
      asyncCv_.notify_all();
      worker_.join();
    }
  }
  int rank() const override { return rank_; }
  int size() const override { return state_->size; }

  Status allReduce(void *buffer, size_t count, DType dtype, ReduceOp op) override {
    if (Status s = drain(); !s.ok())
      return s;
    return reduceNow(buffer, count, dtype, op);
  }

  /// Started all-reduces run on a worker thread of this rank, in order.
  Status allReduceStart(void *buffer, size_t count, DType dtype,
                        ReduceOp op) override {
    if (Status s = wait(buffer); !s.ok()) // (started again before its wait)
      return s;
    std::lock_guard<std::mutex> lock(asyncMutex_);
    if (!worker_.joinable())
      worker_ = std::thread([this] { work(); });
    queue_.push_back({buffer, count, dtype, op});
    asyncCv_.notify_all();
    return Status::okStatus();
  }

  Status wait(const void *buffer) override {
    std::unique_lock<std::mutex> lock(asyncMutex_);
    auto queued = [&] {
      return std::any_of(
                 queue_.begin(), queue_.end(),
                 [&](const Started &t) { return t.buffer == buffer; }) ||
             (running_ && running_ == buffer);
    };
    asyncCv_.wait(lock, [&] { return !queued(); });
    auto it = finished_.find(buffer);
    if (it == finished_.end())
      return Status::okStatus();
    Status s = it->second;
    finished_.erase(it);
    return s;
  }

  Status allGather(const void *send, void *recv, size_t count,
                   DType dtype) override {
    if (Status s = drain(); !s.ok())
      return s;
    return gatherNow(send, recv, count, dtype);
  }

  Status reduceScatter(const void *send, void *recv, size_t count, DType dtype,
                       ReduceOp op) override {
    if (Status s = drain(); !s.ok())
      return s;
    return scatterNow(send, recv, count, dtype, op);
  }

private:
  Status reduceNow(void *buffer, size_t count, DType dtype, ReduceOp op) {
    size_t bytes = count * dtypeSize(dtype);
    return rendezvous("all_reduce", buffer, buffer, [&](State &s) -> std::string {
      std::vector<uint8_t> acc(static_cast<const uint8_t *>(s.sends[0]),
                               static_cast<const uint8_t *>(s.sends[0]) + bytes);
      for (int r = 1; r < s.size; ++r)
        if (!reduceTyped(acc.data(), s.sends[size_t(r)], count, dtype, op))
          return "all_reduce: element type " + std::string(dtypeName(dtype)) +
                 " is not supported";
      for (int r = 0; r < s.size; ++r)
        std::memcpy(s.recvs[size_t(r)], acc.data(), bytes);
      return "";
    });
  }

  Status gatherNow(const void *send, void *recv, size_t count, DType dtype) {
    size_t bytes = count * dtypeSize(dtype);
    return rendezvous("all_gather", send, recv, [&](State &s) -> std::string {
      for (int dst = 0; dst < s.size; ++dst)
        for (int src = 0; src < s.size; ++src)
          std::memcpy(static_cast<uint8_t *>(s.recvs[size_t(dst)]) + size_t(src) * bytes,
                      s.sends[size_t(src)], bytes);
      return "";
    });
  }

  Status scatterNow(const void *send, void *recv, size_t count, DType dtype,
                    ReduceOp op) {
    size_t bytes = count * dtypeSize(dtype);
    return rendezvous("reduce_scatter", send, recv, [&](State &s) -> std::string {
      for (int dst = 0; dst < s.size; ++dst) {
        auto chunk = [&](int src) {
          return static_cast<const uint8_t *>(s.sends[size_t(src)]) + size_t(dst) * bytes;
        };
        std::vector<uint8_t> acc(chunk(0), chunk(0) + bytes);
        for (int src = 1; src < s.size; ++src)
          if (!reduceTyped(acc.data(), chunk(src), count, dtype, op))
            return "reduce_scatter: element type " + std::string(dtypeName(dtype)) +
                   " is not supported";
        std::memcpy(s.recvs[size_t(dst)], acc.data(), bytes);
      }
      return "";
    });
  }

  struct Started {
    void *buffer;
    size_t count;
    DType dtype;
    ReduceOp op;
  };

  /// The worker: runs the started all-reduces in order.
  void work() {
    std::unique_lock<std::mutex> lock(asyncMutex_);
    while (true) {
      asyncCv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping
      Started task = queue_.front();
      queue_.pop_front();
      running_ = task.buffer;
      lock.unlock();
      Status s = reduceNow(task.buffer, task.count, task.dtype, task.op);
      lock.lock();
      running_ = nullptr;
      if (!s.ok())
        finished_[task.buffer] = s;
      asyncCv_.notify_all();
    }
  }

  /// Waits for every started all-reduce (a blocking collective comes after
  /// them); the first failure.
  Status drain() {
    std::unique_lock<std::mutex> lock(asyncMutex_);
    if (!worker_.joinable())
      return Status::okStatus();
    asyncCv_.wait(lock, [&] { return queue_.empty() && !running_; });
    Status first = Status::okStatus();
    for (auto &[buffer, s] : finished_)
      if (first.ok())
        first = s;
    finished_.clear();
    return first;
  }

  std::mutex asyncMutex_;
  std::condition_variable asyncCv_;
  std::deque<Started> queue_;
  const void *running_ = nullptr;
  std::map<const void *, Status> finished_; ///< failures, until waited for
  bool stopping_ = false;
  std::thread worker_;

public:
  Status send(const void *data, size_t bytes, int peer, int tag) override {
    State &s = *state_;
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.failed)
      return groupFailed();
    if (peer < 0 || peer >= s.size)
      return Status(StatusCode::InvalidArgument, "send to rank " + std::to_string(peer) +
                                                     " of " + std::to_string(s.size));
    s.mail[{rank_, peer, tag}].emplace_back(static_cast<const uint8_t *>(data),
                                           static_cast<const uint8_t *>(data) + bytes);
    s.cv.notify_all();
    return Status::okStatus();
  }

  Status recv(void *data, size_t bytes, int peer, int tag) override {
    State &s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    auto key = std::make_tuple(peer, rank_, tag);
    bool ready = s.cv.wait_for(lock, s.timeout, [&] {
      return s.failed || !s.mail[key].empty();
    });
    if (s.failed)
      return groupFailed();
    if (!ready) {
      s.fail("recv on rank " + std::to_string(rank_) + " from rank " +
             std::to_string(peer) + " (tag " + std::to_string(tag) +
             ") timed out after " + std::to_string(s.timeout.count()) +
             " ms: rank " + std::to_string(peer) + " did not send (died?)");
      return groupFailed();
    }
    std::vector<uint8_t> message = std::move(s.mail[key].front());
    s.mail[key].pop_front();
    if (message.size() != bytes)
      return Status(StatusCode::InvalidArgument,
                    "recv on rank " + std::to_string(rank_) + ": expected " +
                        std::to_string(bytes) + " bytes from rank " +
                        std::to_string(peer) + ", got " + std::to_string(message.size()));
    std::memcpy(data, message.data(), bytes);
    return Status::okStatus();
  }

  Status subgroup(const std::vector<int> &ranks,
                  std::shared_ptr<Communicator> &out) override {
    auto at = std::find(ranks.begin(), ranks.end(), rank_);
    if (at == ranks.end())
      return Status(StatusCode::InvalidArgument,
                    "rank " + std::to_string(rank_) + " is not in the group it creates");
    for (int r : ranks)
      if (r < 0 || r >= state_->size)
        return Status(StatusCode::InvalidArgument,
                      "group names rank " + std::to_string(r) + " of " +
                          std::to_string(state_->size));
    std::shared_ptr<State> group;
    {
      std::lock_guard<std::mutex> lock(state_->groupsMutex);
      auto &slot = state_->groups[ranks];
      if (!slot) {
        slot = std::make_shared<State>();
        slot->size = int(ranks.size());
        slot->timeout = state_->timeout;
        slot->present.assign(ranks.size(), false);
        slot->sends.assign(ranks.size(), nullptr);
        slot->recvs.assign(ranks.size(), nullptr);
      }
      group = slot;
    }
    out = std::make_shared<LocalCommunicator>(group, int(at - ranks.begin()));
    return Status::okStatus();
  }

private:
  using State = LocalGroup::State;

  Status groupFailed() const {
    return Status(StatusCode::Internal, "rank " + std::to_string(rank_) +
                                            ": the group failed: " + state_->failure);
  }

  template <typename Compute>
  Status rendezvous(const char *op, const void *send, void *recv, Compute &&compute) {
    State &s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (s.failed)
      return groupFailed();
    if (s.arrived > 0 && s.pendingOp != op) {
      s.fail(std::string("rank ") + std::to_string(rank_) + " called " + op +
             " while the others are in " + s.pendingOp);
      return groupFailed();
    }
    s.pendingOp = op;
    s.sends[size_t(rank_)] = send;
    s.recvs[size_t(rank_)] = recv;
    s.present[size_t(rank_)] = true;
    uint64_t generation = s.generation;
    if (++s.arrived == s.size) {
      std::string error = compute(s);
      s.arrived = 0;
      std::fill(s.present.begin(), s.present.end(), false);
      ++s.generation;
      if (!error.empty()) {
        s.fail(error);
        return groupFailed();
      }
      s.cv.notify_all();
      return Status::okStatus();
    }
    bool done = s.cv.wait_for(lock, s.timeout, [&] {
      return s.failed || s.generation != generation;
    });
    if (s.failed)
      return groupFailed();
    if (!done) {
      std::string missing;
      for (int r = 0; r < s.size; ++r)
        if (!s.present[size_t(r)])
          missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      s.fail(std::string(op) + " timed out after " + std::to_string(s.timeout.count()) +
             " ms on rank " + std::to_string(rank_) + ": rank(s) " + missing +
             " never arrived (died?)");
      return groupFailed();
    }
    return Status::okStatus();
  }

  std::shared_ptr<State> state_;
  int rank_;
};

} // namespace

LocalGroup::LocalGroup(int size, std::chrono::milliseconds timeout)
    : state_(std::make_shared<State>()) {
  state_->size = size;
  state_->timeout = timeout;
  state_->present.assign(size_t(size), false);
  state_->sends.assign(size_t(size), nullptr);
  state_->recvs.assign(size_t(size), nullptr);
  for (int r = 0; r < size; ++r)
    comms_.push_back(std::make_unique<LocalCommunicator>(state_, r));
}

LocalGroup::~LocalGroup() = default;

int LocalGroup::size() const { return state_->size; }

Communicator &LocalGroup::communicator(int rank) { return *comms_[size_t(rank)]; }

void LocalGroup::abort(int rank, const std::string &reason) {
  std::string why = "rank " + std::to_string(rank) + " aborted: " + reason;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->fail(why);
  }
  std::vector<std::shared_ptr<State>> groups;
  {
    std::lock_guard<std::mutex> lock(state_->groupsMutex);
    for (auto &[ranks, group] : state_->groups)
      groups.push_back(group);
  }
  for (auto &group : groups) {
    std::lock_guard<std::mutex> lock(group->mutex);
    group->fail(why);
  }
}

} // namespace tessera::rt
