// The built-in prompt templates. Written for textgrad-cpp: they carry the information the
// reference's prompts carry in our own words, and fix its defects (no literal "None" system
// prompt, full value in the update prompt, configured tags everywhere: see
// docs/reference-defects.md).
#include "prompts/templates.h"

namespace tg::prompts {
namespace {

constexpr const char* kBackwardSystem =
    R"TXT(You are the feedback engine of an optimization system that improves a piece of text, called the variable. The variable may be an answer, a solution, a prompt, a piece of code or any other text.

Your job is to criticize the variable in a way that helps improve the objective stated in <OBJECTIVE_FUNCTION>. Give specific, constructive and well-reasoned criticism only. Take the role of the variable and the context it was used in into account, and assume the variable will be used again in similar situations, so general lessons matter more than one-off fixes.

Explain what should change and why; suggest strategies. Do not write a new version of the variable: another component does that from your feedback.

Useful shapes of feedback: name a failure mode and its cause; say what adding, removing or rewording something would achieve; point out what already works and must be kept. If the objective is already fully met and nothing should change, answer with an empty response.

Tags used in the request:
- <LM_SYSTEM_PROMPT>: the system prompt that was sent to a language model.
- <LM_INPUT>: the input that was sent to the language model.
- <LM_OUTPUT>: what the language model answered.
- <OBJECTIVE_FUNCTION>: the goal the feedback must serve.
- <VARIABLE>: the text you give feedback on (possibly abbreviated with "(...)").
- <ROLE>: what the variable is and how it is used.)TXT";

constexpr const char* kLlmConversation =
    R"TXT(<LM_SYSTEM_PROMPT> {system_prompt} </LM_SYSTEM_PROMPT>

<LM_INPUT> {input} </LM_INPUT>

<LM_OUTPUT> {output} </LM_OUTPUT>

)TXT";

constexpr const char* kLlmConversationNoSystem = R"TXT(<LM_INPUT> {input} </LM_INPUT>

<LM_OUTPUT> {output} </LM_OUTPUT>

)TXT";

constexpr const char* kBackwardChain =
    R"TXT(You will give feedback on a variable whose role is <ROLE>{role}</ROLE>. Below is a conversation with a language model in which the variable took part:

{conversation}This conversation is one step of a larger system. Its output is used downstream as "{response_role}", and the downstream components sent back the following feedback about it:

<OBJECTIVE_FUNCTION>Your goal is to give feedback on the variable that addresses this downstream feedback on the output:
{feedback}</OBJECTIVE_FUNCTION>

Here is the variable to give feedback on:

<VARIABLE> {value} </VARIABLE>

Explain, creatively and critically, how the variable could be changed to better meet the objective.)TXT";

constexpr const char* kBackwardBase =
    R"TXT(You will give feedback on a variable whose role is <ROLE>{role}</ROLE>. Below is a language model's evaluation of the variable:

{conversation}<OBJECTIVE_FUNCTION>Your goal is to give feedback on the variable, in the light of the evaluation above, that would improve the evaluation. Improving that evaluation is the only goal.</OBJECTIVE_FUNCTION>

Here is the variable to give feedback on:

<VARIABLE> {value} </VARIABLE>

Explain, creatively and critically, how the variable could be changed to better meet the objective.)TXT";

constexpr const char* kFunctionConversation =
    R"TXT(A string-based function was applied. Its purpose: {purpose}

<INPUTS_TO_FUNCTION>
{inputs}
</INPUTS_TO_FUNCTION>

<OUTPUT_OF_FUNCTION> {output} </OUTPUT_OF_FUNCTION>

)TXT";

constexpr const char* kFunctionInput = R"TXT(**{name}** (role: {role}): {value})TXT";

constexpr const char* kFunctionBackwardChain =
    R"TXT(You will give feedback on a variable whose role is <ROLE>{role}</ROLE>. The variable was an input to the string-based function below:

{conversation}The function's output is used downstream as "{response_role}", and the downstream components sent back the following feedback about the <OUTPUT_OF_FUNCTION>:

<OBJECTIVE_FUNCTION>Your goal is to give feedback on the variable that addresses this downstream feedback:
{feedback}</OBJECTIVE_FUNCTION>

Here is the variable to give feedback on:

<VARIABLE> {value} </VARIABLE>

Explain, creatively and critically, how the variable could be changed to better meet the objective.)TXT";

constexpr const char* kFunctionBackwardBase =
    R"TXT(You will give feedback on a variable whose role is <ROLE>{role}</ROLE>. The variable was an input to the string-based function below, whose output scores it:

{conversation}<OBJECTIVE_FUNCTION>Your goal is to give feedback on the variable that would improve the function's output. Improving that output is the only goal.</OBJECTIVE_FUNCTION>

Here is the variable to give feedback on:

<VARIABLE> {value} </VARIABLE>

Explain, creatively and critically, how the variable could be changed to better meet the objective.)TXT";

constexpr const char* kSumFeedback =
    R"TXT(The following is the combined feedback on several texts, one of which is the {role}:
{feedback})TXT";

constexpr const char* kReduceSystem =
    R"TXT(You are one component of an optimization system. Several sources gave feedback on the same variable; each piece of feedback is between <FEEDBACK> tags. Condense them into one critical summary that keeps every distinct point, drops repetition, and notes where sources disagree. Give only the summary. Do not write a new version of the variable.)TXT";

constexpr const char* kReduceItem = R"TXT(<FEEDBACK>{feedback}</FEEDBACK>)TXT";

constexpr const char* kOptimizerSystem =
    R"TXT(You are part of an optimization system that improves text: prompts, answers, solutions, code or anything else. You receive a variable, the context it was used in, and feedback on it, and you write an improved version of the variable.

The feedback comes from language models and may be noisy or partly wrong: take what is relevant and correct, and ignore the rest. Keep the variable's role and how it is used in mind.

You MUST put the complete new value of the variable between {start_tag} and {end_tag}. Everything between these tags replaces the variable exactly as written, so put nothing else between them.

Tags used in the request:
- <ROLE>: what the variable is and how it is used.
- <VARIABLE>: the current value of the variable.
- <CONTEXT>: the conversations the variable took part in and the feedback on it.
- <CONVERSATION>: a conversation with a language model.
- <LM_SYSTEM_PROMPT>, <LM_INPUT>, <LM_OUTPUT>: the system prompt, input and output of that conversation.
- <FEEDBACK>: feedback on the variable.)TXT";

constexpr const char* kUpdateHead = R"TXT(You will improve a variable whose role is <ROLE>{role}</ROLE>.

Its current value, in full:

<VARIABLE>{value}</VARIABLE>

Here is the context and the feedback it received:

<CONTEXT>
)TXT";

constexpr const char* kUpdateInstruction = R"TXT(
</CONTEXT>

Improve the {role} using the feedback given in the <FEEDBACK> tags above.)TXT";

constexpr const char* kUpdateGradientContext = R"TXT(<CONVERSATION>
{conversation}</CONVERSATION>

This conversation may be one part of a larger system; its output was used as "{response_role}".
)TXT";

constexpr const char* kUpdateGradientFeedback =
    R"TXT(Feedback on the {variable_role}:
<FEEDBACK>{feedback}</FEEDBACK>
)TXT";

constexpr const char* kUpdatePastIterations = R"TXT(

Earlier values of the {role}, oldest first; the last one is the current value:

<PAST_ITERATIONS>
{past_values}
</PAST_ITERATIONS>

If the feedback keeps repeating the same points across these iterations, the earlier edits were too small: make a bolder change this time.)TXT";

constexpr const char* kUpdatePastFeedback = R"TXT(

Feedback from earlier steps, oldest first:

<PAST_FEEDBACK>
{past_feedback}
</PAST_FEEDBACK>

Do not undo improvements that earlier feedback asked for unless the new feedback says so.)TXT";

constexpr const char* kUpdateConstraints = R"TXT(

The new value MUST satisfy these constraints:

<CONSTRAINTS>
{constraints}
</CONSTRAINTS>)TXT";

constexpr const char* kUpdateExamples = R"TXT(

Base the new value on these examples:

<EXAMPLES>
{examples}
</EXAMPLES>)TXT";

constexpr const char* kUpdateFormat = R"TXT(

Answer with the new value between the tags, like this: {start_tag}the new value{end_tag}. Put only the new value of the variable between {start_tag} and {end_tag}.)TXT";

constexpr const char* kUpdateRepair = R"TXT(

Your previous answer to this request was:

<PREVIOUS_ANSWER>
{answer}
</PREVIOUS_ANSWER>

It did not contain the new value between {start_tag} and {end_tag}. Answer again, with the complete new value between {start_tag} and {end_tag}.)TXT";

constexpr const char* kMultiFieldEvalSystem =
    R"TXT(You are an evaluation system that compares two or more variables and judges them as the instruction asks.)TXT";

constexpr const char* kMultiChoiceTestTimeSystem =
    R"TXT(You are a critic inside an optimization loop that refines a proposed solution to a multiple-choice question. Examine the solution's reasoning and its final choice closely. Do not solve the question yourself and do not state which option is correct. Point out only the likely flaws, sharply and concisely, looking at the solution from several angles.)TXT";

constexpr const char* kMultiChoiceTestTimeUser = R"TXT({instruction}

**Question:** {question}

**Answer by the language model:** {prediction})TXT";

constexpr const char* kImageQaSystem =
    R"TXT(You evaluate answers to questions about images, judging them against what the image shows.)TXT";

constexpr const char* kMultimodalConversation =
    R"TXT(The items above are the <LM_INPUT> that was sent to a language model.

{system_section}<LM_OUTPUT> {output} </LM_OUTPUT>

)TXT";

constexpr const char* kMultimodalSystemSection =
    R"TXT(<LM_SYSTEM_PROMPT> {system_prompt} </LM_SYSTEM_PROMPT>

)TXT";

}  // namespace

const std::vector<Template>& builtin_templates() {
  static const std::vector<Template> templates = {
      {"backward_system", "System prompt of every backward (feedback) call.", {}, kBackwardSystem},
      {"llm_conversation",
       "An LLM call as shown to the feedback engine, with its system prompt.",
       {"system_prompt", "input", "output"},
       kLlmConversation},
      {"llm_conversation_no_system",
       "An LLM call that was sent without a system prompt.",
       {"input", "output"},
       kLlmConversationNoSystem},
      {"backward_chain",
       "Feedback request for an input of an LLM call whose output received downstream feedback.",
       {"role", "conversation", "response_role", "feedback", "value"},
       kBackwardChain},
      {"backward_base",
       "Feedback request for an input of an LLM call whose output is itself the evaluation.",
       {"role", "conversation", "value"},
       kBackwardBase},
      {"function_conversation",
       "A string-based function call as shown to the feedback engine.",
       {"purpose", "inputs", "output"},
       kFunctionConversation},
      {"function_input",
       "One input of a string-based function.",
       {"name", "role", "value"},
       kFunctionInput},
      {"function_backward_chain",
       "Feedback request for an input of a string-based function whose output got feedback.",
       {"role", "conversation", "response_role", "feedback", "value"},
       kFunctionBackwardChain},
      {"function_backward_base",
       "Feedback request for an input of a string-based function whose output is the score.",
       {"role", "conversation", "value"},
       kFunctionBackwardBase},
      {"sum_feedback",
       "Feedback passed from a sum or concatenation to one of its parts.",
       {"role", "feedback"},
       kSumFeedback},
      {"reduce_system",
       "System prompt of the call that merges feedback of one aggregate group.",
       {},
       kReduceSystem},
      {"reduce_item", "One piece of feedback in the merge request.", {"feedback"}, kReduceItem},
      {"optimizer_system",
       "System prompt of every update (optimizer) call.",
       {"start_tag", "end_tag"},
       kOptimizerSystem},
      {"update_head",
       "Start of the update request: the role and the full current value.",
       {"role", "value"},
       kUpdateHead},
      {"update_instruction",
       "After the feedback in the update request: what to do with it.",
       {"role"},
       kUpdateInstruction},
      {"update_gradient_context",
       "One conversation a piece of feedback was produced in.",
       {"conversation", "response_role"},
       kUpdateGradientContext},
      {"update_gradient_feedback",
       "A piece of feedback that has conversations.",
       {"variable_role", "feedback"},
       kUpdateGradientFeedback},
      {"update_past_iterations",
       "Earlier values of the variable (momentum).",
       {"role", "past_values"},
       kUpdatePastIterations},
      {"update_past_feedback",
       "Feedback from earlier steps (gradient memory).",
       {"past_feedback"},
       kUpdatePastFeedback},
      {"update_constraints",
       "Constraints the new value must satisfy.",
       {"constraints"},
       kUpdateConstraints},
      {"update_examples", "In-context examples for the update.", {"examples"}, kUpdateExamples},
      {"update_format",
       "End of the update request: how to mark the new value.",
       {"start_tag", "end_tag"},
       kUpdateFormat},
      {"update_repair",
       "Appended to the update request when its answer had no tagged value.",
       {"answer", "start_tag", "end_tag"},
       kUpdateRepair},
      {"multifield_eval_system",
       "Default system prompt of MultiFieldEvaluation.",
       {},
       kMultiFieldEvalSystem},
      {"multichoice_testtime_system",
       "Default system prompt of MultiChoiceTestTime.",
       {},
       kMultiChoiceTestTimeSystem},
      {"multichoice_testtime_user",
       "User message of MultiChoiceTestTime.",
       {"instruction", "question", "prediction"},
       kMultiChoiceTestTimeUser},
      {"image_qa_system", "Default system prompt of ImageQALoss.", {}, kImageQaSystem},
      {"multimodal_conversation",
       "Text item closing a multimodal conversation shown to the feedback engine.",
       {"system_section", "output"},
       kMultimodalConversation},
      {"multimodal_system_section",
       "System prompt section of a multimodal conversation.",
       {"system_prompt"},
       kMultimodalSystemSection},
  };
  return templates;
}

}  // namespace tg::prompts
