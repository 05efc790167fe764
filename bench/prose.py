"""A corpus of real prose without a download: encyclopedia entries and package descriptions.

bench/corpus.py's docstrings are code documentation; the documents a user mixes with the
seed articles are more likely prose (news, encyclopedia pages), some about computing,
security or AI, the articles' own subject. This draws, in a fixed shuffled order:

- entries of FOLDOC, the Free On-line Dictionary of Computing (Debian's `dict-foldoc`,
  `apt-get install dict-foldoc`; skipped when it is not installed): encyclopedic prose on
  computing, AI, hackers, security, people and places;
- the long descriptions of the installed Python packages (their METADATA files);
- the README files of the installed Debian packages (/usr/share/doc/*/README*).

Nobody here wrote any of it. Every size is a prefix of the larger ones, as in corpus.py.

    python bench/prose.py 500 /tmp/prose-500
"""

from __future__ import annotations

import email
import gzip
import random
import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from corpus import GeneratedDocument, _clip, command_line, first_documents, write_documents

FOLDOC = Path("/usr/share/dictd/foldoc")
MIN_CHARS = 600  # shorter entries are one-line definitions, not prose
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
SHARES = (("foldoc", 3), ("metadata", 1), ("readme", 1))  # documents per round, per source


def _b64(text: str) -> int:
    number = 0
    for char in text:
        number = number * 64 + _B64.index(char)
    return number


def _paragraphs(text: str) -> str:
    """Hard-wrapped lines joined into paragraphs; blank lines kept as paragraph breaks."""
    parts = [" ".join(line.strip() for line in p.splitlines()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in parts if p)


def foldoc() -> Iterator[GeneratedDocument]:
    index, data = FOLDOC.with_suffix(".index"), FOLDOC.with_suffix(".dict.dz")
    if not (index.is_file() and data.is_file()):
        return
    raw = gzip.decompress(data.read_bytes())  # dictzip is gzip with an index in its header
    entries = []
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and not parts[0].startswith("00-database"):
            entries.append((parts[0], _b64(parts[1]), _b64(parts[2])))
    random.Random(20261126).shuffle(entries)
    seen = set()
    for headword, offset, length in entries:
        if offset in seen:  # several headwords share one entry
            continue
        seen.add(offset)
        body = raw[offset : offset + length].decode("utf-8", errors="replace")
        body = body.split("\n", 1)[1] if "\n" in body else body  # the headword line
        body = re.sub(r"\{([^{}|]*)\|?[^{}]*\}", r"\1", body)  # {cross reference} -> text
        body = re.sub(r"\(\d{4}-\d{2}-\d{2}\)\s*$", "", body.strip())  # the edit date
        text = _paragraphs(body)
        if len(text) >= MIN_CHARS:
            yield GeneratedDocument(headword, "FOLDOC entry", _clip(text))


def metadata() -> Iterator[GeneratedDocument]:
    folder = Path(sysconfig.get_paths()["purelib"])
    files = sorted(folder.glob("*.dist-info/METADATA"))
    random.Random(20261126).shuffle(files)
    for path in files:
        message = email.message_from_bytes(path.read_bytes())
        body = message.get_payload()
        if not isinstance(body, str):
            continue
        # Markdown and reStructuredText: drop code blocks, badges, links' targets.
        body = re.sub(r"```.*?```", "", body, flags=re.S)
        body = re.sub(r"!\[[^\]]*\]\([^)]*\)|\[!\[.*?\]\(.*?\)\]\(.*?\)", "", body)
        body = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", body)
        body = re.sub(r"<[^>]+>", "", body)
        text = _paragraphs(body)
        if len(text) >= 2 * MIN_CHARS and re.search(r"[a-z]{3} [a-z]{3}", text):
            name = str(message.get("Name", path.parent.name))
            yield GeneratedDocument(name, "Python package", _clip(text))


def readmes() -> Iterator[GeneratedDocument]:
    files = sorted(Path("/usr/share/doc").glob("*/README*"))
    random.Random(20261126).shuffle(files)
    packages = set()
    for path in files:
        if path.parent.name in packages:  # one README per package
            continue
        try:
            raw = path.read_bytes()
            text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        text = _paragraphs(text)
        if len(text) >= 2 * MIN_CHARS:
            packages.add(path.parent.name)
            yield GeneratedDocument(path.parent.name, "Debian package", _clip(text))


def every_document() -> Iterator[GeneratedDocument]:
    """Every document, in the fixed order the draws take them in: the sources in turn."""
    sources = {"foldoc": foldoc(), "metadata": metadata(), "readme": readmes()}
    seen: set[str] = set()
    while sources:
        for name, share in SHARES:
            for _ in range(share):
                found = sources.get(name)
                doc = next(found, None) if found else None
                if doc is None:
                    sources.pop(name, None)
                    break
                if doc.text in seen:
                    continue
                seen.add(doc.text)
                yield doc


def generate(count: int) -> Iterator[GeneratedDocument]:
    return first_documents(every_document(), count, "prose documents")


def write_corpus(count: int, dest: Path) -> list[GeneratedDocument]:
    return write_documents(list(generate(count)), dest, "prose", 60)


if __name__ == "__main__":
    command_line(write_corpus)
