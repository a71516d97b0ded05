"""Ctrl-C (SIGINT) during API rewriting, sent to a real `bright-eval` process talking to a slow stub
OpenAI-compatible server on 127.0.0.1: before the first reply, mid-run and during the last batch.
Each must exit 130 with a message, send nothing new after the signal (only what was in flight) and
keep every reply received in the rewrite cache.

"script" launches the process as a non-interactive shell starts a background job (`cmd &` in a
sweep script): with SIGINT ignored, which Python inherits and then never raises KeyboardInterrupt
for. That is how a scripted sweep saw Ctrl-C ignored (all requests sent, exit 0) while by hand, in
a terminal, it always worked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("openai")

from bright_eval.rewriters.cache import RewriteCache  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from stub_openai import Server  # noqa: E402

N_QUERIES = 48
CONCURRENCY = 4
DELAY = 0.25  # seconds per reply: 48 queries take ~3 s at concurrency 4, so every point is reachable
# The request whose arrival triggers SIGINT. The CLI's openai rewriter batches 4 x concurrency = 16 queries,
# so request 41 is in the last batch (33-48).
POINTS = {"before-first-reply": 1, "mid-run": 18, "last-batch": 41}


def _data(tmp: Path, tiny_bright: Path) -> Path:
    data = tmp / "data"
    shutil.copytree(tiny_bright, data)
    rows = [{"id": str(i), "query": f"plain question {i}", "gold_ids": ["x"], "excluded_ids": ["N/A"]} for i in range(N_QUERIES)]
    (data / "pony" / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what bash does to `cmd &` when job control is off


def _interrupted_run(tmp: Path, tiny_bright: Path, point: int, launch: str, command: str):
    data = _data(tmp, tiny_bright)
    proc_box: list[subprocess.Popen] = []
    sent_at_signal: list[int] = []

    def on_request(n: int) -> None:
        if n == point and proc_box:
            sent_at_signal.append(n)
            proc_box[0].send_signal(signal.SIGINT)

    srv = Server(delay=DELAY, on_request=on_request)
    args = {"rewrite": ["rewrite", "--tasks", "pony", "--out", str(tmp / "rw.jsonl")],
            "run": ["run", "--tasks", "pony", "--results-dir", str(tmp / "res")]}[command]
    env = {**os.environ, "BRIGHT_EVAL_CACHE": str(tmp / "cache"), "BRIGHT_EVAL_NO_PROGRESS": "1", "COLUMNS": "300",
           "OPENAI_API_KEY": "test", "HF_HUB_OFFLINE": "1"}
    env.pop("BRIGHT_DATA_DIR", None)
    cmd = [sys.executable, "-c", "from bright_eval.cli import main; main()", *args, "--rewriter", "openai:stub-model",
           "--base-url", srv.url, "--concurrency", str(CONCURRENCY), "--data-dir", str(data)]
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_ignore_sigint if launch == "script" else None)
        proc_box.append(proc)
        t0 = time.monotonic()
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=10)
        seconds = time.monotonic() - t0
        time.sleep(DELAY + 0.2)  # a request sent after the signal would show up here
        with srv.lock:
            sent, replied = len(srv.bodies), srv.replied
    finally:
        srv.httpd.shutdown()
    cached = len(RewriteCache(tmp / "cache" / "rewrites" / "rewrites.sqlite"))
    return proc.returncode, out, err, sent, replied, cached, seconds, sent_at_signal


# Every point from a script (the launch that failed), and one from a terminal.
@pytest.mark.parametrize("where, launch", [(w, "script") for w in POINTS] + [("mid-run", "terminal")])
def test_ctrl_c_during_api_rewriting(tmp_path, tiny_bright, where, launch):
    code, out, err, sent, replied, cached, seconds, at = _interrupted_run(tmp_path, tiny_bright, POINTS[where], launch, "rewrite")
    assert at == [POINTS[where]], "the stub never saw the request that triggers SIGINT"
    assert code == 130, f"exit {code} after {sent} requests\nstderr: {err}"
    assert "interrupted" in err and "Traceback" not in err, err
    # Nothing new after the signal: only the requests in flight when it came (at most one window).
    assert sent <= POINTS[where] + CONCURRENCY - 1, sent
    assert sent < N_QUERIES
    # Every reply that arrived is in the cache; a rerun would ask only for the rest.
    assert cached == replied, (cached, replied)
    assert seconds < 15, seconds


def test_ctrl_c_during_a_run_from_a_script(tmp_path, tiny_bright):
    code, out, err, sent, replied, cached, _, at = _interrupted_run(tmp_path, tiny_bright, POINTS["mid-run"], "script", "run")
    assert at and code == 130, f"exit {code} after {sent} requests\nstderr: {err}"
    assert "interrupted" in err and "Traceback" not in err, err
    assert sent <= POINTS["mid-run"] + CONCURRENCY - 1 and cached == replied, (sent, cached, replied, err)


def test_a_signal_taken_by_a_worker_thread_still_stops_the_run(tmp_path):
    """Linux may run the C-level SIGINT handler on any thread; the main thread then only notices
    when its wait ends. An unbounded wait (no reply coming) must not hide the signal."""
    import _thread

    from bright_eval.cache import ArtifactCache
    from bright_eval.rewriters import Query
    from bright_eval.rewriters.llm import LLMRewriter
    from bright_eval.rewriters.openai_backend import OpenAIBackend

    srv = Server(delay=3.0)  # no reply within the test's bound

    def interrupt_from_a_worker() -> None:
        time.sleep(0.5)
        _thread.interrupt_main()  # flags SIGINT as a handler on another thread would: the main thread's wait is not woken

    try:
        be = OpenAIBackend("m", base_url=srv.url, api_key="k", concurrency=2, timeout=10, backoff=0.01)
        be.interrupt_grace = 0.0  # measure when the signal is noticed, not the wait for replies in flight
        rw = LLMRewriter("m", be, cache=ArtifactCache(tmp_path), batch_size=8)
        threading.Thread(target=interrupt_from_a_worker, daemon=True).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            rw.rewrite([Query("pony", str(i), f"plain {i}") for i in range(8)])
        assert time.monotonic() - t0 < 1.5  # noticed within the bound, not when the 3 s replies come
    finally:
        srv.httpd.shutdown()
