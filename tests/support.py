"""Facts about the seed corpus and helpers shared by the tests (no fixtures here)."""

from __future__ import annotations

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


def copy_corpus(dest: Path) -> Path:
    """A writable copy of the seed corpus (the originals are read-only files)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in CORPUS.iterdir():
        if path.is_file():
            target = dest / path.name
            shutil.copyfile(path, target)
            target.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    return dest
