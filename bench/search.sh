#!/usr/bin/env bash
# search.sh - API search latency on a store holding N messages
#
#   bench/search.sh [N]        (default 1000000; run from the project root, as root)
#
# Fills a data directory with N messages (bench/genqueue.c: one recipient
# each, subjects "order I", Message-IDs <gen-I@bench.test>), starts
# `posthaste serve` on it, and times each search through the HTTP API with
# curl (REPS runs each, after one warm-up; median and max of time_total).
# Target (issue 5): every search under 50 ms on this machine. Also times
# what the dashboard's Queue and Statistics pages ask for (issue 6).
set -euo pipefail
N=${1:-1000000}
REPS=${REPS:-21}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-bench
WORK=${WORK:-/var/tmp/posthaste-search}
PORT=2651

cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$B" posthaste ph_genqueue >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK"
echo "generating $N messages ..."
KEY=$("$B/ph_genqueue" "$WORK/data" "$N" unreachable.bench.test 86400 | sed -n 's/^api_key=//p')
"$B/posthaste" serve --data-dir "$WORK/data" --smtp 127.0.0.1:2650 --http 127.0.0.1:$PORT \
	--dns 127.0.0.1@9 --hostname search.bench.test >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

mid=$((N / 2)); t0=$(date -u -d "-1 hour" +%Y-%m-%dT%H:%M:%SZ)
s=messages?
queries=(
	"${s}recipient=r$mid@unreachable.bench.test"
	"${s}from=app@bench.test"
	"${s}subject=order%20$((N - 7))"
	"${s}status=deferred"
	"${s}status=bounced"
	"${s}status=delivered"
	"${s}message_id=gen-$mid@bench.test"
	"${s}since=$t0&limit=100"
	"${s}cursor=$mid&limit=50"
	"${s}recipient=nobody@nowhere.test"
	# the dashboard's Queue page and its Statistics charts (issue 6)
	"queue?limit=50"
	"queue?limit=50&cursor=$mid"
	"stats?bucket=hour&since=$t0"
	"stats?bucket=hour"
	"stats?bucket=day"
)
printf '%-52s %10s %10s %6s\n' query median_ms max_ms rows
for q in "${queries[@]}"; do
	url="http://127.0.0.1:$PORT/api/v1/$q"
	rows=$(curl -fsS -H "Authorization: Bearer $KEY" "$url" | /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); print(len(o.get("data", o.get("series", []))))')
	times=$(for _ in $(seq 1 "$REPS"); do
		curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $KEY" "$url"
	done | sort -n)
	med=$(echo "$times" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]*1000}')
	max=$(echo "$times" | tail -1 | awk '{printf "%.1f", $1*1000}')
	printf '%-52s %10s %10s %6s\n' "$q" "$med" "$max" "$rows"
done
