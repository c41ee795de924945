// relscope/io/stb_image_impl.cpp — the one translation unit that compiles stb_image (used by io/image.cpp).
//
// Only the four formats we document (fewer decoders exposed to hostile files); no stdio because files are
// read through io/file.h with its size limit; USERMSG gives "Corrupt PNG" instead of "bad zlib
// header"-style codes in our error messages.
//
// Why a file of its own: under UBSan (build/asan, RELSCOPE_FUZZ / RELSCOPE_SANITIZE) this file alone is
// compiled with -fno-sanitize=shift (CMakeLists.txt). stb's JPEG bit reader shifts a 32-bit buffer by 32
// on corrupt entropy data (stb_image.h:2065, found by tests/fuzz/fuzz_image): undefined in C, harmless on
// every target we build for (the corrupt image decodes to other garbage or is refused), and not ours to
// patch in a system header. Every other check — ASan, bounds, overflow — stays on for stb. The memory
// bug the fuzzer found in stb (Huffman tables past 256 codes) is refused before stb runs (image.cpp).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
