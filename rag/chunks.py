"""Stage 2 — chunks: sentences with exact character offsets, grouped into passages.

Each sentence is the unit we embed and quote; a passage (consecutive sentences of
one paragraph, within a token budget) is the unit of lexical retrieval and the
context shown around a quote. Every text here is a slice of `Document.text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from rag.documents import Document, text_hash

# Lines that carry no sentence (markdown table rules, bare separators).
_NOISE_LINE = re.compile(r"^[\s|:\-=*_#>]*$")


@dataclass(frozen=True)
class Sentence:
    source: str
    start: int
    end: int
    text: str
    position: int  # index of the sentence within its document
    passage: int  # index of the passage within its document
    embed_text: str = ""  # what the model sees when it differs from the quote (table rows)

    @property
    def meaning(self) -> str:
        return self.embed_text or self.text

    @property
    def id(self) -> str:
        return sentence_id(self.source, self.start, self.end)


@dataclass(frozen=True)
class Passage:
    source: str
    position: int
    start: int
    end: int
    sentences: tuple[Sentence, ...]

    @property
    def id(self) -> str:
        return passage_id(self.source, self.position)

    def text(self, document_text: str) -> str:
        return document_text[self.start : self.end]


def sentence_id(source: str, start: int, end: int) -> str:
    return f"{source}#{start}-{end}"


def sentence_location(id_: str) -> tuple[str, int, int]:
    """(source, start, end) of a sentence_id."""
    source, _, span = id_.rpartition("#")
    start, _, end = span.partition("-")
    return source, int(start), int(end)


_WORD = re.compile(r"(?u)\b\w\w+\b|\b\d\b")
TELLING_WORDS = 4  # words a sentence needs to represent its passage in dense search


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def telling(sentence: str) -> bool:
    """Whether a sentence says enough to speak for its passage in dense search: a fragment
    ("the model.", "size of key k.") sits close to any question sharing its one word.
    Index records list their fragments by this rule (StoredDocument.fragments): a change
    to it needs a new record key, or old records keep the old rule's list."""
    return len(words(sentence)) >= TELLING_WORDS


def passage_id(source: str, position: int) -> str:
    return f"{source}#p{position}"


def passage_location(pid: str) -> tuple[str, int]:
    """(source, position) of a passage_id."""
    source, _, position = pid.rpartition("#p")
    return source, int(position)


@lru_cache(maxsize=1)
def _punkt():
    # llama-index-core ships punkt's English model in its cache; pointing nltk at
    # that cache (globals_helper) keeps sentence splitting offline.
    from llama_index.core.utils import globals_helper

    globals_helper.wait_for_nltk_check()
    from nltk.tokenize import PunktTokenizer

    tokenizer = PunktTokenizer("english")
    # Punkt's English model, trained on news, splits "a loop, e.g. in C" after "e.g." and
    # "Smith et al. in 2001" after "al.": quotes would stop mid-sentence.
    tokenizer._params.abbrev_types.update(ABBREVIATIONS)
    return tokenizer


# Lower case, without the final stop, as punkt keeps them.
ABBREVIATIONS = frozenset(
    ["e.g", "i.e", "al", "cf", "vs", "viz", "fig", "figs", "eq", "eqs", "approx", "resp", "incl"]
)


@lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    # get_tokenizer sets TIKTOKEN_CACHE_DIR to llama-index's bundled cl100k_base,
    # so counting tokens never reaches the network.
    from llama_index.core.utils import get_tokenizer

    encode = get_tokenizer()
    return lambda text: len(encode(text))


def _is_table_row(line: str) -> bool:
    return line.lstrip().startswith("|") and line.count("|") >= 2


_LIST_OR_HEADING = re.compile(r"^\s*([-*+•]\s|\d+[.)]\s|#|>)")


def _is_prose(line: str) -> bool:
    return bool(line.strip()) and not _is_table_row(line) and not _LIST_OR_HEADING.match(line)


def is_hard_wrapped(lines: list[str]) -> bool:
    """Text wrapped at a fixed width (e-mail, RFCs, docstrings, 72-column files):
    most prose lines run close to one short maximum width."""
    widths = [len(line.rstrip()) for line in lines if _is_prose(line)]
    if len(widths) < 4:
        return False
    width = max(widths)
    return width <= 100 and sum(w >= 0.6 * width for w in widths) >= 0.5 * len(widths)


# A line that stops mid-sentence ("...to `sklearn.utils.parallel`") and one that carries
# on in lower case ("   in scikit-learn 1.3."), or with a literal or a cross-reference
# ("The default classifier is a" / ":class:`~sklearn.linear_model.LogisticRegression`.",
# "If the cache size is set to" / "``0`` templates are recompiled"): one sentence wrapped,
# even in a text whose other paragraphs are single long lines (docstrings mix both).
_OPEN_END = re.compile(r"[A-Za-z0-9`'\")\],;]\s*$")
_CARRIES_ON = re.compile(r"^\s*(?:[`(]?[a-z]|``(?!`)\S|:[a-z]+:`)")
# What opens an item ("scale (float): ...", "idx_arrays : ndarray"), a column ("hann   --
# Hann window") or a line of code ("x = f(y)", ">>> print(x)", ".. versionchanged:: 1.3"),
# not a sentence's next words. An item may carry on over lines; code does not.
_ITEM = re.compile(r"^\s*[\w.*\[\]]+\s*(?:\([^)]*\))?\s*:(?:\s|$)")
_CODE = re.compile(r"^\s*(?:>>>|\.\.\.?\s|[\w.\[\]]+\s*=[^=]|#|\S+\s{3,}|\S+\s+--?\s)")
# A numpydoc parameter ("max_iter : integer, optional (default=100)") and the indented line
# under it ("    Maximum number of power iterations.") say one thing: what the parameter is.
_PARAMETER = re.compile(r"^\s*\*{0,2}[A-Za-z_][\w.]*\s+:\s+\S")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _wraps(previous: str, line: str) -> bool:
    if _ITEM.match(line) or _CODE.match(line):
        return False
    if _PARAMETER.match(previous) and _indent(line) > _indent(previous):
        return True
    open_end = _OPEN_END.search(previous) and not _CODE.match(previous)
    return bool(open_end and _CARRIES_ON.match(line))


_BULLET = re.compile(r"^\s*([-*+•]\s|\d+[.)]\s)")


def _continues_item(previous: str, line: str) -> bool:
    """A list item wrapped over lines is one sentence: "* **default_encoding** - The
    default encoding to use for decoding" / "response text, if no charset ...". The item
    stops mid-sentence and the next line carries on in lower case or indented under it."""
    return bool(
        _BULLET.match(previous)
        and _OPEN_END.search(previous)
        and _is_prose(line)
        and not _ITEM.match(line)
        and not _CODE.match(line)
        and (_CARRIES_ON.match(line) or _indent(line) > _indent(previous))
    )


def _line_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of the units Punkt reads: each line, or in hard-wrapped text each
    run of consecutive prose lines, so a sentence wrapped over lines stays whole; in
    other text, a line carrying on a sentence the line before left open."""
    lines = text.split("\n")
    wrapped = is_hard_wrapped(lines)
    runs: list[tuple[int, int]] = []
    offset = 0
    for line in lines:
        end = offset + len(line)
        previous = text[runs[-1][0] : runs[-1][1]].rsplit("\n", 1)[-1] if runs else ""
        if (
            runs
            and runs[-1][1] == offset - 1
            and (
                (_is_prose(line) and _is_prose(previous) and (wrapped or _wraps(previous, line)))
                or _continues_item(previous, line)
            )
        ):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((offset, end))
        offset = end + 1
    return runs


def sentence_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, block) for every sentence; a block is a paragraph, line or table.

    Punkt gives spans within a line; lines are split first because headlines,
    list items and table rows end without punctuation (hard-wrapped prose is read
    a paragraph at a time instead). A markdown table is one block and each of its
    rows one sentence.
    """
    spans: list[tuple[int, int, int]] = []
    tokenizer = _punkt()
    block = 0
    in_table = False
    for offset, stop in _line_runs(text):
        line = text[offset:stop]
        table_row = _is_table_row(line)
        if in_table and not table_row:
            block += 1
        in_table = table_row
        if table_row and not _NOISE_LINE.match(line):
            s, e = _strip_span(line, 0, len(line))
            spans.append((offset + s, offset + e, block))
        elif line.strip() and not _NOISE_LINE.match(line):
            for start, end in _joined_after_initials(line, tokenizer.span_tokenize(line)):
                s, e = _strip_span(line, start, end)
                if e > s:
                    spans.append((offset + s, offset + e, block))
            block += 1
    return spans


# "developed by F.C. Williams", "[...], S.C. Johnson, CS TR 32": Punkt ends a sentence
# after initials run together when the next word is one it has seen open sentences. Not
# a company's form ("Hewlett-Packard Development Company, L.P. Contributed by").
_INITIALS_END = re.compile(r"(?:^|[\s(\[\"',])(?P<initials>(?:[A-Z]\.){2,3})$")
_NAME_START = re.compile(r"[A-Z][a-z]")
_COMPANY_FORMS = frozenset(["L.P.", "N.V.", "B.V.", "S.A.", "P.C.", "A.G.", "L.L.C.", "P.L.C."])


def _joined_after_initials(line: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and _after_initials(line[joined[-1][0] : joined[-1][1]], line[start:end]):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _after_initials(sentence: str, following: str) -> bool:
    initials = _INITIALS_END.search(sentence)
    first = following.split(maxsplit=1)[0] if following.strip() else ""
    return (
        initials is not None
        and initials.group("initials") not in _COMPANY_FORMS
        and _NAME_START.match(first) is not None
        and first.lower().strip(",.;:") not in _OPENING_WORDS
    )


# Words that open sentences: after initials they start a new one ("...by the U.N. The").
_OPENING_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "it",
        "this",
        "that",
        "these",
        "those",
        "there",
        "they",
        "he",
        "she",
        "we",
        "you",
        "i",
        "in",
        "on",
        "at",
        "for",
        "if",
        "when",
        "but",
        "and",
        "or",
        "so",
        "as",
        "see",
        "its",
        "their",
        "his",
        "her",
        "our",
        "my",
        "all",
        "some",
        "each",
        "no",
        "not",
    ]
)


def _line_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : len(text) if end == -1 else end]


def table_cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def row_meaning(header: list[str], row: str) -> str:
    """'Category: value; ...' so a row is embedded with what its cells mean."""
    cells = table_cells(row)
    if len(cells) != len(header) or cells == header:
        return ""
    return "; ".join(f"{h}: {c}" for h, c in zip(header, cells) if h or c)


def _strip_span(line: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (line[start].isspace() or line[start] == "|"):
        start += 1
    while end > start and (line[end - 1].isspace() or line[end - 1] == "|"):
        end -= 1
    return start, end


# Raise when the splitting rules change, so existing indexes are re-split on next ingest.
CHUNKING_VERSION = 10


def chunking_signature(max_tokens: int) -> str:
    """Identifies how a document was split; a stored document split otherwise is stale."""
    return f"v{CHUNKING_VERSION}:{max_tokens}"


def split_document(document: Document, max_tokens: int) -> list[Passage]:
    """Sentences grouped into passages: never across blocks, at most max_tokens each."""
    count = token_counter()
    passages: list[Passage] = []
    pending: list[tuple[int, int]] = []
    pending_tokens = 0
    pending_block = -1
    sentences_seen = 0
    # A table's header is its block's first row, even when the rows run on into
    # later passages.
    headers: dict[int, list[str]] = {}

    def flush() -> None:
        nonlocal pending, pending_tokens, sentences_seen
        if not pending:
            return
        position = len(passages)
        header = headers.get(pending_block, [])
        sentences = tuple(
            Sentence(
                document.source,
                s,
                e,
                document.text[s:e],
                sentences_seen + i,
                position,
                row_meaning(header, document.text[s:e]) if header else "",
            )
            for i, (s, e) in enumerate(pending)
        )
        sentences_seen += len(sentences)
        passages.append(
            Passage(document.source, position, pending[0][0], pending[-1][1], sentences)
        )
        pending, pending_tokens = [], 0

    for start, end, block in sentence_spans(document.text):
        tokens = count(document.text[start:end])
        if block != pending_block or pending_tokens + tokens > max_tokens:
            flush()
        if block not in headers and _is_table_row(_line_at(document.text, start)):
            headers[block] = table_cells(document.text[start:end])
        pending.append((start, end))
        pending_tokens += tokens
        pending_block = block
    flush()
    return passages


def sentence_key(text: str) -> str:
    """Identity of a sentence's text, for reusing its embedding wherever it recurs."""
    return text_hash(text)
