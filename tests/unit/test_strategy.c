/* test_strategy: engine/strategy.h on a bus, clock, intern tables and logger made here (no
 * engine). Strategy scripts are written to a mkdtemp dir; each handler writes one line through
 * ctx:log, and the test reads those lines back from the logger (the trace) to see exactly which
 * strategy ran which handler with which data. A subscriber registered after the host records
 * every event, so the tests also assert what the scripts published (signals, alerts) and the
 * order of it. Covered: loading and ids, duplicate names, routing of market data by symbol,
 * of orders/fills/timers by owner and of signals to the others, a failing handler disabling
 * only its strategy with an alert, the exact fields of signals, the services callbacks,
 * stop_all, and the call counters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpfiles.h"

#include "strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fixed.h"
#include "script.h"

#define T0_NS 1704067200000000000LL /* 2024-01-01T00:00:00Z */

enum { MAX_REC = 128, MAX_SVC = 32 };

static int group_setup(void **state)
{
    (void)state;
    return tmp_setup("sv_strategy");
}

static int group_teardown(void **state)
{
    (void)state;
    return tmp_teardown();
}

static const char *write_file(const char *name, const char *text) { return tmp_write(name, text, strlen(text)); }

static sv_fixed_t fx(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad literal %s", s);
    return v;
}

/* ---- the world: bus, clock, tables, logger, host, recorder, services --------------------------- */

typedef struct svc_call {
    char what[16];
    uint32_t sid, symbol;
    uint64_t id;
    char asset[16];
} svc_call_t;

typedef struct world {
    sv_clock_t *clock;
    sv_bus_t *bus;
    sv_intern_t *symbols, *texts;
    sv_log_t log;
    FILE *log_out;
    char *log_buf;
    size_t log_len;
    sv_strategy_host_t *host;
    uint32_t btc, eth;
    sv_event_t rec[MAX_REC];
    int n_rec;
    svc_call_t svc[MAX_SVC];
    int n_svc;
    char trace[8192];
    size_t trace_seen; /* bytes of the log already returned by trace() */
} world_t;

static int64_t bus_now(void *ud) { return sv_clock_now(ud); }

static void record(void *ud, const sv_event_t *ev)
{
    world_t *w = ud;
    assert_true(w->n_rec < MAX_REC);
    w->rec[w->n_rec++] = *ev;
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    w->clock = sv_clock_new(1, 64);
    sv_clock_set(w->clock, T0_NS);
    w->bus = sv_bus_new(1024, 16, bus_now, w->clock);
    w->symbols = sv_intern_new(64, 4096);
    w->texts = sv_intern_new(256, 1 << 16);
    w->log_out = open_memstream(&w->log_buf, &w->log_len);
    if (!w->clock || !w->bus || !w->symbols || !w->texts || !w->log_out)
        return -1;
    sv_log_init(&w->log, w->log_out, SV_LOG_DEBUG);
    w->btc = sv_intern_add(w->symbols, "BTCUSDT", -1);
    w->eth = sv_intern_add(w->symbols, "ETHUSDT", -1);
    w->host = sv_strategy_host_new(w->bus, w->clock, w->symbols, w->texts, &w->log, 0);
    if (!w->host || sv_bus_subscribe(w->bus, SV_BUS_MASK_ALL, record, w) <= 0)
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    sv_strategy_host_free(w->host);
    sv_bus_free(w->bus);
    sv_clock_free(w->clock);
    sv_intern_free(w->symbols);
    sv_intern_free(w->texts);
    fclose(w->log_out);
    free(w->log_buf);
    free(w);
    return 0;
}

/* The strategies' own log lines since the last call, "name: message" one per line: the
 * logger's "strategy NAME: " records, without the timestamp and level. The host's own
 * "strategy: loaded ..." lines are left out. */
static const char *trace(world_t *w)
{
    fflush(w->log_out);
    w->trace[0] = 0;
    size_t out = 0;
    const char *p = w->log_buf + w->trace_seen, *end = w->log_buf + w->log_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        /* "2024-01-01T00:00:00.000Z LEVEL component: message" */
        assert_true(nl - p > 31);
        assert_int_equal(p[24], ' ');
        const char *msg = p + 31;
        if (strncmp(msg, "strategy ", 9) == 0) {
            int n = (int)(nl - msg) - 9;
            out += (size_t)snprintf(w->trace + out, sizeof w->trace - out, "%.*s\n", n, msg + 9);
            assert_true(out < sizeof w->trace);
        }
        p = nl + 1;
    }
    w->trace_seen = w->log_len;
    return w->trace;
}

static int load(world_t *w, const char *name, const char *file, const char *const *symbols, uint32_t n)
{
    sv_strategy_spec_t spec = {.name = name, .file = file, .symbols = symbols, .n_symbols = n};
    sv_diag_t d;
    int rc = sv_strategy_load(w->host, &spec, &d);
    if (rc < 0)
        fail_msg("load %s: %d %s", name, rc, d.msg);
    return rc;
}

static void publish(world_t *w, sv_event_t *ev) { assert_int_equal(sv_bus_publish(w->bus, ev), 0); }

static sv_event_t trade(uint32_t sym, const char *px, const char *qty, int aggressor)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_TRADE;
    e.h.symbol = sym;
    e.h.ts_exchange = T0_NS;
    e.u.trade.price = fx(px);
    e.u.trade.qty = fx(qty);
    e.u.trade.aggressor = (int8_t)aggressor;
    return e;
}

static sv_event_t bar(uint32_t sym, const char *close)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_BAR;
    e.h.symbol = sym;
    e.h.ts_exchange = T0_NS;
    e.u.bar.open = e.u.bar.high = e.u.bar.low = e.u.bar.close = fx(close);
    e.u.bar.interval_s = 60;
    return e;
}

static sv_event_t order(uint32_t sym, uint32_t sid, uint64_t client_id, int status)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_ORDER;
    e.h.symbol = sym;
    e.u.order.strategy = sid;
    e.u.order.client_id = client_id;
    e.u.order.status = (uint8_t)status;
    return e;
}

static sv_event_t fill(uint32_t sym, uint32_t sid, uint64_t client_id, const char *qty)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_FILL;
    e.h.symbol = sym;
    e.u.fill.strategy = sid;
    e.u.fill.client_id = client_id;
    e.u.fill.qty = fx(qty);
    return e;
}

static sv_event_t timer(uint32_t sid, uint64_t id)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_TIMER;
    e.u.timer.strategy = sid;
    e.u.timer.timer_id = id;
    return e;
}

/* ---- scripts ----------------------------------------------------------------------------------- */

/* Logs every handler call with what it was given. */
static const char RECORDER[] =
    "local S = {}\n"
    "function S.on_start(ctx) ctx:log('on_start') end\n"
    "function S.on_stop(ctx) ctx:log('on_stop') end\n"
    "function S.on_tick(ctx, t) ctx:log('on_tick %s %s %s %s', t.symbol, t.price, t.qty, t.side) end\n"
    "function S.on_bar(ctx, b) ctx:log('on_bar %s %s', b.symbol, b.close) end\n"
    "function S.on_order(ctx, o) ctx:log('on_order %s %d %s', o.symbol, o.id, o.status) end\n"
    "function S.on_fill(ctx, f) ctx:log('on_fill %s %d %s', f.symbol, f.order_id, f.qty) end\n"
    "function S.on_timer(ctx, t) ctx:log('on_timer %d', t.id) end\n"
    "function S.on_signal(ctx, s) ctx:log('on_signal %d from %d %s %s', s.id, s.strategy, s.symbol, s.side) end\n"
    "return S\n";

/* Buys 0.5 of every traded symbol; logs the signal id and the signals of others. */
static const char EMITTER[] =
    "local S = {}\n"
    "function S.on_tick(ctx, t)\n"
    "  local id = ctx:buy(t.symbol, 0.5)\n"
    "  ctx:log('bought %s -> %d', t.symbol, id)\n"
    "end\n"
    "function S.on_signal(ctx, s) ctx:log('on_signal %d from %d', s.id, s.strategy) end\n"
    "return S\n";

/* ---- loading ----------------------------------------------------------------------------------- */

static void test_load_ids_and_duplicates(void **state)
{
    world_t *w = *state;
    const char *rec = write_file("recorder_load.lua", RECORDER);
    const char *btc[] = {"BTCUSDT"};
    assert_int_equal(load(w, "alpha", rec, btc, 1), 1);
    assert_int_equal(load(w, "beta", rec, NULL, 0), 2);
    assert_int_equal(sv_strategy_count(w->host), 2);
    assert_string_equal(sv_strategy_name(w->host, 1), "alpha");
    assert_string_equal(sv_strategy_name(w->host, 2), "beta");
    assert_string_equal(sv_strategy_name(w->host, 3), "");
    assert_true(sv_strategy_enabled(w->host, 1));
    assert_string_equal(sv_strategy_error(w->host, 1), "");

    sv_strategy_spec_t dup = {.name = "alpha", .file = rec};
    sv_diag_t d;
    assert_int_equal(sv_strategy_load(w->host, &dup, &d), SV_E_EXISTS);
    assert_int_equal(d.code, SV_E_EXISTS);
    assert_string_equal(d.msg, "alpha: a strategy with this name is already loaded");

    /* a failed load adds nothing; the next id is still 3 */
    const char *broken = write_file("broken_load.lua", "local S = {}\nfunction S.on_tick(ctx\nreturn S\n");
    sv_strategy_spec_t bad = {.name = "gamma", .file = broken};
    assert_int_equal(sv_strategy_load(w->host, &bad, &d), SV_E_SCRIPT);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: ')' expected near 'return'", broken);
    assert_string_equal(d.msg, want);
    sv_strategy_spec_t missing = {.name = "gamma", .file = "/nonexistent/x.lua"};
    assert_int_equal(sv_strategy_load(w->host, &missing, &d), SV_E_NOTFOUND);
    assert_string_equal(d.msg, "/nonexistent/x.lua: cannot open: No such file or directory");
    assert_int_equal(sv_strategy_count(w->host), 2);
    assert_int_equal(load(w, "gamma", rec, NULL, 0), 3);

    /* a handler that is not a function is refused at load, naming the file */
    const char *notfn = write_file("notfn_load.lua", "return { on_tick = 42 }\n");
    sv_strategy_spec_t nf = {.name = "delta", .file = notfn};
    assert_int_equal(sv_strategy_load(w->host, &nf, &d), SV_E_SCRIPT);
    snprintf(want, sizeof want, "%s: strategy delta: on_tick must be a function, got number", notfn);
    assert_string_equal(d.msg, want);
    assert_int_equal(sv_strategy_count(w->host), 3);
    assert_int_equal(w->n_rec, 0); /* loading publishes nothing */
}

/* ---- routing ----------------------------------------------------------------------------------- */

static void test_routing(void **state)
{
    world_t *w = *state;
    const char *rec = write_file("recorder_route.lua", RECORDER);
    const char *btc[] = {"BTCUSDT"}, *eth[] = {"ETHUSDT"};
    assert_int_equal(load(w, "a", rec, btc, 1), 1);
    assert_int_equal(load(w, "b", rec, eth, 1), 2);
    assert_int_equal(load(w, "c", rec, NULL, 0), 3); /* every symbol */
    assert_int_equal(sv_strategy_start_all(w->host), 3);
    assert_string_equal(trace(w), "a: on_start\nb: on_start\nc: on_start\n");

    sv_event_t e = trade(w->btc, "42000.5", "0.25", SV_SIDE_SELL);
    publish(w, &e);
    assert_string_equal(trace(w), "a: on_tick BTCUSDT 42000.5 0.25 sell\n"
                                  "c: on_tick BTCUSDT 42000.5 0.25 sell\n");
    e = bar(w->eth, "2300.75");
    publish(w, &e);
    assert_string_equal(trace(w), "b: on_bar ETHUSDT 2300.75\nc: on_bar ETHUSDT 2300.75\n");
    /* a symbol nobody names goes only to the strategy that takes every symbol */
    uint32_t sol = sv_intern_add(w->symbols, "SOLUSDT", -1);
    e = trade(sol, "100", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "c: on_tick SOLUSDT 100 1 buy\n");

    /* orders, fills and timers: only the owner, whatever the symbol */
    e = order(w->btc, 2, 11, SV_OS_ACKNOWLEDGED);
    publish(w, &e);
    assert_string_equal(trace(w), "b: on_order BTCUSDT 11 acknowledged\n");
    e = fill(w->eth, 1, 12, "0.75");
    publish(w, &e);
    assert_string_equal(trace(w), "a: on_fill ETHUSDT 12 0.75\n");
    e = timer(3, 5);
    publish(w, &e);
    assert_string_equal(trace(w), "c: on_timer 5\n");
    /* an order of no strategy, or of one that does not exist, goes to nobody */
    e = order(w->btc, 0, 13, SV_OS_FILLED);
    publish(w, &e);
    e = fill(w->btc, 0, 13, "1");
    publish(w, &e);
    e = order(w->btc, 9, 14, SV_OS_FILLED);
    publish(w, &e);
    e = timer(0, 6);
    publish(w, &e);
    assert_string_equal(trace(w), "");

    /* a signal goes to every other strategy with on_signal, not to the emitter */
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_SIGNAL;
    e.h.symbol = w->btc;
    e.u.signal.signal_id = 7;
    e.u.signal.strategy = 2;
    e.u.signal.side = SV_SIDE_SELL;
    publish(w, &e);
    assert_string_equal(trace(w), "a: on_signal 7 from 2 BTCUSDT sell\nc: on_signal 7 from 2 BTCUSDT sell\n");

    /* handler calls: on_start + what each saw above */
    assert_int_equal(sv_strategy_calls(w->host, 1), 1 + 1 + 1 + 1); /* start, tick, fill, signal */
    assert_int_equal(sv_strategy_calls(w->host, 2), 1 + 1 + 1);     /* start, bar, order */
    assert_int_equal(sv_strategy_calls(w->host, 3), 1 + 3 + 1 + 1);  /* start, 2 ticks + bar, timer, signal */
    assert_int_equal(sv_strategy_calls(w->host, 4), 0);
}

static void test_undefined_handlers_are_not_called(void **state)
{
    world_t *w = *state;
    const char *bars_only = write_file("bars_only.lua",
                                       "return { on_bar = function(ctx, b) ctx:log('bar %s', b.close) end }\n");
    assert_int_equal(load(w, "bars", bars_only, NULL, 0), 1);
    assert_int_equal(sv_strategy_start_all(w->host), 1);
    sv_event_t e = trade(w->btc, "1", "1", SV_SIDE_BUY);
    publish(w, &e);
    e = order(w->btc, 1, 1, SV_OS_NEW);
    publish(w, &e);
    e = timer(1, 1);
    publish(w, &e);
    assert_int_equal(sv_strategy_calls(w->host, 1), 0);
    e = bar(w->btc, "3.5");
    publish(w, &e);
    assert_int_equal(sv_strategy_calls(w->host, 1), 1);
    assert_string_equal(trace(w), "bars: bar 3.5\n");
}

/* ---- signals ----------------------------------------------------------------------------------- */

static void test_signals_reach_the_others(void **state)
{
    world_t *w = *state;
    const char *em = write_file("emitter.lua", EMITTER);
    const char *btc[] = {"BTCUSDT"}, *eth[] = {"ETHUSDT"};
    assert_int_equal(load(w, "e1", em, btc, 1), 1);
    assert_int_equal(load(w, "e2", em, eth, 1), 2);
    sv_event_t e = trade(w->btc, "100", "1", SV_SIDE_BUY);
    publish(w, &e);
    /* e1's signal is delivered after its handler returns, to e2 (which trades ETHUSDT) only */
    assert_string_equal(trace(w), "e1: bought BTCUSDT -> 1\ne2: on_signal 1 from 1\n");
    e = trade(w->eth, "200", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "e2: bought ETHUSDT -> 2\ne1: on_signal 2 from 2\n");
    /* the recorder saw trade, signal, trade, signal */
    assert_int_equal(w->n_rec, 4);
    assert_int_equal(w->rec[0].h.kind, SV_EV_TRADE);
    assert_int_equal(w->rec[1].h.kind, SV_EV_SIGNAL);
    assert_int_equal(w->rec[1].u.signal.signal_id, 1);
    assert_int_equal(w->rec[1].u.signal.strategy, 1);
    assert_int_equal(w->rec[1].h.symbol, w->btc);
    assert_int_equal(w->rec[2].h.kind, SV_EV_TRADE);
    assert_int_equal(w->rec[3].u.signal.signal_id, 2);
    assert_int_equal(w->rec[3].u.signal.strategy, 2);
    assert_int_equal(w->rec[3].h.symbol, w->eth);
}

static void assert_signal(const sv_event_t *e, uint32_t symbol, uint64_t id, uint32_t sid, int side,
                          int type, int tif, int flags, const char *qty, const char *price,
                          const char *stop, uint64_t replace, const char *tag)
{
    assert_int_equal(e->h.kind, SV_EV_SIGNAL);
    assert_int_equal(e->h.symbol, symbol);
    assert_int_equal(e->h.ts_exchange, T0_NS);
    const sv_signal_t *s = &e->u.signal;
    assert_int_equal(s->signal_id, id);
    assert_int_equal(s->strategy, sid);
    assert_int_equal(s->side, side);
    assert_int_equal(s->type, type);
    assert_int_equal(s->tif, tif);
    assert_int_equal(s->order_flags, flags);
    assert_int_equal(s->qty, fx(qty));
    assert_int_equal(s->price, fx(price));
    assert_int_equal(s->stop_price, fx(stop));
    assert_int_equal(s->replace_id, replace);
    assert_int_equal(memcmp(s->tag, tag, strlen(tag) + 1), 0);
}

static void test_signal_fields(void **state)
{
    world_t *w = *state;
    const char *orders = write_file("orders.lua",
                                    "local S = {}\n"
                                    "function S.on_start(ctx)\n"
                                    "  local a = ctx:buy('BTCUSDT', 0.5)\n"
                                    "  local b = ctx:sell('ETHUSDT', 2, 2300.25, { tif = 'ioc', post_only = true,\n"
                                    "                                            tag = 'entry-long-abcdefghij' })\n"
                                    "  local c = ctx:buy('BTCUSDT', 1, nil, { stop_price = 41000 })\n"
                                    "  local d = ctx:order{ symbol = 'BTCUSDT', side = 'sell', qty = 0.00000001,\n"
                                    "    price = 42000, stop_price = 41500.5, tif = 'fok', reduce_only = true, replace = 17 }\n"
                                    "  local e = ctx:buy('ETHUSDT', 3, 2000, { type = 'limit', tag = 'x' })\n"
                                    "  local f, why = ctx:buy('BTCUSDT', -1)\n"
                                    "  local g, why2 = ctx:buy('BTCUSDT', 1, nil, { type = 'limit' })\n"
                                    "  ctx:log('ids %d %d %d %d %d', a, b, c, d, e)\n"
                                    "  ctx:log('refused %s %s', tostring(f), why)\n"
                                    "  ctx:log('refused %s %s', tostring(g), why2)\n"
                                    "end\n"
                                    "return S\n");
    assert_int_equal(load(w, "orders", orders, NULL, 0), 1);
    assert_int_equal(sv_strategy_start_all(w->host), 1);
    /* a refusal is logged as a warning and handed back to the script */
    assert_string_equal(trace(w), "orders: BTCUSDT: quantity must be a finite number > 0, got -1\n"
                                  "orders: BTCUSDT: a limit order needs a price > 0\n"
                                  "orders: ids 1 2 3 4 5\n"
                                  "orders: refused nil BTCUSDT: quantity must be a finite number > 0, got -1\n"
                                  "orders: refused nil BTCUSDT: a limit order needs a price > 0\n");
    /* published inside on_start (a hold), delivered when it returned */
    assert_int_equal(w->n_rec, 5);
    assert_signal(&w->rec[0], w->btc, 1, 1, SV_SIDE_BUY, SV_ORDER_MARKET, SV_TIF_GTC, 0, "0.5", "0",
                  "0", 0, "");
    assert_signal(&w->rec[1], w->eth, 2, 1, SV_SIDE_SELL, SV_ORDER_LIMIT, SV_TIF_IOC,
                  SV_ORDER_FLAG_POST_ONLY, "2", "2300.25", "0", 0, "entry-long-abcd");
    assert_signal(&w->rec[2], w->btc, 3, 1, SV_SIDE_BUY, SV_ORDER_STOP_MARKET, SV_TIF_GTC, 0, "1", "0",
                  "41000", 0, "");
    assert_signal(&w->rec[3], w->btc, 4, 1, SV_SIDE_SELL, SV_ORDER_STOP_LIMIT, SV_TIF_FOK,
                  SV_ORDER_FLAG_REDUCE_ONLY, "0.00000001", "42000", "41500.5", 17, "");
    assert_signal(&w->rec[4], w->eth, 5, 1, SV_SIDE_BUY, SV_ORDER_LIMIT, SV_TIF_GTC, 0, "3", "2000",
                  "0", 0, "x");
    assert_true(w->rec[0].h.seq < w->rec[4].h.seq);
}

/* ---- failures ---------------------------------------------------------------------------------- */

static int svc_position(void *ud, uint32_t sid, uint32_t symbol, sv_position_view_t *out)
{
    world_t *w = ud;
    svc_call_t *c = &w->svc[w->n_svc++];
    snprintf(c->what, sizeof c->what, "position");
    c->sid = sid;
    c->symbol = symbol;
    out->qty = fx("1.5");
    out->avg_price = fx("2000");
    out->realized_pnl = fx("-3.25");
    out->unrealized_pnl = fx("10");
    return SV_OK;
}

static double svc_balance(void *ud, uint32_t sid, const char *asset)
{
    world_t *w = ud;
    svc_call_t *c = &w->svc[w->n_svc++];
    snprintf(c->what, sizeof c->what, "balance");
    c->sid = sid;
    snprintf(c->asset, sizeof c->asset, "%s", asset);
    return 1234.5;
}

static int svc_cancel(void *ud, uint32_t sid, uint64_t client_id)
{
    world_t *w = ud;
    svc_call_t *c = &w->svc[w->n_svc++];
    snprintf(c->what, sizeof c->what, "cancel");
    c->sid = sid;
    c->id = client_id;
    return client_id == 78 ? SV_E_NOTFOUND : SV_OK;
}

static int svc_cancel_all(void *ud, uint32_t sid, uint32_t symbol)
{
    world_t *w = ud;
    svc_call_t *c = &w->svc[w->n_svc++];
    snprintf(c->what, sizeof c->what, "cancel_all");
    c->sid = sid;
    c->symbol = symbol;
    return 3;
}

static void install_services(world_t *w)
{
    sv_strategy_services_t svc = {.ud = w, .position = svc_position, .balance = svc_balance,
                                  .cancel = svc_cancel, .cancel_all = svc_cancel_all};
    sv_strategy_host_set_services(w->host, &svc);
}

static void test_handler_error_disables_only_that_strategy(void **state)
{
    world_t *w = *state;
    install_services(w);
    const char *bad = write_file("bad.lua",
                                 "local S = {}\n"
                                 "function S.on_tick(ctx, t)\n"
                                 "  if t.price > 100 then\n"
                                 "    error('price too high: ' .. t.price)\n"
                                 "  end\n"
                                 "  ctx:log('tick %s', t.price)\n"
                                 "end\n"
                                 "function S.on_bar(ctx, b) ctx:log('bar') end\n"
                                 "return S\n");
    const char *rec = write_file("recorder_err.lua", RECORDER);
    const char *btc[] = {"BTCUSDT"};
    assert_int_equal(load(w, "bad", bad, btc, 1), 1);
    assert_int_equal(load(w, "good", rec, btc, 1), 2);
    sv_event_t e = trade(w->btc, "100", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "bad: tick 100\ngood: on_tick BTCUSDT 100 1 buy\n");

    e = trade(w->btc, "101", "1", SV_SIDE_BUY);
    publish(w, &e);
    char reason[1024], want[2048];
    snprintf(reason, sizeof reason, "on_tick: %s:4: price too high: 101", bad);
    snprintf(want, sizeof want, "bad: disabled: %s\ngood: on_tick BTCUSDT 101 1 buy\n", reason);
    assert_string_equal(trace(w), want);
    assert_false(sv_strategy_enabled(w->host, 1));
    assert_true(sv_strategy_enabled(w->host, 2));
    assert_string_equal(sv_strategy_error(w->host, 1), reason);
    assert_string_equal(sv_strategy_error(w->host, 2), "");
    /* its open orders were cancelled through the services, all symbols */
    assert_int_equal(w->n_svc, 1);
    assert_string_equal(w->svc[0].what, "cancel_all");
    assert_int_equal(w->svc[0].sid, 1);
    assert_int_equal(w->svc[0].symbol, 0);
    /* the alert follows the trade whose handler raised */
    assert_int_equal(w->n_rec, 3);
    assert_int_equal(w->rec[1].h.kind, SV_EV_TRADE);
    const sv_event_t *a = &w->rec[2];
    assert_int_equal(a->h.kind, SV_EV_ALERT);
    assert_int_equal(a->u.alert.code, SV_ALERT_SCRIPT_ERROR);
    assert_int_equal(a->u.alert.source, 1);
    assert_string_equal(sv_intern_name(w->texts, a->u.alert.text), reason);

    /* the disabled strategy gets nothing more; the other goes on */
    e = trade(w->btc, "99", "1", SV_SIDE_SELL);
    publish(w, &e);
    e = bar(w->btc, "99");
    publish(w, &e);
    assert_string_equal(trace(w), "good: on_tick BTCUSDT 99 1 sell\ngood: on_bar BTCUSDT 99\n");
    assert_int_equal(sv_strategy_calls(w->host, 1), 2);
    assert_int_equal(sv_strategy_calls(w->host, 2), 4);
    /* disabling twice does nothing */
    sv_strategy_disable(w->host, 1, SV_ALERT_SCRIPT_ERROR, "again");
    assert_string_equal(sv_strategy_error(w->host, 1), reason);
    assert_int_equal(w->n_rec, 5);
}

static void test_on_start_error_and_explicit_disable(void **state)
{
    world_t *w = *state;
    const char *failing = write_file("failing_start.lua",
                                     "return { on_start = function(ctx) local x = nil; return x.y end,\n"
                                     "         on_tick = function(ctx) ctx:log('tick') end }\n");
    const char *rec = write_file("recorder_start.lua", RECORDER);
    assert_int_equal(load(w, "f", failing, NULL, 0), 1);
    assert_int_equal(load(w, "r", rec, NULL, 0), 2);
    assert_int_equal(sv_strategy_start_all(w->host), 1);
    char want[2048];
    snprintf(want, sizeof want, "f: disabled: on_start: %s:1: attempt to index local 'x' (a nil value)\n"
                                "r: on_start\n", failing);
    assert_string_equal(trace(w), want);
    assert_int_equal(w->n_rec, 1);
    assert_int_equal(w->rec[0].h.kind, SV_EV_ALERT);
    assert_int_equal(w->rec[0].u.alert.source, 1);

    /* disabled from outside, e.g. by risk */
    sv_strategy_disable(w->host, 2, SV_ALERT_RISK, "max drawdown 5% reached");
    assert_false(sv_strategy_enabled(w->host, 2));
    assert_string_equal(sv_strategy_error(w->host, 2), "max drawdown 5% reached");
    assert_string_equal(trace(w), "r: disabled: max drawdown 5% reached\n");
    assert_int_equal(w->n_rec, 2);
    assert_int_equal(w->rec[1].u.alert.code, SV_ALERT_RISK);
    assert_int_equal(w->rec[1].u.alert.source, 2);
    assert_string_equal(sv_intern_name(w->texts, w->rec[1].u.alert.text), "max drawdown 5% reached");
    sv_event_t e = trade(w->btc, "1", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "");
}

/* ---- limits ------------------------------------------------------------------------------------ */

static int load_limited(world_t *w, const char *name, const char *file, double cpu_ms, double mem_mb)
{
    sv_strategy_spec_t spec = {.name = name, .file = file, .cpu_budget_ms = cpu_ms, .memory_limit_mb = mem_mb};
    sv_diag_t d;
    int rc = sv_strategy_load(w->host, &spec, &d);
    if (rc < 0)
        fail_msg("load %s: %d %s", name, rc, d.msg);
    return rc;
}

/* A handler past its CPU budget or its memory cap is disabled like one that raised, with
 * SV_ALERT_SCRIPT_LIMIT: its orders canceled through the services, one log line, one alert;
 * the others keep running. The host's default budget applies where the spec leaves it 0. */
static void test_limits_disable_with_a_limit_alert(void **state)
{
    world_t *w = *state;
    install_services(w);
    sv_strategy_host_set_cpu_budget(w->host, 15);
    const char *spin = write_file("spin.lua", "local S = {}\n"
                                              "function S.on_tick(ctx, t)\n"
                                              "  local x = 0\n"
                                              "  while true do x = x + 1 end\n"
                                              "end\nreturn S\n");
    const char *hog = write_file("hog.lua", "local S = {}\n"
                                            "function S.on_tick(ctx, t)\n"
                                            "  local s = {}\n"
                                            "  for i = 1, 1e8 do s[i] = { i } end\n"
                                            "end\nreturn S\n");
    const char *rec = write_file("recorder_limits.lua", RECORDER);
    /* stock LuaJIT compiles the loop and cannot stop it: the interpreted-only variant then */
    assert_int_equal(load_limited(w, "spin", sv_script_guard_stops_jit() ? spin : rec, 0, 0), 1);
    assert_int_equal(load_limited(w, "hog", hog, -1, 4), 2);
    assert_int_equal(load(w, "r", rec, NULL, 0), 3);
    sv_strategy_start_all(w->host);
    trace(w);
    sv_event_t e = trade(w->btc, "1", "1", SV_SIDE_BUY);
    publish(w, &e);
    char want[2048];
    if (sv_script_guard_stops_jit()) {
        snprintf(want, sizeof want, "spin: disabled: on_tick: %s:4: CPU budget of 15 ms exceeded\n"
                                    "hog: disabled: on_tick: not enough memory (memory limit 4194304 bytes)\n"
                                    "r: on_tick BTCUSDT 1 1 buy\n", spin);
        assert_string_equal(trace(w), want);
        assert_false(sv_strategy_enabled(w->host, 1));
        assert_int_equal(sv_strategy_cpu_stops(w->host, 1), 1);
    }
    assert_false(sv_strategy_enabled(w->host, 2));
    assert_true(sv_strategy_enabled(w->host, 3));
    int limits = 0, cancels = 0;
    for (int i = 0; i < w->n_rec; i++)
        if (w->rec[i].h.kind == SV_EV_ALERT) {
            assert_int_equal(w->rec[i].u.alert.code, SV_ALERT_SCRIPT_LIMIT);
            limits++;
        }
    for (int i = 0; i < w->n_svc; i++)
        cancels += strcmp(w->svc[i].what, "cancel_all") == 0;
    assert_int_equal(limits, sv_script_guard_stops_jit() ? 2 : 1);
    assert_int_equal(cancels, limits);
    assert_int_equal(sv_strategy_cpu_stops(w->host, 2), 0);
}

/* Timers: at most SV_STRATEGY_MAX_TIMERS at once and none shorter than SV_STRATEGY_MIN_TIMER_MS;
 * a one-shot that fired and a canceled timer free their place. */
static void test_timer_limits(void **state)
{
    world_t *w = *state;
    const char *t = write_file("timers.lua", "local S = {}\n"
                                             "function S.on_start(ctx)\n"
                                             "  local ids = {}\n"
                                             "  for i = 1, 70 do ids[#ids + 1] = ctx:timer(1000 + i) end\n"
                                             "  local _, err = ctx:timer(5000)\n"
                                             "  ctx:log('%d %s', #ids, err)\n"
                                             "  ctx:log('%s', select(2, ctx:timer(9.99)))\n"
                                             "  ctx:cancel_timer(ids[1])\n"
                                             "  ctx:log('%s', tostring(ctx:timer(50000, true) ~= nil))\n"
                                             "end\n"
                                             "function S.on_timer(ctx, tm) ctx.state.n = (ctx.state.n or 0) + 1 end\n"
                                             "function S.on_tick(ctx)\n"
                                             "  local n = 0\n"
                                             "  for i = 1, 10 do if ctx:timer(100000) then n = n + 1 end end\n"
                                             "  ctx:log('fired %d, new %d', ctx.state.n, n)\n"
                                             "end\nreturn S\n");
    assert_int_equal(load(w, "t", t, NULL, 0), 1);
    sv_strategy_start_all(w->host);
    /* each refusal is also a warning line: 6 over the cap, then the 71st and the short one */
    char want[1024] = "";
    for (int i = 0; i < 7; i++)
        strcat(want, "t: timer: at most 64 timers at once\n");
    strcat(want, "t: 64 timer: at most 64 timers at once\n"
                 "t: timer: ms must be >= 10, got 9.99\n"
                 "t: timer: ms must be >= 10, got 9.99\n"
                 "t: true\n");
    assert_string_equal(trace(w), want);
    /* 63 one-shots fire and leave; the repeating one stays */
    sv_clock_timer_t tm;
    int fired = 0;
    while (sv_clock_timer_pop_due(w->clock, T0_NS + 2000000000LL, &tm)) {
        sv_event_t e;
        memset(&e, 0, sizeof e);
        e.h.kind = SV_EV_TIMER;
        e.u.timer.timer_id = (uint64_t)tm.id;
        e.u.timer.strategy = (uint32_t)tm.cookie;
        publish(w, &e);
        fired++;
    }
    assert_int_equal(fired, 63);
    sv_event_t e = trade(w->btc, "1", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "t: fired 63, new 10\n");
}

/* ---- services ---------------------------------------------------------------------------------- */

static const char SERVICES[] =
    "local S = {}\n"
    "function S.on_start(ctx)\n"
    "  local q, avg, rpnl, upnl = ctx:position('ETHUSDT')\n"
    "  ctx:log('position %s %s %s %s', q, avg, rpnl, upnl)\n"
    "  ctx:log('balance %s', ctx:balance('USDT'))\n"
    "  ctx:log('cancel %s', tostring(ctx:cancel(77)))\n"
    "  local ok, err = ctx:cancel(78)\n"
    "  ctx:log('cancel78 %s %s', tostring(ok), err)\n"
    "  ctx:log('cancel_all %s', ctx:cancel_all('BTCUSDT'))\n"
    "  ctx:log('cancel_all any %s', ctx:cancel_all())\n"
    "end\n"
    "return S\n";

static void test_services_reach_the_callbacks(void **state)
{
    world_t *w = *state;
    install_services(w);
    const char *svc = write_file("services.lua", SERVICES);
    const char *rec = write_file("recorder_svc.lua", RECORDER);
    assert_int_equal(load(w, "quiet", rec, NULL, 0), 1);
    assert_int_equal(load(w, "svc", svc, NULL, 0), 2);
    assert_int_equal(sv_strategy_start_all(w->host), 2);
    char want[2048];
    snprintf(want, sizeof want,
             "quiet: on_start\n"
             "svc: position 1.5 2000 -3.25 10\n"
             "svc: balance 1234.5\n"
             "svc: cancel true\n"
             "svc: cancel of order 78 failed: %s\n"
             "svc: cancel78 nil cancel of order 78 failed: %s\n"
             "svc: cancel_all 3\n"
             "svc: cancel_all any 3\n",
             sv_strerror(SV_E_NOTFOUND), sv_strerror(SV_E_NOTFOUND));
    assert_string_equal(trace(w), want);
    /* every call carried the calling strategy's id and the arguments */
    assert_int_equal(w->n_svc, 6);
    assert_string_equal(w->svc[0].what, "position");
    assert_int_equal(w->svc[0].sid, 2);
    assert_int_equal(w->svc[0].symbol, w->eth);
    assert_string_equal(w->svc[1].what, "balance");
    assert_int_equal(w->svc[1].sid, 2);
    assert_string_equal(w->svc[1].asset, "USDT");
    assert_string_equal(w->svc[2].what, "cancel");
    assert_int_equal(w->svc[2].sid, 2);
    assert_int_equal(w->svc[2].id, 77);
    assert_string_equal(w->svc[3].what, "cancel");
    assert_int_equal(w->svc[3].id, 78);
    assert_string_equal(w->svc[4].what, "cancel_all");
    assert_int_equal(w->svc[4].sid, 2);
    assert_int_equal(w->svc[4].symbol, w->btc);
    assert_string_equal(w->svc[5].what, "cancel_all");
    assert_int_equal(w->svc[5].symbol, 0);
    assert_int_equal(w->n_rec, 0);
}

static void test_services_absent(void **state)
{
    world_t *w = *state;
    /* no services installed: flat, zero, cancels unsupported */
    const char *svc = write_file("services_none.lua", SERVICES);
    assert_int_equal(load(w, "svc", svc, NULL, 0), 1);
    assert_int_equal(sv_strategy_start_all(w->host), 1);
    assert_string_equal(trace(w), "svc: position 0 0 0 0\n"
                                  "svc: balance 0\n"
                                  "svc: cancel: no order manager in this engine\n"
                                  "svc: cancel nil\n"
                                  "svc: cancel: no order manager in this engine\n"
                                  "svc: cancel78 nil cancel: no order manager in this engine\n"
                                  "svc: cancel_all: no order manager in this engine\n"
                                  "svc: cancel_all nil\n"
                                  "svc: cancel_all: no order manager in this engine\n"
                                  "svc: cancel_all any nil\n");
    assert_true(sv_strategy_enabled(w->host, 1));
}

/* ---- stop -------------------------------------------------------------------------------------- */

static void test_stop_all(void **state)
{
    world_t *w = *state;
    const char *s = write_file("stopper.lua",
                               "local S = {}\n"
                               "function S.on_start(ctx) ctx:log('timer %d', ctx:timer(1000, true)) end\n"
                               "function S.on_tick(ctx, t)\n"
                               "  local id, why = ctx:buy(t.symbol, 1)\n"
                               "  ctx:log('tick buy %s %s', tostring(id), tostring(why))\n"
                               "end\n"
                               "function S.on_stop(ctx)\n"
                               "  local id, why = ctx:sell('BTCUSDT', 1)\n"
                               "  ctx:log('stop sell %s %s', tostring(id), why)\n"
                               "end\n"
                               "return S\n");
    const char *rec = write_file("recorder_stop.lua", RECORDER);
    assert_int_equal(load(w, "s", s, NULL, 0), 1);
    assert_int_equal(load(w, "r", rec, NULL, 0), 2);
    assert_int_equal(sv_strategy_start_all(w->host), 2);
    assert_string_equal(trace(w), "s: timer 1\nr: on_start\n");
    assert_int_equal(sv_clock_timer_next(w->clock), T0_NS + 1000000000LL);
    sv_event_t e = trade(w->btc, "10", "1", SV_SIDE_BUY);
    publish(w, &e);
    assert_string_equal(trace(w), "s: tick buy 1 nil\nr: on_tick BTCUSDT 10 1 buy\nr: on_signal 1 from 1 BTCUSDT buy\n");
    assert_int_equal(w->n_rec, 2); /* trade, signal */

    sv_strategy_stop_all(w->host);
    assert_string_equal(trace(w), "s: strategy s is stopping: new orders are refused\n"
                                  "s: stop sell nil strategy s is stopping: new orders are refused\n"
                                  "r: on_stop\n");
    assert_int_equal(sv_clock_timer_next(w->clock), INT64_MAX); /* its timers are gone */
    /* handlers still run after stop, but no order gets out */
    publish(w, &e);
    assert_string_equal(trace(w), "s: strategy s is stopping: new orders are refused\n"
                                  "s: tick buy nil strategy s is stopping: new orders are refused\n"
                                  "r: on_tick BTCUSDT 10 1 buy\n");
    assert_int_equal(w->n_rec, 3); /* only the trade was added */
    assert_true(sv_strategy_enabled(w->host, 1));
    assert_int_equal(sv_strategy_calls(w->host, 1), 4); /* start, tick, stop, tick */
    assert_int_equal(sv_strategy_calls(w->host, 2), 5); /* start, tick, signal, stop, tick */
}

static void test_script_stats(void **state)
{
    world_t *w = *state;
    const char *rec = write_file("recorder_stats.lua", RECORDER);
    assert_int_equal(load(w, "a", rec, NULL, 0), 1);
    size_t mem = 0;
    uint64_t allocs = 0;
    assert_int_equal(sv_strategy_script_stats(w->host, 1, &mem, &allocs), 0);
    assert_true(mem > 0);
    assert_true(allocs > 0);
    assert_int_equal(sv_strategy_script_stats(w->host, 2, &mem, &allocs), SV_E_NOTFOUND);
    assert_int_equal(sv_strategy_script_stats(w->host, 0, &mem, &allocs), SV_E_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_ids_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undefined_handlers_are_not_called, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signals_reach_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_error_disables_only_that_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_start_error_and_explicit_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_reach_the_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_disable_with_a_limit_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
