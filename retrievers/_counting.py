"""Texts -> term-major posting lists (term x document counts), in worker processes.

The costly part of indexing is per token; everything here keeps per-token work in the
analyzer's span cache (C-speed dict lookups) and in numpy, and does Python work only per
distinct term:

* each worker maps its texts to term ids against a vocabulary of its own (`TermIds`), counts
  them into a small term-major block (scipy's CSR -> CSC conversion and duplicate summing)
  and sends back the block with only the terms its vocabulary gained since its last block;
* the parent maps each worker's local ids to global ones once per new term, adds up document
  frequencies, and finally scatters every block into one set of arrays sized from those
  frequencies (no concatenated copy, no global sort).

Terms are numbered in sorted order at the end, so the result does not depend on which worker
handled which block. Counts and in-block row numbers use the narrowest dtype that holds them.
"""
from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

CHUNK_MAX = 20_000  # documents per block at most (uint16 row numbers within a block)
# Below this many documents one process is as fast on 2 cores: each worker learns the vocabulary
# on its own and starts an interpreter. With first sights of ASCII spans in C, two workers break
# even at 30-45k documents and win 15% at 60k (3.1 vs 3.6 s; was 100k with first sights in Python).
PARALLEL_FROM = 50_000
SEND_MAX = 4_000


class Block(NamedTuple):
    source: object  # which id space the local term ids belong to
    base: int  # how many terms of that id space the parent already knows
    new_terms: list  # terms of local ids base+1 .. base+len(new_terms)
    lengths: np.ndarray  # tokens per document, int32
    cols: np.ndarray  # local term ids present in the block, ascending
    counts: np.ndarray  # documents per present term (the block's df)
    rows: np.ndarray  # document of each posting within the block, term-major
    tf: np.ndarray  # count of each posting


def count_block(ids, texts: Iterable, source: object) -> Block:
    """One block from texts; ``ids.many`` maps them to local term ids (>= 1) whose terms are
    ``ids.terms[id - 1]``."""
    base = len(ids.terms)
    flat, lengths = ids.many(texts)
    terms = ids.terms
    n = len(lengths)
    col = np.frombuffer(flat, dtype=np.int32)
    indptr = np.zeros(n + 1, dtype=np.int32 if len(col) < 2**31 else np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int32), out=indptr[1:])
    m = sp.csr_matrix((np.ones(len(col), np.int32), col, indptr), shape=(n, len(terms) + 1))
    # CSR -> CSC keeps each column's rows in order, so summing the repeated (term, doc) pairs
    # is one linear pass, with no per-document sort.
    m = m.tocsc()
    m.sum_duplicates()
    per_term = np.diff(m.indptr)
    cols = np.flatnonzero(per_term).astype(np.int32)
    tf = m.data
    tf = tf.astype(np.uint16) if tf.max(initial=0) < 2**16 else tf.astype(np.int32, copy=False)
    return Block(source, base, terms[base:], np.frombuffer(lengths, dtype=np.int32).copy(),
                 cols, per_term[cols].astype(np.int32),
                 m.indices.astype(np.uint16 if n <= 2**16 else np.int32), tf)


class Assembler:
    """Parent side: global term ids, document frequencies, then the final posting arrays."""

    def __init__(self):
        self.term_index: dict[str, int] = {}
        self.maps: dict[object, array] = {}
        self.df = np.zeros(1 << 16, np.int64)
        self.blocks: list[tuple] = []
        self.lengths: list[np.ndarray] = []
        self.n_docs = 0
        self.wide_tf = False

    def add(self, b: Block) -> None:
        local = self.maps.setdefault(b.source, array("i", [-1]))  # local ids start at 1
        if len(local) != b.base + 1:
            raise RuntimeError(f"block of {b.source!r} out of order: expected base {len(local) - 1}, got {b.base}")
        ti = self.term_index
        if len(self.maps) == 1 and len(ti) == b.base:  # one id space so far: its new terms are new here too
            start = len(ti)
            ti.update(zip(b.new_terms, range(start, start + len(b.new_terms))))
            local.extend(range(start, len(ti)))
        else:
            local.extend(ti.setdefault(t, len(ti)) for t in b.new_terms)
        if len(ti) > len(self.df):
            self.df = np.concatenate([self.df, np.zeros(max(len(ti), 2 * len(self.df)) - len(self.df), np.int64)])
        gids = np.frombuffer(local, dtype=np.int32)[b.cols]
        self.df[gids] += b.counts  # a term appears once in b.cols
        self.blocks.append((gids, b.counts, b.rows, b.tf, self.n_docs))
        self.lengths.append(b.lengths)
        self.n_docs += len(b.lengths)
        self.wide_tf |= b.tf.dtype != np.uint16

    def finish(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(vocab, indptr int64, doc indices int32, tf uint16|int32, lengths int32), term-major,
        terms sorted, each posting list in document order."""
        vocab = sorted(self.term_index)
        order = np.fromiter(map(self.term_index.__getitem__, vocab), np.int64, len(vocab))  # old id of each
        new_id = np.empty(len(vocab), np.int64)
        new_id[order] = np.arange(len(vocab))
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(self.df[:len(vocab)][order], out=indptr[1:])
        indices = np.empty(indptr[-1], np.int32)
        tf = np.empty(indptr[-1], np.int32 if self.wide_tf else np.uint16)
        cursor = indptr[:-1].copy()
        blocks, self.blocks = self.blocks, []
        for gids, counts, rows, btf, offset in _drain(blocks):
            g = new_id[gids]
            # posting j of the block (in its column c) goes to cursor[c] + (j - start of c)
            starts = np.cumsum(counts) - counts
            dest = np.repeat(cursor[g] - starts, counts) + np.arange(len(rows))
            indices[dest] = rows.astype(np.int32) + offset
            tf[dest] = btf
            cursor[g] += counts
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int32)
        return vocab, indptr, indices, tf, lengths


def _drain(items: list) -> Iterator:
    """Yield and forget: each block's memory is released once it has been scattered."""
    items.reverse()
    while items:
        yield items.pop()


# --- worker processes ------------------------------------------------------------------------
# Workers are fresh interpreters running `_serve`, fed through pipes,
# not multiprocessing: forked workers share the corpus's pages with the parent, which then copies
# each page it touches while sending texts (reference counts are writes), so the corpus ended up
# in memory twice; spawn and forkserver workers re-import the user's main script.
def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def _serve() -> None:
    """Worker loop: an analyzer, then text chunks in; a Block out for each chunk."""
    from .analysis import _gc_paused

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    ids = _recv(inp).term_ids()
    with _gc_paused():
        while True:
            try:
                texts = [b.decode("utf-8", "surrogatepass") for b in _recv(inp)]
            except EOFError:
                return
            _send(out, count_block(ids, texts, os.getpid()))


class _Worker:
    def __init__(self, analyzer):
        self.proc = subprocess.Popen([sys.executable, "-c", f"from {__name__} import _serve; _serve()"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.todo: queue.Queue = queue.Queue(maxsize=2)  # chunks pickled ahead: bounded memory
        self.error: BaseException | None = None
        self.feeder = threading.Thread(target=self._feed, args=(analyzer,), daemon=True)
        self.feeder.start()

    def _feed(self, analyzer) -> None:
        try:
            _send(self.proc.stdin, analyzer)
            while (texts := self.todo.get()) is not None:
                # encoded here, not by pickle: pickling a str keeps a UTF-8 copy inside every
                # non-ASCII str object for the rest of its life (0.4 GB more at 400k passages)
                _send(self.proc.stdin, [t.encode("utf-8", "surrogatepass") for t in texts])
        except BaseException as e:  # the reader reports it (a dead worker: its stderr)
            self.error = e
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def result(self) -> Block:
        try:
            return _recv(self.proc.stdout)
        except EOFError:
            self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"BM25 analysis worker failed (exit {self.proc.returncode}): {err}") from self.error

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for s in (self.proc.stdout, self.proc.stderr):
            s.close()


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while chunk := list(islice(it, size)):
        yield chunk


def blocks(analyzer, texts: Iterable[str], n: int, processes: int | None = None,
           min_parallel: int = PARALLEL_FROM) -> Iterator[Block]:
    """Blocks of the n `texts` in document order, from worker processes (one per core) for big
    inputs. `texts` is read once, front to back: a stream from disk never needs to be held."""
    from .analysis import _gc_paused

    processes = processes or os.cpu_count() or 1
    if processes <= 1 or n < min_parallel:
        ids = analyzer.term_ids()
        with _gc_paused():
            for part in _chunks(texts, CHUNK_MAX):
                yield count_block(ids, part, "main")
        return
    # at most SEND_MAX documents a chunk: up to three chunks per worker are in flight (queued,
    # being encoded, being sent), and on leetcode-sized corpora larger chunks cost ~0.2 GB more
    chunk = min(SEND_MAX, max(500, n // (processes * 16)))
    workers = [_Worker(analyzer) for _ in range(processes)]
    sent: queue.Queue = queue.Queue()  # the worker of each chunk handed out, in order
    try:
        # chunk k goes to worker k % processes, so reading results in k order gives each
        # worker's blocks in the order it made them, and the corpus's order
        failed: list[BaseException] = []

        def hand_out():
            try:
                for k, part in enumerate(_chunks(texts, chunk)):
                    workers[k % processes].todo.put(part)
                    sent.put(workers[k % processes])
            except BaseException as exc:  # noqa: BLE001 - a bad line of a streamed file: re-raised in the caller
                failed.append(exc)
            for w in workers:
                w.todo.put(None)
            sent.put(None)

        dealer = threading.Thread(target=hand_out, daemon=True)
        dealer.start()
        while (w := sent.get()) is not None:
            yield w.result()
        dealer.join()
        if failed:
            raise failed[0]
    finally:
        for w in workers:
            w.close()


class _TokenIds:
    """`TermIds.many` for any analyzer that only returns token lists."""

    def __init__(self, analyzer: Callable[[str], list[str]] | None = None):
        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self.terms: list[str] = []

    def many(self, items: Iterable) -> tuple[array, array]:
        vocab, terms = self.vocab, self.terms
        flat, lengths = array("i"), array("i")
        for tokens in items:
            if self.analyzer is not None:
                tokens = self.analyzer(tokens)
            for t in tokens:
                i = vocab.get(t)
                if i is None:
                    terms.append(t)
                    i = vocab[t] = len(terms)
                flat.append(i)
            lengths.append(len(tokens))
        return flat, lengths


def token_blocks(token_lists: Iterable[list[str]]) -> Iterator[Block]:
    """Blocks from ready-made token lists (any tokenizer), in one process."""
    ids = _TokenIds()
    part: list = []
    for tokens in token_lists:
        part.append(tokens)
        if len(part) == CHUNK_MAX:
            yield count_block(ids, part, "tokens")
            part = []
    if part:
        yield count_block(ids, part, "tokens")


def text_blocks(analyzer: Callable[[str], list[str]], texts: Iterable[str]) -> Iterator[Block]:
    """Blocks from texts through an analyzer without `term_ids` (plain callables), in one process."""
    ids = _TokenIds(analyzer)
    for part in _chunks(texts, CHUNK_MAX):
        yield count_block(ids, part, "texts")
