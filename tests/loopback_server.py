"""An HTTP server on 127.0.0.1 that serves fixed bodies, short bodies and stalls."""

import contextlib
import http.server
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """The response the test server sends for one path."""

    body: bytes
    content_length: int
    stall_s: float = 0.0


class NpzRequestHandler(http.server.BaseHTTPRequestHandler):
    """Serve the routes of the server, then close the connection (HTTP/1.0)."""

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "no such file")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(route.content_length))
        self.end_headers()
        try:
            self.wfile.write(route.body)
            self.wfile.flush()
            if route.stall_s:
                # The event ends the stall early when the server shuts down.
                self.server.release.wait(route.stall_s)
        except ConnectionError:
            pass

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def loopback_server(routes):
    """Serve `routes` ({path: Route}) on 127.0.0.1 and yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NpzRequestHandler)
    server.daemon_threads = True
    server.release = threading.Event()
    server.routes = routes
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    try:
        yield f"http://{host}:{port}"
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
