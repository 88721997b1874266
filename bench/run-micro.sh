#!/bin/sh
# Micro-benchmarks of the engine, each as a ratio against OpenSSL measured in
# the same run on the same machine (medians; see bench/README.md).
#   sh bench/run-micro.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build/release}
if [ ! -x "$build/bench/httpa-micro" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target httpa-micro >/dev/null
fi
micro=$build/bench/httpa-micro

# openssl speed -mr: "+F6:...:Ed25519:<sign/s>:<verify/s>", "+F5:...:<x25519 op/s>:...",
# "+F:..:AES-128-GCM:<bytes/s>"; medians of three runs.
med3() { sort -g | sed -n 2p; }
ossl_ed25519_sign() { openssl speed -mr -seconds 2 ed25519 2>/dev/null | awk -F: '/^\+F6/ {print $5}'; }
ossl_x25519() { openssl speed -mr -seconds 2 ecdhx25519 2>/dev/null | awk -F: '/^\+F5/ {print $4}'; }
ossl_gcm() { openssl speed -mr -seconds 2 -bytes "$1" -evp aes-128-gcm 2>/dev/null | awk -F: '/^\+F:/ {print $4}'; }

sign=$(for i in 1 2 3; do ossl_ed25519_sign; done | med3)
x25519=$(for i in 1 2 3; do ossl_x25519; done | med3)
floor_us=$(awk -v s="$sign" -v x="$x25519" 'BEGIN { printf "%.2f", 1e6 / s + 1e6 / x }')
aths_us=$("$micro" aths 2000)

gcm_1k=$(for i in 1 2 3; do ossl_gcm 1024; done | med3)
gcm_1m=$(for i in 1 2 3; do ossl_gcm 1048576; done | med3)
trt_1k=$("$micro" trt 1024 20000)
trt_1m=$("$micro" trt 1048576 200)
trt_1m_64k=$("$micro" trt 1048576 200 65536)

printf '%-44s %14s %14s %8s\n' "measure" "httpa" "baseline" "ratio"
awk -v a="$aths_us" -v f="$floor_us" 'BEGIN {
    printf "%-44s %11.1f us %11.1f us %7.2fx  (target <= 1.50x; baseline: openssl speed X25519 + Ed25519 sign)\n",
           "server CPU per AtHS (attested-key, Ed25519)", a, f, a / f }'
awk -v t="$trt_1k" -v g="$gcm_1k" 'BEGIN {
    printf "%-44s %9.0f MB/s %9.0f MB/s %7.2fx  (baseline: openssl speed -evp aes-128-gcm -bytes 1024)\n",
           "TrT seal+open, 1 KiB body", t, g / 1e6, t / (g / 1e6) }'
awk -v t="$trt_1m" -v g="$gcm_1m" 'BEGIN {
    printf "%-44s %9.0f MB/s %9.0f MB/s %7.2fx  (target >= 0.80x; baseline: -bytes 1048576)\n",
           "TrT seal+open, 1 MiB body", t, g / 1e6, t / (g / 1e6) }'
awk -v t="$trt_1m_64k" -v g="$gcm_1m" 'BEGIN {
    printf "%-44s %9.0f MB/s %9.0f MB/s %7.2fx  (same, sender RS 65536 instead of the default 16384)\n",
           "TrT seal+open, 1 MiB body, RS 65536", t, g / 1e6, t / (g / 1e6) }'
