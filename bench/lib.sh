# Shared by the bench scripts (sourced): the binary to measure, and a database of its own.

# Sets BIN: BENCH_BIN (another build, for a before/after comparison), else a release build.
bench_binary() {
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
  else
    echo "--- building release"
    cargo build --release --quiet
    BIN=$ROOT/target/release/pinpanel
  fi
}

# A fresh PIN key, and DATABASE_URL: a new PostgreSQL database named after $1 when
# BENCH_POSTGRES_URL is set, else SQLite in $WORK. Sets BACKEND (and PGBASE, PGDB).
bench_database() {
  PINPANEL_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export PINPANEL_KEY
  if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
    PGBASE=$BENCH_POSTGRES_URL
    PGDB=pinpanel_$1_$$
    psql "$PGBASE" -qc "CREATE DATABASE $PGDB" >/dev/null
    export DATABASE_URL=${PGBASE%/*}/$PGDB
    BACKEND=postgres
  else
    export DATABASE_URL=sqlite:$WORK/pinpanel.db
    BACKEND=sqlite
  fi
}

# For the EXIT trap: drops the PostgreSQL database, if one was made.
bench_drop_database() {
  if [ -n "${PGDB:-}" ]; then
    psql "$PGBASE" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1
  fi
  true
}

# Logs $1 in with the password $2 on the server at $3 (http://host:port) and prints its session
# cookie as `name=value` (`__Host-pinpanel` when cookies are marked secure, else `pinpanel`).
bench_cookie() {
  local user=$1 password=$2 base=$3 jar page token
  jar=$(mktemp)
  page=$(curl -s -c "$jar" -b "$jar" "$base/login")
  token=$(printf '%s' "$page" | grep -o 'name="csrf_token" value="[^"]*"' | head -n1 | sed 's/.*value="//; s/"$//')
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
    --data-urlencode "username=$user" --data-urlencode "password=$password" "$base/login"
  awk '$6 ~ /pinpanel$/ {print $6 "=" $7}' "$jar"
  rm -f "$jar"
}

# bench_nginx DIR PORT FILE: nginx serving DIR/html on 127.0.0.1:PORT (the files to compare with
# are put there first; FILE is one of them, asked for until nginx answers). Sets BENCH_NGINX_PID.
bench_nginx() {
  local dir=$1 port=$2 probe=$3
  mkdir -p "$dir/html" "$dir/logs"
  chmod 755 "$dir" "$(dirname "$dir")"  # nginx workers run as another user
  chmod -R a+rX "$dir/html"
  cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  types { text/html html; text/css css; }
  server {
    listen 127.0.0.1:$port;
    root $dir/html;
  }
}
CONF
  command -v nginx >/dev/null || export PATH=$PATH:/usr/sbin
  nginx -p "$dir" -c "$dir/nginx.conf" 2>"$dir/start.err" &
  BENCH_NGINX_PID=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/$probe" && return; sleep 0.05; done
  echo "nginx did not start:"; cat "$dir/start.err" "$dir/logs/error.log"; exit 1
}

# bench_workdir NAME: a scratch folder (WORK) and, on exit, the server (SERVER) and nginx
# (BENCH_NGINX_PID) stopped, the folder removed and the PostgreSQL database dropped (kept with
# BENCH_KEEP=1, for a look at other plans).
bench_workdir() {
  WORK=$(mktemp -d "/tmp/pinpanel-$1.XXXXXX")
  SERVER=""
  BENCH_NGINX_PID=""
  trap bench_cleanup EXIT
}
bench_cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null
  [ -n "${BENCH_NGINX_PID:-}" ] && kill "$BENCH_NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
  [ -n "${BENCH_KEEP:-}" ] || bench_drop_database
}

# bench_latency FILE PCT: the PCT percentile of a `wrk --latency` output, in milliseconds.
bench_latency() {
  awk -v q="$2%" '$1 == q {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); printf "%.2f\n", v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.2f\n", v} else {sub(/s$/,"",v); printf "%.0f\n", v*1000}}' "$1"
}

# ratio A B: A / B to two places ("n/a" when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# met VALUE OP TARGET: "met" or "**missed**" (OP is >= or <=; "?" for n/a).
met() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "n/a") print "?"; else if ((op == ">=" && v >= t) || (op == "<=" && v <= t)) print "met"; else print "**missed**" }'; }
