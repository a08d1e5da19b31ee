#include "vouch/tpm/event_log_builder.h"

#include <string_view>
#include <utility>

#include "vouch/base/status.h"

namespace vouch::tpm {
namespace {

void PutU16Le(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

void PutU32Le(Bytes& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

void PutBytes(Bytes& out, ByteSpan data) { out.insert(out.end(), data.begin(), data.end()); }

}  // namespace

EventLogBuilder::EventLogBuilder(std::vector<crypto::HashAlg> algs) : algs_(std::move(algs)) {
  VOUCH_CHECK(!algs_.empty());
}

EventLogBuilder& EventLogBuilder::SpecIdRegister(uint32_t index) {
  spec_id_register_ = index;
  return *this;
}

EventLogBuilder& EventLogBuilder::StartupLocality(uint8_t locality) {
  Bytes data = ToBytes(std::string_view("StartupLocality\0", 16));
  data.push_back(locality);
  std::vector<Bytes> zeros;
  for (crypto::HashAlg alg : algs_) {
    zeros.emplace_back(crypto::HashSize(alg), 0);
  }
  return AddRaw(0, kEvNoAction, std::move(zeros), data);
}

EventLogBuilder& EventLogBuilder::Measure(uint32_t register_index, uint32_t event_type,
                                          ByteSpan data) {
  std::vector<Bytes> digests;
  for (crypto::HashAlg alg : algs_) {
    digests.push_back(crypto::Hash(alg, data));
  }
  return AddRaw(register_index, event_type, std::move(digests), data);
}

EventLogBuilder& EventLogBuilder::AddRaw(uint32_t register_index, uint32_t event_type,
                                         std::vector<Bytes> digests, ByteSpan data) {
  VOUCH_CHECK(digests.size() == algs_.size());
  EventLogEntry entry;
  entry.register_index = register_index;
  entry.event_type = event_type;
  for (size_t i = 0; i < algs_.size(); ++i) {
    entry.digests.emplace_back(algs_[i], std::move(digests[i]));
  }
  entry.event_data.assign(data.begin(), data.end());
  entries_.push_back(std::move(entry));
  return *this;
}

Bytes EventLogBuilder::Build() const {
  // Spec ID event data (PFP 1.05, section 10.4.5.1): platform class 0 (client),
  // spec version 2.0 errata 0, UINTN of 8 bytes, no vendor information.
  Bytes spec = ToBytes(std::string_view("Spec ID Event03\0", 16));
  PutU32Le(spec, 0);
  spec.insert(spec.end(), {0, 2, 0, 2});
  PutU32Le(spec, static_cast<uint32_t>(algs_.size()));
  for (crypto::HashAlg alg : algs_) {
    PutU16Le(spec, HashToTpmAlg(alg));
    PutU16Le(spec, static_cast<uint16_t>(crypto::HashSize(alg)));
  }
  spec.push_back(0);

  Bytes out;
  PutU32Le(out, spec_id_register_);
  PutU32Le(out, kEvNoAction);
  out.insert(out.end(), 20, 0);
  PutU32Le(out, static_cast<uint32_t>(spec.size()));
  PutBytes(out, spec);

  for (const EventLogEntry& entry : entries_) {
    PutU32Le(out, entry.register_index);
    PutU32Le(out, entry.event_type);
    PutU32Le(out, static_cast<uint32_t>(entry.digests.size()));
    for (const auto& [alg, digest] : entry.digests) {
      PutU16Le(out, HashToTpmAlg(alg));
      PutBytes(out, digest);
    }
    PutU32Le(out, static_cast<uint32_t>(entry.event_data.size()));
    PutBytes(out, entry.event_data);
  }
  return out;
}

}  // namespace vouch::tpm
