// relscope/app/core/json.h — the little JSON the app reads (preprocess.json) and writes (export records,
// the page-state snapshot for tests).
//
// Sections: Json (value) | parse_json() | JsonWriter
//
// Why not a library: the app needs a few dozen lines of JSON, and the project takes nothing from outside
// Debian's packages; a small strict reader with clear errors is enough. Numbers are doubles.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace relscope::app {

// ---- Json (value) ------------------------------------------------------------------------------------
struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> items;                 // Array
  std::map<std::string, Json> fields;      // Object

  bool is_object() const { return type == Type::Object; }
  bool is_array() const { return type == Type::Array; }
  bool is_number() const { return type == Type::Number; }
  bool is_string() const { return type == Type::String; }
  // Object member or nullptr.
  const Json* get(const std::string& key) const;
};

// ---- parse_json() ------------------------------------------------------------------------------------
// Strict RFC 8259 (no comments, no trailing commas); nesting depth <= 64. Throws relscope::Error
// (BadInput) "<label>: invalid JSON at line L, column C: <what>".
Json parse_json(const std::string& text, const std::string& label);

// ---- JsonWriter --------------------------------------------------------------------------------------
// Appends compact JSON to a string; the caller keeps keys/values paired. Non-finite numbers become null
// (JSON has no NaN), so a broken model output can never produce an unreadable record.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& k);
  JsonWriter& value(const std::string& s);
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& value(double v);
  JsonWriter& value(int v) { return value(static_cast<double>(v)); }
  JsonWriter& value(long long v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  JsonWriter& raw(const std::string& json);   // an already serialised value
  const std::string& str() const { return out_; }

 private:
  void comma();
  std::string out_;
  std::vector<bool> first_;   // per open container: no element written yet
  bool after_key_ = false;
};

std::string json_escape(const std::string& s);

}  // namespace relscope::app
