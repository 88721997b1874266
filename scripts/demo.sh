#!/bin/sh
# The networked demo: an HTTPA/2 request through a TLS-terminating nginx.
#
#   httpa ──TLS──► nginx ──► demo-relay ──► httpa-gateway ──► demo-app
#   (client)       (TLS ends   (records what    (sim TEE:        (plain HTTP
#                   here)       nginx forwards)  HTTPA ends here) application)
#
# Everything runs on 127.0.0.1 with free ports in a temporary directory and
# is stopped on exit. It prints what the client sent, what nginx could see
# (its access log and the octets it forwarded, checked for every secret),
# and what the application received. Exit status 0 only if every check holds.
#
# Usage: scripts/demo.sh [BUILD_DIR]     (default: build/release)
#        KEEP=1 scripts/demo.sh          keep the temporary directory
set -eu

HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$HERE/build/release}" && pwd) # absolute: the demo runs in a temp dir
NGINX=${NGINX:-/usr/sbin/nginx}
GATEWAY=$BUILD/programs/httpa-gateway
HTTPA=$BUILD/programs/httpa
APP=$BUILD/examples/demo-app
RELAY=$BUILD/examples/demo-relay
CONF=$HERE/docs/examples/nginx-httpa.conf

for f in "$GATEWAY" "$HTTPA" "$APP" "$RELAY" "$NGINX"; do
    if [ ! -x "$f" ]; then
        echo "demo: $f is missing (make all; nginx-light: make deps)" >&2
        exit 1
    fi
done
for tool in openssl sha256sum base64 curl; do
    command -v "$tool" >/dev/null || { echo "demo: $tool is missing (make deps)" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/httpa-demo.XXXXXX)
chmod 755 "$DIR" # nginx started as root runs its workers as nobody
APP_PID= GW_PID= RELAY_PID= NGINX_PID=

cleanup() {
    status=$?
    trap - EXIT INT TERM
    # from the outside in, so that nothing waits for a connection
    for pid in $NGINX_PID $RELAY_PID $GW_PID $APP_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP:-}" ]; then
        echo "demo: files kept in $DIR"
    else
        rm -rf "$DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait (at most 10 s) for a child to write its port into a file.
wait_port() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then
            echo "demo: $3 did not start; its output:" >&2
            cat "$4" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    cat "$1"
}

section() {
    printf '\n======== %s ========\n\n' "$1"
}

FAILED=0
check_absent() { # what, where..., label
    needle=$1
    label=$2
    shift 2
    if grep -F -q -a -e "$needle" "$@"; then
        echo "  FOUND:     $label  \"$needle\"  <- a secret leaked"
        FAILED=$((FAILED + 1))
    else
        echo "  not found: $label  \"$needle\""
    fi
}
check_present() {
    needle=$1
    label=$2
    shift 2
    if grep -F -q -a -e "$needle" "$@"; then
        echo "  ok:        $label"
    else
        echo "  MISSING:   $label  \"$needle\""
        FAILED=$((FAILED + 1))
    fi
}

cd "$DIR"

# ---- the application, the gateway (simulated TEE), the relay ----

"$APP" --listen 127.0.0.1:0 --port-file app.port 2>app.log &
APP_PID=$!
APP_PORT=$(wait_port app.port "$APP_PID" demo-app app.log)

"$GATEWAY" --tee sim --sim-pubkey-out sim.pub --upstream "http://127.0.0.1:$APP_PORT" \
    --listen 127.0.0.1:0 --port-file gw.port --threads 2 --access-log gateway.log 2>gateway.stderr &
GW_PID=$!
GW_PORT=$(wait_port gw.port "$GW_PID" httpa-gateway gateway.stderr)

mkdir capture
"$RELAY" --to "127.0.0.1:$GW_PORT" --capture-dir capture --port-file relay.port 2>relay.log &
RELAY_PID=$!
RELAY_PORT=$(wait_port relay.port "$RELAY_PID" demo-relay relay.log)

# ---- nginx: a self-signed certificate and the tested configuration ----

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout key.pem -out cert.pem 2>/dev/null
chmod 600 key.pem

# A free port: try a few (nginx exits at once if the port is taken).
PORT=
attempt=0
while [ -z "$PORT" ] && [ "$attempt" -lt 10 ]; do
    attempt=$((attempt + 1))
    try=$((20000 + ($$ * 7 + attempt * 7919) % 40000))
    sed -e "s#@PREFIX@#$DIR#g" -e "s#@LISTEN@#127.0.0.1:$try#g" -e "s#@CERT@#$DIR/cert.pem#g" \
        -e "s#@KEY@#$DIR/key.pem#g" -e "s#@GATEWAY_0@#127.0.0.1:$RELAY_PORT#g" \
        -e "s#@GATEWAY_1@#127.0.0.1:$RELAY_PORT#g" "$CONF" >nginx.conf
    "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" 2>nginx.stderr &
    NGINX_PID=$!
    i=0
    while [ "$i" -lt 50 ] && kill -0 "$NGINX_PID" 2>/dev/null; do
        if curl -s -o /dev/null --cacert cert.pem "https://127.0.0.1:$try/"; then
            PORT=$try
            break
        fi
        i=$((i + 1))
        sleep 0.1
    done
    if [ -z "$PORT" ]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
    fi
done
if [ -z "$PORT" ]; then
    echo "demo: nginx did not start:" >&2
    cat nginx.stderr error.log >&2 2>/dev/null || true
    exit 1
fi
# What nginx logged so far was our readiness probe: start clean.
: >access.log
for f in capture/*; do : >"$f"; done

# ---- the request ----

TOKEN='Bearer demo-token-7f3a'
COOKIE='session=abc123; theme=dark'
TENANT='acme-corp'
CARD='4111 1111 1111 1111'
SECRET='correct horse battery staple'
TARGET='/api/v1/payments?order=1717'
printf '{"card":"%s","expiry":"12/29","amount":4200,"currency":"EUR"}' "$CARD" >body.json
printf '%s' "$SECRET" >db.key
chmod 600 db.key

section "the gateway (inside the TEE; here a SIMULATED one)"
cat gateway.stderr
echo "nginx on https://127.0.0.1:$PORT -> demo-relay :$RELAY_PORT -> httpa-gateway :$GW_PORT -> demo-app :$APP_PORT"

section "1. what the client sent: httpa -v"
echo "\$ httpa -v --cacert cert.pem --allow-sim --sim-key @sim.pub \\"
echo "    -H 'Authorization: $TOKEN' -H 'Cookie: $COOKIE' -H 'X-Tenant: $TENANT' --seal-header x-tenant \\"
echo "    -H 'Content-Type: application/json' --data-binary @body.json --hide-target \\"
echo "    --secret db-key=@db.key 'https://127.0.0.1:$PORT$TARGET'"
echo "(body.json: $(cat body.json))"
echo
rc=0
"$HTTPA" -v --cacert cert.pem --allow-sim --sim-key @sim.pub \
    -H "Authorization: $TOKEN" -H "Cookie: $COOKIE" -H "X-Tenant: $TENANT" --seal-header x-tenant \
    -H 'Content-Type: application/json' --data-binary @body.json --hide-target \
    --secret db-key=@db.key "https://127.0.0.1:$PORT$TARGET" >app-view.json 2>client.txt || rc=$?
# the protocol, not curl's TLS chatter
grep -E '^(> |< |A |httpa:)' client.txt || true
echo "httpa exit status: $rc"
if [ "$rc" -ne 0 ]; then
    FAILED=$((FAILED + 1))
    cat client.txt
fi

section "2. what nginx could see"
echo "its access log (log_format httpa of docs/examples/nginx-httpa.conf):"
echo
cat access.log
echo
echo "the request heads it forwarded to the gateway (bodies are ciphertext, not shown):"
echo
cat capture/*.up | LC_ALL=C grep -a -E '^((ATTEST|POST|GET|PUT) |[A-Za-z0-9-]+: )' |
    LC_ALL=C tr -d '\r' | cut -c1-120 || true
echo
echo "looking for every secret in the access log and in all octets relayed both ways:"
for pair in \
    "$CARD|card number (request body)" \
    '"amount":4200|request body JSON' \
    "demo-token-7f3a|Authorization (sealed)" \
    "session=abc123|Cookie (sealed)" \
    "$TENANT|X-Tenant (sealed)" \
    "/api/v1/payments|real target (sealed)" \
    "order=1717|real query (sealed)" \
    "application/json|real Content-Type (sealed)" \
    "$SECRET|provisioned secret" \
    "$(printf '%s' "$SECRET" | base64)|provisioned secret, base64" \
    '"sha256"|response body (the JSON below)'; do
    check_absent "${pair%%|*}" "${pair#*|}" access.log capture/*
done
echo
echo "and what it must see to do its job:"
check_present 'POST /.well-known/httpa HTTP/1.1' 'outer request line (hidden target)' capture/*.up
check_present 'Attest-Base-ID: "' 'Attest-Base-ID (routing key)' capture/*.up
check_present 'Attest-Cargo: :' 'Attest-Cargo (sealed fields, ciphertext)' capture/*.up
check_present 'Attest-Secrets: db-key=:' 'secret name (value sealed)' capture/*.up

section "3. what the application received (demo-app's answer, verified by the client)"
cat app-view.json
echo
BODY_SHA=$(sha256sum <body.json | cut -d' ' -f1)
SECRET_SHA=$(sha256sum <db.key | cut -d' ' -f1)
check_present "\"target\": \"$TARGET\"" "the real method and target" app-view.json
check_present "\"value\": \"$TOKEN\"" "Authorization" app-view.json
check_present "\"value\": \"$COOKIE\"" "Cookie" app-view.json
check_present "\"value\": \"$TENANT\"" "X-Tenant" app-view.json
check_present "\"sha256\": \"$BODY_SHA\"" "the body, intact (SHA-256 of body.json)" app-view.json
check_present "\"sha256\": \"$SECRET_SHA\"" "the provisioned secret (SHA-256 of db.key)" app-view.json

echo
if [ "$FAILED" -ne 0 ]; then
    echo "demo: $FAILED check(s) FAILED"
    exit 1
fi
echo "demo: every check passed. nginx terminated TLS and routed the request, but saw only"
echo "ciphertext, the outer request line and Attest-* fields; the application got it all."
echo "(The TEE was SIMULATED: the evidence proves nothing about hardware.)"
