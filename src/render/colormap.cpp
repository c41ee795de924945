// relscope/render/colormap.cpp — zennit's color-map language: lexer, parser, palette and CMAPS.
//
// Sections: lexer | parser | nodes -> palette (_make_palette) | evaluation (__call__, palette) | built-ins
//
// Each step mirrors the zennit function named in its section, so a difference can be traced line by line.
#include "render/colormap.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "core/error.h"

namespace relscope::render {

namespace {

// ---- lexer ------------------------------------------------------------------------------------
// zennit's regex, alternatives in its order: 6 hex digits (longcolor) | 3 hex (shortcolor) | 1-2 hex
// (index) | ':' | ',' | whitespace run | anything else up to the end of the line (error).
enum class Tok { LongColor, ShortColor, Index, AdSep, Sep, Whitespace, Error };

struct Token {
  Tok type;
  std::string value;
  size_t pos;
};

const char* tok_name(Tok t) {
  switch (t) {
    case Tok::LongColor: return "color";
    case Tok::ShortColor: return "color";
    case Tok::Index: return "index";
    case Tok::AdSep: return "separator";
    case Tok::Sep: return "separator";
    case Tok::Whitespace: return "whitespace";
    case Tok::Error: return "text";
  }
  return "?";
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<Token> lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t hex = 0;
    while (i + hex < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + hex]))) ++hex;
    Tok t;
    size_t n;
    if (hex >= 6) t = Tok::LongColor, n = 6;
    else if (hex >= 3) t = Tok::ShortColor, n = 3;
    else if (hex >= 1) t = Tok::Index, n = hex;
    else if (s[i] == ':') t = Tok::AdSep, n = 1;
    else if (s[i] == ',') t = Tok::Sep, n = 1;
    else if (is_ws(s[i])) {
      t = Tok::Whitespace, n = 0;
      while (i + n < s.size() && is_ws(s[i + n])) ++n;
    } else {
      t = Tok::Error, n = 0;   // '.+': up to (not including) a newline
      while (i + n < s.size() && s[i + n] != '\n') ++n;
    }
    out.push_back({t, s.substr(i, n), i});
    i += n;
  }
  return out;
}

// ---- parser -----------------------------------------------------------------------------------
struct Node {
  std::optional<int> index;
  std::array<int, 3> value;
};

int hex_value(const std::string& digits) { return static_cast<int>(std::stoul(digits, nullptr, 16)); }

[[noreturn]] void fail_source(const std::string& source, const std::string& why) {
  fail_input("colormap '" + source + "': " + why);
}

[[noreturn]] void unexpected(const std::string& source, const Token& t) {
  const bool separator = t.type == Tok::Sep || t.type == Tok::AdSep;
  fail_source(source, std::string("unexpected ") + (separator ? "" : std::string(tok_name(t.type)) + " ") + "'" + t.value +
                          "' at position " + std::to_string(t.pos));
}

// A double that is rounded where it is assigned, as every numpy operation is: the int() and uint8 truncations
// below can flip on the last bit, so products must not be fused with the following add into one FMA. g++
// contracts across statements in C++ (-ffp-contract=fast) and -march=native has FMA: volatile stops it.
// clang contracts only within one expression (-ffp-contract=on), so separate statements suffice there, and
// volatile is avoided: clang 14 with -msimd128 miscompiled these volatile doubles (lost the red channel).
#if defined(__GNUC__) && !defined(__clang__)
using rounded_double = volatile double;
#else
using rounded_double = double;
#endif

// prev * (1 - a) + next * a with both products rounded before the sum, as numpy computes it.
double lerp_numpy(double prev, double next, double alpha) {
  rounded_double a = prev * (1.0 - alpha);
  rounded_double b = next * alpha;
  return a + b;
}

bool is_color(Tok t) { return t == Tok::LongColor || t == Tok::ShortColor; }

// zennit ColorMap._parse: `log` holds the tokens of the color being read ([index, ':'] then the color).
std::vector<Node> parse(const std::string& source, const std::vector<Token>& tokens) {
  std::vector<Node> nodes;
  std::vector<const Token*> log;
  for (const Token& t : tokens) {
    if (t.type == Tok::Index && log.empty()) {
      log.push_back(&t);
    } else if (t.type == Tok::AdSep && log.size() == 1 && log.back()->type == Tok::Index) {
      log.push_back(&t);
    } else if (is_color(t.type)) {
      std::optional<int> index;
      if (log.size() == 2 && log[0]->type == Tok::Index) {
        const std::string& d = log[0]->value;
        index = hex_value(d.size() == 1 ? d + d : d);
      } else if (!log.empty()) {
        unexpected(source, t);
      }
      std::array<int, 3> rgb{};
      for (int c = 0; c < 3; ++c)
        rgb[c] = t.type == Tok::ShortColor ? hex_value(std::string(2, t.value[c])) : hex_value(t.value.substr(2 * c, 2));
      nodes.push_back({index, rgb});
      log.push_back(&t);
    } else if (t.type == Tok::Sep && !log.empty() && is_color(log.back()->type)) {
      log.clear();
    } else if (t.type != Tok::Whitespace) {
      unexpected(source, t);
    }
  }
  if (!log.empty() && !is_color(log.back()->type)) unexpected(source, *log.back());
  return nodes;
}

// ---- nodes -> palette (_make_palette) ---------------------------------------------------------
// The first node is pinned to 0 (and kept at its own index too if it has one > 0), an unindexed last node
// goes to 255, runs of unindexed nodes are spread by int(prev * (1 - a) + next * a) with a from
// np.linspace(0, 1, n + 2)[1:-1], and a copy of the last color closes the table at 256.
void make_palette(const std::string& source, std::vector<Node> nodes, std::vector<int>& indices,
                  std::vector<std::array<int, 3>>& colors) {
  if (nodes.size() < 2) fail_source(source, "a color map needs at least 2 colors");
  std::vector<std::pair<int, std::array<int, 3>>> result;
  std::vector<Node> log;
  const Node start = nodes.front();
  nodes.erase(nodes.begin());
  result.push_back({0, start.value});
  if (start.index && *start.index > 0) result.push_back({*start.index, start.value});
  for (size_t n = 0; n < nodes.size(); ++n) {
    Node node = nodes[n];
    if (!node.index) {
      if (n + 1 < nodes.size()) {
        log.push_back(node);
        continue;
      }
      node.index = 255;
    } else if (*node.index < result.back().first) {
      fail_source(source, "indices must be in ascending order (" + std::to_string(*node.index) + " after " +
                              std::to_string(result.back().first) + ")");
    }
    if (!log.empty()) {
      const double prev = result.back().first, next = *node.index;
      const size_t num = log.size() + 2;
      const double step = 1.0 / static_cast<double>(num - 1);   // np.linspace: k * step + 0
      for (size_t k = 0; k < log.size(); ++k) {
        const double alpha = static_cast<double>(k + 1) * step;
        result.push_back({static_cast<int>(lerp_numpy(prev, next, alpha)), log[k].value});
      }
      log.clear();
    }
    result.push_back({*node.index, node.value});
  }
  result.push_back({256, result.back().second});
  for (const auto& [i, c] : result) {
    indices.push_back(i);
    colors.push_back(c);
  }
}

}  // namespace

ColorMap::ColorMap(std::string source) : source_(std::move(source)) {
  make_palette(source_, parse(source_, lex(source_)), indices_, colors_);
}

// ---- evaluation (__call__, palette) -----------------------------------------------------------

std::array<double, 3> ColorMap::operator()(double x) const {
  const double v = std::clamp(x * 255.0, 0.0, 255.0);
  // np.searchsorted(indices[:-1], v, side='right'): the first position whose index is > v.
  const auto first = indices_.begin(), last = indices_.end() - 1;
  const size_t k = static_cast<size_t>(std::upper_bound(first, last, v, [](double a, int b) { return a < b; }) - first);
  const double alpha = (v - indices_[k - 1]) / static_cast<double>(indices_[k] - indices_[k - 1]);
  std::array<double, 3> rgb{};
  for (int c = 0; c < 3; ++c) rgb[c] = lerp_numpy(colors_[k - 1][c], colors_[k][c], alpha) / 255.0;
  return rgb;
}

Palette ColorMap::palette(double level) const {
  Palette p{};
  const double step = 2.0 / 255.0;   // np.linspace(-1, 1, 256): k * step + (-1), the last one exactly 1
  for (int k = 0; k < 256; ++k) {
    rounded_double scaled = static_cast<double>(k) * step;   // rounded before the add, as numpy
    const double lin = k == 255 ? 1.0 : scaled + -1.0;
    rounded_double leveled = lin * level;
    const double x = std::clamp((leveled + 1.0) / 2.0, 0.0, 1.0);
    const auto rgb = (*this)(x);
    for (int c = 0; c < 3; ++c) {
      // (x * 255.).round(12).clip(0., 255.).astype(np.uint8): round to 12 decimals, then truncate.
      const double v = std::clamp(std::nearbyint(rgb[c] * 255.0 * 1e12) / 1e12, 0.0, 255.0);
      p[static_cast<size_t>(k)][static_cast<size_t>(c)] = static_cast<uint8_t>(v);
    }
  }
  return p;
}

// ---- built-ins --------------------------------------------------------------------------------

const std::vector<std::pair<std::string, std::string>>& builtin_colormaps() {
  static const std::vector<std::pair<std::string, std::string>> maps = {
      {"gray", "000,fff"},                        // black to white
      {"wred", "fff,f00"},                        // white to red
      {"wblue", "fff,00f"},                       // white to blue
      {"hot", "000,f00,ff0,fff"},                 // black to red to yellow to white
      {"cold", "000,00f,0ff"},                    // black to blue to cyan
      {"coldnhot", "0ff,00f,80:000,f00,ff0,fff"}, // cold (reversed) and hot, centred on black
      {"bwr", "00f,80:fff,f00"},                  // wblue (reversed) and wred, centred on white
      {"france", "0055a4,80:fff,ef4135"},         // blue, white, red of the French flag
      {"seismic", "0000d0,80:d0d0d0,d00000"},     // blue to white to red, brightness 0xd0
      {"coolio", "00d0d0,80:d0d0d0,d000d0"},      // cyan to white to magenta, brightness 0xd0
      {"coleus", "00d000,80:d0d0d0,d000d0"},      // green to white to magenta, brightness 0xd0
  };
  return maps;
}

std::string builtin_colormap_names() {
  std::string s;
  for (const auto& [name, src] : builtin_colormaps()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

ColorMap get_colormap(const std::string& name_or_source) {
  for (const auto& [name, src] : builtin_colormaps())
    if (name == name_or_source) return ColorMap(src);
  const bool source_like = !name_or_source.empty() && std::all_of(name_or_source.begin(), name_or_source.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ',' || c == ':' || is_ws(c);
  });
  if (!source_like)
    fail(ErrorKind::Unsupported, "colormap '" + name_or_source + "' is not a built-in color map (" + builtin_colormap_names() +
                                     ") nor a color-map source like '00f,80:fff,f00'");
  return ColorMap(name_or_source);
}

}  // namespace relscope::render
