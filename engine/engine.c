/* engine: construction and wiring of one engine run, plus the recorder used by tests. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bus_redis.h"
#include "config.h"
#include "fixed.h"
#include "instrument.h"
#include "oms.h"
#include "portfolio.h"
#include "protect.h"
#include "risk.h"
#include "rules.h"
#include "sim.h"

struct sv_engine {
    sv_log_t log;
    sv_clock_t *clock;
    sv_bus_t *bus;
    sv_intern_t *symbols, *texts;
    sv_strategy_host_t *strategies;
    sv_instruments_t *instruments;
    sv_oms_t *oms;
    sv_portfolio_t *portfolio;
    sv_sim_t *sim;
    sv_risk_t *risk;
    sv_rules_t *rules; /* custom Lua risk rules, created with the first one */
    sv_protect_t *protect; /* protective orders: stop loss, trailing stop, take profit */
    struct watch *watches; /* live reload: one per strategy file */
    uint32_t n_watches;
    uv_fs_poll_t kill_watch; /* the kill switch's state file */
    int kill_watch_on;
    sv_exchange_t venue;
    uint32_t quote_asset;
    size_t script_mem_limit;
    int started;
    uv_loop_t loop; /* I/O of the run (Redis, file watching, API); the trading path never waits on it */
    int loop_ok;
    sv_bus_redis_t *redis; /* the Redis Streams writer; the bus owns it */
    /* recorder */
    sv_event_t *rec;
    uint32_t rec_cap, rec_n;
    int rec_sub;
};

static int64_t bus_now(void *ud) { return sv_clock_now(ud); }

/* A watched strategy file: events on its directory (editors replace files by rename) start a
 * short debounce timer; when it fires the strategy is reloaded. */
typedef struct watch {
    sv_engine_t *eng;
    uint32_t sid;  /* a strategy, or */
    int rule;      /* a custom risk rule (sid 0) */
    char base[256];
    uv_fs_event_t ev;
    uv_timer_t debounce;
    int ok;
} watch_t;

enum { RELOAD_DEBOUNCE_MS = 15 };

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

uv_loop_t *sv_engine_loop(sv_engine_t *e) { return &e->loop; }

/* symbols and assets share one id space; 4095 is far above any venue's listing */
enum { MAX_IDS = 4096, MAX_ORDERS = 65536 };

/* market data on the bus: the portfolio marks before strategies see the event */
static void on_market(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_fixed_t px = 0;
    switch (ev->h.kind) {
    case SV_EV_TRADE: px = ev->u.trade.price; break;
    case SV_EV_BAR: px = ev->u.bar.close; break;
    case SV_EV_QUOTE:
        if (ev->u.quote.bid_price > 0 && ev->u.quote.ask_price > 0)
            px = (ev->u.quote.bid_price + ev->u.quote.ask_price) / 2;
        break;
    default: break;
    }
    if (px > 0)
        sv_portfolio_mark(e->portfolio, ev->h.symbol, px);
}

/* the risk stage: every signal passes here before it becomes an order; a rejected one is
 * still an order, REJECTED with the rule and the reason, so its strategy sees it */
static void on_signal(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_event_t sig = *ev;
    char reason[300];
    if (sv_risk_check(e->risk, &sig, reason, sizeof reason) != 0) {
        sv_log_warn(&e->log, "risk", "signal %llu of %s (%s) rejected: %s",
                    (unsigned long long)ev->u.signal.signal_id,
                    sv_strategy_name(e->strategies, ev->u.signal.strategy), sv_intern_name(e->symbols, ev->h.symbol),
                    reason);
        sv_oms_reject(e->oms, &sig, reason);
        return;
    }
    int64_t id = sv_oms_submit(e->oms, &sig);
    /* risk learns of the order now, not when its ORDER event comes off the bus queue: a signal
     * already queued behind this one (two orders from one callback) must see it open */
    const sv_order_t *o = id > 0 ? sv_oms_order(e->oms, (uint64_t)id) : NULL;
    if (o) {
        sv_event_t oe;
        memset(&oe, 0, sizeof oe);
        oe.h.kind = SV_EV_ORDER;
        oe.h.symbol = sig.h.symbol;
        oe.h.ts_exchange = oe.h.ts_receive = sv_clock_now(e->clock);
        oe.u.order = *o;
        sv_risk_on_event(e->risk, &oe);
    }
}

static void on_risk_event(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_risk_on_event(e->risk, ev);
    if (e->rules)
        sv_rules_on_market(e->rules, ev);
}

/* ---- what custom risk rules read ---- */

static void rules_position(void *ud, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *avg)
{
    sv_engine_t *e = ud;
    const sv_position_t *p = sv_portfolio_position(e->portfolio, 0, symbol);
    *qty = p->qty;
    *avg = 0;
    if (p->qty)
        sv_fixed_div(p->cost, p->qty, avg);
}

static uint32_t rules_open_orders(void *ud, uint32_t symbol, sv_order_t *out, uint32_t max)
{
    sv_engine_t *e = ud;
    uint64_t ids[64];
    uint32_t n = sv_oms_open_orders(e->oms, 0, symbol, ids, max < 64 ? max : 64);
    for (uint32_t i = 0; i < n && i < max && i < 64; i++)
        out[i] = *sv_oms_order(e->oms, ids[i]);
    return n;
}

static const char *rules_strategy_name(void *ud, uint32_t sid)
{
    sv_engine_t *e = ud;
    return sv_strategy_name(e->strategies, sid);
}

static int64_t rules_now(void *ud)
{
    sv_engine_t *e = ud;
    return sv_clock_now(e->clock);
}

int sv_engine_add_rule(sv_engine_t *e, const char *name, const char *file, const sv_param_t *params,
                       uint32_t n_params, sv_diag_t *d)
{
    sv_diag_clear(d);
    if (!e->rules) {
        sv_rules_env_t env = {.ud = e, .position = rules_position, .open_orders = rules_open_orders,
                              .strategy_name = rules_strategy_name, .now = rules_now};
        if (!(e->rules = sv_rules_new(&env, e->symbols, &e->log, MAX_IDS, e->script_mem_limit)))
            return sv_diag_set(d, SV_E_NOMEM, "rules: out of memory");
    }
    int id = sv_rules_load(e->rules, name, file, params, n_params, d);
    if (id < 0)
        return id;
    int rc = sv_risk_add_rule(e->risk, sv_rules_name(e->rules, id), sv_rules_check, sv_rules_hook(e->rules, id));
    return rc < 0 ? sv_diag_set(d, rc, "%s: the risk engine refused the rule: %s", name, sv_strerror(rc)) : id;
}

/* ---- what the risk engine reads and does ---- */

static void risk_position(void *ud, uint32_t strategy, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *mark,
                          sv_fixed_t *net)
{
    sv_engine_t *e = ud;
    const sv_position_t *p = sv_portfolio_position(e->portfolio, strategy, symbol);
    *qty = p->qty;
    *mark = p->mark;
    *net = p->realized - p->fees;
}

static sv_fixed_t risk_equity(void *ud)
{
    sv_engine_t *e = ud;
    return sv_portfolio_equity(e->portfolio, e->quote_asset);
}

static int risk_cancel_all(void *ud)
{
    sv_engine_t *e = ud;
    return sv_oms_cancel_all(e->oms, 0, 0);
}

/* closes every position at market, as the strategy that holds it, without passing risk */
static int risk_flatten(void *ud)
{
    sv_engine_t *e = ud;
    int n = 0;
    uint32_t ns = sv_strategy_count(e->strategies);
    for (uint32_t sym = 1; sym <= sv_intern_count(e->symbols); sym++) {
        if (!sv_instruments_get(e->instruments, sym))
            continue;
        for (uint32_t sid = 1; sid <= ns; sid++) {
            const sv_position_t *p = sv_portfolio_position(e->portfolio, sid, sym);
            if (!p || p->qty == 0)
                continue;
            sv_event_t sig;
            memset(&sig, 0, sizeof sig);
            sig.h.kind = SV_EV_SIGNAL;
            sig.h.symbol = sym;
            sig.h.ts_exchange = sv_clock_now(e->clock);
            sig.u.signal.strategy = sid;
            sig.u.signal.side = p->qty > 0 ? SV_SIDE_SELL : SV_SIDE_BUY;
            sig.u.signal.qty = p->qty > 0 ? p->qty : -p->qty;
            sig.u.signal.type = SV_ORDER_MARKET;
            sig.u.signal.order_flags = SV_ORDER_FLAG_REDUCE_ONLY;
            memcpy(sig.u.signal.tag, "flatten", 8);
            if (sv_oms_submit(e->oms, &sig) > 0)
                n++;
        }
    }
    sv_log_error(&e->log, "risk", "flatten: %d closing order%s sent", n, n == 1 ? "" : "s");
    return n;
}

static uint32_t risk_text(void *ud, const char *s)
{
    sv_engine_t *e = ud;
    return sv_intern_add(e->texts, s, -1);
}

static int64_t risk_now(void *ud)
{
    sv_engine_t *e = ud;
    return sv_clock_now(e->clock);
}

static void risk_publish(void *ud, sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_bus_publish(e->bus, ev);
}

static void risk_log(void *ud, int level, const char *msg)
{
    sv_engine_t *e = ud;
    sv_log_write(&e->log, level, "risk", "%s", msg);
}

static const char *risk_symbol_name(void *ud, uint32_t id)
{
    sv_engine_t *e = ud;
    return sv_intern_name(e->symbols, id);
}

static sv_fixed_t risk_lot(void *ud, uint32_t symbol)
{
    sv_engine_t *e = ud;
    const sv_instrument_t *ins = sv_instruments_get(e->instruments, symbol);
    return ins ? ins->lot : 0;
}

static void kill_watch_cb(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
    (void)status;
    (void)prev;
    (void)curr;
    sv_engine_t *e = h->data;
    sv_risk_kill_switch_sync(e->risk);
}

static void on_debounced(uv_timer_t *t)
{
    watch_t *w = t->data;
    sv_diag_t d;
    if (w->sid) {
        sv_strategy_reload(w->eng->strategies, w->sid, &d);
        return;
    }
    /* a rule: its reload is an event too (the strategy host publishes its own) */
    int rc = sv_rules_reload(w->eng->rules, w->rule, &d);
    char msg[1200];
    snprintf(msg, sizeof msg, "rule %s: %s%.1000s", sv_rules_name(w->eng->rules, w->rule),
             rc ? "reload failed: " : "reloaded ", rc ? d.msg : sv_rules_file(w->eng->rules, w->rule));
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ALERT;
    ev.h.ts_exchange = ev.h.ts_receive = sv_clock_now(w->eng->clock);
    ev.u.alert.code = rc ? SV_ALERT_RELOAD_FAILED : SV_ALERT_SCRIPT_RELOADED;
    ev.u.alert.source = (uint32_t)w->rule;
    ev.u.alert.text = sv_intern_add(w->eng->texts, msg, -1);
    sv_bus_publish(w->eng->bus, &ev);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    watch_t *w = h->data;
    if (status < 0 || (filename && strcmp(filename, w->base) != 0))
        return;
    uv_timer_start(&w->debounce, on_debounced, RELOAD_DEBOUNCE_MS, 0);
}

int sv_engine_watch_strategies(sv_engine_t *e, sv_diag_t *d)
{
    uint32_t ns = sv_strategy_count(e->strategies);
    uint32_t nr = e->rules ? (uint32_t)sv_rules_count(e->rules) : 0;
    if (e->watches || ns + nr == 0)
        return SV_OK;
    e->watches = calloc(ns + nr, sizeof *e->watches);
    if (!e->watches)
        return sv_diag_set(d, SV_E_NOMEM, "reload: out of memory");
    for (uint32_t i = 0; i < ns + nr; i++) {
        watch_t *w = &e->watches[i];
        const char *file = i < ns ? sv_strategy_file(e->strategies, i + 1) : sv_rules_file(e->rules, (int)(i - ns + 1));
        char dir[1024];
        const char *slash = strrchr(file, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
        if (slash && slash == file)
            snprintf(dir, sizeof dir, "/");
        snprintf(w->base, sizeof w->base, "%s", slash ? slash + 1 : file);
        w->eng = e;
        w->sid = i < ns ? i + 1 : 0;
        w->rule = i < ns ? 0 : (int)(i - ns + 1);
        if (uv_fs_event_init(&e->loop, &w->ev) != 0 || uv_timer_init(&e->loop, &w->debounce) != 0)
            return sv_diag_set(d, SV_E_IO, "reload: cannot watch %s", file);
        w->ev.data = w->debounce.data = w;
        e->n_watches = i + 1;
        int rc = uv_fs_event_start(&w->ev, on_fs_event, dir, 0);
        if (rc != 0)
            return sv_diag_set(d, SV_E_IO, "reload: cannot watch %s: %s", dir, uv_strerror(rc));
        w->ok = 1;
    }
    sv_log_info(&e->log, "reload", "watching %u strategy and %u rule file%s for changes", ns, nr,
                ns + nr == 1 ? "" : "s");
    return SV_OK;
}

int sv_engine_use_risk(sv_engine_t *e, const sv_risk_config_t *cfg)
{
    sv_risk_env_t env = {.ud = e, .position = risk_position, .equity = risk_equity, .cancel_all = risk_cancel_all,
                         .flatten = risk_flatten, .text = risk_text, .now = risk_now, .publish = risk_publish,
                         .log = risk_log, .symbol_name = risk_symbol_name, .lot = risk_lot};
    sv_risk_t *r = sv_risk_new(cfg, &env, MAX_IDS);
    if (!r)
        return cfg->timezone[0] ? SV_E_CONFIG : SV_E_NOMEM;
    sv_risk_free(e->risk);
    e->risk = r;
    if (e->kill_watch_on) {
        uv_fs_poll_stop(&e->kill_watch);
    } else if (cfg->kill_switch_file[0] && uv_fs_poll_init(&e->loop, &e->kill_watch) == 0) {
        e->kill_watch_on = 1;
        e->kill_watch.data = e;
    }
    if (e->kill_watch_on && cfg->kill_switch_file[0])
        uv_fs_poll_start(&e->kill_watch, kill_watch_cb, cfg->kill_switch_file, 200);
    return SV_OK;
}

sv_risk_t *sv_engine_risk(sv_engine_t *e) { return e->risk; }

static void on_fill(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    int rc = sv_portfolio_apply_fill(e->portfolio, ev);
    if (rc != 0) {
        sv_log_error(&e->log, "portfolio", "fill of order %llu not applied: %s",
                     (unsigned long long)ev->u.fill.client_id, sv_strerror(rc));
        return;
    }
    const sv_position_t *p = sv_portfolio_position(e->portfolio, ev->u.fill.strategy, ev->h.symbol);
    sv_event_t pe;
    memset(&pe, 0, sizeof pe);
    pe.h.kind = SV_EV_POSITION;
    pe.h.symbol = ev->h.symbol;
    pe.h.ts_exchange = ev->h.ts_exchange;
    pe.u.position.qty = p->qty;
    if (p->qty != 0)
        sv_fixed_div(p->cost, p->qty, &pe.u.position.avg_price);
    pe.u.position.realized_pnl = p->realized;
    pe.u.position.strategy = ev->u.fill.strategy;
    sv_bus_publish(e->bus, &pe);
}

static int svc_position(void *ud, uint32_t sid, uint32_t symbol, sv_position_view_t *out)
{
    sv_engine_t *e = ud;
    const sv_position_t *p = sv_portfolio_position(e->portfolio, sid, symbol);
    out->qty = p->qty;
    out->avg_price = 0;
    if (p->qty != 0)
        sv_fixed_div(p->cost, p->qty, &out->avg_price);
    out->realized_pnl = p->realized;
    out->unrealized_pnl = sv_portfolio_unrealized(p);
    return SV_OK;
}

static double svc_balance(void *ud, uint32_t sid, const char *asset)
{
    sv_engine_t *e = ud;
    (void)sid;
    uint32_t id = sv_intern_find(e->symbols, asset, -1);
    return id ? sv_fixed_to_double(sv_portfolio_balance(e->portfolio, id)) : 0.0;
}

static int svc_size_info(void *ud, uint32_t sid, uint32_t symbol, sv_size_info_t *out)
{
    sv_engine_t *e = ud;
    (void)sid;
    const sv_instrument_t *ins = sv_instruments_get(e->instruments, symbol);
    const sv_risk_limits_t *l = sv_risk_limits(e->risk, symbol);
    out->equity = sv_fixed_to_double(sv_portfolio_equity(e->portfolio, e->quote_asset));
    out->lot = ins ? sv_fixed_to_double(ins->lot) : 0;
    out->max_order_qty = sv_fixed_to_double(l->max_order_qty);
    out->max_order_notional = sv_fixed_to_double(l->max_order_notional);
    out->size_factor = sv_risk_size_factor(e->risk);
    return SV_OK;
}

/* A strategy's cancels never touch the protective exits the core sent for it (protect.h). */
static int svc_cancel(void *ud, uint32_t sid, uint64_t id)
{
    sv_engine_t *e = ud;
    if (sv_protect_is_exit(e->protect, sid, sv_oms_order_symbol(e->oms, id), id))
        return SV_E_STATE;
    return sv_oms_cancel(e->oms, sid, id);
}

static int svc_cancel_all(void *ud, uint32_t sid, uint32_t symbol)
{
    sv_engine_t *e = ud;
    if (!sv_protect_exits(e->protect, sid))
        return sv_oms_cancel_all(e->oms, sid, symbol);
    uint32_t n = sv_oms_open_orders(e->oms, sid, symbol, NULL, 0);
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return SV_E_NOMEM;
    n = sv_oms_open_orders(e->oms, sid, symbol, ids, n);
    int c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!sv_protect_is_exit(e->protect, sid, sv_oms_order_symbol(e->oms, ids[i]), ids[i]) &&
            sv_oms_cancel(e->oms, 0, ids[i]) == 0)
            c++;
    free(ids);
    return c;
}

/* ---- protective orders (protect.h): kept and triggered here, sent straight to the OMS ---- */

static void protect_position(void *ud, uint32_t sid, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *avg)
{
    sv_engine_t *e = ud;
    const sv_position_t *p = sv_portfolio_position(e->portfolio, sid, symbol);
    *qty = p->qty;
    *avg = 0;
    if (p->qty != 0)
        sv_fixed_div(p->cost, p->qty, avg);
}

static int64_t protect_submit(void *ud, const sv_event_t *sig)
{
    sv_engine_t *e = ud;
    return sv_oms_submit(e->oms, sig);
}

static int protect_cancel(void *ud, uint64_t client_id)
{
    sv_engine_t *e = ud;
    return sv_oms_cancel(e->oms, 0, client_id);
}

static int protect_halted(void *ud)
{
    sv_engine_t *e = ud;
    return sv_risk_halted(e->risk);
}

static int protect_kill_switch(void *ud)
{
    sv_engine_t *e = ud;
    return sv_risk_kill_switch_engaged(e->risk);
}

static void protect_log(void *ud, int level, const char *msg)
{
    sv_engine_t *e = ud;
    sv_log_write(&e->log, level, "protect", "%s", msg);
}

static const char *protect_strategy_name(void *ud, uint32_t sid)
{
    sv_engine_t *e = ud;
    return e->strategies ? sv_strategy_name(e->strategies, sid) : "";
}

static void on_protect_event(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_protect_on_event(e->protect, ev);
}

/* ctx:buy(..., { stop_loss = ..., ... }) after the order's signal was published */
static int svc_protect(void *ud, uint32_t sid, uint32_t symbol, uint64_t signal_id, const sv_protect_spec_t *spec)
{
    sv_engine_t *e = ud;
    char why[300];
    int rc = sv_protect_order(e->protect, sid, symbol, signal_id, spec, why, sizeof why);
    if (rc < 0)
        sv_log_warn(&e->log, "protect", "strategy %s %s: protective orders refused: %s",
                    sv_strategy_name(e->strategies, sid), sv_intern_name(e->symbols, symbol), why);
    return rc;
}

int sv_engine_protect_defaults(sv_engine_t *e, uint32_t sid, const sv_protect_spec_t *spec, sv_diag_t *d)
{
    char why[300];
    sv_diag_clear(d);
    int rc = sv_protect_set_defaults(e->protect, sid, spec, why, sizeof why);
    return rc ? sv_diag_set(d, rc, "protect: %s", why) : SV_OK;
}

struct sv_protect *sv_engine_protect(sv_engine_t *e) { return e->protect; }

sv_engine_t *sv_engine_new(const sv_engine_options_t *o, sv_diag_t *d)
{
    sv_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    sv_log_init(&e->log, o->log_out, o->log_level);
    e->script_mem_limit = o->script_mem_limit;
    e->loop_ok = uv_loop_init(&e->loop) == 0;
    e->clock = sv_clock_new(o->simulated, 65536);
    e->symbols = sv_intern_new(MAX_IDS - 1, 1 << 20);
    e->texts = sv_intern_new(65536, 4 << 20);
    e->instruments = sv_instruments_new(MAX_IDS);
    if (e->clock)
        e->bus = sv_bus_new(o->bus_queue ? o->bus_queue : 65536, 256, bus_now, e->clock);
    int ok = e->bus && e->symbols && e->texts && e->instruments;
    if (ok) {
        e->oms = sv_oms_new(e->bus, e->clock, e->texts, &e->log, MAX_ORDERS);
        e->portfolio = sv_portfolio_new(e->instruments, MAX_IDS, SV_STRATEGY_MAX);
        ok = e->oms && e->portfolio;
    }
    /* subscription order is the loop's order: venue and marks, risk, portfolio, strategies */
    if (ok)
        ok = sv_bus_subscribe(e->bus, SV_BUS_MASK_MARKET, on_market, e) > 0 &&
             sv_bus_subscribe(e->bus, SV_BUS_MASK(SV_EV_SIGNAL), on_signal, e) > 0 &&
             sv_bus_subscribe(e->bus, SV_BUS_MASK(SV_EV_FILL), on_fill, e) > 0 &&
             sv_bus_subscribe(e->bus, SV_BUS_MASK_MARKET | SV_BUS_MASK(SV_EV_ORDER) | SV_BUS_MASK(SV_EV_FILL),
                              on_risk_event, e) > 0;
    if (ok) {
        sv_risk_config_t none;
        memset(&none, 0, sizeof none);
        ok = sv_engine_use_risk(e, &none) == 0;
    }
    if (ok) { /* protective orders see fills after the portfolio, and prices before strategies */
        sv_protect_env_t pe = {.ud = e, .position = protect_position, .submit = protect_submit,
                               .cancel = protect_cancel, .lot = risk_lot, .halted = protect_halted,
                               .kill_switch = protect_kill_switch, .now = risk_now, .publish = risk_publish,
                               .text = risk_text, .log = protect_log, .symbol_name = risk_symbol_name,
                               .strategy_name = protect_strategy_name};
        e->protect = sv_protect_new(&pe, MAX_IDS, SV_STRATEGY_MAX, 4096, 1024);
        ok = e->protect &&
             sv_bus_subscribe(e->bus, SV_BUS_MASK_MARKET | SV_BUS_MASK(SV_EV_ORDER) | SV_BUS_MASK(SV_EV_FILL),
                              on_protect_event, e) > 0;
    }
    if (ok)
        e->strategies = sv_strategy_host_new(e->bus, e->clock, e->symbols, e->texts, &e->log,
                                             o->script_mem_limit);
    if (e->strategies)
        sv_strategy_host_set_cpu_budget(e->strategies, o->script_cpu_budget_ms);
    if (!e->strategies || !e->loop_ok) {
        sv_engine_free(e);
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    sv_strategy_services_t svc = {.ud = e, .position = svc_position, .balance = svc_balance,
                                  .cancel = svc_cancel, .cancel_all = svc_cancel_all,
                                  .size_info = svc_size_info, .protect = svc_protect};
    sv_strategy_host_set_services(e->strategies, &svc);
    return e;
}

static sv_fixed_t fx(double v)
{
    sv_fixed_t f = 0;
    sv_fixed_from_double(v, &f);
    return f;
}

int sv_engine_use_sim(sv_engine_t *e, const sv_sim_config_t *c)
{
    if (e->sim)
        return SV_E_EXISTS;
    if (!(c->participation > 0 && c->participation <= 1) || c->latency_ms < 0 || c->maker_fee_bps < 0 ||
        c->taker_fee_bps < 0 || c->slippage_bps < 0)
        return SV_E_INVAL;
    sv_sim_options_t so = {.latency_ns = (int64_t)(c->latency_ms * 1e6),
                           .maker_fee_bps = fx(c->maker_fee_bps),
                           .taker_fee_bps = fx(c->taker_fee_bps),
                           .slippage_bps = fx(c->slippage_bps),
                           .participation = fx(c->participation),
                           .queue_position = c->queue_position,
                           .max_orders = MAX_ORDERS};
    /* the OMS's sink exists before the venue; the venue is handed to the OMS after */
    sv_exec_sink_t sink = sv_oms_set_exchange(e->oms, NULL);
    e->sim = sv_sim_new(&so, e->instruments, e->clock, sink);
    if (!e->sim)
        return SV_E_NOMEM;
    e->venue = sv_sim_exchange(e->sim);
    sv_oms_set_exchange(e->oms, &e->venue);
    /* the venue's balances start as the portfolio's */
    for (uint32_t a = 1; a <= sv_intern_count(e->symbols); a++) {
        sv_fixed_t b = sv_portfolio_balance(e->portfolio, a);
        if (b)
            sv_sim_set_balance(e->sim, a, b);
    }
    return SV_OK;
}

sv_engine_t *sv_engine_new_sim(void)
{
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_WARN,
                             .script_mem_limit = (size_t)SV_STRATEGY_MEMORY_LIMIT_MB << 20,
                             .script_cpu_budget_ms = SV_STRATEGY_CPU_BUDGET_MS};
    return sv_engine_new(&o, NULL);
}

int sv_engine_use_redis(sv_engine_t *e, const sv_redis_options_t *o, sv_diag_t *d)
{
    if (e->redis)
        return sv_diag_set(d, SV_E_EXISTS, "bus: the redis backend is attached already");
    sv_event_names_t names = {.symbols = e->symbols, .texts = e->texts};
    sv_bus_redis_t *w;
    int rc = sv_bus_redis_new(o, &e->loop, &e->log, &names, &w, d);
    if (rc)
        return rc;
    sv_bus_backend_t b = sv_bus_redis_backend(w);
    if ((rc = sv_bus_attach(e->bus, &b)) != SV_OK) {
        sv_bus_redis_free(w);
        return sv_diag_set(d, rc, "bus: cannot attach the redis backend: %s", sv_strerror(rc));
    }
    e->redis = w;
    return SV_OK;
}

sv_bus_redis_t *sv_engine_redis(sv_engine_t *e) { return e->redis; }

int sv_engine_add_instrument(sv_engine_t *e, const char *symbol, const char *base, const char *quote,
                             const char *tick, const char *lot, const char *min_notional)
{
    sv_instrument_t ins = {.symbol = sv_intern_add(e->symbols, symbol, -1),
                           .base = sv_intern_add(e->symbols, base, -1),
                           .quote = sv_intern_add(e->symbols, quote, -1)};
    if (!ins.symbol || !ins.base || !ins.quote)
        return SV_E_INVAL;
    if (sv_fixed_parse(tick, -1, &ins.tick) || sv_fixed_parse(lot, -1, &ins.lot) ||
        sv_fixed_parse(min_notional && *min_notional ? min_notional : "0", -1, &ins.min_notional))
        return SV_E_PARSE;
    int rc = sv_instruments_set(e->instruments, &ins);
    if (rc == 0 && !e->quote_asset)
        e->quote_asset = ins.quote;
    return rc;
}

int sv_engine_set_balance(sv_engine_t *e, const char *asset, const char *amount)
{
    uint32_t id = sv_intern_add(e->symbols, asset, -1);
    sv_fixed_t v;
    if (!id)
        return SV_E_INVAL;
    if (sv_fixed_parse(amount, -1, &v) != 0)
        return SV_E_PARSE;
    int rc = sv_portfolio_set_balance(e->portfolio, id, v);
    if (rc == 0 && e->sim)
        rc = sv_sim_set_balance(e->sim, id, v);
    return rc;
}

int sv_engine_position(sv_engine_t *e, uint32_t sid, uint32_t symbol, sv_position_view_t *out)
{
    return svc_position(e, sid, symbol, out);
}

double sv_engine_balance(sv_engine_t *e, const char *asset) { return svc_balance(e, 0, asset); }

int sv_engine_cancel_all(sv_engine_t *e, uint32_t sid, uint32_t symbol)
{
    return sv_oms_cancel_all(e->oms, sid, symbol);
}

sv_oms_t *sv_engine_oms(sv_engine_t *e) { return e->oms; }
sv_portfolio_t *sv_engine_portfolio(sv_engine_t *e) { return e->portfolio; }
sv_instruments_t *sv_engine_instruments(sv_engine_t *e) { return e->instruments; }
uint32_t sv_engine_quote_asset(sv_engine_t *e) { return e->quote_asset; }

void sv_engine_free(sv_engine_t *e)
{
    if (!e)
        return;
    sv_strategy_host_free(e->strategies);
    sv_bus_redis_shutdown(e->redis); /* drains and closes its connections while the loop still runs */
    if (e->loop_ok) {
        /* whatever is still open on the loop (owned by parts freed above) is closed here */
        uv_walk(&e->loop, close_handle, NULL);
        uv_run(&e->loop, UV_RUN_DEFAULT);
        uv_loop_close(&e->loop);
    }
    free(e->watches); /* after the loop closed their handles */
    sv_sim_free(e->sim);
    sv_risk_free(e->risk);
    sv_rules_free(e->rules);
    sv_protect_free(e->protect);
    sv_oms_free(e->oms);
    sv_portfolio_free(e->portfolio);
    sv_instruments_free(e->instruments);
    sv_bus_free(e->bus);
    sv_clock_free(e->clock);
    sv_intern_free(e->symbols);
    sv_intern_free(e->texts);
    free(e->rec);
    free(e);
}

void sv_engine_set_log_level(sv_engine_t *e, int level) { e->log.level = level; }

sv_bus_t *sv_engine_bus(sv_engine_t *e) { return e->bus; }
sv_clock_t *sv_engine_clock(sv_engine_t *e) { return e->clock; }
sv_log_t *sv_engine_log(sv_engine_t *e) { return &e->log; }
sv_intern_t *sv_engine_symbols(sv_engine_t *e) { return e->symbols; }
sv_intern_t *sv_engine_texts(sv_engine_t *e) { return e->texts; }
sv_strategy_host_t *sv_engine_strategies(sv_engine_t *e) { return e->strategies; }

int sv_engine_add_strategy(sv_engine_t *e, const sv_strategy_spec_t *spec, sv_diag_t *d)
{
    sv_diag_clear(d);
    return sv_strategy_load(e->strategies, spec, d);
}

int sv_engine_start(sv_engine_t *e)
{
    e->started = 1;
    return sv_strategy_start_all(e->strategies);
}

int sv_engine_stop(sv_engine_t *e)
{
    if (!e->started)
        return SV_E_STATE;
    e->started = 0;
    sv_strategy_stop_all(e->strategies);
    return SV_OK;
}

int sv_engine_advance(sv_engine_t *e, int64_t ts)
{
    sv_clock_timer_t t;
    int n = 0;
    while (sv_clock_timer_pop_due(e->clock, ts, &t)) {
        sv_clock_set(e->clock, t.due);
        sv_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.h.kind = SV_EV_TIMER;
        ev.h.ts_exchange = ev.h.ts_receive = t.due;
        ev.u.timer.timer_id = (uint64_t)t.id;
        ev.u.timer.strategy = (uint32_t)t.cookie;
        sv_bus_publish(e->bus, &ev);
        n++;
    }
    sv_clock_set(e->clock, ts);
    return n;
}

int sv_engine_feed(sv_engine_t *e, sv_event_t *ev)
{
    unsigned k = ev->h.kind;
    if (k != SV_EV_TRADE && k != SV_EV_QUOTE && k != SV_EV_BAR && k != SV_EV_DEPTH)
        return SV_E_INVAL;
    if (sv_clock_is_simulated(e->clock))
        sv_engine_advance(e, ev->h.ts_exchange);
    if (ev->h.ts_receive == 0)
        ev->h.ts_receive = sv_clock_now(e->clock);
    if (e->sim) {
        /* the venue matches first and what it reports (fills at a bar's open, say) reaches the
         * portfolio and the strategies before the event does: an order placed on bar N fills
         * on bar N+1 and its owner knows it when it sees bar N+1 */
        sv_bus_hold(e->bus);
        sv_sim_on_market(e->sim, ev);
        sv_bus_release(e->bus);
    }
    return sv_bus_publish(e->bus, ev);
}

uint32_t sv_engine_symbol(sv_engine_t *e, const char *name) { return sv_intern_add(e->symbols, name, -1); }

const char *sv_engine_symbol_name(sv_engine_t *e, uint32_t id) { return sv_intern_name(e->symbols, id); }

const char *sv_engine_text(sv_engine_t *e, uint32_t id) { return sv_intern_name(e->texts, id); }

static void record(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    if (e->rec_n < e->rec_cap)
        e->rec[e->rec_n++] = *ev;
}

int sv_engine_record(sv_engine_t *e, uint32_t kind_mask, uint32_t capacity)
{
    if (e->rec)
        return SV_E_EXISTS;
    e->rec = calloc(capacity ? capacity : 1, sizeof *e->rec);
    if (!e->rec)
        return SV_E_NOMEM;
    e->rec_cap = capacity;
    e->rec_sub = sv_bus_subscribe(e->bus, kind_mask, record, e);
    return e->rec_sub < 0 ? e->rec_sub : SV_OK;
}

uint32_t sv_engine_recorded(sv_engine_t *e) { return e->rec_n; }

const sv_event_t *sv_engine_record_at(sv_engine_t *e, uint32_t i)
{
    return i < e->rec_n ? &e->rec[i] : NULL;
}

int sv_engine_reload_strategy(sv_engine_t *e, uint32_t sid, sv_diag_t *d)
{
    sv_diag_clear(d);
    return sv_strategy_reload(e->strategies, sid, d);
}

int sv_engine_reload_rule(sv_engine_t *e, int id, sv_diag_t *d)
{
    sv_diag_clear(d);
    if (!e->rules)
        return sv_diag_set(d, SV_E_NOTFOUND, "reload: no custom risk rules are loaded");
    return sv_rules_reload(e->rules, id, d);
}

int sv_engine_strategy_enabled(sv_engine_t *e, uint32_t sid)
{
    return sv_strategy_enabled(e->strategies, sid);
}

const char *sv_engine_strategy_error(sv_engine_t *e, uint32_t sid)
{
    return sv_strategy_error(e->strategies, sid);
}

static int cfg_fixed(const sv_cfg_node_t *n, const char *key, sv_fixed_t *out, sv_diag_t *d)
{
    const sv_cfg_node_t *v = sv_cfg_get(n, key);
    char where[1200];
    if (!v) {
        *out = 0;
        return SV_OK;
    }
    if (sv_fixed_parse(sv_cfg_raw(v), -1, out) != 0) {
        sv_cfg_where(v, where, sizeof where);
        return sv_diag_set(d, SV_E_CONFIG, "%s: %s: not an exact decimal with at most 8 decimals: '%s'",
                           where, key, sv_cfg_raw(v));
    }
    return SV_OK;
}

/* a config `params` map -> sv_param_t (strings borrowed from the config) */
static void params_from(const sv_cfg_node_t *pm, sv_param_t *params)
{
    for (size_t k = 0; k < sv_cfg_len(pm); k++) {
        const sv_cfg_node_t *v = sv_cfg_at(pm, k);
        params[k].key = sv_cfg_key(pm, k);
        switch (sv_cfg_type(v)) {
        case SV_CFG_STRING: params[k].type = SV_PARAM_STRING; params[k].string = sv_cfg_str(v, NULL, ""); break;
        case SV_CFG_BOOL: params[k].type = SV_PARAM_BOOL; params[k].boolean = sv_cfg_bool(v, NULL, 0); break;
        default: params[k].type = SV_PARAM_NUMBER; params[k].number = sv_cfg_num(v, NULL, 0); break;
        }
    }
}

static int limits_from(const sv_cfg_node_t *n, sv_risk_limits_t *l, sv_diag_t *d)
{
    memset(l, 0, sizeof *l);
    if (!n)
        return SV_OK;
    int rc = cfg_fixed(n, "max_order_qty", &l->max_order_qty, d);
    if (!rc)
        rc = cfg_fixed(n, "max_order_notional", &l->max_order_notional, d);
    if (!rc)
        rc = cfg_fixed(n, "max_position_qty", &l->max_position_qty, d);
    if (!rc)
        rc = cfg_fixed(n, "max_position_notional", &l->max_position_notional, d);
    if (!rc)
        rc = cfg_fixed(n, "min_price", &l->min_price, d);
    if (!rc)
        rc = cfg_fixed(n, "max_price", &l->max_price, d);
    l->max_open_orders = (uint32_t)sv_cfg_int(n, "max_open_orders", 0);
    l->price_band_bps = sv_cfg_int(n, "price_band_bps", 0);
    l->duplicate_window_ns = sv_cfg_int(n, "duplicate_window_ms", 0) * 1000000;
    return rc;
}

/* "HH:MM" -> minutes after midnight, or -1 */
static int hhmm(const char *s)
{
    int h, m;
    char tail;
    if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m))
        return -1;
    return h * 60 + m;
}

/* divisor: 100 for a percentage (a division, so 15 % is exactly the double nearest 0.15) */
static void monitor_from(const sv_cfg_node_t *n, const char *count_key, double divisor, sv_risk_monitor_t *m)
{
    memset(m, 0, sizeof *m);
    if (!n)
        return;
    m->action = sv_risk_action_parse(sv_cfg_str(n, "action", "none"));
    if (m->action < 0)
        m->action = SV_RISK_ACTION_NONE;
    m->limit = sv_cfg_num(n, count_key, 0) / divisor;
    m->factor = sv_cfg_num(n, "factor", 0.5);
    m->window_ns = sv_cfg_int(n, "window_min", 0) * 60000000000LL;
}

/* Reads config/risk/NAME.yaml (validated by the schema) into the risk engine. */
static int load_risk(sv_engine_t *e, const sv_cfg_node_t *risk, int backtest, sv_diag_t *d)
{
    sv_risk_config_t rc;
    memset(&rc, 0, sizeof rc);
    char where[1200];
    int err = limits_from(sv_cfg_get(risk, "defaults"), &rc.defaults, d);
    if (err)
        return err;
    const sv_cfg_node_t *acct = sv_cfg_get(risk, "account");
    if ((err = cfg_fixed(acct, "max_gross_exposure", &rc.max_gross_exposure, d)) != 0)
        return err;
    rc.rate_per_second = (uint32_t)sv_cfg_int(acct, "rate_limit.per_second", 0);
    rc.rate_per_minute = (uint32_t)sv_cfg_int(acct, "rate_limit.per_minute", 0);
    rc.self_trade_prevention = sv_cfg_bool(acct, "self_trade_prevention", 1);
    rc.allowlist_enabled = sv_cfg_get(acct, "allowed_symbols") != NULL;
    snprintf(rc.timezone, sizeof rc.timezone, "%s", sv_cfg_str(risk, "timezone", "UTC"));
    const sv_cfg_node_t *h = sv_cfg_get(risk, "trading_hours");
    if (h) {
        rc.hours.enabled = 1;
        rc.hours.start_min = hhmm(sv_cfg_str(h, "start", ""));
        rc.hours.end_min = hhmm(sv_cfg_str(h, "end", ""));
        const char *bad = rc.hours.start_min < 0 ? "start" : rc.hours.end_min < 0 ? "end" : NULL;
        if (!bad && rc.hours.end_min <= rc.hours.start_min)
            bad = "end";
        if (bad) {
            sv_cfg_where(sv_cfg_get(h, bad), where, sizeof where);
            return sv_diag_set(d, SV_E_CONFIG, "%s: trading_hours.%s: expected HH:MM with end after start, got '%s'",
                               where, bad, sv_cfg_str(h, bad, ""));
        }
        const sv_cfg_node_t *days = sv_cfg_get(h, "days");
        static const char *const wd[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
        for (size_t i = 0; i < sv_cfg_len(days); i++)
            for (int k = 0; k < 7; k++)
                if (!strcmp(sv_cfg_str(sv_cfg_at(days, i), NULL, ""), wd[k]))
                    rc.hours.days |= (uint8_t)(1u << k);
        rc.hours.no_trade_after_open_min = (int)sv_cfg_int(h, "no_trade_after_open_min", 0);
        rc.hours.no_trade_before_close_min = (int)sv_cfg_int(h, "no_trade_before_close_min", 0);
    }
    const sv_cfg_node_t *m = sv_cfg_get(risk, "monitors");
    rc.monitor_interval_ns = sv_cfg_int(m, "interval_ms", 1000) * 1000000;
    monitor_from(sv_cfg_get(m, "daily_loss"), "limit", 1, &rc.daily_loss);
    monitor_from(sv_cfg_get(m, "weekly_loss"), "limit", 1, &rc.weekly_loss);
    monitor_from(sv_cfg_get(m, "monthly_loss"), "limit", 1, &rc.monthly_loss);
    monitor_from(sv_cfg_get(m, "circuit_breaker"), "loss_pct", 100, &rc.circuit_breaker);
    monitor_from(sv_cfg_get(m, "consecutive_losses"), "count", 1, &rc.consecutive_losses);
    monitor_from(sv_cfg_get(m, "trades_per_hour"), "count", 1, &rc.trades_per_hour);
    monitor_from(sv_cfg_get(m, "trades_per_day"), "count", 1, &rc.trades_per_day);
    const sv_cfg_node_t *dd = sv_cfg_get(m, "drawdown");
    for (size_t i = 0; i < sv_cfg_len(dd) && i < SV_RISK_MAX_TIERS; i++) {
        monitor_from(sv_cfg_at(dd, i), "at_pct", 100, &rc.drawdown[i]);
        if (i > 0 && rc.drawdown[i].limit <= rc.drawdown[i - 1].limit) {
            sv_cfg_where(sv_cfg_at(dd, i), where, sizeof where);
            return sv_diag_set(d, SV_E_CONFIG, "%s: monitors.drawdown.%zu.at_pct: tiers must be in ascending order",
                               where, i);
        }
        rc.n_drawdown = (uint32_t)i + 1;
    }
    /* a backtest never reads or writes the operator's kill switch: its kill switch lives in
     * memory, so an engaged live switch cannot silently empty a backtest */
    if (!backtest)
        snprintf(rc.kill_switch_file, sizeof rc.kill_switch_file, "%s", sv_cfg_str(risk, "kill_switch.file", ""));
    if ((err = sv_engine_use_risk(e, &rc)) != 0) {
        sv_cfg_where(sv_cfg_get(risk, "timezone"), where, sizeof where);
        return sv_diag_set(d, err, "%s: timezone: unknown time zone '%s'", where, rc.timezone);
    }
    const sv_cfg_node_t *syms = sv_cfg_get(risk, "symbols");
    for (size_t i = 0; i < sv_cfg_len(syms); i++) {
        sv_risk_limits_t l;
        /* an override starts from the defaults: only the keys it names change */
        sv_risk_limits_t over;
        if ((err = limits_from(sv_cfg_at(syms, i), &over, d)) != 0)
            return err;
        l = rc.defaults;
#define OVER(f) if (over.f) l.f = over.f
        OVER(max_order_qty); OVER(max_order_notional); OVER(max_position_qty); OVER(max_position_notional);
        OVER(min_price); OVER(max_price); OVER(price_band_bps); OVER(max_open_orders); OVER(duplicate_window_ns);
#undef OVER
        sv_risk_set_limits(e->risk, sv_intern_add(e->symbols, sv_cfg_key(syms, i), -1), &l);
    }
    const sv_cfg_node_t *allow = sv_cfg_get(acct, "allowed_symbols");
    for (size_t i = 0; i < sv_cfg_len(allow); i++)
        sv_risk_allow(e->risk, sv_intern_add(e->symbols, sv_cfg_str(sv_cfg_at(allow, i), NULL, ""), -1));
    const sv_cfg_node_t *rules = sv_cfg_get(risk, "rules");
    for (size_t i = 0; i < sv_cfg_len(rules); i++) {
        const sv_cfg_node_t *rn = sv_cfg_at(rules, i), *pm = sv_cfg_get(rn, "params");
        size_t np = sv_cfg_len(pm);
        sv_param_t *params = calloc(np + 1, sizeof *params);
        if (!params)
            return sv_diag_set(d, SV_E_NOMEM, "rules: out of memory");
        params_from(pm, params);
        int id = sv_engine_add_rule(e, sv_cfg_str(rn, "name", ""), sv_cfg_str(rn, "file", ""), params, (uint32_t)np, d);
        free(params);
        if (id < 0)
            return id;
    }
    return SV_OK;
}

/* A strategy's `protect:` section: protective orders for every position it opens. */
static int protect_from(sv_engine_t *e, uint32_t sid, const sv_cfg_node_t *n, sv_diag_t *d)
{
    if (sv_cfg_type(n) != SV_CFG_MAP)
        return SV_OK;
    sv_protect_spec_t s;
    memset(&s, 0, sizeof s);
    char where[1200], why[300];
    s.stop_loss_pct = sv_cfg_num(n, "stop_loss_pct", 0);
    s.trailing_pct = sv_cfg_num(n, "trailing_pct", 0);
    const sv_cfg_node_t *tp = sv_cfg_get(n, "take_profit_pct"), *tf = sv_cfg_get(n, "take_profit_fraction");
    size_t ntp = sv_cfg_len(tp), ntf = sv_cfg_len(tf);
    if (ntp > SV_PROTECT_LEVELS || ntf > ntp) {
        sv_cfg_where(ntp > SV_PROTECT_LEVELS ? tp : tf, where, sizeof where);
        return sv_diag_set(d, SV_E_CONFIG, ntp > SV_PROTECT_LEVELS
                               ? "%s: protect.take_profit_pct: at most 4 levels"
                               : "%s: protect.take_profit_fraction: more fractions than take_profit_pct levels",
                           where);
    }
    s.n_take_profit = (uint32_t)ntp;
    for (size_t i = 0; i < ntp; i++) {
        s.take_profit_pct[i] = sv_cfg_num(sv_cfg_at(tp, i), NULL, 0);
        s.take_profit_fraction[i] = i < ntf ? sv_cfg_num(sv_cfg_at(tf, i), NULL, 0) : 0;
    }
    if (sv_protect_set_defaults(e->protect, sid, &s, why, sizeof why) != 0) {
        sv_cfg_where(tf && strstr(why, "take_profit_fraction") ? tf : n, where, sizeof where);
        return sv_diag_set(d, SV_E_CONFIG, "%s: protect: %s", where, why);
    }
    return SV_OK;
}

int sv_engine_load_config(sv_engine_t *e, const sv_config_t *cfg, sv_diag_t *d)
{
    const sv_cfg_node_t *root = sv_config_root(cfg);
    const sv_cfg_node_t *syms = sv_cfg_get(root, "exchange.symbols");
    for (size_t i = 0; i < sv_cfg_len(syms); i++) {
        const sv_cfg_node_t *n = sv_cfg_at(syms, i);
        sv_instrument_t ins = {.symbol = sv_intern_add(e->symbols, sv_cfg_str(n, "symbol", ""), -1),
                               .base = sv_intern_add(e->symbols, sv_cfg_str(n, "base", ""), -1),
                               .quote = sv_intern_add(e->symbols, sv_cfg_str(n, "quote", ""), -1)};
        int rc = cfg_fixed(n, "tick_size", &ins.tick, d);
        if (!rc)
            rc = cfg_fixed(n, "lot_size", &ins.lot, d);
        if (!rc)
            rc = cfg_fixed(n, "min_notional", &ins.min_notional, d);
        if (!rc && sv_instruments_set(e->instruments, &ins) != 0) {
            char where[1200];
            sv_cfg_where(n, where, sizeof where);
            rc = sv_diag_set(d, SV_E_CONFIG, "%s: symbol %s: bad instrument rules", where,
                             sv_cfg_str(n, "symbol", "?"));
        }
        if (rc)
            return rc;
        if (!e->quote_asset)
            e->quote_asset = ins.quote;
    }
    const sv_cfg_node_t *bal = sv_cfg_get(root, "exchange.sim.balances");
    for (size_t i = 0; i < sv_cfg_len(bal); i++) {
        sv_fixed_t v;
        int rc = cfg_fixed(bal, sv_cfg_key(bal, i), &v, d);
        if (rc)
            return rc;
        sv_portfolio_set_balance(e->portfolio, sv_intern_add(e->symbols, sv_cfg_key(bal, i), -1), v);
    }
    int rrc = load_risk(e, sv_cfg_get(root, "risk"), !strcmp(sv_cfg_str(root, "mode", ""), "backtest"), d);
    if (rrc)
        return rrc;
    const char *mode = sv_cfg_str(root, "mode", "backtest");
    if (!strcmp(mode, "backtest") || !strcmp(mode, "paper")) {
        sv_sim_config_t sc = {.latency_ms = sv_cfg_num(root, "exchange.sim.latency_ms", 0),
                              .maker_fee_bps = sv_cfg_num(root, "exchange.sim.maker_fee_bps", 10),
                              .taker_fee_bps = sv_cfg_num(root, "exchange.sim.taker_fee_bps", 10),
                              .slippage_bps = sv_cfg_num(root, "exchange.sim.slippage_bps", 0),
                              .participation = sv_cfg_num(root, "exchange.sim.participation", 1),
                              .queue_position = sv_cfg_bool(root, "exchange.sim.queue_position", 0)};
        int rc = sv_engine_use_sim(e, &sc);
        if (rc)
            return sv_diag_set(d, rc, "exchange.sim: cannot start the simulated exchange: %s", sv_strerror(rc));
    } else {
        return sv_diag_set(d, SV_E_UNSUPPORTED,
                           "mode %s: live trading on %s is not available in this build yet; use mode "
                           "paper or backtest", mode, sv_cfg_str(root, "exchange.type", "?"));
    }
    const sv_cfg_node_t *list = sv_cfg_get(root, "strategies");
    for (size_t i = 0; i < sv_cfg_len(list); i++) {
        const sv_cfg_node_t *st = sv_cfg_at(list, i);
        if (!sv_cfg_bool(st, "enabled", 1))
            continue;
        const sv_cfg_node_t *sy = sv_cfg_get(st, "symbols"), *pm = sv_cfg_get(st, "params");
        size_t ns = sv_cfg_len(sy), np = sv_cfg_len(pm);
        const char **names = calloc(ns + 1, sizeof *names);
        sv_param_t *params = calloc(np + 1, sizeof *params);
        if (!names || !params) {
            free(names);
            free(params);
            return sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        }
        for (size_t k = 0; k < ns; k++)
            names[k] = sv_cfg_str(sv_cfg_at(sy, k), NULL, "");
        params_from(pm, params);
        sv_strategy_spec_t spec = {
            .name = sv_cfg_str(st, "name", ""), .file = sv_cfg_str(st, "file", ""),
            .symbols = names, .n_symbols = (uint32_t)ns, .params = params, .n_params = (uint32_t)np,
            /* in the config, 0 means no limit */
            .cpu_budget_ms = sv_cfg_num(st, "cpu_budget_ms", SV_STRATEGY_CPU_BUDGET_MS),
            .memory_limit_mb = sv_cfg_num(st, "memory_limit_mb", SV_STRATEGY_MEMORY_LIMIT_MB)};
        if (spec.cpu_budget_ms == 0)
            spec.cpu_budget_ms = -1;
        if (spec.memory_limit_mb == 0)
            spec.memory_limit_mb = -1;
        int rc = sv_strategy_load(e->strategies, &spec, d);
        free(names);
        free(params);
        if (rc < 0)
            return rc;
        if ((rc = protect_from(e, (uint32_t)rc, sv_cfg_get(st, "protect"), d)) != 0)
            return rc;
    }
    return SV_OK;
}
