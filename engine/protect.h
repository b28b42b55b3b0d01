/* protect: protective orders owned by the core — stop loss (fixed or trailing), take profit
 * with partial levels, and brackets (both) — kept per (strategy, symbol) position and
 * triggered here, in C, so they keep protecting a position when the strategy that opened it
 * raised, was disabled, is stopping or is being reloaded. Rules and examples: docs/protective-orders.md.
 *
 * Where the protections come from:
 *   - an order's own spec (ctx:buy(sym, qty, price, { stop_loss_pct = 2, ... }) -> ctx.lua ->
 *     sv_protect_order(signal_id)): pending until that order fills (ORDER events bind the
 *     signal id to the client id; FILL events carry the client id), then attached to the
 *     position the fill opens or adds to;
 *   - the strategy's defaults (the `protect:` section of its config), for every position it
 *     opens. An order's spec overrides the defaults group by group: stop loss, trailing stop,
 *     take profit (so a default stop stays when an order only names take-profit levels).
 * Percentages are of the average entry price (recomputed when the strategy adds); a trailing
 * stop sits trailing_pct below the best price since entry for a long (above for a short).
 *
 * Triggers: trade price; quote bid (long) / ask (short); bar: the venue's intra-bar path
 * (open -> nearer extreme -> other extreme -> close, docs/sim.md), from where the entry fill
 * happened on the entry bar, so the trailing stop ratchets and the stop and the take-profit
 * levels fire in the order the path meets them. A level is crossed "at or beyond". A stop
 * (the tighter of the fixed and trailing one) closes all that is left; take-profit level i
 * closes fraction i of the basis (the position as the strategy last shaped it: protective
 * exits do not change it), rounded down to the lot, 0 = all that is left; a remainder below
 * one lot goes too. When one side of a bracket closes everything, the other side is gone.
 *
 * An exit is a reduce-only market order for the owning strategy, tagged stop_loss,
 * trailing_stop or take_profit, sent straight to the OMS: it does not pass the pre-trade
 * checks (it only reduces) and it is sent while the kill switch is engaged (logged). It is
 * not sent while the risk engine is halted (flatten_halt closes everything itself). Every
 * trigger is an SV_EV_ALERT (code SV_ALERT_RISK, source = strategy, value = exit client id,
 * text "<tag>: <strategy> <symbol> <long|short>") and a log line with the prices.
 * The engine keeps a strategy's own cancels (ctx:cancel, ctx:cancel_all, the cancel when it is
 * disabled) away from its exits (sv_protect_is_exit). An exit canceled or expired before it
 * filled anyway (the kill switch cancels every order) is sent again on the symbol's next
 * market event; after 3 venue rejects in a row the protections of that position are dropped
 * with an error. Exits are only sent from inside a bus delivery (the module is a subscriber),
 * so the OMS's ORDER events about them always arrive after they are recorded here.
 * Position changes: flat -> protections and any exit in flight are removed; a flip -> the old
 * side's are removed and the new side gets the order's spec or the defaults; a partial close
 * by the strategy -> fractions apply to what is left; exits in flight that would overshoot
 * the position are canceled (and the rest re-sent).
 *
 * No allocation after creation; a market event costs O(protected positions on its symbol),
 * O(1) when there are none. */
#ifndef SV_PROTECT_H
#define SV_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "error.h"

/* What the module reads from and does to the rest of the core (all borrowed). */
typedef struct sv_protect_env {
    void *ud;
    /* the strategy's position on symbol after every fill so far: signed qty, average entry */
    void (*position)(void *ud, uint32_t strategy, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *avg);
    /* sends an order (an SV_EV_SIGNAL event, not published) to the OMS without risk checks;
     * returns its client id (> 0) or a negative code */
    int64_t (*submit)(void *ud, const sv_event_t *signal);
    int (*cancel)(void *ud, uint64_t client_id);
    sv_fixed_t (*lot)(void *ud, uint32_t symbol);   /* 0: unknown (no rounding) */
    int (*halted)(void *ud);                         /* the risk engine halted trading */
    int (*kill_switch)(void *ud);                    /* engaged (for the log) */
    int64_t (*now)(void *ud);
    void (*publish)(void *ud, sv_event_t *ev);       /* an SV_EV_ALERT */
    uint32_t (*text)(void *ud, const char *s);       /* interned text id */
    void (*log)(void *ud, int level, const char *msg);
    const char *(*symbol_name)(void *ud, uint32_t symbol);
    const char *(*strategy_name)(void *ud, uint32_t strategy);
} sv_protect_env_t;

typedef struct sv_protect sv_protect_t;

enum { SV_PROTECT_STOP_LOSS = 1, SV_PROTECT_TRAILING_STOP = 2, SV_PROTECT_TAKE_PROFIT = 3 };

/* What is in force for one position (sv_protect_state). Prices are 0 when not set. */
typedef struct sv_protect_state {
    int side;                   /* +1 long, -1 short */
    sv_fixed_t qty;             /* |position| */
    sv_fixed_t basis;           /* what take-profit fractions apply to */
    sv_fixed_t entry;           /* average entry price */
    sv_fixed_t stop_loss;       /* fixed stop level */
    sv_fixed_t trailing_stop;   /* trailing stop level now */
    sv_fixed_t best;            /* best price since entry */
    sv_fixed_t take_profit[SV_PROTECT_LEVELS];
    sv_fixed_t take_profit_qty[SV_PROTECT_LEVELS]; /* what each level closes now (0 = all left) */
    uint32_t n_take_profit;
    uint32_t done;              /* bit i: take-profit level i has fired */
    sv_fixed_t in_flight;       /* unfilled quantity of exits sent */
    int closing;                /* an exit of everything left is in flight */
} sv_protect_state_t;

typedef struct sv_protect_stats {
    uint64_t attached;    /* positions that got protections */
    uint64_t triggers;    /* levels that fired */
    uint64_t exits;       /* exit orders sent (re-sends included) */
    uint64_t resent;      /* exits sent again after a cancel, expiry or reject */
    uint64_t removed;     /* positions whose protections ended (flat, flip, give-up) */
} sv_protect_stats_t;

/* A module for symbol ids < max_symbols, strategy ids <= max_strategies, up to max_positions
 * protected positions and max_pending orders waiting for their first fill. NULL on ENOMEM or
 * a bad argument. */
sv_protect_t *sv_protect_new(const sv_protect_env_t *env, uint32_t max_symbols, uint32_t max_strategies,
                             uint32_t max_positions, uint32_t max_pending);
void sv_protect_free(sv_protect_t *p);

/* Checks a spec: finite values, prices and percentages >= 0, stop percentages < 100,
 * fractions in [0, 1] summing to at most 1, at most SV_PROTECT_LEVELS take-profit levels
 * each with exactly one of a price and a percentage, not both stop_loss and stop_loss_pct,
 * something set. 0, or SV_E_INVAL with why filled. */
int sv_protect_validate(const sv_protect_spec_t *spec, char *why, size_t len);

/* Sets (spec) or clears (NULL) a strategy's defaults. 0, SV_E_RANGE, or SV_E_INVAL (why). */
int sv_protect_set_defaults(sv_protect_t *p, uint32_t strategy, const sv_protect_spec_t *spec, char *why,
                            size_t len);

/* Attaches spec to the position the order signal_id opens or adds to, at its first fill.
 * signal_id 0 applies it to the strategy's open position on symbol now (SV_E_STATE when
 * flat). 0, SV_E_INVAL (why), SV_E_RANGE (ids), SV_E_FULL (table full). */
int sv_protect_order(sv_protect_t *p, uint32_t strategy, uint32_t symbol, uint64_t signal_id,
                     const sv_protect_spec_t *spec, char *why, size_t len);

/* Removes the protections of a position (and cancels its exits in flight). 0 or SV_E_NOTFOUND. */
int sv_protect_remove(sv_protect_t *p, uint32_t strategy, uint32_t symbol);

/* Feeds the module: market data (triggers), ORDER (binding, exits' ends), FILL (positions).
 * Subscribe it after the portfolio has applied fills. */
void sv_protect_on_event(sv_protect_t *p, const sv_event_t *ev);

/* The protections of a position: 0, or SV_E_NOTFOUND when it has none. */
int sv_protect_state(const sv_protect_t *p, uint32_t strategy, uint32_t symbol, sv_protect_state_t *out);
/* 1 when client_id is a protective exit in flight of strategy on symbol: a strategy's own
 * cancels (ctx:cancel, ctx:cancel_all, its disabling) leave those alone. */
int sv_protect_is_exit(const sv_protect_t *p, uint32_t strategy, uint32_t symbol, uint64_t client_id);
/* Protective exits of a strategy in flight now. */
uint32_t sv_protect_exits(const sv_protect_t *p, uint32_t strategy);
/* Positions protected now. */
uint32_t sv_protect_count(const sv_protect_t *p);
void sv_protect_stats(const sv_protect_t *p, sv_protect_stats_t *out);
const char *sv_protect_kind_name(int kind);

#endif
