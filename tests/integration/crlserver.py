#!/usr/bin/env python3
"""crlserver - a CA's web server for the CRL fetch scenario, misbehaving on demand.

    crlserver.py DIR        serve DIR/crl at /crl on a free loopback port; write the
                            port to DIR/port.  DIR/mode (re-read on every request)
                            chooses the behaviour:
      normal         200 with DIR/crl
      huge           200, a body of DIR/size bytes (chunked: no Content-Length)
      huge-declared  200 with Content-Length DIR/size, body sent in full
      drip           200, Content-Length 100000, then one byte every 0.5 s
      redirect-file  302 to file:///etc/passwd
      redirect-ok    302 to /crl-real, which serves DIR/crl
      redirect-loop  302 to /crl again (forever)
      404            404
Every request is logged to DIR/requests (one line: path mode).
"""
import http.server
import os
import sys
import time

DIR = sys.argv[1]


def read(name, default=""):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip()
    except OSError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_crl(self):
        try:
            with open(os.path.join(DIR, "crl"), "rb") as f:
                body = f.read()
        except OSError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        mode = read("mode", "normal")
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%s %s\n" % (self.path, mode))
        try:
            self.serve(mode)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def serve(self, mode):
        if self.path == "/crl-real" or mode == "normal":
            self.send_crl()
        elif mode == "huge":
            size = int(read("size", "2000000"))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"A" * 65536
            left = size
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(b"%x\r\n" % n + chunk[:n] + b"\r\n")
                left -= n
            self.wfile.write(b"0\r\n\r\n")
        elif mode == "huge-declared":
            size = int(read("size", "2000000"))
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(b"A" * size)
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100000):
                self.wfile.write(b"A")
                self.wfile.flush()
                time.sleep(0.5)
        elif mode in ("redirect-file", "redirect-ok", "redirect-loop"):
            loc = {"redirect-file": "file:///etc/passwd", "redirect-ok": "/crl-real",
                   "redirect-loop": "/crl"}[mode]
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
