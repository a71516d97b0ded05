"""Local LLM rewriting sharded over model replicas: one engine (vLLM or transformers) per GPU worker.

The driver keeps the rewriter it planned with and swaps its backend for `ReplicaBackend`, so the
rewriter's own code still decides what is cached, batches the queries, counts tokens and failures,
and commits each reply to its sqlite cache as it arrives. Only `generate` is remote: the queries to
generate are cut into chunks (the rewriter's batch size for transformers, so every batch has the
same queries as on one machine and greedy decoding gives the same texts) and each replica streams
its replies back one by one (a Ray streaming generator).

Why the driver writes the cache: it is the one process that sees every reply, so it is the only
sqlite writer, and sqlite never runs on a shared filesystem (its locks are unreliable over NFS);
there are no per-shard files to merge and nothing to clean up after a crash. A killed replica loses
only the replies it had not yet streamed; Ray restarts it (bounded) and the driver sends the rest of
its chunk again. If the driver itself dies, every reply it had received is already committed.

Why not Ray Data's LLM batch API (ray.data.llm): it is built on vLLM only (no transformers backend,
so nothing to run on CPU machines or in CI), it writes outputs per dataset block rather than per
reply, and it would bypass the rewriter's cache keys, failure record and token counts, which would
then have to be rebuilt around it. A pool of actors running our own backends keeps one code path.
"""

from __future__ import annotations

import logging
import math
import queue
import tempfile
import threading
import time
from typing import Any

import ray

from ..cache import ArtifactCache
from ..plan import ComponentRef

log = logging.getLogger(__name__)
CHUNK_RETRIES = 3  # tries per chunk when its replica dies; each retry sends only the unanswered queries
VLLM_CHUNK = 256   # vLLM batches internally; chunks bound what a dead replica loses


class RewriteReplica:
    """One model replica on one worker (a Ray actor; its GPU request comes from the resources table)."""

    def __init__(self, ref: ComponentRef):
        from bright_eval.rewriters import REWRITERS

        # The replica only generates; the cache it would open belongs in a throwaway folder, never
        # in the shared cache (the driver is the one sqlite writer).
        scratch = ArtifactCache(tempfile.mkdtemp(prefix="bright-eval-replica-"))
        self.backend = REWRITERS.create(ref.spec, ref.args, cache=scratch).backend

    def ready(self) -> bool:
        return True

    def generate(self, conversations: list[list[dict]], decoding):
        """Yields (index, Generation or Exception) as replies finish."""
        replies: queue.Queue = queue.Queue()
        sent: set[int] = set()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["results"] = self.backend.generate(conversations, decoding, on_result=lambda i, r: replies.put((i, r)))
            except Exception as exc:  # noqa: BLE001 - every unanswered item gets this error
                outcome["error"] = exc
            replies.put(None)

        threading.Thread(target=run, daemon=True).start()
        while (item := replies.get()) is not None:
            sent.add(item[0])
            yield item
        for i in range(len(conversations)):  # backends that return the batch at once
            if i not in sent:
                yield i, outcome["error"] if "error" in outcome else outcome["results"][i]


def _wait_ready(actor, limit_s: float = 900.0) -> bool:
    """Wait while Ray restarts a replica (its model loads again); False once it is dead for good."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        try:
            return ray.get(actor.ready.remote(), timeout=30)
        except ray.exceptions.ActorDiedError:
            return False
        except (ray.exceptions.ActorUnavailableError, ray.exceptions.GetTimeoutError):
            time.sleep(1.0)
    return False


class ReplicaBackend:
    """Stands in for a local LLM rewriter's backend on the driver; `generate` runs on replicas."""

    def __init__(self, inner, ref: ComponentRef, options: dict[str, Any], replicas: int, chunk: int):
        self.inner, self.ref, self.options, self.replicas, self.chunk = inner, ref, options, replicas, chunk
        self.actors: list = []
        self.restarts = 0

    def describe(self) -> dict:
        return self.inner.describe()

    def wire(self, sampling: dict) -> dict:
        return self.inner.wire(sampling)

    def _start(self, n: int) -> None:
        cls = ray.remote(max_restarts=CHUNK_RETRIES, max_task_retries=0)(RewriteReplica)
        while len(self.actors) < n:
            self.actors.append(cls.options(**self.options, name=None).remote(self.ref))

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list:
        results: list = [None] * len(conversations)
        lock = threading.Lock()
        chunks: queue.Queue = queue.Queue()
        size = self.chunk or max(1, min(VLLM_CHUNK, math.ceil(len(conversations) / self.replicas)))
        for start in range(0, len(conversations), size):
            chunks.put((list(range(start, min(start + size, len(conversations)))), 0))
        self._start(min(self.replicas, chunks.qsize()))

        def deliver(i: int, res) -> None:
            with lock:
                if results[i] is None:
                    results[i] = res
                    if on_result is not None:
                        on_result(i, res)

        def serve(actor) -> None:
            while True:
                try:
                    items, tries = chunks.get_nowait()
                except queue.Empty:
                    return
                todo = [i for i in items if results[i] is None]
                try:
                    for ref in actor.generate.options(num_returns="streaming").remote([conversations[i] for i in todo], sampling):
                        j, res = ray.get(ref)
                        deliver(todo[j], res)
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError) as exc:
                    left = [i for i in items if results[i] is None]
                    with lock:
                        self.restarts += 1
                    if tries + 1 >= CHUNK_RETRIES:
                        for i in left:
                            deliver(i, RuntimeError(f"model replica died {CHUNK_RETRIES} times ({type(exc).__name__})"))
                        continue
                    log.warning("a %s replica died (%s); %d queries of its chunk go again", self.ref.spec, type(exc).__name__, len(left))
                    chunks.put((left, tries + 1))
                    if not _wait_ready(actor):
                        return  # gone for good: the other replicas take the rest

        threads = [threading.Thread(target=serve, args=(a,), daemon=True) for a in self.actors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, res in enumerate(results):
            if res is None:  # defensive: a chunk that no replica answered is a failure, not a hang
                deliver(i, RuntimeError("no replica answered"))
        return results
