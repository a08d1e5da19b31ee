#include "vouch/store/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "vouch/testing/status_matchers.h"

namespace vouch::store {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

std::vector<AuditEvent> MakeChain(int count) {
  std::vector<AuditEvent> events;
  Bytes prev(kAuditHashBytes, 0);
  for (int i = 0; i < count; ++i) {
    AuditEvent event;
    event.time = absl::FromUnixSeconds(1'780'000'000 + i);
    event.actor = "admin";
    event.operation = "key.create";
    event.target = "keys/k";
    event.outcome = "ok";
    event.sequence = i + 1;
    event.prev_hash = prev;
    event.hash = ChainAuditHash(prev, event);
    prev = event.hash;
    events.push_back(event);
  }
  return events;
}

TEST(CanonicalAuditEventTest, FieldBoundariesAreUnambiguous) {
  AuditEvent a;
  a.time = absl::UnixEpoch();
  a.actor = "ab";
  a.operation = "c";
  AuditEvent b = a;
  b.actor = "a";
  b.operation = "bc";
  EXPECT_NE(CanonicalAuditEvent(a), CanonicalAuditEvent(b));
}

TEST(CanonicalAuditEventTest, EncodesSequenceTimeAndLengths) {
  AuditEvent event;
  event.sequence = 1;
  event.time = absl::FromUnixMicros(2);
  event.actor = "x";
  const Bytes want = {0, 0, 0, 0, 0,   0, 0, 1,  // sequence
                      0, 0, 0, 0, 0,   0, 0, 2,  // time in microseconds
                      0, 0, 0, 1, 'x',           // actor
                      0, 0, 0, 0,                // operation
                      0, 0, 0, 0,                // target
                      0, 0, 0, 0,                // outcome
                      0, 0, 0, 0};               // detail
  EXPECT_EQ(CanonicalAuditEvent(event), want);
}

TEST(VerifyAuditChainTest, AcceptsIntactChainAndWindows) {
  const std::vector<AuditEvent> events = MakeChain(5);
  EXPECT_OK(VerifyAuditChain(events));
  EXPECT_OK(VerifyAuditChain(std::span(events).subspan(2)));
  EXPECT_OK(VerifyAuditChain(std::span<const AuditEvent>()));
}

TEST(VerifyAuditChainTest, RejectsEveryEditedField) {
  const std::vector<AuditEvent> good = MakeChain(3);
  const std::vector<void (*)(AuditEvent&)> edits = {
      [](AuditEvent& e) { e.time += absl::Microseconds(1); },
      [](AuditEvent& e) { e.actor += "x"; },
      [](AuditEvent& e) { e.operation = "key.delete"; },
      [](AuditEvent& e) { e.target.clear(); },
      [](AuditEvent& e) { e.outcome = "denied"; },
      [](AuditEvent& e) { e.detail = "edited"; },
      [](AuditEvent& e) { e.hash[0] ^= 1; },
      [](AuditEvent& e) { e.prev_hash[31] ^= 1; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    std::vector<AuditEvent> events = good;
    edits[i](events[1]);
    EXPECT_THAT(VerifyAuditChain(events), StatusIs(absl::StatusCode::kDataLoss)) << "edit " << i;
  }
}

TEST(VerifyAuditChainTest, RejectsGapAndForgedStart) {
  std::vector<AuditEvent> gap = MakeChain(4);
  gap.erase(gap.begin() + 1);
  EXPECT_THAT(VerifyAuditChain(gap),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 3 follows record 1")));

  // A log that claims to start at 1 must chain from the zero hash.
  std::vector<AuditEvent> forged = MakeChain(2);
  forged[0].prev_hash[0] = 1;
  forged[0].hash = ChainAuditHash(forged[0].prev_hash, forged[0]);
  forged[1].prev_hash = forged[0].hash;
  forged[1].hash = ChainAuditHash(forged[1].prev_hash, forged[1]);
  EXPECT_THAT(VerifyAuditChain(forged),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 1")));
}

}  // namespace
}  // namespace vouch::store
