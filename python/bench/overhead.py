"""Per-call overhead of the Python bindings against the C++ library, at 0 ms per answer.

Runs workload (b) (prompt optimization, 10 calls per step) against a local OpenAI-shaped
server, once from C++ (textgrad-fake-openai --client, a separate process) and once from Python
through textgrad_cpp, with the same engine stack, and reports the client's CPU time per call
(user + sys) and the wall time per call. --serial sends one request at a time (an engine
limit of 1 in flight and concurrency 1), the setting of the reference's published 1.5-2.5 ms
per call overhead.

    PYTHONPATH=build/python python3 python/bench/overhead.py \
        build/python/tests/textgrad-fake-openai [--steps 30] [--runs 5] [--serial]

--threads instead runs workload (a) 8 times with 100 ms answers, from one Python thread and
from 8 threads at once, and reports both wall times.
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))

import textgrad_cpp as tg  # noqa: E402
from workloads import run_prompt_workload, run_solution_workload  # noqa: E402


def start_server(binary, *args):
    server = subprocess.Popen(
        [binary, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    port = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{port}"


def python_run(base_url, steps, serial):
    engine = tg.engine.make_engine("openai/gpt-4o", _options(base_url))
    if serial:
        engine = tg.with_limits(engine, max_in_flight=1)
    concurrency = 1 if serial else 8
    run_prompt_workload(engine, steps=1, concurrency=concurrency)  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    run_prompt_workload(engine, steps=steps, concurrency=concurrency)
    return {"calls": 10 * steps, "cpu_s": time.process_time() - cpu,
            "wall_s": time.perf_counter() - wall}


def cpp_run(binary, base_url, steps, serial):
    args = [binary, "--client", base_url, "--steps", str(steps)] + (["--serial"] if serial else [])
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def _options(base_url):
    options = tg.EngineOptions()
    options.api_key = "fake-python-test-key-0123"
    options.base_url = base_url + "/v1"
    return options


def threads_run(binary, runs):
    server, base_url = start_server(binary, "--delay-ms", "100")
    try:
        engine = tg.engine.make_engine("openai/gpt-4o", _options(base_url))
        one, eight = [], []
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(8):
                run_solution_workload(engine)
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: run_solution_workload(engine), range(8)))
            eight.append(time.perf_counter() - start)
    finally:
        server.stdin.close()
        server.wait()
    a, b = statistics.median(one), statistics.median(eight)
    print(f"workload (a) x 8, 100 ms answers, median of {runs} runs: one thread {a:.2f} s, "
          f"8 threads {b:.2f} s ({a / b:.1f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server_binary")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serial", action="store_true")
    parser.add_argument("--threads", action="store_true")
    args = parser.parse_args()
    if args.threads:
        return threads_run(args.server_binary, args.runs)
    server, base_url = start_server(args.server_binary)
    try:
        results = {"C++": [], "Python": []}
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            results["C++"].append(cpp_run(args.server_binary, base_url, args.steps, args.serial))
            results["Python"].append(python_run(base_url, args.steps, args.serial))
    finally:
        server.stdin.close()
        server.wait()
    mode = "serial" if args.serial else "concurrent (8)"
    print(f"workload (b), {args.steps} steps x 10 calls, 0 ms answers, {mode}, "
          f"median of {args.runs} runs")
    medians = {}
    for name, runs in results.items():
        cpu = statistics.median(r["cpu_s"] / r["calls"] * 1e6 for r in runs)
        wall = statistics.median(r["wall_s"] / r["calls"] * 1e3 for r in runs)
        medians[name] = (cpu, wall)
        print(f"  {name:7s} client CPU {cpu:7.1f} us/call   wall {wall:6.3f} ms/call")
    print(f"  Python/C++ CPU per call: {medians['Python'][0] / medians['C++'][0]:.2f}x, "
          f"extra {medians['Python'][0] - medians['C++'][0]:.1f} us/call")


if __name__ == "__main__":
    main()
