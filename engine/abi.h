/* abi: the stable, versioned interface between the C core and Lua.
 *
 * This header is the single source of truth for both sides. The part between the
 * SV_CDEF_BEGIN and SV_CDEF_END markers is plain C with no preprocessor lines: the build
 * embeds exactly that text into libsilvertine (sv_abi_cdef()), and the Lua side hands it to
 * ffi.cdef. A test compares sizeof/offsetof of every struct in C and in LuaJIT.
 *
 * Invariants:
 *  - every event is one fixed-size sv_event_t (128 bytes): a common header and a payload
 *    union; events are copied by value, never allocated per event;
 *  - prices, quantities, fees and money are exact int64 fixed point with SV_FIXED_SCALE
 *    units per 1 (1e-8); no float ever enters a position or a balance;
 *  - timestamps are int64 nanoseconds since the Unix epoch (UTC);
 *  - symbols travel as interned uint32 ids, never as strings;
 *  - a change to any layout below bumps SV_ABI_VERSION. */
#ifndef SV_ABI_H
#define SV_ABI_H

#include <stddef.h>
#include <stdint.h>

/* SV_CDEF_BEGIN */
enum { SV_ABI_VERSION = 2 };

/* Fixed point: 1 unit = 1e-8. */
typedef int64_t sv_fixed_t;
enum { SV_FIXED_DIGITS = 8, SV_FIXED_SCALE = 100000000 };

/* Event kinds. Market data kinds together form the public MarketData stream. */
typedef enum sv_event_kind {
    SV_EV_NONE = 0,
    SV_EV_TRADE = 1,     /* market data: a public trade */
    SV_EV_QUOTE = 2,     /* market data: top of book */
    SV_EV_BAR = 3,       /* market data: an OHLCV bar */
    SV_EV_DEPTH = 4,     /* market data: a depth (order book) update */
    SV_EV_SIGNAL = 5,    /* a strategy's intent */
    SV_EV_ORDER = 6,     /* a risk-approved order and its updates */
    SV_EV_FILL = 7,      /* an execution */
    SV_EV_TIMER = 8,     /* internal: a script's timer fired */
    SV_EV_ALERT = 9,     /* internal: risk alert, script disabled, reload, ... */
    SV_EV_POSITION = 10, /* internal: a position changed */
    SV_EV_KIND_COUNT = 11
} sv_event_kind_t;

typedef enum sv_side { SV_SIDE_NONE = 0, SV_SIDE_BUY = 1, SV_SIDE_SELL = -1 } sv_side_t;

typedef enum sv_order_type {
    SV_ORDER_MARKET = 0,
    SV_ORDER_LIMIT = 1,
    SV_ORDER_STOP_MARKET = 2,
    SV_ORDER_STOP_LIMIT = 3
} sv_order_type_t;

typedef enum sv_tif { SV_TIF_GTC = 0, SV_TIF_IOC = 1, SV_TIF_FOK = 2 } sv_tif_t;

enum {
    SV_ORDER_FLAG_POST_ONLY = 1,
    SV_ORDER_FLAG_REDUCE_ONLY = 2
};

typedef enum sv_order_status {
    SV_OS_NEW = 0,
    SV_OS_PENDING = 1,
    SV_OS_ACKNOWLEDGED = 2,
    SV_OS_PARTIALLY_FILLED = 3,
    SV_OS_FILLED = 4,
    SV_OS_CANCELED = 5,
    SV_OS_REJECTED = 6,
    SV_OS_EXPIRED = 7,
    SV_OS_PENDING_CANCEL = 8,
    SV_OS_PENDING_REPLACE = 9
} sv_order_status_t;

typedef enum sv_liquidity { SV_LIQ_NONE = 0, SV_LIQ_MAKER = 1, SV_LIQ_TAKER = 2 } sv_liquidity_t;

/* Alert codes carried by SV_EV_ALERT. */
typedef enum sv_alert_code {
    SV_ALERT_NONE = 0,
    SV_ALERT_SCRIPT_ERROR = 1,    /* a script raised; it is disabled */
    SV_ALERT_SCRIPT_LIMIT = 2,    /* a script hit its CPU or memory limit; disabled */
    SV_ALERT_SCRIPT_RELOADED = 3, /* a script was reloaded */
    SV_ALERT_RELOAD_FAILED = 4,   /* a reload failed; the old version keeps running */
    SV_ALERT_RISK = 5,            /* a risk rule acted */
    SV_ALERT_DATA = 6             /* bad market data was dropped */
} sv_alert_code_t;

/* The common header of every event: 40 bytes. */
typedef struct sv_event_header {
    uint16_t kind;        /* sv_event_kind_t */
    uint16_t flags;
    uint32_t symbol;      /* interned symbol id; 0 = none */
    uint64_t seq;         /* bus sequence number, assigned at publish */
    int64_t ts_exchange;  /* ns: time at the exchange (or in the data file) */
    int64_t ts_receive;   /* ns: when the engine received it */
    int64_t ts_engine;    /* ns: engine clock at publish */
} sv_event_header_t;

typedef struct sv_trade {
    sv_fixed_t price;
    sv_fixed_t qty;
    uint64_t trade_id;
    int8_t aggressor; /* sv_side_t of the taker; 0 unknown */
    uint8_t pad[7];
} sv_trade_t;

typedef struct sv_quote {
    sv_fixed_t bid_price;
    sv_fixed_t bid_qty;
    sv_fixed_t ask_price;
    sv_fixed_t ask_qty;
} sv_quote_t;

typedef struct sv_bar {
    sv_fixed_t open;
    sv_fixed_t high;
    sv_fixed_t low;
    sv_fixed_t close;
    sv_fixed_t volume;
    sv_fixed_t quote_volume;
    int64_t start;       /* ns: open time; header.ts_exchange is the close time */
    uint32_t interval_s; /* bar length in seconds */
    uint32_t trades;
} sv_bar_t;

typedef struct sv_level {
    sv_fixed_t price;
    sv_fixed_t qty; /* 0 deletes the level */
} sv_level_t;

enum { SV_DEPTH_LEVELS = 5 };
enum { SV_DEPTH_SNAPSHOT = 1, SV_DEPTH_LAST = 2 };

/* A depth update: n_bids bid levels then n_asks ask levels in levels[]. A longer exchange
 * message is split into several events; the last carries SV_DEPTH_LAST. */
typedef struct sv_depth {
    uint8_t n_bids;
    uint8_t n_asks;
    uint8_t depth_flags;
    uint8_t pad[5];
    sv_level_t levels[5];
} sv_depth_t;

typedef struct sv_signal {
    uint64_t signal_id;   /* unique per engine run, deterministic */
    sv_fixed_t qty;
    sv_fixed_t price;     /* limit price; 0 for market */
    sv_fixed_t stop_price;
    uint32_t strategy;    /* strategy id */
    int8_t side;          /* sv_side_t */
    uint8_t type;         /* sv_order_type_t */
    uint8_t tif;          /* sv_tif_t */
    uint8_t order_flags;  /* SV_ORDER_FLAG_* */
    uint64_t replace_id;  /* client order id to amend (cancel/replace); 0 = new order */
    char tag[16];         /* a strategy's label, NUL-padded */
} sv_signal_t;

typedef struct sv_order {
    uint64_t client_id;
    uint64_t exchange_id;
    sv_fixed_t price;
    sv_fixed_t qty;
    sv_fixed_t stop_price;
    sv_fixed_t filled_qty;
    sv_fixed_t avg_price;
    uint32_t strategy;
    uint32_t reason;     /* interned text id of a reject/cancel reason; 0 = none */
    uint64_t signal_id;
    int8_t side;
    uint8_t type;
    uint8_t tif;
    uint8_t order_flags;
    uint8_t status;      /* sv_order_status_t */
    uint8_t pad[3];
} sv_order_t;

typedef struct sv_fill {
    uint64_t client_id;
    uint64_t trade_id;
    sv_fixed_t price;
    sv_fixed_t qty;
    sv_fixed_t fee;
    uint32_t fee_asset; /* interned asset id */
    uint32_t strategy;
    int8_t side;
    uint8_t liquidity;  /* sv_liquidity_t */
    uint8_t pad[6];
} sv_fill_t;

typedef struct sv_timer {
    uint64_t timer_id;
    uint32_t strategy;
    uint32_t pad;
} sv_timer_t;

typedef struct sv_alert {
    uint32_t code;    /* sv_alert_code_t */
    uint32_t source;  /* strategy/rule id, or 0 */
    uint32_t text;    /* interned text id */
    uint32_t pad;
    int64_t value;
} sv_alert_t;

typedef struct sv_position_update {
    sv_fixed_t qty;
    sv_fixed_t avg_price;
    sv_fixed_t realized_pnl;
    uint32_t strategy;
    uint32_t pad;
} sv_position_update_t;

typedef struct sv_event {
    sv_event_header_t h;
    union {
        sv_trade_t trade;
        sv_quote_t quote;
        sv_bar_t bar;
        sv_depth_t depth;
        sv_signal_t signal;
        sv_order_t order;
        sv_fill_t fill;
        sv_timer_t timer;
        sv_alert_t alert;
        sv_position_update_t position;
        uint8_t raw[88];
    } u;
} sv_event_t;

/* A position as a script sees it (filled by sv_ctx_position). */
typedef struct sv_position_view {
    sv_fixed_t qty;
    sv_fixed_t avg_price;
    sv_fixed_t realized_pnl;
    sv_fixed_t unrealized_pnl;
} sv_position_view_t;

/* Protective orders the core keeps for a position (stop loss, trailing stop, take profits):
 * prices are absolute; a *_pct is a percentage of the entry price (0 = not set). */
enum { SV_PROTECT_LEVELS = 4 };
typedef struct sv_protect_spec {
    double stop_loss;          /* price */
    double stop_loss_pct;
    double trailing_pct;       /* trailing stop distance from the best price since entry */
    double take_profit[4];     /* prices, or 0 */
    double take_profit_pct[4];
    double take_profit_fraction[4]; /* share of the position each level closes; 0 = all that is left */
    uint32_t n_take_profit;
    uint32_t pad;
} sv_protect_spec_t;

/* What position sizing needs to know about a symbol (ctx.size). */
typedef struct sv_size_info {
    double equity;            /* account equity in the quote asset */
    double lot;               /* quantity step (0: unknown) */
    double max_order_qty;     /* risk limits in force (0: none) */
    double max_order_notional;
    double size_factor;       /* 1.0 unless a risk "reduce" action is in force */
} sv_size_info_t;

/* Flags in sv_event_header_t.flags. */
enum {
    SV_EVF_REMOTE = 1, /* arrived from another engine or a replay; not re-published to a backend */
    SV_EVF_REPLAY = 2  /* part of a historical replay */
};

/* The strategy side of the FFI interface: the functions ctx.lua calls, handed to each script
 * state as one table of function pointers (so nothing depends on symbol export). `host` is
 * the opaque strategy host, `sid` the calling strategy. Quantities and prices cross as
 * doubles and are validated and rounded to fixed point in C. */
typedef struct sv_strategy_host sv_strategy_host_t;

typedef struct sv_ctx_api {
    /* Publishes a SignalEvent. Returns the signal id (> 0) or a negative SV_E_* code;
     * last_error() then says why. */
    int64_t (*submit)(sv_strategy_host_t *host, uint32_t sid, uint32_t symbol, int side, int type,
                      int tif, int flags, double qty, double price, double stop_price,
                      uint64_t replace_id, const char *tag);
    int (*cancel)(sv_strategy_host_t *host, uint32_t sid, uint64_t client_id);
    int (*cancel_all)(sv_strategy_host_t *host, uint32_t sid, uint32_t symbol);
    int (*position)(sv_strategy_host_t *host, uint32_t sid, uint32_t symbol, sv_position_view_t *out);
    double (*balance)(sv_strategy_host_t *host, uint32_t sid, const char *asset);
    int64_t (*now)(sv_strategy_host_t *host);
    int64_t (*timer)(sv_strategy_host_t *host, uint32_t sid, double ms, int repeat);
    int (*timer_cancel)(sv_strategy_host_t *host, uint32_t sid, int64_t timer_id);
    void (*log)(sv_strategy_host_t *host, uint32_t sid, int level, const char *msg);
    uint32_t (*symbol_id)(sv_strategy_host_t *host, const char *name);
    const char *(*symbol_name)(sv_strategy_host_t *host, uint32_t id);
    const char *(*text)(sv_strategy_host_t *host, uint32_t id);
    const char *(*last_error)(sv_strategy_host_t *host);
    /* attaches protective orders to the position an order (signal_id) opens or adds to;
     * signal_id 0 only checks the spec (ctx does that before it sends the order) */
    int (*protect)(sv_strategy_host_t *host, uint32_t sid, uint32_t symbol, uint64_t signal_id,
                   const sv_protect_spec_t *spec);
    int (*size_info)(sv_strategy_host_t *host, uint32_t sid, uint32_t symbol, sv_size_info_t *out);
} sv_ctx_api_t;

/* The risk-rule side of the FFI interface: what lua/silvertine/rule.lua calls for a custom
 * risk rule's ctx (read access only: positions, open orders, recent market data). */
typedef struct sv_rules sv_rules_t;

typedef struct sv_rule_api {
    /* account position on a symbol: qty and average entry price */
    int (*position)(sv_rules_t *host, uint32_t symbol, double *qty, double *avg_price);
    /* the last trade (kind SV_EV_TRADE), quote (SV_EV_QUOTE) or bar (SV_EV_BAR) seen for a
     * symbol, copied into *out; 0, or SV_E_NOTFOUND when none yet */
    int (*last)(sv_rules_t *host, uint32_t symbol, int kind, sv_event_t *out);
    /* open orders of a symbol (0: every symbol): up to max copied into out; returns the count */
    uint32_t (*open_orders)(sv_rules_t *host, uint32_t symbol, sv_order_t *out, uint32_t max);
    uint32_t (*symbol_id)(sv_rules_t *host, const char *name);
    const char *(*symbol_name)(sv_rules_t *host, uint32_t id);
    const char *(*strategy_name)(sv_rules_t *host, uint32_t sid);
    int64_t (*now)(sv_rules_t *host);
    void (*log)(sv_rules_t *host, uint32_t rule, int level, const char *msg);
} sv_rule_api_t;

/* The library side, for tools and for busted specs that drive the real core through FFI
 * (lua/silvertine/testing.lua). */
typedef struct sv_diag {
    int code;
    char msg[1024]; /* "place: reason", NUL-terminated */
} sv_diag_t;

typedef enum sv_param_type { SV_PARAM_NUMBER = 0, SV_PARAM_STRING = 1, SV_PARAM_BOOL = 2 } sv_param_type_t;

typedef struct sv_param {
    const char *key;
    int type;          /* sv_param_type_t */
    double number;
    const char *string;
    int boolean;
} sv_param_t;

typedef struct sv_strategy_spec {
    const char *name;
    const char *file;
    const char *const *symbols; /* symbol names; n_symbols == 0 means every symbol */
    uint32_t n_symbols;
    const sv_param_t *params;
    uint32_t n_params;
    double cpu_budget_ms;   /* CPU time per handler call; 0: the engine's default, < 0: no limit */
    double memory_limit_mb; /* cap of the script's Lua heap; 0: the engine's default, < 0: none */
} sv_strategy_spec_t;

typedef struct sv_engine sv_engine_t;

/* Layout of every struct above as C sees it (field "" = the whole struct), for the test
 * that compares it with LuaJIT's view. */
typedef struct sv_abi_field {
    const char *type;
    const char *field;
    uint32_t offset;
    uint32_t size;
} sv_abi_field_t;

uint32_t sv_abi_version(void);
const sv_abi_field_t *sv_abi_layout(uint32_t *count);
sv_engine_t *sv_engine_new_sim(void);
void sv_engine_free(sv_engine_t *eng);
void sv_engine_set_log_level(sv_engine_t *eng, int level); /* 0 debug .. 3 error, 4 off */
int sv_engine_add_strategy(sv_engine_t *eng, const sv_strategy_spec_t *spec, sv_diag_t *diag);
int sv_engine_start(sv_engine_t *eng);
int sv_engine_stop(sv_engine_t *eng);
int sv_engine_feed(sv_engine_t *eng, sv_event_t *ev);
int sv_engine_advance(sv_engine_t *eng, int64_t ts_ns);
uint32_t sv_engine_symbol(sv_engine_t *eng, const char *name);
const char *sv_engine_symbol_name(sv_engine_t *eng, uint32_t id);
const char *sv_engine_text(sv_engine_t *eng, uint32_t id);
int sv_engine_record(sv_engine_t *eng, uint32_t kind_mask, uint32_t capacity);
uint32_t sv_engine_recorded(sv_engine_t *eng);
const sv_event_t *sv_engine_record_at(sv_engine_t *eng, uint32_t i);
/* Trading set-up and state, for specs and tools. Decimal values are strings, parsed exactly. */
typedef struct sv_sim_config {
    double latency_ms;
    double maker_fee_bps;
    double taker_fee_bps;
    double slippage_bps;
    double participation; /* (0, 1] */
    int queue_position;
} sv_sim_config_t;
int sv_engine_add_instrument(sv_engine_t *eng, const char *symbol, const char *base, const char *quote,
                             const char *tick, const char *lot, const char *min_notional);
int sv_engine_set_balance(sv_engine_t *eng, const char *asset, const char *amount);
int sv_engine_use_sim(sv_engine_t *eng, const sv_sim_config_t *cfg);
int sv_engine_position(sv_engine_t *eng, uint32_t sid, uint32_t symbol, sv_position_view_t *out);
double sv_engine_balance(sv_engine_t *eng, const char *asset);
int sv_engine_cancel_all(sv_engine_t *eng, uint32_t sid, uint32_t symbol);
/* Adds a custom risk rule script (check(ctx, order) -> true | false, reason), run after the C
 * checks. Returns its id (>= 1) or a negative code with diag ("file:line: ..."). */
int sv_engine_add_rule(sv_engine_t *eng, const char *name, const char *file, const sv_param_t *params,
                       uint32_t n_params, sv_diag_t *diag);
/* Live reload of a strategy now (what a change of its file triggers): 0, or the reason the
 * running version stays, in diag. */
int sv_engine_reload_strategy(sv_engine_t *eng, uint32_t sid, sv_diag_t *diag);
/* The same for custom risk rule `id` (as sv_engine_add_rule returned it). */
int sv_engine_reload_rule(sv_engine_t *eng, int id, sv_diag_t *diag);
int sv_engine_strategy_enabled(sv_engine_t *eng, uint32_t sid);
const char *sv_engine_strategy_error(sv_engine_t *eng, uint32_t sid);
/* Protective orders every position the strategy opens gets unless an order names its own (its
 * config's `protect:` section); NULL clears them. 0, or SV_E_INVAL / SV_E_RANGE with diag (may
 * be NULL) saying why. */
int sv_engine_protect_defaults(sv_engine_t *eng, uint32_t sid, const sv_protect_spec_t *spec, sv_diag_t *diag);
/* 1 when a strategy's CPU budget also stops JIT-compiled loops (LuaJIT built with
 * LUAJIT_ENABLE_CHECKHOOK), 0 when only interpreted code can be stopped. */
int sv_script_guard_stops_jit(void);
/* SV_CDEF_END */

/* The text between the markers above, for ffi.cdef. Declared outside the cdef text so that a
 * Lua side can declare it alone, call it, and then cdef the rest. */
const char *sv_abi_cdef(void);

#endif
