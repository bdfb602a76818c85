// JsonWriter writes what nlohmann's dump() writes for the same ordered document.
#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tg::util {
namespace {

using Ordered = nlohmann::ordered_json;

// A document with empty and nested containers, numbers, an escaped string and a member given
// as JSON text (`raw`, alone and in an array), written front to back.
std::string write_sample(int indent, const std::string& raw) {
  JsonWriter out(indent);
  out.begin_object();
  out.key("empty object").begin_object().end_object();
  out.key("empty array").begin_array().end_array();
  out.key("arrays").begin_array();
  out.begin_array().number(std::int64_t{1}).number(std::int64_t{-2}).end_array();
  out.begin_array().end_array();
  out.begin_object().key("k").boolean(false).end_object();
  out.end_array();
  out.key("numbers").begin_array().number(0.0).number(0.1).number(1e300).number(-3.5).end_array();
  out.key("raw").raw(raw);
  out.key("raw in an array").begin_array().raw(raw).raw("7").end_array();
  out.key("last").string("line\nbreak");
  out.end_object();
  return out.take();
}

// The same document, built.
Ordered sample(const Ordered& raw) {
  return {{"empty object", Ordered::object()},
          {"empty array", Ordered::array()},
          {"arrays", {{1, -2}, Ordered::array(), {{"k", false}}}},
          {"numbers", {0.0, 0.1, 1e300, -3.5}},
          {"raw", raw},
          {"raw in an array", {raw, 7}},
          {"last", "line\nbreak"}};
}

TEST(JsonWriter, NestedContainersMatchTheDocument) {
  const Ordered raw = {{"already", "json"}};
  EXPECT_EQ(write_sample(-1, raw.dump()), sample(raw).dump());
}

// Indented, a raw member is a document dumped with the same indent, which the writer nests.
TEST(JsonWriter, IndentedAsDumpIndents) {
  const Ordered raw = {{"a", {1, Ordered::array(), {{"b", Ordered::object()}}}}, {"c", "d"}};
  for (const int indent : {0, 2, 4}) {
    EXPECT_EQ(write_sample(indent, raw.dump(indent)), sample(raw).dump(indent))
        << "indent " << indent;
  }
}

TEST(JsonWriter, AValueAloneIsADocument) {
  JsonWriter out;
  out.string("\x01 \"x\"");
  EXPECT_EQ(out.take(), Ordered("\x01 \"x\"").dump());
}

TEST(JsonWriter, TextThatIsNotUtf8ThrowsNlohmannsError) {
  JsonWriter out;
  out.begin_object().key("ok");
  EXPECT_THROW(out.string("bad \xFF byte"), nlohmann::json::type_error);
}

}  // namespace
}  // namespace tg::util
