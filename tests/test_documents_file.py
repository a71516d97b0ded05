"""Documents read from a file on demand: the same ids and texts as reading it whole, ids remembered
by content, texts streamed (never held by a BM25 index), and a bad line still named by file:line."""

import gzip
import json

import pytest

from bright_eval import documents_file
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.retrievers.analysis import EnglishAnalyzer
from bright_eval.retrievers.bm25 import BM25Retriever, TermCounts

LINES = [
    {"id": "plain", "content": "The cell membrane"},
    {"id": 'quote"and\\slash', "content": "escaped id"},  # not sliceable: goes through json.loads
    {"content": "content first", "id": "late"},
    {"id": 7, "content": "an integer id"},
    {"id": "ünï", "content": "non-ASCII id\nwith a newline"},
]


def write_docs(root, lines, gz=False):
    d = root / "biology"
    d.mkdir(parents=True, exist_ok=True)
    (d / "examples.jsonl").write_text(json.dumps({"id": "q", "query": "cell", "gold_ids": ["plain"]}) + "\n")
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" + ("\n" if i == 1 else "") for i, r in enumerate(lines))
    path = d / ("documents.jsonl.gz" if gz else "documents.jsonl")
    path.write_bytes(gzip.compress(body.encode()) if gz else body.encode())
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_ids_and_texts_equal_the_file(tmp_path, gz):
    write_docs(tmp_path, LINES, gz)
    corpus = LocalSource(tmp_path).documents("biology")
    assert corpus.ids == ["plain", 'quote"and\\slash', "late", "7", "ünï"]
    assert list(corpus.texts) == [r["content"] for r in LINES]
    assert corpus.texts[4] == "non-ASCII id\nwith a newline" and corpus.texts[1:3] == ["escaped id", "content first"]
    assert len(corpus) == 5 and "late" in corpus.id_set


def test_ids_are_remembered_by_content(tmp_path, monkeypatch):
    path = write_docs(tmp_path, LINES)
    first = LocalSource(tmp_path).documents("biology").ids
    monkeypatch.setattr(documents_file, "read_ids", lambda p: pytest.fail("ids were read again from the file"))
    assert LocalSource(tmp_path).documents("biology").ids == first
    # an edited file has another hash: its ids are read again
    path.write_text(path.read_text() + json.dumps({"id": "new", "content": "x"}) + "\n")
    monkeypatch.undo()
    assert LocalSource(tmp_path).documents("biology").ids[-1] == "new"


def test_a_damaged_ids_entry_is_read_again(tmp_path):
    write_docs(tmp_path, LINES)
    corpus = LocalSource(tmp_path).documents("biology")
    entry = documents_file._ids_cache_path(corpus.fingerprint.removeprefix("file:"))
    entry.write_text('["trunc')
    assert LocalSource(tmp_path).documents("biology").ids == corpus.ids


def test_bm25_index_streams_the_texts(tmp_path):
    write_docs(tmp_path, LINES)
    corpus = LocalSource(tmp_path).documents("biology")
    bm25 = BM25Retriever()
    bm25.index(corpus)
    assert corpus.texts._all is None  # streamed, not held
    eager = BM25Retriever()
    from bright_eval.data import Corpus

    eager.index(Corpus(list(corpus.ids), [r["content"] for r in LINES]))
    q = {"q": "cell membrane with escaped content"}
    assert bm25.search(q, k=5) == eager.search(q, k=5)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_bad_text_line_is_named_while_streaming(tmp_path, processes):
    lines = [{"id": f"d{i}", "content": f"text number {i}"} for i in range(3000)]
    lines[2500]["content"] = None
    write_docs(tmp_path, lines)
    corpus = LocalSource(tmp_path).documents("biology")  # ids are fine: the text is read later
    with pytest.raises(BrightEvalError, match=r"documents.jsonl:2502: field 'content' must be a string"):
        TermCounts.from_texts(corpus.texts, EnglishAnalyzer(), processes=processes, min_parallel=1)


def test_a_file_rewritten_mid_run_is_an_error(tmp_path):
    path = write_docs(tmp_path, LINES)
    corpus = LocalSource(tmp_path).documents("biology")
    path.write_text("".join(json.dumps(r) + "\n" for r in reversed(LINES)))
    with pytest.raises(BrightEvalError, match="document order changed while reading"):
        list(corpus.texts)


def test_the_fingerprint_read_also_gives_the_ids(tmp_path, monkeypatch):
    """A cold run hashes each documents file at planning; the same read yields its ids, so loading
    the documents does not read the file again, and the hash is the file's plain content hash."""
    from bright_eval.fingerprints import _hash_file

    path = write_docs(tmp_path, LINES)
    fp = LocalSource(tmp_path).documents_fingerprint("biology")
    assert fp == "file:" + _hash_file(path)
    monkeypatch.setattr(documents_file, "read_ids", lambda *a: pytest.fail("ids were read again from the file"))
    assert LocalSource(tmp_path).documents("biology").ids == ["plain", 'quote"and\\slash', "late", "7", "ünï"]
