"""The ceiling for the stack: a bare Falcon app that answers every request ``OK``.

It reads the request body like pingd does and runs on waitress with the same
options as ``pingd serve``, so pingd's throughput can be given as a ratio.
With ``buffered``, responses are sent by waitress's event loop rather than by
the worker (``send_bytes`` 18,000, as pingd does for ping connections): the
ceiling for that way of answering.
Usage: python bench/baseline.py PORT THREADS [buffered]
"""

from __future__ import annotations

import sys

import falcon
import waitress


class Ok:
    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        req.bounded_stream.read()
        resp.content_type = "text/plain; charset=utf-8"
        resp.text = "OK"


def main() -> None:
    port, threads = int(sys.argv[1]), int(sys.argv[2])
    buffered = sys.argv[3:] == ["buffered"]
    app = falcon.App()
    app.add_sink(Ok(), "/")
    server = waitress.create_server(
        app,
        listen=f"127.0.0.1:{port}",
        threads=threads,
        clear_untrusted_proxy_headers=True,
        ident="baseline",
    )
    if buffered:
        server.adj.send_bytes = 18000
    print(f"listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
