#!/usr/bin/env python3
"""Soak and burst test of the real binary (loopback only, bounded in time; Python stdlib only).

Starts `distal-dvt-cds serve` on a free 127.0.0.1 port and sends mixed valid and invalid hook
traffic from many client threads at once:

  valid    every fixture request of fhir-fixtures/ (all prefetch keys present), expected 200
  invalid  malformed JSON, schema violations, too-deep JSON, a Bundle over the entry limit, a body
           over the size limit, a wrong media type, an unknown service, a wrong method,
           expected their 4xx

and asserts
  * zero 5xx (and nothing but 200) on valid requests: the client concurrency is kept below
    DVT_CDS_MAX_CONCURRENT_REQUESTS (printed), so the 503 `overloaded` answer, which is the
    designed answer above the limit, cannot occur for a valid request here; a short burst
    phase then goes above the limit on purpose and checks that only 200 and 503 `overloaded`
    (with Retry-After) come back;
  * invalid requests get their 4xx, never a 5xx;
  * the RSS of the server (VmRSS of /proc/PID/status) at the end is within 10 % of the RSS
    after warm-up (no leak), and prints the peak;
  * /readyz answers 200 throughout (polled by its own thread);
  * SIGTERM at the end: exit status 0.

Usage: tests/soak.py [--short] [--duration S] [--binary PATH] [--concurrency N] [--limit N]
  --short        45 s (run by .ci/run); the default is 180 s
  --binary       default: $CARGO_TARGET_DIR/release/distal-dvt-cds if it exists, else debug/
Not part of `cargo test`.
"""

import argparse
import http.client
import json
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SELECT = "/cds-services/dvt-order-select"
SIGN = "/cds-services/dvt-order-sign"
MAX_BODY = 1_048_576
MAX_DEPTH = 64
MAX_ENTRIES = 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_binary():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "distal-dvt-cds"
        if candidate.exists():
            return str(candidate)
    sys.exit(f"no distal-dvt-cds binary under {target}/{{release,debug}}: build it first")


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return status_field(pid, "VmRSS")


def fixtures():
    out = []
    for path in sorted((ROOT / "fhir-fixtures").rglob("*.request.json")):
        if any(part.startswith("_") for part in path.parts):
            continue
        request = json.loads(path.read_text())
        request.pop("fhirServer", None)  # all keys present: nothing to fetch
        request.pop("fhirAuthorization", None)
        path_ = SIGN if request.get("hook") == "order-sign" else SELECT
        out.append((path_, json.dumps(request).encode()))
    if not out:
        sys.exit("no fixtures found")
    return out


def invalid_requests(valid):
    """(name, method, path, content type, body, expected status)."""
    path, body = valid[0]
    request = json.loads(body)
    schema = dict(request, context="not an object")
    deep = dict(request, extension={"deep": json.loads("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))})
    bundle = json.loads(body)
    bundle["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Observation", "id": f"o{i}"}} for i in range(MAX_ENTRIES + 1)],
    }
    big = dict(request, extension={"pad": "x" * (MAX_BODY + 10)})
    return [
        ("malformed", "POST", path, "application/json", body[: len(body) // 2], 400),
        ("schema", "POST", path, "application/json", json.dumps(schema).encode(), 400),
        ("too-deep", "POST", path, "application/json", json.dumps(deep).encode(), 400),
        ("bundle-entries", "POST", path, "application/json", json.dumps(bundle).encode(), 413),
        ("too-large", "POST", path, "application/json", json.dumps(big).encode(), 413),
        ("media-type", "POST", path, "text/plain", body, 415),
        ("unknown-service", "POST", "/cds-services/nope", "application/json", body, 404),
        ("wrong-method", "PUT", path, "application/json", body, 405),
    ]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}
        self.failures = []

    def add(self, kind, status):
        with self.lock:
            counts = self.by_kind.setdefault(kind, {})
            counts[status] = counts.get(status, 0) + 1

    def fail(self, message):
        with self.lock:
            if len(self.failures) < 20:
                self.failures.append(message)


def send(conn, method, path, content_type, body):
    headers = {"Content-Type": content_type} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, response.getheader("Retry-After"), data


def client(port, stop, stats, valid, invalid, invalid_share, seed, burst=False):
    rng = random.Random(seed)
    conn = None
    while not stop.is_set():
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if rng.random() < invalid_share:
            name, method, path, ctype, body, expected = rng.choice(invalid)
            kind = f"invalid:{name}"
        else:
            (path, body), method, ctype, expected = rng.choice(valid), "POST", "application/json", 200
            kind = "valid"
        try:
            status, retry_after, data = send(conn, method, path, ctype, body)
        except (OSError, http.client.HTTPException) as e:
            # The server may close a connection after an error answer (e.g. 413 before the
            # body was read): reconnect; a valid request must not be lost that way.
            conn.close()
            conn = None
            if kind == "valid":
                stats.add(kind, "connection-error")
                stats.fail(f"valid request: connection error {e!r}")
            else:
                stats.add(kind, "closed")
            continue
        stats.add(kind, status)
        if status >= 500 and not (burst and status == 503):
            stats.fail(f"{kind}: {status} {data[:200]!r}")
        elif burst and status == 503:
            if retry_after is None or b'"overloaded"' not in data:
                stats.fail(f"burst 503 without Retry-After/overloaded: {data[:200]!r}")
        elif status != expected:
            stats.fail(f"{kind}: expected {expected}, got {status} {data[:200]!r}")
        if status >= 400:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="45 s (CI)")
    parser.add_argument("--duration", type=float, help="seconds of steady traffic (default 180, --short 45)")
    parser.add_argument("--binary", default=None)
    parser.add_argument("--concurrency", type=int, default=48, help="client threads (steady phase)")
    parser.add_argument("--limit", type=int, default=64, help="DVT_CDS_MAX_CONCURRENT_REQUESTS of the server")
    parser.add_argument("--invalid-share", type=float, default=0.3)
    args = parser.parse_args()
    duration = args.duration or (45.0 if args.short else 180.0)
    if args.concurrency >= args.limit:
        sys.exit("--concurrency must stay below --limit (else valid requests may get 503 by design)")
    binary = args.binary or default_binary()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVT_CDS_")}
    env.update({
        "DVT_CDS_MAX_CONCURRENT_REQUESTS": str(args.limit),
        "DVT_CDS_MAX_BODY_BYTES": str(MAX_BODY),
        "DVT_CDS_MAX_JSON_DEPTH": str(MAX_DEPTH),
        "DVT_CDS_MAX_BUNDLE_ENTRIES": str(MAX_ENTRIES),
        "DVT_CDS_SHUTDOWN_TIMEOUT_SECS": "20",
        "DVT_CDS_LOG_FORMAT": "json",
        "RUST_LOG": "warn",
    })
    valid = fixtures()
    invalid = invalid_requests(valid)
    print(f"soak: {binary} on 127.0.0.1:{port}; {duration:.0f} s steady at {args.concurrency} client threads "
          f"(server limit DVT_CDS_MAX_CONCURRENT_REQUESTS={args.limit}); {len(valid)} valid bodies, "
          f"{len(invalid)} invalid kinds, {args.invalid_share:.0%} invalid", flush=True)
    server = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--config-dir", str(ROOT / "cds-services")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_lines = []
    threading.Thread(target=lambda: stderr_lines.extend(server.stderr), daemon=True).start()
    ok = False
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                if send(c, "GET", "/readyz", "", None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the server did not become ready")
        ok = run(server, port, duration, args, valid, invalid)
    finally:
        if server.poll() is None:
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                code = "killed"
            print(f"SIGTERM: exit status {code} after {time.monotonic() - started:.2f} s")
            if code != 0:
                ok = False
        errors = [l for l in stderr_lines if b'"level":"ERROR"' in l]
        if errors:
            print(f"FAIL: {len(errors)} ERROR log lines, e.g. {errors[0][:300]!r}")
            ok = False
    print("soak: PASS" if ok else "soak: FAIL")
    sys.exit(0 if ok else 1)


def run(server, port, duration, args, valid, invalid):
    stats = Stats()
    samples = []  # (t, rss KiB)
    readyz = {"ok": 0, "bad": []}
    stop_all = threading.Event()

    def sample():
        while not stop_all.is_set():
            samples.append((time.monotonic(), rss_kib(server.pid)))
            time.sleep(0.25)

    def poll_readyz():
        conn = None
        while not stop_all.is_set():
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status = send(conn, "GET", "/readyz", "", None)[0]
            except (OSError, http.client.HTTPException) as e:
                status, conn = repr(e), None
            if status == 200:
                readyz["ok"] += 1
            else:
                readyz["bad"].append(status)
            time.sleep(0.2)

    monitors = [threading.Thread(target=sample, daemon=True), threading.Thread(target=poll_readyz, daemon=True)]
    for t in monitors:
        t.start()
    start = time.monotonic()
    warmup = max(15.0, duration * 0.3)
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(port, stop, stats, valid, invalid, args.invalid_share, i), daemon=True)
               for i in range(args.concurrency)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    rss_warm = rss_kib(server.pid)
    threads_warm = status_field(server.pid, "Threads")
    time.sleep(max(0.0, duration - warmup))
    stop.set()
    for t in threads:
        t.join(timeout=120)
    steady_seconds = time.monotonic() - start
    time.sleep(1.0)  # let the server settle (keep-alive connections closed)
    rss_end = rss_kib(server.pid)
    threads_end = status_field(server.pid, "Threads")

    # Burst: twice the limit at once, valid requests only: 200 or 503 overloaded.
    burst_stats = Stats()
    burst_stop = threading.Event()
    burst = [threading.Thread(target=client, args=(port, burst_stop, burst_stats, valid, invalid, 0.0, 1000 + i, True), daemon=True)
             for i in range(args.limit * 2)]
    for t in burst:
        t.start()
    time.sleep(5.0)
    burst_stop.set()
    for t in burst:
        t.join(timeout=120)
    stop_all.set()
    for t in monitors:
        t.join(timeout=10)

    peak = max(r for _, r in samples) if samples else 0
    total = sum(sum(c.values()) for c in stats.by_kind.values())
    valid_counts = stats.by_kind.get("valid", {})
    valid_5xx = sum(n for s, n in valid_counts.items() if isinstance(s, int) and s >= 500)
    any_5xx = sum(n for c in stats.by_kind.values() for s, n in c.items() if isinstance(s, int) and s >= 500)
    print(f"steady: {total} requests in {steady_seconds:.0f} s ({total / steady_seconds:.0f}/s)")
    for kind in sorted(stats.by_kind):
        print(f"  {kind}: {dict(sorted(stats.by_kind[kind].items(), key=str))}")
    print(f"  5xx on valid requests: {valid_5xx}; 5xx in total: {any_5xx}")
    burst_counts = burst_stats.by_kind.get("valid", {})
    print(f"burst ({args.limit * 2} threads, limit {args.limit}): {dict(sorted(burst_counts.items(), key=str))}")
    print(f"RSS: after warm-up ({warmup:.0f} s) {rss_warm / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB "
          f"({(rss_end - rss_warm) / max(rss_warm, 1):+.1%}), peak {peak / 1024:.1f} MiB; "
          f"server threads {threads_warm} -> {threads_end}")
    if samples:
        t0 = samples[0][0]
        step = max(1, len(samples) // 12)
        curve = ", ".join(f"{t - t0:.0f}s {r / 1024:.0f}" for t, r in samples[::step])
        print(f"RSS curve (MiB): {curve}")
    print(f"/readyz: {readyz['ok']} x 200, {len(readyz['bad'])} other {readyz['bad'][:5]}")

    ok = True
    for failure in stats.failures + burst_stats.failures:
        print(f"FAIL: {failure}")
        ok = False
    if valid_5xx or any_5xx:
        print("FAIL: 5xx answers")
        ok = False
    if not valid_counts.get(200):
        print("FAIL: no valid request answered")
        ok = False
    if rss_end > rss_warm * 1.10:
        print("FAIL: RSS grew by more than 10 % after warm-up")
        ok = False
    if readyz["bad"] or not readyz["ok"]:
        print("FAIL: /readyz was not 200 throughout")
        ok = False
    if not burst_counts.get(200):
        print("FAIL: no request answered in the burst")
        ok = False
    return ok


if __name__ == "__main__":
    main()
