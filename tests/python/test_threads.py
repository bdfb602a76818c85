"""Waiting on an LLM releases the GIL: Python threads overlap their requests."""

import concurrent.futures
import threading

import textgrad_cpp as tg
from workloads import run_prompt_workload, run_solution_workload

THREADS = 8


def test_eight_python_threads_run_at_once(fake_server):
    # The server holds the first 8 requests until 8 are in flight. Threads that kept the GIL
    # while waiting would send one request at a time and leave the gate closed.
    server = fake_server("--gate", str(THREADS))
    engine = server.engine()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda _: run_solution_workload(engine, steps=1), range(THREADS)))
    stats = server.stats()
    assert stats["gate_opened"]
    assert stats["peak_in_flight"] >= THREADS
    assert stats["requests"] == 3 * THREADS
    # Same inputs, same answers: every thread ends with the same value.
    assert len({a.value for a in answers}) == 1


def test_python_engine_calls_run_concurrently_off_the_main_thread():
    barrier = threading.Barrier(3, timeout=30)
    threads = set()

    class Model(tg.EngineLM):
        model_string = "python-model"

        def generate(self, prompt, system_prompt=None, **kwargs):
            threads.add(threading.get_ident())
            if "optimization system that improves text" in (system_prompt or ""):
                return "<IMPROVED_VARIABLE>better prompt</IMPROVED_VARIABLE>"
            if "feedback engine" in (system_prompt or ""):
                return "Be more explicit."
            if prompt.startswith("Question"):
                barrier.wait()  # the three forward calls of a batch must be in flight together
            return "Reasoning. Answer: 4"

    engine = Model()
    prompt = run_prompt_workload(engine, steps=1)
    assert prompt.value == "better prompt"
    assert threading.get_ident() not in threads
    assert not barrier.broken
