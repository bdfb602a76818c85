"""Optimizers, under the reference's module name ``textgrad.optimizer``, plus REVOLVE, gates
and GEPA-style search."""

from ._textgrad_cpp import (
    TGD,
    GatedOptimizer,
    Optimizer,
    PoolEntry,
    Revolve,
    Rollout,
    Search,
    StepReport,
    TextualGradientDescent,
    UpdateOutcome,
    gate_decision,
)

__all__ = [
    "TGD",
    "GatedOptimizer",
    "Optimizer",
    "PoolEntry",
    "Revolve",
    "Rollout",
    "Search",
    "StepReport",
    "TextualGradientDescent",
    "UpdateOutcome",
    "gate_decision",
]
