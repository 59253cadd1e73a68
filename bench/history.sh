#!/usr/bin/env bash
# Long history (issue 29): the pages that read the audit log, measured on a fresh database and
# again after a log of 1 000 000 rows (50 000 of them about the measured member, the rest about
# the other members of the same account, spread over the last 390 days), side by side in one
# run; the plans of the statements behind them on that log; the CSV export of the whole log
# (time and the server's peak memory); and the profile's p99 while the retention sweep deletes
# half of the log. bench/run.sh runs it (BENCH_PARTS=history for this part alone); on its own:
#
#   bench/history.sh                                     # SQLite
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/history.sh
#   BENCH_HISTORY_OUT=/tmp/table.md BENCH_HISTORY_PLANS=/tmp/plans.txt bench/history.sh
#
# Targets: each page within 1.2 x of its fresh figure; the export under 20 s in under 50 MiB.
# Not part of `cargo test`: timings are not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${BENCH_HISTORY_ROWS:-1000000}
ONE=${BENCH_HISTORY_ONE:-50000}
MEMBERS=1000
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PORT=18495
BASE=http://127.0.0.1:$PORT
PASSWORD="bench password 1"
command -v wrk >/dev/null || { echo "bench/history.sh needs wrk (apt-get install wrk)"; exit 1; }

. bench/lib.sh
bench_binary
bench_workdir history
bench_database history
export PINPANEL_COOKIE_SECURE=false RUST_LOG=warn PINPANEL_REQUIRE_TWO_STEP=none
PLANS=${BENCH_HISTORY_PLANS:-$WORK/plans.txt}

if [ "$BACKEND" = sqlite ]; then
  DB=${DATABASE_URL#sqlite:}
  Q() { sqlite3 "$DB" "$1"; }
else
  Q() { psql "$DATABASE_URL" -Atqc "$1"; }
fi

"$BIN" migrate >/dev/null
[ -n "${BENCH_KEEP:-}" ] && echo "--- the database: $DATABASE_URL"
ACCOUNT=$(printf '%s\n' "$PASSWORD" | "$BIN" bench seed --members "$MEMBERS" --agents 8 \
  --out "$WORK/members.txt" --password-stdin | sed -n 2p)
printf '%s\n' "$PASSWORD" | "$BIN" member create --account "$ACCOUNT" --username bench-admin \
  --name "Bench Admin" --role admin --password-stdin >/dev/null
ACCOUNT_ID=$(Q "SELECT id FROM accounts WHERE number = '$ACCOUNT'")
FIRST=$(Q "SELECT MIN(id) FROM users WHERE account_id = $ACCOUNT_ID AND role = 'user'")
AGENT=$(Q "SELECT MIN(id) FROM users WHERE role = 'agent'")
MEMBER=bench-$FIRST

start() {
  "$BIN" serve --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  until curl -sf -o /dev/null "$BASE/healthz"; do
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  done
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

# wrk's figures for one page: requests/s and p99 (ms).
measure() {
  local tag=$1 cookie=$2 path=$3 marker=$4
  curl -s -H "Cookie: $cookie" "$BASE$path" >"$WORK/page.html"
  grep -q "$marker" "$WORK/page.html" || { echo "$tag: $path did not load"; exit 1; }
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $cookie" \
    "$BASE$path" >"$WORK/$tag.txt"
  R[$tag]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/$tag.txt")
  R[${tag}_p99]=$(bench_latency "$WORK/$tag.txt" 99)
  printf '  %-34s %7s req/s  p99 %8s ms\n' "$tag" "${R[$tag]}" "${R[${tag}_p99]}"
}

declare -A R
PAGES="profile users activity activity_member overview agent"
measure_pages() {
  local when=$1
  measure "profile_$when" "$MEMBER_COOKIE" /profile 'Support PIN'
  measure "users_$when" "$ADMIN_COOKIE" /users 'id="members-list"'
  measure "activity_$when" "$ADMIN_COOKIE" /users/activity 'Activity'
  measure "activity_member_$when" "$ADMIN_COOKIE" "/users/activity?member=$MEMBER&kind=pin" 'Activity'
  measure "overview_$when" "$ADMIN_COOKIE" /overview 'Overview'
  measure "agent_$when" "$AGENT_COOKIE" /agent 'Verify'
}

# Row i of ROWS: every 20th about the measured member (verifications, as i % 5 is 1), the others about the account's other
# members; four in five a verification by one of the 8 agents (one in seven of those wrong), the
# rest a login. Times run from 390 days ago (i = 1) to now (i = ROWS), ids in the same order.
NOW=$(date +%s)
SPAN=$((390 * 86400))
rows_sql() {
  local series=$1
  cat <<SQL
INSERT INTO audit_log (at, event, actor_id, actor_name, subject_id, account_id, detail, reference,
                       category)
SELECT $NOW - CAST(($ROWS - i) AS BIGINT) * $SPAN / $ROWS,
       CASE WHEN i % 5 = 0 THEN 'login.ok' WHEN i % 7 = 0 THEN 'pin.verify_failed' ELSE 'pin.verified' END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE $AGENT + i % 8 END,
       CASE WHEN i % 5 = 0 THEN 'bench' ELSE 'bench-agent-' || CAST(i % 8 AS TEXT) END,
       CASE WHEN i % ($ROWS / $ONE) = 1 THEN $FIRST ELSE $FIRST + 1 + i % ($MEMBERS - 1) END,
       $ACCOUNT_ID,
       CASE WHEN i % 5 = 0 THEN '' WHEN i % 7 = 0 THEN 'failure 1 of 6' ELSE '' END,
       CASE WHEN i % 3 = 0 THEN 'ticket ' || CAST(i AS TEXT) ELSE NULL END,
       -- What store::audit writes with each event (domain::ActivityKind).
       CASE WHEN i % 5 = 0 THEN 'logins' ELSE 'pin' END
FROM $series WHERE $2;
SQL
}
# write_rows CONDITION: the rows of the log whose i meets CONDITION, then the statistics a
# running server would have.
write_rows() {
  if [ "$BACKEND" = sqlite ]; then
    { echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)"
      rows_sql n "$1"
      echo "ANALYZE;"; } | sqlite3 "$DB"
  else
    rows_sql "generate_series(1, $ROWS) AS g(i)" "$1" | psql "$DATABASE_URL" -q
    psql "$DATABASE_URL" -qc "VACUUM (ANALYZE)"
  fi
}

# Day 1: 2 rows in 1 000 of the same log (i % 500 is 1 or 2: verifications of the measured
# member and of another), so that every page is as full as it will be later (a page of 50
# events, the agent's 20, a bar for each of the chart's 30 days) and only the history differs.
write_rows "i % 500 IN (1, 2)"

echo "--- fresh database ($BACKEND): $(Q 'SELECT COUNT(*) FROM audit_log') audit rows"
start
MEMBER_COOKIE=$(bench_cookie "$MEMBER" "$PASSWORD" "$BASE")
ADMIN_COOKIE=$(bench_cookie bench-admin "$PASSWORD" "$BASE")
# Agent 1: the day-1 rows (i % 500 is 1 or 2) give agents 1, 2, 5 and 6 verifications, not 0.
AGENT_COOKIE=$(bench_cookie bench-agent-1 "$PASSWORD" "$BASE")
measure_pages fresh
stop

echo "--- writing the whole log: $ROWS audit rows ($ONE about $MEMBER)"
t0=$(date +%s)
# The day-1 rows go and come back as the last of the whole log, in time order with the rest.
Q "DELETE FROM audit_log WHERE account_id = $ACCOUNT_ID AND actor_name LIKE 'bench%'" >/dev/null
write_rows "1 = 1"
echo "  written in $(( $(date +%s) - t0 )) s; the log holds $(Q 'SELECT COUNT(*) FROM audit_log') rows"

echo "--- the plans, on the long log"
bench/history_plans.sh "$BACKEND" "$ACCOUNT_ID" "$FIRST" $((AGENT + 1)) >"$PLANS"
echo "  written to $PLANS"
# BENCH_HISTORY_PLANS_ONLY=1: the plans are all that was asked for.
[ -n "${BENCH_HISTORY_PLANS_ONLY:-}" ] && exit 0

echo "--- after the long history ($BACKEND)"
start
measure_pages long

echo "--- the CSV export of the whole log, by a server started for it"
# A server of its own, so its memory is the export's and not what 32 connections and a login's
# argon2 run left behind (the session, in the database, outlives the restart).
stop
start
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
curl -s -o "$WORK/activity.csv" -w '%{time_total} %{size_download}\n' \
  -H "Cookie: $ADMIN_COOKIE" "$BASE/users/activity.csv" >"$WORK/csv.txt" &
CURL=$!
# The server's resident memory sampled while it exports (its high-water mark would be the
# start's: the dummy password hash's argon2 run).
RSS_MAX=$RSS_BEFORE
while kill -0 "$CURL" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
  [ "$rss" -gt "$RSS_MAX" ] && RSS_MAX=$rss
  sleep 0.05
done
wait "$CURL"
read -r CSV_SECONDS CSV_BYTES <"$WORK/csv.txt"
CSV_LINES=$(($(wc -l <"$WORK/activity.csv") - 1))
R[csv_s]=$(printf '%.1f' "$CSV_SECONDS")
R[csv_lines]=$CSV_LINES
R[csv_mib]=$(awk -v b="$CSV_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')
R[rss_before]=$(awk -v k="$RSS_BEFORE" 'BEGIN { printf "%.1f", k / 1024 }')
R[rss_peak]=$(awk -v k="$RSS_MAX" 'BEGIN { printf "%.1f", k / 1024 }')
echo "  $CSV_LINES events, ${R[csv_mib]} MiB in ${R[csv_s]} s; server RSS ${R[rss_before]} MiB before, at most ${R[rss_peak]} MiB during"
stop

echo "--- the profile's p99 while the retention sweep deletes the older half"
start
measure profile_idle "$MEMBER_COOKIE" /profile 'Support PIN'
stop
# Started with a retention of 195 days, the server's first housekeeping run deletes the older
# half of the log while wrk reads the profile.
PINPANEL_AUDIT_RETENTION_DAYS=195 RUST_LOG=pinpanel=info start
measure profile_sweep "$MEMBER_COOKIE" /profile 'Support PIN'
# The sweep's own account of itself, once it is done (a deadline, not a guess).
for _ in $(seq 1 600); do grep -q 'housekeeping done' "$WORK/server.log" && break; sleep 0.2; done
stop
# (The log's field names may come in colour: the escapes go first.)
sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" >"$WORK/server.txt"
R[swept]=$(grep -o 'audit_rows=[0-9]*' "$WORK/server.txt" | cut -d= -f2 | head -n1 || true)
R[sweep_ms]=$(grep -o 'elapsed_ms=[0-9]*' "$WORK/server.txt" | cut -d= -f2 | head -n1 || true)
echo "  the sweep removed ${R[swept]:-?} rows in ${R[sweep_ms]:-?} ms; $(Q 'SELECT COUNT(*) FROM audit_log') left"

TABLE=$({
  echo "| $BACKEND | short log ($((ROWS / 250)) rows) | long log ($ROWS rows) | ratio | p99 short → long (ms) | target |"
  echo "|---|---|---|---|---|---|"
  for p in $PAGES; do
    r=$(ratio "${R[${p}_long]}" "${R[${p}_fresh]}")
    echo "| $p (req/s) | ${R[${p}_fresh]} | ${R[${p}_long]} | $r | ${R[${p}_fresh_p99]} → ${R[${p}_long_p99]} | ≥ 0.83 $(met "$r" ">=" 0.83) |"
  done
  echo "| CSV export of the whole log | | $CSV_LINES events, ${R[csv_mib]} MiB | | ${R[csv_s]} s | < 20 s $(met "${R[csv_s]}" "<=" 20) |"
  echo "| the exporting server's RSS before → its highest during the export (MiB) | ${R[rss_before]} | ${R[rss_peak]} | | | < 50 $(met "${R[rss_peak]}" "<=" 50) |"
  echo "| profile p99 while the sweep deletes ${R[swept]:-?} rows in ${R[sweep_ms]:-?} ms | ${R[profile_idle_p99]} | ${R[profile_sweep_p99]} | $(ratio "${R[profile_sweep_p99]}" "${R[profile_idle_p99]}") | | |"
})
echo
echo "$TABLE"
if [ -n "${BENCH_HISTORY_OUT:-}" ]; then echo "$TABLE" >"$BENCH_HISTORY_OUT"; fi
