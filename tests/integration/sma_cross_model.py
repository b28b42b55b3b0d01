#!/usr/bin/env python3
"""An independent model of strategies/sma_cross.lua on the simulated exchange's bar rules,
written from the documented rules only (docs/sim.md, docs/portfolio.md), with exact decimals.

Prints one line per closed trade, "open_ms close_ms entry exit pnl fees", then
"final_equity X". The integration test compares it with the engine's report.json.

Rules modelled: SMA(fast)/SMA(slow) of closes; on a change of side (after the first known
side) buy `qty` if flat and fast > slow, sell the whole position if long and fast <= slow;
a market order placed on bar i fills at bar i+1's open as taker (fee = notional * bps / 1e4,
rounded half away from zero to 1e-8); the fill is known to the strategy when it sees bar i+1.
An order placed on the last bar never fills (canceled at the end)."""
import sys
from decimal import Decimal, ROUND_HALF_UP

Q = Decimal("0.00000001")


def rnd(x):
    return x.quantize(Q, rounding=ROUND_HALF_UP)  # half away from zero for positives


def main(path, fast, slow, qty, fee_bps, start_cash):
    bars = []
    with open(path) as f:
        for line in f:
            c = line.strip().split(",")
            if not c[0].isdigit():
                continue
            bars.append((int(c[0]), Decimal(c[1]), Decimal(c[4])))  # open_time, open, close
    closes, pos, cash, above, pending = [], Decimal(0), Decimal(start_cash), None, None
    trade, trades = None, []
    for i, (t_open, o, c) in enumerate(bars):
        if pending is not None:  # fill at this bar's open
            side, q = pending
            notional = rnd(o * q)
            fee = rnd(notional * Decimal(fee_bps) / Decimal(10000))
            if side > 0:
                pos += q
                cash -= notional + fee
                trade = {"open": t_open, "entry": o, "q": q, "cost": notional, "fees": fee}
            else:
                pos -= q
                cash += notional - fee
                trade["fees"] += fee
                pnl = notional - trade["cost"] - trade["fees"]
                trades.append((trade["open"], t_open, trade["entry"], o, pnl, trade["fees"]))
                trade = None
            pending = None
        closes.append(c)
        if len(closes) < slow:
            continue
        f = sum(closes[-fast:]) / fast
        s = sum(closes[-slow:]) / slow
        now_above = f > s
        if above is not None and now_above != above:
            if now_above and pos <= 0:
                pending = (1, Decimal(qty))
            elif not now_above and pos > 0:
                pending = (-1, pos)
        above = now_above
    last_close = bars[-1][2]
    equity = cash + rnd(pos * last_close)
    for t in trades:
        print(t[0], t[1], t[2], t[3], t[4], t[5])
    print("final_equity", equity)


if __name__ == "__main__":
    main(sys.argv[1], 10, 30, "0.01", 10, "10000")
