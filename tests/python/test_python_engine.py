"""A Python class implementing generate() serves forward, backward and update calls."""

import textgrad_cpp as tg
from workloads import run_chain_workload, run_prompt_workload, run_solution_workload


class RecordingModel(tg.EngineLM):
    """Answers like the fake server, recording (phase-free) what it was asked."""

    def __init__(self):
        self.calls = []

    def generate(self, prompt, system_prompt=None, **kwargs):
        self.calls.append((system_prompt or "", prompt, kwargs))
        if "optimization system that improves text" in (system_prompt or ""):
            return "<IMPROVED_VARIABLE>better value</IMPROVED_VARIABLE>"
        text = prompt if isinstance(prompt, str) else " ".join(p for p in prompt if isinstance(p, str))
        if "ACCURACY" in text:
            return "<ACCURACY>1</ACCURACY>"
        if "feedback engine" in (system_prompt or ""):
            return "Be more explicit."
        return "Reasoning. Answer: 4"


def test_python_engine_serves_every_kind_of_call():
    model = RecordingModel()
    answer = run_solution_workload(model, steps=2)
    assert len(model.calls) == 6
    assert answer.value == "better value"
    kinds = [system for system, _, _ in model.calls]
    assert sum("feedback engine" in s for s in kinds) == 2
    assert sum("optimization system that improves text" in s for s in kinds) == 2


def test_python_engine_matches_the_reference_call_counts():
    model = RecordingModel()
    assert run_prompt_workload(model, steps=1).value == "better value"
    assert len(model.calls) == 10
    assert run_prompt_workload(model, steps=1, llm_judge=True).value == "better value"
    assert len(model.calls) == 23
    run_chain_workload(model, steps=1)
    assert len(model.calls) == 32


def test_native_engines_are_callable_like_the_reference(server):
    engine = server.engine()
    assert engine("What is 2+2?", system_prompt="Be brief.").startswith("Reasoning")
    assert engine.generate("What is 2+2?", temperature=0.5, max_tokens=10).endswith("Answer: 4")
    assert server.stats()["requests"] == 2


def test_scripted_engine_sees_phases():
    phases = []

    def respond(request):
        phases.append(request.phase)
        if request.phase == tg.Phase.update:
            return "<IMPROVED_VARIABLE>done</IMPROVED_VARIABLE>"
        return "ok"

    engine = tg.ScriptedEngine(respond)
    run_solution_workload(engine, steps=1)
    assert phases == [tg.Phase.loss, tg.Phase.backward, tg.Phase.update]
    assert engine.calls == 3
