/* test_sim: the simulated venue of engine/sim.h, driven through its sv_exchange_t adapter on
 * crafted bars, trades and quotes. A fake sink records every report; each test asserts the
 * exact reports (status, price, quantity, fee, liquidity, ids, reasons) and balances. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

enum { SYM = 1, BTC = 2, USDT = 3, NOSYM = 7 };
enum { MAXREP = 2100 };

#define SEC 1000000000LL
#define T0 (1767225600LL * SEC) /* 2026-01-01T00:00:00Z */

typedef struct world world_t;
typedef void (*hook_t)(world_t *w, const sv_exec_report_t *r);

struct world {
    sv_instruments_t *ins;
    sv_clock_t *clock;
    sv_sim_t *sim;
    sv_exchange_t ex;
    sv_exec_report_t rep[MAXREP];
    int n;
    hook_t hook; /* called after a report is recorded (reentrancy tests) */
};

/* Exact fixed point from text. */
static sv_fixed_t X(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad fixed literal \"%s\"", s);
    return v;
}

static void fx_is(sv_fixed_t got, const char *want, const char *what, int i)
{
    if (got != X(want)) {
        char g[32];
        sv_fixed_format(got, g, sizeof g);
        fail_msg("report %d: %s = %s, want %s", i, what, g, want);
    }
}

static void on_report(void *ud, const sv_exec_report_t *r)
{
    world_t *w = ud;
    if (w->n >= MAXREP)
        fail_msg("too many reports");
    w->rep[w->n++] = *r;
    if (w->hook)
        w->hook(w, r);
}

static sv_sim_options_t defaults(void)
{
    sv_sim_options_t o = {0};
    o.maker_fee_bps = 2 * (sv_fixed_t)SV_FIXED_SCALE;
    o.taker_fee_bps = 10 * (sv_fixed_t)SV_FIXED_SCALE;
    o.participation = SV_FIXED_ONE;
    o.max_orders = 64;
    return o;
}

/* BTCUSDT (symbol 1): base BTC (2), quote USDT (3), tick 0.01, lot 0.001, min notional 10;
 * the account holds 100000 USDT and 10 BTC; the clock stands at T0. */
static world_t *world_new(const sv_sim_options_t *o)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->ins = sv_instruments_new(64);
    assert_non_null(w->ins);
    sv_instrument_t in = {SYM, BTC, USDT, X("0.01"), X("0.001"), X("10")};
    assert_int_equal(sv_instruments_set(w->ins, &in), SV_OK);
    w->clock = sv_clock_new(1, 16);
    assert_non_null(w->clock);
    sv_clock_set(w->clock, T0);
    sv_exec_sink_t sink = {on_report, w};
    w->sim = sv_sim_new(o, w->ins, w->clock, sink);
    assert_non_null(w->sim);
    w->ex = sv_sim_exchange(w->sim);
    assert_string_equal(w->ex.name, "sim");
    assert_ptr_equal(w->ex.self, w->sim);
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("100000")), SV_OK);
    assert_int_equal(sv_sim_set_balance(w->sim, BTC, X("10")), SV_OK);
    return w;
}

static world_t *world_default(void)
{
    sv_sim_options_t o = defaults();
    return world_new(&o);
}

static void world_free(world_t *w)
{
    sv_sim_free(w->sim);
    sv_clock_free(w->clock);
    sv_instruments_free(w->ins);
    free(w);
}

/* ---- market events: the clock moves to the event's time first, as the engine does ---- */

static void feed(world_t *w, sv_event_t *ev, int64_t ts)
{
    ev->h.symbol = ev->h.symbol ? ev->h.symbol : SYM;
    ev->h.ts_exchange = ts;
    sv_clock_set(w->clock, ts);
    sv_sim_on_market(w->sim, ev);
}

static void bar(world_t *w, int64_t ts, const char *o, const char *h, const char *l, const char *c,
                const char *v)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_BAR;
    ev.u.bar.open = X(o);
    ev.u.bar.high = X(h);
    ev.u.bar.low = X(l);
    ev.u.bar.close = X(c);
    ev.u.bar.volume = X(v);
    ev.u.bar.interval_s = 60;
    ev.u.bar.start = ts - 60 * SEC;
    feed(w, &ev, ts);
}

static void trade(world_t *w, int64_t ts, const char *px, const char *qty)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TRADE;
    ev.u.trade.price = X(px);
    ev.u.trade.qty = X(qty);
    feed(w, &ev, ts);
}

static void quote(world_t *w, int64_t ts, const char *bid, const char *bq, const char *ask,
                  const char *aq)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_QUOTE;
    ev.u.quote.bid_price = X(bid);
    ev.u.quote.bid_qty = X(bq);
    ev.u.quote.ask_price = X(ask);
    ev.u.quote.ask_qty = X(aq);
    feed(w, &ev, ts);
}

/* ---- orders ---- */

static int send_on(world_t *w, uint32_t sym, uint64_t cid, int side, int type, int tif, int flags,
                   const char *qty, const char *price, const char *stop)
{
    sv_order_t o;
    memset(&o, 0, sizeof o);
    o.client_id = cid;
    o.side = (int8_t)side;
    o.type = (uint8_t)type;
    o.tif = (uint8_t)tif;
    o.order_flags = (uint8_t)flags;
    o.qty = X(qty);
    o.price = price ? X(price) : 0;
    o.stop_price = stop ? X(stop) : 0;
    return w->ex.submit(w->ex.self, &o, sym);
}

static void send(world_t *w, uint64_t cid, int side, int type, int tif, int flags, const char *qty,
                 const char *price, const char *stop)
{
    int rc = send_on(w, SYM, cid, side, type, tif, flags, qty, price, stop);
    if (rc != SV_OK)
        fail_msg("submit %llu: %s", (unsigned long long)cid, sv_strerror(rc));
}

#define BUY SV_SIDE_BUY
#define SELL SV_SIDE_SELL
#define GTC SV_TIF_GTC
#define IOC SV_TIF_IOC
#define FOK SV_TIF_FOK
#define market(w, cid, side, qty) send(w, cid, side, SV_ORDER_MARKET, GTC, 0, qty, NULL, NULL)
#define limit(w, cid, side, qty, px) send(w, cid, side, SV_ORDER_LIMIT, GTC, 0, qty, px, NULL)
#define stop_market(w, cid, side, qty, stop) \
    send(w, cid, side, SV_ORDER_STOP_MARKET, GTC, 0, qty, NULL, stop)
#define stop_limit(w, cid, side, qty, px, stop) \
    send(w, cid, side, SV_ORDER_STOP_LIMIT, GTC, 0, qty, px, stop)

static int cancel(world_t *w, uint64_t cid) { return w->ex.cancel(w->ex.self, cid, SYM); }

static int replace(world_t *w, uint64_t cid, const char *px, const char *qty)
{
    return w->ex.replace(w->ex.self, cid, SYM, px ? X(px) : 0, qty ? X(qty) : 0);
}

/* ---- report checks ---- */

static const sv_exec_report_t *rep(world_t *w, int i)
{
    if (i >= w->n)
        fail_msg("report %d missing: only %d reports", i, w->n);
    return &w->rep[i];
}

static void count_is(world_t *w, int n)
{
    if (w->n != n)
        fail_msg("%d reports, want %d (last status %d reason \"%s\")", w->n, n,
                 w->n ? w->rep[w->n - 1].status : -1, w->n ? w->rep[w->n - 1].reason : "");
}

static void status_is(world_t *w, int i, uint64_t cid, int status)
{
    const sv_exec_report_t *r = rep(w, i);
    if (r->client_id != cid || r->status != status)
        fail_msg("report %d: client %llu status %d reason \"%s\", want client %llu status %d", i,
                 (unsigned long long)r->client_id, r->status, r->reason,
                 (unsigned long long)cid, status);
}

static void ack_is(world_t *w, int i, uint64_t cid, uint64_t xid)
{
    status_is(w, i, cid, SV_OS_ACKNOWLEDGED);
    const sv_exec_report_t *r = rep(w, i);
    assert_int_equal(r->symbol, SYM);
    assert_int_equal(r->exchange_id, xid);
    assert_int_equal(r->last_qty, 0);
    assert_int_equal(r->trade_id, 0);
    assert_string_equal(r->reason, "");
}

static void fill_is(world_t *w, int i, uint64_t cid, int status, const char *px, const char *qty,
                    const char *fee, int liq)
{
    status_is(w, i, cid, status);
    const sv_exec_report_t *r = rep(w, i);
    fx_is(r->last_price, px, "last_price", i);
    fx_is(r->last_qty, qty, "last_qty", i);
    fx_is(r->fee, fee, "fee", i);
    assert_int_equal(r->symbol, SYM);
    assert_int_equal(r->fee_asset, USDT);
    assert_int_equal(r->liquidity, liq);
    assert_true(r->trade_id > 0);
    assert_true(r->exchange_id > 0);
}

static void end_is(world_t *w, int i, uint64_t cid, int status, const char *reason)
{
    status_is(w, i, cid, status);
    const sv_exec_report_t *r = rep(w, i);
    assert_string_equal(r->reason, reason);
    assert_int_equal(r->last_qty, 0);
}

static void reject_is(world_t *w, int i, uint64_t cid, const char *reason)
{
    end_is(w, i, cid, SV_OS_REJECTED, reason);
    assert_int_equal(rep(w, i)->exchange_id, 0);
}

static void balance_is(world_t *w, uint32_t asset, const char *want)
{
    fx_is(sv_sim_balance(w->sim, asset), want, asset == USDT ? "USDT balance" : "BTC balance", -1);
}

/* ---- market orders ---- */

static void test_market_fills_at_next_bar_open(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "101", "99", "100.5", "10");
    count_is(w, 0);
    market(w, 1, BUY, "2");
    count_is(w, 1); /* acknowledged inside submit: latency 0 */
    ack_is(w, 0, 1, 1);
    assert_int_equal(rep(w, 0)->ts, T0 + 60 * SEC);
    assert_int_equal(sv_sim_open_orders(w->sim), 1);
    bar(w, T0 + 120 * SEC, "100.7", "102", "100", "101", "10");
    count_is(w, 2);
    fill_is(w, 1, 1, SV_OS_FILLED, "100.7", "2", "0.2014", SV_LIQ_TAKER);
    assert_int_equal(rep(w, 1)->trade_id, 1);
    assert_int_equal(rep(w, 1)->exchange_id, 1);
    assert_int_equal(rep(w, 1)->ts, T0 + 60 * SEC); /* when the bar opened */
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    balance_is(w, USDT, "99798.3986"); /* 100000 - 201.4 - 0.2014 */
    balance_is(w, BTC, "12");

    market(w, 2, SELL, "1");
    ack_is(w, 2, 2, 2);
    bar(w, T0 + 180 * SEC, "101.2", "101.5", "100.8", "101", "10");
    fill_is(w, 3, 2, SV_OS_FILLED, "101.2", "1", "0.1012", SV_LIQ_TAKER);
    assert_int_equal(rep(w, 3)->trade_id, 2);
    balance_is(w, USDT, "99899.4974"); /* + 101.2 - 0.1012 */
    balance_is(w, BTC, "11");
    count_is(w, 4);
    world_free(w);
}

static void test_market_slippage(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.slippage_bps = 5 * (sv_fixed_t)SV_FIXED_SCALE;
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    market(w, 1, BUY, "1");
    market(w, 2, SELL, "1");
    /* buy: 100.03 * 1.0005 = 100.080015 -> up to 100.09; sell: 99.979985 -> down to 99.97 */
    bar(w, T0 + 120 * SEC, "100.03", "100.5", "99.5", "100", "10");
    count_is(w, 4);
    fill_is(w, 2, 1, SV_OS_FILLED, "100.09", "1", "0.10009", SV_LIQ_TAKER);
    fill_is(w, 3, 2, SV_OS_FILLED, "99.97", "1", "0.09997", SV_LIQ_TAKER);
    balance_is(w, USDT, "99999.67994"); /* - 100.09 - 0.10009 + 99.97 - 0.09997 */
    balance_is(w, BTC, "10");

    /* a trade: 200 * 1.0005 = 200.1 exactly, 200 * 0.9995 = 199.9 */
    market(w, 3, BUY, "0.5");
    market(w, 4, SELL, "0.5");
    trade(w, T0 + 121 * SEC, "200", "5");
    fill_is(w, 6, 3, SV_OS_FILLED, "200.1", "0.5", "0.10005", SV_LIQ_TAKER);
    fill_is(w, 7, 4, SV_OS_FILLED, "199.9", "0.5", "0.09995", SV_LIQ_TAKER);

    /* a stop-market buy pays the slippage on its trigger price: 100.5 * 1.0005 = 100.55025 */
    stop_market(w, 5, BUY, "1", "100.5");
    bar(w, T0 + 180 * SEC, "100", "101", "99.9", "100.8", "10");
    fill_is(w, 9, 5, SV_OS_FILLED, "100.56", "1", "0.10056", SV_LIQ_TAKER);
    count_is(w, 10);
    world_free(w);
}

static void test_market_without_price_rejected(void **state)
{
    (void)state;
    world_t *w = world_default();
    market(w, 1, BUY, "1");
    reject_is(w, 0, 1, "no market price yet");
    market(w, 2, SELL, "1");
    reject_is(w, 1, 2, "no market price yet");
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    /* a price on another symbol does not count */
    sv_instrument_t eth = {5, 6, USDT, X("0.01"), X("0.001"), X("10")};
    assert_int_equal(sv_instruments_set(w->ins, &eth), SV_OK);
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TRADE;
    ev.h.symbol = 5;
    ev.u.trade.price = X("3000");
    ev.u.trade.qty = X("1");
    feed(w, &ev, T0 + SEC);
    market(w, 3, BUY, "1");
    reject_is(w, 2, 3, "no market price yet");
    count_is(w, 3);
    world_free(w);
}

/* ---- limit orders ---- */

static void test_limit_on_bars(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "99");
    ack_is(w, 0, 1, 1);
    /* the low touches the limit but does not trade through it */
    bar(w, T0 + 120 * SEC, "100", "100.5", "99", "99.5", "10");
    count_is(w, 1);
    /* through it: a maker fill at the limit, not at the low */
    bar(w, T0 + 180 * SEC, "99.5", "99.8", "98.9", "99.2", "10");
    fill_is(w, 1, 1, SV_OS_FILLED, "99", "1", "0.0198", SV_LIQ_MAKER);
    balance_is(w, USDT, "99900.9802");
    balance_is(w, BTC, "11");

    /* marketable when it arrives: a taker fill at the open */
    limit(w, 2, BUY, "1", "101");
    bar(w, T0 + 240 * SEC, "99.6", "101.5", "99", "100", "10");
    fill_is(w, 3, 2, SV_OS_FILLED, "99.6", "1", "0.0996", SV_LIQ_TAKER);

    /* sells mirror: at or below the open takes at the open; resting needs high > limit */
    limit(w, 3, SELL, "1", "99.5");
    limit(w, 4, SELL, "1", "102");
    bar(w, T0 + 300 * SEC, "100.5", "102", "100", "101", "10");
    fill_is(w, 6, 3, SV_OS_FILLED, "100.5", "1", "0.1005", SV_LIQ_TAKER);
    count_is(w, 7); /* high == 102: order 4 rests */
    bar(w, T0 + 360 * SEC, "101", "102.01", "100.5", "101", "10");
    fill_is(w, 7, 4, SV_OS_FILLED, "102", "1", "0.0204", SV_LIQ_MAKER);
    balance_is(w, BTC, "10");
    /* 99900.9802 - 99.6 - 0.0996 + 100.5 - 0.1005 + 102 - 0.0204 */
    balance_is(w, USDT, "100003.6597");
    count_is(w, 8);
    world_free(w);
}

static void test_limit_on_trades(void **state)
{
    (void)state;
    world_t *w = world_default();
    trade(w, T0 + SEC, "100", "5");
    limit(w, 1, BUY, "1", "99");
    trade(w, T0 + 2 * SEC, "99.5", "5"); /* above the limit: rests */
    trade(w, T0 + 3 * SEC, "99", "5");   /* at the limit, queue model off: no fill */
    count_is(w, 1);
    trade(w, T0 + 4 * SEC, "98.99", "0.4"); /* through: maker at the limit, capped by the print */
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "99", "0.4", "0.00792", SV_LIQ_MAKER);
    fx_is(rep(w, 1)->qty, "1", "qty", 1);
    fx_is(rep(w, 1)->price, "99", "price", 1);
    trade(w, T0 + 5 * SEC, "98.5", "3");
    fill_is(w, 2, 1, SV_OS_FILLED, "99", "0.6", "0.01188", SV_LIQ_MAKER);
    assert_int_equal(rep(w, 2)->trade_id, 2);

    /* marketable on arrival: takes at the print */
    limit(w, 2, BUY, "1", "100");
    trade(w, T0 + 6 * SEC, "99.8", "2");
    fill_is(w, 4, 2, SV_OS_FILLED, "99.8", "1", "0.0998", SV_LIQ_TAKER);
    /* a sell limit resting above the market fills when a print is above it */
    limit(w, 3, SELL, "2", "100.5");
    trade(w, T0 + 7 * SEC, "100.2", "9"); /* below it: rests */
    trade(w, T0 + 8 * SEC, "100.5", "9"); /* at it: no fill without the queue model */
    count_is(w, 6);
    trade(w, T0 + 9 * SEC, "100.6", "9");
    fill_is(w, 6, 3, SV_OS_FILLED, "100.5", "2", "0.0402", SV_LIQ_MAKER);
    balance_is(w, BTC, "10");
    /* 100000 - 99 - 0.0198 - 99.8 - 0.0998 + 201 - 0.0402 */
    balance_is(w, USDT, "100002.0402");
    world_free(w);
}

static void test_limit_queue_position(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.queue_position = 1;
    world_t *w = world_new(&o);
    quote(w, T0 + SEC, "99", "3", "99.01", "2");
    limit(w, 1, BUY, "2", "99"); /* joins the bid behind 3 */
    quote(w, T0 + 2 * SEC, "99", "3.5", "99.01", "2");
    trade(w, T0 + 3 * SEC, "99", "2"); /* 1 left ahead */
    count_is(w, 1);
    trade(w, T0 + 4 * SEC, "99", "2"); /* 1 more than the queue */
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "99", "1", "0.0198", SV_LIQ_MAKER);
    trade(w, T0 + 5 * SEC, "99", "0.5");
    fill_is(w, 2, 1, SV_OS_PARTIALLY_FILLED, "99", "0.5", "0.0099", SV_LIQ_MAKER);
    trade(w, T0 + 6 * SEC, "98.99", "10"); /* through: the rest */
    fill_is(w, 3, 1, SV_OS_FILLED, "99", "0.5", "0.0099", SV_LIQ_MAKER);

    count_is(w, 4);
    world_free(w);
}

static void test_limit_queue_improving_bid(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.queue_position = 1;
    world_t *w = world_new(&o);
    quote(w, T0 + SEC, "98.99", "30", "99.02", "2");
    limit(w, 1, BUY, "1", "99");  /* better than the bid: nobody ahead */
    limit(w, 2, BUY, "1", "98.99"); /* at the bid: 30 ahead */
    quote(w, T0 + 2 * SEC, "99", "1", "99.02", "2");
    count_is(w, 2);
    trade(w, T0 + 3 * SEC, "99", "0.25");
    fill_is(w, 2, 1, SV_OS_PARTIALLY_FILLED, "99", "0.25", "0.00495", SV_LIQ_MAKER);
    trade(w, T0 + 4 * SEC, "98.99", "29.5");
    fill_is(w, 3, 1, SV_OS_FILLED, "99", "0.75", "0.01485", SV_LIQ_MAKER);
    count_is(w, 4); /* order 2 still has 0.5 ahead */
    trade(w, T0 + 5 * SEC, "98.99", "1");
    fill_is(w, 4, 2, SV_OS_PARTIALLY_FILLED, "98.99", "0.5", "0.009899", SV_LIQ_MAKER);
    count_is(w, 5);
    world_free(w);
}

/* ---- stops ---- */

static void test_stop_market_on_bars(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    stop_market(w, 1, SELL, "1", "95");
    bar(w, T0 + 120 * SEC, "99", "99.5", "96", "97", "10");
    count_is(w, 1);
    /* the range reaches the stop: fills at the stop */
    bar(w, T0 + 180 * SEC, "97", "98", "94", "96", "10");
    fill_is(w, 1, 1, SV_OS_FILLED, "95", "1", "0.095", SV_LIQ_TAKER);
    /* a gap through the stop fills at the open */
    stop_market(w, 2, SELL, "1", "95");
    bar(w, T0 + 240 * SEC, "93", "94", "92", "93.5", "10");
    fill_is(w, 3, 2, SV_OS_FILLED, "93", "1", "0.093", SV_LIQ_TAKER);
    stop_market(w, 3, BUY, "1", "100");
    bar(w, T0 + 300 * SEC, "99", "100", "98", "99", "10"); /* high == stop: triggers */
    fill_is(w, 5, 3, SV_OS_FILLED, "100", "1", "0.1", SV_LIQ_TAKER);
    stop_market(w, 4, BUY, "1", "105");
    bar(w, T0 + 360 * SEC, "106", "107", "105.5", "106", "10");
    fill_is(w, 7, 4, SV_OS_FILLED, "106", "1", "0.106", SV_LIQ_TAKER);
    balance_is(w, BTC, "10");
    balance_is(w, USDT, "99981.606"); /* + 95 + 93 - 100 - 106, fees 0.394 */
    count_is(w, 8);
    world_free(w);
}

static void test_stop_market_on_trades_and_quotes(void **state)
{
    (void)state;
    world_t *w = world_default();
    trade(w, T0 + SEC, "100", "1");
    stop_market(w, 1, BUY, "1", "101");
    stop_market(w, 2, SELL, "1", "99");
    trade(w, T0 + 2 * SEC, "100.9", "1");
    count_is(w, 2);
    trade(w, T0 + 3 * SEC, "101.25", "1");
    fill_is(w, 2, 1, SV_OS_FILLED, "101.25", "1", "0.10125", SV_LIQ_TAKER);
    trade(w, T0 + 4 * SEC, "98.5", "0.4"); /* gap below the stop; participation caps at the print */
    fill_is(w, 3, 2, SV_OS_PARTIALLY_FILLED, "98.5", "0.4", "0.0394", SV_LIQ_TAKER);
    trade(w, T0 + 5 * SEC, "99.5", "3"); /* triggered: the rest fills like a market order */
    fill_is(w, 4, 2, SV_OS_FILLED, "99.5", "0.6", "0.0597", SV_LIQ_TAKER);
    /* quotes: a buy stop watches the ask and fills there */
    stop_market(w, 3, BUY, "1", "102");
    quote(w, T0 + 6 * SEC, "101.9", "1", "101.99", "1");
    count_is(w, 6);
    quote(w, T0 + 7 * SEC, "102", "1", "102.05", "3");
    fill_is(w, 6, 3, SV_OS_FILLED, "102.05", "1", "0.10205", SV_LIQ_TAKER);
    count_is(w, 7);
    world_free(w);
}

static void test_stop_limit_on_bars(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    stop_limit(w, 1, BUY, "1", "101.5", "101"); /* limit above the stop */
    stop_limit(w, 2, BUY, "1", "100.5", "101"); /* limit below the stop */
    stop_limit(w, 3, SELL, "1", "96", "95");    /* will trigger, never reach its limit */
    /* low is nearer the open: 100 -> 99.5 -> 102 -> 100.8; both buys trigger at 101 */
    bar(w, T0 + 120 * SEC, "100", "102", "99.5", "100.8", "10");
    fill_is(w, 3, 1, SV_OS_FILLED, "101", "1", "0.101", SV_LIQ_TAKER);
    count_is(w, 4); /* order 2 became a limit at 100.5; the path never goes below it */
    assert_int_equal(sv_sim_open_orders(w->sim), 2);
    bar(w, T0 + 180 * SEC, "100.8", "101", "100.4", "100.6", "10");
    fill_is(w, 4, 2, SV_OS_FILLED, "100.5", "1", "0.0201", SV_LIQ_MAKER);
    /* high nearer: 97 -> 97.5 -> 94 -> 95; triggers at 95, then never above 96 */
    bar(w, T0 + 240 * SEC, "97", "97.5", "94", "95", "10");
    count_is(w, 5);
    bar(w, T0 + 300 * SEC, "95", "96", "94.5", "95.5", "10"); /* high == limit: no fill */
    count_is(w, 5);
    assert_int_equal(sv_sim_open_orders(w->sim), 1);
    assert_int_equal(cancel(w, 3), SV_OK);
    end_is(w, 5, 3, SV_OS_CANCELED, "canceled");
    /* a sell stop-limit that triggers and fills later in the same bar:
     * 96 -> 96.2 -> 94.8 -> 95.8 triggers at 95, then rises through 95.5 */
    stop_limit(w, 4, SELL, "1", "95.5", "95");
    bar(w, T0 + 360 * SEC, "96", "96.2", "94.8", "95.8", "10");
    fill_is(w, 7, 4, SV_OS_FILLED, "95.5", "1", "0.0191", SV_LIQ_MAKER);
    count_is(w, 8);
    balance_is(w, BTC, "11");
    balance_is(w, USDT, "99893.8598"); /* - 101 - 100.5 + 95.5, fees 0.1402 */
    world_free(w);
}

static void test_stop_limit_on_trades(void **state)
{
    (void)state;
    world_t *w = world_default();
    trade(w, T0 + SEC, "100", "1");
    stop_limit(w, 1, BUY, "1", "101.2", "101");
    trade(w, T0 + 2 * SEC, "101.5", "1"); /* triggers above its limit: rests at 101.2 */
    count_is(w, 1);
    trade(w, T0 + 3 * SEC, "101.2", "1");
    count_is(w, 1);
    trade(w, T0 + 4 * SEC, "101.1", "1");
    fill_is(w, 1, 1, SV_OS_FILLED, "101.2", "1", "0.02024", SV_LIQ_MAKER);
    stop_limit(w, 2, SELL, "1", "98", "99");
    trade(w, T0 + 5 * SEC, "98.7", "1"); /* triggers within its limit: takes at the print */
    fill_is(w, 3, 2, SV_OS_FILLED, "98.7", "1", "0.0987", SV_LIQ_TAKER);
    count_is(w, 4);
    world_free(w);
}

/* Two orders on one bar fill in the order the path reaches them, not in arrival order. */
static void test_intra_bar_path_order(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    stop_market(w, 1, SELL, "1", "95");
    limit(w, 2, SELL, "1", "105");
    /* high nearer the open (6 < 7): 100 -> 106 -> 93 -> 100, the limit first */
    bar(w, T0 + 120 * SEC, "100", "106", "93", "100", "10");
    count_is(w, 4);
    fill_is(w, 2, 2, SV_OS_FILLED, "105", "1", "0.021", SV_LIQ_MAKER);
    fill_is(w, 3, 1, SV_OS_FILLED, "95", "1", "0.095", SV_LIQ_TAKER);
    /* stamped where the path meets them: 5 and 17 of its 26 units into the 60 s bar */
    assert_int_equal(rep(w, 2)->ts, T0 + 60 * SEC + 11538461538LL);
    assert_int_equal(rep(w, 3)->ts, T0 + 60 * SEC + 39230769230LL);

    limit(w, 3, SELL, "1", "105");
    stop_market(w, 4, SELL, "1", "95");
    /* low nearer the open (6 < 7): 100 -> 94 -> 107 -> 100, the stop first */
    bar(w, T0 + 180 * SEC, "100", "107", "94", "100", "10");
    count_is(w, 8);
    fill_is(w, 6, 4, SV_OS_FILLED, "95", "1", "0.095", SV_LIQ_TAKER);
    fill_is(w, 7, 3, SV_OS_FILLED, "105", "1", "0.021", SV_LIQ_MAKER);

    /* equal distances: the low comes first */
    limit(w, 5, SELL, "1", "105");
    stop_market(w, 6, SELL, "1", "95");
    bar(w, T0 + 240 * SEC, "100", "106", "94", "100", "10");
    fill_is(w, 10, 6, SV_OS_FILLED, "95", "1", "0.095", SV_LIQ_TAKER);
    fill_is(w, 11, 5, SV_OS_FILLED, "105", "1", "0.021", SV_LIQ_MAKER);
    assert_int_equal(rep(w, 10)->trade_id, 5);
    assert_int_equal(rep(w, 11)->trade_id, 6);
    balance_is(w, BTC, "4");
    world_free(w);
}

/* ---- time in force, post-only, participation ---- */

static void test_ioc(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.participation = X("0.5");
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    send(w, 1, BUY, SV_ORDER_MARKET, IOC, 0, "3", NULL, NULL);
    bar(w, T0 + 120 * SEC, "100.2", "101", "100", "100.5", "4"); /* at most 2 */
    count_is(w, 3);
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "100.2", "2", "0.2004", SV_LIQ_TAKER);
    end_is(w, 2, 1, SV_OS_CANCELED, "IOC: unfilled quantity canceled");
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    balance_is(w, USDT, "99799.3996");
    balance_is(w, BTC, "12");
    /* not marketable at the open: canceled whole, though the low later crosses it */
    send(w, 2, BUY, SV_ORDER_LIMIT, IOC, 0, "1", "99", NULL);
    bar(w, T0 + 180 * SEC, "100", "100.5", "98", "99", "10");
    end_is(w, 4, 2, SV_OS_CANCELED, "IOC: unfilled quantity canceled");
    /* marketable and within the cap: filled, nothing left to cancel */
    send(w, 3, BUY, SV_ORDER_LIMIT, IOC, 0, "1", "101", NULL);
    bar(w, T0 + 240 * SEC, "100.5", "101", "100", "100", "4");
    fill_is(w, 6, 3, SV_OS_FILLED, "100.5", "1", "0.1005", SV_LIQ_TAKER);
    count_is(w, 7);
    /* the quote's size on the side taken bounds it */
    send(w, 4, SELL, SV_ORDER_MARKET, IOC, 0, "2", NULL, NULL);
    quote(w, T0 + 241 * SEC, "99.9", "1", "100.1", "5");
    fill_is(w, 8, 4, SV_OS_PARTIALLY_FILLED, "99.9", "0.5", "0.04995", SV_LIQ_TAKER);
    end_is(w, 9, 4, SV_OS_CANCELED, "IOC: unfilled quantity canceled");
    balance_is(w, BTC, "12.5");
    world_free(w);
}

static void test_fok(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.participation = X("0.5");
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    send(w, 1, BUY, SV_ORDER_LIMIT, FOK, 0, "3", "101", NULL);
    bar(w, T0 + 120 * SEC, "100.5", "101", "100", "100", "10"); /* cap 5 */
    fill_is(w, 1, 1, SV_OS_FILLED, "100.5", "3", "0.3015", SV_LIQ_TAKER);
    send(w, 2, BUY, SV_ORDER_MARKET, FOK, 0, "3", NULL, NULL);
    bar(w, T0 + 180 * SEC, "100", "101", "99", "100", "4"); /* cap 2 */
    end_is(w, 3, 2, SV_OS_EXPIRED, "FOK: cannot fill 3 in full (2 available)");
    send(w, 3, SELL, SV_ORDER_LIMIT, FOK, 0, "1", "101", NULL);
    bar(w, T0 + 240 * SEC, "100", "102", "99", "100", "10"); /* not marketable at the open */
    end_is(w, 5, 3, SV_OS_EXPIRED, "FOK: cannot fill 1 in full (0 available)");
    count_is(w, 6);
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    balance_is(w, USDT, "99698.1985");
    balance_is(w, BTC, "13");
    world_free(w);
}

static void test_post_only(void **state)
{
    (void)state;
    world_t *w = world_default();
    quote(w, T0 + SEC, "99.99", "1", "100.01", "1");
    send(w, 1, BUY, SV_ORDER_LIMIT, GTC, SV_ORDER_FLAG_POST_ONLY, "1", "100.01", NULL);
    reject_is(w, 0, 1, "post-only order would take liquidity: limit 100.01, market 100.01");
    send(w, 2, SELL, SV_ORDER_LIMIT, GTC, SV_ORDER_FLAG_POST_ONLY, "1", "99.9", NULL);
    reject_is(w, 1, 2, "post-only order would take liquidity: limit 99.9, market 99.99");
    send(w, 3, BUY, SV_ORDER_LIMIT, IOC, SV_ORDER_FLAG_POST_ONLY, "1", "99", NULL);
    reject_is(w, 2, 3, "post-only is only valid on GTC limit orders");
    send(w, 4, BUY, SV_ORDER_MARKET, GTC, SV_ORDER_FLAG_POST_ONLY, "1", NULL, NULL);
    reject_is(w, 3, 4, "post-only is only valid on GTC limit orders");
    send(w, 5, BUY, SV_ORDER_LIMIT, GTC, SV_ORDER_FLAG_POST_ONLY, "2", "100", NULL);
    ack_is(w, 4, 5, 1);
    quote(w, T0 + 2 * SEC, "99.98", "1", "100", "1.5"); /* the ask comes down to it */
    fill_is(w, 5, 5, SV_OS_PARTIALLY_FILLED, "100", "1.5", "0.03", SV_LIQ_MAKER);
    /* post-only never takes: a bar that opens through it still fills it as maker */
    bar(w, T0 + 60 * SEC, "99", "99.5", "98", "99", "10");
    fill_is(w, 6, 5, SV_OS_FILLED, "100", "0.5", "0.01", SV_LIQ_MAKER);
    count_is(w, 7);
    world_free(w);
}

static void test_participation_across_bars(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.participation = X("0.25");
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    market(w, 1, BUY, "5");
    bar(w, T0 + 120 * SEC, "100", "100", "100", "100", "8");
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "100", "2", "0.2", SV_LIQ_TAKER);
    bar(w, T0 + 180 * SEC, "100.5", "101", "100", "101", "8");
    fill_is(w, 2, 1, SV_OS_PARTIALLY_FILLED, "100.5", "2", "0.201", SV_LIQ_TAKER);
    bar(w, T0 + 240 * SEC, "101", "101", "101", "101", "0.003"); /* cap 0.00075: below a lot */
    count_is(w, 3);
    bar(w, T0 + 300 * SEC, "101", "101", "101", "101", "0"); /* no volume, no fill */
    count_is(w, 3);
    bar(w, T0 + 360 * SEC, "101", "101", "101", "101", "0.011"); /* cap 0.00275 -> 0.002 */
    fill_is(w, 3, 1, SV_OS_PARTIALLY_FILLED, "101", "0.002", "0.000202", SV_LIQ_TAKER);
    bar(w, T0 + 420 * SEC, "101", "101", "101", "101", "8");
    fill_is(w, 4, 1, SV_OS_FILLED, "101", "0.998", "0.100798", SV_LIQ_TAKER);
    balance_is(w, BTC, "15");
    balance_is(w, USDT, "99497.498"); /* 502.5 notional, 0.502 fees */
    /* a resting limit is capped the same way */
    limit(w, 2, SELL, "1", "102");
    bar(w, T0 + 480 * SEC, "101", "103", "101", "102", "2"); /* cap 0.5 */
    fill_is(w, 6, 2, SV_OS_PARTIALLY_FILLED, "102", "0.5", "0.0102", SV_LIQ_MAKER);
    bar(w, T0 + 540 * SEC, "102", "103", "101", "102", "2");
    fill_is(w, 7, 2, SV_OS_FILLED, "102", "0.5", "0.0102", SV_LIQ_MAKER);
    count_is(w, 8);
    world_free(w);
}

/* ---- latency ---- */

static void test_latency(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.latency_ns = SEC;
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    market(w, 1, BUY, "1"); /* sent at 60 s, live from 61 s */
    count_is(w, 0);
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    bar(w, T0 + 60 * SEC + SEC / 2, "100.2", "100.2", "100.2", "100.2", "10");
    count_is(w, 0);
    bar(w, T0 + 61 * SEC, "100.4", "100.5", "100.3", "100.4", "10");
    count_is(w, 2); /* acknowledged and filled on the same event */
    ack_is(w, 0, 1, 1);
    assert_int_equal(rep(w, 0)->ts, T0 + 61 * SEC);
    fill_is(w, 1, 1, SV_OS_FILLED, "100.4", "1", "0.1004", SV_LIQ_TAKER);
    assert_int_equal(rep(w, 1)->ts, T0 + 61 * SEC); /* not before its acknowledgement */

    /* a cancel also travels: fills before it arrives still happen */
    limit(w, 2, BUY, "2", "90"); /* sent at 61 s */
    bar(w, T0 + 62 * SEC, "100", "100", "100", "100", "10");
    ack_is(w, 2, 2, 2);
    assert_int_equal(cancel(w, 2), SV_OK); /* sent at 62 s */
    assert_int_equal(cancel(w, 2), SV_E_STATE);
    bar(w, T0 + 62 * SEC + SEC / 2, "90", "90", "89", "89", "1");
    fill_is(w, 3, 2, SV_OS_PARTIALLY_FILLED, "90", "1", "0.018", SV_LIQ_MAKER);
    bar(w, T0 + 63 * SEC, "89", "89", "88", "88", "10"); /* cancel first, so no fill */
    end_is(w, 4, 2, SV_OS_CANCELED, "canceled");
    fx_is(rep(w, 4)->qty, "2", "qty", 4);
    count_is(w, 5);
    assert_int_equal(sv_sim_open_orders(w->sim), 0);

    /* a cancel that arrives after its order filled */
    limit(w, 3, BUY, "1", "95"); /* sent at 63 s */
    bar(w, T0 + 64 * SEC, "96", "96", "96", "96", "10");
    ack_is(w, 5, 3, 3);
    assert_int_equal(cancel(w, 3), SV_OK);
    bar(w, T0 + 64 * SEC + SEC / 2, "96", "96", "94", "94", "10");
    fill_is(w, 6, 3, SV_OS_FILLED, "95", "1", "0.019", SV_LIQ_MAKER);
    assert_int_equal(cancel(w, 3), SV_E_NOTFOUND);
    bar(w, T0 + 65 * SEC, "94", "94", "94", "94", "10");
    end_is(w, 7, 3, SV_OS_FILLED, "cancel rejected: order already filled");
    assert_int_equal(rep(w, 7)->exchange_id, 3);
    count_is(w, 8);

    /* a reject also waits for the arrival */
    limit(w, 4, BUY, "1", "95.001");
    bar(w, T0 + 65 * SEC + SEC / 2, "94", "94", "94", "94", "10");
    count_is(w, 8);
    trade(w, T0 + 66 * SEC, "94", "1");
    reject_is(w, 8, 4, "price 95.001 is not a multiple of tick size 0.01");
    balance_is(w, BTC, "13");
    balance_is(w, USDT, "99714.4626"); /* - 100.4 - 90 - 95, fees 0.1374 */
    world_free(w);
}

/* ---- validation ---- */

static void test_reject_reasons(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "100.005");
    reject_is(w, 0, 1, "price 100.005 is not a multiple of tick size 0.01");
    limit(w, 2, BUY, "0.0015", "100");
    reject_is(w, 1, 2, "quantity 0.0015 is not a positive multiple of lot size 0.001");
    limit(w, 3, BUY, "0.05", "100");
    reject_is(w, 2, 3, "notional 5 is below the minimum 10");
    market(w, 4, SELL, "0.05"); /* a market order's notional at the last price */
    reject_is(w, 3, 4, "notional 5 is below the minimum 10");
    stop_market(w, 5, SELL, "1", "95.001");
    reject_is(w, 4, 5, "stop price 95.001 is not a multiple of tick size 0.01");
    send(w, 6, BUY, SV_ORDER_LIMIT, GTC, 0, "1", NULL, NULL);
    reject_is(w, 5, 6, "limit price must be > 0");
    send(w, 7, BUY, SV_ORDER_STOP_MARKET, GTC, 0, "1", NULL, NULL);
    reject_is(w, 6, 7, "stop price must be > 0");
    assert_int_equal(send_on(w, NOSYM, 8, BUY, SV_ORDER_LIMIT, GTC, 0, "1", "100", NULL), SV_OK);
    end_is(w, 7, 8, SV_OS_REJECTED, "unknown instrument");
    assert_int_equal(rep(w, 7)->symbol, NOSYM);

    /* balances: a buy needs notional + taker fee in quote, a sell its base quantity */
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("150")), SV_OK);
    limit(w, 9, BUY, "1.5", "100");
    reject_is(w, 8, 9, "insufficient quote balance: need 150.15, available 150");
    limit(w, 10, BUY, "1", "100"); /* holds 100.1 */
    ack_is(w, 9, 10, 1);
    limit(w, 11, BUY, "0.5", "100");
    reject_is(w, 10, 11, "insufficient quote balance: need 50.05, available 49.9");
    market(w, 12, BUY, "0.5"); /* a market buy is held at the last price */
    reject_is(w, 11, 12, "insufficient quote balance: need 50.05, available 49.9");
    limit(w, 13, SELL, "11", "101");
    reject_is(w, 12, 13, "insufficient base balance: need 11, available 10");
    limit(w, 14, SELL, "6", "101");
    ack_is(w, 13, 14, 2);
    stop_market(w, 15, SELL, "5", "95"); /* stops hold from submission */
    reject_is(w, 14, 15, "insufficient base balance: need 5, available 4");
    count_is(w, 15);
    assert_int_equal(sv_sim_open_orders(w->sim), 2);
    balance_is(w, USDT, "150"); /* locks do not change the balance */
    balance_is(w, BTC, "10");
    world_free(w);
}

static void test_sync_errors_and_options(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.max_orders = 2;
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "90");
    assert_int_equal(send_on(w, SYM, 1, BUY, SV_ORDER_LIMIT, GTC, 0, "1", "90", NULL), SV_E_EXISTS);
    limit(w, 2, BUY, "1", "90");
    assert_int_equal(send_on(w, SYM, 3, BUY, SV_ORDER_LIMIT, GTC, 0, "1", "90", NULL), SV_E_FULL);
    assert_int_equal(send_on(w, SYM, 0, BUY, SV_ORDER_LIMIT, GTC, 0, "1", "90", NULL), SV_E_INVAL);
    assert_int_equal(send_on(w, SYM, 4, 0, SV_ORDER_LIMIT, GTC, 0, "1", "90", NULL), SV_E_INVAL);
    assert_int_equal(send_on(w, SYM, 4, BUY, 4, GTC, 0, "1", "90", NULL), SV_E_INVAL);
    assert_int_equal(send_on(w, SYM, 4, BUY, SV_ORDER_LIMIT, 3, 0, "1", "90", NULL), SV_E_INVAL);
    assert_int_equal(send_on(w, 70000, 4, BUY, SV_ORDER_LIMIT, GTC, 0, "1", "90", NULL),
                     SV_E_RANGE);
    assert_int_equal(w->ex.submit(w->ex.self, NULL, SYM), SV_E_INVAL);
    assert_int_equal(cancel(w, 99), SV_E_NOTFOUND);
    assert_int_equal(w->ex.cancel(w->ex.self, 1, 5), SV_E_NOTFOUND); /* wrong symbol */
    assert_int_equal(replace(w, 99, "91", NULL), SV_E_NOTFOUND);
    assert_int_equal(w->ex.replace(w->ex.self, 1, SYM, -1, 0), SV_E_INVAL);
    count_is(w, 2);
    assert_int_equal(w->ex.cancel(w->ex.self, 1, 0), SV_OK); /* symbol 0: any */
    limit(w, 3, BUY, "1", "90"); /* the slot is free again */
    assert_int_equal(sv_sim_open_orders(w->sim), 2);
    assert_int_equal(sv_sim_set_balance(w->sim, 70000, X("1")), SV_E_RANGE);
    assert_int_equal(sv_sim_set_balance(w->sim, BTC, X("-1")), SV_E_INVAL);
    assert_int_equal(sv_sim_balance(w->sim, 70000), 0);
    assert_int_equal(sv_sim_balance(w->sim, 9), 0);
    world_free(w);

    sv_instruments_t *ins = sv_instruments_new(4);
    sv_clock_t *c = sv_clock_new(1, 4);
    sv_exec_sink_t sink = {on_report, NULL};
    sv_sim_options_t bad;
    bad = defaults(), bad.participation = 0;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults(), bad.participation = SV_FIXED_ONE + 1;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults(), bad.max_orders = 0;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults(), bad.latency_ns = -1;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults(), bad.slippage_bps = -1;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults(), bad.taker_fee_bps = 10001 * (sv_fixed_t)SV_FIXED_SCALE;
    assert_null(sv_sim_new(&bad, ins, c, sink));
    bad = defaults();
    assert_null(sv_sim_new(&bad, NULL, c, sink));
    assert_null(sv_sim_new(&bad, ins, NULL, sink));
    assert_null(sv_sim_new(NULL, ins, c, sink));
    sv_sim_t *s = sv_sim_new(&bad, ins, c, sink);
    assert_non_null(s);
    sv_sim_free(s);
    sv_sim_free(NULL);
    sv_clock_free(c);
    sv_instruments_free(ins);
}

/* ---- cancel and replace ---- */

static void test_cancel_releases_lock(void **state)
{
    (void)state;
    world_t *w = world_default();
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("200")), SV_OK);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "99"); /* holds 99.099 */
    limit(w, 2, BUY, "1", "101");
    reject_is(w, 1, 2, "insufficient quote balance: need 101.101, available 100.901");
    assert_int_equal(cancel(w, 1), SV_OK);
    end_is(w, 2, 1, SV_OS_CANCELED, "canceled");
    assert_int_equal(rep(w, 2)->exchange_id, 1);
    fx_is(rep(w, 2)->price, "99", "price", 2);
    assert_int_equal(cancel(w, 1), SV_E_NOTFOUND);
    limit(w, 3, BUY, "1", "101");
    ack_is(w, 3, 3, 2);
    /* a sell's base comes back too */
    limit(w, 4, SELL, "10", "120");
    assert_int_equal(cancel(w, 4), SV_OK);
    limit(w, 5, SELL, "10", "120");
    ack_is(w, 6, 5, 4);
    count_is(w, 7);
    world_free(w);
}

static void test_replace(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "98");
    assert_int_equal(replace(w, 1, "97", "2"), SV_OK);
    status_is(w, 1, 1, SV_OS_ACKNOWLEDGED);
    fx_is(rep(w, 1)->price, "97", "price", 1);
    fx_is(rep(w, 1)->qty, "2", "qty", 1);
    assert_int_equal(rep(w, 1)->exchange_id, 1);
    assert_string_equal(rep(w, 1)->reason, "");
    bar(w, T0 + 120 * SEC, "99", "99", "97.5", "98", "0.5"); /* the old price would have filled */
    count_is(w, 2);
    bar(w, T0 + 180 * SEC, "98", "98", "96.5", "97", "0.5");
    fill_is(w, 2, 1, SV_OS_PARTIALLY_FILLED, "97", "0.5", "0.0097", SV_LIQ_MAKER);
    fx_is(rep(w, 2)->qty, "2", "qty", 2);
    assert_int_equal(replace(w, 1, NULL, "0.5"), SV_OK);
    end_is(w, 3, 1, SV_OS_PARTIALLY_FILLED,
           "replace rejected: new quantity 0.5 must exceed the filled 0.5");
    fx_is(rep(w, 3)->qty, "2", "qty", 3);
    assert_int_equal(replace(w, 1, "96.005", NULL), SV_OK);
    end_is(w, 4, 1, SV_OS_PARTIALLY_FILLED,
           "replace rejected: price 96.005 is not a multiple of tick size 0.01");
    assert_int_equal(replace(w, 1, "96", "1"), SV_OK); /* price only moves; qty 1 > filled 0.5 */
    status_is(w, 5, 1, SV_OS_PARTIALLY_FILLED);
    fx_is(rep(w, 5)->price, "96", "price", 5);
    fx_is(rep(w, 5)->qty, "1", "qty", 5);
    bar(w, T0 + 240 * SEC, "97", "97", "95", "96", "10");
    fill_is(w, 6, 1, SV_OS_FILLED, "96", "0.5", "0.0096", SV_LIQ_MAKER);
    assert_int_equal(replace(w, 1, "95", NULL), SV_E_NOTFOUND);

    /* amending loses time priority: both fill on the next bar, the amended one last */
    limit(w, 2, BUY, "1", "95");
    limit(w, 3, BUY, "1", "95");
    assert_int_equal(replace(w, 2, NULL, "2"), SV_OK);
    status_is(w, 9, 2, SV_OS_ACKNOWLEDGED);
    bar(w, T0 + 300 * SEC, "96", "96", "94", "95", "10");
    fill_is(w, 10, 3, SV_OS_FILLED, "95", "1", "0.019", SV_LIQ_MAKER);
    fill_is(w, 11, 2, SV_OS_FILLED, "95", "2", "0.038", SV_LIQ_MAKER);

    /* a replace needs the balance for the larger order */
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("300")), SV_OK);
    limit(w, 4, BUY, "2", "95"); /* holds 190.19 */
    assert_int_equal(replace(w, 4, NULL, "4"), SV_OK);
    end_is(w, 13, 4, SV_OS_ACKNOWLEDGED,
           "replace rejected: insufficient quote balance: need 190.19, available 109.81");
    market(w, 5, BUY, "1");
    assert_int_equal(replace(w, 5, NULL, "2"), SV_OK);
    end_is(w, 15, 5, SV_OS_ACKNOWLEDGED, "replace rejected: market orders cannot be amended");
    count_is(w, 16);
    world_free(w);
}

static void test_replace_with_latency(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.latency_ns = 2 * SEC;
    world_t *w = world_new(&o);
    trade(w, T0, "100", "1");
    limit(w, 1, BUY, "1", "99");
    assert_int_equal(replace(w, 1, "98", NULL), SV_OK); /* queued behind the order itself */
    assert_int_equal(replace(w, 1, "97", NULL), SV_E_STATE);
    assert_int_equal(cancel(w, 1), SV_OK);
    assert_int_equal(replace(w, 1, "97", NULL), SV_E_STATE);
    count_is(w, 0);
    trade(w, T0 + 2 * SEC, "98.5", "1"); /* arrive, amend, cancel: in the order sent */
    count_is(w, 3);
    ack_is(w, 0, 1, 1);
    status_is(w, 1, 1, SV_OS_ACKNOWLEDGED);
    fx_is(rep(w, 1)->price, "98", "price", 1);
    end_is(w, 2, 1, SV_OS_CANCELED, "canceled");
    fx_is(rep(w, 2)->price, "98", "price", 2);
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    /* a replace that arrives after the order was rejected */
    sv_clock_set(w->clock, T0 + 3 * SEC);
    limit(w, 2, BUY, "5000", "99");
    assert_int_equal(replace(w, 2, "98", NULL), SV_OK);
    trade(w, T0 + 5 * SEC, "98.5", "1");
    reject_is(w, 3, 2, "insufficient quote balance: need 495495, available 100000");
    end_is(w, 4, 2, SV_OS_REJECTED, "replace rejected: order already rejected");
    count_is(w, 5);
    world_free(w);
}

/* ---- quotes ---- */

static void test_quotes(void **state)
{
    (void)state;
    world_t *w = world_default();
    quote(w, T0 + SEC, "99.9", "2", "100.1", "3");
    market(w, 1, BUY, "1");
    quote(w, T0 + 2 * SEC, "99.95", "2", "100.05", "0.5"); /* the ask's size bounds the fill */
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "100.05", "0.5", "0.050025", SV_LIQ_TAKER);
    quote(w, T0 + 3 * SEC, "99.95", "2", "100.2", "4");
    fill_is(w, 2, 1, SV_OS_FILLED, "100.2", "0.5", "0.0501", SV_LIQ_TAKER);
    market(w, 2, SELL, "1");
    quote(w, T0 + 4 * SEC, "99.9", "5", "100.1", "5");
    fill_is(w, 4, 2, SV_OS_FILLED, "99.9", "1", "0.0999", SV_LIQ_TAKER);
    limit(w, 3, BUY, "1", "100");
    quote(w, T0 + 5 * SEC, "99.9", "5", "100.05", "5");
    count_is(w, 6);
    quote(w, T0 + 6 * SEC, "99.9", "5", "100", "2"); /* the ask falls to it: maker at its price */
    fill_is(w, 6, 3, SV_OS_FILLED, "100", "1", "0.02", SV_LIQ_MAKER);
    limit(w, 4, BUY, "1", "101"); /* marketable: takes at the ask */
    quote(w, T0 + 7 * SEC, "100.4", "5", "100.5", "5");
    fill_is(w, 8, 4, SV_OS_FILLED, "100.5", "1", "0.1005", SV_LIQ_TAKER);
    limit(w, 5, SELL, "1", "100.4"); /* at the bid: takes it */
    quote(w, T0 + 8 * SEC, "100.4", "5", "100.5", "5");
    fill_is(w, 10, 5, SV_OS_FILLED, "100.4", "1", "0.1004", SV_LIQ_TAKER);
    count_is(w, 11);
    balance_is(w, BTC, "11");
    /* - 50.025 - 50.1 + 99.9 - 100 - 100.5 + 100.4, fees 0.420925 */
    balance_is(w, USDT, "99899.254075");
    world_free(w);
}

/* ---- balances, sides and the funds a fill needs ---- */

static void test_balances_and_sides(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.maker_fee_bps = -1 * (sv_fixed_t)SV_FIXED_SCALE; /* a maker rebate */
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "2", "100.5");
    bar(w, T0 + 120 * SEC, "100", "101", "99", "100", "10");
    fill_is(w, 1, 1, SV_OS_FILLED, "100", "2", "0.2", SV_LIQ_TAKER);
    balance_is(w, USDT, "99799.8"); /* a buy: quote down by notional + fee, base up */
    balance_is(w, BTC, "12");
    limit(w, 2, SELL, "2", "110");
    bar(w, T0 + 180 * SEC, "105", "111", "104", "110", "10");
    fill_is(w, 3, 2, SV_OS_FILLED, "110", "2", "-0.022", SV_LIQ_MAKER);
    balance_is(w, USDT, "100019.822"); /* a sell: base down, quote up by notional - fee */
    balance_is(w, BTC, "10");
    sv_fixed_t dummy = sv_sim_balance(w->sim, 4);
    assert_int_equal(dummy, 0);
    world_free(w);
}

static void test_fill_limited_by_funds(void **state)
{
    (void)state;
    world_t *w = world_default();
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("1005")), SV_OK);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "100");
    market(w, 1, BUY, "10"); /* holds 1001 at the last price */
    ack_is(w, 0, 1, 1);
    /* the market gaps up: the account pays for what it can and the rest expires */
    bar(w, T0 + 120 * SEC, "110", "110", "110", "110", "100");
    fill_is(w, 1, 1, SV_OS_PARTIALLY_FILLED, "110", "0.399", "0.04389", SV_LIQ_TAKER);
    end_is(w, 2, 1, SV_OS_EXPIRED, "insufficient quote balance: need 1101.1, available 1005");
    balance_is(w, USDT, "961.06611");
    balance_is(w, BTC, "10.399");
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    /* a FOK fills whole or not at all */
    send(w, 2, BUY, SV_ORDER_MARKET, FOK, 0, "8", NULL, NULL); /* holds 880.88 */
    assert_int_equal(sv_sim_set_balance(w->sim, USDT, X("900")), SV_OK);
    bar(w, T0 + 180 * SEC, "115", "115", "115", "115", "100");
    end_is(w, 4, 2, SV_OS_EXPIRED, "insufficient quote balance: need 920.92, available 900");
    balance_is(w, USDT, "900");
    count_is(w, 5);
    world_free(w);
}

/* ---- reentrancy ---- */

static void hook_cancel_and_submit(world_t *w, const sv_exec_report_t *r)
{
    if (r->client_id == 1 && r->status == SV_OS_FILLED) {
        assert_int_equal(cancel(w, 2), SV_OK);
        market(w, 100, BUY, "1");
    }
}

static void hook_cancel_on_ack(world_t *w, const sv_exec_report_t *r)
{
    if (r->status == SV_OS_ACKNOWLEDGED)
        assert_int_equal(cancel(w, r->client_id), SV_OK);
}

static void test_reentrant_sink(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    market(w, 1, BUY, "1");
    limit(w, 2, BUY, "1", "101"); /* would fill on the same bar */
    w->hook = hook_cancel_and_submit;
    bar(w, T0 + 120 * SEC, "100.5", "101", "100", "100.5", "10");
    count_is(w, 5);
    fill_is(w, 2, 1, SV_OS_FILLED, "100.5", "1", "0.1005", SV_LIQ_TAKER);
    end_is(w, 3, 2, SV_OS_CANCELED, "canceled"); /* its pending fill is dropped */
    ack_is(w, 4, 100, 3);                        /* matches from the next event on */
    w->hook = NULL;
    bar(w, T0 + 180 * SEC, "100.6", "101", "100", "100.5", "10");
    fill_is(w, 5, 100, SV_OS_FILLED, "100.6", "1", "0.1006", SV_LIQ_TAKER);
    count_is(w, 6);
    /* a cancel from inside submit's acknowledgement */
    w->hook = hook_cancel_on_ack;
    limit(w, 3, BUY, "1", "90");
    w->hook = NULL;
    count_is(w, 8);
    ack_is(w, 6, 3, 4);
    end_is(w, 7, 3, SV_OS_CANCELED, "canceled");
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    balance_is(w, BTC, "12");
    world_free(w);
}

/* ---- many orders: slot reuse and the client id table ---- */

static void test_many_orders(void **state)
{
    (void)state;
    sv_sim_options_t o = defaults();
    o.max_orders = 512;
    world_t *w = world_new(&o);
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    for (uint64_t i = 1; i <= 512; i++)
        limit(w, i * 7919, BUY, "0.2", "60"); /* 12.012 held each */
    assert_int_equal(send_on(w, SYM, 1, BUY, SV_ORDER_LIMIT, GTC, 0, "0.2", "60", NULL), SV_E_FULL);
    assert_int_equal(sv_sim_open_orders(w->sim), 512);
    /* cancel every third in a scattered order, then every id must still be found or not */
    uint32_t canceled = 0;
    for (uint64_t k = 0; k < 512; k++) {
        uint64_t i = (k * 389) % 512 + 1;
        if (i % 3 == 0) {
            assert_int_equal(cancel(w, i * 7919), SV_OK);
            canceled++;
        }
    }
    assert_int_equal(sv_sim_open_orders(w->sim), 512 - canceled);
    for (uint64_t i = 1; i <= 512; i++)
        assert_int_equal(cancel(w, i * 7919) == SV_E_NOTFOUND, i % 3 == 0);
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    assert_int_equal(sv_sim_set_balance(w->sim, BTC, X("100")), SV_OK);
    for (uint64_t i = 1; i <= 512; i++)
        limit(w, 1000000 + i, SELL, "0.05", "200");
    bar(w, T0 + 120 * SEC, "199", "201", "199", "200", "1000");
    assert_int_equal(sv_sim_open_orders(w->sim), 0);
    count_is(w, 512 + 512 + 512 + 512);
    const sv_exec_report_t *last = rep(w, w->n - 1);
    assert_int_equal(last->client_id, 1000512);
    assert_int_equal(last->trade_id, 512);
    assert_int_equal(last->exchange_id, 1024);
    balance_is(w, BTC, "74.4");
    balance_is(w, USDT, "105118.976"); /* 512 x (10 - 0.002) */
    world_free(w);
}

/* Events on other symbols, and of other kinds, leave the orders alone. */
static void test_other_events_ignored(void **state)
{
    (void)state;
    world_t *w = world_default();
    bar(w, T0 + 60 * SEC, "100", "100", "100", "100", "10");
    limit(w, 1, BUY, "1", "99");
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TRADE;
    ev.h.symbol = 5;
    ev.u.trade.price = X("1");
    ev.u.trade.qty = X("100");
    feed(w, &ev, T0 + 61 * SEC);
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TIMER;
    feed(w, &ev, T0 + 62 * SEC);
    ev.h.kind = SV_EV_TRADE;
    ev.h.symbol = 90000;
    ev.u.trade.price = X("1");
    ev.u.trade.qty = X("100");
    feed(w, &ev, T0 + 63 * SEC);
    count_is(w, 1);
    assert_int_equal(sv_sim_open_orders(w->sim), 1);
    trade(w, T0 + 64 * SEC, "98", "1"); /* its first own event: still marketable on arrival */
    fill_is(w, 1, 1, SV_OS_FILLED, "98", "1", "0.098", SV_LIQ_TAKER);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_market_fills_at_next_bar_open),
        cmocka_unit_test(test_market_slippage),
        cmocka_unit_test(test_market_without_price_rejected),
        cmocka_unit_test(test_limit_on_bars),
        cmocka_unit_test(test_limit_on_trades),
        cmocka_unit_test(test_limit_queue_position),
        cmocka_unit_test(test_limit_queue_improving_bid),
        cmocka_unit_test(test_stop_market_on_bars),
        cmocka_unit_test(test_stop_market_on_trades_and_quotes),
        cmocka_unit_test(test_stop_limit_on_bars),
        cmocka_unit_test(test_stop_limit_on_trades),
        cmocka_unit_test(test_intra_bar_path_order),
        cmocka_unit_test(test_ioc),
        cmocka_unit_test(test_fok),
        cmocka_unit_test(test_post_only),
        cmocka_unit_test(test_participation_across_bars),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_reject_reasons),
        cmocka_unit_test(test_sync_errors_and_options),
        cmocka_unit_test(test_cancel_releases_lock),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_replace_with_latency),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_balances_and_sides),
        cmocka_unit_test(test_fill_limited_by_funds),
        cmocka_unit_test(test_reentrant_sink),
        cmocka_unit_test(test_many_orders),
        cmocka_unit_test(test_other_events_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
