// Swtpm: a software TPM 2.0 (the Debian package swtpm) started for a test, on
// free loopback ports with its state in a fresh temporary folder.
#ifndef VOUCH_TPM_SWTPM_H_
#define VOUCH_TPM_SWTPM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vouch::tpm {

class Swtpm {
 public:
  // Start runs `swtpm socket --tpm2` bound to 127.0.0.1 on a free port P
  // (commands) and P+1 (control), with flags not-need-init,startup-clear,
  // and waits up to `timeout` until it accepts connections. When swtpm is
  // not installed it fails with kFailedPrecondition naming the package.
  static absl::StatusOr<std::unique_ptr<Swtpm>> Start(absl::Duration timeout = absl::Seconds(10));

  // The destructor stops the process (SIGTERM, then SIGKILL after a second)
  // and removes the state folder.
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  uint16_t port() const { return port_; }
  // Tcti returns the TCTI configuration for tpm2-tss: "swtpm:host=127.0.0.1,port=P".
  std::string Tcti() const;

 private:
  Swtpm(pid_t pid, uint16_t port, std::string dir) : pid_(pid), port_(port), dir_(std::move(dir)) {}

  pid_t pid_;
  uint16_t port_;
  std::string dir_;
};

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_SWTPM_H_
