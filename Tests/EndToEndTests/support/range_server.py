"""A static file server on 127.0.0.1 that honours HTTP Range requests, as object
stores and CDNs do, and counts what it serves, for the tests of rasters read over HTTP.

usage: range_server.py ROOT PORT_FILE STATS_FILE
Listens on a free port (written to PORT_FILE once it accepts connections) and appends
one line per request to STATS_FILE: method, path, status, bytes of body sent.
A missing file is 404; /forbidden/... is 403. Servers that stall, as overloaded or
half-dead ones do: /stall-head/FILE never answers any request; /stall-get/FILE answers
HEAD but sends only the headers of a GET; /stall-body/FILE serves its first GET (the
header), sends half of the second body, then stalls every GET as /stall-get/ does (a
server that died mid-transfer, while tiles are read).
The stalled connection is held open, silent, for an hour.
"""
import http.server
import os
import re
import sys
import time

root, port_file, stats_file = sys.argv[1:4]
died_mid_body = False
bodies_served = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status, sent):
        with open(stats_file, "a") as f:
            f.write(f"{self.command} {self.path} {status} {sent}\n")

    def fail(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.record(status, 0)

    def stall(self):
        self.wfile.flush()
        time.sleep(3600)

    def serve(self, body):
        stall = next((m for m in ("stall-head", "stall-get", "stall-body") if self.path.startswith(f"/{m}/")), None)
        name = self.path.lstrip("/").split("?")[0]
        if stall:
            name = name.split("/", 1)[1]
            if stall == "stall-head":
                return self.stall()
        path = os.path.join(root, name)
        if self.path.startswith("/forbidden/"):
            return self.fail(403)
        if not os.path.isfile(path):
            return self.fail(404)
        size = os.path.getsize(path)
        start, end, status = 0, size - 1, 200
        match = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
            if start >= size:
                return self.fail(416)
            status = 206
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = 0
        if body:
            global died_mid_body, bodies_served
            if stall == "stall-get" or (stall == "stall-body" and died_mid_body):
                return self.stall()
            bodies_served += 1
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read(end - start + 1)
            if stall == "stall-body" and bodies_served > 1:
                died_mid_body = True
                self.wfile.write(data[: len(data) // 2])
                return self.stall()
            self.wfile.write(data)
            sent = len(data)
        self.record(status, sent)

    def do_GET(self):
        self.serve(True)

    def do_HEAD(self):
        self.serve(False)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
