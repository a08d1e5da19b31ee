#include "vouch/snp/simulated_copy.h"

#include <filesystem>
#include <system_error>

#include "vouch/base/status.h"
#include "vouch/snp/simulated.h"

namespace vouch::snp {

absl::Status CopySimulatedSnp(const std::string& cache, const std::string& dir) {
  VOUCH_RETURN_IF_ERROR(SimulatedSnp::LoadOrCreate(cache).status());
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Internalf("simulated SEV-SNP: cannot create {}: {}", dir, error.message());
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, error);
  if (error) {
    return Internalf("simulated SEV-SNP: cannot set the mode of {}: {}", dir, error.message());
  }
  for (const char* name : {kSimulatedArkFile, kSimulatedAskFile, kSimulatedVcekFile,
                           kSimulatedArkKeyFile, kSimulatedAskKeyFile, kSimulatedVcekKeyFile}) {
    std::filesystem::copy_file(cache + "/" + name, dir + "/" + name,
                               std::filesystem::copy_options::overwrite_existing, error);
    if (error) {
      return Internalf("simulated SEV-SNP: cannot copy {} from {} to {}: {}", name, cache, dir,
                       error.message());
    }
  }
  return absl::OkStatus();
}

}  // namespace vouch::snp
