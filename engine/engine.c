/* engine: construction and wiring of one engine run, plus the recorder used by tests. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "fixed.h"
#include "instrument.h"
#include "oms.h"
#include "portfolio.h"
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
    sv_exchange_t venue;
    uint32_t quote_asset;
    int started;
    uv_loop_t loop; /* I/O of the run (Redis, file watching, API); the trading path never waits on it */
    int loop_ok;
    /* recorder */
    sv_event_t *rec;
    uint32_t rec_cap, rec_n;
    int rec_sub;
};

static int64_t bus_now(void *ud) { return sv_clock_now(ud); }

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

/* the risk stage: every signal passes here before it becomes an order (pass-through until
 * the risk engine lands; the venue still enforces instrument rules and balances) */
static void on_signal(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    sv_oms_submit(e->oms, ev);
}

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

static int svc_cancel(void *ud, uint32_t sid, uint64_t id)
{
    sv_engine_t *e = ud;
    return sv_oms_cancel(e->oms, sid, id);
}

static int svc_cancel_all(void *ud, uint32_t sid, uint32_t symbol)
{
    sv_engine_t *e = ud;
    return sv_oms_cancel_all(e->oms, sid, symbol);
}

sv_engine_t *sv_engine_new(const sv_engine_options_t *o, sv_diag_t *d)
{
    sv_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    sv_log_init(&e->log, o->log_out, o->log_level);
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
             sv_bus_subscribe(e->bus, SV_BUS_MASK(SV_EV_FILL), on_fill, e) > 0;
    if (ok)
        e->strategies = sv_strategy_host_new(e->bus, e->clock, e->symbols, e->texts, &e->log,
                                             o->script_mem_limit);
    if (!e->strategies || !e->loop_ok) {
        sv_engine_free(e);
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    sv_strategy_services_t svc = {.ud = e, .position = svc_position, .balance = svc_balance,
                                  .cancel = svc_cancel, .cancel_all = svc_cancel_all};
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
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_WARN};
    return sv_engine_new(&o, NULL);
}

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
    if (e->loop_ok) {
        /* whatever is still open on the loop (owned by parts freed above) is closed here */
        uv_walk(&e->loop, close_handle, NULL);
        uv_run(&e->loop, UV_RUN_DEFAULT);
        uv_loop_close(&e->loop);
    }
    sv_sim_free(e->sim);
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
        for (size_t k = 0; k < np; k++) {
            const sv_cfg_node_t *v = sv_cfg_at(pm, k);
            params[k].key = sv_cfg_key(pm, k);
            switch (sv_cfg_type(v)) {
            case SV_CFG_STRING: params[k].type = SV_PARAM_STRING; params[k].string = sv_cfg_str(v, NULL, ""); break;
            case SV_CFG_BOOL: params[k].type = SV_PARAM_BOOL; params[k].boolean = sv_cfg_bool(v, NULL, 0); break;
            default: params[k].type = SV_PARAM_NUMBER; params[k].number = sv_cfg_num(v, NULL, 0); break;
            }
        }
        sv_strategy_spec_t spec = {
            .name = sv_cfg_str(st, "name", ""), .file = sv_cfg_str(st, "file", ""),
            .symbols = names, .n_symbols = (uint32_t)ns, .params = params, .n_params = (uint32_t)np};
        int rc = sv_strategy_load(e->strategies, &spec, d);
        free(names);
        free(params);
        if (rc < 0)
            return rc;
    }
    return SV_OK;
}
