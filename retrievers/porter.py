"""The original Porter (1980) stemmer, with the behaviour of Lucene's ``PorterStemmer``.

Lucene does not implement Porter2/Snowball "english": it keeps Martin Porter's reference
program, including its two documented departures from the paper (``-bli -> -ble`` instead
of ``-abli -> -able``, and ``-logi -> -log``) and its guards for very short stems. BRIGHT's
BM25 numbers come from those stems, so this module follows that program step by step
(steps 1-6 below are Lucene's numbering: 1ab, 1c, 2, 3, 4, 5 in the paper).

Words are compared as Java sees them, one UTF-16 unit at a time: a character outside the
BMP counts twice towards the length and the consonant/vowel pattern.
"""
from __future__ import annotations

__all__ = ["stem"]

try:  # the same steps compiled (first sight of a token is mostly stemming); this module stays the reference
    from bright_eval.retrievers._bm25c import porter_stem as _c_stem
except ImportError:  # pragma: no cover - not built, or built before it had the stemmer
    _c_stem = None

_VOWELS = frozenset("aeiou")


def _consonants(w: str) -> list[bool]:
    # Porter's "y" is a consonant at the start or after a vowel, a vowel after a consonant.
    out: list[bool] = []
    prev = True
    for i, ch in enumerate(w):
        if ch in _VOWELS:
            c = False
        elif ch == "y":
            c = True if i == 0 else not prev
        else:
            c = True
        out.append(c)
        prev = c
    return out


def _measure(w: str) -> int:
    """m in [C](VC)^m[V]: the number of vowel->consonant transitions."""
    cons = _consonants(w)
    return sum(1 for i in range(1, len(cons)) if cons[i] and not cons[i - 1])


def _has_vowel(w: str) -> bool:
    return not all(_consonants(w))


def _double_consonant(w: str) -> bool:
    return len(w) >= 2 and w[-1] == w[-2] and _consonants(w)[-1]


def _cvc(w: str) -> bool:
    # consonant-vowel-consonant at the end, the last not w/x/y: restores the "e" in hop(e).
    if len(w) < 3:
        return False
    cons = _consonants(w)
    return cons[-1] and not cons[-2] and cons[-3] and w[-1] not in "wxy"


# (suffix, replacement) tried in this order; the first suffix that matches ends the step
# even when the measure condition then refuses the replacement (as Porter's program does).
# Keyed like Porter's switch statements (by the last or next-to-last letter), so a word
# only meets the few suffixes it could end with.
def _by(key_pos: int, table) -> dict:
    out: dict[str, list] = {}
    for suffix, repl in table:
        out.setdefault(suffix[key_pos], []).append((suffix, repl))
    return out


_STEP3 = _by(-2, (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
    ("izer", "ize"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"),
    ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"), ("ator", "ate"),
    ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"),
    ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"), ("logi", "log"),
))
_STEP4 = _by(-1, (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
    ("ful", ""), ("ness", ""),
))
_STEP5 = _by(-2, ((s, "") for s in (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
    "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
)))


def _replace_if_m(w: str, table: dict, key: str) -> str:
    for suffix, repl in table.get(key, ()):
        if w.endswith(suffix):
            stem = w[: len(w) - len(suffix)]
            return stem + repl if _measure(stem) > 0 else w
    return w


def _step1(w: str) -> str:
    if w[-1] == "s":
        if w.endswith("sses"):
            w = w[:-2]
        elif w.endswith("ies"):
            w = w[:-2]
        elif w[-2] != "s":
            w = w[:-1]
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
        return w
    for suffix in ("ed", "ing"):
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if not _has_vowel(stem):
                return w
            if stem.endswith(("at", "bl", "iz")):
                return stem + "e"
            if _double_consonant(stem):
                return stem if stem[-1] in "lsz" else stem[:-1]
            if _measure(stem) == 1 and _cvc(stem):
                return stem + "e"
            return stem
    return w


def _step2(w: str) -> str:
    if w.endswith("y") and _has_vowel(w[:-1]):
        return w[:-1] + "i"
    return w


def _step5(w: str) -> str:
    if len(w) < 2:
        return w
    for suffix, _ in _STEP5.get(w[-2], ()):
        if w.endswith(suffix):
            stem = w[: len(w) - len(suffix)]
            if suffix == "ion" and not (stem and stem[-1] in "st"):
                return w
            return stem if _measure(stem) > 1 else w
    return w


def _step6(w: str) -> str:
    if w[-1] == "e":
        m = _measure(w)
        if m > 1 or (m == 1 and not _cvc(w[:-1])):
            w = w[:-1]
    if w and w[-1] == "l" and _double_consonant(w) and _measure(w) > 1:
        w = w[:-1]
    return w


def _stem_units(w: str) -> str:
    if len(w) <= 2:  # Porter's program leaves one- and two-letter words alone
        return w
    w = _step1(w)
    w = _step2(w)
    if len(w) > 1:  # Lucene's guard ("Bug 1"): no double-suffix step on a 1-letter stem
        w = _replace_if_m(w, _STEP3, w[-2])
    w = _replace_if_m(w, _STEP4, w[-1])
    w = _step5(w)
    return _step6(w)


def stem(word: str) -> str:
    """Stem one lower-cased token exactly as Lucene's PorterStemFilter would."""
    if _c_stem is not None and (out := _c_stem(word)) is not None:  # None: astral or very long
        return out
    if word.isascii() or max(word) <= "\uffff":
        return _stem_units(word)
    # Java sees astral characters as surrogate pairs: stem that view, then rejoin the pairs.
    units = word.encode("utf-16-le", "surrogatepass")
    as_units = "".join(
        chr(int.from_bytes(units[i:i + 2], "little")) for i in range(0, len(units), 2))
    out = _stem_units(as_units)
    return out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
