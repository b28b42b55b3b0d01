/* sim: the simulated exchange, for backtests and paper trading. In-process matching against
 * the market data the engine replays, on the engine's clock.
 *
 * The engine hands every market event to sv_sim_on_market() BEFORE strategies see it, so an
 * order a strategy places while handling bar N can first fill on bar N+1. Rules (docs/sim.md):
 *  - latency: an order sent at t is live (and acknowledged) from the first market event at or
 *    after t + latency; a cancel likewise.
 *  - validation at arrival (a reject report with the reason): instrument rules (tick, lot, min
 *    notional), balance (spot: a buy needs quote for notional + fee at the limit price or the
 *    last price; a sell needs the base quantity, counting what open orders already hold),
 *    post-only orders that would take liquidity.
 *  - bars: market orders fill at the bar's open (+/- slippage, taker). A buy limit at or above
 *    the open fills at the open (taker); a resting buy limit fills at its price (maker) when
 *    the low trades through it (low < limit); sells mirror. Stops trigger when the range
 *    reaches the stop (buy: high >= stop): a stop-market fills at max(open, stop) (buy) /
 *    min(open, stop) (sell) +/- slippage; a stop-limit becomes a limit at its price and may
 *    fill later in the same bar. Inside a bar the price path is open -> the nearer of high and
 *    low -> the other -> close, which orders the triggers of several orders.
 *  - trades: market orders fill at the trade's price +/- slippage (taker); a resting limit
 *    fills at its price (maker) when a trade prints through it (buy: trade price < limit),
 *    or at it with queue_position on, after the quantity traded at that price exceeds the
 *    queue ahead (the quote size seen when the order arrived, 0 without quotes).
 *  - quotes: market buys fill at the ask, sells at the bid (taker); a buy limit fills when the
 *    ask falls to or below it.
 *  - partial fills: at most participation x the bar's volume (or the trade's quantity) per
 *    order per event; the rest stays open. IOC cancels what is left after its first matching
 *    event, FOK fills whole on its first matching event or expires.
 *  - fees: maker/taker bps of the notional, rounded half away from zero, charged in the quote
 *    asset. */
#ifndef SV_SIM_H
#define SV_SIM_H

#include <stdint.h>

#include "abi.h"
#include "clock.h"
#include "exchange.h"
#include "instrument.h"

typedef struct sv_sim_options {
    int64_t latency_ns;
    sv_fixed_t maker_fee_bps;   /* fixed point: 10 bps = 10 * SV_FIXED_SCALE */
    sv_fixed_t taker_fee_bps;
    sv_fixed_t slippage_bps;
    sv_fixed_t participation;   /* fixed point in (0, 1] */
    int queue_position;         /* trades: model the queue at the limit price */
    uint32_t max_orders;        /* open orders held at once */
} sv_sim_options_t;

typedef struct sv_sim sv_sim_t;

/* Creates a venue that reports to sink, checks orders against ins (borrowed), and reads the
 * time from clock (borrowed). NULL on ENOMEM or bad options. */
sv_sim_t *sv_sim_new(const sv_sim_options_t *opts, const sv_instruments_t *ins, sv_clock_t *clock,
                     sv_exec_sink_t sink);
void sv_sim_free(sv_sim_t *sim);

/* The adapter the OMS sends to (its self is sim). */
sv_exchange_t sv_sim_exchange(sv_sim_t *sim);

/* Sets the venue-side balance of an asset (what it checks orders against). */
int sv_sim_set_balance(sv_sim_t *sim, uint32_t asset, sv_fixed_t amount);
sv_fixed_t sv_sim_balance(const sv_sim_t *sim, uint32_t asset);

/* Matches open orders against a market event (trade, quote or bar); reports go to the sink. */
void sv_sim_on_market(sv_sim_t *sim, const sv_event_t *ev);

/* Orders live at the venue now. */
uint32_t sv_sim_open_orders(const sv_sim_t *sim);

#endif
