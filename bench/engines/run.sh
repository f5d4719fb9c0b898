#!/usr/bin/env bash
# Compares the WebSocket engines (gorilla, nbio) in the same run: for each
# of 3 rounds and each engine, a junction with that engine, then wampbench
# sessions (19,000 idle sessions), rpc and pubsub against it, the client in
# another process. Prints one JSON line per run; README ("A million
# sessions") has the medians. Run from the repository: bench/engines/run.sh
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/junction" ./cmd/junction
go build -o "$dir/wampbench" ./cmd/wampbench
for e in gorilla nbio; do
  cat >"$dir/$e.toml" <<TOML
[server]
max_connections = 100000
max_connections_per_address = 100000
[websocket]
engine = "$e"
[router]
max_sessions = 100000
max_sessions_per_address = 100000
[[realms]]
name = "realm1"
auth = ["anonymous"]
TOML
done
# one ENGINE SCENARIO ARGS...: a junction, one wampbench run, stop.
one() {
  local e=$1 sc=$2 addr="" jp
  shift 2
  "$dir/junction" --listen 127.0.0.1:0 --config "$dir/$e.toml" >"$dir/j.log" 2>&1 &
  jp=$!
  for _ in $(seq 100); do
    addr=$(grep -o 'addr=[0-9.:]*' "$dir/j.log" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  echo "engine=$e $sc $("$dir/wampbench" "$sc" --url "ws://$addr/ws" --pid "$jp" --json "$@" 2>/dev/null)"
  kill "$jp"
  wait "$jp" 2>/dev/null || true
}
for r in 1 2 3; do
  for e in gorilla nbio; do
    echo "round=$r $(one "$e" sessions -n 19000 -c 8 --duration 120s)"
    echo "round=$r $(one "$e" rpc -c 8 -w 4 --duration 5s)"
    echo "round=$r $(one "$e" pubsub -s 50 -w 8 --duration 5s)"
  done
done
