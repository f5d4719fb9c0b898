#!/usr/bin/env bash
# Compares the connection engines (gorilla, nbio) in the same run: for each
# of 3 rounds and each engine, a junction with that engine, then wampbench
# sessions (19,000 idle sessions), rpc and pubsub against it, the client in
# another process; then the same idle sessions over RawSocket (rs://, the
# shared port: websocket.engine chooses the engine of both transports).
# Prints one JSON line per run; README ("A million sessions") has the
# medians. Run from the repository: bench/engines/run.sh; ONLY=rs runs the
# RawSocket sessions alone.

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
# one ENGINE SCHEME SCENARIO ARGS...: a junction, one wampbench run over ws
# or rs, stop.
one() {
  local e=$1 scheme=$2 sc=$3 addr="" jp url
  shift 3
  "$dir/junction" --listen 127.0.0.1:0 --config "$dir/$e.toml" >"$dir/j.log" 2>&1 &
  jp=$!
  for _ in $(seq 100); do
    addr=$(grep -o 'addr=[0-9.:]*' "$dir/j.log" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  url="ws://$addr/ws"
  [ "$scheme" = rs ] && url="rs://$addr"
  echo "engine=$e $scheme $sc $("$dir/wampbench" "$sc" --url "$url" --pid "$jp" --json "$@" 2>/dev/null)"
  kill "$jp"
  wait "$jp" 2>/dev/null || true
}
for r in 1 2 3; do
  for e in gorilla nbio; do
    if [ "${ONLY:-}" != rs ]; then
      echo "round=$r $(one "$e" ws sessions -n 19000 -c 8 --duration 120s)"
      echo "round=$r $(one "$e" ws rpc -c 8 -w 4 --duration 5s)"
      echo "round=$r $(one "$e" ws pubsub -s 50 -w 8 --duration 5s)"
    fi
    echo "round=$r $(one "$e" rs sessions -n 19000 -c 8 --duration 120s)"
  done
done
