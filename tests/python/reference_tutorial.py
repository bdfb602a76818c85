"""A script written for TextGrad's Python API, in the style of its tutorials. Only the import
line differs from what a TextGrad user writes; test_reference_tutorial.py runs it against a
local server (OPENAI_BASE_URL) to show the rest runs unchanged."""

import textgrad_cpp as tg

# --- Solution optimization: the shirts question ---------------------------------------------
tg.set_backward_engine("gpt-4o", override=True)

model = tg.BlackboxLLM("gpt-4o")
question_string = (
    "If it takes 1 hour to dry 25 shirts under the sun, "
    "how long will it take to dry 30 shirts under the sun? "
    "Reason step by step"
)
question = tg.Variable(question_string, role_description="question to the LLM", requires_grad=False)
answer = model(question)
print("Initial answer:", answer.value)

answer.set_role_description("concise and accurate answer to the question")
optimizer = tg.TGD(parameters=[answer])
evaluation_instruction = (
    f"Here's a question: {question_string}. "
    "Evaluate any given answer to this question, be smart, logical, and very critical. "
    "Just provide concise feedback."
)
loss_fn = tg.TextLoss(evaluation_instruction)
loss = loss_fn(answer)
print("Evaluation:", loss.value)
loss.backward()
optimizer.step()
print("Improved answer:", answer.value)

# --- Prompt optimization: a loop with tg.sum and TGD -----------------------------------------
llm_api_eval = tg.get_engine(engine_name="gpt-4o")
llm_api_test = tg.get_engine(engine_name="gpt-3.5-turbo-0125")
tg.set_backward_engine(llm_api_eval, override=True)

STARTING_SYSTEM_PROMPT = (
    "You will answer a reasoning question. Think step by step. The last line of your response "
    "should be of the following format: 'Answer: $VALUE' where VALUE is a numerical value."
)
system_prompt = tg.Variable(
    STARTING_SYSTEM_PROMPT,
    requires_grad=True,
    role_description="system prompt to the language model",
)
model = tg.BlackboxLLM(llm_api_test, system_prompt)
optimizer = tg.TextualGradientDescent(engine=llm_api_eval, parameters=[system_prompt])


def string_based_equality_fn(prediction, ground_truth_answer):
    last = prediction.value.split()[-1] if prediction.value.split() else ""
    return int(last.strip(".") == str(ground_truth_answer.value))


fn_purpose = "The runtime of string-based function that checks if the prediction is correct."
eval_fn = tg.autograd.StringBasedFunction(string_based_equality_fn, function_purpose=fn_purpose)

train_set = [
    ("I have a chair, two tables, and a couch. How many objects do I have?", "4"),
    ("I have a flute, a piano, and three violins. How many instruments do I have?", "5"),
    ("I have two apples, a banana, and a carrot. How many fruits do I have?", "3"),
    ("I have a cat, two dogs, and a goldfish. How many animals do I have?", "4"),
    ("I have a lamp and two chairs. How many objects do I have?", "3"),
    ("I have three pens. How many objects do I have?", "3"),
]
batch_size = 3
for epoch in range(1):
    for start in range(0, len(train_set), batch_size):
        batch = train_set[start : start + batch_size]
        optimizer.zero_grad()
        losses = []
        for x, y in batch:
            x = tg.Variable(x, requires_grad=False, role_description="query to the language model")
            y = tg.Variable(y, requires_grad=False, role_description="correct answer for the query")
            response = model(x)
            eval_output_variable = eval_fn(inputs=dict(prediction=response, ground_truth_answer=y))
            losses.append(eval_output_variable)
        total_loss = tg.sum(losses)
        total_loss.backward()
        optimizer.step()
        print(f"Step {start // batch_size + 1} system prompt:", system_prompt.value)

print("Final system prompt:", system_prompt.value)
