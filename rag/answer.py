"""Stage 5 — answer: pick the sentences that answer the question, or refuse.

Without an LLM the answer is extractive: one to three verbatim sentences, each
followed by its [n] marker, every quote cut from the stored document text at its
offsets. The refusal is the product's promise: when the question's key terms are
not in the evidence, or the evidence is not close enough, we say so.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from rag.chunks import sentence_id
from rag.documents import subject_of
from rag.index import StoredSentence
from rag.retrieve import (
    LexicalIndex,
    Retrieval,
    TopicTerms,
    stems,
    stopwords,
    synonym_candidates,
    words,
)

REFUSAL = "I couldn't find this in the documents."

# Words that frame a question but say nothing about what is asked.
_FRAMING = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "say",
        "said",
        "says",
        "tell",
        "told",
        "mention",
        "mentioned",
        "mentions",
        "describe",
        "described",
        "think",
        "thought",
        "article",
        "articles",
        "document",
        "documents",
        "text",
        "source",
        "sources",
        "according",
        "explain",
        "explained",
        "talk",
        "talked",
        "discuss",
        "discussed",
        "know",
        "main",
        "point",
        "points",
        "give",
        "gave",
        "kind",
        "sort",
        "type",
        "something",
        "anything",
        "someone",
        "anyone",
        "happen",
        "happened",
        "please",
        "exactly",
        "also",
        "about",
        "the",
        "would",
        "could",
        "should",
        "can",
        "may",
        "might",
        "will",
        "must",
        "get",
        "gets",
        "got",
        "actually",
        "really",
        # Words naming the kind of answer wanted, not something the evidence must repeat.
        "many",  # how many
        "much",
        "roughly",
        "approximately",
        "stand",  # what does X stand for
        "happens",  # what happens when
        "come",  # where does the name come from
        "comes",
        "came",  # who came up with
        "since",  # since which release: when
        "instead",
        "let",  # what does it let me do
        "used",  # what is it used for
        "name",
        "named",
        "called",
        "titled",
        "take",
        "place",
        "refer",  # what does X refer to
        "refers",
        # Words naming the source the question asks of, not what it says: "according to
        # its README", "do the docs say". (Not "FOLDOC": its entries' titles say it.)
        "readme",
        "docs",
        "documentation",
        "docstring",
        "docstrings",
        # What the question judges the answer as: the evidence states the drawback itself
        # ("the greater the overheads"), rarely that it is one.
        "downside",
        "downsides",
        "drawback",
        "drawbacks",
        "disadvantage",
        "disadvantages",
        "advantage",
        "advantages",
        "things",
    ]
)
# Words naming the form of the answer ("What does the acronym ONNX stand for?"): no key
# term while the question has others, the thing asked about ("What is an acronym?") else.
_ANSWER_FORM = frozenset(["acronym", "abbreviation", "initialism", "abbreviated"])
_PRONOUNS = frozenset(
    [
        "he",
        "she",
        "him",
        "her",
        "his",
        "hers",
        "they",
        "them",
        "their",
        "theirs",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
    ]
)
# "What did Diffie say...?" needs evidence that reports what someone said or thinks.
_SAID_Q = re.compile(
    # [a-z]*, not \w*: "predict_with_generate" is an option's name, not a prediction.
    r"\b(say|said|says|tell|told|predict[a-z]*|argue[sd]?|arguing|claim[a-z]*|think|thinks|"
    r"believe[a-z]*|warn[a-z]*|suggest[a-z]*|stated|remark[a-z]*|recommend[a-z]*|"
    # "What does the report state?", not "What does the TRANSIENT_FAILURE state mean?".
    r"state(?=\s*\?|\s*$|\s+(?:about|that|regarding)\b)|"
    r"propose[a-z]*|conclude[a-z]*|"
    r"presented|speak|spoke|talk|talked|discuss|discussed)\b"
    # "What did Casper present?", not "what had to be present to run it".
    r"|\b(did|does|do|will|would)\b[^?]*\bpresent\b"
)
# "...tell Anthropic to do", "what does the article suggest", "which option does the README
# say to use", "what does FOLDOC say": a text's content, not someone's statement.
_SAID_NOT_SPEECH = re.compile(
    r"\b(tell|told)\b.*\bto\b|\b(article|report|table|piece|story|text|document|study)\b"
    r"|\b(readme|faq|docs|documentation|docstring|manual|entry|page|guide|dictionary|glossary"
    r"|foldoc|changelog)\b"
    # "Which engine is recommended if...": advice with no one giving it, not a statement.
    r"|\b(is|are|was|were|be|been)\s+(recommended|suggested|proposed|advised)\b(?!\s+by\b)"
)
_SPEECH = re.compile(
    r"[“”\"]|\b(said|says|stated|states|noted|notes|argued|argues|remarked|warned|warns|"
    r"predicted|predicts|suggested|suggests|believes?|belief|emphasi[sz]ed|emphasi[sz]es|"
    r"highlighted|likened|compared|conveyed|claimed|claims|told|tells|explained|stressed|"
    r"added|urged|urges|expressed|according|acknowledged|insisted|cautioned|thinks|agree[sd]?|"
    r"warning|consensus|presented|spoke|speaking|talked|discussed|call(?:ed|s)? for)\b",
    re.I,
)
# "Which company...?", "Who heads...?": the answer is a name standing next to the thing asked.
_WHICH_Q = re.compile(r"\bwhich\b")
_WHO_Q = re.compile(r"\bwho\b")
# "Who came up with the metaphone algorithm?", "Who originally wrote the Z shell?": who made
# it, said as "developed by Lawrence Philips", "Written by Paul Falstad".
_WHO_MADE_Q = re.compile(
    r"\W*who\s+(?:\w+\s+){0,2}?(?:wrote|created|invented|designed|developed|coined|devised|"
    r"founded|built|implemented|introduced|proposed|came up with|conceived|authored|made|"
    r"maintains|maintained)\b",
    re.I,
)
_MADE_BY = re.compile(
    r"\b(?i:written|created|invented|designed|developed|coined|devised|founded|built|"
    r"implemented|introduced|proposed|conceived|authored|made|maintained)\s+(?:\w+\s+){0,3}?by\s+"
    r"(?:(?:Dr|Prof|Professor|Sir)\.?\s+)?[A-Z]"
)
# "Cory Benfield made an excellent blog post": a name, then what it made, says who.
_NAME_MADE = re.compile(
    r"(?<![\w.’'-])(?P<name>(?:[A-Z][\w.’'-]*\s+){0,2}[A-Z][\w’'-]*\w)\s+(?:wrote|created|"
    r"invented|designed|developed|coined|devised|founded|built|implemented|introduced|"
    r"proposed|conceived|authored|made|maintains|maintained|led)\b"
)
# "According to the base-files FAQ": the kind of document asked about, which its own
# text seldom names, not a name the text must give.
_DOCUMENT_KINDS = frozenset(["faq", "faqs", "readme", "changelog", "howto", "docs", "docstring"])
_OPTION = re.compile(r"--?[A-Za-z][\w-]*")
_WHO_IS_NAME = re.compile(r"\b(?i:who) (?i:is|was|are|were) (?:[A-Z][\w.’'-]*\s*)+\??$")
_NAMING_WORDS = frozenset(["called", "named", "termed", "dubbed", "nicknamed", "known"])
_DEMONYM = re.compile(r"^[A-Z][a-z]+(ese|ian|ean|ish|can)$")
NAME_WINDOW = 2  # content words between the asked-about word and the name that answers it
_TOKEN = re.compile(r"[\w.’'-]*\w")
_COUNT_Q = re.compile(
    r"\bhow (many|much|old|long|large|big)\b|\bwhat (number|percentage|share)\b"
    r"|\b(numeric|numerical) value\b"
    # "Between which voltages does a GTL signal swing?": a measure is a number.
    r"|\b(?:which|what) (?:voltages?|temperatures?|frequenc(?:y|ies)|bandwidths?|wavelengths?"
    r"|(?:baud|bit|clock|sample|sampling|refresh) rates?)\b(?! (?:is|are|was|were|means?)\b)"
    # "What is the maximum number of devices on a chain?"
    r"|\bwhat(?:'s| is| was| are| were)? the (?:[a-z]+ )?number of\b"
)
# "What is the maximum number of devices on a JTAG chain?" asks for a limit, which the
# evidence states: "up to 10K gates", "at most 3", "max_iter : int, default=100". (Not a
# minimum: "Rich requires Python 3.8 or later" answers for the minimum version.)
_NO_MAXIMUM = "the question asks for a maximum and the evidence states none"
_MAXIMUM_Q = re.compile(r"\b(?:maximum|max)\b", re.I)
_MAXIMUM = re.compile(
    r"\bmax|\bup to\b|\bat most\b|\bno more than\b|\blimit|\blargest\b|\bupper\b|\bexceed",
    re.I,
)
# "How much did an IBM 704 cost?", "How much does it cost to use Fable 5?": a sum of
# money answers, not "released free to the Internet on 13 October 1994".
_PRICE_Q = re.compile(
    r"\bhow much\b[^?]*\b(cost|costs|charge[sd]?|pay|paid|sell|sold|sells|spend|spent)\b"
    r"|\b(what|which)\b[^?]*\b(price[sd]?|pricing|fees?)\b"
)
# "What license is Ruff released under?", "Under which license is NetworkX released?": the
# answer names a license, not "Ruff can be installed with our standalone installers".
_LICENSE_Q = re.compile(
    r"^\W*(?:under\s+)?(?:what|which)\s+(?:[\w-]+\s+)?licen[cs]es?\b(?!\s+(?:key|file|fee)s?\b)"
)
_LICENSE = re.compile(
    r"\b(?:MIT|BSD|GPL|LGPL|AGPL|GPLv\d|Apache|MPL|Mozilla Public|ISC|Artistic|Unlicense|CC0"
    r"|Creative Commons|zlib|PSF|Python Software Foundation|Boost Software|Eclipse Public|WTFPL"
    r"|X11|Expat|Zope Public|(?i:public domain|proprietary|copyleft|free software)"
    # "released as free software; refer to the file LICENSE": where the terms are.
    r"|LICEN[CS]E|COPYING)\b"
)
_PRICE = re.compile(
    r"[$£€¥]\s?\d|\b\d[\d,.]*\s?(dollars|usd|pounds|euros|yen|cents|bucks)\b"
    r"|\b(US|USD|EUR|GBP)\s?\$?\d|\bfree of charge\b|\bcosts? nothing\b",
    re.I,
)
# "...a proto with the same name" asks for no name.
_NAME_Q = re.compile(r"(?<!same )\bname[ds]?\b|\bcalled\b|\btitled\b")
# "What happens to the GIL while a function ... is being called?": a call, not a name.
_CALL_Q = re.compile(
    r"\b(?:being|when|whenever|if|once|after|before|while)\s+(?:\S+\s+){0,6}?called\b"
    r"|\bcalled\s+(?:with|on|from|twice|again|repeatedly)\b"
    r"|^\W*what happens\b"
)
# "What is another name for the Lanczos window?" asks for an alias, often no proper name
# ("also known as a sinc window"): the evidence must give one as an alias.
_ALIAS_Q = re.compile(
    # Not "the exclamation mark, also called 'shriek'": the question gives the other name.
    r"\b(another|other|alternative|alternate|different) (names?|words? for|terms? for)\b"
    r"|\balso (called|known)\b(?!\s+(?:as\s+)?['\"‘“`])"
    r"|\bsynonyms?\b|\bwhat else is\b"
)
_ALIAS = re.compile(
    r"\balso (known as|called|named|termed|referred to as)\b|\ba\.?k\.?a\.?\b"
    r"|\b(otherwise|sometimes|commonly|often|usually|better) (known as|called)\b"
    r"|\bsynonyms?\b|\bor simply\b"
    # A dictionary entry's other names: '(Or "gender bender", "gender blender")'.
    r"|\(or\s+[\"“]"
    # '(NII, or "information superhighway")': an abbreviation's entry, then its other name.
    r"|\([^()]*,\s*or\s+[\"“]",
    re.I,
)
# "When did...", not "which key ... when resizing": a clause with "when" asks for no time.
_TIME_Q = re.compile(
    r"^\W*when\b|\bwhen (did|does|do|was|were|is|are|will|would|has|have|had|can|could)\b"
    r"|\b(what|which)( (is|was|were|are))?( the)? (month|time)\b"
)
# "What was the exact date...": "a week ago" tells when, not the date.
_DATE_Q = re.compile(
    r"\b(what|which)( (is|was|were|are))?( the)?( exact| precise| specific)? (date|day)\b"
    r"|\bon what (date|day)\b"
    # "In what year...?" asks for a year: "a week ago" does not give one.
    r"|\b(what|which)( (is|was|were|are))?( the)? year\b"
)
# What "how many" counts or "how much" measures: "How many levels are defined..." ->
# levels, "How much RAM did it ship with?" -> RAM ("a 64-bit architecture" is no amount
# of RAM).
_COUNTED = re.compile(
    r"\bhow (?:many|much) ((?:[\w-]+ )+?)(?:do|does|did|are|is|was|were|can|could|will|would|should"
    r"|have|has|had|in|of|on|per|for|at)\b"
)
_HOW_LONG_Q = re.compile(r"\bhow long\b", re.I)
_DURATION = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?:ms|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|days?|"
    r"weeks?|months?|years?)\b"
)
# "How much data can a blu-ray disc hold?": "50,000 megabytes" says how much, in a unit of
# what is asked ("1 GHz" is no amount of RAM).
_HOW_MUCH_DATA_Q = re.compile(
    r"\bhow much (?:\w+ )?(?:data|memory|ram|storage|space|disk space|capacity)\b", re.I
)
_DATA_SIZE = re.compile(
    r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(?:[kKMGT]i?B|bytes?|kilobytes?|megabytes?|gigabytes?|"
    r"terabytes?)(?!\w)"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|"
    r"million|billion|several|few)\b",
    re.I,
)
# The month is "May", the verb "may" ("hackers may gain a near-term advantage").
_DATE = re.compile(
    r"\b(1[89]|20)\d\d\b|\b\d{1,2}[/.-]\d{1,2}\b|\b(january|february|march|april|(?-i:May)|june|"
    r"july|august|september|october|november|december|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|yesterday|today)\b",
    re.I,
)
_YEAR_OR_DECADE_TEXT = r"\b(1[89]|20)\d\d\b|\b(1[89]|20)\d0['’]?s\b"  # 1975, the 1960s
_TIME = re.compile(
    _YEAR_OR_DECADE_TEXT + r"|\b(january|february|march|april|(?-i:May)|june|july|august|september|"
    r"october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"ago|yesterday|today|week|weeks|month|months|year|years|decade|century|"
    r"seconds?|minutes?|hours?|days?)\b",
    re.I,
)
# "What is the default timeout?" and "What does RAY_SCOPE default to?" ask for a setting's
# value; "What does it raise by default?" asks for no value.
_DEFAULT_Q = re.compile(r"^\W*(what|which)\b.*(?<!by )\bdefault\b(?! (?:is|was)\b| to\b(?!\W*$))")
# A quoted value holds a word: "`zstd`" with the question's own word blanked out is "` `".
_VALUE = re.compile(
    r"\d|\b(True|False|None)\b|`[^`\w]*\w[^`]*`|\"[^\"\w]*\w[^\"]*\"|'[^'\w]*\w[^']*'"
    # A file's name: "uses default.htm instead of index.html".
    r"|\b[\w-]+\.(?:html?|txt|cfg|conf|ini|json|ya?ml|toml|py|sh|bat|exe|dll|so|zip|gz|tar|xml"
    r"|csv|md|rst|log|pdf|png|jpe?g)\b"
)
# Where a default is given: "defaults to 1.0", "(default=100)", "timeout=5.0", "is 10 by
# default", "if not given, ...". A type in backticks ("huber_loss_delta (`float`)") is none,
# nor is a command-line option's syntax ("specified with `--fast=#`").
_DEFAULT_GIVEN = re.compile(
    r"\bdefault|(?<![-\w])[A-Za-z_]\w*\s*=\s*[^=\s]|\bif (not|none|omitted|unset|no)\b"
    r"|\bunless\b|\botherwise\b"
    # A setting's value in brackets after its name, as READMEs list them: "more deleted
    # vectors than `RAG_COMPACT_RATIO` (0.5) of the live ones".
    r"|(?-i:\b[A-Z][A-Z0-9]*_[A-Z0-9_]+)`?\s*\(\s*-?\d[\d.]*\s*\)",
    re.I,
)
# "Which applications are the most demanding?" - "The most demanding applications are those
# where the computer generates moving images in real time": a description picks them out.
_DESCRIBES_WHICH = re.compile(
    r"\b(?:are|is) (?:those|the ones?) (?:where|that|which|who|whose|in which)\b"
)
# "Which characters does escape() escape?" - "Escape &, <, and > in a string": symbols,
# standing alone, name characters as words name other things.
_CHARACTERS_Q = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:characters?|symbols?)\b", re.I)
_LONE_SYMBOL = re.compile(r"(?:^|(?<=[\s,(]))[&<>|\\~^%$#@*+=/](?=[\s,.)]|$)")
# "What is Lin Yun's email address?": a sentence about Lin Yun is not an answer without one.
_CONTACT_Q = re.compile(
    r"\b(e-?mail|phone|telephone|fax|website|web ?site|url|home ?page)( address| number)?\b"
)
_CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+|\bhttps?://\S+|\bwww\.\S+|\b[\w-]+\.(com|org|net|edu|ai|io|cn)\b"
    r"|\+?\d[\d ()./-]{6,}\d",
    re.I,
)
# "How do I reverse a list?" asks for a way to do something: evidence that never names
# the doing (or a near synonym of it) describes something else done to a list.
_HOW_TO_Q = re.compile(
    r"\bhow (?:(?:do|can|could|should|would|might|may) (?:i|you|we|one|people|they|someone)|to)"
    r" ([a-z][a-z-]+)"
)
# Kinds whose answer is a value in the sentence (a time, a number, an address): of two
# sentences as close to the question, the one giving the value answers.
_VALUE_KINDS = frozenset(
    [
        "alias",
        "contact",
        "count",
        "date",
        "default",
        "eponym",
        "exception",
        "expansion",
        "license",
        "price",
        "time",
        "version",
        "complexity",
    ]
)
# "What is the running time of Edmonds-Karp?", "What is the performance of ...?"
_COMPLEXITY_Q = re.compile(
    r"\W*what(?:'s|’s| is| are)\s+the\s+(?:[\w-]+\s+){0,2}(?:running time|run-time|runtime|"
    r"complexity|performance)\s+(?:of|for)\b"
)
# "O(n m^2)", "O(|E|*log|V|)", "runs in linear time"
_COMPLEXITY = re.compile(
    r"\b[OΘΩ]\s?\(|\b(?:linear|quadratic|cubic|logarithmic|exponential|polynomial|constant)"
    r"[- ]time\b"
)
# "What exception does get_num_pages raise?", "What does make_zipfile raise if...?", "what
# is raised when...": the answer names an exception. Not "What does an IndexError raised by
# the decoder mean?" (it names one already) nor "When does load_lut raise an exception?".
_EXCEPTION_Q = re.compile(
    r"\b(?:what|which)\s+(?:kinds? of\s+)?(?:exceptions?|errors?)\b[^?]*\brais"
    r"|^\W*what\s+(?:does|do|did|will|would|can|could|might|may|should)\b[^?]*\braise\b"
    r"|\bwhat\s+(?:is|gets|will be|would be|can be)\s+raised\b"
)
# An exception's name ("DistutilsExecError", "PrintHelp" after "raises", ":class:`X`").
_EXCEPTION = re.compile(
    r"\b(?P<name>[A-Z][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Failure|Conflict))\b"
    r"|\b(?:raises?|raised|raising|throws?)\s+(?:an?\s+|the\s+)?(?::\w+:)?`*~?(?P<raised>[A-Z][\w.]+)"
)


def _names_exception(sentence: str, question: str) -> bool:
    """Whether the sentence names an exception the question does not ("a PrintHelp
    exception", "raises DistutilsExecError")."""
    asked = set(words(question))
    return any(
        not set(words(m.group("name") or m.group("raised"))) <= asked
        for m in _EXCEPTION.finditer(sentence)
    )


# Kinds whose evidence says so in words no other sentence uses by chance ("named after",
# "also known as", the letters spelled out), unlike a number or a time.
_SPELLED_KINDS = frozenset(["alias", "eponym", "expansion"])
# Kinds whose value a sentence of the best's own source may give with fewer of the
# question's words: "When a hacker from MIT visited Stanford in 1976" under "he started
# calling it El Camino Double Precision" for "In what year did the MIT hacker visit...?"
# (a date is as particular as a spelled-out name, and so is a year or a decade: "In the
# late 1970s, manufacturers integrated MRP" under "This renaissance is known as MRP II"
# for "When did manufacturers integrate MRP...?"; "a week ago", a time, is not). So is
# an exception's name, and a default said to be one ("scale (float): ..., default 1.5"
# under the example ">>> m.sample()  # ... with loc=1, scale=2"), a count or a measure
# ("The GTL signal swings between 0.4 volts and 1.2 volts" under "a GTL signal is said to be
# a low voltage swing logic signal") and a version ("This is the Tcl 8.6.13 source
# distribution" under "Detailed release notes can be found at...").
_SAME_SOURCE_KINDS = frozenset(
    [*_SPELLED_KINDS, "count", "date", "default", "exception", "license", "version", "complexity"]
)
_YEAR_OR_DECADE = re.compile(_YEAR_OR_DECADE_TEXT)
# A version: "3.21.0", "v2", "marshmallow 4", "Python 3"; not "``-1``" nor "about 23 days".
_VERSION_NUMBER = re.compile(
    r"\d+\.\d+|\bv\d|\b[A-Za-z][\w-]*\s+\d+\b(?!\.?\s*(?:%|days?|hours?|minutes?|seconds?|"
    r"ms|bytes?|[kMG]B|times)\b)"
)
# "Since which version...?" asks for a version (not "When was version 1.0.0 released?").
_VERSION_WORD = re.compile(r"\bwhich (?:version|release)s?\b", re.I)
_YEAR_Q = re.compile(r"\b(?:what|which) year\b", re.I)
# "Who is the Allman indent style named after?" asks whose name it carries: "named after
# Eric Allman", not "It resembles normal indent style in Pascal and ALGOL".
_EPONYM_Q = re.compile(r"\bnamed (after|for)\b|\bin hono(u)?r of\b")
_EPONYM = re.compile(
    r"\b(named|called|so called|so named|titled) (after|for)\b|\bin hono(u)?r of\b"
    r"|\beponym|\bafter whom\b"
    r"|\(after (?-i:[A-Z])",  # "<language> (After Ada Lovelace) A Pascal-descended language"
    re.I,
)
# "What does ONNX stand for?": the answer spells the letters out ("Open Neural Network
# Exchange (ONNX)").
_EXPANSION_Q = re.compile(
    r"\bstands? for\b|\bshort for\b|\b(acronym|abbreviation|initialism)\b", re.I
)
_ACRONYM = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*\b")
_LINKING = frozenset(["of", "for", "and", "the", "a", "an", "to", "in", "on", "with", "&"])
_LIGHT_VERBS = ("be", "do", "get", "go", "have", "make", "put", "run", "set", "take", "use")
# "How can I see the cache statistics?" is answered by what shows them ("Typing SMARTDRV /S
# shows the cache size, a hit-and-miss report..."): seeing is done by a command that shows.
_SEEING_VERBS = frozenset(["see", "view", "display", "show", "list", "check"])
_SHOWS = re.compile(
    r"\b(show|shows|showing|display|displays|displaying|list|lists|print|prints|view)\b", re.I
)
MIN_SENTENCE_WORDS = 3
# ">>> from sklearn.pipeline import make_pipeline" is close to any question naming
# make_pipeline and says nothing about it.
_IMPORT_LINE = re.compile(
    r"\s*(?:>>>|\.\.\.)?\s*(?:from\s+[\w.]+\s+)?import\s+[\w.]+(?:\s*,\s*[\w.]+|\s+as\s+\w+)*\s*$"
)
_DIGIT_OF = {
    w: str(n)
    for n, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}
NEAR_DUPLICATE = 0.9  # two sources saying the same sentence: one sentence, both cited
# How much of the question a sentence ending in a colon must cover to be answered by what
# it introduces (see refusal_reason).
FOLLOWS_COVERAGE = 0.75
MARGIN = 0.12  # how far below the best a further sentence may score and still be shown
MAX_SENTENCES = 3
SOFT_MATCH = 0.55  # word-vector cosine at which two words count as the same term
SAME_NAME = 0.75  # word-vector cosine at which a name counts as said another way (america ~ us)
SCORE_WEIGHTS = (0.5, 0.2, 0.3)
COMMON_IDF = 1.61  # log(5): a term in about a quarter of the passages


@dataclass
class Citation:
    n: int
    source: str
    title: str
    quote: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    mode: str = "extractive"
    note: str = ""
    retrieved: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = [c.to_dict() for c in self.citations]
        return data


@dataclass(frozen=True)
class Question:
    text: str
    query: str  # what retrieval searches for: the question, with context on a follow-up
    key_terms: tuple[str, ...]  # surface words of the question that carry its meaning
    # What the answer must contain: contact, count, price, license, how-to, date, time,
    # exception, version, name, said, entity, other.
    kind: str
    follows: bool = False  # asked after earlier questions, whose words it may lean on

    @classmethod
    def parse(cls, text: str, history: Sequence[dict[str, Any]] | None) -> Question:
        kind = _kind(text)
        query = standalone = text
        earlier = [
            str(m.get("content", "")).strip()
            for m in (history or [])
            if m.get("role") == "user" and str(m.get("content", "")).strip()
        ]
        # A question naming no one that speaks of "the company" means one named before.
        refers = bool(_DEFINITE.search(text)) and not _focus(text)
        if earlier and (len(_key_terms(text)) <= 1 or _PRONOUNS & set(words(text)) or refers):
            # A follow-up: name who "he" or "it" is, from the latest earlier question
            # that names someone; else lean on the whole last question.
            focus = next((f for f in map(_focus, reversed(earlier)) if f), "")
            standalone = _substitute(text, focus) if focus else text
            query = standalone if standalone != text else f"{earlier[-1]} {text}"
            if focus and standalone == text:
                # "How did the company respond?": "the company" is who was named before;
                # its key term is the name, not the word "company", which any sentence
                # about some other firm would match. The query keeps the whole context.
                standalone = _DEFINITE.sub(focus, text, count=1)
        return cls(
            text=text,
            query=query,
            key_terms=_key_terms(standalone),
            kind=kind,
            follows=bool(earlier),
        )


@dataclass
class ScoredSentence:
    sentence: StoredSentence
    title: str
    score: float
    coverage: float  # share of the question's key-term weight found in its context
    context: str = ""  # the document's subject, the sentence before (who "he" is), the sentence
    opening: bool = False  # opens a text under a heading naming what the question asks about
    before: StoredSentence | None = None  # the sentence before it in its paragraph
    after: tuple[StoredSentence, ...] = ()  # the next sentences of its passage (at most 2)
    # The quote starts at this earlier sentence of its paragraph: it names what this one
    # gives the value of ("There are four levels" after the sentence naming the standard).
    lead_from: StoredSentence | None = None
    # What its quote runs on over after it: the lines a closing colon introduces ("please
    # cite the NLTK book, as follows:" and the book's title), set by rank() for the
    # sentences that may lead.
    follows: str = ""


class ExtractiveAnswerer:
    def __init__(
        self,
        encode: Callable[[Sequence[str]], np.ndarray],
        min_relevance: float,
        min_coverage: float,
        max_chars: int,
        stored_words: Callable[[Sequence[str]], dict[str, np.ndarray]] | None = None,
    ) -> None:
        self.encode = encode
        self.stored_words = stored_words  # vectors embedded at ingest (Index.word_vectors)
        self.min_relevance = min_relevance
        self.min_coverage = min_coverage
        self.max_chars = max_chars
        # Weights of (cosine, key terms in the sentence, key terms in its context),
        # calibrated with evals/calibrate.py on evals/seed.jsonl.
        self.weights = SCORE_WEIGHTS
        self._word_vectors: dict[str, np.ndarray] = {}

    def answer(
        self,
        question: Question,
        retrieval: Retrieval,
        question_embedding: np.ndarray,
        lexical: LexicalIndex,
        document_text: Callable[[str], str],
    ) -> Answer:
        retrieved = retrieval.scores()
        terms = lexical.topic(p.source for p in retrieval.passages)
        ranked = self.rank(question, retrieval, question_embedding, terms, document_text)
        ranked = _without_other_entries(ranked, question.text, document_text)
        ranked, reason = self.lead(question, ranked, terms)
        if reason and question.kind == "version":
            ranked, reason = self._versioned_first(question, ranked, terms, document_text, reason)
        if reason and question.kind == "complexity":
            text = document_text(ranked[0].sentence.source)
            led = self._running_time_first(question, ranked, terms, text)
            if led is not None:
                ranked, reason = led, ""
        if not reason and _RETURN_Q.match(question.text):
            ranked = _section_first(ranked, question.text, document_text, _RETURNS_SECTION)
        if question.kind == "exception" and ranked:
            # "What error can EnvSettingsSource.prepare_field_value raise?": its entry's
            # Raises section, wherever the best is.
            raised = _section_first(
                ranked, question.text, document_text, _RAISES_SECTION, any_source=True
            )
            if raised is not ranked:
                # Its entry line and its section say together what the question asks.
                lead = raised[0]
                weights = {w: terms.idf(_stem(w)) for w in question.key_terms}
                covered = self.coverage(weights, f"{lead.context} {lead.sentence.text}")
                ranked = [replace(lead, coverage=max(lead.coverage, covered)), *raised[1:]]
                reason = self.refusal_reason(question, ranked, terms)
        if reason in (_NOT_SPELLED, _NO_ALIAS) and ranked:
            said = (
                _spelled_in_source(ranked[0], _acronym(question.text), document_text)
                if reason == _NOT_SPELLED
                else _said_in_source(ranked[0], question.text, document_text)
            )
            if said is not None:
                ranked = [said, *ranked[1:]]
                reason = self.refusal_reason(question, ranked, terms)
        if ranked and _asks_default(question) and (not reason or reason == _NO_DEFAULT):
            entry = _named_entry_default(ranked[0], question.text, document_text)
            if entry is None and reason == _NO_DEFAULT:
                entry = _entry_body_default(ranked[0], question.text, document_text)
            if entry is not None:
                ranked = [entry, *ranked[1:]]
                reason = self.refusal_reason(question, ranked, terms)
        titled = _titled(question.text, [p.title for p in retrieval.passages])
        # Whether a source names what the question does, asked once per source and title
        # for this answer: the candidates after the best asked it again for each sentence
        # (10 times a question, 28 ms in the slowest answers at 10,000 documents).
        named: dict[tuple[str, str], str] = {}
        if not reason:
            reason = self.unnamed(question, ranked[0], terms, document_text, titled, named)
            if reason:
                ranked, reason = self._from_naming_source(
                    question, ranked, terms, document_text, titled, reason, named
                )
        if reason:
            return Answer(question.text, REFUSAL, True, note=reason, retrieved=retrieved)
        ranked = _new_terms_first(question, [_under_version_note(ranked[0]), *ranked[1:]])
        chosen = self.choose(
            ranked, lambda s: self.supports(question, s, terms, document_text, titled, named)
        )
        lead = ranked[0]
        # What the lead's quote spans is not quoted again on its own.
        spanned = range((lead.lead_from or lead.sentence).start, lead.sentence.end)
        chosen = [
            g
            for g in chosen
            if g[0] is lead
            or g[0].sentence.source != lead.sentence.source
            or (g[0].sentence.start not in spanned and g[0].sentence.end - 1 not in spanned)
        ]
        text, citations = self.compose(chosen, document_text, _WHY_Q.match(question.text))
        return Answer(question.text, text, False, citations, retrieved=retrieved)

    def _from_naming_source(
        self,
        question: Question,
        ranked: list[ScoredSentence],
        terms: TopicTerms,
        document_text: Callable[[str], str],
        titled: frozenset[str],
        reason: str,
        named: dict[tuple[str, str], str] | None = None,
    ) -> tuple[list[ScoredSentence], str]:
        """When the best sentence's source never names the package or thing the question
        does ("required by frobkit", answered from zorbpy's page; "the PowerPC Alliance" on
        the PowerPC Reference Platform's), the best within MARGIN from one that does, if it
        answers by the same standard; else the reason to refuse.
        Unless the kind asks for a value it must give (a version, a default), it must also
        cover as much of the question: "Python has no standard mechanism..." from the
        overrides package's page is no answer to what license it is released under.
        From a document whose title names all the question does, within twice the margin:
        "superpipelined (14 stages)" in the Pentium Pro's entry, under a sentence on
        pipelines in general from an entry never naming it."""
        names = self.names(question, terms)
        for i, item in enumerate(ranked[1:], start=1):
            if item.score < ranked[0].score - 2 * MARGIN:
                break
            titled_item = bool(names) and names <= set(stems(item.title))
            if item.score < ranked[0].score - MARGIN and not titled_item:
                continue
            if (
                (item.coverage >= ranked[0].coverage or question.kind in _VALUE_KINDS)
                and not self.refusal_reason(question, ranked[i:], terms)
                and not self.unnamed(question, item, terms, document_text, titled, named)
            ):
                return [item, *ranked[:i], *ranked[i + 1 :]], ""
        return ranked, reason

    # ---- scoring -------------------------------------------------------------------

    def rank(
        self,
        question: Question,
        retrieval: Retrieval,
        question_embedding: np.ndarray,
        terms: TopicTerms,
        document_text: Callable[[str], str] | None = None,
    ) -> list[ScoredSentence]:
        weights = {w: terms.idf(_stem(w)) for w in question.key_terms}
        # One batch for every word soft matching may look up, the titles' subjects too
        # (the context of every sentence): many small encode calls or store reads cost
        # far more than one (a read of one word costs about 1 ms, of 50 about 3).
        self._vectors(
            [w for w in weights if w.isalpha()]
            + [w for p in retrieval.passages for w in synonym_candidates(subject_of(p.title))]
            + [
                w
                for p in retrieval.passages
                for s in p.sentences
                for w in synonym_candidates(s.meaning)
            ]
        )

        def cosine(sentence: StoredSentence) -> float:
            return max(
                float(sentence.embedding @ question_embedding),
                float(sentence.embedding @ retrieval.query_embedding),
            )

        headings = {
            s.source: cosine(s)
            for p in retrieval.passages
            for s in p.sentences
            if _heading(s.text, p.title)
        }
        scored = []
        for passage in retrieval.passages:
            subject = subject_of(passage.title)  # context for every sentence
            for i, sentence in enumerate(passage.sentences):
                if (
                    len(words(_prose(sentence.text))) < MIN_SENTENCE_WORDS
                    or _asks(sentence.text)
                    or _heading(sentence.text, passage.title)
                    or _IMPORT_LINE.match(sentence.text)
                ):
                    continue
                # The sentence before names who "he" is; the passage is its context.
                context = " ".join(
                    [subject, *(s.meaning for s in passage.sentences[max(0, i - 1) : i + 1])]
                ).strip()
                own = self.coverage(weights, sentence.meaning)
                closeness = cosine(sentence)
                opening = False
                if subject and document_text and _opens(sentence, passage.title, document_text):
                    # "A base class for 2D lines." under "...Line2DBaseSeries (class)": the
                    # heading is the unsaid subject of the sentence that opens the text; when
                    # the question is about that subject, what the heading is close to, that
                    # sentence answers.
                    about = self.coverage(weights, f"{subject} {sentence.meaning}")
                    if about >= SUBJECT_COVERAGE:
                        own = about
                        opening = True
                        closeness = max(closeness, headings.get(sentence.source, 0.0))
                near = self.coverage(weights, context)
                w_cos, w_own, w_near = self.weights
                score = w_cos * closeness + w_own * own + w_near * near
                previous = passage.sentences[i - 1] if i > 0 else None
                scored.append(
                    ScoredSentence(
                        sentence,
                        passage.title,
                        score,
                        near,
                        context=context,
                        opening=opening,
                        before=previous,
                        after=tuple(passage.sentences[i + 1 : i + 1 + _ENTRY_AFTER]),
                    )
                )
        scored.sort(key=lambda s: s.score, reverse=True)
        # What a closing colon introduces, for the sentences that may lead (those within
        # twice MARGIN of the best): reading a document's text costs a store read, and
        # docstrings end many lines in colons ("Parameters:", "Example::").
        for item in scored:
            if item.score < scored[0].score - 2 * MARGIN:
                break
            item.follows = _follows(item.sentence, document_text)
        return scored

    def coverage(self, weights: dict[str, float], text: str) -> float:
        """Share of key-term weight present in text; a word counts if its stem occurs,
        or if a word there means nearly the same (attackers ~ hackers)."""
        if not weights:
            return 1.0
        # "frame_rate" says "frame rate": a question names a parameter in words.
        present = set(stems(text))
        if "_" in text:
            present |= set(stems(" ".join(_SNAKE_CASE.findall(text)).replace("_", " ")))
        dotted = set(_DOTTED_NUMBER.findall(text))
        found = 0.0
        missing = []
        for word, weight in weights.items():
            if word in dotted or ("." not in word and _stem(word) in present):
                found += weight
            elif word in _DIGIT_OF and re.search(rf"(?<![\w.]){_DIGIT_OF[word]}(?![\w.])", text):
                found += weight  # "the degree of 0" for "the zero polynomial's degree"
            else:
                missing.append(word)
        if missing:
            found += sum(weights[w] for w in self._soft_matches(missing, text))
        return found / sum(weights.values())

    def _soft_matches(self, missing: list[str], text: str) -> list[str]:
        candidates = synonym_candidates(text)
        missing = [w for w in missing if w.isalpha()]
        if not candidates:
            return []
        vectors = self._vectors(missing + candidates)
        pool = np.stack([vectors[w] for w in candidates])
        return [w for w in missing if float(np.max(pool @ vectors[w])) >= SOFT_MATCH]

    def _vectors(self, items: list[str]) -> dict[str, np.ndarray]:
        new = [w for w in dict.fromkeys(items) if w not in self._word_vectors]
        if new:
            if len(self._word_vectors) > 50_000:  # bound the cache of word vectors
                self._word_vectors.clear()
            if self.stored_words is not None:
                self._word_vectors.update(self.stored_words(new))
                new = [w for w in new if w not in self._word_vectors]
            if new:
                self._word_vectors.update(zip(new, self.encode(new)))
        return {w: self._word_vectors[w] for w in items}

    # ---- decisions -----------------------------------------------------------------

    def lead(
        self, question: Question, ranked: list[ScoredSentence], terms: TopicTerms
    ) -> tuple[list[ScoredSentence], str]:
        """The ranking with the sentence that answers first, or why none does. The best
        by score may lack what the question asks for ("When was the first beta
        released?": the sentence with the date scores 0.62, one without 0.63); a
        sentence within MARGIN of it that has it leads instead."""
        defined = _defined_term(question.text)
        if question.kind == "expansion":
            acronym = _acronym(question.text)
            # "Open Neural Network Exchange (ONNX) is an open ecosystem" opens the text, under
            # sentences saying more about ONNX that spell nothing out.
            for i, item in enumerate(ranked[1:], start=1):
                if item.score < ranked[0].score - DEFINITION_MARGIN:
                    break
                spelled_out = _expands(acronym, item.sentence.text)
                if spelled_out and not _expands(acronym, ranked[0].sentence.text):
                    ranked = [item, *ranked[:i], *ranked[i + 1 :]]
                    break
        elif defined and ranked:
            # "What is iteration?": "Iteration in programs is expressed using a loop"
            # scores above "Repetition of a sequence of instructions", the entry's opening;
            # a sentence that says what the thing is answers first, and one saying it of
            # the very term before one saying it of something else ('A "greenlet", on the
            # other hand, is a still more primitive notion' under "Greenlets are
            # lightweight coroutines").
            best = _definition_rank(defined, ranked[0])
            for i, item in enumerate(ranked[1:], start=1):
                if item.score < ranked[0].score - DEFINITION_MARGIN:
                    break
                if _definition_rank(defined, item) > best and not self.refusal_reason(
                    question, ranked[i:], terms
                ):
                    ranked = [item, *ranked[:i], *ranked[i + 1 :]]
                    break
        if ranked and _asks_default(question):
            ranked = [_default_beside(ranked[0], question.text), *ranked[1:]]
        if ranked and _WHO_MADE_Q.match(question.text):
            ranked = self._maker_first(question, ranked, terms)
        reason = self.refusal_reason(question, ranked, terms)
        if reason == _NO_MAXIMUM:
            # "up to a maximum dimension of 21201" just under an example's "dimension=5".
            for i in range(1, len(ranked)):
                if ranked[i].score < ranked[0].score - MARGIN:
                    break
                if not self.refusal_reason(question, ranked[i:], terms):
                    return [ranked[i], *ranked[:i], *ranked[i + 1 :]], ""
        if not reason and _MEANS_Q.match(question.text) and question.kind == "other":
            means = _means_after(ranked)
            if means is not None:
                return [means, *(r for r in ranked if r.sentence.id != means.sentence.id)], ""
        if (
            not reason
            or not ranked
            or question.kind not in (*_VALUE_KINDS, "name", "entity", "said")
        ):
            return ranked, reason
        names = self.names(question, terms)
        named = min(1, len(names & set(stems(ranked[0].context))))
        near = [i for i in range(1, len(ranked)) if ranked[i].score >= ranked[0].score - MARGIN]
        # 'loss : str, default="hinge"' scores low (a short line of jargon) for "What is the
        # default loss of PassiveAggressiveClassifier?" under the class's deprecation
        # notice, and covers more of the question: a value line of the best's own source,
        # within twice the margin, the one covering most first.
        weights = {w: terms.idf(_stem(w)) for w in question.key_terms}
        own = {
            i: self.coverage(weights, ranked[i].sentence.meaning)
            for i in range(len(near) + 1, len(ranked))
            if question.kind in (*_VALUE_KINDS, "name", "entity")
            and ranked[i].score >= ranked[0].score - 2 * MARGIN
            and ranked[i].sentence.source == ranked[0].sentence.source
            and ranked[i].coverage > ranked[0].coverage
        }
        # Every parameter line shares the class's name as context: the one naming most of
        # the question itself ("loss", "default") first. So for which one or who: "GWHIS
        # was released by Quadralay Corporation" under the entry's opening "A commercial
        # version of NCSA Mosaic for MS Windows" for "Which company released GWHIS?".
        further = sorted(own, key=lambda i: -own[i])
        if _asks_default(question):
            # A lower sentence is quoted on to its entry's default as the best is: "The
            # token used for padding..." under 'pad_token (..., defaults to "<blank>"):'
            # below the class's "Construct a FastSpeech2Conformer tokenizer."
            ranked = list(ranked)
            for i in [*near, *further]:
                ranked[i] = _default_beside(ranked[i], question.text)

        best_titled = len(names & set(stems(ranked[0].title)))

        def answers(i: int) -> bool:
            return bool(
                # Less of the question's words may be about it in the same document
                # ("named after Eric Allman" under "1TBS Allman style"), or in a document
                # whose title names more of what the question does: "Automake (use 1.11.3
                # or later)" on Libtasn1's page, under tmux's "this requires autoconf,
                # automake".
                (
                    ranked[i].coverage >= ranked[0].coverage
                    or len(names & set(stems(ranked[i].title))) > best_titled
                    or (
                        (
                            question.kind in _SAME_SOURCE_KINDS
                            or (
                                question.kind == "time"
                                and _YEAR_OR_DECADE.search(
                                    _without(ranked[i].sentence.text, question.text)
                                )
                            )
                        )
                        and ranked[i].sentence.source == ranked[0].sentence.source
                    )
                )
                # Any name near "models" is not Moonshot's model: for names, the one
                # that leads names what the question does, if the best did, and stands
                # beside a word the question asks about, not a near synonym of it.
                and (
                    question.kind in _VALUE_KINDS
                    or len(names & set(stems(ranked[i].context))) >= named
                )
                # A near synonym of an asked word anchors a name only in the best's own
                # source, for a question naming nothing ("Richard Dawkins's term" for "who
                # came up with the word meme"; not "China's top AI minds" for a CEO).
                and not self.refusal_reason(
                    question,
                    ranked[i:],
                    terms,
                    strict=bool(names) or ranked[i].sentence.source != ranked[0].sentence.source,
                )
            )

        def named_as_best(i: int) -> bool:
            return (
                ranked[i].sentence.source == ranked[0].sentence.source
                or len(names & set(stems(ranked[i].context))) >= named
            )

        # A value may come from another source, but one about what the question names
        # first: XGLM's padding token defaults to "<pad>", not FastSpeech2Conformer's.
        chosen = next((i for i in near if named_as_best(i) and answers(i)), None)
        if chosen is None:
            chosen = next((i for i in near if answers(i)), None)
        if chosen is None:
            follow = self._value_after(question, ranked, terms)
            if follow is not None:
                return [follow, *(r for r in ranked if r.sentence.id != follow.sentence.id)], ""
            chosen = next((i for i in further if answers(i)), None)
        if chosen is None:
            return ranked, reason
        return [ranked[chosen], *ranked[:chosen], *ranked[chosen + 1 :]], ""

    def _running_time_first(
        self, question: Question, ranked: list[ScoredSentence], terms: TopicTerms, text: str
    ) -> list[ScoredSentence] | None:
        """ "What is the performance of unorderable_list_difference?": "it has O(n*n)
        performance" says less of the question than the function's line, and is all the
        answer there is. A sentence of the best's own entry (under the same function's
        line) within twice the margin leads when it gives a running time; None if none
        does. `text` is the best's source's."""
        best = ranked[0]
        starts = [m.start() for m in _FUNCTION_ENTRY.finditer(text)]
        for i, item in enumerate(ranked[1:], start=1):
            if item.score < best.score - 2 * MARGIN:
                break
            if (
                item.sentence.source == best.sentence.source
                and _entry_at(starts, item) == _entry_at(starts, best)
                and not self.refusal_reason(question, [item], terms)
            ):
                return [item, *ranked[:i], *ranked[i + 1 :]]
        return None

    def _versioned_first(
        self,
        question: Question,
        ranked: list[ScoredSentence],
        terms: TopicTerms,
        document_text: Callable[[str], str],
        reason: str,
    ) -> tuple[list[ScoredSentence], str]:
        """ "In which packaging release was the key parameter added to Specifier.filter?":
        "Added the ``key`` parameter." gives no number, the version note on its line before
        does (".. versionchanged:: 26.1"). A sentence of the best's source within twice the
        margin is quoted with the version note right before or after its lines, when that
        answers by every check."""
        best = ranked[0]
        for i, item in enumerate(ranked):
            if item.score < best.score - 2 * MARGIN:
                break
            if item.sentence.source != best.sentence.source:
                continue
            text = document_text(item.sentence.source)
            noted = _with_version_note(item, text, _names_object(question.text, text))
            if noted is not None and not self.refusal_reason(question, [noted], terms):
                return [noted, *ranked[:i], *ranked[i + 1 :]], ""
        return ranked, reason

    def _maker_first(
        self, question: Question, ranked: list[ScoredSentence], terms: TopicTerms
    ) -> list[ScoredSentence]:
        """ "Who came up with the metaphone algorithm?": "Metaphone was developed by Lawrence
        Philips" answers, though "metaphone requires more computational power" scores 0.14
        above it and repeats more of the question's words. A sentence of the best's own
        source within twice the margin saying who made something leads, when the best
        says no one did."""
        best = ranked[0]
        if _MADE_BY.search(best.sentence.text):
            return ranked
        for i, item in enumerate(ranked[1:], start=1):
            if item.score < best.score - 2 * MARGIN:
                break
            if (
                item.sentence.source == best.sentence.source
                and _MADE_BY.search(item.sentence.text)
                and not self.refusal_reason(question, [item], terms, strict=True)
            ):
                return [item, *ranked[:i], *ranked[i + 1 :]]
        return ranked

    def _value_after(
        self, question: Question, ranked: list[ScoredSentence], terms: TopicTerms
    ) -> ScoredSentence | None:
        """ "How many levels are defined in the DOD Trusted Computer System Evaluation
        Criteria?": the best sentence names the standard and gives no count; the next one
        ("There are four levels, A, B, C, and D.") gives it, and only after the best says
        what it counts. That next sentence answers, quoted from the best on, when it gives
        what the question asks for (strictly: a number beside what is counted)."""
        if question.kind not in (*_VALUE_KINDS, "name", "entity"):
            return None
        best = ranked[0]
        follow = next(
            (r for r in ranked[1:] if r.before is not None and r.before.id == best.sentence.id),
            None,
        )
        names = self.names(question, terms) if question.kind in ("name", "entity") else set()
        if (
            follow is None
            or follow.coverage < best.coverage
            # Moonshot's model is not "Z.ai's GLM 5.2" after a sentence naming Moonshot.
            or not names <= set(stems(follow.sentence.text))
            or self.refusal_reason(question, [follow], terms, strict=True)
        ):
            return None
        return replace(follow, lead_from=best.sentence)

    def refusal_reason(
        self,
        question: Question,
        ranked: list[ScoredSentence],
        terms: TopicTerms | None = None,
        strict: bool = False,
    ) -> str:
        if not ranked:
            return "no passage in the index relates to the question"
        best = ranked[0]
        if best.score < self.min_relevance:
            return f"best evidence scores {best.score:.2f}, under {self.min_relevance:.2f}"
        if best.coverage < self.min_coverage:
            return (
                f"the evidence covers {best.coverage:.0%} of the question's key terms "
                f"({', '.join(question.key_terms)})"
            )
        if self._shares_one_word(question, best):
            return "the evidence shares a single word with the question"
        # A number the question itself gives ("GLM 5.2") is not an answer to "how many".
        # What a closing colon introduces answers for the sentence only when the sentence
        # says most of what is asked ("please cite the NLTK book, as follows:"): after "You
        # can also override the following environment variables:" any variable listed
        # would do for "Which environment variable sets the W&B entity?".
        follows = best.follows if best.coverage >= FOLLOWS_COVERAGE else ""
        lead = f"{best.lead_from.text} " if best.lead_from is not None else ""
        quoted = lead + best.sentence.text + follows  # what the answer quotes of it
        unasked = _without(quoted, question.text)
        if question.kind == "contact" and not _CONTACT.search(unasked):
            return "the question asks for an address or number to reach and the evidence has none"
        if question.kind == "exception" and not _names_exception(quoted, question.text):
            return "the question asks which exception is raised and the evidence names none"
        if (
            question.kind == "how-to"
            and not self._does(question.text, best.context)
            and not _instructs(best)
        ):
            return "the question asks how to do something the evidence does not speak of doing"
        if question.kind == "count" and not (
            _NUMBER.search(unasked)
            and self._number_beside(quoted, question)
            # ">>> print(comtrans.aligned_sents()[54])": an example's index counts nothing.
            and not quoted.lstrip().startswith(">>>")
        ):
            return "the question asks for a number and the evidence gives none beside it"
        if _MAXIMUM_Q.search(question.text) and not _MAXIMUM.search(quoted):
            # "one device's test data out pin" is no maximum number of devices.
            return _NO_MAXIMUM
        if question.kind == "license" and not _LICENSE.search(unasked):
            return "the question asks for a license and the evidence names none"
        if question.kind == "price" and not _PRICE.search(unasked):
            return "the question asks for a price and the evidence gives none"
        if question.kind == "default" and not (
            _VALUE.search(unasked)
            # Of the sentence and where its quote starts: what a closing colon introduces
            # may be the next parameters' defaults ("huber_loss_delta (`float`,
            # *optional*):" and then "temperature (`float`, *optional*, defaults to 1.0)").
            and _DEFAULT_GIVEN.search(lead + best.sentence.text)
            # ">>> m = Gumbel(torch.tensor([1.0]), torch.tensor([2.0]))": an example's
            # arguments are what it passes, not what is used when nothing is passed.
            and not (lead + best.sentence.text).lstrip().startswith(">>>")
        ):
            return _NO_DEFAULT
        setting = _DEFAULT_OF.search(question.text)
        if (
            question.kind == "default"
            and setting
            and setting.group(1).lower() not in f"{lead}{best.context} {quoted}".lower()
        ):
            # "If ``None`` (default) will retry 3 times" is the default of `total`, not of
            # the backoff_max asked about: the evidence, its entry's line or the sentence
            # before it names the setting.
            return (
                f"the question asks for the default of {setting.group(1)} and the evidence "
                "gives another setting's"
            )
        if question.kind == "default" and not setting and _another_entry_s(question, best, quoted):
            return "the question asks for a default and the evidence gives another entry's"
        if question.kind == "complexity" and not _COMPLEXITY.search(quoted):
            return "the question asks for a running time and the evidence gives none"
        if question.kind == "version" and not _VERSION_NUMBER.search(unasked):
            return "the question asks for a version and the evidence gives no number"
        if (
            question.kind == "time"
            and not _TIME.search(unasked)
            # "Since which version is marshmallow.pprint deprecated, and when will it be
            # removed?": "in marshmallow 4" says when, in versions.
            and not (_VERSION_WORD.search(question.text) and re.search(r"\d", unasked))
        ):
            return "the question asks when and the evidence gives no time"
        if question.kind == "date" and not _DATE.search(unasked):
            return "the question asks for a date and the evidence gives none"
        if _YEAR_Q.search(question.text) and not _YEAR_OR_DECADE.search(unasked):
            # "7.5 million transistors" reads as a day and a month, not as a year.
            return "the question asks for a year and the evidence gives none"
        acronym = _acronym(question.text)
        if question.kind == "expansion" and not _expands(acronym, best.sentence.text):
            return _NOT_SPELLED
        if question.kind == "eponym" and not _EPONYM.search(best.sentence.text):
            return "the question asks whom or what it is named after and the evidence says not"
        if question.kind == "alias" and not _ALIAS.search(best.sentence.text):
            return _NO_ALIAS
        if question.kind == "said" and not (
            _SPEECH.search(best.sentence.text) or _reports_asked(question.text, best.sentence.text)
        ):
            return "the question asks what someone said and the evidence reports no statement"
        if (
            question.kind in ("name", "entity")
            and not self._names_beside(quoted, question, terms, strict)
            and not _cites_author(quoted, question.text)
            and not _fills_slot(question.text, quoted, terms)
            and not _names_maker(quoted, question.text)
            and not _DESCRIBES_WHICH.search(quoted)
            and not (_CHARACTERS_Q.search(question.text) and _LONE_SYMBOL.search(quoted))
        ):
            return "the question asks which one and the evidence names none beside it"
        return ""

    def _shares_one_word(self, question: Question, item: ScoredSentence) -> bool:
        """One shared word is a coincidence, however rare the word ("Nancy, France" for
        "the capital of France"). Not in a conversation: a question there may lean on the
        turns before ("And what did the company do next?")."""
        if len(question.key_terms) < 2 or question.follows or not item.context:
            return False
        if _WHO_MADE_Q.match(question.text) and _MADE_BY.search(item.sentence.text):
            return False  # "developed by" is the other word: "came up with" asks who made it
        unit = dict.fromkeys(question.key_terms, 1.0)
        return self.coverage(unit, item.context) * len(unit) < 1.5

    def supports(
        self,
        question: Question,
        item: ScoredSentence,
        terms: TopicTerms,
        document_text: Callable[[str], str],
        titled: frozenset[str] = frozenset(),
        named: dict[tuple[str, str], str] | None = None,
    ) -> bool:
        """Whether a sentence after the best is evidence by the same standard as the best:
        near in score alone let "A tournament is a directed graph ... joining each pair"
        into the answer to "How did Stephen Casper join the conference?" ("joining" and
        "tournament" soft matching "join" and "conference"), from a document that never
        mentions Casper. Like the best, it must come from a source mentioning what the
        question names (a docstring's "Default: 1e-5" under a title naming GroupNorm)."""
        if item.coverage < self.min_coverage or self._shares_one_word(question, item):
            return False
        return not self.unnamed(question, item, terms, document_text, titled, named)

    def unnamed(
        self,
        question: Question,
        lead: ScoredSentence,
        terms: TopicTerms,
        document_text: Callable[[str], str],
        titled: frozenset[str] = frozenset(),
        named: dict[tuple[str, str], str] | None = None,
    ) -> str:
        """Why the answer's source cannot be about what the question names, or "".
        Among many documents, "What license is Gradio released under?" found a terminal
        emulator's "refer to the file LICENSE": a close sentence, in a source that never
        mentions Gradio. A name in lower case counts when a retrieved document's title
        gives it (`titled`): "What is the minimum Python version required by tomlkit?"
        is not answered by numpy's "oldest numpy version supported by Python 3.10".

        `named` memoizes the reason by source and title, for one question: it depends on
        the source's text and title (the sentence and its context are part of them)."""
        if named is None:
            return self._unnamed(question, lead, terms, document_text, titled)
        key = (lead.sentence.source, lead.title)
        if key not in named:
            named[key] = self._unnamed(question, lead, terms, document_text, titled)
        return named[key]

    def _unnamed(
        self,
        question: Question,
        lead: ScoredSentence,
        terms: TopicTerms,
        document_text: Callable[[str], str],
        titled: frozenset[str],
    ) -> str:
        names = self.names(question, terms)
        models = _model_numbers(question.text)
        numbers = _numbers_after_names(question.text)
        if not names and not models and not numbers and not titled:
            return ""
        # The title or the sentence usually names the package: no store read for the text.
        nearby = f"{lead.title} {lead.context} {lead.sentence.text}"
        if (
            titled
            and not titled & set(words(nearby))
            # "pydantic_settings.sources.providers.env.EnvSettingsSource (class)"
            and not _in_identifiers(set(titled), nearby)
            and not titled & set(words(document_text(lead.sentence.source)))
        ):
            return f"the source does not mention {' and '.join(sorted(titled))}"
        if not names and not models and not numbers:
            return ""
        text = f"{lead.title} {document_text(lead.sentence.source)}"
        for number in numbers:
            # "OAuth 2" is named by "oauthlib.oauth2.rfc6749" too, the number glued on.
            glued = re.search(rf"(\w+)\s+{re.escape(number)}(?![\w.])", question.text)
            if glued and f"{glued.group(1)}{number}".lower() in text.lower():
                continue
            if not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w])", text):
                # "How much did an IBM 704 cost?" is not answered by "IBM introduced the
                # Advanced 36 for $9,000", from a text never naming the 704.
                return f"the source does not mention {number}"
        spelled = re.sub(r"[\W_]+", "", text.lower()) if models else ""
        for model in models:
            if re.sub(r"[\W_]+", "", model.lower()) not in spelled:
                # "the IBM System/36 processor": a text about IBM's other machines is not
                # about this one ("The clock speed was initially 1.6 GHz" was the Power
                # Mac's). Spelled with or without separators: Multipop68, Multipop-68.
                return f"the source does not mention {model}"
        if not names:
            return ""
        said = set(stems(text))
        if names & said or _in_identifiers(names, text):
            return ""
        # Python's packages drop the "Py" of their project's name: PyTorch's text says
        # "torch.__version__", PyYAML's "yaml.load".
        if any(n.startswith("py") and len(n) >= 6 and n[2:] in said for n in names):
            return ""
        # A place or name said another way ("America" in the question, "the US" in the
        # text) is as close in meaning as words of one thing get.
        asked = [w for w in words(_focus(question.text)) if w.isalpha() and _stem(w) in names]
        vocabulary = synonym_candidates(text)
        if asked and vocabulary:
            vectors = self._vectors(asked + vocabulary)
            pool = np.stack([vectors[w] for w in vocabulary])
            if any(float(np.max(pool @ vectors[w])) >= SAME_NAME for w in asked):
                return ""
        return f"the source does not mention {_focus(question.text)}"

    def names(self, question: Question, terms: TopicTerms) -> set[str]:
        """Stems of the names the question gives ("Stephen Casper", "Creati.ai").
        Demonyms and words in many passages are vocabulary, not names: "Chinese models"
        is answered by "models in China", "the AI conference" by "the conference"."""
        return {
            stem
            for word in _focus(question.text).split()
            if not _DEMONYM.search(word)
            and not _is_common(word, terms)
            and word.lower() not in _DOCUMENT_KINDS
            for stem in stems(word)
        }

    def _does(self, question: str, context: str) -> bool:
        action = _HOW_TO_Q.search(question.lower())
        verb = action.group(1) if action else ""
        # "How can I run shape inference...": run, use, get, make say how, not what.
        if verb in _SEEING_VERBS and _SHOWS.search(context):
            return True
        return verb in ("", *_LIGHT_VERBS) or self.coverage({verb: 1.0}, context) == 1.0

    def _number_beside(self, sentence: str, question: Question) -> bool:
        """Whether a number stands within NAME_WINDOW content words of a word the question
        asks about: "How much did a license cost?" is not answered by "at least one author",
        nor "How many levels?" by "standard 5200.28-STD" ("four levels" answers it)."""
        asked = set(words(question.text))
        if _HOW_LONG_Q.search(question.text) and any(
            m.group(1) not in asked for m in _DURATION.finditer(sentence)
        ):
            return True  # "about 23 days" says how long, whatever it stands beside
        if _HOW_MUCH_DATA_Q.search(question.text) and any(
            m.group(1) not in asked for m in _DATA_SIZE.finditer(sentence)
        ):
            return True
        counted = _COUNTED.search(question.text.lower())
        return self._names_beside(
            sentence,
            question,
            None,
            is_value=lambda t: (
                bool(_NUMBER.fullmatch(t) or any(c.isdigit() for c in t))
                and not set(words(t)) <= asked
            ),
            about=set(words(counted.group(1))) if counted else None,
        )

    def _names_beside(
        self,
        sentence: str,
        question: Question,
        terms: TopicTerms | None,
        strict: bool = False,
        is_value: Callable[[str], bool] | None = None,
        about: set[str] | None = None,
    ) -> bool:
        """Whether a name the question does not give stands within NAME_WINDOW content
        words of a word the question asks about ('telecom giant X', 'firms such as Z.ai');
        the asked-about word may be a near synonym (reporter ~ journalist), unless strict.

        Names are capitalised tokens, numbers, identifiers (`get_window`) and quoted terms
        other than the opening word, save demonyms ('Chinese') and words in a large share of
        passages ('AI'): those are vocabulary.
        """
        asked = set(words(question.text)) | set(question.key_terms)
        asked_stems = set(stems(question.text))
        # Strictly, the "ai" of "Creati.ai" asks about nothing.
        in_names = set(words(_focus(question.text))) if strict else set()
        # What is counted is an anchor even when capitalised ("How much RAM"), and so is
        # what "which" asks for ("Which RFCs describe...").
        head = _asked_noun(question.text)
        phrase = _asked_phrase(question.text)
        anchors = [
            w
            for w in question.key_terms
            if (w in about if about else (w == head or not _capitalised(w, question.text)))
            and not any(c.isdigit() for c in w)
            and w not in in_names
        ]
        # Function words ('by the', 'such as') do not separate a name from what it names,
        # nor does an address: "Teyjus (http://teyjus.cs.umn.edu/) is an implementation".
        sentence = _URL.sub(" ", sentence)
        tokens = [t for t in _TOKEN.findall(sentence) if not (t.islower() and t in stopwords())]
        person = bool(_WHO_Q.match(question.text.lower())) or head in _ORGANISATION_HEADS
        if person and is_value is None:
            # A person or a company is no date, and a date does not separate one from what
            # they did: "perfected on 29 January 1901 by Allen B DuMont". (Not when a number
            # is asked for too: "Who coined OLAP, and with how many rules?", "with 12".)
            tokens = [t for t in tokens if not (_MONTH.fullmatch(t) or _DAY_OR_YEAR.fullmatch(t))]
        quoted = set(_QUOTED.findall(sentence)) | set(_SINGLE_QUOTED.findall(sentence))
        # 'An optimisation known as "intelligent backtracking"': each word of a short
        # quoted phrase; "written by `@progrium`": a handle names someone.
        quoted |= {w for phrase in _QUOTED_PHRASE.findall(sentence) for w in _TOKEN.findall(phrase)}
        quoted |= set(_HANDLE.findall(sentence))
        # "generate(): For very large templates...": what is called is a name.
        called = {
            m.group() for m in _TOKEN.finditer(sentence) if sentence[m.end() : m.end() + 1] == "("
        }
        question_lower = question.text.lower()
        # "Korean (where they are called hanja)": what the sentence calls so names what a
        # question asking what it is called asks for (not any "strategy called dependency
        # directed backtracking" for "Which search strategy...?").
        # "an expression can always be replaced by its value (referential transparency)":
        # a term in brackets after what it names is what it is called.
        bracketed = {w for term in _BRACKETED_TERM.findall(sentence) for w in term.split()}
        called_so = {
            i
            for i in range(1, len(tokens))
            if (tokens[i - 1].lower() in _NAMING_WORDS or tokens[i] in bracketed)
            and _NAME_Q.search(question_lower)
        }
        name_at = [
            i
            for i, t in enumerate(tokens)
            # A capital opens any sentence; an identifier is a name wherever it stands.
            if (
                (i > 0 and (t.lstrip("'’")[:1].isupper() or t[0].isdigit()))
                or (i == 0 and _unknown_capitalised(t))
                or "_" in t
                or _hyphenated_name(t)
                or _DOTTED_NAME.fullmatch(t) is not None
                # "the -s option", "`--enable-tables`": a command-line option is a name.
                or _OPTION.fullmatch(t) is not None
                or t in called
                # "hybi-13", "krb5-user": letters with digits name a thing in any case.
                or (any(c.isdigit() for c in t) and any(c.isalpha() for c in t))
                or t.strip("'’") in quoted
                or i in called_so
                or _coined(t, tokens[i - 1 : i] + tokens[i + 1 : i + 2], phrase)
            )
            and not _given(t, asked, asked_stems, question_lower)
            # '(Or "four colour theorem")': a function word is none, capitalised or not.
            and not (t.istitle() and t.lower() in stopwords())
            and not _DEMONYM.search(t)
            and not (terms is not None and _is_common(t, terms))
            # "SECDEC" after "Single Error Correction, Double Error Detection" names
            # what the question already says.
            and not (t.isupper() and "_" not in t and _expands(t, question.text))
        ]
        if person:
            # "Who created SQLAlchemy?" asks for a person: `psycopg_pool` beside "Create"
            # is code, and 1.3 a version; "Which company manufactured the ILLIAC IV?" for
            # a company, not "$31 million by 1972".
            handles = set(_HANDLE.findall(sentence))
            name_at = [
                i for i in name_at if tokens[i].lstrip("'’")[:1].isupper() or tokens[i] in handles
            ]
            name_at = [i for i in name_at if not re.search(r"[_\d]", tokens[i])]
        if is_value is not None:
            name_at = [i for i, t in enumerate(tokens) if is_value(t)]
        if not name_at or not anchors:
            return False
        stems_wanted = {_stem(w) for w in anchors}
        plain = [t.lower() for t in tokens]
        vectors = self._vectors(anchors + [t for t in plain if t.isalpha()])
        pool = np.stack([vectors[w] for w in anchors])

        def is_anchor(word: str) -> bool:
            if _stem(word) in stems_wanted:
                return True
            return (
                not strict and word.isalpha() and float(np.max(pool @ vectors[word])) >= SOFT_MATCH
            )

        anchor_at = [i for i, t in enumerate(plain) if is_anchor(t)]
        if any(abs(i - j) <= NAME_WINDOW for i in name_at for j in anchor_at):
            return True
        # For "What are Han characters called in Korean?", what a sentence calls so beside
        # any word the question gives: "and Korean (where they are called hanja)".
        key_stems = {_stem(w) for w in question.key_terms}
        given_at = [j for j, t in enumerate(plain) if _stem(t) in key_stems]
        return any(abs(i - j) <= NAME_WINDOW for i in name_at if i in called_so for j in given_at)

    def choose(
        self,
        ranked: list[ScoredSentence],
        supports: Callable[[ScoredSentence], bool] = lambda _: True,
    ) -> list[list[ScoredSentence]]:
        """Groups of sentences: each group one answer sentence and the sources saying it.
        Sentences after the best join only if `supports` admits them."""
        best = ranked[0].score
        groups: list[list[ScoredSentence]] = []
        length = 0
        for item in ranked:
            if item.score < max(best - MARGIN, self.min_relevance):
                break
            if groups and not supports(item):
                continue
            twin = next((g for g in groups if _cosine(g[0], item) >= NEAR_DUPLICATE), None)
            if twin is not None:
                if all(s.sentence.source != item.sentence.source for s in twin):
                    twin.append(item)
                continue
            if len(groups) >= MAX_SENTENCES:
                continue
            if groups and length + len(item.sentence.text) > self.max_chars:
                continue
            groups.append([item])
            length += len(item.sentence.text) + 5
        return groups

    def compose(
        self,
        groups: list[list[ScoredSentence]],
        document_text: Callable[[str], str],
        reason: object = None,
        lead_in: bool = True,
    ) -> tuple[str, list[Citation]]:
        """The answer text and its citations. For a "why" question (`reason`), a leading
        sentence giving no cause is quoted with the sentence before it in its paragraph:
        "Sun changed the name of their system to NIS" answers why only after "The name
        'Yellow Pages' is a registered trademark ... of British Telecommunications"."""
        citations: list[Citation] = []
        parts = []
        for n, group in enumerate(groups):
            markers = []
            quotes = []
            for item in group:
                s = item.sentence
                text = document_text(s.source)
                start = s.start
                if n == 0 and lead_in and item.lead_from is not None:
                    start = item.lead_from.start
                elif reason and n == 0:
                    start = _cause_before(item, text)
                end = _continued(text, s.start, s.end)
                quotes.append(text[start:end])
                citations.append(
                    Citation(
                        len(citations) + 1,
                        s.source,
                        item.title,
                        text[start:end],
                        start,
                        end,
                        round(item.score, 4),
                    )
                )
                markers.append(f"[{len(citations)}]")
            parts.append(f"{quotes[0]} {''.join(markers)}")
        answer = " ".join(parts)
        if (reason or lead_in) and len(answer) > self.max_chars:  # it does not fit: as is
            return self.compose(groups, document_text, None, lead_in=False)
        return answer, citations


_LIST_ITEM = re.compile(r"\s*([-*+•]|\d+[.)])\s")
CONTINUATION_CHARS = 320  # at most this much of what a colon introduces joins the quote


_WHY_Q = re.compile(r"\W*why\b", re.I)
_CAUSE = re.compile(
    r"\b(because|since|due to|owing to|as a result|so that|in order to|thanks to|given|"
    r"therefore|thus|hence|so|caused|causes|leads? to|led to|reason)\b",
    re.I,
)


# "How does aiosqlite avoid blocking the event loop?" asks by what means.
_MEANS_Q = re.compile(
    r"\W*how (?:does|do|did|is|are|was|were|can|could)\b(?! (?:i|you|we|one|someone)\b)", re.I
)
_MEANS = re.compile(r"\b(by|using|via|through|thanks to|relies on|uses)\b", re.I)
# "It does this by using a single, shared thread": the sentence before says what "this" is.
_MEANS_AFTER = re.compile(
    r"^\W*(it|this|they|these|that|which)\b.{0,40}?\b(by|using|via|through|uses)\b", re.I
)


def _new_terms_first(question: Question, ranked: list[ScoredSentence]) -> list[ScoredSentence]:
    """The lead, then of the sentences within MARGIN of it those of its source saying more
    words of the question that its quote and title do not first (a citation of another
    document is less likely of the one asked about), in score order at a tie: at most
    MAX_SENTENCES are quoted, and "If the requested amount is less than Min, it is rounded
    up" (fifth by score) says the "less than the Min" that "What happens when the
    requested capacity is less than the Min?" asks and the four above it do not."""
    if len(ranked) < 3:
        return ranked
    lead = ranked[0]
    asked = {_stem(w) for w in question.key_terms}
    said = set(stems(f"{lead.title} {lead.sentence.text}"))  # its quote, and what it is of
    floor = lead.score - MARGIN
    wanted = asked - said

    def order(item: ScoredSentence) -> tuple[bool, int]:
        # Only the few within the margin of the lead's source are read (a hot path).
        if item.score < floor or item.sentence.source != lead.sentence.source or not wanted:
            return item.score < floor, 0
        return False, -len(wanted & set(stems(item.sentence.text)))

    return [lead, *sorted(ranked[1:], key=order)]


def _means_after(ranked: list[ScoredSentence]) -> ScoredSentence | None:
    """The sentence right after the best that tells how, when the best restates what is
    done and gives no means ("aiosqlite allows interaction ... without blocking" and then
    "It does this by using a single, shared thread per connection."), to quote from the
    best on; else None."""
    best = ranked[0]
    if _MEANS.search(best.sentence.text):
        return None
    follow = next(
        (r for r in ranked[1:] if r.before is not None and r.before.id == best.sentence.id),
        None,
    )
    if follow is None or not _MEANS_AFTER.search(follow.sentence.text):
        return None
    return replace(follow, lead_from=best.sentence, score=best.score)


# "Pass ``'skip_all'`` to avoid the computational overhead", "you can call the
# `.enter()` method": an instruction giving a literal to use says how, in its own verbs
# ("pass" for "turn off", "call" for "open").
_INSTRUCTION = re.compile(
    r"^\W*(?:use|pass|set|run|call|add|install|type|enter|specify|give|put|select|choose|"
    r"click|press|edit|write|apply|enable|disable|invoke|import|configure|define|provide|"
    r"supply|append|replace|remove|start|execute|issue|build|compile|copy|download)\b|"
    r"\b(?:you|one)\s+(?:can|could|should|may|must|need\s+to)\s+"
    r"(?:also\s+|simply\s+|then\s+|just\s+|instead\s+)?[a-z]+\b",
    re.I,
)
_LITERAL = re.compile(r"`[^`\s][^`]*`|(?<![\w-])--?[A-Za-z][\w-]*")
INSTRUCTION_COVERAGE = 0.6  # of the question's key terms an instruction must say


def _instructs(item: ScoredSentence) -> bool:
    """Whether the sentence tells the reader to do something with a literal (code, an
    option) and says most of what the question asks: how, in other verbs."""
    text = item.sentence.text
    return (
        item.coverage >= INSTRUCTION_COVERAGE
        and _INSTRUCTION.search(text) is not None
        and _LITERAL.search(text) is not None
    )


def _cause_before(item: ScoredSentence, text: str) -> int:
    """Where the quote answering "why" starts: at the sentence, if it gives a cause, else
    at the sentence before it in the same paragraph (what it follows from)."""
    before, sentence = item.before, item.sentence
    if (
        before is None
        or _CAUSE.search(sentence.text)
        or "\n\n" in text[before.end : sentence.start]
    ):
        return sentence.start
    return before.start


def _follows(sentence: StoredSentence, document_text: Callable[[str], str] | None) -> str:
    """The text after the sentence that its quote runs on over (see _continued)."""
    if document_text is None or not sentence.text.rstrip().endswith((":", "...", "…")):
        return ""
    text = document_text(sentence.source)
    return text[sentence.end : _continued(text, sentence.start, sentence.end)]


def _continued(text: str, start: int, end: int) -> int:
    """Where the quote of text[start:end] ends. A sentence ending in a colon ("Bug
    reports should be sent to:", "decided in one of two modes:") says what follows it,
    not the answer: the quote runs on over the next paragraph, or the list that follows,
    as far as CONTINUATION_CHARS allows, cut at a line end. So does one trailing off into
    a list ("has the following dependencies...")."""
    if not text[start:end].rstrip().endswith((":", "...", "…")):
        return end
    limit = end + CONTINUATION_CHARS
    stop = end
    at = end
    first = True
    while at < len(text):
        gap = len(text[at:]) - len(text[at:].lstrip("\n \t"))
        block_start = at + gap
        if block_start >= len(text) or (not first and not _LIST_ITEM.match(text, block_start)):
            break
        block_end = text.find("\n\n", block_start)
        block_end = len(text) if block_end == -1 else block_end
        line_ends = [i for i in range(block_start, block_end) if text[i] == "\n"] + [block_end]
        fitting = [i for i in line_ends if i <= limit]
        if not fitting:
            if first:  # at least one line of what it introduces
                stop = line_ends[0] if line_ends[0] - end <= 2 * CONTINUATION_CHARS else end
            break
        stop = fitting[-1]
        if stop < block_end:
            break
        at, first = block_end, False
    return len(text[:stop].rstrip())


def _asks_for_contact(lowered: str) -> bool:
    """An address or number is named as a thing of its own ("Lin Yun's email address",
    "the website of", "which URL does"), not as a word describing the next one ("upload
    their website content", "the email client")."""
    for found in _CONTACT_Q.finditer(lowered):
        after = re.match(r"\s+([a-z]+)\b", lowered[found.end() :])
        if not after or after.group(1) in stopwords():
            return True
    return False


def _kind(text: str) -> str:
    text = _main_clause(text)
    lowered = text.lower()
    if re.match(r"\W*why\b", lowered):
        return "other"  # a reason: "Why did Sun change the name...?" asks for no name
    if _EXCEPTION_Q.search(lowered):
        return "exception"
    if _EXPANSION_Q.search(text) and _acronym(text):
        return "expansion"
    head = _asked_noun(text)
    if _asks_for_contact(_MENTIONED.sub(" ", lowered)) and (not head or _CONTACT_Q.match(head)):
        # "...an HTTP URL, which port gets used?" asks for a port, not for a URL; 'What
        # does the word "email" mean in German?' for a meaning, not for an address.
        return "contact"
    if _PRICE_Q.search(lowered):
        return "price"
    if _LICENSE_Q.search(lowered):
        return "license"
    if _COMPLEXITY_Q.match(lowered):
        return "complexity"
    if _COUNT_Q.search(lowered):
        return "count"
    if _HOW_TO_Q.search(lowered):
        return "how-to"
    if _DEFAULT_Q.search(lowered) and not _DEFAULT_SUBJECT.match(lowered):
        return "default"
    phrase = _asked_phrase(text)
    if (len(phrase) >= 2 and phrase[-1] in ("version", "versions", "release", "releases")) or (
        _VERSION_Q.match(lowered)
    ):
        # "In which NumPy version...?", "What is the minimum Python version...?" ask for a
        # version number ("which version of the ODBC driver" may be "ANSI").
        return "version"
    if _DATE_Q.search(lowered):
        return "date"
    if _TIME_Q.search(lowered) and not _CONDITION_Q.match(lowered):
        return "time"
    if _EPONYM_Q.search(lowered):
        return "eponym"
    if _ALIAS_Q.search(lowered):
        return "alias"
    # "How are the steps named?" asks for a way of naming, not for a name.
    if (
        _NAME_Q.search(lowered)
        # "Where does the name "burst page" come from?" asks for an origin.
        and not re.match(r"\W*(?:how|where)\b", lowered)
        and not _CALL_Q.search(lowered)
        and not _YES_NO_Q.match(lowered)
    ):
        return "name"
    if (
        _SAID_Q.search(lowered)
        and not lowered.startswith("who")
        and not _SAID_NOT_SPEECH.search(lowered)
    ):
        return "said"
    if (_WHICH_Q.search(lowered) and head not in _GENERIC_HEADS) or (
        _WHO_Q.search(lowered) and not _WHO_IS_NAME.search(text)
    ):
        return "entity"
    return "other"


_VERSION_Q = re.compile(
    r"\W*what(?:'s|’s| is| was| are| were)\s+the\s+(?:[\w.+-]+\s+){1,3}(?:version|release)s?\b"
)


def _cites_author(sentence: str, question: str) -> bool:
    """ "Who wrote the report "YACC - Yet Another Compiler Compiler"?": a reference giving
    that title, then a name ('["YACC - Yet Another Compiler Compiler", S.C. Johnson, CS TR
    32, Bell Labs (Jul 1975)]'), names its author, though no word of the question's own
    ("wrote", "report") stands beside the name."""
    if not _WHO_MADE_Q.match(question):
        return False
    for title in re.findall(r"[\"“]([^\"“”]{3,})[\"”]", question):
        cited = re.search(rf"[\"“]{re.escape(title)}[\"”],\s+(?:[A-Z][\w.’'-]*\s?)+", sentence)
        if cited:
            return True
    return False


def _names_maker(sentence: str, question: str) -> bool:
    """ "Who wrote the blog post...?": "Cory Benfield made an excellent blog post" names
    the maker before the verb, with no word of the question beside the name. A name the
    question gives ("Pygments made...") or a capitalised function word ("This made") is
    none."""
    if not _WHO_MADE_Q.match(question):
        return False
    asked = set(words(question))
    return any(
        not set(words(m.group("name"))) <= asked
        and not all(w.lower() in stopwords() for w in m.group("name").split())
        for m in _NAME_MADE.finditer(sentence)
    )


# "compatible with which language?", "In which applications are cables used?"
_SLOT_Q = re.compile(
    r"\b(with|in|on|from|by|for|to|into|under|at|of|like)\s+(?:which|what)\b"
    r"(?!\s+(?:extent|way)\b)",
    re.I,
)
_ARTICLES = frozenset(["the", "a", "an"])
# "Several codes can...", "in one function": how many, not which ones.
_QUANTIFIERS = frozenset(
    ["several", "many", "various", "different", "certain", "multiple", "numerous", "every"]
    + ["similar", "other", "others", "some", "most", "all", "few", "both", "each", "such"]
    + ["one", "two", "three", "four", "five"]  # not "single", "double": "double precision"
)
_POSSESSIVE_S = re.compile(r"['’]s$")
_EXAMPLE_Q = re.compile(r"\b(?:typical|example|examples|instance)\b", re.I)
_EXAMPLE_GIVEN = re.compile(r"\be\.g\.|\bfor (?:example|instance)\b|\bsuch as\b", re.I)
_AUXILIARY = r"(?:is|are|was|were|does|do|did|has|have|had|can|could|should|would|will|must)"
# "Should I pass __name__ as the name argument?" asks yes or no, not for a name.
_YES_NO_Q = re.compile(rf"\W*{_AUXILIARY}\b(?!.*\b(?:what|which|who)\b)")


def _fills_slot(question: str, sentence: str, terms: TopicTerms | None) -> bool:
    """Whether the sentence fills the place the question leaves open, in lower case as
    readily as in capitals: "backward compatible with which language?" by "backward
    compatible with awk", "In which applications are cables widely used?" by "widely used
    in suspension bridges" (the word the question puts before its preposition, or last
    when the preposition opens it, then the preposition, then a word it does not give);
    "Which nerve is compressed?" by "the median nerve" (a new word before the noun
    "which" asks about). Words in a large share of passages fill nothing."""
    asked = set(words(question)) | set(stems(question))
    sentence = _URL.sub(" ", sentence)
    tokens = [t.lower() for t in _TOKEN.findall(sentence)]

    def new_at(i: int) -> bool:
        while i < len(tokens) and tokens[i] in _ARTICLES:
            i += 1
        if i >= len(tokens):
            return False
        word = _POSSESSIVE_S.sub("", tokens[i])  # "an dodecahedron's edge/vertex graph"
        return (
            word.replace("-", "").isalpha()  # "the point-to-point model"
            and word not in stopwords()
            and word not in _QUANTIFIERS
            and word not in asked
            and _stem(word) not in asked
            and not (terms is not None and _is_common(word, terms))
        )

    slot = _SLOT_Q.search(question)
    if slot:
        # After a leading clause ("According to FOLDOC, in which..."), the preposition opens.
        before = _TOKEN.findall(question[: slot.start()].rsplit(",", 1)[-1].lower())
        before = [w for w in before if w not in _ARTICLES]
        clause = _TOKEN.findall(re.split(r"[,?]", question[slot.end() :])[0].lower())
        word = before[-1] if before else clause[-1] if clause else ""
        preposition = slot.group(1).lower()
        # "From which model does the Multi-headed Latent Attention come?": "Latent
        # Attention (MLA) from Deepseek V2", the preposition a word or two after what the
        # fronted clause names.
        named = {_stem(w) for w in clause[1:] if w not in stopwords()}
        if not before and any(
            t == preposition
            and any(_stem(w) in named for w in tokens[max(0, i - 2) : i])
            and new_at(i + 1)
            for i, t in enumerate(tokens)
        ):
            return True
        # "A logical left shift is like which arithmetic operation?": "like multiplying
        # by two"; "like" says the slot where the word before it is only "is".
        if preposition == "like" and any(
            t == "like" and new_at(i + 1) for i, t in enumerate(tokens)
        ):
            return True
        if word and word not in stopwords():
            for i in range(len(tokens) - 2):
                if (
                    tokens[i + 1] == preposition
                    and _stem(tokens[i]) == _stem(word)
                    and new_at(i + 2)
                ):
                    return True
    # "What is a typical application for which isochronous communication is suited?":
    # "e.g. video conferencing" gives one.
    if _EXAMPLE_Q.search(question) and any(
        new_at(len(_TOKEN.findall(sentence[: m.end()]))) for m in _EXAMPLE_GIVEN.finditer(sentence)
    ):
        return True
    # "Which component performs the functionality?": "this functionality is performed by
    # the system catalog", the question's own verb and then who or what does it.
    verbs = {_stem(w) for w in words(question) if w not in stopwords()}
    if any(
        tokens[i + 1] == "by" and _stem(tokens[i]) in verbs and new_at(i + 2)
        for i in range(len(tokens) - 2)
    ):
        return True
    # The noun "which" asks about, alone or after one word ("Which nerve is...", "Which
    # messaging models does JMS support?"): a new word before it fills the place ("the
    # median nerve", "the point-to-point models"), not the question's own modifier ("the
    # protocol UDP port" for "Which UDP port does...").
    asked_noun = re.match(
        rf"\W*(?:which|what)\s+(?:([\w-]+)\s+)?([\w-]+)\s+{_AUXILIARY}\b", question, re.I
    )
    modifier, head = (
        (asked_noun.group(1) or "", asked_noun.group(2).lower()) if asked_noun else ("", "")
    )
    if (
        head
        and head not in _ORGANISATION_HEADS
        and _asked_noun(question) not in _ORGANISATION_HEADS
        # The question's modifier said too ("messaging" ~ "message types"; not as a verb,
        # "designed"): "Which design patterns...?" is not answered by "persistence patterns".
        and (
            not modifier
            or _stem(modifier.lower()) in {_stem(t) for t in tokens if not t.endswith("ed")}
        )
    ):
        return any(
            _stem(tokens[i]) == _stem(head) and new_at(i - 1) and tokens[i - 1] not in _ARTICLES
            for i in range(1, len(tokens))
        )
    return False


def _reports_asked(question: str, sentence: str) -> bool:
    """Whether the sentence uses the question's own word for what was said: "He also
    proposed the fetch-execute cycle" reports what "Which cycle did von Neumann propose?"
    asks for, as "estimated in initial predictions to be 1000 MFLOPS" does for "the
    initial predictions"."""
    asked = {_stem(m.group(1)) for m in _SAID_Q.finditer(question.lower()) if m.group(1)}
    return bool(asked & set(stems(sentence, drop=frozenset())))


def _main_clause(text: str) -> str:
    """The question after a leading clause that sets the scene: "When I use make_pipeline,
    how are the steps named?" asks how, not when; "If the context manager does not fit,
    how can I open it directly?" asks how to."""
    match = _LEADING_CLAUSE.match(text)
    return text[match.end() :] if match else text


_LEADING_CLAUSE = re.compile(
    r"\W*(?:when|whenever|if|once|after|before|while|since|given|in|for|with|assuming)\b"
    r"[^,?]*,\s*(?=(?:what|which|who|whom|whose|how|why|where|when|is|are|does|do|can|should"
    r"|will|would)\b)",
    re.I,
)
# "When does load_lut raise an exception?", "When is it appropriate to pass checked=False?":
# a condition, not a time.
_CONDITION_Q = re.compile(
    r"\W*when (?:does|do|is|are|should|would|will|can|must)\b[^?]*\b(?:raise[sd]?|throws?|"
    r"fails?|returns?|errors?|warns?|emits?|triggers?|appl(?:y|ies)|called|invoked|used|"
    r"needed|necessary|required|appropriate|safe|useful|recommended|ignored|skipped|allowed|"
    # "When is a language classified as high level?": on what condition, not at what time.
    r"classified|considered|regarded|deemed|treated|evaluated|executed|checked)\b"
)
# "What do the default check_* methods verify?" asks what they do, not for a default value.
_DEFAULT_SUBJECT = re.compile(r"\W*(?:what|which) (?:do|does|did|can|will) the default\b")


# "Which RFCs...", "What port...": the noun naming what is asked for.
_ASKED_NOUN = re.compile(
    r"\b(?:which|what)\s+(?!(?:is|are|was|were|does|do|did|has|have|had|can|could|should|"
    r"would|will|kind|kinds|sort|type|types|of|the|a|an|if|when|to|in|on|for|i|you|we|they|"
    r"he|she|it)\b)([A-Za-z][\w-]*)",
    re.I,
)


# "Which company...?", "Which university...?": the answer is a proper name.
_ORGANISATION_HEADS = frozenset(
    [
        "company",
        "companies",
        "firm",
        "firms",
        "corporation",
        "corporations",
        "organisation",
        "organisations",
        "organization",
        "organizations",
        "vendor",
        "vendors",
        "manufacturer",
        "manufacturers",
        "maker",
        "makers",
        "publisher",
        "publishers",
        "university",
        "universities",
        "agency",
        "agencies",
    ]
)
_DAY_OR_YEAR = re.compile(r"\d{1,4}(?:st|nd|rd|th|s)?")
_MONTH = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?|January|February|March|"
    r"April|June|July|August|September|October|November|December"
)

# "Which part of the address...": the answer describes ("the middle address bits"), names
# nothing.
_GENERIC_HEADS = frozenset(
    [
        "part",
        "parts",
        "kind",
        "kinds",
        "type",
        "types",
        "sort",
        "way",
        "ways",
        "aspect",
        "aspects",
        "portion",
        "piece",
        "step",
        "steps",
        "stage",
        "stages",
        "role",
        "purpose",
        "problem",
        "problems",
        "reason",
        "reasons",
        "feature",
        "features",
        "information",
        "condition",
        "conditions",
        "case",
        "cases",
        "situation",
        "situations",
        "operation",
        "operations",
    ]
)


# What ends the words naming the thing asked for: "Which standard library module was...".
_PHRASE_END = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "has",
        "have",
        "had",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "must",
        "of",
        "in",
        "on",
        "for",
        "to",
        "from",
        "by",
        "with",
        "that",
        "the",
        "a",
        "an",
    ]
)


def _asked_phrase(text: str) -> list[str]:
    """The words after "which" or "what" naming the thing asked for, up to the verb: the
    asked noun and what follows it ("standard library module"), stopping before a word
    ending in -ed ("Which company manufactured...": a verb)."""
    match = _ASKED_NOUN.search(text)
    if match is None:
        return []
    phrase = [match.group(1).lower()]
    for word in re.split(r"[^\w'’-]+", text[match.end() :].lower()):
        if not word:
            continue
        if word in _PHRASE_END or word.endswith("ed") or len(phrase) == 3:
            break
        phrase.append(word)
    return phrase


def _asked_noun(text: str) -> str:
    """The word after "which" or "what" when it names the thing asked for, or ""."""
    match = _ASKED_NOUN.search(text)
    return match.group(1).lower() if match else ""


SUBJECT_COVERAGE = 0.8  # a question this much about a heading's subject is answered under it


def _heading(sentence: str, title: str) -> bool:
    """The title line ("...Line2DBaseSeries (class)") names what follows and answers
    nothing; a first line taken as the title that is a sentence (ends in a stop) still may."""
    line = sentence.strip()
    return line == title.strip() and not line.endswith((".", "!", "?", ":"))


def _opens(sentence: StoredSentence, title: str, document_text: Callable[[str], str]) -> bool:
    """Whether the sentence is the first after its document's heading."""
    if sentence.start > len(title) + 8:  # more than the heading and a few blank lines
        return False  # (reading the text of every retrieved document cost a warm ask ms)
    before = document_text(sentence.source)[: sentence.start].strip()
    return bool(before) and _heading(before, title)


_QUOTED = re.compile(r"[\"`“]([\w.’'-]*\w)[\"`”]")
_URL = re.compile(r"\(?\b(?:https?://|www\.)\S+")
_MENTIONED = re.compile(r"[\"“][^\"“”]*[\"”]")  # a quoted stretch of a question
_QUOTED_PHRASE = re.compile(r"[\"“]((?:[\w.’'-]+ ){1,3}[\w.’'-]*\w)[\"”]")
_SINGLE_QUOTED = re.compile(r"(?<![\w'’])['‘]([\w.-]*\w)['’](?![\w'’])")
_BRACKETED_TERM = re.compile(r"\(([a-z]{3,}(?: [a-z]{3,}){0,2})\)")
# "news:comp.ai.neural-nets", "setup.py": dotted lower-case words name a thing.
_DOTTED_NAME = re.compile(r"[a-z][\w-]+(?:\.[\w-]{2,})+")
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z][\w-]*\w)")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _in_identifiers(names: set[str], text: str) -> bool:
    """Whether a name is part of an identifier in the text: "Xet" of `_xet.XetSessionHolder`,
    "LlamaIndex" of `llama_index`. Short names must stand alone ("ai" is in "maintain")."""
    parts = {_stem(p) for p in {p.lower() for p in _CAMEL_PART.findall(text)}}  # distinct first
    if names & parts:
        return True
    joined = re.sub(r"[_-]", "", text.lower())
    return any(len(name) >= 4 and name in joined for name in names)


# "What is D-Bus used for?", "What are zombie processes?", "What does NumPy do?"
_DEFINITION_Q = re.compile(
    r"^\W*(?:(?:what(?:'s| is| are| was| were)(?: the purpose of)?|who (?:is|was))\s+"
    r"(?:an?\s+|the\s+)?(?P<term>[^?]+?)"
    r"(?:\s+(?:used for|useful for|good for|for|in [\w.-]+(?: [\w.-]+)?))?"
    r"|what (?:does|do) (?:an?\s+|the\s+)?(?P<doer>[^?]+?) do(?: for a living)?)\s*\?*$",
    re.I,
)
# "D-Bus is a simple system for...", "NumPy is the fundamental package..."
_COPULA = re.compile(r"^(?P<before>.{0,60}?)\b(?:is|are|was|were)\s+(?:a|an|the|one)\b", re.I)
DEFINITION_MARGIN = 0.3  # how far below the best a sentence saying what a thing is may lead


def _defined_term(question: str) -> str:
    """What a "what is X?" question asks to have defined, or ""."""
    match = _DEFINITION_Q.match(question.strip())
    if not match:
        return ""
    # "What is tmux and what does it let me do?" asks what tmux is.
    term = match.group("term") or match.group("doer")
    return re.split(r"\s+and\s+(?:what|how|why|who|which|where|when)\b", term, maxsplit=1)[0]


def _defines(term: str, item: ScoredSentence) -> bool:
    """Whether the sentence says what the term is: it opens the text under a heading naming
    it, or says "<term> is a ..." (a sentence's opening words, not "... is expressed")."""
    if item.opening:
        return True
    copula = _COPULA.match(item.sentence.text)
    # All of the term: "all matrix entries ... is the default dtype" says nothing of what
    # the Sakurai matrix is.
    return bool(copula) and set(stems(term)) <= set(stems(copula.group("before")))


# "Greenlets are lightweight coroutines": the term itself, then a copula and what it is
# (not "is often expressed", "are not", "are widely used").
_TERM_COPULA = re.compile(
    r"^\W*(?:(?:an?|the)\s+)?(?P<before>[^,;:()]{1,60}?)\s+(?:is|are|was|were)\s+"
    r"(?!not\b|\w+(?:ed|ly|ing)\b)\w",
    re.I,
)


# "Stephen Casper, a computer scientist at MIT, argued ...": who someone is, said in passing.
_APPOSITIVE = re.compile(r"^\W*(?P<before>(?:[\w.’'-]+\s+){0,3}[\w.’'-]+),\s+(?:a|an|the)\s+\w")


def _definition_rank(term: str, item: ScoredSentence) -> int:
    """2: the sentence opens the text under a heading naming the term, says "<term>
    is ...", or opens with "<term>, a ..."; 1: it says what something it names with the
    term is; 0: neither."""
    if item.opening:
        return 2
    copula = _TERM_COPULA.match(item.sentence.text)
    if copula and stems(copula.group("before")) == stems(term):
        return 2
    appositive = _APPOSITIVE.match(item.sentence.text)
    if appositive and set(stems(term)) <= set(stems(appositive.group("before"))):
        return 2
    return 1 if _defines(term, item) else 0


def _acronym(question: str) -> str:
    """The acronym a question asks about ("ONNX", "SECDED"), or ""."""
    found = _ACRONYM.findall(question)
    return found[0] if found else ""


_NOT_SPELLED = "the question asks what the letters stand for and the evidence spells none out"
_NO_ALIAS = "the question asks for another name and the evidence gives none"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# Where a document spells its name out: its opening ("<language> Synchronizing Resources.").
_OPENING_CHARS = 4000


def _spelled_in_source(
    best: ScoredSentence, acronym: str, document_text: Callable[[str], str]
) -> ScoredSentence | None:
    """ "What does the name of the SR concurrent programming language stand for?": the
    entry titled "sr" opens with "<language> Synchronizing Resources.", a line too short to
    rank among the sentences about concurrency. When the best's title is the acronym, the
    first sentence of its document's opening (after the title's line) that spells the
    acronym out leads; when the title spells it out ("field programmable gate array" for
    FPGA), its title does, in a source that gives the acronym."""
    if not acronym:
        return None
    text = document_text(best.sentence.source)
    title_end = text.find("\n")
    title_end = len(text) if title_end < 0 else title_end
    named = re.sub(r"\s*\([^)]*\)\s*$", "", text[:title_end])  # "x (FOLDOC entry)" -> "x"
    if acronym.lower() not in words(best.title):
        if acronym.lower() in words(named) or not _expands(acronym, named):
            return None
        if not re.search(rf"\b{re.escape(acronym)}\b", text):
            return None
        return _quoting(best, text, 0, len(named))
    return _first_sentence(best, text, title_end + 1, lambda t: _expands(acronym, t))


def _said_in_source(
    best: ScoredSentence, question: str, document_text: Callable[[str], str]
) -> ScoredSentence | None:
    """ "What's another word for a display hack?": the entry titled "display hack" ends
    with "Synonym psychedelicware.", far below the sentences about display hacks. When the
    question names the best's subject, the first sentence of its source giving another
    name leads."""
    subject = set(stems(re.sub(r"\([^)]*\)", " ", subject_of(best.title))))
    if not subject or not subject <= set(stems(question)):
        return None
    text = document_text(best.sentence.source)
    start = text.find("\n") + 1
    return _first_sentence(best, text, start, lambda t: bool(_ALIAS.search(t)))


def _first_sentence(
    best: ScoredSentence, text: str, start: int, wanted: Callable[[str], bool]
) -> ScoredSentence | None:
    """The first sentence from `start` in the opening of text that is `wanted`, quoted as
    the best's."""
    ends = [m.start() for m in _SENTENCE_END.finditer(text, start, _OPENING_CHARS)]
    for end in [*ends, min(len(text), _OPENING_CHARS)]:
        if text[start:end].strip() and wanted(text[start:end]):
            return _quoting(best, text, start, end)
        start = end
    return None


def _quoting(best: ScoredSentence, text: str, start: int, end: int) -> ScoredSentence:
    span = _span_sentence(best.sentence, text, start, end)
    span = replace(span, end=span.start + len(span.text.rstrip()), text=span.text.rstrip())
    return replace(best, sentence=span, before=None, after=(), follows="")


def _expands(acronym: str, text: str) -> bool:
    """Whether the sentence spells the acronym out: consecutive words, each giving the
    acronym's next letters (see `given`), most of them by their initial, linking
    words aside ("Open Neural Network Exchange", the X of eXtensible Markup Language,
    "Single Error Correction, Double Error Detection"). Acronyms themselves (MVS/SP) spell
    nothing out."""
    letters = "".join(c.lower() for c in acronym if c.isalpha())
    found = [
        t
        for t in re.findall(r"[A-Za-z][\w'’]*|&", text)
        # Acronyms themselves spell nothing out, nor does their plural ("FPGAs").
        if not (len(t) > 1 and (t.isupper() or t.lower() in (letters, f"{letters}s")))
    ]
    tokens = [t.lower() for t in found]
    if len(letters) < 2:
        return False

    def given(at: int, j: int) -> tuple[int, list[int]]:
        """Where in the word its first letter for the acronym stands, and how far into
        the acronym each further letter it gives reaches. A word opening with its letter
        goes on with the letters that follow (FORmula TRANslation) or its capitals
        (HyperText); one that does not gives one letter (the X of eXtensible):
        "flip-flops and proGrAmmable" spells no FPGA."""
        word = tokens[j]
        first = word.find(letters[at])
        if first < 0:
            return first, []
        ends = [at + 1]
        if first == 0:
            last = 0
            for k in range(1, len(word)):
                if (
                    ends[-1] < len(letters)
                    and word[k] == letters[ends[-1]]
                    and (k == last + 1 or found[j][k].isupper())
                ):
                    ends.append(ends[-1] + 1)
                    last = k
        return first, ends

    def spelled(at: int, j: int, words: int, initials: int) -> bool:
        if at == len(letters):
            return words >= 2 and 2 * initials >= words
        if j == len(tokens):
            return False
        word = tokens[j]
        if word in _LINKING and at > 0 and spelled(at, j + 1, words, initials):
            return True
        first, ends = given(at, j)
        if first < 0 or (at == 0 and first > 0 and word in _LINKING):
            return False
        opened = 1 if first == 0 else 0
        return any(spelled(e, j + 1, words + 1, initials + opened) for e in reversed(ends))

    return any(spelled(0, start, 0, 0) for start in range(len(tokens)))


def _key_terms(text: str) -> tuple[str, ...]:
    # "GLM 5.2" asks about 5.2, not about any text with a 5 and a 2 in it ("2.5.6").
    dotted = _DOTTED_NUMBER.findall(text)
    # "the term vaxocentrism" asks about vaxocentrism ("What term is used for..." still asks
    # for a term), and "What does Casper do for a living?" about Casper.
    rest = _FRAMING_PHRASE.sub(" ", _DOTTED_NUMBER.sub(" ", text))
    # "What does error code 161 mean?", "what does it mean to handwave?": a meaning is
    # asked for; the evidence gives it without the word (not "the mean of the sample").
    rest = _ASKS_MEANING.sub(r"\1", rest)
    terms = dict.fromkeys(
        dotted
        + [
            w
            for w in words(rest)
            if w not in stopwords() and w not in _FRAMING and w not in _PRONOUNS
        ]
    )
    content = [w for w in terms if w not in _ANSWER_FORM]
    return tuple(content or terms)


_DOTTED_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w]|\.\d)")
_FRAMING_PHRASE = re.compile(
    r"\bthe term\b(?=\s+[\"“'‘`]?\w)|\bfor a living\b"
    # "Which database is given as an example of one that uses data striping?"
    r"|\b(?:given|named|cited|listed|mentioned) as an? examples? of\b"
    # "What's another word for a display hack?": "Synonym psychedelicware." need not say it.
    r"|\b(?:another|other|alternative|different) (?:words?|terms?) for\b"
    # "Who created COMAL, and in what year?" asks for a year: "in 1973" need not say "year".
    r"|\b(?:what|which) (?:year|month|decade|century)\b",
    re.I,
)
_ASKS_MEANING = re.compile(r"\b((?:does|do|did)\b.*?)\bmean\b", re.I)
_DEFINITE = re.compile(r"\bthe [a-z]+\b")
_SUBJECT = re.compile(r"\b(he|she|they|him|them|it)\b", re.I)
_POSSESSIVE = re.compile(r"\b(his|her|their|its)\b", re.I)


def _model_numbers(question: str) -> list[str]:
    """The names in a question with a digit in them (System/36, Z8000, FAT32): each names
    one model of a thing."""
    return [name for name in _focus(question).split() if any(c.isdigit() for c in name)]


def _numbers_after_names(question: str) -> list[str]:
    """ "IBM 704", "Commodore 64": the number after a name is the model's own ("The 704"
    in its text, often without the maker's name); a year is none."""
    found = []
    for run in filter(None, _focus(question).split(" and ")):
        name = run.split()[-1]
        after = re.search(rf"(?<![\w.]){re.escape(name)}\s+(\d[\w.]*\w|\d)(?![\w.])", question)
        if after and not re.fullmatch(r"(1[89]|20)\d\d", after.group(1)):
            found.append(after.group(1))
    return found


# Addresses and markdown link labels: "[Python Versions][python_versions]](https://...)".
_LINK_MARKUP = re.compile(r"\b[a-z][a-z+.-]*://\S+|\]\[[^\]\s]*\]")


def _prose(text: str) -> str:
    """The sentence without its addresses and link labels: a line of badges or links
    ("[Python Versions][python_versions]](https://pypi.org/project/tomlkit/) [!") says
    too little to answer anything, however close its words are to a question."""
    return _LINK_MARKUP.sub(" ", text)


def _titled(question: str, titles: Sequence[str]) -> frozenset[str]:
    """Words the question gives in lower case that no dictionary holds and that a
    retrieved document's title gives: a package's name ("tomlkit", "truststore")."""
    in_titles = {w for title in titles for w in words(title)}
    return frozenset(
        w
        for w in re.findall(r"(?<![\w.])[a-z][a-z0-9]{3,}(?![\w.])", question)
        if w in in_titles
        and w not in stopwords()
        and not _ENGLISH_ENDING.search(w)
        and not set(stems(w, drop=frozenset())) & _dictionary()
    )


def _focus(question: str) -> str:
    """The capitalised names in a question ('Lin Yun', 'Nvidia'), opening word aside."""
    runs = re.findall(r"(?:[A-Z][\w.’'/-]*[A-Za-z0-9])(?:\s+[A-Z][\w.’'/-]*[A-Za-z0-9])*", question)
    first = question.split(maxsplit=1)[0] if question.split() else ""
    names = [r for r in runs if r != first and r.lower() not in _FRAMING]
    return " and ".join(dict.fromkeys(names))


def _substitute(question: str, focus: str) -> str:
    """'Which university is he at?' -> 'Which university is Lin Yun at?'"""
    replaced = _POSSESSIVE.sub(f"{focus}'s", question, count=1)
    if replaced == question:
        replaced = _SUBJECT.sub(focus, question, count=1)
    return replaced


def _without(sentence: str, question: str) -> str:
    """The sentence with the words the question already uses blanked out."""
    asked = set(words(question))
    return _TOKEN.sub(lambda m: " " if set(words(m.group(0))) <= asked else m.group(0), sentence)


# How many sentences after the best a parameter's description may run on to its default
# ("An int specifying the threshold ... This argument is effective only when ... Defaults
# to 1024.").
_ENTRY_AFTER = 2
# A line that opens another entry of a parameter list: "n_jobs : int", "verbose (`bool`,
# *optional*)", "- **RAY_SCOPE** (`str`)", "cache_strings: Whether to", "* **base_url** -
# *(optional)*"; not "Default: 5".
_ENTRY_HEAD = re.compile(
    r"\s*(?:[-*]\s+)?\**`*(?!defaults?\b)(?P<name>[A-Za-z_][\w.]*)`*\**\s*(?:\(|:(?!//)|-\s)",
    re.I,
)
_SAYS_DEFAULT = re.compile(r"\bdefault", re.I)
# The setting whose default is asked: "the default value of backoff_max", "the default
# depth_confidence threshold" (not "In qnn_preprocess_model, what is the default size").
_DEFAULT_OF = re.compile(r"\bdefault\s+(?:value\s+(?:of|for)\s+)?`*(\w*_\w*)", re.I)


def _asks_default(question: Question) -> bool:
    """ "What is the default ...?", "Which regex engine does CoreConfig use by default?",
    "What does RAY_SCOPE default to?": the answer gives what is used when nothing is set."""
    return question.kind == "default" or bool(_SAYS_DEFAULT.search(question.text))


def _gives_default(sentence: str, question: str) -> bool:
    return bool(
        _SAYS_DEFAULT.search(sentence)
        and _VALUE.search(_without(sentence, question))
        and not sentence.lstrip().startswith(">>>")
    )


_NO_DEFAULT = "the question asks for a default value and the evidence gives none"
# The line opening a named setting's entry: "silence_thresh - (in dBFS)", "title (str,
# optional):", "n_jobs : int", "* **max_redirects** - *(optional)*".
_ENTRY_LINE = r"^[ \t]*(?:[-*][ \t]+)?[*`]*{name}[*`]*[ \t]*(?:\(|:(?!:)|-[ \t]|=)"
# An identifier a question names: "silence_thresh", "`frame_rate`".
_SNAKE_CASE = re.compile(r"\w+_\w+")
_IDENTIFIER = re.compile(r"`(\w+)`|\b(\w+_\w+)\b")


def _named_entry_default(
    best: ScoredSentence, question: str, document_text: Callable[[str], str]
) -> ScoredSentence | None:
    """ "What is the default silence_thresh of pydub's split_on_silence?" under the
    function's line: the entry of the setting the question names, in the section of the
    best's source (between function entries) of the function the question names, else of
    the best, quoted from its line to its default ("silence_thresh - (in dBFS) anything
    quieter than this will be\n    considered silence. default: -16dBFS"), two lines below
    the first parameter's default and not another function's. None when that entry gives
    no default before the next entry or a blank line."""
    names = {a or b for a, b in _IDENTIFIER.findall(question)}
    if not names:
        return None
    text = document_text(best.sentence.source)
    entries = list(_FUNCTION_ENTRY.finditer(text))
    asked = [m for m in entries if m.group("name").split(".")[-1] in names]
    opening = asked[0] if asked else None
    if opening is None:
        opening = max(
            (m for m in entries if m.start() <= best.sentence.start),
            key=lambda m: m.start(),
            default=None,
        )
    start = opening.start() if opening else 0
    end = min((m.start() for m in entries if m.start() > start), default=len(text))
    if opening is not None:
        # "the default HTTP proxy timeout" names run_forever's http_proxy_timeout in words.
        asked = set(stems(question))
        signature = opening.group().partition("(")[2]
        names |= {
            p
            for p in re.findall(r"\b[A-Za-z]\w*_\w+\b", signature)
            if set(stems(p.replace("_", " "))) <= asked
        }
    for name in sorted(names):
        span = _entry_default_span(text, name, start, end, question)
        if span is not None:
            quoted = _span_sentence(best.sentence, text, *span)
            return replace(best, sentence=quoted, before=None, after=(), follows="")
    return None


def _entry_body_default(
    best: ScoredSentence, question: str, document_text: Callable[[str], str]
) -> ScoredSentence | None:
    """ "What are the default relative and absolute tolerances of scipy's DOP853?": the
    best, "The solver keeps the local error estimates less than ``atol + rtol * abs(y)``",
    stands in the entry "rtol, atol : float and array_like, optional", whose body says
    eight sentences on "Default values are 1e-3 for `rtol` and 1e-6 for `atol`." That
    sentence, the first of the entry giving a default; None when the best stands in no
    entry (an indented body under a line like "name : type") or its entry gives none."""
    text = document_text(best.sentence.source)
    line = text.rfind("\n", 0, best.sentence.start) + 1
    head = _entry_line_above(text, line)
    if head is None:
        return None
    indent = _indent_at(text, head)
    body = text.find("\n", head)
    if body < 0:
        return None
    end = at = body + 1
    while at < len(text):
        line_end = text.find("\n", at)
        line_end = len(text) if line_end < 0 else line_end
        if text[at:line_end].strip() and _indent_at(text, at) <= indent:
            break  # the next entry, or the section's end
        end, at = line_end, line_end + 1
    for part in _BODY_SENTENCE.finditer(text, body, end):
        if _gives_default(" ".join(part.group().split()), question):
            quoted = _span_sentence(best.sentence, text, part.start(), part.end())
            return replace(best, sentence=quoted, before=None, after=(), follows="")
    return None


def _entry_line_above(text: str, line: int) -> int | None:
    """Where the entry line a text line stands in starts: the line itself when it opens
    an entry, else the nearest line above indented less; None when that opens no entry."""
    if _opens_entry(text, line):
        return line
    indent = _indent_at(text, line)
    if indent == 0:
        return None  # no line above is indented less
    at = line
    while at > 0:
        at = text.rfind("\n", 0, at - 1) + 1
        if text[at : text.find("\n", at)].strip() and _indent_at(text, at) < indent:
            return at if _opens_entry(text, at) else None
    return None


def _opens_entry(text: str, line: int) -> bool:
    return bool(_ENTRY_HEAD.match(text, line) or _NAMES_ENTRY.match(text, line))


# A NumPy-style entry of several parameters: "rtol, atol : float and array_like, optional".
_NAMES_ENTRY = re.compile(r"[ \t]*\w+(?:,[ \t]*\w+)+[ \t]+:[ \t]")


# A sentence of an entry's body, over its line breaks: "Default values are\n    1e-3 for
# `rtol` and 1e-6 for `atol`." ("np.inf" and "1e-3" end none).
_BODY_SENTENCE = re.compile(r"\S(?:[^.!?]|[.!?](?!\s))*[.!?]?")


def _entry_default_span(
    text: str, name: str, start: int, end: int, question: str
) -> tuple[int, int] | None:
    """From the line opening the entry of `name` within text[start:end] to the end of its
    line giving a default, if one does before the next entry or a blank line."""
    head = re.compile(_ENTRY_LINE.format(name=re.escape(name)), re.M).search(text, start, end)
    if head is None:
        return None
    indent = _indent_at(text, head.start())
    line_start = head.start()
    while line_start < end:
        line_end = text.find("\n", line_start, end)
        line_end = end if line_end < 0 else line_end
        line = text[line_start:line_end]
        if line_start > head.start() and (
            not line.strip() or (_indent_at(text, line_start) <= indent and _ENTRY_HEAD.match(line))
        ):
            return None
        if _gives_default(line, question):
            return head.start(), line_end
        line_start = line_end + 1
    return None


def _parts(text: str) -> set[str]:
    """Stems of the words and of the parts of identifiers: "frame_rate" gives "frame", "rate"."""
    return set(stems(re.sub(r"[_.]", " ", text)))


def _another_entry_s(question: Question, best: ScoredSentence, quoted: str) -> bool:
    """'Defaults to "rule.line".' in the entry 'style (StyleType, optional): Style of
    Rule.' is the default of style, not of the width "What is the default width of a rich
    Rule?" asks about: the entry the default stands in names none of the question's key
    terms beyond the default and its document's title."""
    before = best.before
    if _ENTRY_HEAD.match(quoted):
        entry = quoted
    elif before is not None and _ENTRY_HEAD.match(before.text):
        entry = f"{before.text} {quoted}"
    else:
        return False
    asked = _parts(" ".join(question.key_terms)) - _parts(best.title) - {"default"}
    return bool(asked) and not asked & _parts(entry)


def _default_beside(best: ScoredSentence, question: str) -> ScoredSentence:
    """The best sentence quoted on to the default of the entry it describes, when it
    names the setting and gives no default: "The regex engine to use for regex pattern
    validation." and then "Default is 'rust-regex'."; "The confidence threshold used to
    perform early stopping" under its line "depth_confidence (`float`, *optional*,
    defaults to 0.95):". Not past the next entry's line (another parameter's default)."""
    if _gives_default(best.sentence.text, question):
        return best
    previous = best.sentence
    for sentence in best.after:
        if _ENTRY_HEAD.match(sentence.text):
            break
        if _gives_default(sentence.text, question):
            return replace(
                best, sentence=sentence, before=previous, after=(), lead_from=best.sentence
            )
        previous = sentence
    head = best.before
    entry = _ENTRY_HEAD.match(head.text) if head is not None else None
    # "max_mention_length (`int`, *optional*, defaults to 30):" is not the entry of the
    # max_entity_length a question names.
    identifiers = {w.lower() for w in re.findall(r"\w*_\w*", question)}
    if (
        head is not None
        and entry is not None
        and head.text.rstrip().endswith(":")
        and not _ENTRY_HEAD.match(best.sentence.text)
        and _gives_default(head.text, question)
        and (not identifiers or entry.group("name").lower() in identifiers)
    ):
        return replace(best, lead_from=head)
    return best


# A docstring's version note: ".. versionchanged:: 26.1" (then "Added the ``key``
# parameter."), ".. deprecated:: 2.5", ".. versionadded:: 2.18" closing an entry.
_VERSION_DIRECTIVE = re.compile(
    r"[ \t]*\.\. (?:versionadded|versionchanged|deprecated)::[ \t]*\d[\w.]*[ \t]*"
)


def _under_version_note(lead: ScoredSentence) -> ScoredSentence:
    """The lead quoted from the version note it stands under: ".. deprecated:: 3.7.0" and
    then "marshmallow.pprint will be removed in marshmallow 4." say together since when
    and until when."""
    before = lead.before
    if lead.lead_from is None and before is not None and _VERSION_DIRECTIVE.fullmatch(before.text):
        return replace(lead, lead_from=before)
    return lead


def _with_version_note(
    item: ScoredSentence, text: str, of_object: bool = False
) -> ScoredSentence | None:
    """The item quoted with the version note it falls under: the note's body, indented
    under it ("Added the ``key`` parameter."), or an indented entry the note closes. A
    note at the margin after a line is the whole object's, not that line's (a class's
    ".. versionadded:: 8.0" after its last `:param` line): it answers only `of_object`,
    for a question about the object itself."""
    s = item.sentence
    line_start = text.rfind("\n", 0, s.start) + 1
    line_end = text.find("\n", s.end)
    line_end = len(text) if line_end == -1 else line_end
    indent = _indent_at(text, line_start)
    if text[line_start : s.start].strip() == "":
        head = text[:line_start].rstrip()
        note_start = head.rfind("\n") + 1
        if _VERSION_DIRECTIVE.fullmatch(head, note_start) and _indent_at(text, note_start) < indent:
            note = _span_sentence(s, text, note_start, len(head))
            return replace(item, lead_from=note)
    if text[s.end : line_end].strip() == "":
        rest = text[line_end:]
        note_start = text.rfind("\n", 0, line_end + len(rest) - len(rest.lstrip())) + 1
        note_end = text.find("\n", note_start)
        note_end = len(text) if note_end == -1 else note_end
        note_indent = _indent_at(text, note_start)
        if _VERSION_DIRECTIVE.fullmatch(text, note_start, note_end) and (
            (note_indent > 0 and note_indent >= indent) or (of_object and note_indent == 0)
        ):
            note = _span_sentence(s, text, note_start, note_end)
            return replace(item, sentence=note, before=s, after=(), lead_from=s)
    return None


def _names_object(question: str, text: str) -> bool:
    """Whether the question names what the document is about: "ReadWriteLock" of the
    title "filelock._sqlite._lock.ReadWriteLock (class)"."""
    name = text.split("\n", 1)[0].split(" (", 1)[0].rsplit(".", 1)[-1].strip()
    return len(name) >= 3 and re.search(rf"\b{re.escape(name)}\b", question, re.I) is not None


def _indent_at(text: str, line_start: int) -> int:
    line = text[line_start : line_start + 200]
    return len(line) - len(line.lstrip(" \t"))


# "What does set_default_dtype return?", "What does export_as_test_case ... return?"
_RETURN_Q = re.compile(r"\W*what\s+(?:does|do|did|will|would|should)\b[^?]*\breturns?\b", re.I)
# A function's entry in a docstring document: "export_as_test_case(model_bytes, ...): Export".
_FUNCTION_ENTRY = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\([^)\n]*\):", re.M)
# Its Returns section, Google or NumPy style: "Returns:" or "Returns" over a dashed line,
# then the paragraph saying what comes back.
_RETURNS_SECTION = re.compile(
    r"^[ \t]*(?:Returns?|Yields?)[ \t]*(?::|\n[ \t]*-{3,})[ \t]*\n(?:[ \t]*\S[^\n]*(?:\n|$))+",
    re.M,
)


# Its Raises section: "Raises:\n    PdfReadError: If restrictions prevent this action."
_RAISES_SECTION = re.compile(
    r"^[ \t]*Raises[ \t]*(?::|\n[ \t]*-{3,})[ \t]*\n(?:[ \t]*\S[^\n]*(?:\n|$))+", re.M
)


def _asked_parts(question: str) -> set[str]:
    """The question's words and the parts of its dotted names ("unittest.util"), lower-cased:
    what a function's entry line may be named."""
    return {w.lower() for t in _TOKEN.findall(question) for w in t.split(".")}


def _entry_name(entry: re.Match[str]) -> str:
    """ "unorderable_list_difference" of "unittest.util.unorderable_list_difference(...):"."""
    return entry.group("name").split(".")[-1].lower()


def _entry_at(starts: list[int], item: ScoredSentence) -> int:
    """Which of the function entries starting at `starts` the item stands under; -1 if
    none (it is before the first)."""
    return bisect.bisect_right(starts, item.sentence.start) - 1


def _without_other_entries(
    ranked: list[ScoredSentence], question: str, document_text: Callable[[str], str]
) -> list[ScoredSentence]:
    """ "What is the performance of safe_repr?": a sentence under another function's line
    ("unorderable_list_difference(...): ... it has O(n*n) performance") is not about the
    function the question names, when the best's source holds that function's line too:
    such sentences of that source are no evidence (those before any function's line are)."""
    if not ranked:
        return ranked
    source = ranked[0].sentence.source
    entries = list(_FUNCTION_ENTRY.finditer(document_text(source)))
    asked = _asked_parts(question)
    named = [_entry_name(m) in asked for m in entries]
    if not any(named):
        return ranked
    starts = [m.start() for m in entries]

    def elsewhere(item: ScoredSentence) -> bool:
        at = _entry_at(starts, item)
        return item.sentence.source == source and at >= 0 and not named[at]

    kept = [item for item in ranked if not elsewhere(item)]
    return kept or ranked


def _section_first(
    ranked: list[ScoredSentence],
    question: str,
    document_text: Callable[[str], str],
    section: re.Pattern[str],
    any_source: bool = False,
) -> list[ScoredSentence]:
    """For "What does X return?" (or raise): when the best's source (or, with
    `any_source`, any source) holds the entry line of the function X
    ("set_default_dtype(fp_dtype, int_dtype): Set the (global) defaults...") within twice
    the margin of the best, that entry's section leads, quoted from its heading
    ("Returns\n-------\nThe old default dtype state: a namedtuple..."): the entry line
    says what X does, not what it returns or raises."""
    best = ranked[0]
    asked = _asked_parts(question)
    for item in ranked:
        if item.score < best.score - 2 * MARGIN:
            break
        entry = _FUNCTION_ENTRY.match(item.sentence.text)
        if (
            (item.sentence.source != best.sentence.source and not any_source)
            or entry is None
            or _entry_name(entry) not in asked
        ):
            continue
        text = document_text(item.sentence.source)
        following = _FUNCTION_ENTRY.search(text, item.sentence.end)
        found = section.search(
            text, item.sentence.end, following.start() if following else len(text)
        )
        if found is None:
            return ranked
        quoted = _quoting(item, text, found.start(), found.end())
        return [quoted, *(r for r in ranked if r is not item)]
    return ranked


def _span_sentence(beside: StoredSentence, text: str, start: int, end: int) -> StoredSentence:
    """A line of the document as a sentence of its own, for quoting from or to: where a
    stored sentence is needed for a span of the text next to `beside`."""
    while start < end and text[start].isspace():
        start += 1
    return replace(
        beside,
        id=sentence_id(beside.source, start, end),
        start=start,
        end=end,
        text=text[start:end],
        meaning=text[start:end],
    )


def load_vocabulary() -> None:
    """Compute the stems of the model's vocabulary now (see Assistant.warm_up)."""
    _dictionary()


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """Stems of the embedding model's whole-word vocabulary (about 22,500 English words)."""
    from rag.embeddings import vocabulary_words

    return frozenset(s for w in vocabulary_words() for s in stems(w, drop=frozenset()))


# Endings of English words the vocabulary lacks ("promulgated", "hackish", "wrappers").
_ENGLISH_ENDING = re.compile(
    r"(ed|ing|ly|ish|ion|ions|ness|ment|ments|able|ible|ive|ous|ful|less|ity|ers|ism|ist)$"
)


def _hyphenated_name(token: str) -> bool:
    """ "llvm-defaults", "pinentry-gnome": words joined by hyphens, one of them in no
    dictionary, name a package or a command ("well-known" and "re-export" are words)."""
    return "-" in token.strip("-") and any(
        len(part) >= 3
        and part.isalpha()
        and not set(stems(part, drop=frozenset())) & _dictionary()
        and not _ENGLISH_ENDING.search(part)
        for part in token.lower().split("-")
    )


def _given(token: str, asked: set[str], asked_stems: set[str], question: str) -> bool:
    """Whether the question gives this token. An identifier only as itself:
    "PYTEST_TIMEOUT" for a global timeout of pytest names what the question does not; a
    word also in other letters: "AUTHORS" is the question's "author" in capitals."""
    if "_" in token or _hyphenated_name(token) or _OPTION.fullmatch(token):
        return token.lower() in question
    return set(words(token)) <= asked or bool(stems(token) and set(stems(token)) <= asked_stems)


def _coined(token: str, beside: list[str], asked: list[str]) -> bool:
    """A lower-case word no dictionary holds, right beside a noun "which" asks about, is
    a name: "the simplejson library" for "Which library...?", "the stdlib's optparse
    module" for "Which standard library module...?" (docstrings name things in lower
    case); one with a digit is a name anywhere ("libbase64"). Beside other words, the
    dictionary is too small to tell ("a glitch"); forms of known words ("factorials") and
    words built like English ones ("promulgated") are words."""
    if not (len(token) >= 5 and token.islower() and token.isalnum() and token[0].isalpha()):
        return False
    if any(c.isdigit() for c in token):
        return True
    if not {_stem(w) for w in asked} & {_stem(w.lower()) for w in beside}:
        return False
    return (
        not _ENGLISH_ENDING.search(token)
        and not set(stems(token, drop=frozenset())) & _dictionary()
    )


def _unknown_capitalised(token: str) -> bool:
    """A capitalised opening word no dictionary holds is a name, as it is anywhere else:
    "Teyjus is an implementation of Lambda Prolog." ("Modern Korean..." opens with a word)."""
    token = token.strip("'’")
    return (
        len(token) >= 3
        and token[0].isupper()
        and token.isalpha()
        and not _ENGLISH_ENDING.search(token.lower())
        and not set(stems(token, drop=frozenset())) & _dictionary()
    )


def _capitalised(word: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.I) is not None and not re.search(
        rf"\b{re.escape(word)}\b", text
    )


def _is_common(token: str, terms: TopicTerms) -> bool:
    """A word in a quarter or more of all passages; idf falls to log(5) there."""
    found = stems(token, drop=frozenset())
    return bool(found) and all(terms.idf(s) < COMMON_IDF for s in found)


def _stem(word: str) -> str:
    if _DOTTED_NUMBER.fullmatch(word):
        return word  # a version or a decimal: one term, as rare as it is specific
    found = stems(word, drop=frozenset())
    return found[0] if found else word


def _asks(sentence: str) -> bool:
    """A question in the text ('Is there a path toward de-escalation?') restates what
    is asked, often in the asker's very words, and answers nothing: the sentences after
    it do, with it as their context."""
    return sentence.rstrip().rstrip("\"'”’)").endswith("?")


def _cosine(a: ScoredSentence, b: ScoredSentence) -> float:
    return float(a.sentence.embedding @ b.sentence.embedding)
