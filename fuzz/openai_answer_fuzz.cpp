// libFuzzer target: read_openai_answer() against the nlohmann::json document it replaced
// (Note [Reading answers without a document]).
//
// What must hold: for any input, the same fields, or the same exception text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "../tests/support/openai_answer_reference.h"
#include "engine/providers/openai_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::string expected_error;
  tg::providers::OpenAiAnswer expected;
  try {
    expected = tg::providers::testing::read_as_a_document(body);
  } catch (const nlohmann::json::exception& e) {
    expected_error = e.what();
  }
  try {
    const tg::providers::OpenAiAnswer answer = tg::providers::read_openai_answer(body);
    if (!expected_error.empty() || !(answer == expected)) std::abort();
  } catch (const nlohmann::json::exception& e) {
    if (e.what() != expected_error) std::abort();
  }
  return 0;
}
