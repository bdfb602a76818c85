"""Errors reach Python as exceptions with the library's messages."""

import pytest

import textgrad_cpp as tg
from workloads import run_solution_workload


def scripted(request):
    if request.phase == tg.Phase.update:
        return "<IMPROVED_VARIABLE>new</IMPROVED_VARIABLE>"
    return "fine"


def test_python_metric_raising_names_the_node():
    engine = tg.ScriptedEngine(scripted)

    def broken_metric(prediction, ground_truth_answer):
        raise ValueError("cannot compare " + ground_truth_answer.value)

    metric = tg.StringBasedFunction(broken_metric, "checks the prediction")
    prediction = tg.Variable("Answer: 4", role_description="prediction")
    truth = tg.Variable("4", role_description="correct answer", requires_grad=False)
    score = metric(inputs=dict(prediction=prediction, ground_truth_answer=truth),
                   response_role_description="score of the prediction")
    with pytest.raises(tg.Error, match=r"StringBasedFunction 'score of the prediction'.*"
                       r"ValueError: cannot compare 4"):
        score.value
    with pytest.raises(tg.BackwardError) as failure:
        tg.sum([score]).backward(engine)
    assert "score of the prediction" in str(failure.value)
    assert "ValueError: cannot compare 4" in str(failure.value)


def test_metric_returning_a_float_is_rejected_with_a_clear_message():
    metric = tg.StringBasedFunction(lambda x: 0.5, "returns a float")
    out = metric(inputs=dict(x=tg.Variable("a", role_description="input")))
    with pytest.raises(tg.Error, match="must return a str or an int, not float"):
        out.value


def test_python_engine_raising_reaches_the_caller():
    class Broken(tg.EngineLM):
        def generate(self, prompt, system_prompt=None, **kwargs):
            raise RuntimeError("model is down")

    answer = tg.BlackboxLLM(Broken())(tg.Variable("hi", role_description="question",
                                                  requires_grad=False))
    with pytest.raises(tg.Error, match="generate\\(\\) raised RuntimeError: model is down"):
        answer.value


def test_engine_errors_carry_their_kind():
    # Nothing listens on port 9 (discard) on 127.0.0.1: the connection is refused.
    engine = tg.get_engine("openai/gpt-4o", api_key="fake-key-0123456789",
                           base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(tg.EngineError) as failure:
        engine.generate("hello")
    assert failure.value.kind == "connection"
    assert "fake-key-0123456789" not in str(failure.value)


def test_no_engine_and_no_default_engine_says_what_to_do():
    with pytest.raises(tg.InvalidArgument, match="set_backward_engine"):
        tg.TextLoss("Evaluate.")
    with pytest.raises(ValueError):  # InvalidArgument is also a ValueError
        tg.TextLoss("Evaluate.")


def test_bad_variables_are_refused():
    with pytest.raises(tg.InvalidArgument, match="role_description"):
        tg.Variable("text")
    with pytest.raises(tg.InvalidArgument, match="ambiguous"):
        tg.Variable(0.5, role_description="number")
    with pytest.raises(tg.InvalidArgument, match="requires_grad=False"):
        tg.Variable(b"\x89PNG\r\n\x1a\n....", role_description="image")
    assert tg.Variable(42, role_description="number").value == "42"


def test_unknown_engine_name_is_an_invalid_argument():
    with pytest.raises(tg.InvalidArgument):
        tg.get_engine("no-such-provider/model-x")


def test_backward_engine_is_set_once_unless_overridden():
    first = tg.ScriptedEngine(scripted)
    tg.set_backward_engine(first)
    with pytest.raises(tg.Error, match="override=True"):
        tg.set_backward_engine(tg.ScriptedEngine(scripted))
    tg.set_backward_engine(first, override=True)
    run_solution_workload(None, steps=1)
    assert first.calls == 3
