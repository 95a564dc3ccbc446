"""`make demo`'s last step: start the tracking service on a free loopback port, recording clicks
into a fresh SQLite file in the output folder, follow one tracking link from out/ with a real HTTP
client (not following the redirect) as a browser would, print the answer's status and Location,
stop the service (SIGTERM stores the queued click), and show `rewriter clicks` on that store.
Needs REWRITER_KEYS (the demo key) in the environment.

    python scripts/serve_demo.py out rules/example.yaml
"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
LINK = re.compile(rb"http://go\.example\.com/l/[A-Za-z0-9_-]+")


def first_link(folder: Path) -> str:
    """The first tracking link of the newsletter sample (else of any page)."""
    pages = sorted(folder.rglob("*.htm*"), key=lambda path: (path.name != "newsletter.html", path))
    for path in pages:
        found = LINK.search(path.read_bytes())
        if found:
            return found.group().decode()
    raise SystemExit(f"no tracking link in {folder}: run the rewrite step first")


def start(rules: Path, store: str) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, "-m", "rewriter", "serve", "--rules", str(rules),
            "--http", "127.0.0.1:0", "--workers", "1", "--clicks", store]  # fmt: skip
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return process, int(found.group(1))
    process.kill()
    raise SystemExit("the service did not start")


def main() -> int:
    folder = Path(sys.argv[1])
    link = first_link(folder)
    database = (folder / "clicks.sqlite3").resolve()
    for stale in database.parent.glob(database.name + "*"):  # a fresh store at each run
        stale.unlink()
    store = f"sqlite://{database}"
    process, port = start(Path(sys.argv[2]), store)
    try:
        path = link.removeprefix("http://go.example.com")
        print(f"$ curl -i -A '{BROWSER}' {link}   # sent to the service on 127.0.0.1:{port}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path, headers={"Host": "go.example.com", "User-Agent": BROWSER})
        response = connection.getresponse()
        print(f"HTTP/1.1 {response.status} {response.reason}")
        for name in ("Location", "Cache-Control", "Referrer-Policy"):
            print(f"{name}: {response.getheader(name)}")
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.stderr is not None
    print("the service's stderr (where clicks go, the access log, shutdown):")
    for line in process.stderr.read().splitlines():
        print(f"  {line}")
    print(f"$ rewriter clicks --clicks {store}")
    sys.stdout.flush()
    report = subprocess.run(
        [sys.executable, "-m", "rewriter", "clicks", "--clicks", store], check=False, timeout=60
    )
    return 0 if response.status == 302 and report.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
