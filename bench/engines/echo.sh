#!/usr/bin/env bash
# Compares the candidate WebSocket libraries as echo servers in the same
# run (issue 16: "at least nbio and gobwas/ws"): bench/echorouter with
# --engine gorilla (goroutine per connection), nbio (lesismal/nbio's event
# loop) and gobwas (gobwas/ws with an epoll loop of the bench's own). For
# each of 3 rounds and each engine: wampbench rpc (8 callers x 4 calls in
# flight, [42, "hello"]: CPU per round trip), then wampbench sessions
# (19,000 idle connections, each joined: RSS per idle connection), the
# client in another process. Prints one JSON line per run; ARCHITECTURE.md
# ("Connection engines") has the medians. Run from the repository:
# bench/engines/echo.sh
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/echorouter" ./bench/echorouter
go build -o "$dir/wampbench" ./cmd/wampbench
# one ENGINE SCENARIO ARGS...: an echorouter, one wampbench run, stop.
one() {
  local e=$1 sc=$2 url="" ep
  shift 2
  "$dir/echorouter" --engine "$e" >"$dir/e.log" 2>&1 &
  ep=$!
  for _ in $(seq 100); do
    url=$(head -1 "$dir/e.log")
    [ -n "$url" ] && break
    sleep 0.1
  done
  echo "engine=$e $sc $("$dir/wampbench" "$sc" --url "$url" --pid "$ep" --json "$@" 2>/dev/null)"
  kill "$ep"
  wait "$ep" 2>/dev/null || true
}
for r in 1 2 3; do
  for e in gorilla nbio gobwas; do
    echo "round=$r $(one "$e" rpc -c 8 -w 4 --duration 5s)"
    echo "round=$r $(one "$e" sessions -n 19000 -c 8 --duration 120s)"
  done
done
