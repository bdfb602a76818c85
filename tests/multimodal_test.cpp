// Images in the graph: image Variables, multimodal calls, ImageQALoss, and the exact request
// bodies each provider receives through backward and update.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/providers/codec_common.h"
#include "support/fake_llm_server.h"
#include "support/workloads.h"
#include "test_paths.h"
#include "textgrad/engines.h"
#include "textgrad/textgrad.h"
#include "util/text.h"

namespace tg {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  return std::string(TEXTGRAD_TEST_DIR) + "/data/" + name;
}

TEST(Images, TypeComesFromTheBytes) {
  EXPECT_EQ(Variable::image_file(fixture("bee.png"), "img").image_part().media_type, "image/png");
  EXPECT_EQ(Variable::image_file(fixture("bee.jpg"), "img").image_part().media_type, "image/jpeg");
  EXPECT_EQ(Variable::image_file(fixture("bee.gif"), "img").image_part().media_type, "image/gif");
  EXPECT_EQ(Variable::image_file(fixture("bee.webp"), "img").image_part().media_type, "image/webp");
  try {
    Variable::image_file(fixture("not_an_image.txt"), "img");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not_an_image.txt"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("PNG, JPEG, GIF or WebP"), std::string::npos);
  }
  EXPECT_THROW(Variable::image_file(fixture("missing.png"), "img"), InvalidArgument);
}

TEST(Images, OrderedFieldsSendImagesInPlaceAndLabelText) {
  auto engine = testing::scripted_engine();
  Variable image = Variable::image_file(fixture("bee.png"), "image to answer a question about");
  Variable question("What do you see?", "question", false);
  Variable answer("A bee on a flower.", "answer about the image");
  Variable loss =
      ImageQALoss(engine, "Is the answer complete? Criticize.")(question, image, answer);
  loss.wait();
  Request sent = engine->requests().at(0);
  ASSERT_EQ(sent.content.size(), 4u);
  EXPECT_EQ(sent.content[0].text, "Evaluation Instruction: Is the answer complete? Criticize.");
  EXPECT_EQ(sent.content[1].text, "Question: What do you see?");
  EXPECT_TRUE(sent.content[2].is_image());
  EXPECT_EQ(sent.content[2].data, util::read_file(fixture("bee.png")));
  EXPECT_EQ(sent.content[3].text, "Answer: A bee on a flower.");
  EXPECT_EQ(loss.role_description(), "evaluation of the answer about the image");
  EXPECT_THROW(ImageQALoss(engine, "x")(question, question, answer), InvalidArgument);
}

struct ProviderCase {
  const char* engine;
  const char* key_variable;
  const char* base_suffix;
};

class MultimodalProviderTest : public ::testing::TestWithParam<ProviderCase> {};

// The image parts of one request body, in order, as (media type, base64 data), plus the index
// of each text part that follows them.
struct Parts {
  std::vector<std::pair<std::string, std::string>> images;
  std::vector<std::string> kinds;  // "image" or "text", in order
};

Parts parts_of(const fake::RecordedRequest& request) {
  json body = request.json();
  Parts parts;
  switch (fake::dialect_of(request)) {
    case fake::Dialect::kOpenAI:
      for (const json& p : body["messages"].back()["content"]) {
        parts.kinds.push_back(p["type"] == "image_url" ? "image" : "text");
        if (p["type"] != "image_url") continue;
        std::string url = p["image_url"]["url"];
        size_t comma = url.find(',');
        parts.images.emplace_back(url.substr(5, url.find(';') - 5), url.substr(comma + 1));
      }
      break;
    case fake::Dialect::kAnthropic:
      for (const json& p : body["messages"].back()["content"]) {
        parts.kinds.push_back(p["type"] == "image" ? "image" : "text");
        if (p["type"] == "image")
          parts.images.emplace_back(p["source"]["media_type"], p["source"]["data"]);
      }
      break;
    case fake::Dialect::kGemini:
      for (const json& p : body["contents"].back()["parts"]) {
        parts.kinds.push_back(p.contains("inlineData") ? "image" : "text");
        if (p.contains("inlineData"))
          parts.images.emplace_back(p["inlineData"]["mimeType"], p["inlineData"]["data"]);
      }
      break;
  }
  return parts;
}

TEST_P(MultimodalProviderTest, ImagesReachForwardBackwardAndUpdate) {
  const ProviderCase& c = GetParam();
  fake::FakeLlmServer server([](const fake::RecordedRequest& r) {
    std::string body = r.body;
    if (body.find("optimization system that improves text") != std::string::npos) {
      return fake::reply_for(r,
                             "<IMPROVED_VARIABLE>A honeybee gathering pollen.</IMPROVED_VARIABLE>");
    }
    return fake::reply_for(r, "It is a bee.");
  });
  EngineOptions options;
  options.api_key = "test-key-0123456789";
  options.base_url = server.base_url() + c.base_suffix;
  EnginePtr engine = make_engine(c.engine, options);

  Variable image = Variable::image_file(fixture("bee.jpg"), "image to answer a question about");
  Variable question("What do you see in this image?", "question", false);
  Variable response = MultimodalLLMCall(engine)({image, question});
  response.set_role_description("answer about the image");
  TGD optimizer({response}, engine);
  Variable loss = ImageQALoss(engine, "Does this answer describe the image well? Criticize.")(
      question, image, response);
  loss.backward(engine);
  optimizer.step();
  EXPECT_EQ(response.value(), "A honeybee gathering pollen.");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);  // forward, loss, backward, update
  const std::string expected = providers::base64_encode(util::read_file(fixture("bee.jpg")));
  for (const auto& request : requests) {
    Parts parts = parts_of(request);
    ASSERT_EQ(parts.images.size(), 1u) << request.body.substr(0, 300);
    EXPECT_EQ(parts.images[0].first, "image/jpeg");
    EXPECT_EQ(parts.images[0].second, expected);
  }
  EXPECT_EQ(parts_of(requests[0]).kinds, (std::vector<std::string>{"image", "text"}));
  EXPECT_EQ(parts_of(requests[1]).kinds,
            (std::vector<std::string>{"text", "text", "image", "text"}));
  // Backward re-sends the loss call's items, then the feedback request.
  EXPECT_EQ(parts_of(requests[2]).kinds,
            (std::vector<std::string>{"text", "text", "image", "text", "text"}));
  // The update carries the image right before the conversation that refers to it.
  std::vector<std::string> update = parts_of(requests[3]).kinds;
  ASSERT_GE(update.size(), 3u);
  EXPECT_EQ(std::count(update.begin(), update.end(), "image"), 1);
  EXPECT_EQ(update.front(), "text");
  EXPECT_EQ(update.back(), "text");
}

INSTANTIATE_TEST_SUITE_P(
    Providers, MultimodalProviderTest,
    ::testing::Values(ProviderCase{"openai/gpt-4o", "OPENAI_API_KEY", "/v1"},
                      ProviderCase{"anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY", ""},
                      ProviderCase{"gemini/gemini-2.5-flash", "GEMINI_API_KEY", ""}),
    [](const auto& info) {
      return std::string(info.param.engine).substr(0, std::string(info.param.engine).find('/'));
    });

TEST(Images, TextOnlyModelsRefuseImagesClearly) {
  fake::FakeLlmServer server(
      [](const fake::RecordedRequest& r) { return fake::reply_for(r, "ok"); });
  EngineOptions options;
  options.api_key = "test-key-0123456789";
  options.base_url = server.base_url() + "/v1";
  Variable image = Variable::image_file(fixture("bee.png"), "image");
  Variable question("What is this?", "question", false);

  EnginePtr text_only = make_engine("openai/gpt-3.5-turbo", options);
  Variable answer = MultimodalLLMCall(text_only)({image, question});
  try {
    answer.value();
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), EngineErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("does not accept images"), std::string::npos);
  }
  options.accepts_images = false;
  EXPECT_THROW(make_engine("openai/some-model", options)->generate([&] {
    Request r = Request::Text("x");
    r.content.push_back(image.image_part());
    return r;
  }()),
               EngineError);
  EXPECT_EQ(server.request_count(), 0u);  // nothing was sent

  // No allow-list: a model the engine knows nothing about gets the image.
  options.accepts_images.reset();
  EXPECT_EQ(
      MultimodalLLMCall(make_engine("openai/gpt-4o-mini", options))({image, question}).value(),
      "ok");
  EXPECT_EQ(server.request_count(), 1u);
}

}  // namespace
}  // namespace tg
