"""Engines: by name with their options (``get_engine``), or written in Python (``EngineLM``)."""

from ._textgrad_cpp import (
    Engine,
    EngineOptions,
    Ledger,
    PriceTable,
    SamplingParams,
    ScriptedEngine,
    cache_counters,
    engine_stats,
    make_engine,
    make_transport,
    with_cache,
    with_ledger,
    with_limits,
)


class EngineLM:
    """Base class for engines written in Python, as in the reference.

    Implement ``generate(prompt, system_prompt=None, **kwargs)`` returning the answer text.
    ``prompt`` is a str, or a list of str and image bytes for multimodal requests; keyword
    arguments are the sampling parameters (temperature, max_tokens, top_p) when a request
    sets them. Such an engine serves forward, backward and update calls.

    The library calls ``generate`` on worker threads of its own (at most
    ``max_concurrency`` at once), holding the GIL only during the call, so ``generate`` may
    block on I/O. Once the library has used an engine object, it keeps it alive.
    """

    model_string = None
    max_concurrency = 8
    is_multimodal = None

    def generate(self, prompt, system_prompt=None, **kwargs):
        raise NotImplementedError("EngineLM subclasses implement generate()")

    def __call__(self, prompt, system_prompt=None, **kwargs):
        return self.generate(prompt, system_prompt=system_prompt, **kwargs)


def _builtin_prices():
    try:
        return PriceTable.builtin()
    except Exception:  # no data directory: costs are then reported as unpriced
        return PriceTable()


def get_engine(
    engine_name,
    *,
    api_key=None,
    base_url=None,
    timeout_s=None,
    max_retries=None,
    temperature=None,
    max_tokens=None,
    top_p=None,
    seed=None,
    extra_headers=None,
    accepts_images=None,
    transport=None,
    cache=False,
    cache_mode="read_write",
    max_in_flight=0,
    requests_per_minute=0,
    tokens_per_minute=0,
    ledger=None,
    prices=None,
    budget_usd=None,
    budget_tokens=None,
):
    """An engine by name: ``"provider/model"`` (``openai/gpt-4o``,
    ``anthropic/claude-sonnet-4-5``, ``ollama/qwen2.5``, ...) or a reference name
    (``gpt-4o``, ``claude-3-5-sonnet-20240620``, ``experimental:gpt-4o``, ...).

    Keys and base URLs default to the provider's environment variables (OPENAI_API_KEY,
    OPENAI_BASE_URL, ANTHROPIC_API_KEY, ...). ``cache``: True for the default cache file, or a
    path; ``cache_mode``: read_write, replay, refresh or off. ``max_in_flight``,
    ``requests_per_minute`` and ``tokens_per_minute`` limit load (0 = unlimited). Every engine
    records its usage and cost in ``engine.ledger`` (a :class:`Ledger`, shared if you pass
    one); ``engine.usage()`` returns the totals as a dict. ``budget_usd`` /
    ``budget_tokens`` set the ledger's budget; call ``engine.ledger.check_budget()`` between
    steps. An engine object (native or :class:`EngineLM`) is returned unchanged.
    """
    if not isinstance(engine_name, str):
        return engine_name
    options = EngineOptions()
    if api_key is not None:
        options.api_key = api_key
    if base_url is not None:
        options.base_url = base_url
    if timeout_s is not None:
        options.timeout_s = timeout_s
    if max_retries is not None:
        options.max_retries = max_retries
    if extra_headers:
        options.extra_headers = list(dict(extra_headers).items())
    if accepts_images is not None:
        options.accepts_images = accepts_images
    if transport is not None:
        options.transport = transport
    sampling = options.sampling
    if temperature is not None:
        sampling.temperature = temperature
    if max_tokens is not None:
        sampling.max_tokens = max_tokens
    if top_p is not None:
        sampling.top_p = top_p
    if seed is not None:
        sampling.seed = seed
    options.sampling = sampling

    http = make_engine(engine_name, options)
    engine = http
    if max_in_flight or requests_per_minute or tokens_per_minute:
        engine = with_limits(engine, max_in_flight, requests_per_minute, tokens_per_minute)
    if cache:
        engine = with_cache(engine, "" if cache is True else str(cache), cache_mode)
    if ledger is None:
        ledger = Ledger(prices if prices is not None else _builtin_prices())
    if budget_usd is not None or budget_tokens is not None:
        ledger.set_budget(max_tokens=budget_tokens, max_usd=budget_usd)
    engine = with_ledger(engine, ledger)
    engine.ledger = ledger
    engine.http_engine = http
    return engine


def _usage(self):
    """Totals of this engine's ledger as a dict (calls, tokens, cost_usd, ...), or None."""
    ledger = getattr(self, "ledger", None)
    return ledger.total() if ledger is not None else None


def _stats(self):
    """Requests, retries and usage of the underlying HTTP engine as a dict, or None."""
    return engine_stats(getattr(self, "http_engine", self))


Engine.usage = _usage
Engine.stats = _stats

__all__ = [
    "Engine",
    "EngineLM",
    "EngineOptions",
    "Ledger",
    "PriceTable",
    "SamplingParams",
    "ScriptedEngine",
    "cache_counters",
    "engine_stats",
    "get_engine",
    "make_engine",
    "make_transport",
    "with_cache",
    "with_ledger",
    "with_limits",
]
