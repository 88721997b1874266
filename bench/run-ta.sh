#!/bin/sh
# The Trusted Authority: appraisals per second and p50/p99 latency of a
# running httpa-ta on loopback with warm collateral (the two DCAP samples at
# their verify time), and in the same run the client-side cost of verifying
# the TA's stapled token against a full DCAP verification of the same quote
# (the baseline). See bench/README.md, "Trusted Authority".
#   sh bench/run-ta.sh [BUILD_DIR] [N]      default build/release, N = 2000
set -eu
cd "$(dirname "$0")/.."
build=${1:-build/release}
n=${2:-2000}
shared=${HTTPA_SHARED_DIR:-../shared}
if [ ! -x "$build/bench/ta-bench" ] || [ ! -x "$build/programs/httpa-ta" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target ta-bench httpa-ta >/dev/null
fi

work=$(mktemp -d)
ta_pid=
cleanup() {
    if [ -n "$ta_pid" ]; then kill "$ta_pid" 2>/dev/null || true; wait "$ta_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A policy that accepts both samples (the SGX one is ConfigurationAndSWHardeningNeeded).
cat >"$work/policy.json" <<'JSON'
{"version":1,"sgx":{},"tdx":{},
 "accepted_tcb_status":["UpToDate","SWHardeningNeeded","ConfigurationAndSWHardeningNeeded"],
 "allowed_advisory_ids":["INTEL-SA-00289","INTEL-SA-00615"]}
JSON
at=$(sed -n 's/.*"verify_at_unix": *\([0-9]*\).*/\1/p' "$shared/vectors/dcap/expected.json" | head -1)

"$build/programs/httpa-ta" --policy "$work/policy.json" --collateral-dir "$shared/vectors/dcap" \
    --at "$at" --listen 127.0.0.1:0 --port-file "$work/port" 2>"$work/ta.log" &
ta_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    if [ "$i" -gt 500 ] || ! kill -0 "$ta_pid" 2>/dev/null; then
        cat "$work/ta.log" >&2
        exit 1
    fi
    sleep 0.01
done
port=$(cat "$work/port")

"$build/bench/ta-bench" --url "http://127.0.0.1:$port" --shared "$shared" \
    --policy "$work/policy.json" --count "$n" --clients 2 --verify-count 500
