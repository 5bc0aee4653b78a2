"""The tests' HTTP client (``client_session``) against a server that does what Orthanc 1.10 does
when a kept-alive connection's second of idleness ends just as a request is sent on it: it
closes the connection without an answer. The request is sent once more, on a new connection;
a plain session fails."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from tests.orthanc_server import client_session

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


def _request_of(connection: socket.socket) -> bytes:
    """The head of the next request, its body (by its Content-Length) read past; b"" where the
    client closed the connection instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


@pytest.fixture
def closing_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server whose first connection answers one request and drops the next unanswered;
    every later connection answers. Yields its URL and the request lines it received."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        for number in range(2):
            connection, _ = listener.accept()
            with connection:
                while head := _request_of(connection):
                    received.append(head.split(b"\r\n")[0])
                    if number == 0 and len(received) == 2:
                        break  # closed without an answer
                    connection.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    listener.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_dropped_by_a_kept_alive_connection_is_sent_again(
    closing_server: tuple[str, list[bytes]], method: str
) -> None:
    url, received = closing_server
    with client_session() as session:
        assert session.get(f"{url}/first").text == "ok"
        answer = session.request(method, f"{url}/second", data=b"x" * 1000)
    assert answer.text == "ok"
    assert received == [b"GET /first HTTP/1.1", *[f"{method} /second HTTP/1.1".encode()] * 2]


def test_a_plain_session_fails_there(closing_server: tuple[str, list[bytes]]) -> None:
    url, received = closing_server
    with requests.Session() as session:
        session.get(f"{url}/first")
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/second")
    assert received == [b"GET /first HTTP/1.1", b"GET /second HTTP/1.1"]
