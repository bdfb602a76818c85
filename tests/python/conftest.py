"""Fixtures: a local OpenAI-shaped server (textgrad-fake-openai) per test, and engines on it."""

import json
import os
import subprocess
import urllib.request

import pytest

import textgrad_cpp as tg

FAKE_SERVER = os.environ.get("TEXTGRAD_FAKE_OPENAI", "")
FAKE_KEY = "fake-python-test-key-0123"


class FakeServer:
    """textgrad-fake-openai in a child process; stops when its stdin closes."""

    def __init__(self, *args):
        if not FAKE_SERVER:
            pytest.fail("TEXTGRAD_FAKE_OPENAI is not set: run the suite through ctest")
        self.process = subprocess.Popen(
            [FAKE_SERVER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline().split()
        assert line and line[0] == "PORT", f"the fake server did not start: {line}"
        self.port = int(line[1])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def stats(self):
        with urllib.request.urlopen(self.base_url + "/_stats") as reply:
            return json.loads(reply.read())

    def reset(self):
        request = urllib.request.Request(self.base_url + "/_reset", data=b"{}", method="POST")
        urllib.request.urlopen(request).read()

    def engine(self, **options):
        return tg.get_engine(
            "openai/gpt-4o", api_key=FAKE_KEY, base_url=self.base_url + "/v1", **options
        )

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def fake_server():
    servers = []

    def start(*args):
        server = FakeServer(*args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def server(fake_server):
    return fake_server()


@pytest.fixture(autouse=True)
def no_default_engine():
    tg.config._reset_backward_engine()
    yield
    tg.config._reset_backward_engine()
