"""Stage 1 — documents: find files under the corpus folder and extract their text.

Every offset in the system refers to `Document.text`, the extracted text, which the
index stores so that quotes can always be cut from exactly what was indexed.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
import tempfile
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
    """Every file under the corpus folder, sorted; hidden files and the sidecar excluded.

    Unsupported types are listed too, so that ingest reports them instead of silently
    ignoring them. Symlinked folders are not walked into (their content could lie
    anywhere); one that points outside the corpus is listed, so it is reported.
    """
    if not corpus_dir.is_dir():
        raise DocumentError(f"Corpus folder {corpus_dir} does not exist; set RAG_CORPUS_DIR.")
    root = corpus_dir.resolve()
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(corpus_dir):  # followlinks=False
        base = Path(folder)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in dirnames:
            if (base / name).is_symlink() and not (base / name).resolve().is_relative_to(root):
                found.append(base / name)
        found.extend(
            base / name
            for name in filenames
            if not name.startswith(".") and not (base == corpus_dir and name == SIDECAR_NAME)
        )
    return sorted(found)


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


def upload_target(corpus_dir: Path, filename: str) -> Path:
    """Where an uploaded file named `filename` goes: directly inside the corpus folder.

    The name comes from a user, so anything that could point elsewhere is refused:
    path separators, `..`, absolute paths, hidden names, control characters. Of what
    is left, spaces and other odd characters become `_` and the type is lower-cased:
    "My Report (final).PDF" goes to "My_Report__final_.pdf".
    """
    name = filename if isinstance(filename, str) else ""
    shown = repr(name[:80])
    if (
        not name.strip()
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or ".." in name
        or name.startswith(".")
        or any(ord(ch) < 32 for ch in name)
    ):
        raise DocumentError(
            f"upload name {shown} refused: give a plain file name without folders or '..'."
        )
    suffix = Path(name).suffix.lower()
    if name == SIDECAR_NAME or suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"upload name {shown} refused: unsupported file type '{suffix or 'none'}'; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    stem = re.sub(r"\s+", "_", re.sub(r"[^\w.\- ]+", "_", Path(name).stem).strip(" ."))
    if not stem or stem.startswith("."):
        raise DocumentError(f"upload name {shown} refused: not a usable file name.")
    return corpus_dir / f"{stem[:100]}{suffix}"


@dataclass(frozen=True)
class StagedUpload:
    """An upload moved into the corpus folder, and the file it replaced, kept aside
    (hidden) until the upload is indexed: `commit()` drops it, `undo()` puts it back."""

    target: Path
    previous: Path | None = None

    def commit(self) -> None:
        if self.previous is not None:
            self.previous.unlink(missing_ok=True)

    def undo(self) -> None:
        if self.previous is not None:
            os.replace(self.previous, self.target)
        else:
            self.target.unlink(missing_ok=True)


def stage_upload(
    corpus_dir: Path,
    filename: str,
    data: bytes,
    catalog: dict[str, dict[str, str]],
    max_bytes: int,
) -> StagedUpload:
    """Check an upload's name and content, then move it into the corpus folder.

    Nothing lands in the corpus unless it loads as a document: the bytes go to a
    hidden temporary file first (discover() skips hidden files) and replace the
    target atomically only once they read as text. A file of the same name is
    moved aside, not deleted, so that a failed indexing can put it back.
    """
    target = upload_target(corpus_dir, filename)
    if len(data) > max_bytes:
        raise DocumentError(
            f"{target.name}: {_size(len(data))} is over the {_size(max_bytes)} limit "
            "(RAG_MAX_FILE_MB)."
        )
    if not data:
        raise DocumentError(f"{target.name}: the file is empty.")
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", suffix=target.suffix, dir=corpus_dir)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            load_document(temp, corpus_dir, catalog, max_bytes)
        except DocumentError as exc:
            raise DocumentError(str(exc).replace(temp.name, target.name)) from None
        previous = None
        if target.is_symlink() or target.exists():
            # A name of its own: another upload of the same file (this batch or another
            # process) must not overwrite the version this one would put back.
            previous = target.with_name(
                f".{target.name}.{temp.stem.removeprefix('.upload-')}.previous"
            )
            os.replace(target, previous)  # moves a symlink itself, never what it points to
        os.replace(temp, target)  # replaces a symlink itself, never writes through it
    finally:
        temp.unlink(missing_ok=True)
    return StagedUpload(target, previous)


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
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):  # a FIFO or device would block or never end
        raise DocumentError(f"{source}: not a regular file; not read.")
    size = status.st_size
    if size > max_bytes:
        shown, limit = _size(size), _size(max_bytes)
        if shown == limit:  # rounding hid the difference
            shown, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
        raise DocumentError(f"{source}: {shown} is over the {limit} limit (RAG_MAX_FILE_MB).")
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


def _size(n: int) -> str:
    """A byte count for messages: MB for large sizes, exact bytes where MB would read 0.0."""
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


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
    """Visible text of an HTML page: block elements end lines, table rows become
    markdown-style rows ("| cell | cell |") so chunking treats them as table rows."""

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
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "body",
    }
    _SKIP = {"script", "style", "noscript", "template", "title"}
    # What may stand in <head>; any other tag (or visible text) starts the body, because
    # HTML5 lets both </head> and <body> be omitted.
    _HEAD_CONTENT = {"head", "title", "meta", "link", "base", "style", "script", "noscript"}
    _CELLS = {"td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._in_head = False
        self._row_cells: int | None = None  # cells seen in the open <tr>, None outside rows

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "head":
            self._in_head = True
        elif self._in_head and tag not in self._HEAD_CONTENT:
            self._in_head = False
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "tr":
            self._end_row()
            self.parts.append("\n")
            self._row_cells = 0
        elif tag in self._CELLS:
            if self._row_cells is None:  # a cell outside any <tr>
                self.parts.append("\n")
                self._row_cells = 0
            self.parts.append("| " if self._row_cells == 0 else " | ")
            self._row_cells += 1
        elif tag in self._BLOCK:
            self._block_break()

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        # <br/> and friends: a start without content; no end tag follows.
        if tag not in self._SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "tr":
            self._end_row()  # the next row's start tag begins its line: rows stay adjacent
        elif tag == "table":
            self._end_row()
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self._block_break()

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._in_head:
            if not data.strip():
                return
            self._in_head = False  # visible text implies the body has begun
        self.parts.append(data.replace("\n", " ") if self._row_cells is not None else data)

    def _block_break(self) -> None:
        # Inside a table row a line break would split the row, so blocks become spaces.
        self.parts.append(" " if self._row_cells is not None else "\n")

    def _end_row(self) -> None:
        if self._row_cells:
            self.parts.append(" |")
        self._row_cells = None


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


SUBJECT_WORDS = 6


def subject_of(title: str) -> str:
    """The title, when it names what the whole document is about ("tmux (Debian package)",
    "space-cadet keyboard", "torch.nn.GroupNorm (class)"), else "": a headline ("China's
    Top AI Researchers Are Concerned About ...") makes a claim and names no subject."""
    name = re.sub(r"\([^)]*\)", " ", title)
    return title if len(name.split()) <= SUBJECT_WORDS else ""


def _guess_title(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return path.stem
