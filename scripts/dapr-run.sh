#!/usr/bin/env bash
# The Dapr deployment on one machine: builds the CLI once (Release), then starts the aggregator
# functions and the gateway, each with its sidecar, from dapr-components/dapr.yaml. Both apps run
# the built offload.dll, so nothing is compiled while the gateway waits for its sidecar.
#
#   scripts/dapr-run.sh        # needs the Dapr CLI on PATH, `dapr init` (Redis >= 7, placement,
#                              # scheduler) and tokens.txt ("client-id token" lines) in the repository root
#   ASYNC=1 scripts/dapr-run.sh  # asynchronous serving with the corrector app (dapr-components/dapr-async.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."

# Checked before building, so a missing CLI costs no build.
if ! command -v dapr >/dev/null 2>&1; then
  echo "dapr-run.sh: the Dapr CLI ('dapr') is not on PATH; install it (https://docs.dapr.io/getting-started/install-dapr-cli/), run 'dapr init', then rerun." >&2
  exit 2
fi
if [ ! -f tokens.txt ]; then
  echo "dapr-run.sh: tokens.txt is missing in $(pwd); the gateway reads device tokens from it, e.g.:" >&2
  echo "  printf 'device-0001 %s\\n' \"\$(openssl rand -hex 16)\" > tokens.txt" >&2
  exit 2
fi

dotnet build cli/Offload.Cli -c Release -nologo -v quiet
if [ "${ASYNC:-0}" = "1" ]; then
  exec dapr run -f dapr-components/dapr-async.yaml "$@"
fi
exec dapr run -f dapr-components/dapr.yaml "$@"
