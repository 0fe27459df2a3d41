//===- RolesTest.cpp - the package's program roles and tensor names -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Roles.h"

#include <gtest/gtest.h>

using namespace tessera::roles;

TEST(Roles, SegmentRoleRoundTrips) {
  for (auto kind : {SegmentRole::Kind::Once, SegmentRole::Kind::Forward,
                    SegmentRole::Kind::Backward}) {
    SegmentRole role{3, kind, 12};
    std::optional<SegmentRole> back = SegmentRole::parse(role.str());
    ASSERT_TRUE(back.has_value()) << role.str();
    EXPECT_EQ(back->phase, 3);
    EXPECT_EQ(back->level, 12);
    EXPECT_EQ(back->kind, kind);
  }
  EXPECT_EQ(SegmentRole({1, SegmentRole::Kind::Backward, 0}).str(), "train:1:backward:0");
  // Levels are any non-negative int (the training stage cut numbers some
  // levels 1 << 20 and up).
  ASSERT_TRUE(SegmentRole::parse("train:2:once:1048576").has_value());
  EXPECT_EQ(SegmentRole::parse("train:2:once:1048576")->level, 1048576);
}

TEST(Roles, SegmentRoleRejectsOtherText) {
  for (const char *text : {"", "train:", "train:1:forward", "train:1:sideways:0",
                           "train:-1:forward:0", "train:1:forward:0x", "train:a:once:0",
                           "prefill:8", "train:99999999999999999999:once:0", "train:0:once:4294967296"})
    EXPECT_FALSE(SegmentRole::parse(text).has_value()) << text;
  EXPECT_TRUE(isSegment("train:0:once:0"));
  EXPECT_FALSE(isSegment("prefill:8"));
}

TEST(Roles, PrefillRole) {
  EXPECT_EQ(PrefillRole{16}.str(), "prefill:16");
  ASSERT_TRUE(PrefillRole::parse("prefill:16").has_value());
  EXPECT_EQ(PrefillRole::parse("prefill:16")->length, 16);
  for (const char *text : {"prefill:", "prefill:-3", "prefill:8 ", "prefill: 8", "train:0:once:0"})
    EXPECT_FALSE(PrefillRole::parse(text).has_value()) << text;
}

TEST(Roles, TensorNames) {
  EXPECT_EQ(updateName("adamw.m:w"), "update:adamw.m:w");
  EXPECT_TRUE(isUpdate("update:w"));
  EXPECT_FALSE(isUpdate("w"));
  EXPECT_EQ(valueName(7), "x:7");
  EXPECT_TRUE(isValue("x:7"));
  EXPECT_FALSE(isValue("xx"));
  EXPECT_EQ(accumulatorName(2), "pipe.acc:2");
  EXPECT_TRUE(isAccumulator("pipe.acc:2"));
  EXPECT_FALSE(isAccumulator("update:pipe.acc:2"));
}
