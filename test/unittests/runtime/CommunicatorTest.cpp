//===- CommunicatorTest.cpp - the local (threads) communicator ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Communicator.h"

#include <gtest/gtest.h>

#include <thread>

using namespace tessera::rt;
using namespace std::chrono_literals;

namespace {

/// Runs `body(rank, comm)` on `size` threads and returns their statuses.
template <typename Body>
std::vector<Status> onRanks(LocalGroup &group, Body body, int ranks = -1) {
  int n = ranks < 0 ? group.size() : ranks;
  std::vector<Status> statuses;
  statuses.resize(size_t(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] { statuses[size_t(r)] = body(r, group.communicator(r)); });
  for (std::thread &t : threads)
    t.join();
  return statuses;
}

TEST(LocalGroup, CollectivesComputeTheRightValues) {
  LocalGroup group(4, 5000ms);
  auto statuses = onRanks(group, [](int r, Communicator &c) -> Status {
    for (int iteration = 0; iteration < 50; ++iteration) {
      std::vector<float> x = {float(r), float(r * 10 + iteration)};
      if (Status s = c.allReduce(x.data(), 2, DType::F32, ReduceOp::Sum); !s.ok())
        return s;
      if (x[0] != 6.0f || x[1] != float(60 + 4 * iteration))
        return Status(StatusCode::Internal, "all_reduce value");
      std::vector<int64_t> mine = {r, -r}, all(8);
      if (Status s = c.allGather(mine.data(), all.data(), 2, DType::I64); !s.ok())
        return s;
      for (int k = 0; k < 4; ++k)
        if (all[size_t(2 * k)] != k || all[size_t(2 * k + 1)] != -k)
          return Status(StatusCode::Internal, "all_gather value");
      std::vector<float> chunks(4 * 3);
      for (size_t i = 0; i < chunks.size(); ++i)
        chunks[i] = float(i) + float(r);
      std::vector<float> mineOut(3);
      if (Status s = c.reduceScatter(chunks.data(), mineOut.data(), 3, DType::F32,
                                     ReduceOp::Max);
          !s.ok())
        return s;
      for (int i = 0; i < 3; ++i)
        if (mineOut[size_t(i)] != float(3 * r + i) + 3.0f)
          return Status(StatusCode::Internal, "reduce_scatter value");
    }
    return Status::okStatus();
  });
  for (const Status &s : statuses)
    EXPECT_TRUE(s.ok()) << s.message();
}

TEST(LocalGroup, SendRecvAroundARing) {
  LocalGroup group(3, 5000ms);
  auto statuses = onRanks(group, [](int r, Communicator &c) -> Status {
    int next = (r + 1) % 3, prev = (r + 2) % 3;
    double out = r * 1.5, in = -1;
    if (Status s = c.send(&out, sizeof(out), next, 7); !s.ok())
      return s;
    if (Status s = c.recv(&in, sizeof(in), prev, 7); !s.ok())
      return s;
    return in == prev * 1.5 ? Status::okStatus()
                            : Status(StatusCode::Internal, "wrong message");
  });
  for (const Status &s : statuses)
    EXPECT_TRUE(s.ok()) << s.message();
}

TEST(LocalGroup, AMissingRankFailsEveryoneWithinTheTimeout) {
  LocalGroup group(4, 300ms);
  auto start = std::chrono::steady_clock::now();
  // Rank 3 never calls: it died.
  auto statuses = onRanks(group, [](int, Communicator &c) -> Status {
    float x = 1;
    return c.allReduce(&x, 1, DType::F32, ReduceOp::Sum);
  }, 3);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 3s);
  for (const Status &s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("all_reduce timed out after 300 ms"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("rank(s) 3 never arrived"), std::string::npos)
        << s.message();
  }
  // Later calls fail at once.
  float x = 1;
  EXPECT_FALSE(group.communicator(0).allReduce(&x, 1, DType::F32, ReduceOp::Sum).ok());
}

TEST(LocalGroup, AbortWakesTheOthers) {
  LocalGroup group(3, 60000ms);
  auto start = std::chrono::steady_clock::now();
  auto statuses = onRanks(group, [&](int r, Communicator &c) -> Status {
    if (r == 1) {
      std::this_thread::sleep_for(50ms);
      group.abort(1, "kernel failed");
      return Status(StatusCode::Internal, "aborted");
    }
    float x = 1;
    return c.allReduce(&x, 1, DType::F32, ReduceOp::Sum);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "no 60 s hang";
  EXPECT_NE(statuses[0].message().find("rank 1 aborted: kernel failed"), std::string::npos)
      << statuses[0].message();
  EXPECT_NE(statuses[2].message().find("rank 1 aborted"), std::string::npos);
}

TEST(LocalGroup, RecvFromASilentRankTimesOut) {
  LocalGroup group(2, 200ms);
  double x;
  Status s = group.communicator(0).recv(&x, sizeof(x), 1, 0);
  EXPECT_NE(s.message().find("recv on rank 0 from rank 1 (tag 0) timed out after 200 ms"),
            std::string::npos)
      << s.message();
}

} // namespace

namespace {

TEST(LocalGroup, StartedAllReducesCompleteInOrderAndBeforeBlockingOnes) {
  // Each rank starts three all-reduces, runs a blocking one (which comes
  // after them), then waits for the started ones in another order.
  LocalGroup group(3, 5000ms);
  auto statuses = onRanks(group, [](int r, Communicator &c) -> Status {
    for (int iteration = 0; iteration < 20; ++iteration) {
      std::vector<float> a = {float(r)}, b = {float(r * 2)},
                         m = {float(r * 10 + iteration)};
      std::vector<float> now = {1.0f};
      if (Status s = c.allReduceStart(a.data(), 1, DType::F32, ReduceOp::Sum);
          !s.ok())
        return s;
      if (Status s = c.allReduceStart(b.data(), 1, DType::F32, ReduceOp::Sum);
          !s.ok())
        return s;
      if (Status s = c.allReduceStart(m.data(), 1, DType::F32, ReduceOp::Max);
          !s.ok())
        return s;
      if (Status s = c.allReduce(now.data(), 1, DType::F32, ReduceOp::Sum);
          !s.ok())
        return s;
      for (const void *buffer : {static_cast<const void *>(m.data()),
                                 static_cast<const void *>(a.data()),
                                 static_cast<const void *>(b.data())})
        if (Status s = c.wait(buffer); !s.ok())
          return s;
      if (a[0] != 3.0f || b[0] != 6.0f || m[0] != float(20 + iteration) ||
          now[0] != 3.0f)
        return Status(StatusCode::Internal, "started all_reduce value");
    }
    return c.wait(nullptr); // nothing started: returns at once
  });
  for (const Status &s : statuses)
    EXPECT_TRUE(s.ok()) << s.message();
}

TEST(LocalGroup, AStartedAllReduceReportsTheGroupsFailureAtItsWait) {
  // Rank 1 never takes part: rank 0's started all-reduce fails (timeout)
  // and says so when waited for, not when started.
  LocalGroup group(2, 200ms);
  auto statuses = onRanks(
      group,
      [](int r, Communicator &c) -> Status {
        std::vector<float> x = {1.0f};
        if (Status s = c.allReduceStart(x.data(), 1, DType::F32, ReduceOp::Sum);
            !s.ok())
          return Status(StatusCode::Internal,
                        "failed at start: " + s.message());
        return c.wait(x.data());
      },
      1);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_FALSE(statuses[0].ok());
  EXPECT_NE(statuses[0].message().find("timed out"), std::string::npos)
      << statuses[0].message();
  EXPECT_EQ(statuses[0].message().find("failed at start"), std::string::npos);
}

} // namespace

namespace {

TEST(LocalGroup, LargeAllReducesAreSharedOutInPlaceAndExact) {
  // Sizes around the blocks the ranks share out (uneven tails included),
  // blocking and started, sum and max, float and integer.
  LocalGroup group(3, 5000ms);
  const std::vector<size_t> counts = {1, 17, 4097, 16384 + 5, 70001};
  auto statuses = onRanks(group, [&](int r, Communicator &c) -> Status {
    for (size_t count : counts) {
      std::vector<float> a(count), b(count);
      std::vector<int64_t> m(count);
      for (size_t i = 0; i < count; ++i) {
        a[i] = float(i % 97) + float(r);
        b[i] = float(r + 1) * 0.5f;
        m[i] = int64_t((i * 7 + size_t(r) * 13) % 31);
      }
      if (Status s = c.allReduceStart(a.data(), count, DType::F32, ReduceOp::Sum); !s.ok())
        return s;
      if (Status s = c.allReduceStart(m.data(), count, DType::I64, ReduceOp::Max); !s.ok())
        return s;
      if (Status s = c.allReduce(b.data(), count, DType::F32, ReduceOp::Sum); !s.ok())
        return s;
      if (Status s = c.wait(m.data()); !s.ok())
        return s;
      for (size_t i = 0; i < count; ++i) {
        if (a[i] != 3.0f * float(i % 97) + 3.0f)
          return Status(StatusCode::Internal, "sum at " + std::to_string(i) + " of " +
                                                  std::to_string(count));
        if (b[i] != 3.0f)
          return Status(StatusCode::Internal, "blocking sum at " + std::to_string(i));
        int64_t best = 0;
        for (size_t q = 0; q < 3; ++q)
          best = std::max<int64_t>(best, int64_t((i * 7 + q * 13) % 31));
        if (m[i] != best)
          return Status(StatusCode::Internal, "max at " + std::to_string(i));
      }
    }
    return Status::okStatus();
  });
  for (const Status &s : statuses)
    EXPECT_TRUE(s.ok()) << s.message();
}

} // namespace

namespace {

TEST(LocalGroup, StartsThroughSeveralCommunicatorsOfOneGroupAreOneSequence) {
  // A rank holds one communicator of a group per program (the passes of a
  // pipelined step); its starts through any of them are one sequence.
  LocalGroup world(3, 5000ms);
  auto statuses = onRanks(world, [](int r, Communicator &c) -> Status {
    if (r == 2)
      return Status::okStatus(); // not in the group
    std::shared_ptr<Communicator> first, second;
    if (Status s = c.subgroup({0, 1}, first); !s.ok())
      return s;
    if (Status s = c.subgroup({0, 1}, second); !s.ok())
      return s;
    for (int iteration = 0; iteration < 10; ++iteration) {
      std::vector<float> x(5, float(r + 1)), y(70000, float(r + 2));
      if (Status s = first->allReduceStart(x.data(), x.size(), DType::F32, ReduceOp::Sum); !s.ok())
        return s;
      if (Status s = second->allReduceStart(y.data(), y.size(), DType::F32, ReduceOp::Sum); !s.ok())
        return s;
      if (Status s = first->wait(x.data()); !s.ok())
        return s;
      if (Status s = second->wait(y.data()); !s.ok())
        return s;
      if (x[4] != 3.0f || y[69999] != 5.0f)
        return Status(StatusCode::Internal, "wrong sums");
    }
    return Status::okStatus();
  });
  for (const Status &s : statuses)
    EXPECT_TRUE(s.ok()) << s.message();
}

} // namespace
