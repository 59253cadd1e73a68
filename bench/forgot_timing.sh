#!/usr/bin/env bash
# "Forgot password?" must not tell by its timing who exists (issue 23): this measures the answer
# to POST /password/forgot for a name that exists and for one that does not, side by side, and
# prints the two medians. Not part of `cargo test`: timings are not assertions.
#
#   bench/forgot_timing.sh                      # SQLite
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/forgot_timing.sh
#   BENCH_BIN=/tmp/old/pinpanel bench/forgot_timing.sh   # another build (before/after)
#   BENCH_RUNS=400 bench/forgot_timing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_RUNS:-200}
PORT=18490

. bench/lib.sh
bench_binary
bench_workdir forgot
bench_database forgot
# One member per request (each with an address), so the per-member limit (3 links an hour)
# never stops the work being measured.
echo "a long enough password" | "$BIN" bench seed --members "$RUNS" --agents 0 \
  --out "$WORK/members" --password-stdin >/dev/null
mapfile -t IDS < <(cut -d' ' -f1 "$WORK/members")
# Every request comes "through the proxy" from another address, so the per-address limit (10
# in 15 minutes) never answers instead of the work being measured.
PINPANEL_TRUSTED_PROXIES=127.0.0.1 PINPANEL_COOKIE_SECURE=false RUST_LOG=warn \
  "$BIN" serve --addr 127.0.0.1:$PORT >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

JAR=$WORK/jar
PAGE=$(curl -s -c "$JAR" "http://127.0.0.1:$PORT/password/forgot")
CSRF=$(printf '%s' "$PAGE" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)
one() {  # one request for $1 from address $2: its total time in ms
  curl -s -o /dev/null -b "$JAR" -w '%{time_total}\n' -H "X-Forwarded-For: $2" \
    --data-urlencode "who=$1" --data-urlencode "csrf_token=$CSRF" \
    "http://127.0.0.1:$PORT/password/forgot" | awk '{ printf "%.3f\n", $1 * 1000 }'
}
: >"$WORK/known"; : >"$WORK/unknown"
for i in $(seq 1 "$RUNS"); do  # interleaved, so drift hits both alike
  one "bench-${IDS[$((i - 1))]}" "10.1.$((i / 250)).$((i % 250))" >>"$WORK/known"
  one "nobody-$i" "10.2.$((i / 250)).$((i % 250))" >>"$WORK/unknown"
done
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
p90() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int(NR * 0.9)] }'; }
echo "$BACKEND, $RUNS requests each: a name that exists: median $(median "$WORK/known") ms, p90 $(p90 "$WORK/known") ms; one that does not: median $(median "$WORK/unknown") ms, p90 $(p90 "$WORK/unknown") ms"
