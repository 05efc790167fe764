"""rag: answers about your documents, every claim with a verbatim, offset-checked quote."""

from rag.answer import REFUSAL, Answer, Citation
from rag.assistant import Assistant
from rag.errors import DocumentError, IndexUnavailableError, RagError, UnknownSourceError
from rag.generate import LLMAnswer
from rag.index import CompactReport, IngestReport
from rag.settings import Settings

__all__ = [
    "REFUSAL",
    "Answer",
    "Assistant",
    "Citation",
    "CompactReport",
    "DocumentError",
    "IndexUnavailableError",
    "IngestReport",
    "LLMAnswer",
    "RagError",
    "Settings",
    "UnknownSourceError",
]
