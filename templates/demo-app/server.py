#!/usr/bin/env python3
"""swarm-platform demo app: a small threaded HTTP/1.1 server (standard library only).

Every path answers 200 with one line ``release=<RELEASE> host=<hostname>``; ``/healthz`` answers 200 ``ok``.
Listens on $PORT (default 8000). ``server.py --healthcheck`` probes /healthz (the image's HEALTHCHECK).
"""
import os
import signal
import socket
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
RELEASE = os.environ.get("RELEASE", "dev")
HOST = socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply carries Content-Length

    def _reply(self, send_body=True):
        # Read any request body so the connection can be reused.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        if self.path.split("?", 1)[0] == "/healthz":
            body = b"ok\n"
        else:
            body = f"release={RELEASE} host={HOST}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _reply

    def do_HEAD(self):
        self._reply(send_body=False)

    def log_message(self, fmt, *args):
        if not self.path.startswith("/healthz"):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def healthcheck():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as reply:
            return 0 if reply.status == 200 else 1
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


def main():
    if "--healthcheck" in sys.argv[1:]:
        sys.exit(healthcheck())
    # As PID 1 the default signal dispositions do not apply: exit cleanly on TERM and INT.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    server = Server(("0.0.0.0", PORT), Handler)
    print(f"demo-app listening on :{PORT} release={RELEASE} host={HOST}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
