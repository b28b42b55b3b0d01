/* portfolio: positions, average entry price, realized and unrealized PnL, fees, balances per
 * asset and closed round-trip trades, with exact fixed-point arithmetic.
 *
 * Positions are kept per (strategy, symbol) and for the whole account (strategy 0). The
 * average-cost method: `cost` is the signed cost basis of the open quantity (quote units; a
 * long's cost is positive, a short's is the negative of its proceeds). A fill of side s,
 * quantity q at price p has notional n = round(p * q) (half away from zero, 1e-8):
 *   - same direction (or flat): qty += s*q, cost += s*n
 *   - against the position: the closed part c = min(q, |qty|) releases cost_c = cost * c/|qty|
 *     (all of it when c == |qty|) and realizes  -s*n_c - cost_c  with n_c = n * c/q (all of n
 *     when c == q); any rest of q opens a position the other way.
 * So realized - cost == -(sum of signed notionals s*n) always, and a strategy back at flat has
 * cost 0 and realized PnL == -(sum of its signed notionals), to the last unit. Balances move
 * by exactly those notionals and fees: buy: base += q, quote -= n; sell: base -= q,
 * quote += n; the fee leaves the fee asset.
 * Unrealized PnL = round(mark * qty) - cost. Nothing here allocates per fill except the
 * closed-trade list, which grows by one record per round trip.
 *
 * The account position is the sum of the strategies' positions (qty, cost, realized, fees),
 * not a position of its own: one strategy's sell does not close another's buy, so a hedged
 * account is flat with a cost (the spread locked in between them, shown as unrealized).
 * Fills with strategy 0 form their own hidden position, counted in the account. Fees are
 * counted in quote units: as is when paid in the quote asset, at the fill's price when paid in
 * the base asset, at the mark of the <fee asset><quote> symbol otherwise (0 without one). A
 * fill also becomes its symbol's mark. Round trips are kept per strategy position (strategy 0:
 * that hidden one); a flip splits the fill's fee pro rata between the closed and the new trip.
 * See docs/portfolio.md. */
#ifndef SV_PORTFOLIO_H
#define SV_PORTFOLIO_H

#include <stdint.h>

#include "abi.h"
#include "instrument.h"

typedef struct sv_position {
    uint32_t strategy;     /* 0 = account */
    uint32_t symbol;
    sv_fixed_t qty;        /* signed: > 0 long, < 0 short */
    sv_fixed_t cost;       /* signed cost basis of qty */
    sv_fixed_t realized;   /* realized PnL, before fees */
    sv_fixed_t fees;       /* fees paid, in quote units (not in realized) */
    sv_fixed_t mark;       /* last price seen (0: none yet) */
    int64_t opened_ts;     /* when the current position was opened (0: flat) */
} sv_position_t;

/* A closed round trip: from flat to flat (a flip closes one and opens the next). */
typedef struct sv_trade_record {
    uint32_t strategy;
    uint32_t symbol;
    int8_t side;           /* +1 long, -1 short */
    int64_t open_ts, close_ts;
    sv_fixed_t qty;        /* largest absolute position held */
    sv_fixed_t entry_price; /* average price of the opening fills */
    sv_fixed_t exit_price;  /* average price of the closing fills */
    sv_fixed_t pnl;        /* realized PnL minus fees */
    sv_fixed_t fees;       /* quote units */
} sv_trade_record_t;

typedef struct sv_portfolio sv_portfolio_t;

/* Creates a portfolio for symbol ids and asset ids < max_ids and strategy ids <= max_strategies,
 * using the instruments (borrowed; expected fixed once trading starts) to find each symbol's
 * base and quote assets. NULL on ENOMEM or a bad argument. */
sv_portfolio_t *sv_portfolio_new(const sv_instruments_t *ins, uint32_t max_ids, uint32_t max_strategies);
void sv_portfolio_free(sv_portfolio_t *p);

/* Sets an asset's balance (starting capital). SV_E_RANGE for a bad id (0 or >= max_ids). */
int sv_portfolio_set_balance(sv_portfolio_t *p, uint32_t asset, sv_fixed_t amount);
sv_fixed_t sv_portfolio_balance(const sv_portfolio_t *p, uint32_t asset);

/* Applies a fill event (SV_EV_FILL: h.symbol, h.ts_exchange, u.fill side/price/qty/fee/
 * fee_asset/strategy) to the strategy's and the account's position and to the balances.
 * Returns 0, SV_E_NOTFOUND (no instrument for the symbol), SV_E_INVAL (not a fill, bad
 * side/qty/price, a fee without a valid asset), SV_E_RANGE (overflow, or a symbol, asset or
 * strategy id beyond the tables) or SV_E_NOMEM / SV_E_FULL (the trade list cannot grow). On
 * error nothing has changed. */
int sv_portfolio_apply_fill(sv_portfolio_t *p, const sv_event_t *fill);

/* Records the last price of a symbol (for unrealized PnL and equity); ignores price <= 0 and
 * ids out of range. */
void sv_portfolio_mark(sv_portfolio_t *p, uint32_t symbol, sv_fixed_t price);

/* The position of strategy (0 = account) on symbol; a flat zero position when none. */
const sv_position_t *sv_portfolio_position(const sv_portfolio_t *p, uint32_t strategy, uint32_t symbol);
sv_fixed_t sv_portfolio_unrealized(const sv_position_t *pos);

/* Account equity in `quote` units: that asset's balance plus every other asset's balance
 * valued at the mark of its <asset><quote> instrument (assets without a mark count 0; of two
 * such instruments, the first marked). Each product rounds on its own; O(marked symbols). */
sv_fixed_t sv_portfolio_equity(const sv_portfolio_t *p, uint32_t quote);

/* 1 when the account holds any non-zero position. */
int sv_portfolio_exposed(const sv_portfolio_t *p);

/* Closed round trips so far, oldest first. */
uint32_t sv_portfolio_trade_count(const sv_portfolio_t *p);
const sv_trade_record_t *sv_portfolio_trade(const sv_portfolio_t *p, uint32_t i);

/* Totals over all fills: fees paid (quote units) and the number of fills. */
sv_fixed_t sv_portfolio_fees(const sv_portfolio_t *p);
uint64_t sv_portfolio_fills(const sv_portfolio_t *p);

#endif
