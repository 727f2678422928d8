"""A real webhook receiver on loopback that checks every request with the
``standardwebhooks`` reference library (not our code): for the tests and the delivery
benchmark."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """``mode``: "ok" (204 after verifying), "slow" (answers after ``delay`` seconds,
    longer than the sender's timeout), "redirect" (302 elsewhere), "raw" (writes the
    bytes ``answer`` as they are, status line and all), "drip" (writes them a byte every
    ``delay`` seconds). ``on_request``, if set, is called as each request arrives."""

    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret = secret
        self.mode = "ok"
        self.delay = 0.0
        self.verified: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[str] = []
        self.requests = 0
        self.paths: list[str] = []
        self.answer = b""
        self.on_request: Callable[[], None] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests += 1
                    receiver.paths.append(self.path)
                if receiver.on_request is not None:
                    receiver.on_request()
                if receiver.mode == "drip":
                    self.close_connection = True
                    try:
                        for byte in receiver.answer:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(receiver.delay)  # a slow peer, not a clock
                    except OSError:
                        pass  # the sender gave up
                    return
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)  # a slow receiver, not a clock: see the test
                if receiver.mode == "raw":
                    self.wfile.write(receiver.answer)
                    self.close_connection = True
                    return
                if receiver.mode == "redirect":
                    self.send_response(302)
                    self.send_header("location", "http://127.0.0.1:9/elsewhere")
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver._lock:
                        receiver.rejected.append(str(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.verified.append((headers["webhook-id"], payload))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/tracker"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> Counter[str]:
        with self._lock:
            return Counter(msg_id for msg_id, _ in self.verified)
