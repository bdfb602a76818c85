"""The reference's workloads (a)-(c), written against the Python API exactly as
tests/support/workloads.cpp writes them against the C++ API, so both send the same requests."""

import textgrad_cpp as tg

LLM_INPUT_ROLE = "query to the language model"
SYSTEM_PROMPT_ROLE = (
    "system prompt that sets the language model's behavior and strategy, reused across queries"
)


def run_solution_workload(engine, steps=1, concurrency=8):
    """(a) one trainable answer, TextLoss, TGD: 3 calls per step. Returns the answer."""
    answer = tg.Variable(
        "It takes 1.2 hours to dry 30 shirts.",
        role_description="concise and accurate answer to the question",
    )
    loss_fn = tg.TextLoss(
        "Evaluate the answer to the shirts question; be critical and concise.", engine=engine
    )
    optimizer = tg.TGD([answer], engine=engine, concurrency=concurrency)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(answer)
        loss.backward(engine, concurrency=concurrency)
        optimizer.step()
    return answer


def ends_with_truth(prediction, ground_truth_answer):
    return 1 if prediction.value.endswith(ground_truth_answer.value) else 0


def run_prompt_workload(engine, steps=1, concurrency=8, llm_judge=False):
    """(b) prompt optimization, batch 3, sum of per-item losses: 10 calls per step (13 with
    the judge). Returns the system prompt Variable."""
    system_prompt = tg.Variable(
        "You will answer a reasoning question. Think step by step. The last line of your "
        "response should be of the following format: 'Answer: $VALUE' where VALUE is a "
        "numerical value.",
        role_description="structured system prompt to a somewhat capable language model that "
        "specifies the behavior and strategies for the QA task",
    )
    model = tg.BlackboxLLM(engine, system_prompt)
    optimizer = tg.TGD(model.parameters(), engine=engine, concurrency=concurrency)
    metric = tg.StringBasedFunction(
        ends_with_truth,
        "The runtime of string-based function that checks if the prediction is correct.",
    )
    judge = tg.MultiFieldTokenParsedEvaluation(
        tg.Variable(
            "Does the prediction match the ground truth? Answer 1 or 0 in <ACCURACY> tags.",
            role_description="evaluation instruction",
            requires_grad=False,
        ),
        [
            "Question for the task",
            "Ground truth answer",
            "Reasoning and prediction from the language model",
        ],
        engine=engine,
        parse_tags=["<ACCURACY>", "</ACCURACY>"],
    )
    for step in range(steps):
        optimizer.zero_grad()
        losses = []
        for i in range(3):
            x = tg.Variable(
                f"Question {i} of step {step}: how many objects are there?",
                role_description=LLM_INPUT_ROLE,
                requires_grad=False,
            )
            y = tg.Variable(
                str(i + step), role_description="correct answer for the query", requires_grad=False
            )
            response = model(x)
            if llm_judge:
                losses.append(judge([x, y, response]))
            else:
                losses.append(metric(inputs=dict(prediction=response, ground_truth_answer=y)))
        total = tg.sum(losses)
        total.backward(engine, concurrency=concurrency)
        optimizer.step()
    return system_prompt


def run_chain_workload(engine, steps=1, concurrency=8):
    """(c) x -> LLM -> LLM -> LLM -> TextLoss with only x trainable: 9 calls per step."""
    x = tg.Variable(
        "A farmer has 17 sheep; all but 9 run away.",
        role_description="question to solve",
        requires_grad=True,
    )

    def stage(instruction):
        return tg.LLMCall(
            engine,
            tg.Variable(instruction, role_description=SYSTEM_PROMPT_ROLE, requires_grad=False),
        )

    first = stage("Restate the problem precisely.")
    second = stage("Solve the restated problem step by step.")
    third = stage("Give only the final answer.")
    loss_fn = tg.TextLoss(
        "Evaluate whether the final answer is right; be critical.", engine=engine
    )
    optimizer = tg.TGD([x], engine=engine, concurrency=concurrency)
    for _ in range(steps):
        optimizer.zero_grad()
        y3 = third(second(first(x)))
        loss = loss_fn(y3)
        loss.backward(engine, concurrency=concurrency)
        optimizer.step()
    return x
