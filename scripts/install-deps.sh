#!/bin/sh
# Install what httpa needs to build, test and run its demo on Debian 12.
# Idempotent: installs only the packages that are missing. Run as root.
set -eu

PACKAGES="
build-essential cmake pkg-config
libssl-dev libjansson-dev libcmocka-dev libcjose-dev
libh2o-evloop-dev libcurl4-openssl-dev
nginx-light haproxy curl wrk openssl
clang libclang-rt-14-dev
"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing:$missing; run as root (or: sudo $0)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
