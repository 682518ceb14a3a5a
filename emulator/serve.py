"""Runs moto server on 127.0.0.1 for sealtrail's tests and local mode.

Binds port 0 so two runs never collide, prints the chosen port as one JSON line on stdout, and
exits when its stdin closes: the Node process that started it holds the other end of that pipe,
so moto stops with its parent even when the parent is killed with SIGKILL.
"""

import json
import signal
import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    print(json.dumps({"port": port}), flush=True)

    def stop(*_args: object) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Blocks until the parent closes the pipe (normal stop, crash or kill).
    sys.stdin.read()
    stop()


if __name__ == "__main__":
    main()
