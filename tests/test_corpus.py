"""The project's corpus is a byte-for-byte copy of the shared originals."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus is not beside this checkout")
def test_corpus_matches_shared_originals():
    originals = sorted(p.name for p in SHARED.glob("*.txt"))
    assert originals, "no originals found"
    for name in originals:
        assert (ROOT / "corpus" / name).read_bytes() == (SHARED / name).read_bytes(), name


def test_every_corpus_file_has_a_title():
    import yaml

    catalog = yaml.safe_load((ROOT / "corpus" / "sources.yaml").read_text(encoding="utf-8"))
    for path in (ROOT / "corpus").glob("*.txt"):
        assert catalog[path.name]["title"].strip()
        assert catalog[path.name]["description"].strip()
