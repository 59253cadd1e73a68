#!/usr/bin/env bash
# pinpanel benchmark: builds release, seeds a database with 1 000 and with 1 000 000 members,
# starts pinpanel, and measures with wrk on loopback, side by side with the limit of this
# machine (nginx serving the same bytes as a static file, one argon2id verification):
#
#   profile   authenticated GET /profile             vs nginx serving the same HTML
#   verify    POST …/phone-pin/verify (agent tokens)  vs the same nginx baseline
#   login     p50 of a web login                      vs one argon2id verify
#   storm     GET /profile p99 with 50 clients logging in, and with as many as the hashing
#             line holds (16 per permit), vs the idle p99
#   1M / 1k   profile and verify throughput with 1 000 000 vs 1 000 members
#   RSS       peak resident memory of the server; cold start to the first 200 on /healthz
#   front     GET /login, a static file and the profile vs nginx serving the same bytes, the
#             profile's page load in headless Chromium, cold and warm (bench/front.sh)
#   history   the pages that read the audit log, fresh and after a log of 1 000 000 rows, the
#             statements' plans, the CSV export of it all, the retention sweep (bench/history.sh)
#
# It prints one table of ratios per backend and writes them to docs/PERFORMANCE.md. It measures
# SQLite, and PostgreSQL as fully (the same runs, the same lengths) when BENCH_POSTGRES_URL (or a
# DATABASE_URL of postgres://…) names a server: it creates and drops its own databases next to
# the one named. Not part of `cargo test`: timings are not assertions.
#
#   bench/run.sh                                   # SQLite, both sizes
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/run.sh   # and PostgreSQL
#   BENCH_BACKENDS=postgres BENCH_SIZES=1000 bench/run.sh
#   BENCH_PARTS=throughput BENCH_SECONDS=5 bench/run.sh   # only GET /profile, verify and nginx
#   BENCH_PARTS=history bench/run.sh               # only the long history
#   BENCH_PARTS=front bench/run.sh                 # only the cost before the database
#   BENCH_OUT=/tmp/x.md bench/run.sh               # write the table elsewhere
#   BENCH_BIN=/tmp/old/pinpanel bench/run.sh       # measure another build (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh

SIZES=${BENCH_SIZES:-"1000 1000000"}
PARTS=${BENCH_PARTS:-all}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PASSWORD="bench password 1"
LINE=$((16 * ($(nproc) > 2 ? $(nproc) - 1 : 1)))  # the hashing line (service::hashing)
PORT=18480
NGINX_PORT=18481
OUT=${BENCH_OUT:-$ROOT/docs/PERFORMANCE.md}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need() {
  if ! command -v "$1" >/dev/null; then
    echo "--- installing $2"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
      { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
  fi
}
need wrk wrk
need nginx nginx
need curl curl
command -v nginx >/dev/null || export PATH=$PATH:/usr/sbin

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN  # another build, for a before/after comparison
else
  echo "--- building release"
  cargo build --release --quiet
  BIN=$ROOT/target/release/pinpanel
fi

WORK=$(mktemp -d /tmp/pinpanel-bench.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as another user
SERVER_PID=""
NGINX_PID=""
PG_DBS=()
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  for db in "${PG_DBS[@]:-}"; do
    [ -n "$db" ] && psql "$PG_BASE" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

PG_BASE=${BENCH_POSTGRES_URL:-}
if [[ -z "$PG_BASE" && "${DATABASE_URL:-}" == postgres* ]]; then
  PG_BASE=$DATABASE_URL
fi
if [ -n "${BENCH_BACKENDS:-}" ]; then
  BACKENDS=$BENCH_BACKENDS
elif [ -n "$PG_BASE" ]; then
  BACKENDS="sqlite postgres"
else
  BACKENDS=sqlite
fi
if [[ "$BACKENDS" == *postgres* && -z "$PG_BASE" ]]; then
  echo "BENCH_BACKENDS names postgres: set BENCH_POSTGRES_URL"; exit 1
fi
unset DATABASE_URL
export PINPANEL_KEY
PINPANEL_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PINPANEL_COOKIE_SECURE=false
# The bench drives thousands of verifications and token requests a second from one address and
# a few agent accounts; the per-agent and per-address limits would (rightly) refuse that.
export PINPANEL_VERIFY_LIMIT=100000000 PINPANEL_TOKEN_LIMIT=100000000
export RUST_LOG=warn
# The agents log in with a password alone, and a storm of logins is what is measured.
export PINPANEL_REQUIRE_TWO_STEP=none

now_ms() { date +%s%3N; }

# wrk output → requests per second
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
# wrk --latency output → the 99th percentile in milliseconds
p99() { bench_latency "$1" 99; }

# write_part NAME FILE: FILE's text replaces what is between `<!-- NAME: start` and
# `<!-- NAME: end -->` in the doc (the hand-written record around it stays), or is appended.
write_part() {
  local name=$1 file=$2 block
  block=$(mktemp)
  { echo "<!-- $name: start (bench/run.sh writes what is between these lines) -->"; cat "$file"
    echo "<!-- $name: end -->"; } >"$block"
  if [ -f "$OUT" ] && grep -q "^<!-- $name: start" "$OUT"; then
    awk -v block="$block" -v name="$name" '
      $0 ~ "^<!-- " name ": start" { while ((getline line < block) > 0) print line; skip = 1; next }
      $0 ~ "^<!-- " name ": end" { skip = 0; next }
      !skip { print }
    ' "$OUT" >"$OUT.new" && mv "$OUT.new" "$OUT"
  elif [ -f "$OUT" ]; then
    { echo; cat "$block"; } >>"$OUT"
  else
    { echo "# pinpanel performance"; echo; cat "$block"; } >"$OUT"
  fi
  rm -f "$block"
}

# The long history (issue 29): bench/history.sh on each backend, the tables and the plans written
# between the `history` markers of the doc.
history_part() {
  local b part
  part=$(mktemp)
  echo "Measured by \`bench/run.sh\` (bench/history.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," >"$part"
  echo "wrk with 2 threads and $CONNECTIONS connections, ${BENCH_SECONDS:-5} s per page." >>"$part"
  for b in $BACKENDS; do
    echo "=== long history ($b)"
    BENCH_BIN=$BIN BENCH_POSTGRES_URL=$([ "$b" = postgres ] && echo "$PG_BASE") \
      BENCH_SECONDS=${BENCH_SECONDS:-5} BENCH_HISTORY_OUT="$WORK/history-$b.md" \
      BENCH_HISTORY_PLANS="$WORK/plans-$b.txt" bench/history.sh
    { echo; cat "$WORK/history-$b.md"; echo
      echo "<details><summary>The plans on $b, on the log of 1 000 000 rows</summary>"; echo
      echo '```'; cat "$WORK/plans-$b.txt"; echo '```'; echo; echo "</details>"; } >>"$part"
  done
  write_part history "$part"
  rm -f "$part"
}
# The cost before the database (issue 28): bench/front.sh, its table written between the
# `front` markers of the doc.
front_part() {
  local part
  part=$(mktemp)
  echo "=== the cost before the database"
  BENCH_BIN=$BIN BENCH_POSTGRES_URL=$PG_BASE BENCH_FRONT_OUT="$WORK/front.md" bench/front.sh
  { echo "Measured by \`bench/run.sh\` (bench/front.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores:"
    echo "wrk on loopback, nginx serving the same bytes from files in the same run."; echo
    cat "$WORK/front.md"; } >"$part"
  write_part front "$part"
  rm -f "$part"
}
case "$PARTS" in
  history) history_part; echo "written to $OUT"; exit 0 ;;
  front) front_part; echo "written to $OUT"; exit 0 ;;
esac

# Starts the server on the database, records the cold start (exec to the first 200 on /healthz).
start_server() {
  local url=$1
  local t0; t0=$(now_ms)
  # The token limit per address (120 a minute) would turn the login storm, all from 127.0.0.1,
  # into cheap refusals after its first seconds: the storm is to cost real argon2 runs.
  DATABASE_URL=$url PINPANEL_TOKEN_LIMIT=100000000 "$BIN" serve --addr "127.0.0.1:$PORT" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err"; exit 1; }
  done
  COLD_MS=$(( $(now_ms) - t0 ))
}

stop_server() {
  PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# A web login (GET /login for the CSRF token, POST /login); prints the POST's time in ms.
login_once() {
  local jar=$1 user=$2
  local page token
  page=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$PORT/login")
  token=$(printf '%s' "$page" | grep -o 'name="csrf_token" value="[^"]*"' | head -n1 | sed 's/.*value="//; s/"$//')
  curl -s -o /dev/null -c "$jar" -b "$jar" -w '%{time_total}\n' \
    --data-urlencode "csrf_token=$token" --data-urlencode "username=$user" \
    --data-urlencode "password=$PASSWORD" "http://127.0.0.1:$PORT/login" | awk '{printf "%.2f\n", $1 * 1000}'
}

declare -A R

for BACKEND in $BACKENDS; do
for SIZE in $SIZES; do
  K="${BACKEND}_$SIZE"
  echo "=== $SIZE members ($BACKEND)"
  if [ "$BACKEND" = sqlite ]; then
    URL="sqlite:$WORK/bench-$SIZE.db"
  else
    DB="pinpanel_bench_${SIZE}_$$"
    psql "$PG_BASE" -qc "CREATE DATABASE $DB" >/dev/null
    PG_DBS+=("$DB")
    URL=$(printf '%s' "$PG_BASE" | sed -E "s#/[^/?]*(\?|$)#/$DB\1#")
  fi
  echo "--- seeding"
  printf '%s\n' "$PASSWORD" | DATABASE_URL=$URL "$BIN" bench seed --members "$SIZE" --agents 8 \
    --out "$WORK/members-$SIZE.txt" --password-stdin | sed -n 1p
  # wrk cycles over the first 20 000 members.
  head -n 20000 "$WORK/members-$SIZE.txt" >"$WORK/members.txt"
  MEMBER="bench-$(head -n1 "$WORK/members.txt" | cut -d' ' -f1)"

  start_server "$URL"
  R[cold_$K]=$COLD_MS

  : >"$WORK/tokens.txt"
  for n in $(seq 0 7); do
    curl -s "http://127.0.0.1:$PORT/v2.0/tokens" -H 'Content-Type: application/json' \
      -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"bench-agent-$n\",\"password\":\"$PASSWORD\"}}}" |
      grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4 >>"$WORK/tokens.txt"
  done

  # A logged-in member's session, and the page it gets, for nginx to serve byte for byte.
  login_once "$WORK/jar" "$MEMBER" >/dev/null
  COOKIE=$(awk '$6 == "pinpanel" {print "pinpanel=" $7}' "$WORK/jar")
  curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/profile" >"$WORK/profile.html"
  grep -q "Support PIN" "$WORK/profile.html" || { echo "the profile page did not load"; exit 1; }
  mkdir -p "$WORK/nginx/html"
  cp "$WORK/profile.html" "$WORK/nginx/html/profile.html"
  chmod -R a+rX "$WORK/nginx/html"
  if [ -z "$NGINX_PID" ]; then
    bench_nginx "$WORK/nginx" "$NGINX_PORT" profile.html; NGINX_PID=$BENCH_NGINX_PID
  fi

  echo "--- GET /profile (pinpanel, then nginx)"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" \
    "http://127.0.0.1:$PORT/profile" >"$WORK/profile-$SIZE.txt"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
    "http://127.0.0.1:$NGINX_PORT/profile.html" >"$WORK/nginx-$SIZE.txt"
  R[profile_$K]=$(rps "$WORK/profile-$SIZE.txt")
  R[nginx_$K]=$(rps "$WORK/nginx-$SIZE.txt")

  echo "--- POST verify"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$ROOT/bench/verify.lua" \
    "http://127.0.0.1:$PORT" -- "$WORK/members.txt" "$WORK/tokens.txt" >"$WORK/verify-$SIZE.txt"
  R[verify_$K]=$(rps "$WORK/verify-$SIZE.txt")
  R[verify_counts_$K]=$(grep VERIFY_COUNTS "$WORK/verify-$SIZE.txt" | cut -d' ' -f2-)

  if [ "$PARTS" = all ]; then
  echo "--- login latency, and one argon2id verification in between"
  # This machine's speed drifts by tens of percent over minutes (a shared VM), so the logins
  # and the argon2 runs they are compared with are interleaved.
  : >"$WORK/logins.txt"
  : >"$WORK/argon.txt"
  for i in $(seq 1 9); do
    for j in 1 2 3 4 5; do login_once "$WORK/jar-login" "$MEMBER" >>"$WORK/logins.txt"; rm -f "$WORK/jar-login"; done
    "$BIN" bench argon2 --runs 5 >>"$WORK/argon.txt"
  done
  median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  R[login_p50_$K]=$(median "$WORK/logins.txt")
  R[argon_$K]=$(median "$WORK/argon.txt")

  echo "--- GET /profile p99, idle and during login storms"
  wrk -t1 -c4 -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" \
    "http://127.0.0.1:$PORT/profile" >"$WORK/idle-$SIZE.txt"
  R[idle_p99_$K]=$(p99 "$WORK/idle-$SIZE.txt")
  # storm <clients> <tag>: <clients> connections logging in (POST /v2.0/tokens, the right
  # password) while the measured client reads /profile.
  storm() {
    wrk -t1 -c"$1" -d"$((SECONDS_PER_RUN + 4))s" -s "$ROOT/bench/tokens.lua" \
      "http://127.0.0.1:$PORT" -- "$WORK/members.txt" "$PASSWORD" >"$WORK/$2-logins-$SIZE.txt" &
    local pid=$!
    sleep 2
    wrk -t1 -c4 -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" \
      "http://127.0.0.1:$PORT/profile" >"$WORK/$2-$SIZE.txt"
    wait $pid
    R[$2_p99_$K]=$(p99 "$WORK/$2-$SIZE.txt")
    R[$2_logins_$K]=$(rps "$WORK/$2-logins-$SIZE.txt")
    R[$2_refused_$K]=$(awk '/Non-2xx/ {print $NF}' "$WORK/$2-logins-$SIZE.txt")
  }
  # 50 clients: more than the hashing line holds, so most are refused at once (503) and come
  # straight back; then as many as the line holds (16 per hashing permit, one permit per core
  # but one), every one a real argon2 run.
  storm 50 storm
  storm "$LINE" line
  fi

  stop_server
  R[rss_$K]=$PEAK_RSS_KB

  # Counters exact: every incorrect answer wrk received was counted once (up to the requests
  # still in flight when wrk stopped), and no PIN locked.
  if [ "$BACKEND" = sqlite ]; then
    Q() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "${URL#sqlite:}" "$1"; }
  else
    Q() { psql "$URL" -Atc "$1"; }
  fi
  R[counted_$K]=$(Q "SELECT COUNT(*) FROM audit_log WHERE event = 'pin.verify_failed' AND detail LIKE 'failure %'")
  R[locked_$K]=$(Q "SELECT COUNT(*) FROM support_pins WHERE state = 'LOCKED'")
done
done

# ---- the table ----------------------------------------------------------------------------
first=${SIZES%% *}
last=${SIZES##* }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }

table_of() {
  local B=$1
  echo "| measure | pinpanel | limit | ratio | target | |"
  echo "|---|---|---|---|---|---|"
  for SIZE in $SIZES; do
    K="${B}_$SIZE"
    r=$(ratio "${R[profile_$K]}" "${R[nginx_$K]}")
    row "GET /profile, $SIZE members (req/s)" "${R[profile_$K]}" "nginx ${R[nginx_$K]}" "$r" "≥ 0.5" "$(met "$r" ">=" 0.5)"
    r=$(ratio "${R[verify_$K]}" "${R[nginx_$K]}")
    row "POST verify, $SIZE members (req/s)" "${R[verify_$K]}" "nginx ${R[nginx_$K]}" "$r" "≥ 0.3" "$(met "$r" ">=" 0.3)"
    if [ "$PARTS" = all ]; then
      r=$(ratio "${R[login_p50_$K]}" "${R[argon_$K]}")
      row "login p50, $SIZE members (ms)" "${R[login_p50_$K]}" "argon2id ${R[argon_$K]}" "$r" "≤ 1.2" "$(met "$r" "<=" 1.2)"
      r=$(ratio "${R[storm_p99_$K]}" "${R[idle_p99_$K]}")
      row "GET /profile p99 in a login storm of 50 clients, $SIZE members (ms)" "${R[storm_p99_$K]}" "idle ${R[idle_p99_$K]}" "$r" "≤ 3" "$(met "$r" "<=" 3)"
      r=$(ratio "${R[line_p99_$K]}" "${R[idle_p99_$K]}")
      row "GET /profile p99 in a login storm of $LINE clients (what the hashing line holds), $SIZE members (ms)" "${R[line_p99_$K]}" "idle ${R[idle_p99_$K]}" "$r" "≤ 3" "$(met "$r" "<=" 3)"
    fi
    r=$(awk -v k="${R[rss_$K]}" 'BEGIN { printf "%.1f", k / 1024 }')
    row "peak RSS, $SIZE members (MiB)" "$r" "" "" "≤ 64" "$(met "$r" "<=" 64)"
    row "cold start to first 200, $SIZE members (ms)" "${R[cold_$K]}" "" "" "≤ 200" "$(met "${R[cold_$K]}" "<=" 200)"
  done
  if [ "$first" != "$last" ]; then
    r=$(ratio "${R[profile_${B}_$last]}" "${R[profile_${B}_$first]}")
    row "GET /profile, $last vs $first members" "${R[profile_${B}_$last]}" "${R[profile_${B}_$first]}" "$r" "≥ 0.83 (within 1.2×)" "$(met "$r" ">=" 0.83)"
    r=$(ratio "${R[verify_${B}_$last]}" "${R[verify_${B}_$first]}")
    row "POST verify, $last vs $first members" "${R[verify_${B}_$last]}" "${R[verify_${B}_$first]}" "$r" "≥ 0.83 (within 1.2×)" "$(met "$r" ">=" 0.83)"
  fi
}
TABLE=$(for B in $BACKENDS; do echo "### $B"; echo; table_of "$B"; echo; done)
COUNTS=$(for B in $BACKENDS; do for SIZE in $SIZES; do
  K="${B}_$SIZE"
  echo "- $B, $SIZE members: wrk saw ${R[verify_counts_$K]}; the audit log counted ${R[counted_$K]} failures (the difference is at most the $CONNECTIONS requests in flight when wrk stopped); ${R[locked_$K]} PINs locked${R[storm_logins_$K]:+; ${R[storm_logins_$K]} token requests/s in the storm of 50, ${R[storm_refused_$K]:-none} of them refused; ${R[line_logins_$K]} in the storm of $LINE, ${R[line_refused_$K]:-none} refused}."
done; done)

echo
echo "$TABLE"
echo
echo "$COUNTS"

CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
MEASURED=$(mktemp)
{
  echo "Measured by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores ($CPU), $MEM,"
  echo "$(uname -sr), $(rustc --version), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2),"
  echo "backends **$BACKENDS**, $SECONDS_PER_RUN s per run, wrk with 2 threads and $CONNECTIONS connections on loopback"
  echo "(the storms: 50 connections logging in, then $LINE, the measured client 4 connections). Everything runs on"
  echo "the same machine, so the load generator takes CPU from the server being measured: the ratios"
  echo "compare like with like, the absolute numbers are this machine's."
  echo
  echo "$TABLE"
  echo
  echo "Counters stayed exact under load:"
  echo
  echo "$COUNTS"
} >"$MEASURED"
write_part measured "$MEASURED"
rm -f "$MEASURED"
if [ "$PARTS" = all ]; then front_part; history_part; fi
echo
echo "written to $OUT"
