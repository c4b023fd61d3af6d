#!/usr/bin/env bash
# Publishes what the two images hold (k8s/images/Dockerfile runs it; run it here to check it):
#   OUT/full       the CLI, ReadyToRun for linux-x64, with libtorch (gateway, corrector)
#   OUT/functions  the same without libtorch's native libraries (aggregator functions, node agent)
# and checks the second: `offload serve --dapr` starts from it and answers the sidecar's first call.
#   scripts/publish-images.sh OUT
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/publish-images.sh OUT}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/full" "$out/functions"

dotnet publish cli/Offload.Cli/Offload.Cli.csproj -c Release -r linux-x64 --self-contained false \
  -p:PublishReadyToRun=true -nologo -v quiet -o "$out/full"
# A publish for one runtime puts the native libraries beside the assemblies.
cp -a "$out/full" "$out/functions"
native="$out/functions"
rm -f "$native"/libtorch*.so "$native"/libc10.so "$native"/libgomp-*.so.1 "$native"/libshm.so \
  "$native"/libLibTorchSharp.so "$native"/libaoti_custom_ops.so "$native"/libbackend_with_compiler.so \
  "$native"/libjitbackend_test.so "$native"/libnnapi_backend.so

# The functions image must still start: serve --dapr answers GET /dapr/subscribe without libtorch.
port=$(( 20000 + RANDOM % 20000 ))
dotnet "$out/functions/offload.dll" serve --dapr --port "$port" > "$out/functions-check.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$port/dapr/subscribe" > "$out/functions-subscribe.json" 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$out/functions-check.log" >&2; echo "publish-images: serve --dapr exited without libtorch" >&2; exit 1; }
  sleep 0.1
done
grep -q update-arrived "$out/functions-subscribe.json" || { echo "publish-images: serve --dapr did not answer /dapr/subscribe" >&2; exit 1; }
if grep -q libtorch "/proc/$pid/maps"; then echo "publish-images: serve --dapr mapped libtorch" >&2; exit 1; fi
kill "$pid"; wait "$pid" 2>/dev/null || true
trap - EXIT
echo "full: $(du -sh "$out/full" | cut -f1), functions: $(du -sh "$out/functions" | cut -f1)"
