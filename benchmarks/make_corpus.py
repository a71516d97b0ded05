"""Build the benchmark corpus and query set from real text available offline.

Passages: Debian's documentation packages (HTML manuals, Perl pods, English man pages),
stripped to text and cut into ~300-word passages -- real, varied technical English with
code, numbers, URLs and the odd non-ASCII character, like BRIGHT's StackExchange corpora.
Queries: TongSearch-QR-7B's reasoned rewrites of BRIGHT queries that run to >= 300 words
(the long LLM queries a rewriter produces, the case BM25 search speed matters most for).

    sudo apt-get install -y python3.11-doc postgresql-doc-15 perl-doc python-django-doc \
        git-doc python-sqlalchemy-doc debian-handbook sqlite3-doc octave-doc \
        python-sympy-doc python-sklearn-doc apache2-doc r-doc-html manpages manpages-dev
    python benchmarks/make_corpus.py                 # -> benchmarks/data/{corpus,queries}.jsonl
"""
from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
APT_PACKAGES = ("python3.11-doc postgresql-doc-15 perl-doc python-django-doc git-doc "
                "python-sqlalchemy-doc debian-handbook sqlite3-doc octave-doc python-sympy-doc "
                "python-sklearn-doc apache2-doc r-doc-html manpages manpages-dev").split()
SOURCES = [  # (name, root, glob) in a fixed order so the corpus is reproducible
    ("python", "/usr/share/doc/python3.11/html", "**/*.html"),
    ("postgresql", "/usr/share/doc/postgresql-doc-15/html", "**/*.html"),
    ("django", "/usr/share/doc/python-django-doc/html", "**/*.html"),
    ("sqlalchemy", "/usr/share/doc/python-sqlalchemy-doc/html", "**/*.html"),
    ("git", "/usr/share/doc/git-doc", "**/*.html"),
    ("handbook", "/usr/share/doc/debian-handbook/html/en-US", "*.html"),
    ("sqlite", "/usr/share/doc/sqlite3", "**/*.html"),
    ("octave", "/usr/share/doc/octave", "**/*.html"),
    ("sympy", "/usr/share/doc/python-sympy-doc/html", "[!_]*/**/*.html"),
    ("sklearn", "/usr/share/doc/python-sklearn-doc/html", "[!_]*/**/*.html"),
    ("apache", "/usr/share/doc/apache2-doc/manual/en", "**/*.html"),
    ("r", "/usr/share/R/doc/manual", "*.html"),
    ("info", "/usr/share/info", "*.info*.gz"),  # GNU manuals (coreutils, bash, grep, ...)
    ("perl", "/usr/share/perl", "**/pod/*.pod"),
    ("man", "/usr/share/man", "man[1-8]/*.gz"),
]
# Man pages of software that is not part of Debian (e.g. a cloud SDK installed from its
# vendor's repository) would make the corpus depend on the machine: keep Debian's own.
MAN_SKIP = re.compile(r"^(gcloud|bq|gsutil|docker|kubectl)")
BRIGHT = Path("/work/shared/bright")


class _Text(HTMLParser):
    """Visible text of a documentation page, without Sphinx navigation and sidebars
    (identical on every page, they would only add duplicate passages)."""

    SKIP_TAGS = {"script", "style", "head", "nav"}
    SKIP_CLASSES = {"related", "sphinxsidebar", "footer", "navheader", "navfooter", "headerlink"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: does it start a skipped region?
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr"):
            return
        cls = set((dict(attrs).get("class") or "").split())
        skip = tag in self.SKIP_TAGS or bool(cls & self.SKIP_CLASSES)
        self.stack.append(skip)
        self.skipping += skip

    def handle_endtag(self, tag):
        if self.stack:
            self.skipping -= self.stack.pop()

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_text(raw: str) -> str:
    p = _Text()
    p.feed(raw)
    return " ".join(p.parts)


_ROFF_ESC = re.compile(r"\\f[BIRP1-4]|\\f\(..|\\\*\(..|\\\*.|\\[&|^%]|\\s[+-]?\d")


def man_text(raw: str) -> str:
    """Crude roff to text: drop requests and comments, keep macro arguments (.B foo)."""
    out = []
    for line in raw.splitlines():
        if line.startswith(('.\\"', "'\\\"", ".\\\\\"")):
            continue
        if line.startswith((".", "'")):
            parts = line.split(None, 1)
            if len(parts) < 2 or parts[0][1:] in ("TH", "so", "ds", "de", "nr", "ig", "tr"):
                continue
            line = parts[1].replace('"', "")
        out.append(line)
    text = _ROFF_ESC.sub("", "\n".join(out))
    return text.replace("\\-", "-").replace("\\(aq", "'").replace("\\(em", "\u2014") \
        .replace("\\e", "\\").replace("\\ ", " ")


def pod_text(raw: str) -> str:
    lines = [ln for ln in raw.splitlines() if not ln.startswith("=")]
    return re.sub(r"[A-Z]<+([^<>]*)>+", r"\1", "\n".join(lines))


def documents():
    for name, root, pattern in SOURCES:
        base = Path(root)
        if not base.is_dir():
            print(f"  (missing {root}: apt-get install {' '.join(APT_PACKAGES)})", file=sys.stderr)
            continue
        for path in sorted(base.glob(pattern)):
            if not path.is_file() or (name == "man" and MAN_SKIP.match(path.name)):
                continue
            if name == "info" and path.name.startswith(("octave", "liboctave")):
                continue  # already in as HTML
            try:
                if name == "info":
                    text = gzip.open(path, "rt", errors="replace").read().replace("\x1f", "\n")
                elif path.suffix == ".gz":
                    text = man_text(gzip.open(path, "rt", errors="replace").read())
                elif path.suffix == ".pod":
                    text = pod_text(path.read_text(errors="replace"))
                else:
                    text = html_text(path.read_text(errors="replace"))
            except (OSError, EOFError, ValueError):
                continue
            yield f"{name}/{path.relative_to(base)}", html.unescape(text)


def passages(words_per_passage: int, min_words: int):
    for doc_id, text in documents():
        words = text.split()
        for i in range(0, len(words), words_per_passage):
            chunk = words[i:i + words_per_passage]
            if len(chunk) >= min_words:
                yield f"{doc_id}#{i // words_per_passage}", " ".join(chunk)


def long_queries(min_words: int):
    for task_dir in sorted(BRIGHT.iterdir()):
        path = task_dir / "reasoning" / "TongSearch-QR-7B.jsonl"
        if not path.exists():
            continue
        for line in path.open():
            q = json.loads(line)
            if len(q["query"].split()) >= min_words:
                yield {"id": f"{task_dir.name}/{q['id']}", "query": q["query"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(HERE / "data" / "corpus.jsonl"))
    ap.add_argument("--queries", default=str(HERE / "data" / "queries.jsonl"))
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--min-words", type=int, default=100, help="drop shorter tail passages")
    ap.add_argument("--max-docs", type=int, default=0, help="0 = all")
    ap.add_argument("--query-min-words", type=int, default=300)
    args = ap.parse_args(argv)

    out = Path(args.corpus)
    out.parent.mkdir(parents=True, exist_ok=True)
    seen, n = set(), 0
    with out.open("w") as f:
        for pid, content in passages(args.words, args.min_words):
            if content in seen:  # man pages and manuals repeat boilerplate verbatim
                continue
            seen.add(content)
            f.write(json.dumps({"id": pid, "content": content}, ensure_ascii=False) + "\n")
            n += 1
            if args.max_docs and n >= args.max_docs:
                break
    print(f"{n} passages -> {out}")
    qs = list(long_queries(args.query_min_words))
    Path(args.queries).parent.mkdir(parents=True, exist_ok=True)
    with open(args.queries, "w") as f:
        for q in qs:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    words = sum(len(q["query"].split()) for q in qs)
    print(f"{len(qs)} queries (mean {words / max(1, len(qs)):.0f} words) -> {args.queries}")
    if n < 60_000:
        print(f"warning: only {n} passages (< 60,000); install more -doc packages", file=sys.stderr)


if __name__ == "__main__":
    main()
