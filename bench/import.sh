#!/usr/bin/env bash
# Importing an existing customer base (issue 26): `pinpanel import members` with 100 000 rows,
# every tenth with its own PIN, the rest generated, in 100 accounts created on the way. The goal
# is under a minute on SQLite on the CI machine. Not part of `cargo test`: timings are not
# assertions.
#
#   bench/import.sh                                  # SQLite, 100 000 rows
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/import.sh
#   BENCH_BIN=/tmp/old/pinpanel BENCH_ROWS=20000 bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${BENCH_ROWS:-100000}

. bench/lib.sh
bench_binary
WORK=$(mktemp -d /tmp/pinpanel-import.XXXXXX)
trap 'rm -rf "$WORK"; bench_drop_database' EXIT
bench_database import
"$BIN" migrate >/dev/null

# The given PINs come from a list that passes the PIN rules.
python3 - "$ROWS" > "$WORK/members.csv" <<'PY'
import sys
rows = int(sys.argv[1])
pins = ["271828", "314159", "161803", "141421", "173205", "223606", "264575", "577215"]
print("account,username,name,email,type,role,external_id,pin")
for i in range(rows):
    account = 7000000 + i % 100
    pin = pins[i // 10 % len(pins)] if i % 10 == 0 else ""
    role = "admin" if i < 100 else "user"
    kind = "contact" if i % 7 == 0 else "user"
    print(f'{account},bench{i:06d},"Member {i}, Bench",bench{i:06d}@example.com,{kind},{role},ext-{i},{pin}')
PY

echo "--- $ROWS rows on $BACKEND ($(du -h "$WORK/members.csv" | cut -f1))"
start=$(date +%s.%N)
"$BIN" import members "$WORK/members.csv" --dry-run --create-accounts | tail -n1
mid=$(date +%s.%N)
"$BIN" import members "$WORK/members.csv" --create-accounts --no-invite 2>/dev/null | tail -n1
end=$(date +%s.%N)
echo "checking the file: $(echo "$mid - $start" | bc) s; importing it: $(echo "$end - $mid" | bc) s"

# Run again: everything is there, so every row is skipped and nothing is written.
again=$(date +%s.%N)
"$BIN" import members "$WORK/members.csv" --create-accounts --no-invite 2>/dev/null | tail -n1
echo "the same file again: $(echo "$(date +%s.%N) - $again" | bc) s"
