"""Optimizers, under the reference's module name ``textgrad.optimizer``."""

from ._textgrad_cpp import TGD, StepReport, TextualGradientDescent, UpdateOutcome

__all__ = ["TGD", "StepReport", "TextualGradientDescent", "UpdateOutcome"]
