#!/usr/bin/env bash
# The plans of the statements that read the audit log behind a page (issue 29), on the database
# DATABASE_URL names: `bench/history_plans.sh BACKEND ACCOUNT_ID MEMBER_ID AGENT_ID`. Each
# statement is the one its store function builds (src/store/audit.rs, pins.rs, users.rs), with
# the values a page binds; keep them in step when a statement changes.
#
# PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) of the statement prepared with its parameters and
# planned generically (plan_cache_mode = force_generic_plan), which is the plan a long-running
# server's prepared statement can settle on. SQLite: EXPLAIN QUERY PLAN, and the statement's
# run time.
set -euo pipefail
BACKEND=$1 ACCOUNT=$2 MEMBER=$3 AGENT=$4
NOW=$(date +%s)

# plan NAME "TYPES" "SQL with \$n" ARG...: the plan of SQL with the arguments bound.
plan() {
  local name=$1 types=$2 sql=$3
  shift 3
  echo "=== $name"
  if [ "$BACKEND" = postgres ]; then
    psql "$DATABASE_URL" -Atq <<SQL
SET plan_cache_mode = force_generic_plan;
PREPARE s ($types) AS $sql;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE s ($(IFS=,; echo "$*"));
SQL
  else
    local literal=$sql n
    for ((n = $#; n >= 1; n--)); do literal=${literal//\$$n/${!n}}; done
    sqlite3 "${DATABASE_URL#sqlite:}" "EXPLAIN QUERY PLAN $literal" | sed 's/^[0-9|]*//'
    printf '.timer on\n%s;\n' "$literal" | sqlite3 "${DATABASE_URL#sqlite:}" | grep 'Run Time' | tail -n1
  fi
  echo
}

PIN="'pin'"
EVENT_ROW="a.id, a.at, a.event, a.actor_name, COALESCE(u.username, a.subject_name) AS subject_name, a.detail, a.address, a.reference"

plan "profile: the member's PIN row and latest 20 PIN events (store::pins::with_activity)" \
  "bigint, text" \
  "SELECT p.user_id, p.state, p.failures, p.changed_at, p.locked_at, e.at, e.event, e.actor_name, e.detail, e.reference FROM support_pins p LEFT JOIN (SELECT id, at, event, actor_id, actor_name, detail, reference FROM audit_log WHERE subject_id = \$1 AND category = \$2 ORDER BY id DESC LIMIT 20) e ON 1 = 1 WHERE p.user_id = \$1 ORDER BY e.id DESC" \
  "$MEMBER" "$PIN"

plan "Users: the first page of 50 members by name with their last PIN activity (store::users::listing)" \
  "bigint, bigint" \
  "SELECT u.id, u.username, u.full_name, COALESCE(p.state, 'INACTIVE') AS pin_state, p.last_event_at FROM (SELECT u.id FROM users u WHERE u.account_id = \$1 ORDER BY u.full_name, u.username LIMIT 50 OFFSET \$2) page JOIN users u ON u.id = page.id LEFT JOIN support_pins p ON p.user_id = u.id ORDER BY u.full_name, u.username" \
  "$ACCOUNT" 0

plan "Activity: the account's latest 51 events (store::audit::account_activity)" \
  "bigint" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = \$1 ORDER BY a.id DESC LIMIT 51" \
  "$ACCOUNT"

plan "Activity filtered to one member's PIN events (store::audit::account_activity)" \
  "bigint, bigint, text" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = \$1 AND a.subject_id = \$2 AND a.category = \$3 ORDER BY a.id DESC LIMIT 51" \
  "$ACCOUNT" "$MEMBER" "$PIN"

plan "Activity, a page deep in the log: the next 51 before an id (keyset, store::audit::account_activity)" \
  "bigint, bigint" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = \$1 AND a.id < \$2 ORDER BY a.id DESC LIMIT 51" \
  "$ACCOUNT" 500000

plan "Activity filtered to a date range of one day, 200 days ago (store::audit::account_activity)" \
  "bigint, bigint, bigint" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = \$1 AND a.at >= \$2 AND a.at < \$3 ORDER BY a.id DESC LIMIT 51" \
  "$ACCOUNT" $((NOW - 200 * 86400)) $((NOW - 199 * 86400))

plan "CSV export: one batch of 1 000 events of the stream (store::audit::account_activity)" \
  "bigint, bigint" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.account_id = \$1 AND a.id < \$2 ORDER BY a.id DESC LIMIT 1000" \
  "$ACCOUNT" 100000

plan "Agent: their own latest 20 verifications (store::audit::by_actor)" \
  "bigint, text, text" \
  "SELECT $EVENT_ROW FROM audit_log a LEFT JOIN users u ON u.id = a.subject_id WHERE a.actor_id = \$1 AND a.event IN (\$2, \$3) ORDER BY a.id DESC LIMIT 20" \
  "$AGENT" "'pin.verified'" "'pin.verify_failed'"

plan "Overview: the account's verifications per day for 30 days (store::audit::verifications_per_day)" \
  "bigint, text, text, text, bigint" \
  "SELECT CAST(at / 86400 AS BIGINT) AS day, event, CAST(COUNT(*) AS BIGINT) AS n FROM audit_log WHERE account_id = \$1 AND event IN (\$2, \$3, \$4) AND at >= \$5 GROUP BY CAST(at / 86400 AS BIGINT), event" \
  "$ACCOUNT" "'pin.verified'" "'pin.verify_failed'" "'pin.locked'" $((NOW - 30 * 86400))

plan "Overview and every verification: wrong PINs in the last hour (store::alarms)" \
  "bigint, text, bigint" \
  "SELECT COUNT(*) FROM audit_log WHERE account_id = \$1 AND event = \$2 AND at >= \$3" \
  "$ACCOUNT" "'pin.verify_failed'" $((NOW - 3600))

plan "Retention sweep: one batch of 5 000 of the oldest rows (store::audit::delete_older_than)" \
  "bigint" \
  "SELECT id FROM audit_log WHERE at < \$1 ORDER BY at LIMIT 5000" \
  $((NOW - 195 * 86400))
