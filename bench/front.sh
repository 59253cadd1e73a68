#!/usr/bin/env bash
# The cost before the database (issue 28), side by side with nginx serving the same bytes from
# files, in one run on SQLite (and on PostgreSQL for the profile when BENCH_POSTGRES_URL is set):
#
#   login     GET /login (a render, a CSRF cookie, no database)  vs nginx serving its HTML
#   css       GET /static/app.<hash>.css                          vs nginx serving the file
#   healthz   GET /healthz
#   stall     the stylesheet on one kept-alive connection (wrk -t1 -c1), p50: Nagle's stall
#             (the tests check the cause, TCP_NODELAY on every accepted socket, not the time:
#             assets::accepted_connections_have_tcp_nodelay)
#   profile   GET /profile (a session, one statement)             vs nginx serving its HTML
#   browser   the profile's full page load in headless Chromium, cold and warm (page_load.py)
#
#   bench/front.sh
#   BENCH_BIN=/tmp/before/pinpanel bench/front.sh          # another build, for before/after
#   BENCH_FRONT_OUT=/tmp/front.md bench/front.sh            # the table, also to a file
# Not part of `cargo test`: timings are not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PORT=18496
NGINX_PORT=18497
BASE=http://127.0.0.1:$PORT
NGINX=http://127.0.0.1:$NGINX_PORT
PASSWORD="bench password 1"
command -v wrk >/dev/null || { echo "bench/front.sh needs wrk (apt-get install wrk)"; exit 1; }

. bench/lib.sh
bench_binary
bench_workdir front
export PINPANEL_COOKIE_SECURE=false RUST_LOG=warn PINPANEL_REQUIRE_TWO_STEP=none

declare -A R
# wrk URL TAG [ARGS…]: requests/s, p50 and p99 (ms) of one run.
run_wrk() {
  local url=$1 tag=$2
  shift 2
  wrk -d"${SECONDS_PER_RUN}s" --latency "$@" "$url" >"$WORK/$tag.txt"
  R[$tag]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/$tag.txt")
  for q in 50 99; do R[${tag}_p$q]=$(bench_latency "$WORK/$tag.txt" "$q"); done
  printf '  %-22s %8s req/s  p50 %7s ms  p99 %7s ms\n' "$tag" "${R[$tag]}" "${R[${tag}_p50]}" "${R[${tag}_p99]}"
}
many() { run_wrk "$1" "$2" -t2 -c"$CONNECTIONS" "${@:3}"; }

for BACKEND_WANTED in sqlite ${BENCH_POSTGRES_URL:+postgres}; do
  PGURL=$([ "$BACKEND_WANTED" = postgres ] && echo "${BENCH_POSTGRES_URL:-}" || true)
  BENCH_POSTGRES_URL_SAVED=${BENCH_POSTGRES_URL:-}
  BENCH_POSTGRES_URL=$PGURL bench_database "front_$BACKEND_WANTED"
  BENCH_POSTGRES_URL=$BENCH_POSTGRES_URL_SAVED
  "$BIN" migrate >/dev/null
  printf '%s\n' "$PASSWORD" | "$BIN" bench seed --members 10 --agents 1 --out "$WORK/members.txt" \
    --password-stdin >/dev/null
  MEMBER=bench-$(head -n1 "$WORK/members.txt" | cut -d' ' -f1)
  "$BIN" serve --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  until curl -sf -o /dev/null "$BASE/healthz"; do
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  done
  COOKIE=$(bench_cookie "$MEMBER" "$PASSWORD" "$BASE")
  B=$BACKEND_WANTED
  echo "=== $B"

  # The same bytes for nginx: the login page, the stylesheet under its own path, the profile.
  mkdir -p "$WORK/nginx/html"
  curl -s "$BASE/login" >"$WORK/nginx/html/login.html"
  CSS=$(grep -o 'href="/static/app\.[0-9a-f]*\.css"' "$WORK/nginx/html/login.html" | head -n1 | cut -d'"' -f2)
  mkdir -p "$WORK/nginx/html/static"
  curl -s "$BASE$CSS" >"$WORK/nginx/html$CSS"
  curl -s -H "Cookie: $COOKIE" "$BASE/profile" >"$WORK/nginx/html/profile.html"
  grep -q 'Support PIN' "$WORK/nginx/html/profile.html" || { echo "the profile did not load"; exit 1; }
  [ -n "$BENCH_NGINX_PID" ] || bench_nginx "$WORK/nginx" "$NGINX_PORT" login.html

  if [ "$B" = sqlite ]; then
    many "$BASE/login" login
    many "$NGINX/login.html" nginx_login
    many "$BASE$CSS" css
    many "$NGINX$CSS" nginx_css
    many "$BASE/healthz" healthz
    run_wrk "$BASE$CSS" stall -t1 -c1
    run_wrk "$NGINX$CSS" nginx_stall -t1 -c1
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
      read -r R[load_cold] R[load_warm] R[load_cold_n] R[load_warm_n] < <(/usr/bin/python3 bench/page_load.py \
        "$BASE" "${COOKIE%%=*}" "${COOKIE#*=}" /profile "${BENCH_LOADS:-10}")
      echo "  page load of /profile: cold ${R[load_cold]} ms (${R[load_cold_n]} assets fetched), warm ${R[load_warm]} ms (${R[load_warm_n]})"
    else
      echo "  (no page load: needs chromium, chromium-driver and python3-selenium)"
    fi
  fi
  many "$BASE/profile" "profile_$B" -H "Cookie: $COOKIE"
  many "$NGINX/profile.html" "nginx_profile_$B"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  SERVER=""
  bench_drop_database
  PGDB=""
done

TABLE=$({
  echo "| $CONNECTIONS connections, ${SECONDS_PER_RUN} s | pinpanel req/s (p99) | nginx req/s (p99) | ratio | target |"
  echo "|---|---|---|---|---|"
  r=$(ratio "${R[login]}" "${R[nginx_login]}")
  echo "| GET /login | ${R[login]} (${R[login_p99]} ms) | ${R[nginx_login]} (${R[nginx_login_p99]} ms) | $r | ≥ 0.8 $(met "$r" ">=" 0.8) |"
  r=$(ratio "${R[css]}" "${R[nginx_css]}")
  echo "| GET $CSS | ${R[css]} (${R[css_p99]} ms) | ${R[nginx_css]} (${R[nginx_css_p99]} ms) | $r | ≥ 0.5 $(met "$r" ">=" 0.5) |"
  echo "| GET /healthz | ${R[healthz]} (${R[healthz_p99]} ms) | | | |"
  echo "| the stylesheet on one kept-alive connection, p50 | ${R[stall_p50]} ms | ${R[nginx_stall_p50]} ms | | well under 40 ms |"
  for B in sqlite ${BENCH_POSTGRES_URL:+postgres}; do
    t=$([ "$B" = sqlite ] && echo 0.3 || echo 0.2)
    r=$(ratio "${R[profile_$B]}" "${R[nginx_profile_$B]}")
    echo "| GET /profile, $B | ${R[profile_$B]} (${R[profile_${B}_p99]} ms) | ${R[nginx_profile_$B]} (${R[nginx_profile_${B}_p99]} ms) | $r | ≥ $t $(met "$r" ">=" "$t") |"
  done
  if [ -n "${R[load_cold]:-}" ]; then
    echo "| the profile's page load in headless Chromium, cold (empty cache) | ${R[load_cold]} ms, ${R[load_cold_n]} assets fetched | | | |"
    echo "| the same, warm (cached) | ${R[load_warm]} ms, ${R[load_warm_n]} assets fetched | | | |"
  fi
})
echo
echo "$TABLE"
if [ -n "${BENCH_FRONT_OUT:-}" ]; then echo "$TABLE" >"$BENCH_FRONT_OUT"; fi
