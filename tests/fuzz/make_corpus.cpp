// Writes the seed corpus of attnkit_fuzz_c_api into the folder given as argv[1]:
//   c++ -std=c++17 tests/fuzz/make_corpus.cpp -o /tmp/make_corpus && /tmp/make_corpus tests/fuzz/corpus
// The fuzz target decodes integers from the end of its input and raw bytes from the
// front (FuzzedDataProvider), and every decoding choice 0 is the valid default, so:
// the empty input is a valid dense call, zero-filled inputs stay valid, and seeded
// random inputs of a few sizes reach masks, varlen, gates and mutated views at once.
// A first byte of 0xEE selects the null-pointer paths and 0xED a merge_states call
// (fuzz_merge.cpp, decoded the same way: merge_zeros_64 is a valid batched merge of two
// parts); the attention seeds avoid both.
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

bool write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = write_file(dir + "/empty", {});
  ok = ok && write_file(dir + "/null_pointers", {0xEE});
  ok = ok && write_file(dir + "/zeros_64", std::vector<uint8_t>(64, 0));
  std::mt19937 gen(/*seed=*/20240611);
  for (size_t size : {16u, 48u, 96u, 160u, 256u, 512u, 1024u, 2048u}) {
    std::vector<uint8_t> bytes(size);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(gen());
    if (bytes[0] == 0xEE || bytes[0] == 0xED) bytes[0] = 0;
    ok = ok && write_file(dir + "/random_" + std::to_string(size), bytes);
  }
  std::vector<uint8_t> merge_zeros(64, 0);
  merge_zeros[0] = 0xED;
  ok = ok && write_file(dir + "/merge_zeros_64", merge_zeros);
  for (size_t size : {48u, 256u, 1024u}) {
    std::vector<uint8_t> bytes(size);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(gen());
    bytes[0] = 0xED;
    ok = ok && write_file(dir + "/merge_random_" + std::to_string(size), bytes);
  }
  if (!ok) {
    std::fprintf(stderr, "make_corpus: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
