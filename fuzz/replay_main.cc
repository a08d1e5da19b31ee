// Replays a fuzz target's corpus as an ordinary test: every regular file in
// the folders named on the command line (recursively) goes through
// LLVMFuzzerTestOneInput once. A crash or sanitizer report fails the test.
// Folders that do not exist are reported and skipped, since a seed folder
// from the vectors may be absent outside CI.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Inputs larger than this are cut, as libFuzzer's -max_len would.
constexpr size_t kMaxInput = 1 << 20;

bool ReplayFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > kMaxInput) {
    data.resize(kMaxInput);
  }
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path dir(argv[i]);
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
      std::printf("replay: %s is not there; skipped\n", dir.c_str());
      continue;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
      if (entry.is_regular_file()) {
        ok = ReplayFile(entry.path()) && ok;
        ++replayed;
      }
    }
    if (error) {
      std::fprintf(stderr, "replay: cannot list %s: %s\n", dir.c_str(), error.message().c_str());
      ok = false;
    }
  }
  std::printf("replay: %zu inputs replayed\n", replayed);
  return ok ? 0 : 1;
}
