"""The reference's Variable API and graph tools."""

import textgrad_cpp as tg


def echo_update(request):
    if request.phase == tg.Phase.update:
        return "<IMPROVED_VARIABLE>improved</IMPROVED_VARIABLE>"
    if request.phase == tg.Phase.backward:
        return "make it shorter"
    return "critique"


def test_feedback_gradients_and_graph():
    engine = tg.ScriptedEngine(echo_update)
    answer = tg.Variable("a long answer", role_description="answer to the question")
    loss = tg.TextLoss("Evaluate the answer.", engine=engine)(answer)
    assert loss.value == "critique"
    assert answer in loss.predecessors
    loss.backward(engine)
    assert answer.get_gradient_text() == "make it shorter"
    [gradient] = answer.gradients
    assert gradient.value == "make it shorter"
    assert gradient.role_description == "feedback to answer to the question"
    assert gradient.contexts and "a long answer" in gradient.contexts[0].conversation
    dot = loss.generate_graph()
    assert dot.startswith("digraph") and "answer to the question" in dot
    optimizer = tg.TGD(parameters=[answer], engine=engine)
    report = optimizer.step()
    assert [o.status for o in report.outcomes] == ["updated"]
    assert answer.value == "improved"
    optimizer.zero_grad()
    assert answer.gradients == []


def test_variable_basics():
    v = tg.Variable("one two", role_description="text", requires_grad=False)
    assert (v.value, v.role_description, v.requires_grad) == ("one two", "text", False)
    v.set_value("three")
    v.set_role_description("other")
    assert str(v) == "three" and v.get_role_description() == "other"
    both = v + tg.Variable("four", role_description="more")
    assert both.value == "three\nfour"
    assert len({v, v}) == 1
    assert tg.Variable(" ".join(str(i) for i in range(30)),
                       role_description="r").get_short_value(2) == "0 1 (...) 28 29"


def test_formatted_and_multimodal_calls(tmp_path):
    seen = []

    def respond(request):
        seen.append(request)
        return "answer"

    engine = tg.ScriptedEngine(respond)
    call = tg.FormattedLLMCall(engine, "Q: {question}", ["question"])
    out = call(inputs=dict(question=tg.Variable("why?", role_description="question")))
    assert out.value == "answer" and seen[-1].user_text() == "Q: why?"
    image = tg.Variable(b"\x89PNG\r\n\x1a\n" + b"\0" * 16, role_description="image",
                        requires_grad=False)
    assert image.is_image
    out = tg.MultimodalLLMCall(engine)([image, tg.Variable("What is it?", role_description="q")])
    assert out.value == "answer"
    assert [p.is_image for p in seen[-1].content] == [True, False]
    loss = tg.ImageQALoss("Evaluate the answer.", engine=engine)("What is it?", image, out)
    assert loss.value == "answer"


def test_prompts_are_overridable():
    prompts = tg.Prompts()
    names = [t.name for t in tg.Prompts.catalogue()]
    assert "optimizer_system" in names
    prompts.set("optimizer_system", "Improve it. Put it in {start_tag} and {end_tag}.")
    seen = []

    def respond(request):
        seen.append(request.system_prompt)
        return "<IMPROVED_VARIABLE>x</IMPROVED_VARIABLE>"

    engine = tg.ScriptedEngine(respond)
    v = tg.Variable("v", role_description="value")
    v.add_gradient("change it")
    tg.TGD([v], engine=engine, prompts=prompts).step()
    assert seen == ["Improve it. Put it in <IMPROVED_VARIABLE> and </IMPROVED_VARIABLE>."]


def test_data_and_metrics():
    splits = tg.load_builtin_task("object_counting")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (50, 100, 100)
    assert tg.string_metric("Answer: 12", "12") == 1
