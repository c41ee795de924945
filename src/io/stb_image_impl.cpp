// relscope/io/stb_image_impl.cpp — the one translation unit that compiles stb_image (used by io/image.cpp).
//
// Only the four formats we document (fewer decoders exposed to hostile files); no stdio because files are
// read through io/file.h with its size limit; USERMSG gives "Corrupt PNG" instead of "bad zlib
// header"-style codes in our error messages.
//
// Why a file of its own: under UBSan (build/asan, RELSCOPE_FUZZ / RELSCOPE_SANITIZE) this file alone is
// compiled with -fno-sanitize=shift,nonnull-attribute (CMakeLists.txt), for two undefined behaviours in
// stb found by tests/fuzz/fuzz_image that are harmless on every target we build for and not ours to patch
// in a system header: its JPEG bit reader shifts a 32-bit buffer by 32 on corrupt entropy data
// (stb_image.h:2065; the corrupt image decodes to other garbage or is refused), and a zero-length first
// PNG IDAT chunk makes it memcpy 0 bytes to a null buffer (stb_image.h:1663). Every other check — ASan,
// bounds, integer overflow — stays on for stb. The memory bug the fuzzer found in stb (JPEG Huffman
// tables of more than 256 codes overflow its arrays; a scan decoding with a table no DHT defined reads
// past one) is refused before stb runs (image.cpp).
//
// stb allocates its decoder state with malloc and reads fields a corrupt file never made it write (the
// second JPEG bug above; quantisation tables no DQT defined). calloc makes what it reads then zeros, the same
// on every machine, instead of the heap's leftovers: a zeroed Huffman table decodes as symbol 0 without
// consuming bits (an end of block), so even a file that slips past image.cpp's walk stays in bounds and
// decodes the same everywhere. That also keeps the fuzzer's findings reproducible across machines.
#include <cstdlib>
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
