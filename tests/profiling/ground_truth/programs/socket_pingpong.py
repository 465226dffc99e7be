"""A loopback server (a child process) and a client trading 256 KiB replies (truth: io-network)."""

import os
import socket
import sys
import time

seconds = float(sys.argv[1])
REPLY = b"x" * (256 << 10)
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
pid = os.fork()
if pid == 0:  # the server: answer each 1-byte request with REPLY until the client goes
    conn, _ = server.accept()
    while conn.recv(1):
        conn.sendall(REPLY)
    os._exit(0)
server.close()
client = socket.create_connection(("127.0.0.1", port))
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    client.sendall(b"?")
    left = len(REPLY)
    while left:
        left -= len(client.recv(left))
client.close()
os.waitpid(pid, 0)
