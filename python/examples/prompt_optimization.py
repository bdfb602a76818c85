"""Optimize a system prompt on a small batch with a Python metric, as in the paper's prompt
optimization (batch of 3, sum of per-item losses, one TGD step per batch).
    python3 prompt_optimization.py [ENGINE]"""

import textgrad_cpp as tg
from offline_engine import example_engine

engine = example_engine()
system_prompt = tg.Variable(
    "You will answer a reasoning question. Think step by step. The last line of your response "
    "should be of the following format: 'Answer: $VALUE' where VALUE is a numerical value.",
    role_description="structured system prompt to a somewhat capable language model that "
    "specifies the behavior and strategies for the QA task",
    requires_grad=True,
)
model = tg.BlackboxLLM(engine, system_prompt)
optimizer = tg.TGD(model.parameters(), engine=engine)


def exact_match(prediction, ground_truth_answer):
    return int(prediction.value.endswith("Answer: " + ground_truth_answer.value))


metric = tg.StringBasedFunction(
    exact_match,
    "The runtime of string-based function that checks if the prediction is correct.",
)
batch = [
    ("I have a chair, two tables, and a couch. How many objects do I have?", "4"),
    ("I have a flute, a piano, and three violins. How many musical instruments do I have?", "5"),
    ("I have two apples, a banana, and a carrot. How many fruits do I have?", "3"),
]
optimizer.zero_grad()
losses = []
for question, answer in batch:
    x = tg.Variable(question, role_description="query to the language model", requires_grad=False)
    y = tg.Variable(answer, role_description="correct answer for the query", requires_grad=False)
    response = model(x)  # sent at once; the three calls overlap
    losses.append(metric(inputs=dict(prediction=response, ground_truth_answer=y)))
tg.sum(losses).backward(engine)
optimizer.step()
print("New system prompt:")
print(system_prompt.value)
