#!/usr/bin/env python3
"""swarm-platform demo app: a small threaded HTTP/1.1 server (standard library only).

Every path answers 200 with one line ``release=<RELEASE> host=<hostname>``; ``/healthz`` answers 200 ``ok``.
Listens on $PORT (default 8000). ``server.py --healthcheck`` probes /healthz (the image's HEALTHCHECK).

On SIGTERM it behaves as an app should under a load balancer: it keeps serving for $DRAIN_SECONDS (default 2; the
gateway may still hold its address that long), answering with ``Connection: close``, then stops accepting and
finishes the requests in flight before it exits.

Knobs for the lab's failure scenarios (all off by default):
  START_DELAY    seconds before it listens (a slow start; a very large value never becomes healthy)
  EXIT_AT_START  exit with this status at once (a crash loop)
  FAIL_RATE      answer 500 to this share (0..1) of the requests that are not /healthz (a bad release for the
                 canary's rollback); anything else fails at start
"""
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
RELEASE = os.environ.get("RELEASE", "dev")
HOST = socket.gethostname()
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "2"))
START_DELAY = float(os.environ.get("START_DELAY", "0"))
EXIT_AT_START = os.environ.get("EXIT_AT_START", "")


def fail_rate(text):
    """FAIL_RATE as a share 0..1; a typo must not start a healthy-looking app."""
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        sys.exit(f"demo-app: FAIL_RATE={text!r}: must be a share from 0 to 1 (0.3: 30% of requests answer 500)")
    return rate


FAIL_RATE = fail_rate(os.environ.get("FAIL_RATE", "0"))
draining = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply carries Content-Length
    timeout = 10  # an idle keep-alive connection ends, so a stopping server is not held by it

    def _reply(self, send_body=True):
        # Read any request body so the connection can be reused.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        status = 200
        if self.path.split("?", 1)[0] == "/healthz":
            body = b"ok\n"
        elif FAIL_RATE > 0 and random.random() < FAIL_RATE:
            status, body = 500, f"release={RELEASE} host={HOST} failed on purpose\n".encode()
        else:
            body = f"release={RELEASE} host={HOST}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
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
    daemon_threads = False  # server_close() joins the request threads: requests in flight finish
    block_on_close = True
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
    if EXIT_AT_START:
        print(f"demo-app: EXIT_AT_START={EXIT_AT_START}: exiting at once", file=sys.stderr, flush=True)
        sys.exit(int(EXIT_AT_START))
    stop = threading.Event()
    # As PID 1 the default signal dispositions do not apply: TERM and INT start the drain.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if START_DELAY > 0:
        print(f"demo-app: START_DELAY={START_DELAY}: listening later", file=sys.stderr, flush=True)
        if stop.wait(START_DELAY):
            return
    server = Server(("0.0.0.0", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"demo-app listening on :{PORT} release={RELEASE} host={HOST}", file=sys.stderr, flush=True)
    stop.wait()
    draining.set()
    print(f"demo-app: stopping: serving {DRAIN_SECONDS}s more, then finishing the requests in flight", file=sys.stderr, flush=True)
    time.sleep(DRAIN_SECONDS)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
