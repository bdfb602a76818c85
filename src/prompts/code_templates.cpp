// The prompt templates of code optimization (include/textgrad/code.h), kept apart from the
// core templates; tg::Prompts serves both tables alike.
#include "prompts/templates.h"

namespace tg::prompts {
namespace {

constexpr const char* kCodeCritiqueSystem =
    R"TXT(You review a program against the results of running its tests. You do not write code: another component rewrites the program from your review.

Be concise and specific:
- For every failing test, explain why the program fails it: the input, what the program did, what was expected, and the faulty line or idea.
- Time-outs, crashes and resource limits (memory, processes, output) are failures too: name the cause, such as an infinite loop, unbounded recursion or an algorithm that is too slow.
- The visible tests are a sample: also point out incorrect edge cases and inefficiencies that hidden, harder tests would expose.
- Say what already works and must be kept.
Never write a corrected implementation.)TXT";

constexpr const char* kCodeCritiqueUser = R"TXT(Problem: {problem}

Program:
<CODE>
{code}
</CODE>

Test results:
<TEST_RESULTS>
{test_results}
</TEST_RESULTS>

Review the program in the light of these test results.)TXT";

constexpr const char* kCodeRole =
    "the complete contents of the file {filename}, a {language} program that must pass its tests "
    "(judged on correctness first, then speed)";

constexpr const char* kCodeConstraints =
    R"TXT(The new value is the complete file: every import, function and class it needs, not only the changed parts.
The new value is only the program, with no markdown fences and no explanations outside comments.
Do not add tests, asserts or example runs that execute when the file is imported.)TXT";

constexpr const char* kCodeSolveSystem =
    R"TXT(You are an expert {language} programmer. Answer with the complete program in a single fenced code block (```{language} ... ```), keeping any given names and signatures exactly, with its imports and no example usage or tests.)TXT";

constexpr const char* kCodeSolveUser = R"TXT({problem}

{starting_code})TXT";

constexpr const char* kCodeStartingCode = R"TXT(Start from this code:
```
{code}
```)TXT";

}  // namespace

const std::vector<Template>& code_templates() {
  static const std::vector<Template> templates = {
      {"code_critique_system",
       "System prompt of the critique (the loss) of a program, given its test results.",
       {},
       kCodeCritiqueSystem},
      {"code_critique_user",
       "The critique request: the problem, the program and its test results.",
       {"problem", "code", "test_results"},
       kCodeCritiqueUser},
      {"code_role",
       "Role description of the program being optimized.",
       {"filename", "language"},
       kCodeRole},
      {"code_constraints",
       "Constraints on each new version of the program, one per line.",
       {},
       kCodeConstraints},
      {"code_solve_system",
       "System prompt of the zero-shot solution of a problem in a problem set.",
       {"language"},
       kCodeSolveSystem},
      {"code_solve_user",
       "The zero-shot request: the problem statement and, if given, the starting code.",
       {"problem", "starting_code"},
       kCodeSolveUser},
      {"code_starting_code",
       "How the starting code is shown in the zero-shot request.",
       {"code"},
       kCodeStartingCode},
  };
  return templates;
}

}  // namespace tg::prompts
