#!/usr/bin/env bash
# Runs the whole test suite: builds the solution once (Release), runs every test project, and ends
# with one line "N passed, N failed". Needs only the .NET SDK; packages come from NuGet.
set -uo pipefail
cd "$(dirname "$0")"
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK is missing (dotnet not on PATH); install it, then rerun." >&2
  exit 2
fi

dotnet build Offload.sln -c Release -nologo -v quiet || { echo "0 passed, 1 failed: build failed"; exit 1; }
dotnet test Offload.sln -c Release --no-build -nologo --logger "trx" --results-directory "$results" "$@"
status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"
