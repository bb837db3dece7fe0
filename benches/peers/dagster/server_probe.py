"""Server start → first answer, then the asset-graph query, timed from outside: starts the
server as a child process on 127.0.0.1, polls until it answers, sends the query, stops the
child by its PID and prints one JSON line `{"metrics": {...}, "counts": {...}}`.

    python server_probe.py dagster            # dagster-webserver over dagster_location.py
    python server_probe.py stemma BINARY      # BINARY serve: /healthz, then /api/v1/lineage
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

DAGSTER_GRAPH_QUERY = """
query AssetGraph {
  assetNodes { id assetKey { path } groupName dependencyKeys { path } }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body: bytes | None = None) -> bytes:
    headers = {"Content-Type": "application/json"} if body else {}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=120) as r:
        return r.read()


def wait_for(url: str, child: subprocess.Popen, deadline: float) -> None:
    while True:
        if child.poll() is not None:
            sys.exit(f"the server exited ({child.returncode}) before answering {url}")
        try:
            request(url)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                sys.exit(f"no answer from {url} within the deadline")
            time.sleep(0.01)


def main():
    side = sys.argv[1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if side == "dagster":
        venv_bin = Path(sys.executable).parent
        argv = [str(venv_bin / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                "-f", str(HERE / "dagster_location.py")]
        ready, graph = f"{base}/server_info", (
            f"{base}/graphql", json.dumps({"query": DAGSTER_GRAPH_QUERY}).encode())
        count = lambda body: len(json.loads(body)["data"]["assetNodes"])
    else:
        # Stemma's server: `serve --port`, alive at /healthz, the asset graph at /api/v1/lineage.
        argv = [sys.argv[2], "serve", "--host", "127.0.0.1", "--port", str(port)]
        ready, graph = f"{base}/healthz", (f"{base}/api/v1/lineage", None)
        count = lambda body: len(json.loads(body)["assets"])
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=os.environ, cwd=HERE)
    try:
        wait_for(ready, child, time.monotonic() + 300)
        first = time.perf_counter() - start
        start = time.perf_counter()
        body = request(*graph)
        query = time.perf_counter() - start
    finally:
        os.kill(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    print(json.dumps({
        "metrics": {"start → first answer": first, "asset graph query": query},
        "counts": {"asset graph query": count(body)},
    }))


if __name__ == "__main__":
    main()
