#!/usr/bin/env bash
# The risk engine end to end, without Lua risk rules:
#   - a backtest where a daily loss limit flattens and halts: rejections named "halt", no
#     position and no fill after the halt, the report's rejects = the rejections logged;
#   - a backtest where a daily loss limit blocks new positions until the next day;
#   - the kill switch against a RUNNING paper engine: `silvertine kill-switch on` cancels its
#     resting order within a poll, `status` exits 3, `off` resets; the state survives a restart.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=${SV_BUILD:-build}/silvertine
PY=/usr/bin/python3
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cfgdir=tests/integration/config/environments

# ---- a daily loss limit that flattens and halts -------------------------------------------
$SV backtest -c $cfgdir/risk_halt.yaml --out "$tmp/halt" >"$tmp/halt.out" 2>"$tmp/halt.err"; rc=$?
expect_eq "halt: the backtest exits 0" 0 "$rc"
err=$(cat "$tmp/halt.err")
expect_match "halt: the daily loss monitor acts, in data time" \
  "ERROR risk: daily_loss: loss 10\.[0-9]+ since the period start reached the limit 10\.00 -> flatten_halt \(at 2024-01-02T" "$err"
expect_match "halt: it engages the kill switch" "kill switch engaged: daily_loss: .* -> flatten_halt; every open order is canceled" "$err"
expect_match "halt: it closes the position at market" "risk: flatten: 1 closing order sent" "$err"
halt_at=$(sed -n 's/.*-> flatten_halt (at \([0-9TZ:-]*\)).*/\1/p' "$tmp/halt.err" | head -1)
n_halt=$(grep -c "risk: signal [0-9]* of sma_cross (BTCUSDT) rejected: halt: trading halted by a flatten_halt action; reset the kill switch to resume" "$tmp/halt.err")
n_rej=$(grep -c "risk: signal .* rejected: " "$tmp/halt.err")
ok_if "halt: signals after the halt are rejected, named halt ($n_halt)" test "$n_halt" -gt 0
expect_eq "halt: every rejection is the halt's" "$n_halt" "$n_rej"
expect_match "halt: the strategy sees each as a rejected order" "order: order [0-9]+ \(BTCUSDT sma_cross\) rejected: halt: " "$err"
$PY - "$tmp/halt/report.json" "$halt_at" "$n_halt" >"$tmp/halt.chk" 2>&1 <<'PY'
import json, sys
import datetime
ms = lambda s: int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
rep = json.load(open(sys.argv[1])); halt = sys.argv[2].replace("Z", ".000Z"); n = int(sys.argv[3])
t, c = rep["trades"], rep["counts"]
assert c["rejects"] == n, f"report rejects {c['rejects']} != {n} rejections logged"
assert 10 < len(t) < 62, f"{len(t)} trades (62 without the limit)"
assert all(x["open_time"] < halt for x in t), "a position was opened after the halt"
last = max(x["close_time"] for x in t)
assert 0 <= ms(last) - ms(halt) <= 60000, f"the flatten closed at {last}, the halt was at {halt}"
assert c["fills"] == 2 * len(t), f"{c['fills']} fills for {len(t)} round trips: something is still open"
after = {e for ts, e in rep["equity"] if ts > ms(last)}
assert len(after) == 1, f"the equity moved after the flatten: {sorted(after)[:5]}"
print(f"{len(t)} trades, halted at {halt}, last close {last}, {n} rejections, flat after")
PY
rc=$?
expect_eq "halt: the report agrees (rejects counted, nothing opened or filled after the halt, flat equity)" 0 "$rc"
sed 's/^/# /' "$tmp/halt.chk"

# ---- a daily loss limit that blocks until the next day ------------------------------------
$SV backtest -c $cfgdir/risk_block.yaml --out "$tmp/block" >"$tmp/block.out" 2>"$tmp/block.err"; rc=$?
expect_eq "block: the backtest exits 0" 0 "$rc"
blocks=$(sed -n 's/.*daily_loss: loss [0-9.]* since the period start reached the limit 3\.00 -> block (at \([0-9TZ:-]*\)).*/\1/p' "$tmp/block.err")
expect_eq "block: it acts once on each day" "2024-01-01 2024-01-02" "$(echo "$blocks" | cut -c1-10 | tr '\n' ' ' | sed 's/ $//')"
n_block=$(grep -c "risk: signal .* rejected: block: new positions are blocked by the daily_loss monitor; only reducing orders pass" "$tmp/block.err")
n_rej=$(grep -c "risk: signal .* rejected: " "$tmp/block.err")
ok_if "block: new positions are rejected, named block ($n_block)" test "$n_block" -gt 0
expect_eq "block: every rejection is the block's" "$n_block" "$n_rej"
$PY - "$tmp/block/report.json" $blocks >"$tmp/block.chk" 2>&1 <<'PY'
import json, sys
rep = json.load(open(sys.argv[1])); b1, b2 = (s.replace("Z", ".000Z") for s in sys.argv[2:4])
t, c = rep["trades"], rep["counts"]
day2 = "2024-01-02T00:00:00.000Z"
assert not [x for x in t if b1 <= x["open_time"] < day2], "a position was opened on day 1 after the block"
assert [x for x in t if day2 <= x["open_time"] < b2], "no position opened on day 2 before its block: not lifted"
assert not [x for x in t if x["open_time"] >= b2], "a position was opened on day 2 after the block"
assert [x for x in t if x["open_time"] < b1 <= x["close_time"] < day2], "the position open at the block was not closed"
assert c["fills"] == 2 * len(t), f"{c['fills']} fills for {len(t)} round trips: a reducing order did not pass"
print(f"{len(t)} trades, blocked at {b1} and {b2}, lifted at midnight, {c['rejects']} rejects")
PY
rc=$?
expect_eq "block: only reducing orders pass while blocked, and the next day lifts it" 0 "$rc"
sed 's/^/# /' "$tmp/block.chk"

# ---- the kill switch against a running paper engine ---------------------------------------
export SV_KILL_FILE=$tmp/state/kill_switch
cfg=$cfgdir/risk_kill.yaml
wait_for() { # file, regex, tenths of a second
  for _ in $(seq 1 "$3"); do grep -Eq -- "$2" "$1" && return 0; sleep 0.1; done; return 1
}
$SV kill-switch status -c $cfg >"$tmp/ks.out" 2>&1; rc=$?
expect_eq "kill switch: status of a fresh config exits 0 (reset)" 0 "$rc"
$SV run -c $cfg >"$tmp/run.out" 2>"$tmp/run.err" &
pid=$!
# the strategy buys at market, then leaves a buy limit at half the price resting
wait_for "$tmp/run.out" "FILL" 50
sleep 0.5
alive=0; kill -0 "$pid" 2>/dev/null && alive=1
expect_eq "kill switch: the paper engine is running with its first fill" 1 "$alive"
$SV kill-switch on -c $cfg --reason "integration test" >"$tmp/ks.out" 2>&1; rc=$?
expect_eq "kill switch: on exits 0" 0 "$rc"
expect_match "kill switch: on says so" "kill switch ENGAGED \($tmp/state/kill_switch\)" "$(cat "$tmp/ks.out")"
ok_if "kill switch: the state file is written" test -f "$SV_KILL_FILE"
wait_for "$tmp/run.err" "kill switch: [0-9]+ open orders? canceled" 30
err=$(cat "$tmp/run.err")
expect_match "kill switch: the running engine logs the engagement" \
  "ERROR risk: kill switch engaged \(state file present\): every open order is canceled" "$err"
expect_match "kill switch: and cancels the resting order" "ERROR risk: kill switch: 1 open order canceled" "$err"
$SV kill-switch status -c $cfg >"$tmp/ks.out" 2>&1; rc=$?
expect_eq "kill switch: status exits 3 while engaged" 3 "$rc"
expect_match "kill switch: status says ENGAGED" "kill switch ENGAGED" "$(cat "$tmp/ks.out")"
$SV kill-switch off -c $cfg >"$tmp/ks.out" 2>&1; rc=$?
expect_eq "kill switch: off exits 0" 0 "$rc"
ok_if "kill switch: the state file is removed" test ! -e "$SV_KILL_FILE"
wait_for "$tmp/run.err" "kill switch reset" 30
expect_match "kill switch: the running engine logs the reset" \
  "WARN  risk: kill switch reset \(state file removed\): trading resumes" "$(cat "$tmp/run.err")"
$SV kill-switch status -c $cfg >"$tmp/ks.out" 2>&1; rc=$?
expect_eq "kill switch: status exits 0 after off" 0 "$rc"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
out=$(cat "$tmp/run.out")
expect_eq "kill switch: the engine exits 0 on SIGTERM" 0 "$rc"
ok_if "kill switch: nothing was left open to cancel at shutdown" bash -c "! grep -q 'canceled [0-9]* open order' '$tmp/run.out'"

# the state survives a restart: engaged before the engine starts, its first order is refused
$SV kill-switch on -c $cfg >/dev/null 2>&1
$SV run -c $cfg >"$tmp/run2.out" 2>"$tmp/run2.err" &
pid=$!
wait_for "$tmp/run2.err" "rejected: kill_switch" 50
kill -TERM "$pid" 2>/dev/null; wait "$pid"; pid=
err=$(cat "$tmp/run2.err")
expect_match "restart: the engine starts with the kill switch engaged" "kill switch engaged \(state file present\)" "$err"
expect_match "restart: the strategy's order is rejected, named kill_switch" \
  "order: order 1 \(BTCUSDT rester\) rejected: kill_switch: engaged: no new orders until it is reset" "$err"
ok_if "restart: no fill" bash -c "! grep -q FILL '$tmp/run2.out'"
$SV kill-switch off -c $cfg >/dev/null 2>&1

# bad use
$SV kill-switch maybe -c $cfg >/dev/null 2>&1; rc=$?
expect_eq "kill-switch with a bad verb exits 2" 2 "$rc"
$SV kill-switch on >/dev/null 2>&1; rc=$?
expect_eq "kill-switch without -c exits 2" 2 "$rc"

tap_done
