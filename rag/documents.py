"""Stage 1 — documents: find files under the corpus folder and extract their text.

Every offset in the system refers to `Document.text`, the extracted text, which the
index stores so that quotes can always be cut from exactly what was indexed.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

from rag.errors import DocumentError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
SIDECAR_NAME = "sources.yaml"


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    text: str
    description: str = ""
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", text_hash(self.text))


@dataclass
class DocumentBatch:
    documents: list[Document] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def load_catalog(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """Titles and descriptions from the optional sidecar `sources.yaml`."""
    path = corpus_dir / SIDECAR_NAME
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DocumentError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DocumentError(f"{path} must map file names to {{title, description}}")
    return {str(k): dict(v or {}) for k, v in data.items()}


def discover(corpus_dir: Path) -> list[Path]:
    """Every supported file under the corpus folder, sorted, the sidecar excluded."""
    if not corpus_dir.is_dir():
        raise DocumentError(f"Corpus folder {corpus_dir} does not exist; set RAG_CORPUS_DIR.")
    return sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
    )


def source_name(path: Path, corpus_dir: Path) -> str:
    """The document's id: its path relative to the corpus folder.

    Raises DocumentError for a path that resolves outside the corpus (a symlink
    to a system file, an upload named with ../), so such a file is never read.
    """
    if not path.resolve().is_relative_to(corpus_dir.resolve()):
        raise DocumentError(f"{path} lies outside the corpus folder {corpus_dir}; not read.")
    lexical = Path(os.path.normpath(path.absolute()))
    root = Path(os.path.normpath(corpus_dir.absolute()))
    if not lexical.is_relative_to(root):
        raise DocumentError(f"{path} lies outside the corpus folder {corpus_dir}; not read.")
    return lexical.relative_to(root).as_posix()


def load_document(
    path: Path, corpus_dir: Path, catalog: dict[str, dict[str, str]], max_bytes: int
) -> Document:
    source = source_name(path, corpus_dir)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{source}: unsupported file type '{suffix or 'none'}'; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(
            f"{source}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit "
            "(RAG_MAX_FILE_MB)."
        )
    raw = path.read_bytes()
    if suffix == ".pdf":
        text = _pdf_text(raw, source)
    else:
        text = decode_text(raw, source)
        if suffix in (".html", ".htm"):
            text = html_to_text(text)
    if not text.strip():
        raise DocumentError(f"{source}: the file holds no text.")
    meta = catalog.get(source, {})
    title = str(meta.get("title") or _guess_title(text, path))
    return Document(
        source=source, title=title, text=text, description=str(meta.get("description", ""))
    )


def decode_text(raw: bytes, source: str) -> str:
    """UTF-8 first; cp1252/latin-1 text is still text. Binary content is refused."""
    if b"\x00" in raw[:8192]:
        raise DocumentError(f"{source}: looks like a binary file (NUL bytes), not text.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text[:8192]) // 20):
        raise DocumentError(f"{source}: looks like a binary file, not text.")
    # One newline convention keeps offsets stable across platforms.
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _TextExtractor(HTMLParser):
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "title",
    }
    _SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    title = re.search(r"<title[^>]*>(.*?)</title>", markup, re.I | re.S)
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    body = "".join(parser.parts)
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in body.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if title and html.unescape(title.group(1)).strip() and not text:
        return html.unescape(title.group(1)).strip()
    return text


def _pdf_text(raw: bytes, source: str) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise DocumentError(f"{source}: unreadable PDF ({exc}).") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _guess_title(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return path.stem
