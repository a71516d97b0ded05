"""Lucene's English analysis chain in pure Python, token for token.

BRIGHT's BM25 (and Anserini's) index the tokens of Pyserini's default analyzer: Lucene's
StandardTokenizer (UAX#29 word boundaries), EnglishPossessiveFilter, LowerCaseFilter,
StopFilter with Lucene's 33 English stop words, PorterStemFilter. Any other tokenizer shifts
df, document lengths and so every score, so this module reproduces that chain exactly;
tests/test_analysis.py pins it to tokens taken from Lucene 9.9.1 (Pyserini 1.6.0).

How it stays fast in Python: a text is first cut into *spans* at characters that never
belong to a token (str.translate + str.split; a token never crosses a span boundary).
Each distinct span is tokenized, filtered and stemmed once, then served from a dict, and
``itertools.chain`` flattens the cached term tuples at C speed. Text is lower-cased before
the cut when that cannot move a token boundary, so "The" and "the" share one cache entry.

Tokenizing a span follows StandardTokenizerImpl.jflex's grammar over a string of per
character class letters (the Unicode 9 Word_Break values and Unicode 11 emoji properties
Lucene's tokenizer was generated from, measured from Lucene into ``_uax29_tables``):

  A letter  a letter that is also an emoji  H Hebrew letter  N digit  K katakana
  E ExtendNumLet (_)  L MidLetter (:)  M MidNum (,;)  P MidNumLet (.)  Q '  D "
  X Extend/Format  Z ZWJ  V U+FE0F  W U+FE0E  C keycap U+20E3  m emoji modifier
  S South-East-Asian letter  s South-East-Asian mark  I ideograph/hiragana
  R regional indicator  e emoji  k # or *   (anything else: O, never in a token)
"""
from __future__ import annotations

import bisect
import gc
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain

from bright_eval.retrievers import _uax29_tables
from bright_eval.retrievers.porter import stem as porter_stem

try:  # optional compiled span loop (pyproject's ext-modules); the Python code stays the reference
    from bright_eval.retrievers._bm25c import SpanTable as _SpanTable
except ImportError:  # pragma: no cover - built wherever a C compiler was available
    _SpanTable = None

__all__ = ["EnglishAnalyzer", "LUCENE_ENGLISH_STOP_WORDS", "TermIds", "tokenize"]

# EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (Lucene 9), which Anserini's default analyzer uses.
LUCENE_ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with".split()
)

# StandardTokenizer's scanner buffer is 255 UTF-16 units: a longer run is cut where the
# buffer ends (lookahead cannot see past it) and the rest is scanned as new text.
MAX_TOKEN_LENGTH = 255

# --- character classes ----------------------------------------------------------------
_STARTS: list[int] = []
_ENDS: list[int] = []
_LETTERS: list[str] = []
for _cls, _spec in _uax29_tables.RANGES.items():
    for _r in _spec.split():
        _a, _, _b = _r.partition("-")
        _STARTS.append(int(_a, 16))
        _ENDS.append(int(_b or _a, 16))
        _LETTERS.append(_cls)
_order = sorted(range(len(_STARTS)), key=_STARTS.__getitem__)
_STARTS, _ENDS, _LETTERS = ([v[i] for i in _order] for v in (_STARTS, _ENDS, _LETTERS))


class _ClassMap(dict):
    """ord(char) -> class letter, for str.translate; filled lazily from the range table."""

    def __missing__(self, cp: int) -> str:
        i = bisect.bisect_right(_STARTS, cp) - 1
        cls = _LETTERS[i] if i >= 0 and cp <= _ENDS[i] else "O"
        self[cp] = cls
        return cls


_CLASS_OF = _ClassMap()


# Spans: cut at white space and at the ASCII characters that never occur in a token. For
# ASCII text, str.translate + str.split do it at C speed; other text takes a regex with a
# small negated class (str.translate is slow off ASCII). Spans may carry extra punctuation
# ("dog."): that only costs cache entries. In pure ASCII, "#", "*" and '"' separate too
# (they only matter next to emoji and Hebrew).
_KEEP_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.,:;'"
_BLANK_ASCII = str.maketrans({chr(i): " " for i in range(128) if chr(i) not in _KEEP_ASCII})
_SEPARATORS = "".join(  # in a text that is not pure ASCII; none at or above U+3001
    chr(i) for i in range(0x3001)
    if (i < 128 and chr(i) not in _KEEP_ASCII + '#*"') or (i >= 128 and chr(i).isspace()
                                                           and _CLASS_OF[i] == "O"))
_CHUNK = re.compile("[^" + re.escape(_SEPARATORS) + "]+")
# The same two cuts as tables for the compiled span loop (_bm25c.SpanTable).
_SEP_ASCII = bytes(i < 128 and chr(i) not in _KEEP_ASCII for i in range(0x3001))
_SEP_OTHER = bytes(chr(i) in _SEPARATORS for i in range(0x3001))
# UAX#29 over ASCII: letters/digits/underscores glue; ":" "." "'" join two letters, "," ";"
# "." "'" join two digits; underscores alone are no token.
_ASCII_TOKEN = re.compile(
    r"_*[A-Za-z0-9][A-Za-z0-9_]*"
    r"(?:(?:(?<=[A-Za-z])[:.'](?=[A-Za-z])|(?<=[0-9])[,;.'](?=[0-9]))[A-Za-z0-9_]*)*"
)

# --- the grammar, over class letters -----------------------------------------------------
_X = "[XZVWCms]"  # WB4: Extend/Format/ZWJ stick to what precedes them
# WB5-WB12 as StandardTokenizerImpl.jflex writes them: a word is a run of pieces, each
# (1) a Hebrew letter with a trailing ' (WB7a) or " + Hebrew letter (WB7b/c), (2) letters joined
# by a Mid* between two of them, or (3) digits likewise. Only a Hebrew letter that *starts* a
# piece takes a trailing ': one reached through a Mid* join (א:ב' or צה״ל') or through " (צה"ל')
# does not, and neither does the second letter of (1) join on (א"ב:ג -> א"ב, ג). Pieces are tried
# in this order, which gives JFlex's longest match here.
_ALNUM = (
    rf"(?:H{_X}*(?:Q{_X}*|D{_X}*H{_X}*)"
    rf"|[AaH]{_X}*(?:[LPQ]{_X}*[AaH]{_X}*)*"
    rf"|N{_X}*(?:[MPQ]{_X}*N{_X}*)*)+"
)
_SEGMENT = rf"(?:(?:K{_X}*)+|{_ALNUM})"  # WB13: katakana only joins katakana
_WORD = re.compile(rf"(?:E{_X}*)*{_SEGMENT}(?:(?:E{_X}*)+{_SEGMENT})*(?:E{_X}*)*")
_SOUTH_EAST_ASIAN = re.compile(rf"(?:[Ss]{_X}*)+")
_SINGLE = re.compile(rf"I{_X}*")
_KEYCAP = re.compile(r"k[XZCms]*V?C[XZCms]*")
_FLAG = re.compile(rf"R{_X}*R{_X}*")
_START = re.compile(r"[AaHNKEeamkRZSsI]")
_XS = frozenset("XZCms")  # Extend etc. without the presentation selectors


def _emoji_unit_ends(c: str, i: int, n: int) -> list[int]:
    """Every end of one emoji (+ presentation selector or modifiers) starting at i.
    Several ends, because a ZWJ may close this emoji or join the next one."""
    ends, j = [], i
    while j < n and c[j] == "Z":
        j += 1
    if j < n and (c[j] in "ea" or (j == i and c[j] == "m")):
        plain = c[j] != "m"
        j += 1
        ends.append(j)
        while j < n and c[j] in _XS:
            j += 1
            ends.append(j)
        if plain and j < n and c[j] == "V":
            ends.append(j + 1)
    return ends


def _emoji_end(c: str, i: int, n: int) -> int:
    if c[i] == "k":
        m = _KEYCAP.match(c, i, n)
        return m.end() if m else i
    if c[i] == "R":
        m = _FLAG.match(c, i, n)
        return m.end() if m else i
    best, todo, seen = i, _emoji_unit_ends(c, i, n), set()
    while todo:  # emoji ZWJ sequences: follow every way of reading each ZWJ
        e = todo.pop()
        if e not in seen:
            seen.add(e)
            best = max(best, e)
            if e < n and c[e] == "Z":
                todo.extend(_emoji_unit_ends(c, e + 1, n))
    return best


def _longest(c: str, i: int, n: int) -> int:
    """End of the longest token starting at i (JFlex's rule), or i if none does."""
    k, best = c[i], i
    if k in "AaHNKE":
        m = _WORD.match(c, i, n)
        best = m.end() if m else i
    if k in "eamkRZ":
        best = max(best, _emoji_end(c, i, n))
    elif k in "Ss":
        best = _SOUTH_EAST_ASIAN.match(c, i, n).end()
    elif k == "I":
        best = _SINGLE.match(c, i, n).end()
    return best


def _utf16_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


def _scan(text: str) -> list[str]:
    c = text.translate(_CLASS_OF)
    out, i, n = [], 0, len(text)
    while True:
        m = _START.search(c, i)
        if m is None:
            return out
        p = m.start()
        end = _longest(c, p, n)
        if end == p:  # no rule matches: the character is skipped
            i = p + 1
            continue
        if end - p > MAX_TOKEN_LENGTH // 2 and _utf16_len(text[p:end]) > MAX_TOKEN_LENGTH:
            limit = p + MAX_TOKEN_LENGTH
            while _utf16_len(text[p:limit]) > MAX_TOKEN_LENGTH:
                limit -= 1
            end = _longest(c, p, limit)
        out.append(text[p:end])
        i = end


_EDGE = ".,:;'\"\u2018\u2019\u201c\u201d"  # Mid* and quotes: they never join anything at a span's edge


def _span_tokens(span: str) -> list[str]:
    # Most spans are one ASCII word (letters, digits, underscores) with punctuation or quotes
    # around it ("dog," "'quoted'" "“foo_bar”."): that word is the one token, since the
    # edge characters join only between two letters or digits.
    core = span.strip(_EDGE)
    if core.isascii() and len(core) <= MAX_TOKEN_LENGTH and core.replace("_", "").isalnum():
        return [core]
    if span.isascii() and len(span) <= MAX_TOKEN_LENGTH:
        return _ASCII_TOKEN.findall(span)
    return _scan(span)


def tokenize(text: str) -> list[str]:
    """StandardTokenizer's tokens, original case (no filters)."""
    return [t for span in _CHUNK.findall(text) for t in _span_tokens(span)]


# --- lower-casing --------------------------------------------------------------------
_JAVA_LOWER = {cp: chr(lo) for cp, lo in _uax29_tables.JAVA_LOWER.items()}
_JAVA_LOWER[0x130] = "i"  # str.lower() gives "i" + U+0307 (the full, not the simple, mapping)


def _java_lower(tok: str) -> str:
    # LowerCaseFilter maps code point by code point (Character.toLowerCase), so no final
    # sigma and no multi-character results, unlike str.lower() on a whole string.
    if tok.isascii():
        return tok.lower()
    return "".join(_JAVA_LOWER.get(ord(ch)) or ch.lower() for ch in tok)


def _unsafe_to_lower_first() -> set[int]:
    """Characters for which lower-casing the whole text before tokenizing could differ
    from Lucene (which lower-cases each token after): they change class when lower-cased,
    lower-case to several characters, depend on context (sigma) or differ in Java."""
    bad = set(_JAVA_LOWER) | {0x3A3}
    for cp in range(0x80, 0x1F000):
        ch = chr(cp)
        lo = ch.lower()
        if lo != ch and (len(lo) != 1 or _CLASS_OF[ord(lo)] != _CLASS_OF[cp]):
            bad.add(cp)
    return bad


_UNSAFE = _unsafe_to_lower_first()
_LOWER_UNSAFE = re.compile("[" + "".join(f"\\U{cp:08X}" for cp in sorted(_UNSAFE)) + "]")
# The same for the compiled span loop: str.lower() of each BMP character where it is one
# character (elsewhere the character is in the unsafe set), and that set as a bitmap.
_LOWER_BMP = array("H", (ord(lo) if len(lo := chr(cp).lower()) == 1 else cp for cp in range(0x10000))).tobytes()
_UNSAFE_BMP = bytes(sum(1 << b for b in range(8) if (i * 8 + b) in _UNSAFE) for i in range(0x10000 // 8))


# --- the analyzer ----------------------------------------------------------------------
def _spans(text: str) -> list[str]:
    """The text cut at characters that never belong to a token, lower-cased where that is safe."""
    if text.isascii():
        return text.lower().translate(_BLANK_ASCII).split()
    return _CHUNK.findall(text if _LOWER_UNSAFE.search(text) else text.lower())


def _lowered(text: str) -> str:
    """What `_spans` cuts: the text lower-cased where that is safe."""
    return text.lower() if text.isascii() or not _LOWER_UNSAFE.search(text) else text


class _TermCache(dict):
    """raw token -> indexed term, or None for a stop word."""

    def __init__(self, stopwords: frozenset, stemming: bool):
        super().__init__()
        self.stopwords, self.stemming = stopwords, stemming

    def __missing__(self, tok: str):
        if tok.isascii() and "'" not in tok:  # the common case: no possessive, plain lower()
            term = tok.lower()
            out = None if term in self.stopwords else porter_stem(term) if self.stemming else term
            self[tok] = out
            return out
        term = tok
        if len(term) >= 2 and term[-1] in "sS" and term[-2] in "'\u2019\uff07":
            term = term[:-2]  # EnglishPossessiveFilter runs before lower-casing
        term = _java_lower(term)
        out = None if term in self.stopwords else porter_stem(term) if self.stemming else term
        self[tok] = out
        return out


class _SpanCache(dict):
    """span -> its indexed term (str), None, or a tuple of terms (then also in `multi`)."""

    def __init__(self, terms: _TermCache):
        super().__init__()
        self.terms = terms
        self.multi: set[str] = set()

    def __missing__(self, span: str):
        out = tuple(filter(None, map(self.terms.__getitem__, _span_tokens(span))))
        if len(out) > 1:
            self.multi.add(span)
        else:
            out = out[0] if out else None
        self[span] = out
        return out

    def clear(self) -> None:
        super().clear()
        self.multi.clear()


class EnglishAnalyzer:
    """Pyserini's ``Analyzer(get_lucene_analyzer())`` (Anserini's DefaultEnglishAnalyzer:
    Porter stemming, Lucene's English stop words) without the JVM.

    >>> EnglishAnalyzer()("The dog's bones, e.g. 3.14")
    ['dog', 'bone', 'e.g', '3.14']
    """

    def __init__(self, stemming: bool = True, stopwords: Iterable[str] | None = None,
                 max_cache: int = 4_000_000, compiled: bool | None = None):
        self.stemming = stemming
        self.compiled = compiled  # span loop in C for term ids: None = when built (same ids either way)
        self.stopwords = frozenset(LUCENE_ENGLISH_STOP_WORDS if stopwords is None else stopwords)
        self.max_cache = max_cache  # span entries kept before the cache is reset (memory)
        self._terms = _TermCache(self.stopwords, stemming)
        self._spans = _SpanCache(self._terms)

    @property
    def fingerprint(self) -> str:
        """Cache key for anything derived from these tokens; bump the version on any change."""
        if self.stemming and self.stopwords == LUCENE_ENGLISH_STOP_WORDS:
            return "lucene-english-porter-v2"
        import hashlib

        h = hashlib.sha1(" ".join(sorted(self.stopwords)).encode()).hexdigest()[:8]
        return f"lucene-english-{'porter' if self.stemming else 'nostem'}-stop{h}-v2"

    def __str__(self) -> str:
        return self.fingerprint

    def __repr__(self) -> str:
        return f"EnglishAnalyzer({self.fingerprint})"

    def __call__(self, text: str) -> list[str]:
        spans = _spans(text)
        cache = self._spans
        if len(cache) > self.max_cache:
            cache.clear()
            self._terms.clear()
        # Most spans give one term (cached as a str) or none (None): filter + map stay in C.
        # Only a text with a span of several terms (a tuple) needs flattening.
        terms = list(filter(None, map(cache.__getitem__, spans)))
        if cache.multi.isdisjoint(spans):
            return terms
        return list(chain.from_iterable((t,) if t.__class__ is str else t for t in terms))

    def forget(self) -> None:
        """Drop the token and span caches (memory only: the tokens do not change). A run over
        several corpora calls it between them, or the caches grow with every vocabulary seen."""
        self._spans.clear()
        self._terms.clear()

    def term_ids(self, known: dict[str, int] | None = None) -> TermIds:
        """A fresh vocabulary that maps texts to term ids (for indexing; see `TermIds`), or with
        `known` (term -> i), ids i + 1 of the known terms only (for queries)."""
        return TermIds(self, self.compiled, known)

    def __getstate__(self):
        # Worker processes build their own caches rather than receive a copy.
        return {"stemming": self.stemming, "stopwords": self.stopwords,
                "max_cache": self.max_cache, "compiled": self.compiled}

    def __setstate__(self, state):
        self.__init__(**state)

    def analyze_many(self, texts: Sequence[str], processes: int | None = None,
                     min_parallel: int = 20_000) -> list[list[str]]:
        """Analyse many texts, in worker processes (default: one per core) for big inputs."""
        return list(self.analyze_iter(texts, processes, min_parallel))

    def analyze_iter(self, texts: Sequence[str], processes: int | None = None,
                     min_parallel: int = 20_000) -> Iterator[list[str]]:
        """Like `analyze_many`, but yields token lists in order as they are ready, so a caller that
        consumes them (the BM25 indexer) never holds the whole corpus's tokens."""
        texts = texts if isinstance(texts, list) else list(texts)
        processes = processes or os.cpu_count() or 1
        if processes <= 1 or len(texts) < min_parallel:
            with _gc_paused():
                for t in texts:
                    yield self(t)
            return
        import multiprocessing as mp

        chunk = max(500, len(texts) // (processes * 16))
        parts = [texts[i:i + chunk] for i in range(0, len(texts), chunk)]
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(processes, initializer=_init_worker, initargs=(self,)) as pool, _gc_paused():
            for part in pool.imap(_analyze_chunk, parts):
                yield from part


class _IdSpanCache(dict):
    """span -> term id (>= 1), None, or a tuple of ids (then also in `multi`)."""

    def __init__(self, owner: TermIds):
        super().__init__()
        self.owner = owner
        self.multi: set[str] = set()

    def __missing__(self, span: str):
        ids = self.owner.span_ids(span)
        out = ids if len(ids) > 1 else ids[0] if ids else None
        if len(ids) > 1:
            self.multi.add(span)
        self[span] = out
        return out


class TermIds:
    """The analyzer's terms as integer ids against a vocabulary of its own: ``terms[i - 1]`` is
    the term of id i, in first-seen order. Indexing wants ids, not strings, and a span cache that
    holds ids gives them at the speed of the string path, with per-term work only for new terms.

    With the compiled extension (``compiled=None`` uses it when it is built) the span cache is a
    C hash table fed by the same Python code on first sight of a span; without it, a dict."""

    def __init__(self, analyzer: EnglishAnalyzer, compiled: bool | None = None,
                 known: dict[str, int] | None = None):
        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self.terms: list[str] = []
        self.known = known  # a fixed vocabulary (term -> i): give i + 1, drop other terms
        if compiled and _SpanTable is None:
            raise RuntimeError("the compiled analyzer (_bm25c) is not built")
        self.compiled = _SpanTable is not None if compiled is None else compiled
        if self.compiled:
            self._table = _SpanTable(self.span_ids, _SEP_ASCII, _SEP_OTHER, _LOWER_BMP, _UNSAFE_BMP,
                                     analyzer.max_cache)
            if hasattr(self._table, "fast"):  # span_ids' one-word case in C (an older build lacks it)
                self._table.fast(analyzer._terms, analyzer.stopwords, analyzer.stemming, self.vocab,
                                 self.terms, known)
        else:
            self._spans = _IdSpanCache(self)

    def span_ids(self, span: str) -> tuple[int, ...]:
        """Term ids of one span (new terms get the next ids): the reference for both caches."""
        core = span.strip(_EDGE)
        if core.isascii() and len(core) <= MAX_TOKEN_LENGTH and core.replace("_", "").isalnum():
            # _span_tokens' first case inlined (one token): most first sights on a big corpus
            term = self.analyzer._terms[core]
            if term is None:
                return ()
            if self.known is not None:
                i = self.known.get(term)
                return () if i is None else (i + 1,)
            i = self.vocab.get(term)
            if i is None:
                self.terms.append(term)
                i = self.vocab[term] = len(self.terms)
            return (i,)
        tokens = _span_tokens(span)
        if self.known is not None:
            get, term = self.known.get, self.analyzer._terms
            if len(tokens) == 1:  # nearly every span; a query meets ~50 new ones (known.get(None) is None)
                i = get(term[tokens[0]])
                return () if i is None else (i + 1,)
            return tuple(i + 1 for i in map(get, filter(None, map(term.__getitem__, tokens))) if i is not None)
        terms = filter(None, map(self.analyzer._terms.__getitem__, tokens))
        vocab, new = self.vocab, self.terms
        ids = []
        for term in terms:
            i = vocab.get(term)
            if i is None:
                new.append(term)
                i = vocab[term] = len(new)
            ids.append(i)
        return tuple(ids)

    def __call__(self, text: str) -> list[int]:
        if self.compiled:
            if self._table.feed(text) < 0:
                self._table.feed(_lowered(text), False)
            return array("i", self._table.take()).tolist()
        spans = _spans(text)
        cache = self._spans
        if len(cache) > self.analyzer.max_cache:
            cache.clear()
            cache.multi.clear()
        ids = list(filter(None, map(cache.__getitem__, spans)))
        if cache.multi.isdisjoint(spans):
            return ids
        return list(chain.from_iterable((i,) if i.__class__ is int else i for i in ids))

    def many(self, texts: Iterable[str]) -> tuple[array, array]:
        """(all term ids, one text after the other; number of ids per text), as int32 arrays."""
        lengths = array("i")
        if self.compiled:
            feed = self._table.feed
            for t in texts:
                n = feed(t)
                lengths.append(n if n >= 0 else feed(_lowered(t), False))
            return array("i", self._table.take()), lengths
        flat = array("i")
        for t in texts:
            ids = self(t)
            flat.extend(ids)
            lengths.append(len(ids))
        return flat, lengths


@contextmanager
def _gc_paused():
    """Millions of token lists make each full cyclic-GC pass slow (it walks every container),
    and analysis creates no reference cycles: pause the collector during bulk analysis."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_WORKER: EnglishAnalyzer | None = None


def _init_worker(analyzer: EnglishAnalyzer) -> None:
    global _WORKER
    _WORKER = analyzer


def _analyze_chunk(texts: list[str]) -> list[list[str]]:
    with _gc_paused():
        return [_WORKER(t) for t in texts]
