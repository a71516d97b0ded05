"""Chat-completions servers on 127.0.0.1 for the tests of everything that talks to an OpenAI-compatible
API: real HTTP, one plumbing (`ChatStub`), each test's answers in `answer`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(model: str, content: str | None, prompt_tokens: int = 100, completion_tokens: int = 7) -> tuple[int, dict]:
    return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens}}


def failure(code: int, message: str, kind: str) -> tuple[int, dict]:
    return code, {"error": {"message": message, "type": kind}}


def question_of(body: dict) -> str:
    """The query a rewriting prompt carries (TongSearch-QR's and BRIGHT's prompts end with 'Query: ...')."""
    return body["messages"][-1]["content"].split("Query: ")[1].strip()


class ChatStub:
    """Serves `answer(body) -> (status, json)` for every POST; `lock` guards the subclass's records."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                code, obj = outer.answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                data = json.dumps(obj).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client timed out first, as intended
                if code == 200:
                    outer.delivered()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, body: dict) -> tuple[int, dict]:
        raise NotImplementedError

    def delivered(self) -> None:
        """A 200 reached the client."""

    def close(self) -> None:
        self.httpd.shutdown()


class Server(ChatStub):
    """Answers '<prefix>reasoned: <question>'. Questions starting with RATE get one 429, FLAKY two 500s,
    SLOW one response slower than the client's timeout, DEAD only 500s, AUTH a 401. Every request body
    is kept; `on_request(n)` runs as the n-th request arrives; `delay` slows every answer; `null` answers
    every question with `"content": null` (what some servers send for an empty generation)."""

    def __init__(self, prefix: str = "", delay: float = 0.0, on_request=None, null: bool = False):
        self.attempts: dict[str, int] = {}
        self.bodies: list[dict] = []
        self.replied = 0
        self.prefix, self.delay, self.on_request, self.null = prefix, delay, on_request, null
        super().__init__()

    def answer(self, body: dict) -> tuple[int, dict]:
        question = question_of(body)
        with self.lock:
            n = self.attempts[question] = self.attempts.get(question, 0) + 1
            self.bodies.append(body)
            total = len(self.bodies)
        if self.on_request is not None:
            self.on_request(total)
        time.sleep(self.delay)
        if question.startswith("AUTH"):
            return failure(401, "bad key", "invalid_request_error")
        if question.startswith("DEAD") or (question.startswith("FLAKY") and n <= 2):
            return failure(500, "boom", "server_error")
        if question.startswith("RATE") and n == 1:
            return failure(429, "slow down", "rate_limit")
        if question.startswith("SLOW") and n == 1:
            time.sleep(1.5)
        return completion(body["model"], None if self.null else f"{self.prefix}reasoned: {question}")

    def delivered(self) -> None:
        with self.lock:
            self.replied += 1
