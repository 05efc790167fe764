"""The embedding backends (RAG_EMBED_BACKEND) with the real bundled model: the ONNX export,
its cache, its vectors against torch's, and the identity an index records."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import embeddings
from rag.embeddings import (
    IDENTITIES,
    Embedder,
    ModelExportError,
    WordTable,
    ensure_onnx,
    ensure_word_table,
    onnx_folder,
    vocabulary_words,
    weights_digest,
)
from rag.index import EmbeddingMismatchError
from tests.support import CORPUS, DOC_003, LIN_YUN_QUESTION, ROOT, SEED_SOURCES

pytestmark = pytest.mark.slow

LIN_YUN_QUOTE = (
    "Lin Yun, a professor at Shanghai Jiao Tong University specialising in AI and computer "
    "security, predicted that hackers may gain a near-term advantage due to AI capabilities."
)


def corpus_sentences() -> list[str]:
    """Every sentence of the seed corpus (a rough split is enough: real text, all lengths)."""
    text = "\n".join((CORPUS / name).read_text(encoding="utf-8") for name in SEED_SOURCES)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 1]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    found = corpus_sentences()
    assert len(found) > 60
    return found


@pytest.fixture(scope="module")
def torch_vectors(sentences: list[str]) -> np.ndarray:
    return Embedder(batch_size=16, backend="torch").encode(sentences)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)  # both unit length


def test_onnx_gives_torchs_vectors(sentences: list[str], torch_vectors: np.ndarray) -> None:
    onnx = Embedder(batch_size=16, backend="onnx").encode(sentences)
    assert onnx.shape == torch_vectors.shape == (len(sentences), embeddings.EMBEDDING_DIM)
    assert onnx.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    worst = float(cosines(onnx, torch_vectors).min())
    print(f"onnx fp32 vs torch: min cosine {worst:.7f} over {len(sentences)} sentences")
    assert worst >= 0.9999
    # Same identity: an index built by either is queried by the other.
    assert IDENTITIES["onnx"] == IDENTITIES["torch"]


def test_onnx_truncates_like_torch_at_max_seq_length(torch_vectors: np.ndarray) -> None:
    # Longer than the model's 256 tokens and than tokenizer.json's own 128-token cut.
    long_text = " ".join(corpus_sentences()[:40])
    texts = [long_text, "Short.", long_text[:700]]
    onnx = Embedder(backend="onnx").encode(texts)
    torch = Embedder(backend="torch").encode(texts)
    assert float(cosines(onnx, torch).min()) >= 0.9999


def test_int8_is_close_to_torch_but_another_identity(
    sentences: list[str], torch_vectors: np.ndarray
) -> None:
    int8 = Embedder(batch_size=16, backend="onnx-int8").encode(sentences)
    found = cosines(int8, torch_vectors)
    print(f"onnx-int8 vs torch: min cosine {found.min():.4f}, mean {found.mean():.4f}")
    assert found.min() >= 0.97 and found.mean() >= 0.99
    assert found.mean() < 0.9999  # really different numbers: hence its own identity
    assert IDENTITIES["onnx-int8"] != IDENTITIES["torch"]


def test_an_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="RAG_EMBED_BACKEND is one of torch, onnx, onnx-int8"):
        Embedder(backend="tensorflow")


# ---- export and cache -----------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """A real export into an empty cache folder (what a fresh machine does once)."""
    cache = tmp_path_factory.mktemp("model-cache")
    return cache, ensure_onnx(cache, int8=True)


def test_export_writes_both_files_atomically(exported) -> None:
    cache, files = exported
    assert files.fp32.is_file() and files.int8.is_file()
    assert files.folder.parent == cache
    assert sorted(p.name for p in files.folder.iterdir()) == [
        "export.json",
        "model-int8.onnx",
        "model.onnx",
    ]  # no temporary file left behind
    record = json.loads((files.folder / "export.json").read_text())
    assert record["versions"]["torch"] and record["versions"]["onnxruntime"]
    assert files.int8.stat().st_size < files.fp32.stat().st_size


def test_a_second_call_does_not_export_again(exported, monkeypatch, caplog) -> None:
    cache, files = exported
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files.folder.iterdir()}

    def must_not_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(embeddings, "export_onnx", must_not_export)
    with caplog.at_level(logging.INFO, logger="rag.embeddings"):
        again = ensure_onnx(cache, int8=True)
        vector = Embedder(backend="onnx-int8", cache_dir=cache).encode_one(LIN_YUN_QUESTION)
    assert again == files
    assert vector.shape == (embeddings.EMBEDDING_DIM,)
    assert "Exporting" not in caplog.text
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files.folder.iterdir()}
    assert after == before


def test_a_missing_file_is_exported_on_first_use_with_a_log_line(
    exported, monkeypatch, caplog
) -> None:
    cache, files = exported
    int8_before = files.int8.stat().st_mtime_ns
    files.fp32.unlink()
    with caplog.at_level(logging.WARNING, logger="rag.embeddings"):
        vector = Embedder(backend="onnx", cache_dir=cache).encode_one(LIN_YUN_QUESTION)
    assert "Exporting the embedding model to ONNX" in caplog.text
    assert files.fp32.is_file()
    assert files.int8.stat().st_mtime_ns == int8_before  # only what was missing
    reference = Embedder(backend="torch").encode_one(LIN_YUN_QUESTION)
    assert float(vector @ reference) >= 0.9999


def test_the_cache_folder_follows_the_weights(tmp_path: Path) -> None:
    real = Path(embeddings.model_path())
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"not the same weights")
    cache = tmp_path / "cache"
    assert onnx_folder(cache, real) != onnx_folder(cache, other)
    assert onnx_folder(cache, real) == onnx_folder(cache, real)
    # The digest is remembered: the next cold start does not hash 90 MB again.
    memo = json.loads((cache / "digests.json").read_text())
    assert weights_digest(real, cache) in memo.values()


def test_a_failed_export_is_a_typed_error_naming_the_fix(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(ModelExportError, match="RAG_EMBED_BACKEND=torch"):
        ensure_onnx(blocked)


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter from the project root (what a user's command line starts)."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_rag_export_model_reuses_the_cache(exported) -> None:
    cache, files = exported
    # A small word table made first: the command must reuse it too (the whole
    # vocabulary, what `make install` embeds, takes half a minute).
    table = ensure_word_table(Embedder(cache_dir=cache), words=TABLE_WORDS)
    env = {**os.environ, "RAG_MODEL_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    done = _python(["-m", "rag.cli", "export-model"], env)
    assert done.returncode == 0, done.stderr
    assert str(files.fp32) in done.stdout and str(files.int8) in done.stdout
    assert f"word vectors: {table}" in done.stdout
    assert "Exporting" not in done.stderr
    assert len(WordTable.load(table)) == len(TABLE_WORDS)


# ---- the machine's table of vocabulary words --------------------------------------------

TABLE_WORDS = ["hackers", "attackers", "predicted", "advantage"]


def test_the_vocabulary_is_the_models_whole_words() -> None:
    words = vocabulary_words()
    assert 20_000 < len(words) < 30_522
    assert {"attackers", "predicted", "professor"} <= set(words)
    assert "hackers" not in words  # two word pieces (hack ##ers): embedded at ingest
    assert not [w for w in words if not w.isalpha() or len(w) < 2 or w != w.lower()]


def test_words_in_the_machines_table_are_read_not_embedded_at_ingest(
    exported, corpus_copy: Path, make_assistant
) -> None:
    cache, _ = exported
    ensure_word_table(Embedder(cache_dir=cache), words=TABLE_WORDS)
    assistant = make_assistant(corpus_copy, model_cache_dir=cache)
    report = assistant.ingest()
    assert sorted(report.added) == sorted(SEED_SOURCES) and report.words_embedded > 0
    index = assistant.index
    # The table's words are not stored again in the index; other corpus words are.
    assert index._words.get(ids=TABLE_WORDS, include=[])["ids"] == []
    assert index._words.get(ids=["shanghai", "professor"], include=[])["ids"] != []
    # Answers still find them, as the model makes them.
    found = index.word_vectors([*TABLE_WORDS, "professor", "qwertyuiop"])
    assert set(found) == {*TABLE_WORDS, "professor"}
    expected = assistant.embedder.encode(TABLE_WORDS)
    assert np.min(np.sum(np.stack([found[w] for w in TABLE_WORDS]) * expected, axis=1)) > 0.9999
    answer = assistant.ask(LIN_YUN_QUESTION)
    assert not answer.refused and DOC_003 in {c.source for c in answer.citations}


def test_a_half_written_or_mismatched_word_table_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "words-fp32-v1.npy"
    np.save(path, np.zeros((2, 384), dtype=np.float32))
    assert WordTable.load(path) is None  # no words file: killed before it was written
    path.with_suffix(".json").write_text(json.dumps(["one", "two", "three"]))
    assert WordTable.load(path) is None  # three words, two rows
    path.with_suffix(".json").write_text(json.dumps(["one", "two"]))
    table = WordTable.load(path)
    assert table is not None and "two" in table and set(table.get(["two", "six"])) == {"two"}


# ---- the index records which vectors it holds ------------------------------------------


def test_an_index_is_never_queried_with_another_variants_vectors(
    corpus_copy: Path, make_assistant
) -> None:
    fp32 = make_assistant(corpus_copy, embed_backend="onnx")
    assert sorted(fp32.ingest().added) == sorted(SEED_SOURCES)
    stored = fp32.index.documents()
    assert {d.embedding for d in stored.values()} == {IDENTITIES["onnx"]}

    # torch makes the same vectors: it reads and extends the same index, embeds nothing.
    torch = make_assistant(corpus_copy, embed_backend="torch")
    assert torch.ingest().unchanged == sorted(SEED_SOURCES)
    assert not torch.ask(LIN_YUN_QUESTION).refused

    # int8 vectors are not fp32 ones: asking is refused with the fix, not answered quietly.
    int8 = make_assistant(corpus_copy, embed_backend="onnx-int8")
    with pytest.raises(EmbeddingMismatchError, match="Run `rag ingest`"):
        int8.ask(LIN_YUN_QUESTION)
    # The next ingest re-embeds every document; no fp32 vector is reused for int8.
    report = int8.ingest()
    assert sorted(report.updated) == sorted(SEED_SOURCES)
    assert report.reused == 0 and report.embedded > 0
    assert {d.embedding for d in int8.index.documents().values()} == {IDENTITIES["onnx-int8"]}
    answer = int8.ask(LIN_YUN_QUESTION)
    assert any(c.quote == LIN_YUN_QUOTE for c in answer.citations)

    # ...and now the fp32 backends are the ones refused.
    with pytest.raises(EmbeddingMismatchError, match="RAG_EMBED_BACKEND=onnx "):
        make_assistant(corpus_copy, embed_backend="onnx").ask(LIN_YUN_QUESTION)


def _record_scans(index) -> list[dict]:
    """Patch this Index's document collection to note each filtered read by identity."""
    scans: list[dict] = []
    collection = index._documents
    read = collection.get

    def noted(*args, **kwargs):
        if "embedding" in json.dumps(kwargs.get("where") or {}):
            scans.append(kwargs["where"])
        return read(*args, **kwargs)

    collection.get = noted
    return scans


def _forget_identities(index) -> None:
    """Make the state record look as it did before it named the records' identities."""
    index._state.update(ids=["corpus"], metadatas=[{"embeddings": None}])
    assert "embeddings" not in index._state_metadata()


def test_the_state_names_the_records_identities_so_asking_scans_no_records(
    corpus_copy: Path, make_assistant
) -> None:
    make_assistant(corpus_copy, embed_backend="onnx").ingest()
    cold = make_assistant(corpus_copy, embed_backend="onnx")
    assert cold.index._state_metadata()["embeddings"] == IDENTITIES["onnx"]
    scans = _record_scans(cold.index)
    assert not cold.ask(LIN_YUN_QUESTION).refused
    assert scans == []

    # An index from before the state named them is checked by a scan, and its next
    # ingest (with nothing to embed or write) names them, once.
    _forget_identities(cold.index)
    older = make_assistant(corpus_copy, embed_backend="onnx")
    scans = _record_scans(older.index)
    assert not older.ask(LIN_YUN_QUESTION).refused
    assert len(scans) == 1
    report = older.ingest()
    assert report.unchanged == sorted(SEED_SOURCES) and report.embedded == 0
    assert older.index._state_metadata()["embeddings"] == IDENTITIES["onnx"]
    after = make_assistant(corpus_copy, embed_backend="onnx")
    scans = _record_scans(after.index)
    assert not after.ask(LIN_YUN_QUESTION).refused
    assert scans == []

    # int8 records beside fp32 ones (an ingest of some files with the other backend):
    # the state names both, and both backends' asks are refused.
    extra = corpus_copy / "extra.md"
    extra.write_text("# Extra\n\nThe int8 backend wrote this note about tokens.\n")
    int8 = make_assistant(corpus_copy, embed_backend="onnx-int8")
    assert int8.ingest([extra]).added == ["extra.md"]
    named = int8.index._state_metadata()["embeddings"].split()
    assert sorted(named) == sorted({IDENTITIES["onnx"], IDENTITIES["onnx-int8"]})
    with pytest.raises(EmbeddingMismatchError):
        make_assistant(corpus_copy, embed_backend="onnx").ask(LIN_YUN_QUESTION)
    with pytest.raises(EmbeddingMismatchError):
        make_assistant(corpus_copy, embed_backend="onnx-int8").ask(LIN_YUN_QUESTION)


# ---- a cold `rag ask` loads none of the heavy libraries ---------------------------------

_COLD_ASK = """
import json, sys
from rag import Assistant
answer = Assistant(corpus_dir=sys.argv[1], index_dir=sys.argv[2]).ask(sys.argv[3])
heavy = ("torch", "transformers", "sentence_transformers", "nltk", "gradio", "openai",
         "llama_index.core", "llama_index.vector_stores", "bm25s", "scipy")
print(json.dumps({
    "loaded": sorted(m for m in heavy if m in sys.modules),
    "quotes": [[c.source, c.quote] for c in answer.citations],
}))
"""


def test_ask_with_onnx_answers_without_torch_nltk_scipy_or_llama_index(
    corpus_copy: Path, make_assistant, tmp_path: Path
) -> None:
    make_assistant(corpus_copy).ingest()  # the default backend: onnx
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"RAG_EMBED_BACKEND": "onnx", "HF_HUB_OFFLINE": "1"}
    done = _python(
        ["-c", _COLD_ASK, str(corpus_copy), str(tmp_path / "index"), LIN_YUN_QUESTION], env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert [DOC_003, LIN_YUN_QUOTE] in result["quotes"]
