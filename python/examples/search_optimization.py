"""Optimize a system prompt with GEPA-style search: a pool of candidate prompts, parents drawn
from the per-question Pareto front, children kept only when they beat their parent.
    python3 search_optimization.py [ENGINE]"""

import sys

import textgrad_cpp as tg
from offline_engine import offline_answer

QUESTIONS = [
    ("I have a chair, two tables, and a couch. How many objects do I have?", "4"),
    ("I have a flute, a piano, and three violins. How many musical instruments do I have?", "5"),
    ("I have two apples, a banana, and a carrot. How many fruits do I have?", "3"),
    ("I have a dog, two cats, and a goldfish. How many animals do I have?", "4"),
    ("I have three pens and two pencils. How many writing tools do I have?", "5"),
    ("I have a bed, a lamp, and four chairs. How many objects do I have?", "6"),
]
TRAIN, VAL = QUESTIONS[:3], QUESTIONS[3:]


def scripted(request):
    """Offline: the model counts right only when the prompt tells it to list the items."""
    if request.phase == tg.Phase.forward:
        answers = dict(QUESTIONS)
        question = request.user_text()
        careful = "List every item" in request.system_prompt
        return f"Answer: {answers.get(question, '0') if careful else '2'}"
    return offline_answer(request)


class CountingTask:
    def __init__(self, engine):
        self.engine = engine

    def train_size(self):
        return len(TRAIN)

    def val_size(self):
        return len(VAL)

    def run(self, parameters, split, index):
        question, answer = (TRAIN if split == "train" else VAL)[index]
        model = tg.BlackboxLLM(self.engine, parameters["system_prompt"])
        x = tg.Variable(question, role_description="query to the language model",
                        requires_grad=False)
        response = model(x)
        correct = response.value.strip().endswith("Answer: " + answer)
        loss = tg.TextLoss(f"The correct answer is {answer}. Say whether the response is right "
                           "and why.", engine=self.engine)(response)
        return tg.Rollout(1.0 if correct else 0.0, loss)


engine = tg.get_engine(sys.argv[1]) if len(sys.argv) > 1 else tg.ScriptedEngine(scripted)
initial = ("You will answer a reasoning question. The last line of your response should be of "
           "the following format: 'Answer: $VALUE' where VALUE is a numerical value.")
search = tg.Search(
    CountingTask(engine), {"system_prompt": initial}, engine=engine,
    roles={"system_prompt": "structured system prompt to a somewhat capable language model"},
    minibatch=2, max_metric_calls=30, seed=1,
    on_proposal=lambda p, state: print(f"proposal {p['index']}: {p['outcome']}"))
best = search.run()
print(f"{search.metric_calls} metric calls, {len(search.pool)} candidates; best validation "
      f"score {search.pool[best].aggregate:.2f} (initial {search.pool[0].aggregate:.2f})")
print("Best system prompt:")
print(search.best_candidate()["system_prompt"])
