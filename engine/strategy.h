/* strategy: runs strategy scripts. Routes bus events to their handlers and turns their ctx
 * calls into SignalEvents.
 *
 * Each strategy is one sandboxed script state (script module). The host subscribes to market
 * data, signals, orders, fills and timers: market data goes to the strategies that trade the
 * event's symbol, orders/fills/timers only to the strategy they belong to, signals to every
 * other strategy with on_signal. A handler the script does not define is never called. Every
 * call into Lua happens inside a bus delivery or hold, so what a handler publishes is queued
 * and delivered after it returns: a script is never re-entered.
 *
 * A script that raises (on load, on_start or any handler) is disabled alone: its timers are
 * cancelled, its open orders cancelled through the services, an SV_EV_ALERT is published and
 * one log line names file:line and the reason. The other strategies keep running.
 *
 * Limits: each script's Lua heap is capped (its allocator) and each handler call has a CPU
 * budget, enforced by one watchdog thread per host (script.h). Loading a script (its main
 * chunk and ctx binding), on_start and on_stop get the larger of SV_STRATEGY_START_BUDGET_MS
 * and the budget. A script stopped by either limit is disabled like one that raised, with
 * SV_ALERT_SCRIPT_LIMIT. */
#ifndef SV_STRATEGY_H
#define SV_STRATEGY_H

#include <stdint.h>

#include "abi.h"
#include "bus.h"
#include "clock.h"
#include "error.h"
#include "intern.h"
#include "log.h"

enum { SV_STRATEGY_MAX = 64, SV_STRATEGY_MAX_SYMBOLS = 64 };

/* Defaults of the config keys cpu_budget_ms and memory_limit_mb (config_schema.c says the same),
 * and the CPU time allowed to loading, on_start and on_stop. */
enum { SV_STRATEGY_CPU_BUDGET_MS = 5, SV_STRATEGY_MEMORY_LIMIT_MB = 64, SV_STRATEGY_START_BUDGET_MS = 1000 };

/* Timers a strategy may have at once, and their shortest interval: a script that arms timers
 * from on_timer cannot flood the engine's timer heap (shared by every strategy) or make a
 * simulated minute fire billions of times. */
enum { SV_STRATEGY_MAX_TIMERS = 64, SV_STRATEGY_MIN_TIMER_MS = 10 };

/* What the rest of the core offers strategies (positions, balances, cancels). Any function
 * may be NULL: position then reads flat, balance 0, cancels fail with SV_E_UNSUPPORTED. */
typedef struct sv_strategy_services {
    void *ud;
    int (*position)(void *ud, uint32_t sid, uint32_t symbol, sv_position_view_t *out);
    double (*balance)(void *ud, uint32_t sid, const char *asset);
    int (*cancel)(void *ud, uint32_t sid, uint64_t client_id);
    int (*cancel_all)(void *ud, uint32_t sid, uint32_t symbol); /* returns how many, or < 0 */
    /* protective orders for the position signal_id opens (0 or < 0; SV_E_UNSUPPORTED if NULL) */
    int (*protect)(void *ud, uint32_t sid, uint32_t symbol, uint64_t signal_id, const sv_protect_spec_t *spec);
    /* sizing facts (equity, lot, risk limits); NULL: equity 0, no limits */
    int (*size_info)(void *ud, uint32_t sid, uint32_t symbol, sv_size_info_t *out);
} sv_strategy_services_t;

/* Creates a host on the given bus, clock, symbol and text tables and logger (all borrowed;
 * they must outlive it). mem_limit caps each script's Lua heap (0 = none). */
sv_strategy_host_t *sv_strategy_host_new(sv_bus_t *bus, sv_clock_t *clock, sv_intern_t *symbols,
                                         sv_intern_t *texts, sv_log_t *log, size_t mem_limit);
void sv_strategy_host_free(sv_strategy_host_t *host);

void sv_strategy_host_set_services(sv_strategy_host_t *host, const sv_strategy_services_t *svc);

/* The CPU budget per handler call of strategies loaded later whose spec leaves it 0, in ms
 * (<= 0: none, the default of a new host). */
void sv_strategy_host_set_cpu_budget(sv_strategy_host_t *host, double ms);

/* Loads a strategy script. Returns its id (>= 1) or a negative code with diag filled
 * ("strategies/x.lua:12: ..."). A failed load adds nothing. */
int sv_strategy_load(sv_strategy_host_t *host, const sv_strategy_spec_t *spec, sv_diag_t *diag);

/* Calls on_start of every loaded strategy (a failing one is disabled). Returns how many are
 * enabled afterwards. */
int sv_strategy_start_all(sv_strategy_host_t *host);
/* Calls on_stop of every enabled strategy; after it no strategy can submit. */
void sv_strategy_stop_all(sv_strategy_host_t *host);

/* Disables a strategy with a reason, as if it had raised. */
void sv_strategy_disable(sv_strategy_host_t *host, uint32_t sid, int alert_code, const char *reason);

uint32_t sv_strategy_count(const sv_strategy_host_t *host);
int sv_strategy_enabled(const sv_strategy_host_t *host, uint32_t sid);
const char *sv_strategy_name(const sv_strategy_host_t *host, uint32_t sid);
/* The reason the strategy was disabled ("" while it runs). */
const char *sv_strategy_error(const sv_strategy_host_t *host, uint32_t sid);
/* Handler calls made to the strategy so far. */
uint64_t sv_strategy_calls(const sv_strategy_host_t *host, uint32_t sid);
/* Handler calls of the strategy stopped by its CPU budget (0 or 1: a stop disables it). */
uint64_t sv_strategy_cpu_stops(const sv_strategy_host_t *host, uint32_t sid);
/* Lua memory and allocation counters of the strategy's state. */
int sv_strategy_script_stats(const sv_strategy_host_t *host, uint32_t sid, size_t *mem_bytes,
                             uint64_t *allocs);

/* Live reload: compiles the strategy's file again in a fresh state, copies ctx.state into it,
 * calls on_reload(ctx, old_state) (or on_start when there is none) and, only if all of that
 * succeeds, swaps it in: same id, orders, positions and protective orders; a disabled
 * strategy is re-enabled. Otherwise the running version stays and diag says why (file:line).
 * Either way an SV_EV_ALERT (SCRIPT_RELOADED or RELOAD_FAILED) and a log line. Call it between
 * events, never from inside a handler. */
int sv_strategy_reload(sv_strategy_host_t *host, uint32_t sid, sv_diag_t *diag);
const char *sv_strategy_file(const sv_strategy_host_t *host, uint32_t sid);
/* Reload attempts so far (successful or not). */
uint32_t sv_strategy_reloads(const sv_strategy_host_t *host, uint32_t sid);

/* The FFI table handed to scripts (exposed for tests and tools). */
const sv_ctx_api_t *sv_strategy_api(void);

#endif
