#!/usr/bin/env bash
# queue_memory.sh - resident memory and reload time with N queued recipients
#
#   bench/queue_memory.sh [N]        (default 1000000; run from the project root)
#
# Fills a data directory with N one-recipient messages deferred for an
# unreachable destination (bench/genqueue.c, through posthaste's own spool
# and store code), starts `posthaste serve` on it, and reports:
#   - reload time: from exec to the "mta loaded" log line (spool check of
#     every queued message + loading the scheduler), and the two phases;
#   - resident memory (VmRSS) once loaded, against the same daemon started
#     on an empty data directory, and the difference per queued recipient.
# Targets (issue 4): under 1 KiB per queued recipient; reload under 10 s.
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-bench
WORK=${WORK:-/var/tmp/posthaste-qmem}

cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$B" posthaste ph_genqueue >/dev/null

serve() { # DATA_DIR LOG -> prints "rss_kb load_ms"
	local dir=$1 log=$2 pid t0 t1 rss
	t0=$(date +%s%N)
	"$B/posthaste" serve --data-dir "$dir" --smtp 127.0.0.1:2640 --http 127.0.0.1:2641 \
		--dns 127.0.0.1@9 --hostname qmem.bench.test >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 1200); do
		grep -q "mta loaded" "$log" && break
		kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.05
	done
	t1=$(date +%s%N)
	sleep 1
	rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	kill $pid; wait $pid || true
	echo "$rss $(( (t1 - t0) / 1000000 ))"
}

rm -rf "$WORK"; mkdir -p "$WORK"
echo "generating $N queued recipients in $WORK/data ..."
gen0=$(date +%s)
"$B/ph_genqueue" "$WORK/data" "$N" unreachable.bench.test 86400
echo "generated in $(( $(date +%s) - gen0 )) s"
read -r rss_empty _ < <(serve "$WORK/empty" "$WORK/empty.log")
read -r rss_full load_ms < <(serve "$WORK/data" "$WORK/full.log")
grep -E "queue recovered|mta loaded" "$WORK/full.log" | sed 's/^/  /'
per=$(( (rss_full - rss_empty) * 1024 / N ))
printf 'queued recipients:     %d\n' "$N"
printf 'reload (exec to loaded): %d ms\n' "$load_ms"
printf 'VmRSS empty / loaded:  %d KiB / %d KiB\n' "$rss_empty" "$rss_full"
printf 'memory per recipient:  %d bytes (target < 1024)\n' "$per"
