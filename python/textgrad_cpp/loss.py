"""Losses, under the reference's module name ``textgrad.loss``."""

from ._textgrad_cpp import (
    ImageQALoss,
    MultiChoiceTestTime,
    MultiFieldEvaluation,
    MultiFieldTokenParsedEvaluation,
    TextLoss,
)

__all__ = [
    "ImageQALoss",
    "MultiChoiceTestTime",
    "MultiFieldEvaluation",
    "MultiFieldTokenParsedEvaluation",
    "TextLoss",
]
