"""Workloads (a)-(c) through the bindings send the same requests, in the same number, and end
with the same values as the C++ workloads do against the same server."""

import json
import subprocess

import pytest

from conftest import FAKE_SERVER
from workloads import run_chain_workload, run_prompt_workload, run_solution_workload

STEPS = 2


@pytest.fixture(scope="module")
def cpp_reference():
    """The C++ workloads' requests and final values, from the same server program."""
    out = subprocess.run(
        [FAKE_SERVER, "--reference-workloads"], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def check_same_as_cpp(server, reference, calls_per_step):
    stats = server.stats()
    assert stats["requests"] == reference["requests"] == calls_per_step * STEPS
    assert stats["digest"] == reference["digest"], "the Python run sent different requests"
    assert stats["last_update"] == reference["last_update"]
    return stats


def test_solution_optimization_matches_cpp(server, cpp_reference):
    answer = run_solution_workload(server.engine(), steps=STEPS)
    stats = check_same_as_cpp(server, cpp_reference["solution"], 3)
    assert answer.value == stats["last_update"].removeprefix("<IMPROVED_VARIABLE>").removesuffix(
        "</IMPROVED_VARIABLE>"
    )


def test_prompt_optimization_with_python_metric_matches_cpp(server, cpp_reference):
    prompt = run_prompt_workload(server.engine(), steps=STEPS)
    check_same_as_cpp(server, cpp_reference["prompt"], 10)
    assert prompt.value == cpp_reference["prompt"]["final_prompt"]
    assert prompt.value.startswith("better value ")


def test_prompt_optimization_with_llm_judge_matches_cpp(server, cpp_reference):
    prompt = run_prompt_workload(server.engine(), steps=STEPS, llm_judge=True)
    check_same_as_cpp(server, cpp_reference["prompt_judge"], 13)
    assert prompt.value == cpp_reference["prompt_judge"]["final_prompt"]


def test_chain_matches_cpp(server, cpp_reference):
    x = run_chain_workload(server.engine(), steps=STEPS)
    stats = check_same_as_cpp(server, cpp_reference["chain"], 9)
    assert x.value in stats["last_update"]


def test_results_do_not_depend_on_concurrency(fake_server):
    serial, parallel = fake_server(), fake_server()
    a = run_prompt_workload(serial.engine(), steps=STEPS, concurrency=1)
    b = run_prompt_workload(parallel.engine(), steps=STEPS, concurrency=16)
    assert a.value == b.value
    assert serial.stats()["digest"] == parallel.stats()["digest"]


def test_usage_and_cost_are_dicts(server):
    engine = server.engine()
    run_solution_workload(engine, steps=1)
    total = engine.usage()
    assert total["calls"] == 3 and total["errors"] == 0
    assert total["input_tokens"] == 3 * 10 and total["output_tokens"] == 3 * 5
    assert total["cost_usd"] > 0  # gpt-4o is in the shipped price table
    phases = engine.ledger.by_phase()
    assert {phase: t["calls"] for phase, t in phases.items()} == {
        "loss": 1,
        "backward": 1,
        "update": 1,
    }
    stats = engine.stats()
    assert stats["succeeded"] == 3 and stats["usage_by_phase"]["backward"]["input_tokens"] == 10


def test_cache_answers_a_second_run_without_requests(server, tmp_path):
    path = str(tmp_path / "responses.sqlite3")
    first = run_prompt_workload(server.engine(cache=path), steps=1)
    assert server.stats()["requests"] == 10
    engine = server.engine(cache=path)
    second = run_prompt_workload(engine, steps=1)
    assert second.value == first.value
    assert server.stats()["requests"] == 10
    assert engine.usage()["cache_hits"] == 10

