"""A real HTTP receiver on 127.0.0.1 (http.server in a thread, HTTP/1.1 keep-alive) that checks
every delivery's signature as an integrator's would, with portal.webhooks.signing.verify."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from portal.webhooks import signing


class Receiver:
    def __init__(self, secret: str = ""):
        self.secret = secret
        self.port = None
        self.server = None
        self.thread = None
        self.lock = threading.Lock()
        self.received: list[dict] = []  # every request, in arrival order
        self.status = 200  # what it answers
        self.connections: set = set()  # client (host, port) pairs seen: keep-alive reuses one
        self._hold = None  # (event, released) to hold the next request unanswered
        self.holding = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/portal"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As production servers do (nginx, gunicorn): the answer's two writes would otherwise
            # wait for the sender's delayed ACK, ~40 ms per request on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {
                    "path": self.path, "body": body, "headers": dict(self.headers.items()),
                    "client": self.client_address,
                    "verified": signing.verify(receiver.secret, self.headers.get(signing.HEADER_TIMESTAMP),
                                               body, self.headers.get(signing.HEADER_SIGNATURE)),
                }
                try:
                    record["json"] = json.loads(body)
                except ValueError:
                    record["json"] = None
                with receiver.lock:
                    receiver.received.append(record)
                    receiver.connections.add(self.client_address)
                    hold, receiver._hold = receiver._hold, None
                if hold is not None:
                    receiver.holding.set()
                    hold.wait(120)
                answer = b'{"ok":true}' if receiver.status < 300 else b"service unavailable"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # stop() waits until serve_forever next looks at its flag: once per poll_interval (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Down: nothing listens on the port any more (connections are refused)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def hold_next(self) -> threading.Event:
        """The next request is received but not answered until the returned event is set."""
        event = threading.Event()
        self.holding.clear()
        with self.lock:
            self._hold = event
        return event

    def deliveries(self) -> list[str]:
        with self.lock:
            return [r["headers"].get(signing.HEADER_DELIVERY) for r in self.received]

    def of_type(self, event_type: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["json"] and r["json"]["type"] == event_type]
