#!/usr/bin/env bash
# Provisioning at scale (issue 25): an identity system creating a whole directory one POST at a
# time, then listing it in pages of 200; page 50 should cost what page 1 does. Not part of
# `cargo test`: timings are not assertions.
#
#   bench/scim.sh                                  # SQLite, 10 000 members
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/scim.sh
#   BENCH_BIN=/tmp/old/pinpanel BENCH_MEMBERS=2000 bench/scim.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MEMBERS=${BENCH_MEMBERS:-10000}
PORT=18491

. bench/lib.sh
bench_binary
bench_workdir scim
bench_database scim
"$BIN" migrate >/dev/null
NUMBER=$("$BIN" account create --name "Bench Hosting" | tail -n1)
echo "a long enough password" | "$BIN" member create --account "$NUMBER" --username bench-admin \
  --name "Bench Admin" --role admin --password-stdin >/dev/null
TOKEN=$("$BIN" scim token create --account "$NUMBER" --name bench | tail -n1)
PINPANEL_COOKIE_SECURE=false RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:$PORT \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

echo "--- $BACKEND: $MEMBERS members, one POST /Users at a time, then pages of 200"
URL="http://127.0.0.1:$PORT/scim/v2"
SCIM_TOKEN=$TOKEN python3 bench/scim_load.py "$URL" "$MEMBERS" create
echo "right after the load:"
SCIM_TOKEN=$TOKEN python3 bench/scim_load.py "$URL" "$MEMBERS" pages
if [ "$BACKEND" = postgres ]; then
  # What autovacuum does within a minute of such a load (the visibility map lets the page's ids
  # come from the index alone).
  psql "$DATABASE_URL" -qc "VACUUM (ANALYZE) users" >/dev/null
  echo "after VACUUM (ANALYZE), as autovacuum leaves it:"
  SCIM_TOKEN=$TOKEN python3 bench/scim_load.py "$URL" "$MEMBERS" pages
fi
