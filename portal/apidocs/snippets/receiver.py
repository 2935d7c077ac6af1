"""A webhook receiver that checks the portal's signature (Python 3, standard library only).

Run:  WEBHOOK_SECRET=<the endpoint's secret> python receiver.py 8080
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["WEBHOOK_SECRET"].encode()
TOLERANCE = 300  # seconds: older deliveries are refused, so a captured one cannot be replayed


def verify(timestamp: str, body: bytes, header: str) -> bool:
    """X-Portal-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>.
    While a secret is being rotated the header may carry several v1= values."""
    try:
        if abs(time.time() - int(timestamp)) > TOLERANCE:
            return False
    except ValueError:
        return False
    expected = hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    given = [p.strip()[3:] for p in header.split(",") if p.strip().startswith("v1=")]
    return any(hmac.compare_digest(expected, g) for g in given)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.headers.get("X-Portal-Timestamp", ""), body,
                      self.headers.get("X-Portal-Signature", "")):
            self.send_response(401)  # not from the portal: refuse, do not act on it
            self.end_headers()
            return
        event = json.loads(body)
        # X-Portal-Delivery stays the same when a delivery is retried: act on each id once.
        print(self.headers["X-Portal-Delivery"], event["type"], json.dumps(event["data"], ensure_ascii=False),
              flush=True)
        self.send_response(204)  # any 2xx: delivered; anything else: the portal retries later
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Receiver).serve_forever()
