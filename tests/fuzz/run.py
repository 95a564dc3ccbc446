"""Coverage-guided fuzzing (atheris) of the scanner, URL handling, the token decoder and the whole
engine.

    .venv/bin/python tests/fuzz/run.py --seconds 120 [--targets scanner,compiled,urls,engine,tokens]
        [--keep DIR] [--keep-workdir] [--extra-seeds DIR]

The seconds are split evenly across the targets (tests/fuzz/targets.py), each fuzzed in its own
process for its share. Seeds come from `samples/` and `../shared/corpus` when present: whole
templates for the scanner and the engine, their `href` values for the URL target; and from
tests/fuzz_corpus/<target>/. They are copied into a temporary folder, never into the repository.

An input that breaks an invariant does not stop the run: it is recorded under a signature (the
exception and where it was raised), keeping the smallest input per signature, and after the run
each is minimised (delta debugging, uninstrumented) and printed as a bytes literal. `--keep DIR`
also writes them there (for instance under tests/fuzz_corpus/) to become regression cases.
An execution slower than SLOW_SECONDS is a finding too.

Prints, per target: executions, seconds, executions per second, coverage (libFuzzer's `cov`
edges and `ft` features of the instrumented `rewriter` code), corpus size and findings. Exits 1
if anything was found (there is no list of known failures: every finding counts), 2 if atheris
is missing or a fuzzing process failed.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
OWN_CORPUS = TESTS / "fuzz_corpus"  # minimised findings and generated inputs, per target
TEMPLATE_SUFFIXES = frozenset(
    {".html", ".htm", ".hbs", ".handlebars", ".gotmpl", ".tpl"}
    | {".ftl", ".twig", ".liquid", ".njk", ".jinja", ".j2"}
)
MAX_LEN = {"scanner": 8192, "compiled": 8192, "urls": 1024, "engine": 8192, "tokens": 1024}
MAX_URL_SEEDS = 3000
SLOW_SECONDS = 2.0
MINIMISE_SECONDS = 30.0
# libFuzzer dictionary entries (characters are bytes): the markup and URL pieces the code under
# test branches on.
DICTIONARY = (
    "<a ",
    "<A ",
    "<area ",
    "<v:roundrect ",
    "<V:RECT ",
    "<button ",
    " href=",
    " HREF=",
    '="',
    "='",
    '">',
    "'>",
    "/>",
    "</a>",
    "<!--",
    "-->",
    "--!>",
    "<!-->",
    "<!--[if mso]>",
    "<!--[if mso | IE]>",
    "<![endif]-->",
    "<!--[if !mso]><!-->",
    "<!--<![endif]-->",
    "<script>",
    "</script>",
    "<style>",
    "</style>",
    "<title>",
    "<textarea>",
    "<plaintext>",
    "<!DOCTYPE html>",
    "<meta charset=windows-1252>",
    "\xef\xbb\xbf",
    "\xff\xfe",
    "\r\n",
    "&amp;",
    "&#x26;",
    "&#38;",
    "&copy",
    "&quot;",
    "&#0;",
    "http://",
    "https://",
    "HTTP://",
    "mailto:",
    "tel:",
    "javascript:",
    "java&#x09;script:",
    "//",
    "\\\\",  # two backslashes: `\\\\host` is protocol-relative
    "@",
    "[::1]",
    "xn--",
    "%7B%7B",
    "{{",
    "}}",
    "{%",
    "%}",
    "*|",
    "|*",
    "%%",
    "${",
    "[Unsubscribe]",
    "go.example.com",
    "/l/",
    "click.example.com",
    "ct.sendgrid.net",
    'class="mktNoTrack"',
    "data-pm-no-track",
    'data-link-security="secure"',
    "?utm_source=newsletter&utm_medium=email",
)

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


# --- findings ------------------------------------------------------------------------------


def signature(error: BaseException) -> str:
    """The exception type and the innermost frame in our code: one signature per bug."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/rewriter/" in f.filename or "/tests/fuzz/" in f.filename]
    frame = (ours or frames)[-1] if frames else None
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(error).__name__} at {where}"


def failure(target: Callable[[bytes], None], data: bytes) -> tuple[str, str] | None:
    """(signature, traceback) when `target` fails on `data`, else None."""
    started = time.perf_counter()
    try:
        target(data)
    except Exception as error:  # every exception is a finding
        return signature(error), "".join(traceback.format_exception(error))
    elapsed = time.perf_counter() - started
    if elapsed > SLOW_SECONDS:
        return "slow", f"took {elapsed:.1f} s on {len(data)} bytes"
    return None


class Recorder:
    """Keeps the smallest input per signature in a folder, as `<hash>.bin` and `<hash>.txt`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sizes: dict[str, int] = {}

    def record(self, data: bytes, found: tuple[str, str]) -> None:
        sig, details = found
        if self.sizes.get(sig, len(data) + 1) <= len(data):
            return
        self.sizes[sig] = len(data)
        name = hashlib.sha256(sig.encode()).hexdigest()[:16]
        (self.folder / f"{name}.bin").write_bytes(data)
        (self.folder / f"{name}.txt").write_text(f"{sig}\n\n{details}", encoding="utf-8")


def minimise(target: Callable[[bytes], None], data: bytes, sig: str) -> bytes:
    """The smallest input found by delta debugging that still fails with `sig`."""
    deadline = time.monotonic() + MINIMISE_SECONDS
    parts = 2
    while len(data) > 1 and time.monotonic() < deadline:
        size = max(1, len(data) // parts)
        for start in range(0, len(data), size):
            candidate = data[:start] + data[start + size :]
            found = failure(target, candidate)
            if found is not None and found[0] == sig:
                data, parts = candidate, max(parts - 1, 2)
                break
        else:
            if size == 1:
                break
            parts = min(parts * 2, len(data))
    return data


# --- the child: one target under atheris ---------------------------------------------------


def child(name: str, seconds: int, workdir: Path) -> int:
    import atheris

    with atheris.instrument_imports(include=["rewriter"]):
        import rewriter.batch.factory
        import rewriter.document.engine
        import rewriter.rules.loader  # noqa: F401 - instrumented now, used lazily by the engine
        from fuzz import invariants, targets

        if name == "engine":
            invariants.engine()  # builds the engine (and its lazy imports) while instrumenting
    target = targets.TARGETS[name]
    recorder = Recorder(workdir / name / "findings")

    def test_one_input(data: bytes) -> None:
        found = failure(target, data)
        if found is not None:
            recorder.record(data, found)

    corpus = workdir / name / "corpus"
    seeds = workdir / "seeds" / ("urls" if name in ("urls", "tokens") else "html")
    extra = workdir / "extra" / name
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            f"-max_len={MAX_LEN[name]}",
            "-print_final_stats=1",
            "-timeout=60",
            "-rss_limit_mb=4096",
            f"-dict={workdir / 'html.dict'}",
            f"-artifact_prefix={workdir / name / 'artifacts'}/",
            str(corpus),
            str(seeds),
            *([str(extra)] if extra.is_dir() else []),
        ],
        test_one_input,
    )
    atheris.Fuzz()
    return 0


# --- the parent: seeds, one child per target, the report -----------------------------------


@dataclass
class Outcome:
    name: str
    seconds: float
    returncode: int
    stats: dict[str, str] = field(default_factory=dict)
    findings: list[tuple[str, bytes]] = field(default_factory=list)


def template_files() -> Iterator[Path]:
    for folder in (ROOT / "samples", SHARED_CORPUS):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix.lower() in TEMPLATE_SUFFIXES:
                    yield path


def write_seeds(seeds: Path) -> tuple[int, int]:
    """Copy templates into seeds/html and their href values into seeds/urls; the counts."""
    from rewriter.document.scan import LinkTag, scan

    html, urls = seeds / "html", seeds / "urls"
    html.mkdir(parents=True)
    urls.mkdir()
    values: set[bytes] = set()
    count = 0
    for path in template_files():
        data = path.read_bytes()
        (html / hashlib.sha256(data).hexdigest()[:20]).write_bytes(data)
        count += 1
        for piece in scan(data, ("a", "area", "v:*", "button")):
            if isinstance(piece, LinkTag) and (href := piece.attribute("href")) is not None:
                values.add(piece.value(href))
    for index, value in enumerate(sorted(values)[:MAX_URL_SEEDS]):
        (urls / f"{index:05d}").write_bytes(bytes([index % 8]) + value)
    for stored in sorted(OWN_CORPUS.glob("*/*.bin")):
        folder = urls if stored.parent.name == "urls" else html
        shutil.copyfile(stored, folder / f"own-{stored.parent.name}-{stored.name}")
    return count, min(len(values), MAX_URL_SEEDS)


def write_dictionary(path: Path) -> None:
    """DICTIONARY (text whose characters are bytes) in libFuzzer's format: one quoted entry a
    line, anything but printable ASCII written as `\\xNN`."""
    lines = []
    for entry in DICTIONARY:
        data = entry.encode("latin-1")
        quoted = "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02X}" for b in data
        )
        lines.append(f'"{quoted}"')
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


_STAT = re.compile(r"^stat::(\w+):\s*(\S+)", re.MULTILINE)
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)", re.MULTILINE)


def parse_log(log: str) -> dict[str, str]:
    stats = dict(_STAT.findall(log))
    lines = _STATUS.findall(log)
    if lines:
        _runs, stats["cov"], stats["ft"], stats["corpus"], stats["corpus_size"] = lines[-1]
    return stats


def run_target(name: str, seconds: int, workdir: Path) -> Outcome:
    for sub in ("corpus", "findings", "artifacts"):
        (workdir / name / sub).mkdir(parents=True)
    log_path = workdir / name / "libfuzzer.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.run(
            [sys.executable, __file__, "--child", name, "--seconds", str(seconds),
             "--workdir", str(workdir)],
            stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 300, check=False,
        )  # fmt: skip
    outcome = Outcome(name, time.monotonic() - started, process.returncode)
    outcome.stats = parse_log(log_path.read_text("utf-8", "replace"))
    outcome.findings = collect_findings(name, workdir)
    return outcome


def collect_findings(name: str, workdir: Path) -> list[tuple[str, bytes]]:
    from fuzz.targets import TARGETS

    findings = []
    for found in sorted((workdir / name / "findings").glob("*.bin")):
        sig = found.with_suffix(".txt").read_text("utf-8").split("\n", 1)[0]
        findings.append((sig, minimise(TARGETS[name], found.read_bytes(), sig)))
    for artifact in sorted((workdir / name / "artifacts").iterdir()):
        findings.append((f"libFuzzer {artifact.name.split('-')[0]}", artifact.read_bytes()))
    return findings


def report(outcomes: list[Outcome], keep: Path | None) -> None:
    print(f"{'target':<8} {'executions':>11} {'seconds':>8} {'exec/s':>7} {'cov':>6} {'ft':>7}"
          f" {'corpus':>7} {'findings':>8}")  # fmt: skip
    for o in outcomes:
        s = o.stats
        print(
            f"{o.name:<8} {s.get('number_of_executed_units', '?'):>11} {o.seconds:>8.0f}"
            f" {s.get('average_exec_per_sec', '?'):>7} {s.get('cov', '?'):>6}"
            f" {s.get('ft', '?'):>7} {s.get('corpus', '?'):>7} {len(o.findings):>8}"
        )
    for o in outcomes:
        for sig, data in o.findings:
            print(f"\n{o.name}: {sig} ({len(data)} bytes)\n  {data[:400]!r}")
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256(data).hexdigest()[:12]
                (keep / f"{o.name}-{digest}.bin").write_bytes(data)


def parent(args: argparse.Namespace) -> int:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    if "compiled" in names:
        from rewriter.document import scan

        if scan._compiled_skip is None:
            print("the compiled scanner is not built: pip install -e .", file=sys.stderr)
            return 2
    share = max(1, args.seconds // len(names))
    workdir = Path(tempfile.mkdtemp(prefix="rewriter-fuzz-"))
    try:
        templates, url_values = write_seeds(workdir / "seeds")
        write_dictionary(workdir / "html.dict")
        if args.extra_seeds is not None:
            for name in names:
                if (args.extra_seeds / name).is_dir():
                    shutil.copytree(args.extra_seeds / name, workdir / "extra" / name)
        print(f"seeds: {templates} templates, {url_values} href values; {share} s per target",
              file=sys.stderr)  # fmt: skip
        outcomes = []
        for name in names:
            outcomes.append(run_target(name, share, workdir))
        report(outcomes, args.keep)
    finally:
        if args.keep_workdir:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if any(o.returncode != 0 for o in outcomes if not o.findings):
        return 2
    return 1 if any(o.findings for o in outcomes) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="total, split across targets")
    parser.add_argument("--targets", default="scanner,compiled,urls,engine,tokens")
    parser.add_argument("--keep", type=Path, help="write minimised findings to this folder")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--extra-seeds", type=Path, help="more seeds in DIR/<target>/ (say, an earlier corpus)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args, _rest = parser.parse_known_args(argv)
    if args.child:
        return child(args.child, args.seconds, args.workdir)
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
