#!/usr/bin/env bash
# probe.sh - look inside posthaste while it accepts mail (not a timing run).
#
#   bench/probe.sh fsync   [N]   fsync/fdatasync per message, counted with perf
#                                syscall tracepoints (near-zero overhead, so the
#                                group-commit batching is the real one); falls
#                                back to strace -c (slower, batches differ)
#   bench/probe.sh profile [N]   perf record (cpu-clock, DWARF call graphs) of
#                                the daemon during one injection, then perf
#                                trace -s (syscall counts and wall time per
#                                thread) during a second; reports in
#                                $OUT/profile-STAMP/
#
# Starts posthaste exactly as the shared harness does (its mtas/posthaste.sh:
# private nsd, trusted account, build-bench/ binary, run dir
# $STATE/run/posthaste, so `../shared/bench/bench.sh stop` cleans up after a
# crash) with smtp-sink as the MX, injects N messages with smtp-source
# (SIZE, CONC, REUSE as in inject.sh) and stops it. Run as root from anywhere;
# never while bench.sh runs (same ports).
set -uo pipefail   # no -e: the harness helpers (lib/common.sh) are not written for it
PROJECT=${PROJECT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}   # source to build and run
HARNESS=${HARNESS:-$(dirname "${BASH_SOURCE[0]}")/../../shared/bench}
OUT=${OUT:-/var/tmp/posthaste-bench}
# the shared harness's account lacks --allow-unverified: use inject.sh's
# adapted copy of it (see inject.sh) when there is one
if ! grep -q -- '--allow-unverified' "$HARNESS/mtas/posthaste.sh" 2>/dev/null &&
    [ -f "$OUT/harness/mtas/posthaste.sh" ]; then
    HARNESS=$OUT/harness
fi
HARNESS=$(cd "$HARNESS" && pwd)
SIZE=${SIZE:-4096}
CONC=${CONC:-20}
REUSE=${REUSE:-1}
mode=${1:-}
case "$mode" in
fsync) N=${2:-${N:-5000}} ;;
profile) N=${2:-${N:-20000}} ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac

export PROJECT BENCH_DIR=$HARNESS
# shellcheck source=/dev/null
. "$HARNESS/lib/common.sh"
# shellcheck source=/dev/null
. "$HARNESS/mtas/posthaste.sh"
SRC_FROM=${SRC_FROM:-sender@src.bench.example}
SRC_TO=${SRC_TO:-rcpt@dest.bench.example}
SRC_HELO=${SRC_HELO:-client.bench.example}
[ "$(id -u)" = 0 ] || die "run as root"
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)
run=$STATE/run/posthaste
port=$(posthaste_port)

start_daemon() {
    # never touch the run dir of someone else's benchmark: check first
    port_free "$MTA_ADDR" "$port" || die "$MTA_ADDR:$port already in use (bench.sh running?)"
    port_free "$SINK_ADDR" "$SINK_PORT" || die "sink port $SINK_ADDR:$SINK_PORT already in use (bench.sh running?)"
    port_free 127.0.0.1 "${POSTHASTE_DNS_PORT:-5399}" || die "nsd port ${POSTHASTE_DNS_PORT:-5399} already in use (bench.sh running?)"
    if pgrep -f 'bench\.sh (run|matrix)|syscount\.sh [a-z]' >/dev/null; then die "a harness benchmark is running"; fi
    rm -rf "$run"; mkdir -p "$run"
    sink_start "$run"
    posthaste_setup "$run" || die "posthaste_setup failed"
    (posthaste_start "$run") >"$run/mta.stdout" 2>"$run/mta.stderr" </dev/null &
    echo $! >"$run/mta.pid"
    if ! wait_port "$MTA_ADDR" "$port" 60; then
        tail -20 "$run/mta.stderr" >&2; stop_daemon; die "posthaste did not come up"
    fi
    sleep 1
}
stop_daemon() {
    local pid; pid=$(cat "$run/mta.pid" 2>/dev/null || true)
    posthaste_stop "$run"
    local end=$((SECONDS + 30))
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "posthaste still running; SIGKILL $pid"; kill -9 "$pid"
    fi
    sink_stop "$run"
    return 0
}
inject() {  # inject N: smtp-source into the daemon; prints seconds taken
    local flags=(-s "$CONC" -m "$1" -l "$SIZE" -f "$SRC_FROM" -t "$SRC_TO" -M "$SRC_HELO" -N) t0 t1
    [ "$REUSE" = 1 ] && flags+=(-d)
    t0=$(now)
    smtp-source "${flags[@]}" "$MTA_ADDR:$port" >>"$run/source.out" 2>>"$run/source.err" ||
        log "smtp-source exit $?: $(head -3 "$run/source.err")"
    t1=$(now)
    fsub "$t1" "$t0"
}
wait_delivered() {  # until the sink has all N (stall 3 s, at most 15 s more)
    python3 "$HARNESS/tools/wait_sink.py" "$run/sink.out" "$N" 15 3 >/dev/null || true
    sleep 0.5
}
accepted() { grep -c ' queued id=' "$run/mta.stderr" || true; }
trap 'stop_daemon 2>/dev/null || true' EXIT

SYSCALLS_SYNC="fsync fdatasync sync_file_range syncfs msync"

fsync_perf() {  # perf record of the sync syscalls only: counts per file
    local ev pdata=$run/perf-sync.data pid secs
    ev=$(for s in $SYSCALLS_SYNC; do printf 'syscalls:sys_enter_%s,' "$s"; done)
    pid=$(cat "$run/mta.pid")
    perf record -q -e "${ev%,}" -p "$pid" -o "$pdata" 2>/dev/null &
    local ppid=$!
    sleep 1
    secs=$(inject "$N")
    wait_delivered
    # which file each descriptor is (the daemon keeps them open)
    local f
    for f in "/proc/$pid/fd"/*; do echo "${f##*/} $(readlink "$f")"; done >"$run/fds.txt" 2>/dev/null
    kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true
    echo "== posthaste sync syscalls per message: N=$N SIZE=$SIZE CONC=$CONC REUSE=$REUSE," \
        "perf tracepoints, $(accepted) accepted in ${secs}s, $(sink_count "$run") delivered" \
        "(acceptance and delivery together)"
    perf script -i "$pdata" -F event,trace 2>/dev/null | python3 -c '
import collections, os, sys
n, fds = int(sys.argv[1]), {}
for line in open(sys.argv[2]):
    fd, path = line.split(None, 1)
    fds[int(fd)] = path.strip().replace(sys.argv[3] + "/", "")
per_call, per_file = collections.Counter(), collections.Counter()
for line in sys.stdin:
    ev, _, rest = line.partition(": ")
    call = ev.strip().replace("syscalls:sys_enter_", "")
    per_call[call] += 1
    if "fd: " in rest:
        fd = int(rest.split("fd: ")[1].split(",")[0], 16)
        per_file[(call, fds.get(fd, "fd %d (closed by the end)" % fd))] += 1
for c in sys.argv[4].split():
    print("  %-16s %8d  %6.3f per msg" % (c, per_call[c], per_call[c] / n))
for (c, f), k in sorted(per_file.items(), key=lambda x: -x[1]):
    print("    %-14s %8d  %6.3f per msg  %s" % (c, k, k / n, f))
' "$N" "$run/fds.txt" "$run/data" "$SYSCALLS_SYNC"
}
fsync_strace() {
    local pid secs
    pid=$(cat "$run/mta.pid")
    strace -f -c -o "$run/strace.txt" -e trace="${SYSCALLS_SYNC// /,}" -p "$pid" 2>/dev/null &
    local spid=$!
    sleep 1
    secs=$(inject "$N")
    wait_delivered
    kill -INT "$spid"; wait "$spid" 2>/dev/null || true
    echo "== posthaste syscalls per message: N=$N SIZE=$SIZE CONC=$CONC REUSE=$REUSE," \
        "strace -c (slows the daemon: larger batches than unobserved), $(accepted) accepted in ${secs}s," \
        "$(sink_count "$run") delivered (counts cover acceptance and delivery)"
    awk -v n="$N" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {printf "  %-16s %8d  %6.3f per msg\n", $NF, $4, $4 / n}' "$run/strace.txt"
}

profile() {
    local pid secs rep=$OUT/profile-$stamp
    pid=$(cat "$run/mta.pid")
    mkdir -p "$rep"
    perf record -F 999 --call-graph dwarf,16384 -p "$pid" -o "$rep/perf.data" 2>"$rep/perf-record.err" &
    local ppid=$!
    sleep 1
    secs=$(inject "$N")
    kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true
    log "perf record: $(accepted) accepted in ${secs}s under perf; writing reports"
    perf report -i "$rep/perf.data" --stdio --no-children --sort sym --percent-limit 0.5 -g none \
        >"$rep/self.txt" 2>/dev/null
    perf report -i "$rep/perf.data" --stdio --no-children --sort dso --percent-limit 0.5 -g none \
        >"$rep/dso.txt" 2>/dev/null
    perf report -i "$rep/perf.data" --stdio --children --sort sym --percent-limit 2 \
        -g caller,0.5,callee,function,percent --max-stack 24 >"$rep/children.txt" 2>/dev/null
    # second injection on the same daemon under perf trace -s: per-thread
    # syscall counts and wall time (where the loop thread waits: epoll_wait =
    # idle, fdatasync = blocked on the disk)
    perf trace -s -p "$pid" -o "$rep/trace-summary.txt" 2>/dev/null &
    local tpid=$!
    sleep 1
    secs=$(inject "$N")
    sleep 0.5
    kill -INT "$tpid"; wait "$tpid" 2>/dev/null || true
    echo "== posthaste profile: N=$N SIZE=$SIZE CONC=$CONC REUSE=$REUSE; reports in $rep"
    echo "-- by shared object (self time)"; grep -v '^#' "$rep/dso.txt" | grep . | head -12
    echo "-- top functions (self time)"; grep -v '^#' "$rep/self.txt" | grep . | head -30
    echo "-- syscalls (perf trace -s, second injection of $N in ${secs}s; per thread: calls, total ms, avg ms)"
    awk -v n="$N" '/\([0-9]+\), [0-9]+ events/ {print "  thread " $0}
        NF == 8 && $2 ~ /^[0-9]+$/ && $2 > 0 {printf "  %-16s %8d calls %6.2f/msg %10.1f ms total %8.3f ms avg\n", $1, $2, $2 / n, $4, $6}' \
        "$rep/trace-summary.txt" | head -40
}

start_daemon
case "$mode" in
fsync) if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync true >/dev/null 2>&1; then
        fsync_perf; else fsync_strace; fi ;;
profile) command -v perf >/dev/null || die "perf missing: apt-get install -y linux-perf"
    profile ;;
esac
errs=$(grep -c . "$run/source.err" || true)
[ "$errs" = 0 ] || { echo "smtp-source errors ($errs lines):"; head -5 "$run/source.err"; }
stop_daemon
trap - EXIT
rm -rf "$run"
