#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every chunk by DELAY ms each way (bench/latency).

    delayproxy.py PORTFILE TARGET_PORT DELAY_MS STATSFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and forwards each
connection to 127.0.0.1:TARGET_PORT. Every chunk read from either side is written to the
other side DELAY_MS after it was read, in order: a round trip through the proxy takes
2 x DELAY_MS more, as across a network (tc netem is not available here).

It also counts round trips: a "burst" is a run of client-to-server chunks with no
server-to-client chunk between them, so each burst after the first is the client waiting
for an answer before it sends more. When a connection closes, one line is appended to
STATSFILE:

    conn bursts=B up_bytes=U down_bytes=D up_chunks=C delay_us_median=M

delay_us_median is the delay really added (the sleep's own lateness included), so that the
report can say how close to DELAY_MS the proxy was. SIGTERM stops it. Stdlib only.
"""

import os
import signal
import socket
import sys
import threading
import time
from collections import deque


class Conn:
    """One client connection and its server connection, with the burst count."""

    def __init__(self, client, server, delay, stats):
        self.client, self.server, self.delay, self.stats = client, server, delay, stats
        self.lock = threading.Lock()
        self.last_up = False
        self.bursts = 0
        self.bytes = [0, 0]
        self.up_chunks = 0
        self.delays = []
        self.open_dirs = 2

    def note(self, up, n):
        with self.lock:
            if up:
                self.up_chunks += 1
                if not self.last_up:
                    self.bursts += 1
                self.last_up = True
            else:
                self.last_up = False
            self.bytes[0 if up else 1] += n

    def pump(self, src, dst, up):
        """Reads src; a writer thread sends each chunk to dst DELAY after it was read."""
        q = deque()
        cv = threading.Condition()
        done = [False]

        def writer():
            while True:
                with cv:
                    while not q and not done[0]:
                        cv.wait()
                    if not q:
                        break
                    due, data = q.popleft()
                left = due - time.monotonic()
                if left > 0:
                    time.sleep(left)
                with self.lock:
                    self.delays.append(time.monotonic() - due + self.delay)
                try:
                    dst.sendall(data)
                except OSError:
                    break
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        w = threading.Thread(target=writer, daemon=True)
        w.start()
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self.note(up, len(data))
            with cv:
                q.append((time.monotonic() + self.delay, data))
                cv.notify()
        with cv:
            done[0] = True
            cv.notify()
        w.join()
        self.finish()

    def finish(self):
        with self.lock:
            self.open_dirs -= 1
            if self.open_dirs:
                return
            d = sorted(self.delays)
            med = d[len(d) // 2] if d else 0.0
            line = "conn bursts=%d up_bytes=%d down_bytes=%d up_chunks=%d delay_us_median=%d\n" % (
                self.bursts, self.bytes[0], self.bytes[1], self.up_chunks, med * 1e6)
        for s in (self.client, self.server):
            s.close()
        with open(self.stats, "a") as f:
            f.write(line)


def serve(portfile, target, delay, stats):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, portfile)
    while True:
        client, _ = ls.accept()
        try:
            server = socket.create_connection(("127.0.0.1", target))
        except OSError:
            client.close()
            continue
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(client, server, delay, stats)
        threading.Thread(target=c.pump, args=(client, server, True), daemon=True).start()
        threading.Thread(target=c.pump, args=(server, client, False), daemon=True).start()


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: delayproxy.py PORTFILE TARGET_PORT DELAY_MS STATSFILE\n")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    serve(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000.0, sys.argv[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
