#!/usr/bin/env bash
# Load benchmark: the hook against the parse-only floor (and optionally a peer CDS service),
# loopback only, bounded duration. Prints a Markdown table (benches/RESULTS.md has the
# recorded runs and how to read them).
#
#   benches/load.sh                      # full run: small/typical/large x 1/16/64 connections
#   benches/load.sh --smoke              # CI: a few seconds per row, fails on any error or non-200
#   benches/load.sh --peer http://127.0.0.1:3000/cds-services/cms-price-check [--peer-pid PID]
#
# Options: --duration SECS (per row; default 10, smoke 2), --sizes "small typical large peer",
# --conns "1 16 64", --install-oha (only install oha), --debug (use the debug build instead of release); DVT_CDS_BENCH_BIN=PATH
# measures that binary instead of building one.
# Needs cargo, python3 and oha (installed if missing with `cargo install --locked oha` under
# ~/.cache/distal-dvt-cds/tools). Every row runs floor and hook back to back, each on its own
# server process of the same binary and settings (DVT_CDS_BENCH_FLOOR=on mounts POST
# /bench/floor), so their ratio is measured under the same conditions and each peak RSS is its
# own; absolute figures depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${DVT_CDS_CACHE:-$HOME/.cache/distal-dvt-cds}"
TOOLS="$CACHE/tools"
SMOKE=0
INSTALL_ONLY=0
DURATION=""
SIZES=""
CONNS=""
PROFILE=release
PEER_URL="${DVT_CDS_BENCH_PEER_URL:-}"
PEER_PID="${DVT_CDS_BENCH_PEER_PID:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --duration) DURATION="$2"; shift ;;
    --sizes) SIZES="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --debug) PROFILE=debug ;;
    --peer) PEER_URL="$2"; shift ;;
    --peer-pid) PEER_PID="$2"; shift ;;
    --install-oha) INSTALL_ONLY=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$SMOKE" = 1 ]; then
  DURATION="${DURATION:-2}"; SIZES="${SIZES:-small typical}"; CONNS="${CONNS:-1 16}"
else
  DURATION="${DURATION:-10}"; SIZES="${SIZES:-small typical large}"; CONNS="${CONNS:-1 16 64}"
fi
case "$PEER_URL" in
  ""|http://127.*|http://localhost[:/]*|http://\[::1\]*) ;;
  *) echo "the peer must be on loopback (http://127.0.0.1:PORT/...): $PEER_URL" >&2; exit 2 ;;
esac

# ---- oha (install if missing)
OHA="$(command -v oha || true)"
if [ -z "$OHA" ]; then
  OHA="$TOOLS/bin/oha"
  if [ ! -x "$OHA" ]; then
    echo "== installing oha into $TOOLS (cargo install --locked oha)" >&2
    CARGO_TARGET_DIR="$CACHE/oha-build" cargo install --locked --quiet oha --root "$TOOLS" >&2
  fi
fi
if [ "$INSTALL_ONLY" = 1 ]; then "$OHA" --version; exit 0; fi

# ---- the service, built once (DVT_CDS_BENCH_BIN: measure that binary instead, e.g. an older build)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
BIN="${DVT_CDS_BENCH_BIN:-}"
if [ -z "$BIN" ]; then
  if [ "$PROFILE" = release ]; then
    cargo build --release --locked --quiet --bin distal-dvt-cds >&2
  else
    cargo build --locked --quiet --bin distal-dvt-cds >&2
  fi
  BIN="$CARGO_TARGET_DIR/$PROFILE/distal-dvt-cds"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
HOOK_SERVER_PID=""
cleanup() {
  for pid in $SERVER_PID $HOOK_SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 benches/gen_payloads.py "$WORK/payloads" $SIZES >&2

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_server BIN PORT LOG: the service on loopback, auth off, floor route on; sets STARTED_PID.
start_server() {
  DVT_CDS_BIND="127.0.0.1:$2" DVT_CDS_AUTH=off DVT_CDS_BENCH_FLOOR=on DVT_CDS_PLAYGROUND=off \
    "$1" serve >"$3" 2>&1 &
  STARTED_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  cat "$3" >&2
  return 1
}
PORT="$(free_port)"
start_server "$BIN" "$PORT" "$WORK/server.log"
SERVER_PID=$STARTED_PID
FLOOR_URL="http://127.0.0.1:$PORT/bench/floor"
# The hook runs on a second server of the same binary and settings (DVT_CDS_BENCH_HOOK_BIN: of
# another build, e.g. before a change, which may not have the floor route): each row's peak RSS
# is then that target's own, not what the allocator kept from the other's rows. Rows run one at
# a time, so the idle server costs the measured one nothing.
HOOK_PORT="$(free_port)"
start_server "${DVT_CDS_BENCH_HOOK_BIN:-$BIN}" "$HOOK_PORT" "$WORK/hook-server.log"
HOOK_SERVER_PID=$STARTED_PID
HOOK_PID=$HOOK_SERVER_PID
HOOK_URL="http://127.0.0.1:$HOOK_PORT/cds-services/dvt-order-select"

if [ -n "$PEER_URL" ] && [ -z "$PEER_PID" ] && command -v ss >/dev/null; then
  peer_port="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 80)' "$PEER_URL")"
  PEER_PID="$(ss -Hltnp "sport = :$peer_port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)"
fi

FAILED=0
# One request first: the hook must answer 200 with at least one card (a real evaluation).
for size in $SIZES; do
  status="$(curl -s -o "$WORK/answer.json" -w '%{http_code}' -H 'content-type: application/json' \
    --data-binary "@$WORK/payloads/$size.json" "$HOOK_URL")"
  cards="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("cards", [])))' "$WORK/answer.json" 2>/dev/null || echo 0)"
  if [ "$status" != 200 ] || [ "$cards" = 0 ]; then
    echo "FAIL hook on the $size payload: HTTP $status, $cards cards" >&2
    head -c 600 "$WORK/answer.json" >&2; echo >&2
    FAILED=1
  fi
done
[ "$FAILED" = 0 ] || exit 1

# measure TARGET URL PID PAYLOAD CONNS -> one line: rps p50 p99 p999 rss_mib errors status
measure() {
  local url="$1" pid="$2" payload="$3" conns="$4" out="$WORK/oha.json" sampler=""
  if [ -n "$pid" ] && [ -w "/proc/$pid/clear_refs" ]; then echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true; fi
  : >"$WORK/rss"
  if [ -n "$pid" ]; then
    ( while kill -0 "$pid" 2>/dev/null; do grep -E '^(VmHWM|VmRSS)' "/proc/$pid/status" >>"$WORK/rss" 2>/dev/null || true; sleep 0.2; done ) &
    sampler=$!
  fi
  "$OHA" -z "${DURATION}s" -w -c "$conns" --no-tui --output-format json -m POST \
    -H 'content-type: application/json' -D "$payload" "$url" >"$out" 2>"$WORK/oha.err" || true
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then grep -E '^(VmHWM|VmRSS)' "/proc/$pid/status" >>"$WORK/rss" 2>/dev/null || true; fi
  python3 - "$out" "$WORK/rss" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("nan nan nan nan nan 1 oha-failed"); sys.exit()
kib = [int(l.split()[1]) for l in open(sys.argv[2]) if l.strip()]
rss = f"{max(kib) / 1024:.1f}" if kib else "n/a"
p = r.get("latencyPercentiles", {})
ms = lambda k: f"{p[k] * 1000:.2f}" if p.get(k) is not None else "nan"
codes = r.get("statusCodeDistribution", {})
errors = sum(r.get("errorDistribution", {}).values())
bad = sum(n for c, n in codes.items() if c != "200")
status = ",".join(f"{c}x{n}" for c, n in sorted(codes.items())) or "none"
print(f'{r["summary"]["requestsPerSec"]:.0f} {ms("p50")} {ms("p99")} {ms("p99.9")} {rss} {errors + bad} {status}')
PY
}

echo
echo "| payload | conns | target | req/s | p50 ms | p99 ms | p99.9 ms | peak RSS MiB | errors/non-200 |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
RATIOS="$WORK/ratios"
: >"$RATIOS"
for size in $SIZES; do
  payload="$WORK/payloads/$size.json"
  bytes="$(wc -c <"$payload")"
  for conns in $CONNS; do
    floor="$(measure "$FLOOR_URL" "$SERVER_PID" "$payload" "$conns")"
    us="$(measure "$HOOK_URL" "$HOOK_PID" "$payload" "$conns")"
    peer=""
    for row in "floor:$floor" "us:$us"; do
      name="${row%%:*}"; set -- ${row#*:}
      echo "| $size ($((bytes / 1024)) KiB) | $conns | $name | $1 | $2 | $3 | $4 | $5 | $6 |"
      if [ "$6" != 0 ]; then echo "FAIL $name $size c=$conns: $7 $(head -c 300 "$WORK/oha.err")" >&2; FAILED=1; fi
    done
    if [ -n "$PEER_URL" ]; then
      if [ "$bytes" -ge 100000 ]; then
        code="$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data-binary "@$payload" "$PEER_URL" || true)"
        echo "| $size ($((bytes / 1024)) KiB) | $conns | peer | not comparable: HTTP $code (body > 100 KB) | | | | | |"
      else
        peer="$(measure "$PEER_URL" "$PEER_PID" "$payload" "$conns")"
        set -- $peer
        echo "| $size ($((bytes / 1024)) KiB) | $conns | peer | $1 | $2 | $3 | $4 | $5 | $6 |"
      fi
    else
      echo "| $size ($((bytes / 1024)) KiB) | $conns | peer | not run (--peer URL) | | | | | |"
    fi
    echo "$size $conns $floor / $us / ${peer:-none}" >>"$RATIOS"
  done
done

echo
echo "| payload | conns | us/floor p50 | us/floor p99 | us/floor req/s | us/peer req/s |"
echo "|---|---:|---:|---:|---:|---:|"
python3 - "$RATIOS" <<'PY'
import sys
for line in open(sys.argv[1]):
    head, us, peer = line.split(" / ")
    size, conns, *floor = head.split()
    us, peer = us.split(), peer.split()
    def ratio(a, b):
        try:
            return f"{float(a) / float(b):.2f}"
        except (ValueError, ZeroDivisionError):
            return "n/a"
    print(f"| {size} | {conns} | {ratio(us[1], floor[1])} | {ratio(us[2], floor[2])} | "
          f"{ratio(us[0], floor[0])} | {ratio(us[0], peer[0]) if len(peer) > 1 else 'n/a'} |")
PY
echo
echo "$(nproc) CPUs; $DURATION s per row; $PROFILE build; oha $("$OHA" --version | awk '{print $2}')"
if [ "$FAILED" != 0 ]; then
  echo "FAIL: some requests errored or were not 200 (server log: see above)" >&2
  tail -5 "$WORK/server.log" "$WORK/hook-server.log" >&2
  exit 1
fi
