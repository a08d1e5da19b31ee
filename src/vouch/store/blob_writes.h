// Helpers shared by the Store implementations of WriteBlobs.
#ifndef VOUCH_STORE_BLOB_WRITES_H_
#define VOUCH_STORE_BLOB_WRITES_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "vouch/store/store.h"

namespace vouch::store::internal {

// ValidateBlobWrites checks every name and value size of a WriteBlobs call
// and that it changes something: InvalidArgument otherwise.
absl::Status ValidateBlobWrites(const std::vector<BlobPrecondition>& preconditions,
                                const std::vector<BlobWrite>& writes);

// CheckBlobPrecondition compares the blob's value read inside the
// transaction with the precondition: Aborted when they differ.
absl::Status CheckBlobPrecondition(const BlobPrecondition& precondition,
                                   const std::optional<Bytes>& current);

}  // namespace vouch::store::internal

#endif  // VOUCH_STORE_BLOB_WRITES_H_
