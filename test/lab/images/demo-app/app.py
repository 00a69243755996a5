#!/usr/bin/env python3
"""swarm-lab demo app: a tiny threaded HTTP/1.1 server (stdlib only).

Every path answers 200 with one line ``release=<RELEASE> host=<hostname>``;
``/healthz`` answers 200 ``ok``. Listens on $PORT (default 8000).
``app.py --healthcheck`` probes http://127.0.0.1:$PORT/healthz (used by HEALTHCHECK).
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
ACCESS_LOG = os.environ.get("ACCESS_LOG", "1") not in ("0", "false", "no", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length

    def version_string(self):
        return "swarm-lab-demo/1"

    def _reply(self, send_body=True):
        # drain a request body so the connection can be reused
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
        if ACCESS_LOG and not self.path.startswith("/healthz"):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def healthcheck():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as r:
            return 0 if r.status == 200 else 1
    except Exception as e:  # noqa: BLE001
        print(f"unhealthy: {e}", file=sys.stderr)
        return 1


def main():
    if "--healthcheck" in sys.argv[1:]:
        sys.exit(healthcheck())
    # as PID 1 default signal dispositions are ignored: exit cleanly on TERM/INT
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    srv = Server(("0.0.0.0", PORT), Handler)
    print(f"demo-app listening on :{PORT} release={RELEASE} host={HOST}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
