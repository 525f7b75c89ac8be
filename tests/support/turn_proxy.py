"""A TCP relay that counts each connection's round trips, for tests of protocol chattiness.

TurnProxy([(front port, real port), ...]) listens on 127.0.0.1:<front port> (a
Cluster(front_ports=True)'s ring ports) and forwards every connection to its real port.
Per connection it records the first request line and the client's *turns*: how many
times the client sent something after the server had sent something since the client's
last bytes (the first bytes count as one). A client that writes a request and waits for
the answer before writing again costs one turn per round trip; a client that pipelines
(sends the next message before the answer) does not add turns. TCP's handshake is not
counted.

Each connection's two directions are relayed by one thread, which always reads what the
client has already sent before what the server has: bytes a client wrote before reading
an answer can never look like a turn of their own. FIN is forwarded each way. Thread-safe
for the reader of `connections`; stop() (or leaving the with-block) closes everything.
"""
import selectors
import socket
import threading
import time

from cluster import shut_down


class Connection:
    def __init__(self, front_port):
        self.front_port = front_port
        self.accepted = time.monotonic()
        self.first_line = b''
        self.turns = 0


class TurnProxy:
    def __init__(self, port_map):
        self.connections = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._listeners = []
        for front, real in port_map:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(('127.0.0.1', front))
            ls.listen(128)
            self._listeners.append(ls)
            self._start(self._accept, ls, front, real)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def sessions(self, method):
        """The connections whose request line starts with `method`, in accept order."""
        with self._lock:
            conns = list(self.connections)
        return [c for c in conns if c.first_line.startswith(method.encode() + b' ')]

    def stop(self):
        self._stop.set()
        for ls in self._listeners:
            shut_down(ls)
        for t in self._threads:
            t.join(5)

    def _start(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self, ls, front, real):
        while not self._stop.is_set():
            try:
                client, _ = ls.accept()
            except OSError:
                return
            conn = Connection(front)
            with self._lock:
                self.connections.append(conn)
            self._start(self._relay, client, real, conn)

    def _relay(self, client, real, conn):
        try:
            server = socket.create_connection(('127.0.0.1', real), timeout=10)
        except OSError:
            client.close()
            return
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, server)
        sel.register(server, selectors.EVENT_READ, client)
        server_spoke = True  # so the client's first bytes are its first turn
        open_ends = 2
        try:
            while open_ends and not self._stop.is_set():
                ready = [key.fileobj for key, _ in sel.select(timeout=0.2)]
                ready.sort(key=lambda s: s is not client)  # the client's bytes first
                for src in ready:
                    dst = client if src is server else server
                    data = src.recv(1 << 20)
                    if not data:
                        sel.unregister(src)
                        open_ends -= 1
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if src is client:
                        if server_spoke:
                            conn.turns += 1
                            server_spoke = False
                        if len(conn.first_line) < 200:
                            conn.first_line = (conn.first_line + data).split(b'\r\n')[0][:200]
                    else:
                        server_spoke = True
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            sel.close()
            client.close()
            server.close()
