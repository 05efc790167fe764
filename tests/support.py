"""Facts about the seed corpus and helpers shared by the tests (no fixtures here)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

DOC_000 = "000_3352f58531bdc83d.txt"
DOC_002 = "002_e25730024b478408.txt"
DOC_003 = "003_42a55515484a5374.txt"
SEED_SOURCES = (DOC_000, DOC_002, DOC_003)

LIN_YUN_QUESTION = "What did Lin Yun predict about attackers?"


def lin_yun_case():
    """The design-card question as an eval row."""
    from rag.evaluate import EvalCase

    return EvalCase(
        "linyun-attackers",
        LIN_YUN_QUESTION,
        True,
        (DOC_000, DOC_003),
        (("upper hand", "near-term advantage"),),
    )


def write_cases(path: Path, cases) -> Path:
    """EvalCases as a JSONL eval set, the format `rag eval` reads."""
    rows = [
        {
            "id": c.id,
            "question": c.question,
            "turns": list(c.turns),
            "answerable": c.answerable,
            "sources": list(c.sources),
            "facts": [list(g) for g in c.facts],
        }
        for c in cases
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def copy_corpus(dest: Path) -> Path:
    """A writable copy of the seed corpus (the originals are read-only files)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in CORPUS.iterdir():
        if path.is_file():
            target = dest / path.name
            shutil.copyfile(path, target)
            target.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    return dest
