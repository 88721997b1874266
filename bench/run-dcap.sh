#!/bin/sh
# DCAP quote verification: httpa's verifier (bench/dcap-bench) against the npm
# package @phala/dcap-qvl 0.3.9, in the same run, on the same two sample
# quotes of shared/vectors/dcap with the same collateral, at the same
# verification times, the same number of times each (see bench/README.md).
#   sh bench/run-dcap.sh [BUILD_DIR] [N]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build/release}
n=${2:-1000}
vectors=${HTTPA_SHARED_DIR:-../shared}/vectors/dcap
if [ ! -x "$build/bench/dcap-bench" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target dcap-bench >/dev/null
fi

# The peer, pinned, in a temporary directory.
peer_dir=$(mktemp -d)
trap 'rm -rf "$peer_dir"' EXIT INT TERM
(cd "$peer_dir" && npm init -y >/dev/null && \
    npm install --no-audit --no-fund --silent @phala/dcap-qvl@0.3.9 >/dev/null)
cat >"$peer_dir/peer.js" <<'EOF'
// verify(quote, collateral, nowSecs) of @phala/dcap-qvl (src/index.d.ts), with
// the collateral JSON parsed once, interleaved like dcap-bench.
const fs = require('fs');
const { verify } = require('@phala/dcap-qvl');
const [dir, n] = [process.argv[2], Number(process.argv[3])];
const expected = JSON.parse(fs.readFileSync(`${dir}/expected.json`));
const samples = ['sgx_quote', 'tdx_quote'].map((name) => ({
    name,
    quote: fs.readFileSync(`${dir}/${name}`),
    col: JSON.parse(fs.readFileSync(`${dir}/${name}_collateral.json`)),
    at: expected[name].verify_at_unix,
    status: expected[name].status,
    lat: [],
}));
const once = (s) => {
    const r = verify(s.quote, s.col, s.at);
    if (r.status !== s.status) throw new Error(`${s.name}: ${r.status}`);
};
for (let i = 0; i < 50; i++) samples.forEach(once);
for (let i = 0; i < n; i++)
    for (const s of samples) {
        const a = process.hrtime.bigint();
        once(s);
        s.lat.push(Number(process.hrtime.bigint() - a) / 1e3);
    }
const report = (name, lat) => {
    const total = lat.reduce((x, y) => x + y, 0);
    lat.sort((x, y) => x - y);
    const p99 = Math.max(Math.ceil(lat.length * 0.99), 1) - 1;
    console.log(`quote=${name} n=${lat.length} p50_us=${lat[lat.length >> 1].toFixed(1)} ` +
                `p99_us=${lat[p99].toFixed(1)} per_s=${(lat.length / (total / 1e6)).toFixed(0)}`);
};
samples.forEach((s) => report(s.name, s.lat.slice()));
report('both', samples[0].lat.concat(samples[1].lat));
EOF

ours=$("$build/bench/dcap-bench" -n "$n" "$vectors")
peer=$(NODE_PATH="$peer_dir/node_modules" node "$peer_dir/peer.js" "$vectors" "$n")

field() { printf '%s\n' "$1" | awk -v q="quote=$2" -v k="$3" '$1 == q {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'; }

printf 'DCAP verification, %s x 2 sample quotes, collateral parsed once (medians of one run)\n' "$n"
printf '%-10s %12s %12s %12s %12s %9s\n' quote "httpa p50" "httpa p99" "peer p50" "peer p99" ratio
for q in sgx_quote tdx_quote both; do
    awk -v q="$q" -v a="$(field "$ours" "$q" p50_us)" -v b="$(field "$ours" "$q" p99_us)" \
        -v c="$(field "$peer" "$q" p50_us)" -v d="$(field "$peer" "$q" p99_us)" 'BEGIN {
        printf "%-10s %9.1f us %9.1f us %9.1f us %9.1f us %8.1fx\n", q, a, b, c, d, c / a }'
done
awk -v a="$(field "$ours" cold p50_us)" -v b="$(field "$ours" cold p99_us)" \
    -v c="$(field "$peer" both p50_us)" 'BEGIN {
    printf "%-10s %9.1f us %9.1f us %12s %12s %8.1fx  (first quote of a freshly parsed collateral)\n",
           "cold", a, b, "", "", c / a }'
awk -v a="$(field "$ours" both per_s)" -v b="$(field "$peer" both per_s)" 'BEGIN {
    printf "verifications/s: httpa %.0f, @phala/dcap-qvl 0.3.9 %.0f (%.1fx)\n", a, b, a / b }'
awk -v p="$(field "$ours" both p50_us)" -v c="$(field "$peer" both p50_us)" 'BEGIN {
    r = c / p; ratio_ok = (r >= 20) ? "met" : "NOT met"; p50_ok = (p <= 1000) ? "met" : "NOT met"
    printf "targets: ratio >= 20x %s (%.1fx); httpa p50 <= 1 ms %s (%.3f ms)\n", ratio_ok, r, p50_ok, p / 1000 }'
