#include "textgrad/graph.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/scripted_engine.h"

namespace tg {
namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The label of node `name` ("n3"), as written in the DOT text.
std::string label_of(const std::string& dot, const std::string& name) {
  const std::string open = "  " + name + " [label=\"";
  const size_t start = dot.find(open);
  if (start == std::string::npos) return "<missing>";
  const size_t from = start + open.size();
  return dot.substr(from, dot.find("\"];\n", from) - from);
}

std::shared_ptr<ScriptedEngine> fixed_feedback(std::string text) {
  return std::make_shared<ScriptedEngine>([text](const Request&) { return text; });
}

// loss = sum(answer1, answer2); each answer = LLMCall(system)(question).
// DFS order from the loss: loss n0, answer1 n1, system n2, question1 n3, answer2 n4,
// question2 n5.
struct SmallGraph {
  std::shared_ptr<ScriptedEngine> engine = ScriptedEngine::echo();
  Variable system{"Answer \"briefly\".", "system prompt"};
  Variable question1{"What is 2+2?\nThink.", "question", false};
  Variable question2{"C:\\path", "question", false};
  Variable answer1, answer2, loss;

  SmallGraph() {
    LLMCall call(engine, system);
    answer1 = call(question1);
    answer2 = call(question2);
    loss = sum({answer1, answer2});
  }
};

TEST(GraphDotTest, NodesAndEdgesInDepthFirstOrder) {
  SmallGraph g;
  g.loss.backward(g.engine);
  const std::string dot = to_dot(g.loss);
  EXPECT_EQ(dot.rfind("digraph", 0), 0u);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  EXPECT_EQ(count_of(dot, "[label=\""), 6u);
  EXPECT_EQ(count_of(dot, " -> "), 6u);
  for (const char* edge : {"  n1 -> n0;\n", "  n4 -> n0;\n", "  n2 -> n1;\n", "  n3 -> n1;\n",
                           "  n2 -> n4;\n", "  n5 -> n4;\n"}) {
    EXPECT_TRUE(contains(dot, edge)) << edge;
  }
}

TEST(GraphDotTest, LabelsShowRoleOpRequiresGradAndValue) {
  SmallGraph g;
  g.loss.backward(g.engine);
  const std::string dot = to_dot(g.loss);
  const std::string loss = label_of(dot, "n0");
  EXPECT_EQ(loss.rfind(g.loss.role_description() + "\\lop: sum\\lrequires_grad: true\\l", 0), 0u)
      << loss;
  const std::string answer = label_of(dot, "n1");
  EXPECT_TRUE(contains(answer, "response from the language model\\lop: LLMCall\\l")) << answer;
  EXPECT_TRUE(contains(answer, "value: What is 2+2?\\lThink.\\l")) << answer;
  const std::string question = label_of(dot, "n3");
  EXPECT_EQ(question.rfind("question\\lop: leaf\\lrequires_grad: false\\l", 0), 0u) << question;
}

TEST(GraphDotTest, EscapesQuotesBackslashesAndNewlines) {
  SmallGraph g;
  const std::string dot = to_dot(g.loss);
  EXPECT_TRUE(contains(label_of(dot, "n2"), "value: Answer \\\"briefly\\\".\\l"));
  EXPECT_TRUE(contains(label_of(dot, "n3"), "value: What is 2+2?\\lThink.\\l"));
  EXPECT_TRUE(contains(label_of(dot, "n5"), "value: C:\\\\path\\l"));
  // No raw newline may end up inside a label.
  for (const char* name : {"n0", "n1", "n2", "n3", "n4", "n5"})
    EXPECT_FALSE(contains(label_of(dot, name), "\n")) << name;
}

TEST(GraphDotTest, GradientTextsAreShownAndShortened) {
  SmallGraph g;
  g.loss.backward(g.engine);
  ASSERT_FALSE(g.system.gradients().empty());
  // The echo engine's feedback is the whole backward prompt, far over 300 characters.
  const std::string system = label_of(to_dot(g.loss), "n2");
  EXPECT_EQ(count_of(system, "\\lgradient: "), g.system.gradients().size());
  EXPECT_TRUE(contains(system, " …\\l")) << system;

  EXPECT_FALSE(contains(to_dot(g.loss, {.show_gradients = false}), "gradient: "));
}

TEST(GraphDotTest, ExactGradientTextIsEscaped) {
  SmallGraph g;
  g.loss.backward(fixed_feedback("Be \"more\" specific.\nUse units."));
  const std::string system = label_of(to_dot(g.loss), "n2");
  EXPECT_TRUE(contains(system, "\\lgradient: Be \\\"more\\\" specific.\\lUse units.\\l")) << system;

  SmallGraph windows;
  windows.loss.backward(fixed_feedback("C:\\temp\r\nnext"));
  EXPECT_TRUE(contains(label_of(to_dot(windows.loss), "n2"), "gradient: C:\\\\temp\\lnext\\l"));
}

TEST(GraphDotTest, ValuesAreCutAtCodePoints) {
  Variable text("abcdefgh", "text");
  EXPECT_TRUE(contains(to_dot(text, {.max_value_chars = 5}), "value: abcde …\\l"));
  EXPECT_TRUE(contains(to_dot(text, {.max_value_chars = 8}), "value: abcdefgh\\l"));
  EXPECT_TRUE(contains(to_dot(text, {.max_value_chars = 0}), "value: abcdefgh\\l"));
  Variable accents("ééééé", "text");
  EXPECT_TRUE(contains(to_dot(accents, {.max_value_chars = 3}), "value: ééé …\\l"));
}

TEST(GraphDotTest, ImagesShowTypeAndSize) {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(12, 'x');
  Variable image = Variable::image(png, "photo of the scene");
  Variable question("What is shown?", "question", false);
  Variable answer = LLMCall(ScriptedEngine::echo())({image, question});
  answer.wait();
  const std::string dot = to_dot(answer);
  EXPECT_EQ(label_of(dot, "n1"),
            "photo of the scene\\lop: image\\lrequires_grad: false\\l"
            "value: [image: image/png, 20 bytes]\\l");
  EXPECT_TRUE(contains(dot, "  n1 -> n0;\n"));
  EXPECT_TRUE(contains(dot, "  n2 -> n0;\n"));
}

// Holds every answer until the test releases it, so "pending" is certain, not timed.
class HeldEngine : public Engine {
 public:
  EngineInfo info() const override { return {"held", "scripted", "held", true}; }
  void submit(Request request, std::function<void(Outcome)> done) override {
    user_ = request.user_text();
    done_ = std::move(done);
  }
  void release() {
    Outcome outcome;
    outcome.response.text = user_;
    done_(std::move(outcome));
  }

 private:
  std::string user_;
  std::function<void(Outcome)> done_;
};

TEST(GraphDotTest, PendingValueDoesNotBlock) {
  auto engine = std::make_shared<HeldEngine>();
  Variable answer = LLMCall(engine)(Variable("hi", "question", false));
  const std::string dot = to_dot(answer);  // would hang here if it waited for the value
  EXPECT_TRUE(contains(label_of(dot, "n0"), "value: [pending]\\l"));
  engine->release();
  EXPECT_TRUE(contains(label_of(to_dot(answer), "n0"), "value: hi\\l"));
}

TEST(GraphDotTest, FailedValueShowsTheError) {
  auto engine = std::make_shared<ScriptedEngine>(
      [](const Request&) -> std::string { throw std::runtime_error("model \"down\""); });
  Variable answer = LLMCall(engine)(Variable("hi", "question", false));
  answer.wait();
  const std::string label = label_of(to_dot(answer), "n0");
  EXPECT_TRUE(contains(label, "value: [failed: ")) << label;
  EXPECT_TRUE(contains(label, "\\\"down\\\"")) << label;
}

TEST(GraphDotTest, SameGraphGivesSameText) {
  SmallGraph a;
  SmallGraph b;
  a.loss.wait();
  b.loss.wait();
  EXPECT_EQ(to_dot(a.loss), to_dot(a.loss));
  EXPECT_EQ(to_dot(a.loss), to_dot(b.loss));
}

TEST(GraphDotTest, SharedPredecessorAppearsOnce) {
  Variable part("x", "part");
  Variable twice = concat({part, part});
  const std::string dot = to_dot(twice);
  EXPECT_EQ(count_of(dot, "[label=\""), 2u);
  EXPECT_EQ(count_of(dot, "  n1 -> n0;\n"), twice.predecessors().size());
}

TEST(GraphDotTest, EmptyVariableThrows) { EXPECT_THROW(to_dot(Variable()), InvalidArgument); }

}  // namespace
}  // namespace tg
