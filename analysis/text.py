"""Text processing for feedback comments: normalise, tokenise, mask PII, split.

Everything here is plain regular expressions (no NLTK: importing its package
takes seconds, pulling in scipy.stats and scikit-learn, and the web app imports
this module), so nothing is downloaded and the functions are fast
enough to run on every clause of every comment (the classifier budget is
10,000 comments a second). Word lists live in ``analysis/data`` and are read
lazily on first use, never at import time.

Public functions (used by the report and CLI code):

* :func:`normalise` -- canonical lower-case string with URL/USER/EMO_* markers
* :func:`tokenize` -- tokens with negation scope marked by a ``NEG_`` prefix
* :func:`mask_pii` -- e-mail addresses -> ``[email]``, phone numbers -> ``[phone]``
* :func:`split_clauses` -- sentences, then clauses at contrastive conjunctions,
  ";" and commas between two clause-like pieces
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

#: Marker tokens that :func:`normalise` inserts. They are upper case so they can
#: never collide with a (lower-cased) word of the text.
MARKERS = ("URL", "USER", "EMAIL", "PHONE", "EMO_POS", "EMO_NEG", "EMO_NEU")

#: Conjunctions that start a new clause; the clause after "but" usually carries
#: the writer's point, the one after "although" is a concession.
CONTRASTIVE = ("but", "however", "although", "though", "yet", "except", "whereas")

NEG_PREFIX = "NEG_"
#: A negation scope ends at punctuation, at a contrastive conjunction, or after
#: this many tokens (tweets often have no punctuation at all).
NEG_SCOPE = 6

# Private-use code points stand in for markers while the text is lower-cased.
_PUA = {name: chr(0xE000 + i) for i, name in enumerate(MARKERS)}
_PUA_TO_MARKER = str.maketrans({v: f" {k} " for k, v in _PUA.items()})


# --------------------------------------------------------------------------- #
# Word lists (lazy)
# --------------------------------------------------------------------------- #
def _read_table(name: str) -> list[list[str]]:
    rows = []
    with open(DATA_DIR / name, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            rows.append(line.split("\t"))
    return rows


@functools.cache
def negators() -> frozenset[str]:
    """Words that open a negation scope (``analysis/data/negators.txt``)."""
    return frozenset(row[0].strip() for row in _read_table("negators.txt"))


@functools.cache
def _emoticon_table() -> dict[str, str]:
    """Emoticon -> placeholder (see emoticons.tsv); matched as whole words."""
    return {row[0]: " " + _PUA[row[1]] + " " for row in _read_table("emoticons.tsv")}


@functools.cache
def _emoji_table() -> dict[int, str]:
    """Code point -> placeholder for every listed emoji (see emoji.tsv)."""
    return {int(row[0], 16): _PUA[row[1]] for row in _read_table("emoji.tsv")}


# --------------------------------------------------------------------------- #
# Regular expressions (compiled at import: cheap, no I/O)
# --------------------------------------------------------------------------- #
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.I)
_AT_RE = re.compile(r"@[\w-]*(?:\.[\w-]+)*")
_PLACEHOLDER_RE = re.compile(r"\[(?:email|phone)\]")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "1000" stays
_PUNCT_REPEAT_RE = re.compile(r"([!?.])\1{2,}")
_PICTO_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]")
_STRIP_RE = re.compile("[\uFE0E\uFE0F\u200D\U0001F3FB-\U0001F3FF\u2640\u2642]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-"})
_EMOTICON_CHARS = (":", ";", "=", "<", "^", "XD", "xD", "-_-")


# Markers travel through lower-casing as private-use characters, so the
# tokenizer sees each as one token.
# Words come first because most tokens are words; the alternatives start with
# disjoint characters, so their order changes no token, only the time to match.
# The pattern and flags NLTK's RegexpTokenizer was given (it only called findall),
# with the stdlib engine: the pattern has no nested quantifiers (linear time).
_TOKEN_RE = re.compile(
    r"[^\W\d_]+(?:'[^\W\d_]+)*"
    "|[\ue000-\ue0ff]"
    r"|\d+(?:[.,:]\d+)*"
    r"|[£$€%]"
    r"|[!?]+"
    r"|[.,;:]",
    re.UNICODE | re.MULTILINE | re.DOTALL,
)
_SCOPE_END = frozenset(".,;:!?") | frozenset(CONTRASTIVE)


def _mark_at(text: str) -> str:
    """@handles -> USER and e-mail addresses -> EMAIL (only called when "@" occurs)."""
    out, last = [], 0
    for m in _AT_RE.finditer(text):
        start = m.start()
        if start < last:
            continue
        i = start
        while i > last and text[i - 1] in _LOCAL_CHARS:
            i -= 1
        domain = m.group(0)[1:]
        if i < start and "." in domain:
            out.append(text[last:i])
            out.append(" " + _PUA["EMAIL"] + " ")
        elif i == start and domain and (start == 0 or not text[start - 1].isalnum()):
            out.append(text[last:start])
            out.append(" " + _PUA["USER"] + " ")
        else:
            continue
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _emoji(match: re.Match) -> str:
    return " " + _emoji_table().get(ord(match.group(0)), _PUA["EMO_NEU"]) + " "


def _emoticons(text: str) -> str:
    table = _emoticon_table()
    words = text.split(" ")
    hit = False
    for k, w in enumerate(words):
        marker = table.get(w) or table.get(w.rstrip(".,!?"))
        if marker:
            words[k] = marker
            hit = True
    return " ".join(words) if hit else text


def _premark(text: str) -> str:
    """Replace URLs, handles, e-mails, placeholders, emoji and emoticons by
    private-use characters (they survive lower-casing as single tokens)."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_QUOTES)
        text = _STRIP_RE.sub("", text)
        text = _PICTO_RE.sub(_emoji, text)
    if "http" in text or "www." in text or "HTTP" in text or "WWW." in text:
        text = _URL_RE.sub(" " + _PUA["URL"] + " ", text)
    if "@" in text:
        text = _mark_at(text)
    if "[" in text:
        text = _PLACEHOLDER_RE.sub(
            lambda m: " " + _PUA["EMAIL" if m.group(0) == "[email]" else "PHONE"] + " ", text)
    for ch in _EMOTICON_CHARS:
        if ch in text:
            text = _emoticons(text)
            break
    return text.replace("#", " ")


def normalise(text: str) -> str:
    """Return a canonical form of ``text`` for the feature extractors.

    URLs become ``URL``, ``@handles`` ``USER``, e-mail addresses and masked
    ``[email]``/``[phone]`` placeholders ``EMAIL``/``PHONE``; emoji and ASCII
    emoticons become ``EMO_POS``/``EMO_NEG``/``EMO_NEU``; letters repeated three
    or more times are cut to two ("soooo" -> "soo"), and runs of "!", "?" or
    "." likewise; hashtags lose their "#"; the rest is lower-cased with
    whitespace collapsed. :func:`tokenize` does the same work token by token.
    """
    if not text:
        return ""
    text = _premark(text).lower()
    text = _PUNCT_REPEAT_RE.sub(r"\1\1", _REPEAT_RE.sub(r"\1\1", text))
    return " ".join(text.translate(_PUA_TO_MARKER).split())


def mark_negation(tokens: list[str]) -> list[str]:
    """Prefix the tokens after a negator with ``NEG_``.

    The scope runs until punctuation, a contrastive conjunction, another
    negator or :data:`NEG_SCOPE` tokens ("never called back" ->
    ``never NEG_called NEG_back``). Marker tokens (URL, EMO_*, ...) are left
    alone.
    """
    neg = negators()
    out = []
    left = 0
    for tok in tokens:
        if tok in neg:
            out.append(tok)
            left = NEG_SCOPE
        elif left and not tok.isupper() and (
            tok not in _SCOPE_END or (left == NEG_SCOPE and tok == "yet")
        ):
            out.append(NEG_PREFIX + tok)
            left -= 1
        else:
            out.append(tok)
            if tok in _SCOPE_END:
                left = 0
    return out


_canon_cache: dict[str, str] = {}
_PUA_NAMES = {v: k for k, v in _PUA.items()}


def _canon(tok: str) -> str:
    """Canonical form of one raw (lower-cased) token; memoised."""
    c = tok[0]
    if c in _PUA_NAMES:
        out = _PUA_NAMES[c]
    elif c.isdigit():
        out = "NUM"
    elif c in "!?":
        out = c
    elif c in ".,;:":
        out = "."
    else:
        out = _REPEAT_RE.sub(r"\1\1", tok)
    if len(_canon_cache) > 500_000:
        _canon_cache.clear()
    _canon_cache[tok] = out
    return out


def tokenize(text: str) -> list[str]:
    """Normalise ``text`` and split it into tokens with negation marked.

    Tokens are words, numbers, currency signs and punctuation. Punctuation
    ends negation scopes and is then dropped, except runs of "!" and "?"
    which carry tone (kept as one "!" or "?"). Numbers become ``NUM``.
    """
    if not text:
        return []
    raw = _TOKEN_RE.findall(_premark(text).lower())
    # C-level map and filter: this runs on every token of every clause
    tokens = list(map(_canon_cache.get, raw))
    if None in tokens:  # tokens not seen yet
        tokens = [c if c is not None else _canon(t) for c, t in zip(tokens, raw)]
    if not negators().isdisjoint(tokens):
        tokens = mark_negation(tokens)
    if "." in tokens:
        return list(filter(".".__ne__, tokens))
    return tokens


# --------------------------------------------------------------------------- #
# PII masking
# --------------------------------------------------------------------------- #
# A phone number: optional +CC / 00CC, optional (0), optional (area), then
# 2-5 digit groups separated by one space, dot or hyphen -- or one run of
# 10-13 digits. Matches are then checked for a plausible digit count.
_PHONE_RE = re.compile(
    r"(?<![\w£$€.,/:])"
    r"(?:(?:\+|00)\d{1,3}[ .-]?|1[ .-])?"
    r"(?:\(0\)[ .-]?)?"
    r"(?:\(\d{2,5}\)[ .-]?)?"
    r"(?:\d{1,5}(?:[ .-]\d{2,6}){1,5}|\d{10,13})"
    r"(?![\w%£$€]|[.,]\d|/)"
)


def _phone(match: re.Match) -> str:
    s = match.group(0)
    digits = sum(ch.isdigit() for ch in s)
    if s.startswith(("+", "00")):
        ok = 8 <= digits <= 15
    else:
        ok = 10 <= digits <= 13 or (digits == 9 and s.startswith("0"))
    return "[phone]" if ok else s


def mask_pii(text: str) -> str:
    """Replace e-mail addresses with ``[email]`` and phone numbers with ``[phone]``.

    Phones are recognised in international (+44 20 7946 0958, 0044..., +1 (555)
    123-4567), UK (07700 900123, 020 7946 0958, (0161) 496 0000) and US
    ((555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199) forms.
    Ordinary numbers ("3 hours", "£45", "2017", dates, times) are kept.
    Run this before any text is stored or shown in a report.
    """
    if "@" in text:
        text = _EMAIL_RE.sub("[email]", text)
    if _has_many_digits(text):
        text = _PHONE_RE.sub(_phone, text)
    return text


_DIGIT_RE = re.compile(r"\d")


def _has_many_digits(text: str) -> bool:
    """At least 8 ASCII digits (a cheap C-speed pre-check before the phone regex)."""
    return _DIGIT_RE.search(text) is not None and sum(map(text.count, "0123456789")) >= 8


# --------------------------------------------------------------------------- #
# Clause splitting
# --------------------------------------------------------------------------- #
_SENT_RE = re.compile(r"([.!?])\s+|\s*\n\s*")
_CLAUSE_RE = re.compile(
    r"(?<=;)\s*|\s+(?=(?:but|however|although|though|yet|except|whereas)\b)", re.I
)
MIN_CLAUSE_WORDS = 3
# A comma is a clause boundary only between two clause-like pieces (see
# :func:`_comma_clauses`); the comma stays at the end of the left piece so the
# clauses' tokens joined are the whole text's tokens.
_COMMA_RE = re.compile(r"(?<=,)\s+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
#: Finite verbs and auxiliaries that tell a clause from a noun phrase or a
#: list item ("fast, friendly, helpful"). Written from English grammar: be,
#: have, do, the modals, and the commonest irregular past forms; regular
#: past forms and participles are caught by their "-ed"/"-ing" ending.
_VERB_WORDS = frozenset("""
am is are was were be been being isn't aren't wasn't weren't it's i'm you're they're
we're he's she's that's there's what's has have had having hasn't haven't hadn't
i've you've we've they've i'd you'd he'd she'd we'd they'd do does did doing don't
doesn't didn't done can can't cannot could couldn't will won't would wouldn't shall
should shouldn't may might must i'll you'll he'll she'll we'll they'll it'll took
take takes taking got get gets getting gave give gives made make makes went go goes
gone came come comes knew know knows said say says told tell tells felt feel feels
kept keep keeps left leave leaves found find finds thought think thinks sent send
sends paid pay pays spent spend seemed seems seem ran run runs saw see sees let lets
need needs want wants tried try tries
""".split())


def split_clauses(text: str) -> list[str]:
    """Split ``text`` into sentences, then into clauses at contrastive conjunctions,
    at ";", and at commas that join two clauses (:func:`_comma_clauses`).

    "the engineer was lovely but it took three months" ->
    ["the engineer was lovely", "but it took three months"]. The conjunction
    stays at the head of its clause (the labeller uses it to weigh clauses).
    Fragments shorter than :data:`MIN_CLAUSE_WORDS` words are merged into the
    previous clause (or the next one when there is none), so there are no
    one-word clauses. Sentence splitting is a regex rather than Punkt: an
    untrained Punkt model is no better on short comments and ten times slower.
    Cheap substring probes skip the regexes for the many one-clause comments.
    """
    text = text.strip()
    if not text:
        return []
    has_sent = ". " in text or "! " in text or "? " in text or "\n" in text
    low = text.lower()
    has_clause = (";" in text or "but" in low or "however" in low or "though" in low
                  or "yet" in low or "except" in low or "whereas" in low)
    has_comma = ", " in text or ",\t" in text
    if not has_sent and not has_clause and not has_comma:
        return [text]
    sents = _sentences(text) if has_sent else [text]
    parts = []
    for sent in sents:
        pieces = _CLAUSE_RE.split(sent) if has_clause else [sent]
        for piece in pieces:
            if not piece or piece.isspace():
                continue
            if has_comma and "," in piece:
                parts.extend(_comma_clauses(piece))
            else:
                parts.append(piece)
    if len(parts) == 1:
        return [parts[0].strip()]
    merged: list[str] = []
    sizes: list[int] = []
    for part in parts:
        part = part.strip()
        n = len(part.split())
        if merged and (sizes[-1] < MIN_CLAUSE_WORDS or n < MIN_CLAUSE_WORDS):
            merged[-1] = _join(merged[-1], part)
            sizes[-1] += n
        else:
            merged.append(part)
            sizes.append(n)
    return merged


def _comma_clauses(piece: str) -> list[str]:
    """Split ``piece`` at the commas that join two clauses.

    "Issue solved in the end, took longer than I'd like" has two clauses with
    opposite sentiment; "fast, friendly and helpful" or "On Monday, the
    engineer came" do not. A comma splits when the text on each side has at
    least :data:`MIN_CLAUSE_WORDS` words and a clause head: a verb
    (:data:`_VERB_WORDS`, or a word ending in "-ed"/"-ing") or a word of the
    sentiment lexicon. Otherwise the comma's pieces stay together.
    """
    raw = _COMMA_RE.split(piece)
    if len(raw) == 1:
        return [piece]
    # Words never span the space that joins two pieces, so a joined piece's
    # word count and clause head follow from its parts': each part is read once.
    out: list[str] = []
    n_words, has_head = 0, False  # of out[-1]
    for part in raw:
        n, head = _clause_signs(part)
        if out and n_words >= MIN_CLAUSE_WORDS and has_head and n >= MIN_CLAUSE_WORDS and head:
            out.append(part)
            n_words, has_head = n, head
        elif out:
            out[-1] = f"{out[-1]} {part}"
            n_words, has_head = n_words + n, has_head or head
        else:
            out.append(part)
            n_words, has_head = n, head
    return out


def _clause_signs(part: str) -> tuple[int, bool]:
    """(number of words, whether one is a clause head) of ``part``."""
    low = part.lower()
    words = _WORD_RE.findall(low)
    if not _clause_heads().isdisjoint(words):
        return len(words), True
    if "ed" not in low and "ing" not in low:  # then no word ends so
        return len(words), False
    return len(words), any(len(w) > 4 and w.endswith(("ed", "ing")) for w in words)


@functools.cache
def _clause_heads() -> frozenset[str]:
    """Verbs plus the words of the sentiment lexicon (read once, lazily)."""
    lexicon = {row[0] for row in _read_table("sentiment_lexicon.tsv")}
    return _VERB_WORDS | frozenset(lexicon)


def _sentences(text: str) -> list[str]:
    """Split after ".", "!" or "?" followed by whitespace, and at line breaks."""
    parts = _SENT_RE.split(text)  # [text, punct|None, text, punct|None, ..., text]
    out = []
    current = parts[0]
    for i in range(1, len(parts), 2):
        out.append(current + parts[i] if parts[i] else current)
        current = parts[i + 1]
    out.append(current)
    return out


def _join(a: str, b: str) -> str:
    return f"{a} {b}"
