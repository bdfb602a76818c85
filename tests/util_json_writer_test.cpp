// JsonWriter writes what nlohmann's dump() writes for the same ordered document.
#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tg::util {
namespace {

using Ordered = nlohmann::ordered_json;

TEST(JsonWriter, NestedContainersMatchTheDocument) {
  JsonWriter out;
  out.begin_object();
  out.key("empty object").begin_object().end_object();
  out.key("empty array").begin_array().end_array();
  out.key("arrays").begin_array();
  out.begin_array().number(std::int64_t{1}).number(std::int64_t{-2}).end_array();
  out.begin_array().end_array();
  out.begin_object().key("k").boolean(false).end_object();
  out.end_array();
  out.key("numbers").begin_array().number(0.0).number(0.1).number(1e300).number(-3.5).end_array();
  out.key("raw").raw(R"({"already":"json"})");
  out.key("last").string("line\nbreak");
  out.end_object();

  Ordered expected = {{"empty object", Ordered::object()},
                      {"empty array", Ordered::array()},
                      {"arrays", {{1, -2}, Ordered::array(), {{"k", false}}}},
                      {"numbers", {0.0, 0.1, 1e300, -3.5}},
                      {"raw", {{"already", "json"}}},
                      {"last", "line\nbreak"}};
  EXPECT_EQ(out.take(), expected.dump());
}

// The document of NestedContainersMatchTheDocument, written with an indent; its raw member is
// a document dumped with the same indent, which the writer nests.
TEST(JsonWriter, IndentedAsDumpIndents) {
  const Ordered inner = {{"a", {1, Ordered::array(), {{"b", Ordered::object()}}}}, {"c", "d"}};
  for (const int indent : {0, 2, 4}) {
    JsonWriter out(indent);
    out.begin_object();
    out.key("empty object").begin_object().end_object();
    out.key("empty array").begin_array().end_array();
    out.key("arrays").begin_array();
    out.begin_array().number(std::int64_t{1}).number(std::int64_t{-2}).end_array();
    out.begin_array().end_array();
    out.begin_object().key("k").boolean(false).end_object();
    out.end_array();
    out.key("numbers").begin_array().number(0.0).number(0.1).number(1e300).end_array();
    out.key("raw").raw(inner.dump(indent));
    out.key("raw in an array").begin_array().raw(inner.dump(indent)).raw("7").end_array();
    out.key("last").string("line\nbreak");
    out.end_object();

    Ordered expected = {{"empty object", Ordered::object()},
                        {"empty array", Ordered::array()},
                        {"arrays", {{1, -2}, Ordered::array(), {{"k", false}}}},
                        {"numbers", {0.0, 0.1, 1e300}},
                        {"raw", inner},
                        {"raw in an array", {inner, 7}},
                        {"last", "line\nbreak"}};
    EXPECT_EQ(out.take(), expected.dump(indent)) << "indent " << indent;
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
