#!/usr/bin/env bash
# inject.sh - posthaste's injection benchmark (`make bench`; run as root).
#
# Accepted-mail throughput ("inject msgs/s": smtp-source has had the 250 to
# every DATA) of posthaste next to Postfix, through the shared harness
# ../shared/bench (smtp-source -> MTA -> smtp-sink), runs interleaved
# (postfix posthaste postfix posthaste ...). The MTAs relay everything to the
# sink meanwhile, so end-to-end msgs/s is reported too. See bench/README.md.
#
# Environment (defaults):
#   N=20000 SIZE=4096 CONC=20 REUSE=1 REPS=3   messages, bytes, sessions,
#                                  session reuse (smtp-source -d), repetitions
#   MTAS="postfix posthaste"       harness MTA names, in run order
#   REV=""                         measure this git revision (exported with git
#                                  archive to $OUT/src-REV) instead of the
#                                  working tree, e.g. REV=HEAD
#   NODELIVER=""                   MTAs that do not deliver: their sink wait is
#                                  cut short (posthaste before commit 725426c)
#   OUT=/var/tmp/posthaste-bench   results: runs.csv (all runs ever),
#                                  run-STAMP.csv, summary-STAMP.txt, logs/STAMP/
#   FSYNC=1                        then count posthaste's fsyncs per message
#                                  (bench/probe.sh fsync, ~10 s; FSYNC=0 skips)
#   QUIET=0.25 QUIET_WAIT=600      before each run, wait (up to QUIET_WAIT s)
#                                  for other benchmarks to end and the machine
#                                  to be idle (< QUIET cores busy over 3 s:
#                                  others' builds, tests and fuzzers share the
#                                  2 vCPUs); QUIET=off skips the idle check
#   HARNESS=../shared/bench  STATE=/var/tmp/mtabench  COOLDOWN=3
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)    # this checkout (scripts, git)
HARNESS=${HARNESS:-$ROOT/../shared/bench}
N=${N:-20000}
SIZE=${SIZE:-4096}
CONC=${CONC:-20}
REUSE=${REUSE:-1}
REPS=${REPS:-3}
MTAS=${MTAS:-postfix posthaste}
REV=${REV:-}
NODELIVER=${NODELIVER:-}
OUT=${OUT:-/var/tmp/posthaste-bench}
FSYNC=${FSYNC:-1}
STATE=${STATE:-/var/tmp/mtabench}
COOLDOWN=${COOLDOWN:-3}
QUIET=${QUIET:-0.25}
QUIET_WAIT=${QUIET_WAIT:-600}
export STATE COOLDOWN

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "inject.sh: $*"; exit 1; }

for v in N SIZE CONC REUSE REPS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
if [ "$N" = 0 ] || [ "$CONC" = 0 ]; then die "N and CONC must be > 0"; fi
[ "$REUSE" = 0 ] || [ "$REUSE" = 1 ] || die "REUSE must be 0 or 1"
[ "$(id -u)" = 0 ] || die "run as root (the harness uses cgroups, private daemons, chown)"
[ -x "$HARNESS/bench.sh" ] || die "no benchmark harness at $HARNESS (shared/ beside the project?)"
HARNESS=$(cd "$HARNESS" && pwd)
cd "$ROOT"
mkdir -p "$OUT"

# one inject.sh at a time (the harness has fixed ports and one cgroup)
exec 9>"$OUT/.lock"
flock -n 9 || die "another bench/inject.sh holds $OUT/.lock"

# Since b8a82f5 an account sends only from its verified domains. The shared
# harness's account (smtp-source's sender is src.bench.example) is created
# without --allow-unverified; until it is, measure through a copy whose
# posthaste.sh adds it (nothing else differs).
if ! grep -q -- '--allow-unverified' "$HARNESS/mtas/posthaste.sh"; then
    rm -rf "$OUT/harness"
    cp -r "$HARNESS" "$OUT/harness"
    sed -i 's/account create bench --trust 127.0.0.0\/8/account create bench --trust 127.0.0.0\/8 --allow-unverified/' \
        "$OUT/harness/mtas/posthaste.sh"
    grep -q -- '--allow-unverified' "$OUT/harness/mtas/posthaste.sh" ||
        die "cannot adapt $HARNESS/mtas/posthaste.sh (its account create line changed?)"
    log "using $OUT/harness: the shared harness with --allow-unverified for its account"
    HARNESS=$OUT/harness
fi

# 1. one-time setup: postfix's smtp-source/smtp-sink, the harness's tools
#    (its setup.sh is idempotent but runs apt-get, so only when its state is
#    missing), and what posthaste needs (nsd, the user posthaste).
if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null ||
    [ ! -x "$STATE/bin/fsync_bench" ]; then
    log "harness state missing in $STATE: running $HARNESS/setup.sh"
    "$HARNESS/setup.sh" >&2 || die "setup.sh failed"
fi
scripts/deps >&2 || die "scripts/deps failed"

# 2. the source to measure (working tree, or REV), always rebuilt into
#    build-bench/ in Release: the harness only builds when the binary is
#    missing, and would measure a stale one.
if [ -n "$REV" ]; then
    rev=$(git rev-parse --short "$REV^{commit}") || die "no such revision: $REV"
    SRCDIR=$OUT/src-$rev
    if [ ! -f "$SRCDIR/CMakeLists.txt" ]; then
        rm -rf "$SRCDIR"; mkdir -p "$SRCDIR"
        git archive "$rev" | tar -x -C "$SRCDIR" || die "git archive $rev failed"
    fi
    built=$rev
else
    SRCDIR=$ROOT
    # HEAD, "+dirty" if src/ or CMakeLists.txt differ from it, "+untracked-src"
    built="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src CMakeLists.txt 2>/dev/null || echo '+dirty')"
    if git status --porcelain -- src 2>/dev/null | grep -q '^??'; then built="$built+untracked-src"; fi
fi
export PROJECT=$SRCDIR    # what the harness's mtas/posthaste.sh builds and runs
log "building $SRCDIR/build-bench (Release, $built)"
cmake -S "$SRCDIR" -B "$SRCDIR/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
ninja -C "$SRCDIR/build-bench" >/dev/null || die "build failed"

stamp=$(date +%Y%m%d-%H%M%S)
CSV=$OUT/run-$stamp.csv
LOGS=$OUT/logs/$stamp
mkdir -p "$LOGS"
case $built in *+*)  # keep what the working tree had on top of HEAD
    { git diff HEAD -- src CMakeLists.txt; git status --porcelain -- src | grep '^??' || true; } \
        >"$LOGS/src-not-in-HEAD.diff" 2>/dev/null
    log "measuring a working tree that differs from HEAD ($built); its diff: $LOGS/src-not-in-HEAD.diff" ;;
esac
for m in $MTAS; do
    [ -f "$HARNESS/mtas/$m.sh" ] || [ "$m" = none ] || die "no harness MTA $m"
    [ ! -e "$STATE/run/$m" ] || die "$STATE/run/$m exists: a crashed run? run $HARNESS/bench.sh stop, then remove it"
done

# 3. the matrix, interleaved: repetitions outermost, MTAs innermost, one
#    harness call per run, so that each MTA gets its own sink-wait settings.
nodeliver() { [[ " $NODELIVER " == *" $1 "* ]]; }

# The harness's sink waiter gives up on a stall (E2E_STALL) only once the
# sink has seen at least one message; with none it waits E2E_TIMEOUT (600 s).
# For an MTA that does not deliver, make E2E_TIMEOUT just longer than the
# injection, so that the waiter (a 5 ms poll in the load generator's cgroup)
# runs through the whole injection as it does for the other MTAs: 1.5 x the
# last injection time of this MTA, else of any MTA in this invocation, else
# N/500 s, plus 5 s.
waiter_timeout() {
    python3 - "$CSV" "$1" "$N" <<'EOF'
import csv, sys
path, mta, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    rows = [r for r in csv.DictReader(open(path)) if r["inject_s"] and r["src_errors"] == "0"]
except OSError:
    rows = []
mine = [float(r["inject_s"]) for r in rows if r["mta"] == mta]
other = [float(r["inject_s"]) for r in rows]
guess = mine[-1] if mine else max(other) if other else n / 500
print(int(guess * 1.5) + 5)
EOF
}

# watchdog BENCH_PID MTA: if smtp-source dies early (e.g. the MTA refuses the
# sender) the sink never gets a message and the harness would wait
# E2E_TIMEOUT (600 s): once smtp-source has exited with an error and the sink
# has nothing, stop that run's sink waiter (a child of our bench.sh, by pid).
watchdog() {
    local bpid=$1 run=$STATE/run/$2 w
    while kill -0 "$bpid" 2>/dev/null; do
        sleep 1
        [ -s "$run/source.err" ] || continue
        pgrep -P "$bpid" -x smtp-source >/dev/null && continue
        grep -q 'mesg=[1-9]' "$run/sink.out" 2>/dev/null && continue
        sleep 2
        w=$(pgrep -P "$bpid" -f 'tools/wait_sink\.py' || true)
        [ -n "$w" ] && { log "smtp-source failed and the sink has nothing: ending the sink wait (pid $w)"; kill "$w"; }
        return 0
    done
}

busy_cores() {  # busy_cores SECONDS: average busy cores (everything, steal excluded)
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat); sleep "$1"
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
    awk -v a="$a" -v b="$b" -v s="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b - a) / hz / s}'
}
harness_busy() {  # another benchmark (bench.sh, syscount.sh, probe.sh) running?
    pgrep -f 'bench\.sh (run|matrix)|syscount\.sh [a-z]|probe\.sh (fsync|profile)' >/dev/null && return 0
    [ -z "$(cat /sys/fs/cgroup/cpuacct/mtabench/cgroup.procs 2>/dev/null)" ] || return 0
    ! (exec 3<>"/dev/tcp/${SINK_ADDR:-127.0.0.2}/${SINK_PORT:-2525}") 2>/dev/null || return 0
    return 1
}
wait_quiet() {  # wait until no other benchmark runs and the machine is idle
    local end=$((SECONDS + QUIET_WAIT)) c said=0
    while harness_busy; do
        [ $SECONDS -lt $end ] || die "another benchmark (bench.sh or a sink on ${SINK_ADDR:-127.0.0.2}:${SINK_PORT:-2525}) is still running after ${QUIET_WAIT}s"
        [ $said = 1 ] || log "another benchmark is running (bench.sh, or the sink port is taken); waiting"
        said=1; sleep 5
    done
    [ "$QUIET" = off ] && return 0
    said=0
    while :; do
        c=$(busy_cores 3)
        awk -v c="$c" -v q="$QUIET" 'BEGIN{exit !(c < q)}' && return 0
        if [ $SECONDS -ge $end ]; then
            log "WARNING: machine still busy ($c cores used by others); running anyway"
            return 0
        fi
        [ $said = 1 ] || log "machine busy ($c cores used by others: $(ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk '{printf "%s %s%%  ", $2, $1}')); waiting for it to go idle"
        said=1
    done
}

keep_logs() {  # keep_logs MTA DIR: copy what is worth keeping of the run dir
    local kept=$2/.rundir d=$2 run=$STATE/run/$1
    # Another session may start a run of the same MTA (same run dir) as soon
    # as our bench.sh has exited: take the dir away at once, and only if it
    # is a finished run (the harness removes sink.pid when a run ends).
    if [ ! -e "$run/wait.out" ] || [ -e "$run/sink.pid" ] || ! mv "$run" "$kept" 2>/dev/null; then
        log "warning: $run is not our finished run (another benchmark started?): left alone"
        return 0
    fi
    cp "$kept"/source.* "$kept"/sink.err "$kept"/wait.out "$kept"/ps.txt "$kept"/mem.json \
        "$kept"/mta.stdout "$kept"/mta.stderr "$d/" 2>/dev/null || true
    if [ -d "$kept/log" ]; then cp -r "$kept/log" "$d/maillog" 2>/dev/null || true; fi
    if [ -f "$kept/nsd/log" ]; then cp "$kept/nsd/log" "$d/nsd.log"; fi
    rm -rf "$kept"
}

check_run() {  # check_run MTA DIR: accepted count and warnings from the MTA's log
    local m=$1 d=$2 acc="" warn=""
    case $m in
    posthaste)
        acc=$(grep -c ' queued id=' "$d/mta.stderr" 2>/dev/null || true)
        # not counted: the expected warning about the self-signed TLS certificate
        warn=$(grep -E '\] (warn|error|fatal|panic):' "$d/mta.stderr" 2>/dev/null |
            grep -vc 'generated self-signed certificate' || true)
        grep -E '\] (warn|error|fatal|panic):' "$d/mta.stderr" 2>/dev/null |
            grep -v 'generated self-signed certificate' | head -5 | sed 's/^/    posthaste: /' >&2 || true
        ;;
    postfix)
        acc=$(grep -c 'postfix-bench/cleanup\[[0-9]*\]: [0-9A-F]*: message-id' "$d/maillog/maillog" 2>/dev/null || true)
        warn=$(grep -cE ': (warning|error|fatal|panic):' "$d/maillog/maillog" 2>/dev/null || true)
        ;;
    esac
    if [ -s "$d/source.err" ]; then
        log "smtp-source errors ($m, $(grep -c . "$d/source.err") lines):"
        head -5 "$d/source.err" | sed 's/^/    /' >&2
    fi
    echo "$m ${acc:-?} ${warn:-?}" >>"$LOGS/checks.txt"
    for f in "$d/mta.stderr" "$d/maillog/maillog"; do
        if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 1000000 ]; then gzip -f "$f"; fi
    done
    ACCEPTED=${acc:-?}
}

log "results: $CSV, logs: $LOGS"
log "matrix: MTAS='$MTAS' SIZE=$SIZE N=$N CONC=$CONC REUSE=$REUSE REPS=$REPS"
trap 'log "interrupted: if an MTA or the sink is left, run $HARNESS/bench.sh stop"; exit 130' INT TERM
failed=""
for ((r = 1; r <= REPS; r++)); do
    for m in $MTAS; do
        d=$LOGS/rep$r-$m
        mkdir -p "$d"
        envs=(RESULTS="$CSV" KEEP=1 REP_OFFSET=$((r - 1)))
        if nodeliver "$m"; then
            envs+=(E2E_TIMEOUT="$(waiter_timeout "$m")" E2E_STALL=5)
        fi
        wait_quiet
        log "rep $r/$REPS: $m (${envs[*]:2})"
        env "${envs[@]}" "$HARNESS/bench.sh" matrix "$m" "$SIZE:$N" "$CONC" "$REUSE" 1 \
            >"$d/bench.out" 2>"$d/bench.err" &
        bpid=$!
        watchdog "$bpid" "$m" &
        wpid=$!
        rc=0; wait "$bpid" || rc=$?
        kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true
        grep -v 'e2e timeout: sink saw only 0' "$d/bench.err" >&2 || true
        keep_logs "$m" "$d"
        [ "$rc" = 0 ] || die "harness failed for $m (exit $rc); see $d/bench.err"
        ACCEPTED='?'; check_run "$m" "$d"
        tail -1 "$d/bench.out" | awk -F, '{s = ($10 > $8 ? $10 : $8); printf "    inject %s msgs/s (%s s), accepted '"$ACCEPTED"', smtp-source errors %s, MTA CPU %s ms/msg, other tenants %.2f cores\n", $9, $8, $15, $19, (s > 0 ? $25 / s : 0)}' >&2
        if [ "$ACCEPTED" = 0 ] || [ -s "$d/source.err" ]; then
            failed="$failed $m"
            log "run failed for $m: not repeating the matrix (see $d)"
        fi
        sleep "$COOLDOWN"   # the harness's cooldown came before our rm -rf
    done
    [ -z "$failed" ] || break
done
trap - INT TERM
if [ -f "$CSV" ]; then
    [ -f "$OUT/runs.csv" ] || head -1 "$CSV" >"$OUT/runs.csv"
    tail -n +2 "$CSV" >>"$OUT/runs.csv"
fi

# 4. summary
fs=""
if [ "$FSYNC" = 1 ] && [[ " $MTAS " == *" posthaste "* ]] && [[ " $failed " != *" posthaste "* ]]; then
    log "counting posthaste's fsyncs per message (bench/probe.sh fsync)"
    fs=$(PROJECT=$SRCDIR HARNESS=$HARNESS OUT=$OUT SIZE=$SIZE CONC=$CONC REUSE=$REUSE "$ROOT/bench/probe.sh" fsync 5000 2>&1) ||
        fs="(fsync probe failed: $fs)"
fi
{
    echo "posthaste injection benchmark $stamp on $(hostname) ($(nproc) vCPU), built from $built"
    echo "SIZE=$SIZE N=$N CONC=$CONC REUSE=$REUSE REPS=$REPS; CSV $CSV"
    # shellcheck disable=SC2086  # MTAS is a list
    python3 - "$CSV" "$LOGS/checks.txt" $MTAS <<'EOF'
import csv, statistics, sys
path, checks, mtas = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    rows = list(csv.DictReader(open(path)))
except OSError:
    rows = []
acc = {}
try:
    for line in open(checks):
        m, a, w = line.split()
        acc.setdefault(m, []).append((a, w))
except OSError:
    pass
med = {}
for m in mtas:
    g = [r for r in rows if r["mta"] == m]
    # a run counts only if smtp-source had no error and the MTA logged all N
    # as accepted ("?" = cannot tell, e.g. MTA "none"): the harness computes
    # N / time even when smtp-source gave up at once
    checks_m = acc.get(m, [])
    ok, bad = [], []
    for i, r in enumerate(g):
        a = checks_m[i][0] if i < len(checks_m) else "?"
        good = r["src_errors"] == "0" and (a == "?" or int(a) == int(r["n"]))
        (ok if good else bad).append((r, a))
    v = [float(r["inject_mps"]) for r, a in ok]
    for r, a in bad:
        print("%-10s rep %s FAILED: smtp-source error lines %s, accepted %s of %s (not counted)"
              % (m, r["rep"], r["src_errors"], a, r["n"]))
    if not v:
        print("%-10s no valid run" % m)
        continue
    med[m] = statistics.median(v)
    cpu = [float(r["cpu_ms_per_msg"]) for r, a in ok if r["cpu_ms_per_msg"]]
    # end to end: only runs where the sink got all N before the waiter stopped
    e2e = [float(r["e2e_mps"]) for r, a in ok if int(r["delivered"]) >= int(r["n"])
           and r["e2e_s"] and float(r["e2e_s"]) >= float(r["inject_s"]) - 0.05]
    e2e_s = ("%.0f [%.0f–%.0f] over %d complete runs" % (statistics.median(e2e), min(e2e), max(e2e), len(e2e))
             if e2e else "- (no complete run)")
    print("%-10s inject %7.0f msgs/s median [%.0f–%.0f] over %d runs; end-to-end %s;\n"
          "           MTA CPU %s ms/msg; accepted per run %s; MTA log warnings %s" % (
              m, med[m], min(v), max(v), len(v), e2e_s,
              "%.2f" % statistics.median(cpu) if cpu else "-",
              "/".join(a for a, w in checks_m), "/".join(w for a, w in checks_m)))
if "postfix" in med and "posthaste" in med:
    print("ratio posthaste/postfix (medians): %.2fx" % (med["posthaste"] / med["postfix"]))
# other_cpu_s covers injection + the wait for the sink (e2e_s, or the cut-short wait)
def span(r):
    return max(float(r["inject_s"] or 0), float(r["e2e_s"] or 0))
noise = [float(r["other_cpu_s"]) / span(r) for r in rows if r["other_cpu_s"] and span(r) > 0]
if noise:
    print("other tenants' CPU during runs (cores): median %.2f, max %.2f; steal max %.2f s"
          % (statistics.median(noise), max(noise), max(float(r["steal_s"] or 0) for r in rows)))
EOF
    if [ -n "$fs" ]; then echo "$fs"; fi
} | tee "$OUT/summary-$stamp.txt"
[ -z "$failed" ] || exit 1
