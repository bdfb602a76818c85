"""The module-level default engine, as in the reference's ``tg.set_backward_engine``.

Only this Python layer keeps a default; the C++ library takes every engine explicitly.
Functions, losses, modules and optimizers created with ``engine=None``, and
``Variable.backward()`` without an engine, use it.
"""

import threading

from ._textgrad_cpp import Error, InvalidArgument

_lock = threading.Lock()
_backward_engine = None


def set_backward_engine(engine, override=False):
    """Sets the default engine. ``engine`` is an engine or a name for :func:`get_engine`.

    Setting it a second time raises unless ``override=True``, as in the reference.
    """
    global _backward_engine
    from .engine import get_engine

    resolved = get_engine(engine) if isinstance(engine, str) else engine
    with _lock:
        if _backward_engine is not None and not override:
            raise Error(
                "a backward engine is already set; pass override=True to replace it"
            )
        _backward_engine = resolved


def get_backward_engine():
    """The engine set with :func:`set_backward_engine`; raises if there is none."""
    with _lock:
        engine = _backward_engine
    if engine is None:
        raise InvalidArgument(
            "no engine given and no backward engine set: pass engine=... or call "
            "textgrad_cpp.set_backward_engine('openai/gpt-4o') first"
        )
    return engine


def _reset_backward_engine():
    """For tests: forget the default engine."""
    global _backward_engine
    with _lock:
        _backward_engine = None
