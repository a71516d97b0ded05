"""A chat-completions server on 127.0.0.1 for the OpenAI-compatible backend's tests: real HTTP, with
429s, 500s, slow and empty replies on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """Answers '<prefix>reasoned: <question>'. Questions starting with RATE get one 429, FLAKY two 500s,
    SLOW one response slower than the client's timeout, DEAD only 500s, AUTH a 401. Every request body
    is kept; `on_request(n)` runs as the n-th request arrives; `delay` slows every answer; `null` answers
    every question with `"content": null` (what some servers send for an empty generation)."""

    def __init__(self, prefix: str = "", delay: float = 0.0, on_request=None, null: bool = False):
        self.attempts: dict[str, int] = {}
        self.bodies: list[dict] = []
        self.replied = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                question = body["messages"][-1]["content"].split("Query: ")[1].strip()
                with outer.lock:
                    n = outer.attempts[question] = outer.attempts.get(question, 0) + 1
                    outer.bodies.append(body)
                    total = len(outer.bodies)
                if on_request is not None:
                    on_request(total)
                time.sleep(delay)
                if question.startswith("AUTH"):
                    return self.reply(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
                if question.startswith("DEAD") or (question.startswith("FLAKY") and n <= 2):
                    return self.reply(500, {"error": {"message": "boom", "type": "server_error"}})
                if question.startswith("RATE") and n == 1:
                    return self.reply(429, {"error": {"message": "slow down", "type": "rate_limit"}})
                if question.startswith("SLOW") and n == 1:
                    time.sleep(1.5)
                content = None if null else f"{prefix}reasoned: {question}"
                self.reply(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                                 "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}})

            def reply(self, code, obj):
                data = json.dumps(obj).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    if code == 200:
                        with outer.lock:
                            outer.replied += 1
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out first, as intended

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
