/* risk: every signal passes here before it becomes an order. Protects capital even from a
 * broken strategy.
 *
 * Pre-trade checks (C, in this order; the first that fails names the rejection):
 *   halt (named first: a halt engages the kill switch too), kill_switch, allowlist,
 *   trading_hours, price_sanity (> 0 where needed), min_price / max_price, price_band (bps
 *   from the last trade, quote mid or bar close), [reduce: a reduce action scales the qty
 *   first, floored to the lot, so that every limit sees the order that will be sent; an order
 *   that only reduces the position is not scaled], max_order_qty, max_order_notional,
 *   max_position_qty, max_position_notional (after the order, worst case: open orders on the
 *   same side count; a reducing order passes), max_gross_exposure, max_open_orders (an amend,
 *   replace_id, is not counted twice), rate_limit (exact token buckets per second and per
 *   minute), duplicate (same strategy, symbol, side, qty and price within N ms), self_trade
 *   (crosses one of the engine's own resting orders), trades_per_hour / trades_per_day (their
 *   action `block`: a sliding window checked here), block (a monitor's "block new orders"
 *   action: only orders that reduce a position pass), then the custom Lua rules (fail closed).
 * Limits come from config/risk/NAME.yaml: `defaults` with per-symbol overrides in `symbols`;
 * a limit left out (0) is off. Quantities and prices are exact fixed point; a limit is
 * inclusive: exactly at the limit passes, one unit over is rejected.
 *
 * Post-trade monitors (on fills and on marks, evaluated at most every monitor interval of
 * data time): daily / weekly / monthly loss (realized + unrealized, from the equity at the
 * start of the period in the configured time zone), drawdown from the equity peak with tiers,
 * a circuit breaker on a loss within a window, consecutive losing round trips, trades (orders
 * sent) per hour and per day. Each has an action: alert, reduce (new order sizes times a
 * factor), block (only position-reducing orders) or flatten_halt (cancel everything, close
 * every position at market, then refuse all orders until the kill switch is reset; the reset
 * starts the monitors over from the current equity, as a restart would). A block or reduce
 * ends with its period (loss limits), at a new equity high (drawdown), one window after it
 * tripped (breaker), the next local day (consecutive losses) or when the count falls below
 * the limit (trades per hour/day); with several reduces in force the smallest factor
 * applies. Every action is an SV_EV_ALERT event and a log line (with the data time); every
 * rejection is a REJECTED order event (through the OMS) whose reason names the rule,
 * delivered to the strategy's on_order.
 *
 * The kill switch: engaged by sv_risk_kill_switch() (CLI `silvertine kill-switch on|off`
 * through the state file the config names, watched by the engine) or by a flatten_halt
 * action; engaging cancels every open order; its state is the file, so it survives a
 * restart. No allocation per check. */
#ifndef SV_RISK_H
#define SV_RISK_H

#include <stdint.h>

#include "abi.h"
#include "error.h"

enum {
    SV_RISK_ACTION_NONE = 0,
    SV_RISK_ACTION_ALERT = 1,
    SV_RISK_ACTION_REDUCE = 2,
    SV_RISK_ACTION_BLOCK = 3,
    SV_RISK_ACTION_FLATTEN_HALT = 4
};

/* Limits of one symbol (a zero field is "no limit"). */
typedef struct sv_risk_limits {
    sv_fixed_t max_order_qty;
    sv_fixed_t max_order_notional;
    sv_fixed_t max_position_qty;
    sv_fixed_t max_position_notional;
    sv_fixed_t min_price;
    sv_fixed_t max_price;
    int64_t price_band_bps;      /* 0: off */
    uint32_t max_open_orders;    /* 0: off */
    int64_t duplicate_window_ns; /* 0: off */
} sv_risk_limits_t;

/* A monitor: a threshold and its action. */
typedef struct sv_risk_monitor {
    int action;         /* SV_RISK_ACTION_*; NONE = monitor off */
    double limit;       /* loss in quote units (loss limits), a fraction (drawdown, breaker), a count */
    int64_t window_ns;  /* circuit breaker window */
    double factor;      /* reduce: size multiplier in (0, 1) */
} sv_risk_monitor_t;

enum { SV_RISK_MAX_TIERS = 8, SV_RISK_MAX_RESTRICTED = 8 };

typedef struct sv_risk_hours {
    int enabled;
    int start_min, end_min;       /* minutes after local midnight, [start, end) */
    uint8_t days;                 /* bit 0 = Monday .. bit 6 = Sunday */
    int no_trade_after_open_min;  /* restricted: the first N minutes of the session */
    int no_trade_before_close_min;/* restricted: the last N minutes */
} sv_risk_hours_t;

/* The whole risk configuration (sv_risk_config_from_cfg fills it from the YAML). */
typedef struct sv_risk_config {
    sv_risk_limits_t defaults;
    sv_fixed_t max_gross_exposure;    /* 0: off */
    uint32_t rate_per_second, rate_per_minute; /* 0: off */
    int self_trade_prevention;
    char timezone[64];                /* IANA zone of trading hours and loss periods; "" = UTC */
    int allowlist_enabled;            /* symbols allowed are those sv_risk_allow() was given */
    sv_risk_hours_t hours;
    sv_risk_monitor_t daily_loss, weekly_loss, monthly_loss;
    sv_risk_monitor_t drawdown[SV_RISK_MAX_TIERS]; /* limit = fraction, ascending */
    uint32_t n_drawdown;
    sv_risk_monitor_t circuit_breaker;  /* limit = fraction of equity lost within window_ns */
    sv_risk_monitor_t consecutive_losses; /* limit = count */
    sv_risk_monitor_t trades_per_hour, trades_per_day; /* limit = count */
    int64_t monitor_interval_ns;      /* 0: every event */
    char kill_switch_file[1024];      /* "" = in memory only */
} sv_risk_config_t;

/* What the risk engine reads from the rest of the core (all borrowed). */
typedef struct sv_risk_env {
    void *ud;
    /* position of the account (strategy 0) or a strategy on a symbol: signed qty, the mark,
     * and realized PnL minus fees so far (for round-trip results) */
    void (*position)(void *ud, uint32_t strategy, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *mark,
                     sv_fixed_t *net_realized);
    /* account equity in the quote asset */
    sv_fixed_t (*equity)(void *ud);
    /* cancel every open order (returns how many) and submit a market order closing each
     * position (returns how many) */
    int (*cancel_all)(void *ud);
    int (*flatten)(void *ud);
    /* interned texts for alerts */
    uint32_t (*text)(void *ud, const char *s);
    int64_t (*now)(void *ud);
    void (*publish)(void *ud, sv_event_t *ev); /* an SV_EV_ALERT */
    void (*log)(void *ud, int level, const char *msg);
    const char *(*symbol_name)(void *ud, uint32_t symbol);
    /* lot size of a symbol (for reduce sizing); 0 = unknown */
    sv_fixed_t (*lot)(void *ud, uint32_t symbol);
} sv_risk_env_t;

/* A custom rule (Lua, see rules.h): returns 0 to pass, else fills reason (the rule's own words,
 * or the error it raised) and returns SV_E_REJECTED. */
typedef int (*sv_risk_rule_fn)(void *ud, const sv_event_t *signal, char *reason, size_t len);

typedef struct sv_risk sv_risk_t;

typedef struct sv_risk_stats {
    uint64_t checked, approved, rejected;
    uint64_t by_rule[32];  /* rejections per rule id (sv_risk_rule_name) */
    uint64_t actions;      /* monitor actions taken */
} sv_risk_stats_t;

sv_risk_t *sv_risk_new(const sv_risk_config_t *cfg, const sv_risk_env_t *env, uint32_t max_symbols);
void sv_risk_free(sv_risk_t *r);

/* Per-symbol overrides of the defaults. */
int sv_risk_set_limits(sv_risk_t *r, uint32_t symbol, const sv_risk_limits_t *limits);
/* Adds a symbol to the allowlist (only used when allowlist_enabled). */
int sv_risk_allow(sv_risk_t *r, uint32_t symbol);
/* Adds a custom rule, run after the C checks in the order added. */
int sv_risk_add_rule(sv_risk_t *r, const char *name, sv_risk_rule_fn fn, void *ud);

/* Checks a signal. Returns 0 when approved (then *signal may have been changed: a reduce
 * action scales its qty down to the lot), or SV_E_REJECTED with reason "rule: why". */
int sv_risk_check(sv_risk_t *r, sv_event_t *signal, char *reason, size_t len);

/* What the risk engine watches: market data (last prices), order events (open orders,
 * orders sent), fills (round trips and monitors). */
void sv_risk_on_event(sv_risk_t *r, const sv_event_t *ev);

/* Engages (on != 0) or resets the kill switch, writing the state file (its directory is made
 * if missing); engaging cancels every open order. Reset also clears a halt. 0 or SV_E_IO. */
int sv_risk_kill_switch(sv_risk_t *r, int on, const char *why);
/* Re-reads the state file (the engine calls it when the file changes). */
void sv_risk_kill_switch_sync(sv_risk_t *r);
int sv_risk_kill_switch_engaged(const sv_risk_t *r);
int sv_risk_halted(const sv_risk_t *r);
/* Current size factor (1.0 unless a reduce action is in force). */
double sv_risk_size_factor(const sv_risk_t *r);
/* The limits in force for a symbol (defaults merged with overrides). */
const sv_risk_limits_t *sv_risk_limits(const sv_risk_t *r, uint32_t symbol);

const char *sv_risk_rule_name(int rule);
const char *sv_risk_action_name(int action);
int sv_risk_action_parse(const char *s);
void sv_risk_stats(const sv_risk_t *r, sv_risk_stats_t *out);

#endif
