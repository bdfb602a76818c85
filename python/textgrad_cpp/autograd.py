"""Graph functions, under the reference's module name ``textgrad.autograd``."""

from ._textgrad_cpp import (
    FormattedLLMCall,
    LLMCall,
    MultimodalLLMCall,
    OrderedFieldsMultimodalLLMCall,
    StringBasedFunction,
    aggregate,
    concat,
    sum,
)

__all__ = [
    "FormattedLLMCall",
    "LLMCall",
    "MultimodalLLMCall",
    "OrderedFieldsMultimodalLLMCall",
    "StringBasedFunction",
    "aggregate",
    "concat",
    "sum",
]
