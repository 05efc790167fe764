"""bench/corpus.py: the question sets' documents are found again by name on a machine whose
packages put them outside the first draws."""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402


def test_a_document_outside_the_draw_is_found_by_its_name(tmp_path: Path) -> None:
    drawn = corpus.write_corpus(5, tmp_path)
    later = list(islice(corpus.every_document(), 40))[-1]
    wanted = {corpus.file_name(later, 80)}

    found = corpus.documents_named(wanted, corpus.every_document, 80)
    corpus.write_documents(found, tmp_path, "gen", 80, first=len(drawn))

    assert found == [later]
    written = tmp_path / f"gen00005_{corpus.file_name(later, 80)}"
    assert written.read_text() == f"{later.title}\n\n{later.text}\n"
    assert [d.name for d in drawn] == [d.name for d in islice(corpus.every_document(), 5)]
