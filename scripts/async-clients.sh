#!/usr/bin/env bash
# Asynchronous federated learning across processes on one machine: `offload serve --mode async`
# (FedBuff: a new model every BUFFER arrivals, stale updates corrected) and ten `offload client`
# devices on loopback. Eight fast devices hold classes 0-7; two slow ones (SLOWDOWN x slower to
# compute, UPLOAD_DELAY s more to upload) hold classes 8 and 9, which nobody else has: the
# intertwined data and device heterogeneity of Wang and Gao (2023), where dropping or
# down-weighting the slow devices' stale updates loses two classes.
#
# Each corrector in CORRECTORS runs with the same devices; each run leaves rounds.csv/summary.json
# in $OUT/<corrector>, and $OUT gets accuracy-time.png/.csv (test accuracy against wall time, one
# line per corrector) and summary.json (each run's final accuracy, time and staleness outcomes).
#
#   scripts/async-clients.sh                          # none, fedasync-poly and inversion, 30 versions
#   CORRECTORS=inversion VERSIONS=10 scripts/async-clients.sh
#   DATA=bundled OUT=runs/async-small scripts/async-clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CORRECTORS="${CORRECTORS:-none fedasync-poly inversion}"
VERSIONS="${VERSIONS:-30}"
BUFFER="${BUFFER:-5}"            # arrivals per model version (K)
MAX_STALENESS="${MAX_STALENESS:-20}"
INVERSION_SAMPLES="${INVERSION_SAMPLES:-400}" # what a slow device trains on (the bundled subset's classes 8-9 split in two; 6000 with the full set)
BATCH="${BATCH:-16}"             # local training (serve's defaults; `experiment staleness` uses B = 50, lr = 0.05)
LR="${LR:-0.1}"
CORRECT_FROM="${CORRECT_FROM:-4}" # inversion corrects updates at least this stale; younger ones (most fast devices') are weighted
SLOWDOWN="${SLOWDOWN:-6}"        # the slow devices compute this many times slower
UPLOAD_DELAY="${UPLOAD_DELAY:-2}" # and wait this many seconds more before each upload
LINGER="${LINGER:-30}"           # seconds serve keeps answering "done" (the slow devices' cycle is longer than the fast ones')
PORT="${PORT:-5124}"
SEED="${SEED:-42}"
DATA="${DATA:-}"                 # a folder, 'bundled', or empty for the default search
OUT="${OUT:-runs/async-clients}"
FAST=8
SLOW=2

dotnet build cli/Offload.Cli -c Release -nologo -v quiet
OFFLOAD=(dotnet cli/Offload.Cli/bin/Release/net10.0/offload.dll)
data_args=()
[ -n "$DATA" ] && data_args=(--data "$DATA")
mkdir -p "$OUT"

token_args=()
for i in $(seq 0 $((FAST + SLOW - 1))); do token_args+=(--token "device-$i=async-clients-token-$i"); done

runs=()
for corrector in $CORRECTORS; do
  dir="$OUT/$corrector"
  mkdir -p "$dir"
  echo "== $corrector"
  "${OFFLOAD[@]}" serve --mode async --port "$PORT" --rounds "$VERSIONS" --buffer "$BUFFER" --max-staleness "$MAX_STALENESS" \
    --corrector "$corrector" --correct-from "$CORRECT_FROM" --inversion-samples "$INVERSION_SAMPLES" --batch "$BATCH" --lr "$LR" --seed "$SEED" --linger "$LINGER" --out "$dir" "${token_args[@]}" "${data_args[@]}" >"$dir/serve.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    grep -q "Listening on" "$dir/serve.log" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$dir/serve.log"; exit 1; }
    sleep 0.5
  done
  grep "Listening on" "$dir/serve.log"

  clients=()
  for i in $(seq 0 $((FAST - 1))); do
    "${OFFLOAD[@]}" client --server "http://127.0.0.1:$PORT" --token "async-clients-token-$i" --classes 0-7 \
      --partition "$i/$FAST" --seed "$SEED" --threads 1 "${data_args[@]}" >"$dir/client-$i.log" 2>&1 &
    clients+=($!)
  done
  for j in $(seq 0 $((SLOW - 1))); do
    i=$((FAST + j))
    "${OFFLOAD[@]}" client --server "http://127.0.0.1:$PORT" --token "async-clients-token-$i" --classes 8,9 \
      --partition "$j/$SLOW" --seed "$SEED" --threads 1 --slowdown "$SLOWDOWN" --upload-delay "$UPLOAD_DELAY" "${data_args[@]}" >"$dir/client-$i.log" 2>&1 &
    clients+=($!)
  done

  # The federation ends when its last version is published; serve lingers LINGER s answering "done".
  # A slow device still training then hears it at its next call; one that is still training after
  # the linger is stopped (SIGTERM: it exits 0, as a device told to stop does).
  status=0
  wait "$server" || status=1
  trap - EXIT
  sleep 2
  for pid in "${clients[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${clients[@]}"; do wait "$pid" || status=1; done
  tail -n 3 "$dir/serve.log"
  [ "$status" -eq 0 ] || { echo "the $corrector run failed; logs in $dir"; exit 1; }
  runs+=("$corrector=$dir")
done

"${OFFLOAD[@]}" plot accuracy-time --out "$OUT" --title "10 devices (2 slow, holding classes 8-9), K = $BUFFER" "${runs[@]}"
python3 - "$OUT" $CORRECTORS <<'PY' || echo "(python3 not found: $OUT/summary.json not written; each run has its own)"
import json, sys
out, correctors = sys.argv[1], sys.argv[2:]
runs = {}
for c in correctors:
    s = json.load(open(f"{out}/{c}/summary.json"))
    runs[c] = {"final_accuracy": s["final_accuracy"], "best_accuracy": s["best_accuracy"], "wall_seconds": s["wall_seconds"],
               "versions": s["rounds"], "updates": s["updates"], "asynchronous": s["asynchronous"]}
json.dump({"experiment": "async-clients", "runs": runs}, open(f"{out}/summary.json", "w"), indent=2)
print(f"wrote {out}/summary.json")
PY
