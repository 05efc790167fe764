"""A corpus of real text at any size without a download: Python docstrings.

One document per module or class of the standard library and the installed packages
(the .venv's site-packages: torch, transformers, gradio, chromadb, llama-index, ...),
read with `ast` (nothing is imported, nothing runs). Files are visited in a fixed
shuffled order, so every size is a prefix of the larger ones and runs are repeatable.

    python bench/corpus.py 1000 /tmp/corpus-1000
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_CHARS = 300  # shorter docstrings say too little to ask about
MAX_CHARS = 4000  # a few pages; long API references are cut at a paragraph
PER_FILE = 3  # documents taken from one source file, so no package dominates
SKIP_PARTS = {"tests", "test", "testing", "_vendor", "vendored", "idlelib", "lib2to3"}
SKIP_PARTS |= {"site-packages", "dist-packages"}  # under the stdlib root: not the stdlib


@dataclass(frozen=True)
class GeneratedDocument:
    name: str  # dotted name of the module or class
    kind: str  # "module" or "class"
    text: str

    @property
    def title(self) -> str:
        return f"{self.name} ({self.kind})"


def source_files() -> list[tuple[str, Path]]:
    """(dotted module prefix root, file) for the stdlib and the installed packages."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    files: list[tuple[str, Path]] = []
    for root in dict.fromkeys(roots):
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            if any(p in SKIP_PARTS or p.endswith(".dist-info") for p in parts[:-1]) or (
                "kubernetes/client/models" in path.as_posix()  # a thousand generated twins
            ):
                continue
            files.append((str(root), path))
    random.Random(20261126).shuffle(files)
    return files


def _dotted(root: str, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or path.stem


def _unwrap(text: str) -> str:
    """Join the hard-wrapped lines of prose paragraphs (docstrings wrap at ~72 columns);
    code, lists, tables and examples keep their lines."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.split("\n")
        structured = any(
            re.match(r"\s|[-*+|>=~^]|\d+[.)]\s|\.\.\s", line) for line in lines[1:]
        ) or re.match(r"\s|>>>|[-*+|]\s", lines[0])
        paragraphs.append(paragraph if structured else " ".join(x.strip() for x in lines))
    return "\n\n".join(paragraphs)


def _clip(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    cut = text.rfind("\n\n", 0, MAX_CHARS)
    return text[: cut if cut > MIN_CHARS else MAX_CHARS].rstrip()


def _members(node: ast.AST) -> list[str]:
    """'name(args): docstring' paragraphs of the public functions directly in node."""
    out = []
    for child in getattr(node, "body", []):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and not child.name.startswith(
            "_"
        ):
            doc = ast.get_docstring(child)
            if doc:
                args = ", ".join(a.arg for a in child.args.args if a.arg not in ("self", "cls"))
                out.append(f"{child.name}({args}): {doc}")
    return out


def documents_in(root: str, path: Path) -> list[GeneratedDocument]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return []
    module = _dotted(root, path)
    found = []
    doc = ast.get_docstring(tree)
    if doc:
        found.append(GeneratedDocument(module, "module", "\n\n".join([doc, *_members(tree)])))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            doc = ast.get_docstring(node)
            if doc:
                text = "\n\n".join([doc, *_members(node)])
                found.append(GeneratedDocument(f"{module}.{node.name}", "class", text))
    return found


def every_document() -> Iterator[GeneratedDocument]:
    """Every document, in the fixed order the draws take them in."""
    seen: set[str] = set()
    # A second sweep takes more documents per file when the first runs out (about 9,700
    # here): smaller sizes stay prefixes of larger ones.
    for per_file in (PER_FILE, 3 * PER_FILE):
        for root, path in source_files():
            taken = 0
            for doc in documents_in(root, path):
                text = _clip(_unwrap(doc.text.strip()))
                digest = hashlib.sha1(text.encode()).hexdigest()
                if len(text) < MIN_CHARS or digest in seen or not re.search(r"[a-z]{3}", text):
                    continue
                seen.add(digest)
                yield GeneratedDocument(doc.name, doc.kind, text)
                taken += 1
                if taken >= per_file:
                    break


def first_documents(
    every: Iterator[GeneratedDocument], count: int, what: str = "documents"
) -> Iterator[GeneratedDocument]:
    """The first count documents of every (a draw); exits saying so when there are fewer."""
    made = 0
    for doc in every:
        yield doc
        made += 1
        if made >= count:
            return
    raise SystemExit(f"only {made} {what} could be generated; asked for {count}")


def generate(count: int) -> Iterator[GeneratedDocument]:
    return first_documents(every_document(), count)


def file_name(doc: GeneratedDocument, slug_chars: int) -> str:
    """A document's file name without its place in the draw: "sklearn.pipeline.Pipeline.txt"."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", doc.name)[:slug_chars] + ".txt"


def documents_named(
    names: set[str], every: Callable[[], Iterator[GeneratedDocument]], slug_chars: int
) -> list[GeneratedDocument]:
    """The documents whose file names, without a place in a draw, are in names (in the
    order every() gives them): the ones question sets ask about, wherever they fall here."""
    found: dict[str, GeneratedDocument] = {}
    for doc in every():
        name = file_name(doc, slug_chars)
        if name in names:
            found.setdefault(name, doc)
            if len(found) == len(names):
                break
    return list(found.values())


def write_documents(
    docs: list[GeneratedDocument], dest: Path, prefix: str, slug_chars: int, first: int = 0
) -> list[GeneratedDocument]:
    """One .txt file per document in dest (created), each starting with its title line,
    numbered from `first` (its place in the draw)."""
    dest.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs, start=first):
        name = file_name(doc, slug_chars)
        (dest / f"{prefix}{i:05d}_{name}").write_text(f"{doc.title}\n\n{doc.text}\n")
    return docs


def write_corpus(count: int, dest: Path) -> list[GeneratedDocument]:
    return write_documents(list(generate(count)), dest, "gen", 80)


def command_line(write: Callable[[int, Path], list[GeneratedDocument]]) -> None:
    """`script.py SIZE FOLDER`: write a corpus and say what it holds."""
    size, folder = int(sys.argv[1]), Path(sys.argv[2])
    made = write(size, folder)
    chars = sum(len(d.text) for d in made)
    print(f"{len(made)} documents, {chars:,} characters in {folder}")


if __name__ == "__main__":
    command_line(write_corpus)
