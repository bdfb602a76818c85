"""A script written for the reference's API runs unchanged except for its import line."""

import os
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).with_name("reference_tutorial.py")


def test_only_the_import_line_names_this_package():
    lines = [l for l in SCRIPT.read_text().splitlines() if "textgrad_cpp" in l]
    assert lines == ["import textgrad_cpp as tg"]


def test_reference_style_tutorial_runs(server):
    env = dict(os.environ)
    env["OPENAI_API_KEY"] = "fake-tutorial-key-0123"
    env["OPENAI_BASE_URL"] = server.base_url + "/v1"
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = dict(l.split(": ", 1) for l in out.stdout.splitlines() if ": " in l)
    assert lines["Initial answer"].startswith("Reasoning")
    assert lines["Improved answer"].startswith("better value")
    assert lines["Final system prompt"].startswith("better value")
    # shirts: forward, loss, backward, update. Prompt loop, per batch: 3 forward calls, 3
    # feedback calls through the string function, 3 to the system prompt, 1 update.
    assert server.stats()["requests"] == 4 + 2 * (3 + 3 + 3 + 1)
