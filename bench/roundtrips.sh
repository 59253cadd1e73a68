#!/usr/bin/env bash
# Counts the SQL statements (each one a round trip: two thread hand-offs on SQLite, a network
# round trip on PostgreSQL) that one request of each kind costs, from sqlx's own statement log.
# Warms the pool up first, then averages over ten requests.
#
#   bench/roundtrips.sh                                             # SQLite
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/roundtrips.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/pinpanel}
[ -x "$BIN" ] || cargo build --release --quiet
PORT=18490
PASSWORD="bench password 1"
WORK=$(mktemp -d /tmp/pinpanel-rt.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${PG_DB:-}" ] && psql "$BENCH_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${KEEP_LOG:-}" ] && cp "$WORK/log" "$KEEP_LOG"
  rm -rf "$WORK"
}
trap cleanup EXIT
export PINPANEL_KEY
PINPANEL_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PINPANEL_COOKIE_SECURE=false PINPANEL_REQUIRE_TWO_STEP=none
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  PG_DB="pinpanel_rt_$$"
  psql "$BENCH_POSTGRES_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  URL=$(printf '%s' "$BENCH_POSTGRES_URL" | sed -E "s#/[^/?]*(\?|$)#/$PG_DB\1#")
else
  URL="sqlite:$WORK/rt.db"
fi
printf '%s\n' "$PASSWORD" | DATABASE_URL=$URL "$BIN" bench seed --members 10 --agents 1 \
  --out "$WORK/members.txt" --password-stdin >/dev/null
DATABASE_URL=$URL RUST_LOG="warn,sqlx::query=debug" NO_COLOR=1 \
  "$BIN" serve --addr "127.0.0.1:$PORT" >/dev/null 2>"$WORK/log" &
SERVER_PID=$!
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; do sleep 0.05; done
read -r ID PIN < <(head -n1 "$WORK/members.txt")
page=$(curl -s -c "$WORK/jar" -b "$WORK/jar" "http://127.0.0.1:$PORT/login")
csrf=$(printf '%s' "$page" | grep -o 'name="csrf_token" value="[^"]*"' | head -n1 | sed 's/.*value="//; s/"$//')
curl -s -o /dev/null -c "$WORK/jar" -b "$WORK/jar" --data-urlencode "csrf_token=$csrf" \
  --data-urlencode "username=bench-$ID" --data-urlencode "password=$PASSWORD" "http://127.0.0.1:$PORT/login"
TOKEN=$(curl -s "http://127.0.0.1:$PORT/v2.0/tokens" -H 'Content-Type: application/json' \
  -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"bench-agent-0\",\"password\":\"$PASSWORD\"}}}" |
  grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
profile() { curl -s -o /dev/null -b "$WORK/jar" "http://127.0.0.1:$PORT/profile"; }
verify() {
  curl -s -o /dev/null "http://127.0.0.1:$PORT/v2.0/users/$ID/RAX-AUTH/phone-pin/verify" \
    -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' -d "{\"RAX-AUTH:phonePin\":{\"pin\":\"$1\"}}"
}
login_form() {  # a fresh browser: the login page, then the form (a session is created)
  local jar="$WORK/jar-login" page csrf
  rm -f "$jar"
  page=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$PORT/login")
  csrf=$(printf '%s' "$page" | grep -o 'name="csrf_token" value="[^"]*"' | head -n1 | sed 's/.*value="//; s/"$//')
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$csrf" \
    --data-urlencode "username=bench-$ID" --data-urlencode "password=$PASSWORD" "http://127.0.0.1:$PORT/login"
}
token() {
  curl -s -o /dev/null "http://127.0.0.1:$PORT/v2.0/tokens" -H 'Content-Type: application/json' \
    -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"bench-$ID\",\"password\":\"$PASSWORD\"}}}"
}
count() {  # <label> <command...>: statements per request, over ten requests after a warm-up
  local label=$1; shift
  for _ in 1 2 3; do "$@"; done
  sleep 0.2
  local before; before=$(grep -c 'sqlx::query' "$WORK/log" || true)
  for _ in $(seq 1 10); do "$@"; done
  sleep 0.2
  local after; after=$(grep -c 'sqlx::query' "$WORK/log" || true)
  awk -v a="$after" -v b="$before" -v l="$label" 'BEGIN { printf "| %s | %.1f |\n", l, (a - b) / 10 }'
}
echo "| request | statements |"
echo "|---|---|"
count "GET /profile" profile
count "POST verify, right PIN" verify "$PIN"
# Wrong PINs never reach a lock: each is followed by the right one, whose count is taken off.
wrong_then_right() { verify 000000; verify "$PIN"; }
right=$(count "x" verify "$PIN" | awk -F'|' '{print $3}')
both=$(count "x" wrong_then_right | awk -F'|' '{print $3}')
awk -v b="$both" -v r="$right" 'BEGIN { printf "| POST verify, wrong PIN | %.1f |\n", b - r }'
count "POST /login (the form, right password)" login_form
count "POST /v2.0/tokens (right password)" token
echo
echo "(sqlx does not log BEGIN and COMMIT: on SQLite a verification's transaction adds those two;"
echo "on PostgreSQL a verification takes no transaction unless its failure locks the PIN.)"
