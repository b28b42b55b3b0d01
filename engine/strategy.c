/* strategy: strategy scripts on the bus. See strategy.h for the routing and failure rules. */
#define _POSIX_C_SOURCE 200809L
#include "strategy.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "protect.h"
#include "script.h"
#include "statecopy.h"

enum { H_START, H_STOP, H_TICK, H_QUOTE, H_BAR, H_BOOK, H_SIGNAL, H_ORDER, H_FILL, H_TIMER, H_RELOAD, H_COUNT };

static const char *const handler_names[H_COUNT] = {
    "on_start", "on_stop", "on_tick", "on_quote", "on_bar", "on_book",
    "on_signal", "on_order", "on_fill", "on_timer", "on_reload"};

/* event kind -> handler index (-1: none) */
static const int kind_handler[SV_EV_KIND_COUNT] = {
    [SV_EV_NONE] = -1,   [SV_EV_TRADE] = H_TICK,   [SV_EV_QUOTE] = H_QUOTE, [SV_EV_BAR] = H_BAR,
    [SV_EV_DEPTH] = H_BOOK, [SV_EV_SIGNAL] = H_SIGNAL, [SV_EV_ORDER] = H_ORDER,
    [SV_EV_FILL] = H_FILL, [SV_EV_TIMER] = H_TIMER, [SV_EV_ALERT] = -1, [SV_EV_POSITION] = -1};

typedef struct strat {
    uint32_t id;
    char name[64];
    char file[1024];
    sv_script_t *script;
    lua_State *L;
    int enabled;
    int stopping; /* in on_stop or stopped: no new orders */
    char error[1024];
    int ref[H_COUNT];
    /* the event being delivered: the script's views read through this pointer, which points
     * at an empty event outside a call, so a view kept past its call reads zeros, never
     * freed memory */
    const sv_event_t **slot;
    uint32_t symbols[SV_STRATEGY_MAX_SYMBOLS];
    uint32_t n_symbols; /* 0: every symbol */
    uint64_t calls;
    double budget_ms; /* CPU budget of a handler call; <= 0: none */
    int ctx_ref;      /* the script's ctx table, for a live reload */
    /* what a reload needs to load the file again as it was configured */
    sv_param_t *params;
    uint32_t n_params;
    double spec_cpu_ms, spec_mem_mb;
    uint32_t reloads;
    int64_t timers[SV_STRATEGY_MAX_TIMERS]; /* armed timer ids; negative: a repeating one */
    uint32_t n_timers;
} strat_t;

struct sv_strategy_host {
    sv_bus_t *bus;
    sv_clock_t *clock;
    sv_intern_t *symbols, *texts;
    sv_log_t *log;
    size_t mem_limit;
    double cpu_budget_ms;
    sv_watchdog_t *watchdog; /* the CPU budgets' thread: started by the first load */
    sv_strategy_services_t svc;
    strat_t *s[SV_STRATEGY_MAX + 1]; /* index = id */
    uint32_t n;
    uint64_t next_signal_id;
    char last_error[512];
    int sub;
};

static void on_event(void *ud, const sv_event_t *ev);

static const sv_event_t empty_event;

static strat_t *get(const sv_strategy_host_t *h, uint32_t sid)
{
    return sid >= 1 && sid <= h->n ? h->s[sid] : NULL;
}

static int set_error(sv_strategy_host_t *h, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(sv_strategy_host_t *h, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_error, sizeof h->last_error, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- the FFI table ---------------------------------------------------------------------- */

static int64_t api_submit(sv_strategy_host_t *h, uint32_t sid, uint32_t symbol, int side, int type,
                          int tif, int flags, double qty, double price, double stop, uint64_t replace,
                          const char *tag)
{
    strat_t *s = get(h, sid);
    if (!s)
        return set_error(h, SV_E_INVAL, "unknown strategy id %u", sid);
    if (!s->enabled)
        return set_error(h, SV_E_DISABLED, "strategy %s is disabled: order refused", s->name);
    if (s->stopping)
        return set_error(h, SV_E_STATE, "strategy %s is stopping: new orders are refused", s->name);
    const char *sym = sv_intern_name(h->symbols, symbol);
    if (!*sym)
        return set_error(h, SV_E_INVAL, "unknown symbol id %u", symbol);
    if (side != SV_SIDE_BUY && side != SV_SIDE_SELL)
        return set_error(h, SV_E_INVAL, "%s: side must be buy or sell", sym);
    if (type < SV_ORDER_MARKET || type > SV_ORDER_STOP_LIMIT || tif < SV_TIF_GTC || tif > SV_TIF_FOK)
        return set_error(h, SV_E_INVAL, "%s: bad order type or time in force", sym);
    if (!isfinite(qty) || qty <= 0)
        return set_error(h, SV_E_INVAL, "%s: quantity must be a finite number > 0, got %g", sym, qty);
    if (!isfinite(price) || price < 0)
        return set_error(h, SV_E_INVAL, "%s: price must be a finite number >= 0, got %g", sym, price);
    if (!isfinite(stop) || stop < 0)
        return set_error(h, SV_E_INVAL, "%s: stop price must be a finite number >= 0, got %g", sym, stop);
    if ((type == SV_ORDER_LIMIT || type == SV_ORDER_STOP_LIMIT) && price <= 0)
        return set_error(h, SV_E_INVAL, "%s: a limit order needs a price > 0", sym);
    if ((type == SV_ORDER_STOP_MARKET || type == SV_ORDER_STOP_LIMIT) && stop <= 0)
        return set_error(h, SV_E_INVAL, "%s: a stop order needs a stop price > 0", sym);
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    sv_signal_t *sg = &ev.u.signal;
    if (sv_fixed_from_double(qty, &sg->qty) != 0 || sv_fixed_from_double(price, &sg->price) != 0 ||
        sv_fixed_from_double(stop, &sg->stop_price) != 0)
        return set_error(h, SV_E_RANGE, "%s: quantity or price out of range", sym);
    if (sg->qty <= 0)
        return set_error(h, SV_E_INVAL, "%s: quantity %g rounds to 0 at 1e-8", sym, qty);
    ev.h.kind = SV_EV_SIGNAL;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = ev.h.ts_receive = sv_clock_now(h->clock);
    sg->signal_id = ++h->next_signal_id;
    sg->strategy = sid;
    sg->side = (int8_t)side;
    sg->type = (uint8_t)type;
    sg->tif = (uint8_t)tif;
    sg->order_flags = (uint8_t)flags;
    sg->replace_id = replace;
    if (tag)
        strncpy(sg->tag, tag, sizeof sg->tag - 1);
    int rc = sv_bus_publish(h->bus, &ev);
    if (rc != 0)
        return set_error(h, rc, "%s: signal not published: %s", sym, sv_strerror(rc));
    return (int64_t)sg->signal_id;
}

static int api_cancel(sv_strategy_host_t *h, uint32_t sid, uint64_t client_id)
{
    if (!get(h, sid))
        return set_error(h, SV_E_INVAL, "unknown strategy id %u", sid);
    if (!h->svc.cancel)
        return set_error(h, SV_E_UNSUPPORTED, "cancel: no order manager in this engine");
    int rc = h->svc.cancel(h->svc.ud, sid, client_id);
    if (rc < 0)
        return set_error(h, rc, "cancel of order %llu failed: %s", (unsigned long long)client_id,
                         sv_strerror(rc));
    return rc;
}

static int api_cancel_all(sv_strategy_host_t *h, uint32_t sid, uint32_t symbol)
{
    if (!get(h, sid))
        return set_error(h, SV_E_INVAL, "unknown strategy id %u", sid);
    if (!h->svc.cancel_all)
        return set_error(h, SV_E_UNSUPPORTED, "cancel_all: no order manager in this engine");
    int rc = h->svc.cancel_all(h->svc.ud, sid, symbol);
    if (rc < 0)
        return set_error(h, rc, "cancel_all failed: %s", sv_strerror(rc));
    return rc;
}

static int api_position(sv_strategy_host_t *h, uint32_t sid, uint32_t symbol, sv_position_view_t *out)
{
    memset(out, 0, sizeof *out);
    if (!h->svc.position)
        return SV_OK;
    return h->svc.position(h->svc.ud, sid, symbol, out);
}

static double api_balance(sv_strategy_host_t *h, uint32_t sid, const char *asset)
{
    return h->svc.balance ? h->svc.balance(h->svc.ud, sid, asset) : 0.0;
}

static int64_t api_now(sv_strategy_host_t *h) { return sv_clock_now(h->clock); }

static int64_t api_timer(sv_strategy_host_t *h, uint32_t sid, double ms, int repeat)
{
    strat_t *s = get(h, sid);
    if (!s || !s->enabled)
        return set_error(h, SV_E_DISABLED, "timer refused: strategy is not running");
    if (!isfinite(ms) || ms < SV_STRATEGY_MIN_TIMER_MS || ms > 1e12)
        return set_error(h, SV_E_INVAL, "timer: ms must be >= %d, got %g", SV_STRATEGY_MIN_TIMER_MS, ms);
    if (s->n_timers >= SV_STRATEGY_MAX_TIMERS)
        return set_error(h, SV_E_FULL, "timer: at most %d timers at once", SV_STRATEGY_MAX_TIMERS);
    int64_t ns = (int64_t)llround(ms * 1e6);
    int64_t id = sv_clock_timer_add(h->clock, sv_clock_now(h->clock) + ns, repeat ? ns : 0, sid);
    if (id < 0)
        return set_error(h, (int)id, "timer: %s", sv_strerror((int)id));
    s->timers[s->n_timers++] = repeat ? -id : id;
    return id;
}

/* Forgets a timer of s (canceled, or a one-shot that fired); `once`: only if it is a one-shot. */
static void forget_timer(strat_t *s, int64_t id, int once)
{
    for (uint32_t i = 0; i < s->n_timers; i++)
        if (s->timers[i] == id || (!once && s->timers[i] == -id)) {
            s->timers[i] = s->timers[--s->n_timers];
            return;
        }
}

static int api_timer_cancel(sv_strategy_host_t *h, uint32_t sid, int64_t id)
{
    /* only the strategy's own timers: another's id is simply not found */
    int rc = sv_clock_timer_cancel_owned(h->clock, id, sid);
    strat_t *s = get(h, sid);
    if (rc == 0 && s)
        forget_timer(s, id, 0);
    return rc;
}

static void api_log(sv_strategy_host_t *h, uint32_t sid, int level, const char *msg)
{
    strat_t *s = get(h, sid);
    char comp[96];
    snprintf(comp, sizeof comp, "strategy %s", s ? s->name : "?");
    if (level < SV_LOG_DEBUG || level > SV_LOG_ERROR)
        level = SV_LOG_INFO;
    sv_log_write(h->log, level, comp, "%s", msg);
}

static uint32_t api_symbol_id(sv_strategy_host_t *h, const char *name)
{
    return sv_intern_find(h->symbols, name, -1);
}

static const char *api_symbol_name(sv_strategy_host_t *h, uint32_t id)
{
    return sv_intern_name(h->symbols, id);
}

static const char *api_text(sv_strategy_host_t *h, uint32_t id) { return sv_intern_name(h->texts, id); }

static const char *api_last_error(sv_strategy_host_t *h) { return h->last_error; }

static int api_protect(sv_strategy_host_t *h, uint32_t sid, uint32_t symbol, uint64_t signal_id,
                       const sv_protect_spec_t *spec)
{
    if (!get(h, sid))
        return set_error(h, SV_E_INVAL, "unknown strategy id %u", sid);
    if (!h->svc.protect)
        return set_error(h, SV_E_UNSUPPORTED, "protective orders are not available in this engine");
    char why[300];
    if (sv_protect_validate(spec, why, sizeof why) != 0) /* say why to the script, not only to the log */
        return set_error(h, SV_E_INVAL, "protective orders refused: %s", why);
    if (signal_id == 0)
        return SV_OK; /* a check before the order is sent */
    int rc = h->svc.protect(h->svc.ud, sid, symbol, signal_id, spec);
    if (rc < 0)
        return set_error(h, rc, "protective orders refused: %s", sv_strerror(rc));
    return rc;
}

static int api_size_info(sv_strategy_host_t *h, uint32_t sid, uint32_t symbol, sv_size_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->size_factor = 1.0;
    if (!h->svc.size_info)
        return SV_OK;
    return h->svc.size_info(h->svc.ud, sid, symbol, out);
}

static const sv_ctx_api_t api = {
    .submit = api_submit,
    .cancel = api_cancel,
    .cancel_all = api_cancel_all,
    .position = api_position,
    .balance = api_balance,
    .now = api_now,
    .timer = api_timer,
    .timer_cancel = api_timer_cancel,
    .log = api_log,
    .symbol_id = api_symbol_id,
    .symbol_name = api_symbol_name,
    .text = api_text,
    .last_error = api_last_error,
    .protect = api_protect,
    .size_info = api_size_info,
};

const sv_ctx_api_t *sv_strategy_api(void) { return &api; }

/* ---- host ------------------------------------------------------------------------------- */

sv_strategy_host_t *sv_strategy_host_new(sv_bus_t *bus, sv_clock_t *clock, sv_intern_t *symbols,
                                         sv_intern_t *texts, sv_log_t *log, size_t mem_limit)
{
    sv_strategy_host_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->bus = bus;
    h->clock = clock;
    h->symbols = symbols;
    h->texts = texts;
    h->log = log;
    h->mem_limit = mem_limit;
    h->watchdog = sv_watchdog_new();
    if (!h->watchdog) {
        free(h);
        return NULL;
    }
    uint32_t mask = SV_BUS_MASK_MARKET | SV_BUS_MASK(SV_EV_SIGNAL) | SV_BUS_MASK(SV_EV_ORDER) |
                    SV_BUS_MASK(SV_EV_FILL) | SV_BUS_MASK(SV_EV_TIMER);
    h->sub = sv_bus_subscribe(bus, mask, on_event, h);
    if (h->sub < 0) {
        sv_watchdog_free(h->watchdog);
        free(h);
        return NULL;
    }
    return h;
}

/* a deep copy of the spec's params, kept for reloads */
static int keep_params(strat_t *s, const sv_strategy_spec_t *spec)
{
    s->params = sv_params_dup(spec->params, spec->n_params);
    s->n_params = spec->n_params;
    return s->params ? SV_OK : SV_E_NOMEM;
}

static void strat_free(strat_t *s)
{
    if (!s)
        return;
    sv_script_free(s->script);
    sv_params_free(s->params, s->n_params);
    free(s->slot);
    free(s);
}

void sv_strategy_host_free(sv_strategy_host_t *h)
{
    if (!h)
        return;
    sv_bus_unsubscribe(h->bus, h->sub);
    for (uint32_t i = 1; i <= h->n; i++)
        strat_free(h->s[i]);
    sv_watchdog_free(h->watchdog);
    free(h);
}

void sv_strategy_host_set_services(sv_strategy_host_t *h, const sv_strategy_services_t *svc)
{
    h->svc = *svc;
}

void sv_strategy_host_set_cpu_budget(sv_strategy_host_t *h, double ms) { h->cpu_budget_ms = ms; }

/* The budget of loading, on_start and on_stop: the one-off work may take longer */
static double start_budget(const strat_t *s)
{
    return s->budget_ms > 0 && s->budget_ms < SV_STRATEGY_START_BUDGET_MS ? SV_STRATEGY_START_BUDGET_MS
                                                                          : s->budget_ms;
}

static int load_into(sv_strategy_host_t *h, strat_t *s, const sv_strategy_spec_t *spec, sv_diag_t *d)
{
    size_t mem = h->mem_limit;
    if (spec->memory_limit_mb > 0)
        mem = spec->memory_limit_mb * 1048576.0 < (double)SIZE_MAX ? (size_t)(spec->memory_limit_mb * 1048576.0)
                                                                   : SIZE_MAX;
    else if (spec->memory_limit_mb < 0)
        mem = 0;
    s->budget_ms = spec->cpu_budget_ms > 0 ? spec->cpu_budget_ms
                   : spec->cpu_budget_ms < 0 ? 0 : h->cpu_budget_ms;
    int rc = sv_script_new(s->name, mem, &s->script, d);
    if (rc)
        return rc;
    lua_State *L = s->L = sv_script_lua(s->script);
    if (s->budget_ms > 0) {
        sv_script_set_cpu_budget(s->script, start_budget(s));
        if (sv_watchdog_add(h->watchdog, s->script) != 0)
            return sv_diag_set(d, SV_E_NOMEM, "%s: cannot start the CPU watchdog thread", s->name);
    }
    if ((rc = sv_script_load_file(s->script, s->file, d)) != 0)
        return rc;
    /* stack: env, module -> require("silvertine.ctx").bind{...} */
    int env = lua_gettop(L) - 1, mod = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "silvertine.ctx");
    if ((rc = sv_script_pcall(s->script, 1, 1, d)) != 0)
        return rc;
    lua_getfield(L, -1, "bind");
    lua_createtable(L, 0, 9);
    lua_pushlightuserdata(L, h);
    lua_setfield(L, -2, "host");
    lua_pushlightuserdata(L, (void *)&api);
    lua_setfield(L, -2, "api");
    lua_pushlightuserdata(L, (void *)s->slot);
    lua_setfield(L, -2, "slot");
    lua_pushinteger(L, s->id);
    lua_setfield(L, -2, "sid");
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, mod);
    lua_setfield(L, -2, "module");
    lua_pushvalue(L, env);
    lua_setfield(L, -2, "env");
    sv_script_push_params(L, spec->params, spec->n_params);
    lua_setfield(L, -2, "params");
    if ((rc = sv_script_pcall(s->script, 1, 2, d)) != 0) {
        /* bind's own errors (bad params, a handler that is not a function) name the strategy;
         * add the file so the user knows where to look */
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%.200s: %.800s", s->file, d->msg);
        sv_diag_set(d, rc, "%s", msg);
        return rc;
    }
    /* stack: ..., ctx, dispatch */
    lua_pushvalue(L, -2);
    s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    for (int i = 0; i < H_COUNT; i++) {
        lua_getfield(L, -1, handler_names[i]);
        s->ref[i] = lua_isfunction(L, -1) ? luaL_ref(L, LUA_REGISTRYINDEX) : (lua_pop(L, 1), LUA_NOREF);
    }
    lua_settop(L, 0);
    sv_script_set_cpu_budget(s->script, s->budget_ms);
    return SV_OK;
}

int sv_strategy_load(sv_strategy_host_t *h, const sv_strategy_spec_t *spec, sv_diag_t *d)
{
    if (!spec || !spec->file || !spec->name || !*spec->name)
        return sv_diag_set(d, SV_E_INVAL, "strategy: a name and a file are required");
    if (h->n >= SV_STRATEGY_MAX)
        return sv_diag_set(d, SV_E_FULL, "%s: too many strategies (max %d)", spec->name, SV_STRATEGY_MAX);
    if (spec->n_symbols > SV_STRATEGY_MAX_SYMBOLS)
        return sv_diag_set(d, SV_E_RANGE, "%s: too many symbols (max %d)", spec->name,
                           SV_STRATEGY_MAX_SYMBOLS);
    for (uint32_t i = 1; i <= h->n; i++)
        if (strcmp(h->s[i]->name, spec->name) == 0)
            return sv_diag_set(d, SV_E_EXISTS, "%s: a strategy with this name is already loaded",
                               spec->name);
    strat_t *s = calloc(1, sizeof *s);
    if (!s)
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", spec->name);
    s->slot = malloc(sizeof *s->slot);
    if (!s->slot) {
        free(s);
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", spec->name);
    }
    *s->slot = &empty_event;
    s->id = h->n + 1;
    snprintf(s->name, sizeof s->name, "%s", spec->name);
    snprintf(s->file, sizeof s->file, "%s", spec->file);
    for (uint32_t i = 0; i < spec->n_symbols; i++) {
        uint32_t id = sv_intern_add(h->symbols, spec->symbols[i], -1);
        if (!id) {
            strat_free(s);
            return sv_diag_set(d, SV_E_INVAL, "%s: bad or too many symbols ('%s')", spec->name,
                               spec->symbols[i] ? spec->symbols[i] : "");
        }
        s->symbols[s->n_symbols++] = id;
    }
    s->spec_cpu_ms = spec->cpu_budget_ms;
    s->spec_mem_mb = spec->memory_limit_mb;
    int rc = keep_params(s, spec);
    if (rc) {
        strat_free(s);
        return sv_diag_set(d, rc, "%s: out of memory", spec->name);
    }
    rc = load_into(h, s, spec, d);
    if (rc) {
        strat_free(s);
        return rc;
    }
    s->enabled = 1;
    h->s[s->id] = s;
    h->n = s->id;
    sv_log_info(h->log, "strategy", "loaded %s from %s", s->name, s->file);
    return (int)s->id;
}

void sv_strategy_disable(sv_strategy_host_t *h, uint32_t sid, int alert_code, const char *reason)
{
    strat_t *s = get(h, sid);
    if (!s || !s->enabled)
        return;
    s->enabled = 0;
    snprintf(s->error, sizeof s->error, "%s", reason);
    sv_clock_timer_cancel_cookie(h->clock, sid);
    s->n_timers = 0;
    char comp[96];
    snprintf(comp, sizeof comp, "strategy %s", s->name);
    sv_log_error(h->log, comp, "disabled: %s", reason);
    if (h->svc.cancel_all)
        h->svc.cancel_all(h->svc.ud, sid, 0);
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ALERT;
    ev.h.ts_exchange = ev.h.ts_receive = sv_clock_now(h->clock);
    ev.u.alert.code = (uint32_t)alert_code;
    ev.u.alert.source = sid;
    ev.u.alert.text = sv_intern_add(h->texts, reason, -1);
    sv_bus_publish(h->bus, &ev);
}

/* Calls handler i of s with the event (or none); disables s if it raises. */
static void call(sv_strategy_host_t *h, strat_t *s, int i, const sv_event_t *ev)
{
    *s->slot = ev ? ev : &empty_event;
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref[i]);
    s->calls++;
    sv_diag_t d;
    int rc = sv_script_pcall(s->script, 0, 0, &d);
    *s->slot = &empty_event;
    if (rc != 0) {
        char reason[sizeof d.msg + 32];
        snprintf(reason, sizeof reason, "%s: %s", handler_names[i], d.msg);
        sv_strategy_disable(h, s->id, rc == SV_E_LIMIT ? SV_ALERT_SCRIPT_LIMIT : SV_ALERT_SCRIPT_ERROR,
                            reason);
    }
}

static int trades(const strat_t *s, uint32_t symbol)
{
    if (s->n_symbols == 0)
        return 1;
    for (uint32_t i = 0; i < s->n_symbols; i++)
        if (s->symbols[i] == symbol)
            return 1;
    return 0;
}

static void on_event(void *ud, const sv_event_t *ev)
{
    sv_strategy_host_t *h = ud;
    int hi = kind_handler[ev->h.kind];
    if (hi < 0)
        return;
    /* orders, fills and timers belong to one strategy (none when the id is 0 or unknown) */
    uint32_t owner = 0;
    int owned = 1;
    switch (ev->h.kind) {
    case SV_EV_ORDER: owner = ev->u.order.strategy; break;
    case SV_EV_FILL: owner = ev->u.fill.strategy; break;
    case SV_EV_TIMER: owner = ev->u.timer.strategy; break;
    default: owned = 0; break;
    }
    if (owned) {
        strat_t *s = get(h, owner);
        if (s && ev->h.kind == SV_EV_TIMER)
            forget_timer(s, (int64_t)ev->u.timer.timer_id, 1);
        if (s && s->enabled && s->ref[hi] != LUA_NOREF)
            call(h, s, hi, ev);
        return;
    }
    for (uint32_t i = 1; i <= h->n; i++) {
        strat_t *s = h->s[i];
        if (!s->enabled || s->ref[hi] == LUA_NOREF)
            continue;
        if (hi == H_SIGNAL ? ev->u.signal.strategy == s->id : !trades(s, ev->h.symbol))
            continue;
        call(h, s, hi, ev);
    }
}

int sv_strategy_start_all(sv_strategy_host_t *h)
{
    int n = 0;
    sv_bus_hold(h->bus);
    for (uint32_t i = 1; i <= h->n; i++) {
        strat_t *s = h->s[i];
        s->stopping = 0;
        if (s->enabled && s->ref[H_START] != LUA_NOREF) {
            sv_script_set_cpu_budget(s->script, start_budget(s));
            call(h, s, H_START, NULL);
            sv_script_set_cpu_budget(s->script, s->budget_ms);
        }
        n += s->enabled;
    }
    sv_bus_release(h->bus);
    return n;
}

void sv_strategy_stop_all(sv_strategy_host_t *h)
{
    sv_bus_hold(h->bus);
    for (uint32_t i = 1; i <= h->n; i++) {
        strat_t *s = h->s[i];
        s->stopping = 1;
        if (s->enabled && s->ref[H_STOP] != LUA_NOREF) {
            sv_script_set_cpu_budget(s->script, start_budget(s));
            call(h, s, H_STOP, NULL);
            sv_script_set_cpu_budget(s->script, s->budget_ms);
        }
        sv_clock_timer_cancel_cookie(h->clock, s->id);
        s->n_timers = 0;
    }
    sv_bus_release(h->bus);
}

uint32_t sv_strategy_count(const sv_strategy_host_t *h) { return h->n; }

int sv_strategy_enabled(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->enabled : 0;
}

const char *sv_strategy_name(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->name : "";
}

const char *sv_strategy_error(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->error : "";
}

uint64_t sv_strategy_calls(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->calls : 0;
}

uint64_t sv_strategy_cpu_stops(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    if (!s)
        return 0;
    sv_script_stats_t st;
    sv_script_stats(s->script, &st);
    return st.cpu_stops;
}

int sv_strategy_script_stats(const sv_strategy_host_t *h, uint32_t sid, size_t *mem_bytes,
                             uint64_t *allocs)
{
    const strat_t *s = get(h, sid);
    if (!s)
        return SV_E_NOTFOUND;
    sv_script_stats_t st;
    sv_script_stats(s->script, &st);
    if (mem_bytes)
        *mem_bytes = st.mem_bytes;
    if (allocs)
        *allocs = st.allocs;
    return SV_OK;
}

/* ---- live reload ------------------------------------------------------------------------ */

static void reload_alert(sv_strategy_host_t *h, strat_t *s, int code, const char *msg)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ALERT;
    ev.h.ts_exchange = ev.h.ts_receive = sv_clock_now(h->clock);
    ev.u.alert.code = (uint32_t)code;
    ev.u.alert.source = s->id;
    ev.u.alert.text = sv_intern_add(h->texts, msg, -1);
    ev.u.alert.value = s->reloads;
    sv_bus_publish(h->bus, &ev);
}

int sv_strategy_reload(sv_strategy_host_t *h, uint32_t sid, sv_diag_t *d)
{
    strat_t *s = get(h, sid);
    if (!s)
        return sv_diag_set(d, SV_E_NOTFOUND, "reload: unknown strategy id %u", sid);
    char comp[96];
    snprintf(comp, sizeof comp, "strategy %s", s->name);
    /* the new version is built beside the old one, sharing only the identity and the slot */
    strat_t n = *s;
    n.script = NULL;
    n.L = NULL;
    n.calls = 0;
    const char *names[SV_STRATEGY_MAX_SYMBOLS];
    for (uint32_t i = 0; i < s->n_symbols; i++)
        names[i] = sv_intern_name(h->symbols, s->symbols[i]);
    sv_strategy_spec_t spec = {.name = s->name, .file = s->file, .symbols = names, .n_symbols = s->n_symbols,
                               .params = s->params, .n_params = s->n_params, .cpu_budget_ms = s->spec_cpu_ms,
                               .memory_limit_mb = s->spec_mem_mb};
    int rc = load_into(h, &n, &spec, d);
    lua_State *L = n.L;
    if (rc == 0) {
        /* ctx.state carries over: copy it into the new state, then on_reload(ctx, old_state)
         * (or on_start) decides what to keep */
        sv_statecopy_stats_t cs;
        rc = sv_statecopy(s->L, s->ctx_ref, "state", L, &cs, d);
        if (rc == 0) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, n.ctx_ref);
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "state");
            lua_pop(L, 1);
            int hi = n.ref[H_RELOAD] != LUA_NOREF ? H_RELOAD : H_START;
            if (n.ref[hi] != LUA_NOREF) {
                sv_bus_hold(h->bus);
                lua_rawgeti(L, LUA_REGISTRYINDEX, n.ref[hi]);
                if (hi == H_RELOAD)
                    lua_pushvalue(L, -2); /* on_reload(ctx, old_state) */
                else
                    lua_remove(L, -2);
                *n.slot = &empty_event;
                /* on_reload / on_start are one-off work: the start budget, as at load */
                if (n.budget_ms > 0)
                    sv_script_set_cpu_budget(n.script, start_budget(&n));
                rc = sv_script_pcall(n.script, hi == H_RELOAD ? 1 : 0, 0, d);
                if (n.budget_ms > 0)
                    sv_script_set_cpu_budget(n.script, n.budget_ms);
                if (rc) {
                    char msg[sizeof d->msg];
                    snprintf(msg, sizeof msg, "%s: %.900s", handler_names[hi], d->msg);
                    sv_diag_set(d, rc, "%s", msg);
                }
                sv_bus_release(h->bus);
            }
            lua_settop(L, 0);
            if (cs.dropped)
                sv_log_warn(h->log, comp, "reload: %zu value(s) in ctx.state could not be carried over "
                            "(functions, coroutines, userdata)", cs.dropped);
        }
    }
    if (rc) {
        sv_script_free(n.script);
        s->reloads++;
        sv_log_error(h->log, comp, "reload failed, the running version stays: %s", d->msg);
        char msg[sizeof d->msg + 32];
        snprintf(msg, sizeof msg, "reload failed: %s", d->msg);
        reload_alert(h, s, SV_ALERT_RELOAD_FAILED, msg);
        return rc;
    }
    /* swap: same id, orders, positions and protective orders; the new code from now on */
    sv_script_t *old = s->script;
    s->script = n.script;
    s->L = n.L;
    s->ctx_ref = n.ctx_ref;
    memcpy(s->ref, n.ref, sizeof s->ref);
    s->budget_ms = n.budget_ms;
    s->reloads++;
    int was_disabled = !s->enabled;
    s->enabled = 1;
    s->stopping = 0;
    s->error[0] = '\0';
    sv_script_free(old);
    sv_log_info(h->log, comp, "reloaded %s (reload %u)%s", s->file, s->reloads,
                was_disabled ? "; re-enabled" : "");
    char msg[1200];
    snprintf(msg, sizeof msg, "reloaded %.1000s", s->file);
    reload_alert(h, s, SV_ALERT_SCRIPT_RELOADED, msg);
    return SV_OK;
}

const char *sv_strategy_file(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->file : "";
}

uint32_t sv_strategy_reloads(const sv_strategy_host_t *h, uint32_t sid)
{
    const strat_t *s = get(h, sid);
    return s ? s->reloads : 0;
}
