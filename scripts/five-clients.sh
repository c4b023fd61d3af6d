#!/usr/bin/env bash
# Real federated learning across processes on one machine: `offload serve` (gRPC gateway plus a
# synchronous FedAvg aggregator) and five `offload client` devices on loopback, each training the
# CNN on its fifth of Fashion-MNIST. Waits for all six, prints the server's per-round lines and the
# clients' logs, and leaves rounds.csv/summary.json in $OUT.
#
#   scripts/five-clients.sh                 # 5 rounds, identity codec, data from $OFFLOAD_DATA/Debian/bundled
#   ROUNDS=10 CODEC=fedzip DATA=bundled scripts/five-clients.sh
#   DOWNSTREAM=fedzip scripts/five-clients.sh   # devices download FedZip-encoded model changes
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-5}"
CODEC="${CODEC:-identity}"       # identity (exact) | fedzip (compressed)
DOWNSTREAM="${DOWNSTREAM:-full}" # full | fedzip[:TOPZ[:CLUSTERS]]
PORT="${PORT:-5123}"
SEED="${SEED:-42}"
DATA="${DATA:-}"                 # a folder, 'bundled', or empty for the default search
OUT="${OUT:-runs/five-clients}"
CLIENTS=5

dotnet build cli/Offload.Cli -c Release -nologo -v quiet
OFFLOAD=(dotnet cli/Offload.Cli/bin/Release/net10.0/offload.dll)
data_args=()
[ -n "$DATA" ] && data_args=(--data "$DATA")

mkdir -p "$OUT"
token_args=()
for i in $(seq 0 $((CLIENTS - 1))); do token_args+=(--token "device-$i=five-clients-token-$i"); done

"${OFFLOAD[@]}" serve --port "$PORT" --min-clients "$CLIENTS" --rounds "$ROUNDS" --round-deadline 120 \
  --codec "$CODEC" --downstream "$DOWNSTREAM" --seed "$SEED" --linger 3 --out "$OUT" "${token_args[@]}" "${data_args[@]}" >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

# Wait until the gateway listens (at most 60 s).
for _ in $(seq 1 120); do
  grep -q "Listening on" "$OUT/serve.log" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
  sleep 0.5
done
grep "Listening on" "$OUT/serve.log"

clients=()
for i in $(seq 0 $((CLIENTS - 1))); do
  "${OFFLOAD[@]}" client --server "http://127.0.0.1:$PORT" --token "five-clients-token-$i" \
    --partition "$i/$CLIENTS" --seed "$SEED" --threads 1 "${data_args[@]}" >"$OUT/client-$i.log" 2>&1 &
  clients+=($!)
done

status=0
for pid in "${clients[@]}"; do wait "$pid" || status=1; done
wait "$server" || status=1
trap - EXIT

cat "$OUT/serve.log"
tail -n 1 "$OUT"/client-*.log
exit "$status"
