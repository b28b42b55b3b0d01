/* engine: wires the core together for one run and owns every part: clock, bus, symbol and
 * text tables, logger, instruments, OMS, portfolio, the venue (sim) and the strategy host.
 *
 * The trading loop, in subscription order on the bus:
 *   market data -> venue matching (sim; the fills it reports are delivered first)
 *               -> portfolio marks -> risk -> protective orders (exits go straight to the OMS)
 *               -> strategies
 *   signal      -> risk (pre-trade checks; a rejection is a REJECTED order) -> OMS -> venue
 *   fill        -> portfolio (then a POSITION event) -> risk -> protective orders -> strategies (on_fill)
 *   order       -> risk -> protective orders -> strategies (on_order)
 * Venue reports are applied by the OMS, which publishes ORDER and FILL events.
 *
 * Market data enters through sv_engine_feed(): on a simulated clock the engine first moves
 * time to the event (firing every timer due before it, in order), then publishes it. Nothing
 * here is global, so several engines can live in one process (tests, busted specs). The
 * functions also declared in abi.h are the ones busted specs call through FFI. */
#ifndef SV_ENGINE_H
#define SV_ENGINE_H

#include <stdio.h>

#include "abi.h"
#include "bus.h"
#include "clock.h"
#include "error.h"
#include "intern.h"
#include "log.h"
#include "strategy.h"

typedef struct sv_engine_options {
    int simulated;          /* simulated clock (backtest, tests) */
    FILE *log_out;          /* NULL: no log */
    int log_level;          /* sv_log_level_t */
    size_t script_mem_limit; /* bytes per script; 0: none */
    double script_cpu_budget_ms; /* CPU time per strategy handler call; 0: none */
    uint32_t bus_queue;     /* re-entrant publish ring; 0: default 65536 */
} sv_engine_options_t;

/* Creates an engine. NULL on ENOMEM (diag filled). */
sv_engine_t *sv_engine_new(const sv_engine_options_t *opts, sv_diag_t *diag);
/* In abi.h: sv_engine_new_sim() = simulated clock, warnings and errors logged to stderr. */

sv_bus_t *sv_engine_bus(sv_engine_t *eng);
/* The run's libuv loop: I/O that must never block the trading path (the Redis writer, file
 * watching, servers) lives on it. Replays turn it between events; handles still open when the
 * engine is freed are closed by it. */
struct uv_loop_s;
struct uv_loop_s *sv_engine_loop(sv_engine_t *eng);
sv_clock_t *sv_engine_clock(sv_engine_t *eng);
sv_log_t *sv_engine_log(sv_engine_t *eng);
sv_intern_t *sv_engine_symbols(sv_engine_t *eng);
sv_intern_t *sv_engine_texts(sv_engine_t *eng);
sv_strategy_host_t *sv_engine_strategies(sv_engine_t *eng);
struct sv_oms;
struct sv_portfolio;
struct sv_instruments;
struct sv_oms *sv_engine_oms(sv_engine_t *eng);
struct sv_risk;
struct sv_risk_config;
/* Replaces the risk configuration (the engine starts with every check off). When the config
 * names a kill switch file, the engine's loop watches it. 0, SV_E_CONFIG (unknown time zone)
 * or SV_E_NOMEM. */
int sv_engine_use_risk(sv_engine_t *eng, const struct sv_risk_config *cfg);
struct sv_risk *sv_engine_risk(sv_engine_t *eng);
/* The protective orders (protect.h): stop loss, trailing stop and take profit kept per position. */
struct sv_protect;
struct sv_protect *sv_engine_protect(sv_engine_t *eng);
struct sv_portfolio *sv_engine_portfolio(sv_engine_t *eng);
struct sv_instruments *sv_engine_instruments(sv_engine_t *eng);
/* The asset equity is counted in (the quote asset of the first instrument); 0 when none. */
uint32_t sv_engine_quote_asset(sv_engine_t *eng);

/* Loads every enabled strategy named by a loaded config (strategies.N: name, file, symbols,
 * params) and interns the exchange's symbols. Returns 0 or the first error, with diag naming
 * the config file and place, or the script's file:line. */
/* Attaches the Redis Streams backend (bus_redis.h) to the bus: connects on the engine's loop
 * (waiting or failing as o->on_down says) and from then on mirrors every event published
 * without SV_EVF_REMOTE. sv_engine_free() drains it (bus.redis.drain_ms) and closes it. 0 or
 * an error with diag filled (SV_E_CONFIG: wrong password or db; SV_E_IO: Redis unreachable). */
struct sv_redis_options;
struct sv_bus_redis;
int sv_engine_use_redis(sv_engine_t *eng, const struct sv_redis_options *o, sv_diag_t *diag);
/* The attached Redis writer, or NULL. */
struct sv_bus_redis *sv_engine_redis(sv_engine_t *eng);

struct sv_config;
int sv_engine_load_config(sv_engine_t *eng, const struct sv_config *cfg, sv_diag_t *diag);

/* Live reload: watches every loaded strategy's and custom risk rule's file (its directory,
 * since editors replace files by rename) on the engine's loop and reloads it 15 ms after the
 * last change (sv_strategy_reload, sv_rules_reload; each an SV_EV_ALERT and a log line).
 * 0 or SV_E_IO / SV_E_NOMEM with diag. */
int sv_engine_watch_strategies(sv_engine_t *eng, sv_diag_t *diag);

/* Fires every timer due at or before ts (each as an SV_EV_TIMER at its due time) and moves
 * a simulated clock to ts. Returns the number of timers fired. */
int sv_engine_advance(sv_engine_t *eng, int64_t ts_ns);

/* Publishes a market data event (trade, quote, bar, depth) after advancing a simulated
 * clock to its exchange time. SV_E_INVAL for any other kind. */
int sv_engine_feed(sv_engine_t *eng, sv_event_t *ev);

#endif
