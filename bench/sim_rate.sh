#!/usr/bin/env bash
# Measures odoo-sim: RSS with --orders 220000 (~1,000,000 order lines) and the search_read rate
# of pos.order.line (all fields, 500 per page, keyset paging on id) with one client.
# Usage: bench/sim_rate.sh [orders]
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${1:-220000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/sim-target}"
cargo build -q -p odoo-sim --release --bin odoo-sim --example page_all
BIN="$CARGO_TARGET_DIR/release/odoo-sim"
CLIENT="$CARGO_TARGET_DIR/release/examples/page_all"

OUT=$(mktemp)
"$BIN" --listen 127.0.0.1:0 --orders "$ORDERS" >"$OUT" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$OUT"' EXIT
for _ in $(seq 1 600); do
  grep -q '^listening on ' "$OUT" && break
  kill -0 $PID 2>/dev/null || { echo "odoo-sim exited early" >&2; exit 1; }
  sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$OUT")
RSS_KB=$(awk '/^VmRSS:/ {print $2}' /proc/$PID/status)
echo "odoo-sim --orders $ORDERS at $URL, RSS after generation: $((RSS_KB / 1024)) MiB"
RESULT=$("$CLIENT" "$URL" 500 pos.order.line)
echo "$RESULT"
RSS_AFTER_KB=$(awk '/^VmRSS:/ {print $2}' /proc/$PID/status)
records=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' <<<"$RESULT")
seconds=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$RESULT")
rate=$(sed -n 's/.*records_per_sec=\([0-9]*\).*/\1/p' <<<"$RESULT")
echo "records: $records"
echo "seconds: $seconds"
echo "records/s: $rate"
echo "RSS MiB: $((RSS_KB / 1024)) after generation, $((RSS_AFTER_KB / 1024)) after paging"
