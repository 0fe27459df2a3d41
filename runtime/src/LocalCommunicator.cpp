//===- LocalCommunicator.cpp - ranks as threads ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A collective is two rendezvous: each rank posts its buffers and waits for
// the others; then each computes its own share of the result, reading the
// others' buffers (valid while their owners wait) and writing only where no
// other rank writes; then each waits until all shares are done.
// Send/recv go through per-(source, destination, tag) mailboxes.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Communicator.h"

#include <algorithm>
#include <atomic>
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
  /// All-reduces started (allReduceStart) and not yet finished by every
  /// rank, by sequence number: each rank's n-th start is the group's n-th.
  struct Started {
    size_t count = 0;
    DType dtype = DType::F32;
    ReduceOp op = ReduceOp::Sum;
    std::vector<void *> buffers;
    std::vector<bool> present;
    int arrived = 0;
    size_t blocks = 0;
    std::atomic<size_t> nextBlock{0};
    std::atomic<size_t> blocksDone{0};
    int left = 0;
    std::string error;
  };
  std::map<uint64_t, Started> started;
  /// Per rank of the group: its next start's sequence number, and its
  /// started all-reduces not yet waited for, by buffer (kept here, not in a
  /// communicator: a rank may hold several communicators of one group, one
  /// per program, and each rank's starts are one sequence).
  std::vector<uint64_t> nextStarted;
  std::vector<std::map<const void *, uint64_t>> unwaited;
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
  int rank() const override { return rank_; }
  int size() const override { return state_->size; }

  /// After the started ones, a started one finished at once: blocking and
  /// started all-reduces are one sequence, so a rank may block where another
  /// started (the programs of different pipeline stages).
  Status allReduce(void *buffer, size_t count, DType dtype, ReduceOp op) override {
    if (Status s = drain(); !s.ok())
      return s;
    if (Status s = allReduceStart(buffer, count, dtype, op); !s.ok())
      return s;
    return wait(buffer);
  }

  /// A started all-reduce only posts the buffer; the reduction happens in
  /// wait(), where every waiting rank claims blocks of it until none are
  /// left (the first to wait does the most): no thread of its own, which
  /// on busy cores would take turns with the ranks' compute threads.
  Status allReduceStart(void *buffer, size_t count, DType dtype,
                        ReduceOp op) override {
    if (Status s = wait(buffer); !s.ok()) // (started again before its wait)
      return s;
    State &s = *state_;
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.failed)
      return groupFailed();
    uint64_t seq = s.nextStarted[size_t(rank_)]++;
    auto [it, created] = s.started.try_emplace(seq);
    State::Started &t = it->second;
    if (created) {
      t.count = count;
      t.dtype = dtype;
      t.op = op;
      t.buffers.assign(size_t(s.size), nullptr);
      t.present.assign(size_t(s.size), false);
      t.blocks = (count * dtypeSize(dtype) + kBlockBytes - 1) / kBlockBytes;
    } else if (t.count != count || t.dtype != dtype || t.op != op) {
      s.fail("rank " + std::to_string(rank_) + " started all_reduce " + std::to_string(seq) +
             " of " + std::to_string(count) + " " + std::string(dtypeName(dtype)) +
             " where another rank started " + std::to_string(t.count) + " " +
             std::string(dtypeName(t.dtype)));
      return groupFailed();
    }
    t.buffers[size_t(rank_)] = buffer;
    t.present[size_t(rank_)] = true;
    if (++t.arrived == s.size)
      s.cv.notify_all();
    s.unwaited[size_t(rank_)][buffer] = seq;
    return Status::okStatus();
  }

  Status wait(const void *buffer) override {
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      auto &mine = state_->unwaited[size_t(rank_)];
      auto it = mine.find(buffer);
      if (it == mine.end())
        return Status::okStatus();
      seq = it->second;
      mine.erase(it);
    }
    return finish(seq);
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
  /// Sums (or maxes) elements [begin, end) of every rank's `at(src)` into
  /// every rank's `out(dst)`, a block at a time through a local buffer, so a
  /// buffer that is both a source and a destination (in place) is read before
  /// it is written; only this rank touches that range.
  template <typename In, typename Out>
  static std::string reduceRange(LocalGroup::State &s, In &&at, Out &&out, size_t begin, size_t end,
                                 DType dtype, ReduceOp op, bool toEveryRank, int rank) {
    size_t elem = dtypeSize(dtype);
    constexpr size_t kChunkBytes = 16384;
    size_t block = std::max<size_t>(1, kChunkBytes / elem);
    std::vector<uint8_t> acc(std::min(end - begin, block) * elem);
    for (size_t lo = begin; lo < end; lo += block) {
      size_t n = std::min(block, end - lo);
      std::memcpy(acc.data(), at(0) + lo * elem, n * elem);
      for (int r = 1; r < s.size; ++r)
        if (!reduceTyped(acc.data(), at(r) + lo * elem, n, dtype, op))
          return "element type " + std::string(dtypeName(dtype)) + " is not supported";
      if (toEveryRank)
        for (int r = 0; r < s.size; ++r)
          std::memcpy(out(r) + lo * elem, acc.data(), n * elem);
      else
        std::memcpy(out(rank) + lo * elem, acc.data(), n * elem);
    }
    return "";
  }

  /// Each rank copies every rank's part into its own buffer.
  Status gatherNow(const void *send, void *recv, size_t count, DType dtype) {
    size_t bytes = count * dtypeSize(dtype);
    return collective("all_gather", send, recv, [&](State &s) -> std::string {
      for (int src = 0; src < s.size; ++src)
        std::memcpy(static_cast<uint8_t *>(s.recvs[size_t(rank_)]) + size_t(src) * bytes,
                    s.sends[size_t(src)], bytes);
      return "";
    });
  }

  /// Each rank reduces its own chunk of every rank's buffer.
  Status scatterNow(const void *send, void *recv, size_t count, DType dtype,
                    ReduceOp op) {
    size_t bytes = count * dtypeSize(dtype);
    return collective("reduce_scatter", send, recv, [&](State &s) -> std::string {
      auto chunk = [&](int src) {
        return static_cast<const uint8_t *>(s.sends[size_t(src)]) + size_t(rank_) * bytes;
      };
      auto out = [&](int) { return static_cast<uint8_t *>(s.recvs[size_t(rank_)]); };
      return reduceRange(s, chunk, out, 0, count, dtype, op, false, rank_);
    });
  }

  static constexpr size_t kBlockBytes = 65536;

  /// Finishes started all-reduce `seq`: waits for every rank's start, reduces
  /// blocks until none are left, waits until all are done (the buffers are
  /// written by every rank until then).
  Status finish(uint64_t seq) {
    State &s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    auto found = s.started.find(seq);
    if (found == s.started.end())
      return s.failed ? groupFailed() : Status::okStatus();
    State::Started &t = found->second;
    if (!waitFor(lock, "all_reduce", t.present, [&] { return t.arrived == s.size; }))
      return groupFailed();
    lock.unlock();
    size_t elem = dtypeSize(t.dtype), perBlock = kBlockBytes / elem;
    std::string error;
    auto at = [&](int r) { return static_cast<uint8_t *>(t.buffers[size_t(r)]); };
    for (size_t b; error.empty() && (b = t.nextBlock.fetch_add(1)) < t.blocks;) {
      size_t begin = b * perBlock, end = std::min(t.count, begin + perBlock);
      error = reduceRange(s, at, at, begin, end, t.dtype, t.op, true, rank_);
      t.blocksDone.fetch_add(1);
    }
    lock.lock();
    if (!error.empty())
      s.fail("all_reduce: " + error);
    if (t.blocksDone.load() == t.blocks)
      s.cv.notify_all();
    std::vector<bool> done(size_t(s.size), true);
    if (!waitFor(lock, "all_reduce", done, [&] { return t.blocksDone.load() == t.blocks; }))
      return groupFailed();
    if (++t.left == s.size)
      s.started.erase(found);
    return Status::okStatus();
  }

  /// Waits on the group's condition for `ready`; false when the group failed
  /// or the wait timed out (which fails the group, naming the ranks that are
  /// not `present`).
  template <typename Ready>
  bool waitFor(std::unique_lock<std::mutex> &lock, const std::string &op,
               const std::vector<bool> &present, Ready &&ready) {
    State &s = *state_;
    // Yield a while before sleeping: a rank that sleeps is woken onto the
    // waker's core (the scheduler's wake-up placement), so a group that
    // sleeps at every collective ends up stacked on one core while the
    // others idle. Yielding keeps it runnable where it is, and gives the
    // core to whoever else needs it.
    constexpr int kYields = 300;
    for (int i = 0; i < kYields && !(s.failed || ready()); ++i) {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    bool done = s.cv.wait_for(lock, s.timeout, [&] { return s.failed || ready(); });
    if (s.failed)
      return false;
    if (!done) {
      std::string missing;
      for (int r = 0; r < s.size; ++r)
        if (!present[size_t(r)])
          missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      s.fail(op + " timed out after " + std::to_string(s.timeout.count()) + " ms on rank " +
             std::to_string(rank_) + ": " +
             (missing.empty() ? std::string("a rank did not finish its part (stuck?)")
                              : "rank(s) " + missing + " never arrived (died?)"));
      return false;
    }
    return true;
  }

  /// Finishes every started all-reduce of this rank, in order (a blocking
  /// collective comes after them); the first failure.
  Status drain() {
    std::vector<uint64_t> seqs;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      auto &mine = state_->unwaited[size_t(rank_)];
      for (auto &[buffer, seq] : mine)
        seqs.push_back(seq);
      mine.clear();
    }
    std::sort(seqs.begin(), seqs.end());
    Status first = Status::okStatus();
    for (uint64_t seq : seqs)
      if (Status st = finish(seq); !st.ok() && first.ok())
        first = st;
    return first;
  }


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
        slot->nextStarted.assign(ranks.size(), 0);
        slot->unwaited.resize(ranks.size());
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

  /// Waits until every rank of the group has called it with the same `op`
  /// (posting its buffers when `send`/`recv` are given).
  Status barrier(const std::string &op, const void *send, void *recv, bool post) {
    State &s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (s.failed)
      return groupFailed();
    if (s.arrived > 0 && s.pendingOp != op) {
      s.fail("rank " + std::to_string(rank_) + " called " + op +
             " while the others are in " + s.pendingOp);
      return groupFailed();
    }
    s.pendingOp = op;
    if (post) {
      s.sends[size_t(rank_)] = send;
      s.recvs[size_t(rank_)] = recv;
    }
    s.present[size_t(rank_)] = true;
    uint64_t generation = s.generation;
    if (++s.arrived == s.size) {
      s.arrived = 0;
      std::fill(s.present.begin(), s.present.end(), false);
      ++s.generation;
      s.cv.notify_all();
      return Status::okStatus();
    }
    if (!waitFor(lock, op, s.present, [&] { return s.generation != generation; }))
      return groupFailed();
    return Status::okStatus();
  }

  /// A collective in three steps: every rank posts its buffers and waits for
  /// the others; each does its own part (`part`, reading any rank's posted
  /// buffers, writing only what no other rank's part touches); each waits
  /// until all parts are done, since its buffers are read and written by the
  /// others until then.
  template <typename Part>
  Status collective(const char *op, const void *send, void *recv, Part &&part) {
    if (Status st = barrier(op, send, recv, true); !st.ok())
      return st;
    std::string error = part(*state_);
    if (!error.empty()) {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->fail(std::string(op) + ": " + error);
      return groupFailed();
    }
    return barrier(std::string(op) + " (end)", nullptr, nullptr, false);
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
  state_->nextStarted.assign(size_t(size), 0);
  state_->unwaited.resize(size_t(size));
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
