"""textgrad-cpp: automatic differentiation via text, with TextGrad's Python API.

Switch from the reference by changing one line::

    import textgrad_cpp as tg

LLM calls return their output Variable at once and run in the background; reading
``.value`` waits with the GIL released, so Python threads keep their speed. ``backward()``
and ``step()`` run their LLM calls concurrently.
"""

from ._textgrad_cpp import (
    BackwardError,
    BlackboxLLM,
    BudgetExceeded,
    ContentPart,
    EngineError,
    Error,
    Example,
    FormattedLLMCall,
    GatedOptimizer,
    Gradient,
    GradientContext,
    ImageQALoss,
    InvalidArgument,
    LLMCall,
    MultiChoiceTestTime,
    MultiFieldEvaluation,
    MultiFieldTokenParsedEvaluation,
    MultimodalLLMCall,
    Optimizer,
    OrderedFieldsMultimodalLLMCall,
    ParseError,
    Phase,
    PoolEntry,
    Prompts,
    Request,
    Revolve,
    Rollout,
    Search,
    StepReport,
    StringBasedFunction,
    TextLoss,
    TextualGradientDescent,
    TGD,
    UpdateOutcome,
    Variable,
    accuracy,
    aggregate,
    builtin_task_names,
    concat,
    exact_match,
    find_data_dir,
    gate_decision,
    load_builtin_task,
    load_examples,
    parse_integer_answer,
    string_metric,
    sum,
    to_dot,
)
from . import autograd, config, engine, loss, optimizer
from .config import get_backward_engine, set_backward_engine
from .engine import (
    Engine,
    EngineLM,
    EngineOptions,
    Ledger,
    PriceTable,
    ScriptedEngine,
    cache_counters,
    engine_stats,
    get_engine,
    with_cache,
    with_ledger,
    with_limits,
)

__version__ = "0.1.0"
