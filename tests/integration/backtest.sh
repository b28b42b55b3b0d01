#!/usr/bin/env bash
# `silvertine backtest` end to end: the exact trades and final PnL of sma_cross on a fixed
# dataset, checked against an independent model (sma_cross_model.py); byte-identical reports
# from two runs; multi-symbol; bad input.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=${SV_BUILD:-build}/silvertine
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg=tests/integration/config/environments/fixture.yaml

out=$($SV backtest -c $cfg --out "$tmp/a" 2>&1); rc=$?
expect_eq "the fixture backtest exits 0" 0 "$rc"
ok_if "report.json written" test -s "$tmp/a/report.json"
ok_if "report.html written" test -s "$tmp/a/report.html"
expect_match "the summary table is printed" "Total return +-?[0-9.]+%" "$out"
expect_match "and where the report is" "report: $tmp/a/report.json" "$out"

# the engine's trades vs the independent model, trade by trade, to 1e-8
$PY tests/integration/sma_cross_model.py tests/integration/data/BTCUSDT-1m-fixture.csv >"$tmp/model.txt"
$PY - "$tmp/a/report.json" "$tmp/model.txt" >"$tmp/cmp.txt" 2>&1 <<'PY'
import json, sys, datetime
from decimal import Decimal
rep = json.load(open(sys.argv[1]))
model = [l.split() for l in open(sys.argv[2])]
final = Decimal(model[-1][1]); model = model[:-1]
ms = lambda s: int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
trades = rep["trades"]
assert len(trades) == len(model), f"{len(trades)} trades, model has {len(model)}"
for i, (t, m) in enumerate(zip(trades, model)):
    got = (ms(t["open_time"]), ms(t["close_time"]))
    assert got == (int(m[0]), int(m[1])), f"trade {i}: times {got} != {m[:2]}"
    for k, j in (("entry_price", 2), ("exit_price", 3), ("pnl", 4), ("fees", 5)):
        assert abs(Decimal(repr(t[k])) - Decimal(m[j])) < Decimal("1e-8"), f"trade {i} {k}: {t[k]} != {m[j]}"
fe = Decimal(repr(rep["metrics"]["final_equity"]))
assert abs(fe - final) < Decimal("1e-8"), f"final equity {fe} != model {final}"
print(f"{len(trades)} trades and final equity {final} agree")
PY
rc=$?
expect_eq "every trade and the final equity agree with the independent model" 0 "$rc"
sed 's/^/# /' "$tmp/cmp.txt"
n=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))['trades']))" "$tmp/a/report.json")
ok_if "the fixture produces trades ($n)" test "$n" -gt 10

# determinism
$SV backtest -c $cfg --out "$tmp/b" >/dev/null 2>&1
ok_if "report.json is byte-identical across runs" cmp -s "$tmp/a/report.json" "$tmp/b/report.json"
ok_if "report.html is byte-identical across runs" cmp -s "$tmp/a/report.html" "$tmp/b/report.html"
ok_if "report.html is self-contained (no external resources)" bash -c "! grep -Eq '(src|href)=\"?http' '$tmp/a/report.html'"
expect_eq "report.html has the equity and drawdown charts" 2 "$(grep -o '<svg' "$tmp/a/report.html" | wc -l)"

# multi-symbol, time window
out=$($SV backtest -c config/environments/backtest.yaml --data examples/data/BTCUSDT-1m.csv \
      --data examples/data/ETHUSDT-1m.csv --from 2024-01-02 --to 2024-01-04 --out "$tmp/m" 2>&1); rc=$?
expect_eq "a two-symbol backtest exits 0" 0 "$rc"
expect_match "it replays both files over two days" "done: 5760 events" "$out"

# trades file aggregated into bars
out=$($SV backtest -c config/environments/backtest.yaml --data examples/data/BTCUSDT-trades.csv --out "$tmp/t" 2>&1); rc=$?
expect_eq "a backtest on a trades file exits 0" 0 "$rc"
expect_match "it counts trades and the bars made from them" "done: [0-9]+ events" "$out"

# bad input
printf '1,2,3\n' >"$tmp/x.csv"
out=$($SV backtest -c $cfg --data "BTCUSDT=$tmp/x.csv" --out "$tmp/x" 2>&1); rc=$?
expect_eq "an unreadable layout exits 1" 1 "$rc"
expect_match "naming the file and line" "x.csv:1: cannot tell the layout: 3 columns" "$out"
out=$($SV backtest -c $cfg --from 2024-13-01 2>&1); rc=$?
expect_eq "a bad --from exits 2" 2 "$rc"
expect_match "with the reason" "bad time '2024-13-01'" "$out"
out=$($SV backtest 2>&1); rc=$?
expect_eq "a missing -c exits 2" 2 "$rc"

tap_done
