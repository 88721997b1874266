#!/bin/sh
# End-to-end benchmarks of the HTTPA/2 gateway, each against a baseline
# measured in the same run on the same machine (see bench/README.md,
# "End to end (bench/run.sh)").
#
#   sh bench/run.sh [--quick] [--repeat N] [--build DIR] [--keep] [--wait-quiet S]
#
# It builds what it needs (Release), starts every server itself on
# 127.0.0.1 (bench-upstream, httpa-gateway --tee sim, nginx with TLS 1.3),
# runs the scenarios, stops everything it started (by PID) and prints one
# table. --quick: shorter runs and smaller counts, under two minutes once
# built. --repeat N: run each rate and latency scenario N times and report
# the median of every figure (default 3, 1 with --quick). --keep: keep the
# work directory (logs, raw outputs). --wait-quiet S: wait up to S seconds
# for the other work on the machine to stop (at most 10% of the CPUs busy)
# before measuring.
#
# CPU placement on a machine with two or more CPUs: the server under test
# (the gateway or nginx, one event-loop thread / one worker) on CPU 0; the
# load generator and the upstream application on CPU 1. The server's
# CPU 0 time is read from /proc/stat around each run (CPU 0 runs nothing
# else of ours, and this includes the kernel's network work on it).
# shellcheck disable=SC2086,SC3045 # $LOAD/$SUT/$common split on purpose; ulimit -n: dash and bash
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

quick=0
keep=0
repeat=""
wait_quiet=0
build=${HTTPA_BENCH_BUILD:-build/release}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --repeat) repeat=$2; shift ;;
    --build) build=$2; shift ;;
    --wait-quiet) wait_quiet=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (--quick, --repeat N, --build DIR, --keep, --wait-quiet S)" >&2
       exit 2 ;;
    esac
    shift
done

if [ "$quick" -eq 1 ]; then
    DUR=3; WARM=1; NBASES=20000; NCONNS=2000; BULK=268435456; BULK_N=1; SPEED_S=1
    REPEAT=${repeat:-1}
else
    DUR=10; WARM=1; NBASES=100000; NCONNS=10000; BULK=268435456; BULK_N=2; SPEED_S=3
    REPEAT=${repeat:-3}
fi
case $REPEAT in
''|*[!0-9]*|0) echo "run.sh: --repeat takes a positive number" >&2; exit 2 ;;
esac
CONNS=64        # small requests: keep-alive connections
BASES=4         # Attest Bases shared by them (16 connections per base)
BODY=1024       # small request and response bodies
HS_CONNS=16     # handshakes: concurrent clients

for tool in cmake nginx openssl wrk taskset awk; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run.sh: $tool is missing; run scripts/install-deps.sh as root" >&2
        exit 1
    fi
done

# ---- build ----
echo "run.sh: building (Release) in $build" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target httpa-gateway httpa-bench bench-upstream >/dev/null
case $build in /*) bdir=$build ;; *) bdir=$ROOT/$build ;; esac
GW_BIN=$bdir/programs/httpa-gateway
BENCH=$bdir/programs/httpa-bench
UPSTREAM=$bdir/bench/bench-upstream

# ---- the work directory and everything started, stopped on exit ----
dir=$(mktemp -d /tmp/httpa-bench.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ "$keep" -eq 1 ]; then
        echo "run.sh: outputs kept in $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((NCONNS + 1000)) ]; then
    NCONNS=$(( $(ulimit -n) - 1000 ))
    echo "run.sh: open-file limit $(ulimit -n): idle connections measured with $NCONNS" >&2
fi

# Prefixes, expanded unquoted on purpose (no function: a backgrounded
# command must be the process itself, so that $! is its PID).
SUT_CPU=0
LOAD_CPU=0
if [ "$(nproc)" -ge 2 ]; then
    LOAD_CPU=1
    SUT="taskset -c 0"
    LOAD="taskset -c 1"
    placement="server under test on CPU 0 (one thread/worker); load generator and upstream on CPU 1"
else
    SUT=""
    LOAD=""
    placement="one CPU: no pinning, server and load share it"
fi

# wait_file FILE: up to 10 s for FILE to be non-empty
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$1" ] || { echo "run.sh: $1 did not appear" >&2; exit 1; }
}

# background: percent of all CPUs busy over one second (nothing of ours
# running): other work on the machine makes every figure unreliable
background() {
    a=$(awk '$1 == "cpu" { t = $2+$3+$4+$5+$6+$7+$8+$9; print t - $5 - $6, t }' /proc/stat)
    sleep 1
    b=$(awk '$1 == "cpu" { t = $2+$3+$4+$5+$6+$7+$8+$9; print t - $5 - $6, t }' /proc/stat)
    echo "$a $b" | awk '{ d = $4 - $2; printf "%.0f\n", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}
# quiet_wait: up to --wait-quiet seconds in all, until at most 10% busy
waited=0
quiet_wait() {
    bg=$(background)
    while [ "$bg" -gt 10 ] && [ "$waited" -lt "$wait_quiet" ]; do
        echo "run.sh: the CPUs are ${bg}% busy: waiting (${waited} of at most ${wait_quiet} s)" >&2
        sleep 4
        waited=$((waited + 5))
        bg=$(background)
    done
}
quiet_wait
bg_before=$(background)
if [ "$bg_before" -gt 10 ]; then
    echo "run.sh: WARNING: the CPUs are ${bg_before}% busy before the run: other work distorts the figures" >&2
fi

# ---- the servers ----
$LOAD "$UPSTREAM" --port-file "$dir/up.port" --size "$BODY" >"$dir/upstream.log" 2>&1 &
PIDS="$PIDS $!"
wait_file "$dir/up.port"
UP=$(cat "$dir/up.port")

# start_gateway NAME EXTRA...: httpa-gateway --tee sim; its warning and log
# go to NAME.log; prints nothing, sets NAME's port in $dir/NAME.port
start_gateway() {
    name=$1; shift
    $SUT "$GW_BIN" --tee sim --upstream "http://127.0.0.1:$UP" --listen 127.0.0.1:0 \
        --port-file "$dir/$name.port" --threads 1 --access-log off \
        --sim-pubkey-out "$dir/sim-$name.pub" --max-connections 30000 --request-timeout 120 \
        --max-bases 1000000 "$@" >"$dir/$name.log" 2>&1 &
    PIDS="$PIDS $!"
    echo $! > "$dir/$name.pid"
    wait_file "$dir/$name.port"
}

# gateway A: passthrough, so plain HTTP (the baseline) and TrT go through
# the same process; bodies up to 256 MiB for the upload
start_gateway gwa --passthrough --max-body 268435456
GWA=$(cat "$dir/gwa.port"); GWA_PID=$(cat "$dir/gwa.pid")
# gateway B: fresh, for the memory figures
start_gateway gwb --passthrough
GWB=$(cat "$dir/gwb.port"); GWB_PID=$(cat "$dir/gwb.pid")

# nginx: TLS 1.3 only, Ed25519 certificate (the attested key's type),
# X25519, TLS_AES_128_GCM_SHA256 (HTTPA's default suite), no session
# tickets and no session cache (every new connection is a full handshake)
mkdir -p "$dir/nginx/body" "$dir/nginx/proxy" "$dir/nginx/tmp"
openssl req -x509 -newkey ed25519 -nodes -keyout "$dir/nginx/key.pem" -out "$dir/nginx/cert.pem" \
    -days 2 -subj /CN=127.0.0.1 2>/dev/null
NG=$("$UPSTREAM" --free-port)
cat > "$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user root root;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 30000; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/tmp;
    uwsgi_temp_path $dir/nginx/tmp;
    scgi_temp_path $dir/nginx/tmp;
    upstream app { server 127.0.0.1:$UP; keepalive 256; }
    server {
        listen 127.0.0.1:$NG ssl;
        ssl_certificate $dir/nginx/cert.pem;
        ssl_certificate_key $dir/nginx/key.pem;
        ssl_protocols TLSv1.3;
        ssl_ecdh_curve X25519;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
        ssl_session_tickets off;
        ssl_session_cache off;
        keepalive_requests 10000000;
        location = /hs { return 204; }
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
if [ "$(id -u)" -ne 0 ]; then
    sed -i '/^user root root;/d' "$dir/nginx/nginx.conf"
fi
$SUT nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" >>"$dir/nginx/error.log" 2>&1 &
PIDS="$PIDS $!"
wait_file "$dir/nginx/nginx.pid"
i=0
while ! (echo | openssl s_client -connect "127.0.0.1:$NG" >/dev/null 2>&1) && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

# ---- measuring helpers ----

# cpu_ticks N: "busy total" jiffies of CPU N so far ("": all CPUs)
cpu_ticks() {
    awk -v c="cpu$1" '$1 == c { t = $2+$3+$4+$5+$6+$7+$8+$9; print t - $5 - $6, t }' /proc/stat
}

# run_once NAME CMD...: CMD's stdout into NAME.out; the busy fraction of
# the server's CPU into NAME.cpu, of the load CPU into NAME.lcpu; and into
# NAME.others the share of the whole machine that other processes took
# meanwhile (see others_snapshot)
run_once() {
    name=$1; shift
    t0=$(cpu_ticks "$SUT_CPU")
    l0=$(cpu_ticks "$LOAD_CPU")
    a0=$(cpu_ticks "")
    others_snapshot "$dir/others0"
    if ! "$@" >"$dir/$name.out" 2>"$dir/$name.err"; then
        echo "run.sh: $name failed:" >&2
        cat "$dir/$name.err" >&2
        exit 1
    fi
    t1=$(cpu_ticks "$SUT_CPU")
    l1=$(cpu_ticks "$LOAD_CPU")
    a1=$(cpu_ticks "")
    others_snapshot "$dir/others1"
    echo "$t0 $t1" | awk '{ d = $4 - $2; printf "%.3f\n", (d > 0 ? ($3 - $1) / d : 0) }' >"$dir/$name.cpu"
    echo "$l0 $l1" | awk '{ d = $4 - $2; printf "%.3f\n", (d > 0 ? ($3 - $1) / d : 0) }' >"$dir/$name.lcpu"
    awk -v total="$(echo "$a0 $a1" | awk '{ print $4 - $2 }')" '
        FNR == NR { before[$1] = $2; next }
        { o += $2 - ($1 in before ? before[$1] : 0); seen[$1] = 1 }
        END { for (p in before) if (!(p in seen)) o -= before[p]
              printf "%.3f\n", (total > 0 && o > 0 ? o / total : 0) }' "$dir/others0" "$dir/others1" >"$dir/$name.others"
}

# others_snapshot FILE: "pid jiffies" of every process that is not ours:
# user and system time plus that of its finished children, so a compiler
# that came and went during a run counts through its parent (a process
# that ended during the run has its earlier time taken off again). Ours:
# this shell's children (servers, load tools), nginx's workers, kernel
# threads.
others_snapshot() {
    ng=$(cat "$dir/nginx/nginx.pid" 2>/dev/null || echo 0)
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v me="$$" -v ng="$ng" -v ours=" $PIDS " '{
        pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " "); ppid = f[2]
        if (pid == me || ppid == me || ppid == ng || pid == 2 || ppid == 2 || index(ours, " " pid " "))
            next
        print pid, f[12] + f[13] + f[14] + f[15] }' >"$1"
}

# run_quiet NAME CMD...: run_once, and with --wait-quiet, when other
# processes took more than 5% of the machine meanwhile, wait for quiet and
# run it again (three attempts at most; the last one counts)
run_quiet() {
    n=1
    while :; do
        echo "run.sh: $1" >&2
        run_once "$@"
        disturbed=$(awk '{ print ($1 > 0.05) }' "$dir/$1.others")
        if [ "$disturbed" -eq 0 ] || [ "$wait_quiet" -eq 0 ] || [ $n -ge 3 ]; then
            return 0
        fi
        echo "run.sh: $1 disturbed ($(cat "$dir/$1.others") of the machine used by others): again" >&2
        quiet_wait
        n=$((n + 1))
    done
}

# run NAME CMD...: --repeat times, as NAME.1, NAME.2, ... (the figures
# below are medians over them)
# (sh has no local variables: these names are used nowhere else)
run() {
    run_name=$1; shift
    run_r=1
    while [ $run_r -le "$REPEAT" ]; do
        run_quiet "$run_name.$run_r" "$@"
        run_r=$((run_r + 1))
    done
}

# run_fixed NAME CMD...: once (NAME.1), for runs that change the server's state
run_fixed() {
    fixed_name=$1; shift
    echo "run.sh: $fixed_name" >&2
    run_once "$fixed_name.1" "$@"
}

# med: the median of the numbers on stdin (the lower middle one of an even count)
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
sum() { awk '{ n += $1 } END { print n + 0 }'; }
runs() { ls "$dir/$1".[0-9]*."$2"; } # the files of NAME's runs with suffix S

# j NAME KEY: a number from httpa-bench --json output (keys are unique),
# the median over NAME's runs
j() {
    for f in $(runs "$1" out); do
        sed -n "s/.*\"$2\":\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" "$f" | head -n 1
    done | med
}
cpu() { cat $(runs "$1" cpu) | med; }
lcpu() { cat $(runs "$1" lcpu) | med; }
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' $(runs "$1" out) | med; }
wrk_errors() {
    for f in $(runs "$1" out); do
        awk '/^  Non-2xx/ { n += $NF } /Socket errors:/ { gsub(/[^0-9 ]/, " "); for (i = 1; i <= NF; i++) n += $i }
             END { print n + 0 }' "$f"
    done | sum
}
errs() {
    for f in $(runs "$1" out); do
        sed -n 's/.*"total":\([0-9]*\).*/\1/p' "$f" | head -n 1
    done | sum
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

B="$BENCH"
common="-d $DUR -w $WARM --json"
GA="http://127.0.0.1:$GWA"

# ---- 1. small requests ----
cat > "$dir/post.lua" <<EOF
wrk.method = "POST"
wrk.body = string.rep("A", $BODY)
EOF
run plain $LOAD "$B" plain -c $CONNS -b $BODY $common "$GA/small"
run plain_wrk $LOAD wrk -t1 -c$CONNS -d${DUR}s -s "$dir/post.lua" "$GA/small"
run trt $LOAD "$B" trt -c $CONNS -B $BASES -b $BODY --sim-pubkey "$dir/sim-gwa.pub" $common "$GA/small"
run nginx_wrk $LOAD wrk -t1 -c$CONNS -d${DUR}s -s "$dir/post.lua" "https://127.0.0.1:$NG/small"
run nginx_bench $LOAD "$B" plain -c $CONNS -b $BODY $common "https://127.0.0.1:$NG/small"

# ---- 2. handshakes ----
run aths $LOAD "$B" aths -c $HS_CONNS --sim-pubkey "$dir/sim-gwa.pub" $common "$GA/.well-known/httpa"
run aths_close $LOAD "$B" aths --close -c $HS_CONNS --sim-pubkey "$dir/sim-gwa.pub" $common "$GA/.well-known/httpa"
run tls $LOAD "$B" plain --close -c $HS_CONNS $common "https://127.0.0.1:$NG/hs"
run tls_wrk $LOAD wrk -t1 -c$HS_CONNS -d${DUR}s -H "Connection: close" "https://127.0.0.1:$NG/hs"

# ---- 3. bulk ----
echo "run.sh: openssl speed" >&2
gcm=$($SUT openssl speed -mr -seconds $SPEED_S -bytes 16384 -evp aes-128-gcm 2>/dev/null |
      awk -F: '/^\+F:/ { print $4 / 1e6 }')
run bulk_down $LOAD "$B" trt -c 1 -n $BULK_N -d 600 --timeout 300 --json --sim-pubkey "$dir/sim-gwa.pub" \
    "$GA/bulk?size=$BULK"
run bulk_plain $LOAD "$B" plain -c 1 -n $BULK_N -d 600 --timeout 300 --json "$GA/bulk?size=$BULK"
rss_before_up=$(rss_kb "$GWA_PID")
echo 5 > "/proc/$GWA_PID/clear_refs" 2>/dev/null || true # reset VmHWM to VmRSS
run bulk_up $LOAD "$B" trt -c 1 -n 1 -b $BULK -d 600 --timeout 300 --json --sim-pubkey "$dir/sim-gwa.pub" \
    "$GA/upload"
hwm_up=$(hwm_kb "$GWA_PID")

# ---- 4. memory (gateway B, fresh) ----
GB="http://127.0.0.1:$GWB"
run_fixed mem_warm $LOAD "$B" aths -c $HS_CONNS -n 1000 --sim-pubkey "$dir/sim-gwb.pub" --json "$GB/"
sleep 0.5
rss0=$(rss_kb "$GWB_PID")
run_fixed mem_bases $LOAD "$B" aths -c $HS_CONNS -n $NBASES -d 600 --sim-pubkey "$dir/sim-gwb.pub" --json "$GB/"
sleep 0.5
rss1=$(rss_kb "$GWB_PID")
rm -f "$dir/ready"
$LOAD "$B" plain -c $NCONNS -t 1 --hold 3 --ready-file "$dir/ready" --timeout 30 --json "$GB/small" \
    >"$dir/mem_conns.1.out" 2>"$dir/mem_conns.1.err" &
HOLD_PID=$!
PIDS="$PIDS $HOLD_PID"
i=0
while [ ! -s "$dir/ready" ] && [ $i -lt 600 ] && kill -0 "$HOLD_PID" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.5
rss3=$(rss_kb "$GWB_PID")
wait "$HOLD_PID" || true
conns_ok=$(j mem_conns requests)

# ---- 5. latency at half of the TrT saturation rate ----
rate=$(awk -v r="$(j trt rps)" 'BEGIN { printf "%.0f", r / 2 }')
run lat_plain $LOAD "$B" plain -c $CONNS -b $BODY --rate "$rate" $common "$GA/small"
run lat_trt $LOAD "$B" trt -c $CONNS -B $BASES -b $BODY --rate "$rate" --sim-pubkey "$dir/sim-gwa.pub" \
    $common "$GA/small"
# and at a quarter, where the load generator's own CPU is not the limit
rate4=$(awk -v r="$(j trt rps)" 'BEGIN { printf "%.0f", r / 4 }')
run lat4_plain $LOAD "$B" plain -c $CONNS -b $BODY --rate "$rate4" $common "$GA/small"
run lat4_trt $LOAD "$B" trt -c $CONNS -B $BASES -b $BODY --rate "$rate4" --sim-pubkey "$dir/sim-gwa.pub" \
    $common "$GA/small"

bg_after=$(background) # our servers are idle now

# ---- the table ----
nginx_v=$(nginx -v 2>&1 | sed 's/.*nginx\///')
ossl_v=$(openssl version | awk '{ print $2 }')
h2o_v=$(sed -n 's/^#define H2O_VERSION "\(.*\)"/\1/p' /usr/include/h2o/version.h 2>/dev/null || true)
wrk_v=$(wrk --version 2>&1 | awk 'NR == 1 { print $2 }' || true)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_gb=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)

echo
echo "httpa end-to-end benchmarks ($( [ "$quick" -eq 1 ] && echo quick || echo full ) run, $(date -u +%Y-%m-%dT%H:%MZ)," \
     "medians of $REPEAT run(s) of $DUR s per scenario)"
echo "machine: $(nproc) CPUs, $cpu_model, $mem_gb GiB; OpenSSL $ossl_v, nginx $nginx_v, h2o ${h2o_v:-?}, wrk ${wrk_v:-?}"
echo "placement: $placement"
echo "background CPU load (all CPUs, one second, nothing of ours busy): ${bg_before}% before, ${bg_after}% after the run"
# (memory runs excepted: resident memory does not depend on the CPU share)
worst=$(for f in "$dir"/*.others; do
    case $f in */mem_*) continue ;; esac
    printf '%s %s\n' "$(cat "$f")" "$(basename "$f" .others)"
done | sort -rn | head -n 1)
echo "$worst" | awk '{ printf "other processes used at most %.0f%% of the machine during a run (%s)\n", 100 * $1, $2 }'
if [ "$bg_before" -gt 10 ] || [ "$bg_after" -gt 10 ] ||
   [ "$(echo "$worst" | awk '{ print ($1 > 0.05) }')" -eq 1 ]; then
    echo "WARNING: other processes were using the CPUs: these figures are not reliable"
fi
echo "CPU0 = busy fraction of the server's CPU during the run; per-core = rate / CPU0 (the server's"
echo "capacity on one core when the load generator, on its own core, saturates first)"
echo

awk \
 -v plain="$(j plain rps)" -v plain_c="$(cpu plain)" -v plain_e="$(errs plain)" \
 -v plainw="$(wrk_rps plain_wrk)" -v plainw_c="$(cpu plain_wrk)" -v plainw_e="$(wrk_errors plain_wrk)" \
 -v trt="$(j trt rps)" -v trt_c="$(cpu trt)" -v trt_e="$(errs trt)" \
 -v ngw="$(wrk_rps nginx_wrk)" -v ngw_c="$(cpu nginx_wrk)" -v ngw_e="$(wrk_errors nginx_wrk)" \
 -v ngb="$(j nginx_bench rps)" -v ngb_c="$(cpu nginx_bench)" \
 -v aths="$(j aths rps)" -v aths_c="$(cpu aths)" -v aths_e="$(errs aths)" \
 -v athsc="$(j aths_close rps)" -v athsc_c="$(cpu aths_close)" -v athsc_e="$(errs aths_close)" \
 -v tls="$(j tls rps)" -v tls_c="$(cpu tls)" -v tls_e="$(errs tls)" -v tls_hs="$(j tls tls_handshakes)" \
 -v tlsw="$(wrk_rps tls_wrk)" -v tlsw_c="$(cpu tls_wrk)" -v tlsw_e="$(wrk_errors tls_wrk)" \
 -v gcm="$gcm" -v down="$(j bulk_down mb_in_per_s)" -v down_c="$(cpu bulk_down)" -v down_e="$(errs bulk_down)" \
 -v downp="$(j bulk_plain mb_in_per_s)" -v downp_c="$(cpu bulk_plain)" \
 -v up="$(j bulk_up mb_out_per_s)" -v up_c="$(cpu bulk_up)" -v up_e="$(errs bulk_up)" \
 -v rss_up0="$rss_before_up" -v hwm_up="$hwm_up" -v bulk="$BULK" \
 -v rss0="$rss0" -v rss1="$rss1" -v nb="$(j mem_bases requests)" -v nb_e="$(errs mem_bases)" \
 -v rss3="$rss3" -v nconn="$conns_ok" \
 -v rate="$rate" -v lp50="$(j lat_plain p50)" -v lp99="$(j lat_plain p99)" -v lp999="$(j lat_plain p99.9)" \
 -v lt50="$(j lat_trt p50)" -v lt99="$(j lat_trt p99)" -v lt999="$(j lat_trt p99.9)" \
 -v lp_rps="$(j lat_plain rps)" -v lt_rps="$(j lat_trt rps)" \
 -v lp_c="$(cpu lat_plain)" -v lt_c="$(cpu lat_trt)" \
 -v lp_l="$(lcpu lat_plain)" -v lt_l="$(lcpu lat_trt)" \
 -v trt_l="$(lcpu trt)" -v plain_l="$(lcpu plain)" \
 -v lp_e="$(errs lat_plain)" -v lt_e="$(errs lat_trt)" \
 -v rate4="$rate4" -v qp50="$(j lat4_plain p50)" -v qp99="$(j lat4_plain p99)" \
 -v qt50="$(j lat4_trt p50)" -v qt99="$(j lat4_trt p99)" \
 -v qp_l="$(lcpu lat4_plain)" -v qt_l="$(lcpu lat4_trt)" \
 -v qp_e="$(errs lat4_plain)" -v qt_e="$(errs lat4_trt)" \
 'function core(r, c) { return c > 0.05 ? r / c : 0 }
  function pct(c) { return sprintf("%3.0f%%", 100 * c) }
  function ok(v, op, t) { return (op == ">=" ? v + 0 >= t : v + 0 <= t) ? "met" : "MISSED" }
  function row(label, a, b, ratio, target, res) {
    printf "%-44s %21s %21s %9s  %-10s %s\n", label, a, b, ratio, target, res
  }
  function x(v) { return sprintf("%.2fx", v) }
  BEGIN {
    row("measure", "httpa  (CPU0)", "baseline  (CPU0)", "ratio", "target", "")
    row("-------", "-------------", "----------------", "-----", "------", "")
    # 1. small requests
    tc = core(trt, trt_c); pc = core(plain, plain_c); nc = core(ngw, ngw_c)
    row("small: TrT vs plain HTTP, same gateway", sprintf("%.0f/s %s", trt, pct(trt_c)),
        sprintf("%.0f/s %s", plain, pct(plain_c)), x(trt / plain), ">= 0.90x", ok(trt / plain, ">=", 0.90))
    row("small: TrT vs nginx HTTPS (wrk)", sprintf("%.0f/s %s", trt, pct(trt_c)),
        sprintf("%.0f/s %s", ngw, pct(ngw_c)), x(trt / ngw), ">= 1.0x", ok(trt / ngw, ">=", 1.0))
    row("  per server core: TrT vs plain", sprintf("%.0f/s", tc), sprintf("%.0f/s", pc), x(pc ? tc / pc : 0), "", "")
    row("  per server core: TrT vs nginx HTTPS", sprintf("%.0f/s", tc), sprintf("%.0f/s", nc), x(nc ? tc / nc : 0), "", "")
    row("  check: httpa-bench vs wrk, plain", sprintf("%.0f/s", plain), sprintf("%.0f/s %s", plainw, pct(plainw_c)),
        x(plain / plainw), "+-10%", (plain / plainw >= 0.9 && plain / plainw <= 1.1) ? "met" : "MISSED")
    row("  check: httpa-bench vs wrk, nginx HTTPS", sprintf("%.0f/s %s", ngb, pct(ngb_c)), sprintf("%.0f/s", ngw),
        x(ngw ? ngb / ngw : 0), "(info)", "")
    # 2. handshakes
    ac = core(aths, aths_c); lc = core(tls, tls_c)
    row("handshakes: AtHS vs TLS 1.3 full (nginx)", sprintf("%.0f/s %s", aths, pct(aths_c)),
        sprintf("%.0f/s %s", tls, pct(tls_c)), x(aths / tls), "(measured)", "")
    row("  per server core", sprintf("%.0f/s", ac), sprintf("%.0f/s", lc), x(lc ? ac / lc : 0), ">= 1.0x",
        ok(lc ? ac / lc : 0, ">=", 1.0))
    row("  AtHS on a new TCP connection each", sprintf("%.0f/s %s", athsc, pct(athsc_c)),
        sprintf("%.0f/s %s", tls, pct(tls_c)), x(athsc / tls), "(info)", sprintf("per core %.0f/s", core(athsc, athsc_c)))
    row("  check: TLS, httpa-bench vs wrk", sprintf("%.0f/s", tls), sprintf("%.0f/s %s", tlsw, pct(tlsw_c)),
        x(tlsw ? tls / tlsw : 0), "(info)", "wrk: Connection: close")
    # 3. bulk
    row("bulk: 256 MiB TrT download vs AES-GCM", sprintf("%.0f MB/s %s", down, pct(down_c)),
        sprintf("%.0f MB/s", gcm), x(down / gcm), ">= 0.70x", ok(down / gcm, ">=", 0.70))
    row("  plain download, same gateway", sprintf("%.0f MB/s", down), sprintf("%.0f MB/s %s", downp, pct(downp_c)),
        x(downp ? down / downp : 0), "(info)", "TrT vs plain")
    row("bulk: 256 MiB TrT upload vs AES-GCM", sprintf("%.0f MB/s %s", up, pct(up_c)),
        sprintf("%.0f MB/s", gcm), x(up / gcm), "(info)", "")
    row("  gateway peak RSS growth, upload", sprintf("%.0f MiB", (hwm_up - rss_up0) / 1024),
        sprintf("body %.0f MiB", bulk / 1048576), x((hwm_up - rss_up0) * 1024 / bulk), "(info)",
        "h2o buffers request bodies")
    # 4. memory
    pb = nb > 0 ? (rss1 - rss0) * 1024 / nb : 0
    row("memory: RSS per idle Attest-Base", sprintf("%.0f B", pb), sprintf("%d bases", nb), "",
        "<= 2048 B", ok(pb, "<=", 2048))
    pcn = nconn > 0 ? (rss3 - rss1) * 1024 / nconn : 0
    row("memory: RSS per open idle connection", sprintf("%.0f B", pcn), sprintf("%d conns", nconn), "", "(info)", "")
    # 5. latency
    row(sprintf("latency at %d req/s (half TrT saturation)", rate), "TrT", "plain", "added", "", "")
    row("  p50", sprintf("%.0f us", lt50), sprintf("%.0f us", lp50), sprintf("%+.0f us", lt50 - lp50), "(info)", "")
    row("  p99", sprintf("%.0f us", lt99), sprintf("%.0f us", lp99), sprintf("%+.0f us", lt99 - lp99),
        "<= +100 us", ok(lt99 - lp99, "<=", 100))
    row("  p99.9", sprintf("%.0f us", lt999), sprintf("%.0f us", lp999), sprintf("%+.0f us", lt999 - lp999), "(info)", "")
    row("  achieved rate", sprintf("%.0f/s %s", lt_rps, pct(lt_c)), sprintf("%.0f/s %s", lp_rps, pct(lp_c)), "", "", "")
    row("  load CPU (client + upstream) busy", pct(lt_l), pct(lp_l), "", "(info)",
        sprintf("closed loop: TrT %s, plain %s", pct(trt_l), pct(plain_l)))
    row(sprintf("latency at %d req/s (quarter)", rate4), "TrT", "plain", "added", "", "")
    row("  p50", sprintf("%.0f us", qt50), sprintf("%.0f us", qp50), sprintf("%+.0f us", qt50 - qp50), "(info)", "")
    row("  p99", sprintf("%.0f us", qt99), sprintf("%.0f us", qp99), sprintf("%+.0f us", qt99 - qp99), "(info)", "")
    row("  load CPU (client + upstream) busy", pct(qt_l), pct(qp_l), "", "(info)", "")
    printf "\nerrors: plain %d, plain/wrk %d, trt %d, nginx/wrk %d, aths %d, aths/close %d, tls %d, tls/wrk %d,\n",
      plain_e, plainw_e, trt_e, ngw_e, aths_e, athsc_e, tls_e, tlsw_e
    printf "        bulk down %d, bulk up %d, bases %d, latency trt %d, plain %d, quarter rate trt %d, plain %d\n",
      down_e, up_e, nb_e, lt_e, lp_e, qt_e, qp_e
    printf "TLS: %d full handshakes counted by httpa-bench (tickets and session cache off in client and nginx)\n", tls_hs
  }'
