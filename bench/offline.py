"""What every bench script sets before importing rag: offline, no telemetry, and no RAG_
settings inherited from the shell (each script sets what it measures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare() -> Path:
    """Put the project and bench/ on sys.path, set the offline environment; returns ROOT."""
    for path in (str(ROOT / "bench"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        del os.environ[name]
    return ROOT
