"""The shirts question: optimize an answer directly with TextLoss and TGD.
    python3 solution_optimization.py [ENGINE]"""

import textgrad_cpp as tg
from offline_engine import example_engine

engine = example_engine()
question = tg.Variable(
    "If it takes 1 hour to dry 25 shirts under the sun, how long will it take to dry 30 "
    "shirts under the sun? Reason step by step",
    role_description="question to the LLM",
    requires_grad=False,
)
answer = tg.BlackboxLLM(engine)(question)
print("Answer:", answer.value)
answer.set_role_description("concise and accurate answer to the question")
optimizer = tg.TGD(parameters=[answer], engine=engine)
loss = tg.TextLoss("Evaluate the answer; be smart, logical and very critical. Give concise "
                   "feedback.", engine=engine)(answer)
loss.backward(engine)
optimizer.step()
print("Improved answer:", answer.value)
