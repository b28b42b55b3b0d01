/* test_oms: engine/oms.h against a fake venue that records every call and can be told to fail
 * or to answer inside the call (as the sim does without latency). Checked exactly: the whole
 * transition table, client ids, the ORDER and FILL events published and their order, order
 * states, filled quantity and average price, reasons, the stats counters, idempotent and
 * out-of-order reports, cancels and their races, replaces, and the fixed ring's capacity. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "oms.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

enum { BTC = 1, ETH = 2 };   /* symbol ids */
enum { S1 = 1, S2 = 2 };     /* strategy ids */
enum { MAX_EVENTS = 1024, MAX_CALLS = 64, NOW = 5000 };

static sv_fixed_t fx(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad literal %s", s);
    return v;
}

/* ---- the fake venue ---- */

enum { CALL_SUBMIT = 1, CALL_CANCEL, CALL_REPLACE };

typedef struct call {
    int kind;
    uint64_t id;
    uint32_t symbol;
    sv_fixed_t price, qty;
    int status_seen; /* the order's status in the OMS during the call */
    sv_order_t order; /* submit: the order as handed over */
} call_t;

typedef struct world world_t;

typedef struct venue {
    int submit_rc, cancel_rc, replace_rc; /* what the calls return */
    int answer_submit;  /* status reported inside submit (0: none) */
    int answer_cancel;  /* status reported inside cancel (0: none) */
    int answer_replace; /* status reported inside replace (0: none), with the new price/qty */
    call_t calls[MAX_CALLS];
    int n_calls;
} venue_t;

struct world {
    sv_bus_t *bus;
    sv_clock_t *clock;
    sv_intern_t *texts;
    sv_log_t log;
    sv_oms_t *oms;
    sv_exchange_t ex;
    sv_exec_sink_t sink;
    venue_t v;
    sv_event_t evs[MAX_EVENTS];
    int n; /* events published (only the first MAX_EVENTS are kept) */
    uint64_t next_signal;
};

static const sv_order_t *current(world_t *w, uint64_t id)
{
    const sv_order_t *o = sv_oms_order(w->oms, id);
    assert_non_null(o);
    return o;
}

static call_t *record(world_t *w, int kind, uint64_t id, uint32_t symbol, sv_fixed_t price,
                      sv_fixed_t qty)
{
    assert_true(w->v.n_calls < MAX_CALLS);
    call_t *c = &w->v.calls[w->v.n_calls++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->id = id;
    c->symbol = symbol;
    c->price = price;
    c->qty = qty;
    c->status_seen = current(w, id)->status;
    return c;
}

static void answer(world_t *w, uint64_t id, int status, sv_fixed_t price, sv_fixed_t qty,
                   const char *reason)
{
    sv_exec_report_t r;
    memset(&r, 0, sizeof r);
    r.client_id = id;
    r.exchange_id = 1000 + id;
    r.status = (uint8_t)status;
    r.price = price;
    r.qty = qty;
    if (reason)
        snprintf(r.reason, sizeof r.reason, "%s", reason);
    w->sink.report(w->sink.ud, &r);
}

static int fake_submit(void *self, const sv_order_t *order, uint32_t symbol)
{
    world_t *w = self;
    call_t *c = record(w, CALL_SUBMIT, order->client_id, symbol, order->price, order->qty);
    c->order = *order;
    if (w->v.answer_submit)
        answer(w, order->client_id, w->v.answer_submit, 0, 0,
               w->v.answer_submit == SV_OS_REJECTED ? "insufficient balance" : NULL);
    return w->v.submit_rc;
}

static int fake_cancel(void *self, uint64_t id, uint32_t symbol)
{
    world_t *w = self;
    record(w, CALL_CANCEL, id, symbol, 0, 0);
    if (w->v.answer_cancel)
        answer(w, id, w->v.answer_cancel, 0, 0, "canceled");
    return w->v.cancel_rc;
}

static int fake_replace(void *self, uint64_t id, uint32_t symbol, sv_fixed_t price, sv_fixed_t qty)
{
    world_t *w = self;
    record(w, CALL_REPLACE, id, symbol, price, qty);
    if (w->v.answer_replace)
        answer(w, id, w->v.answer_replace, price, qty, NULL);
    return w->v.replace_rc;
}

static void on_event(void *ud, const sv_event_t *ev)
{
    world_t *w = ud;
    if (w->n < MAX_EVENTS)
        w->evs[w->n] = *ev;
    w->n++;
}

static world_t *world_new(uint32_t max_orders)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->bus = sv_bus_new(64, 8, NULL, NULL);
    w->clock = sv_clock_new(1, 8);
    w->texts = sv_intern_new(256, 16384);
    assert_non_null(w->bus);
    assert_non_null(w->clock);
    assert_non_null(w->texts);
    sv_clock_set(w->clock, NOW);
    sv_log_init(&w->log, NULL, SV_LOG_OFF);
    w->oms = sv_oms_new(w->bus, w->clock, w->texts, &w->log, max_orders);
    assert_non_null(w->oms);
    assert_true(sv_bus_subscribe(w->bus, SV_BUS_MASK(SV_EV_ORDER) | SV_BUS_MASK(SV_EV_FILL),
                                 on_event, w) > 0);
    w->ex = (sv_exchange_t){"fake", w, fake_submit, fake_cancel, fake_replace};
    w->sink = sv_oms_set_exchange(w->oms, &w->ex);
    assert_non_null(w->sink.report);
    return w;
}

static int setup(void **state)
{
    *state = world_new(64);
    return 0;
}

static int setup_small(void **state)
{
    *state = world_new(4);
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    sv_oms_free(w->oms);
    sv_intern_free(w->texts);
    sv_clock_free(w->clock);
    sv_bus_free(w->bus);
    free(w);
    return 0;
}

/* ---- signals and reports ---- */

static sv_event_t signal_of(world_t *w, uint32_t symbol, uint32_t strategy, int side, const char *qty,
                            const char *price)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_SIGNAL;
    e.h.symbol = symbol;
    e.u.signal.signal_id = 500 + ++w->next_signal;
    e.u.signal.qty = fx(qty);
    e.u.signal.price = fx(price);
    e.u.signal.strategy = strategy;
    e.u.signal.side = (int8_t)side;
    e.u.signal.type = SV_ORDER_LIMIT;
    e.u.signal.tif = SV_TIF_GTC;
    return e;
}

static int64_t submit(world_t *w, uint32_t symbol, uint32_t strategy, int side, const char *qty,
                      const char *price)
{
    sv_event_t e = signal_of(w, symbol, strategy, side, qty, price);
    return sv_oms_submit(w->oms, &e);
}

static int64_t amend(world_t *w, uint32_t strategy, uint64_t id, const char *qty, const char *price)
{
    sv_event_t e = signal_of(w, sv_oms_order_symbol(w->oms, id), strategy, SV_SIDE_BUY, qty, price);
    e.u.signal.replace_id = id;
    return sv_oms_submit(w->oms, &e);
}

static sv_exec_report_t status_report(uint64_t id, int status, const char *reason)
{
    sv_exec_report_t r;
    memset(&r, 0, sizeof r);
    r.client_id = id;
    r.exchange_id = 1000 + id;
    r.status = (uint8_t)status;
    r.ts = 7000;
    if (reason)
        snprintf(r.reason, sizeof r.reason, "%s", reason);
    return r;
}

static void report(world_t *w, uint64_t id, int status, const char *reason)
{
    sv_exec_report_t r = status_report(id, status, reason);
    w->sink.report(w->sink.ud, &r);
}

static void fill(world_t *w, uint64_t id, uint64_t trade_id, const char *qty, const char *price)
{
    sv_exec_report_t r = status_report(id, SV_OS_PARTIALLY_FILLED, NULL);
    r.trade_id = trade_id;
    r.last_qty = fx(qty);
    r.last_price = fx(price);
    r.fee = fx("0.01");
    r.fee_asset = 77;
    r.liquidity = SV_LIQ_MAKER;
    w->sink.report(w->sink.ud, &r);
}

/* ---- assertions ---- */

static const char *reason_of(world_t *w, const sv_order_t *o) { return sv_intern_name(w->texts, o->reason); }

static void check_events(world_t *w, int n, int line)
{
    if (w->n != n)
        fail_msg("line %d: %d events published, want %d", line, w->n, n);
}
#define EVENTS(n) check_events(w, (n), __LINE__)

static const sv_order_t *check_order_event(world_t *w, int i, uint64_t id, int status, int line)
{
    if (i >= w->n)
        fail_msg("line %d: event %d missing (%d published)", line, i, w->n);
    const sv_event_t *e = &w->evs[i];
    if (e->h.kind != SV_EV_ORDER || e->u.order.client_id != id || e->u.order.status != status)
        fail_msg("line %d: event %d is kind %u order %llu %s, want ORDER %llu %s", line, i, e->h.kind,
                 (unsigned long long)e->u.order.client_id, sv_oms_status_name(e->u.order.status),
                 (unsigned long long)id, sv_oms_status_name(status));
    return &e->u.order;
}
/* ORDER_EV(i, id, status): event i is an ORDER event for that order in that status. */
#define ORDER_EV(i, id, st) check_order_event(w, (i), (id), (st), __LINE__)

static const sv_fill_t *check_fill_event(world_t *w, int i, uint64_t id, uint64_t trade_id, int line)
{
    if (i >= w->n)
        fail_msg("line %d: event %d missing (%d published)", line, i, w->n);
    const sv_event_t *e = &w->evs[i];
    if (e->h.kind != SV_EV_FILL || e->u.fill.client_id != id || e->u.fill.trade_id != trade_id)
        fail_msg("line %d: event %d is kind %u, want FILL of order %llu trade %llu", line, i,
                 e->h.kind, (unsigned long long)id, (unsigned long long)trade_id);
    return &e->u.fill;
}
#define FILL_EV(i, id, trade) check_fill_event(w, (i), (id), (trade), __LINE__)

/* STATE(id, status, "filled", "avg"): the order as the OMS holds it now. */
#define STATE(id, st, filled, avg)                                                              \
    do {                                                                                        \
        const sv_order_t *o_ = current(w, (id));                                                \
        assert_string_equal(sv_oms_status_name(o_->status), sv_oms_status_name(st));            \
        assert_int_equal(o_->filled_qty, fx(filled));                                           \
        assert_int_equal(o_->avg_price, fx(avg));                                               \
    } while (0)

static void check_stats(world_t *w, uint64_t orders, uint64_t fills, uint64_t rejects, uint64_t cancels,
                        uint64_t dups, uint64_t stale, uint64_t over, int line)
{
    sv_oms_stats_t s;
    sv_oms_stats(w->oms, &s);
    if (s.orders != orders || s.fills != fills || s.rejects != rejects || s.cancels != cancels ||
        s.duplicate_fills != dups || s.stale_reports != stale || s.overfills != over)
        fail_msg("line %d: stats orders %llu fills %llu rejects %llu cancels %llu dup %llu stale %llu "
                 "over %llu, want %llu %llu %llu %llu %llu %llu %llu",
                 line, (unsigned long long)s.orders, (unsigned long long)s.fills,
                 (unsigned long long)s.rejects, (unsigned long long)s.cancels,
                 (unsigned long long)s.duplicate_fills, (unsigned long long)s.stale_reports,
                 (unsigned long long)s.overfills, (unsigned long long)orders,
                 (unsigned long long)fills, (unsigned long long)rejects, (unsigned long long)cancels,
                 (unsigned long long)dups, (unsigned long long)stale, (unsigned long long)over);
}
/* STATS(orders, fills, rejects, cancels, duplicate_fills, stale_reports, overfills) */
#define STATS(o, f, r, c, d, s, v) check_stats(w, (o), (f), (r), (c), (d), (s), (v), __LINE__)

/* An acknowledged BTC buy of qty at price for S1; the events list starts empty after it. */
static uint64_t acked(world_t *w, const char *qty, const char *price)
{
    int64_t id = submit(w, BTC, S1, SV_SIDE_BUY, qty, price);
    assert_true(id > 0);
    report(w, (uint64_t)id, SV_OS_ACKNOWLEDGED, NULL);
    assert_int_equal(current(w, (uint64_t)id)->status, SV_OS_ACKNOWLEDGED);
    w->n = 0;
    w->v.n_calls = 0;
    return (uint64_t)id;
}

/* ---- the state machine ---- */

static void test_transition_table(void **state)
{
    (void)state;
    enum { N = 10 };
    /* to:                 NEW PEND ACK PF FILL CANC REJ EXP PCAN PREP */
    static const int want[N][N] = {
        /* NEW */         {0,  1,   0,  0, 0,   0,   1,  0,  0,   0},
        /* PENDING */     {0,  0,   1,  1, 1,   1,   1,  1,  1,   1},
        /* ACKNOWLEDGED */{0,  0,   0,  1, 1,   1,   0,  1,  1,   1},
        /* PART_FILLED */ {0,  0,   0,  1, 1,   1,   0,  1,  1,   1},
        /* FILLED */      {0,  0,   0,  0, 0,   0,   0,  0,  0,   0},
        /* CANCELED */    {0,  0,   0,  0, 0,   0,   0,  0,  0,   0},
        /* REJECTED */    {0,  0,   0,  0, 0,   0,   0,  0,  0,   0},
        /* EXPIRED */     {0,  0,   0,  0, 0,   0,   0,  0,  0,   0},
        /* PEND_CANCEL */ {0,  0,   1,  1, 1,   1,   1,  1,  0,   0},
        /* PEND_REPLACE */{0,  0,   1,  1, 1,   1,   1,  1,  1,   0},
    };
    int wrong = 0;
    for (int from = 0; from < N; from++)
        for (int to = 0; to < N; to++)
            if (sv_oms_transition_legal(from, to) != want[from][to]) {
                print_error("%s -> %s: legal = %d, want %d\n", sv_oms_status_name(from),
                            sv_oms_status_name(to), sv_oms_transition_legal(from, to), want[from][to]);
                wrong++;
            }
    assert_int_equal(wrong, 0);
    /* outside the enum: never legal */
    const int bad[] = {-1, 10, 11, 255, -128};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int s = 0; s < N; s++) {
            assert_int_equal(sv_oms_transition_legal(bad[i], s), 0);
            assert_int_equal(sv_oms_transition_legal(s, bad[i]), 0);
        }
}

static void test_terminal_and_names(void **state)
{
    (void)state;
    static const struct {
        int status;
        int terminal;
        const char *name;
    } want[] = {
        {SV_OS_NEW, 0, "new"},
        {SV_OS_PENDING, 0, "pending"},
        {SV_OS_ACKNOWLEDGED, 0, "acknowledged"},
        {SV_OS_PARTIALLY_FILLED, 0, "partially_filled"},
        {SV_OS_FILLED, 1, "filled"},
        {SV_OS_CANCELED, 1, "canceled"},
        {SV_OS_REJECTED, 1, "rejected"},
        {SV_OS_EXPIRED, 1, "expired"},
        {SV_OS_PENDING_CANCEL, 0, "pending_cancel"},
        {SV_OS_PENDING_REPLACE, 0, "pending_replace"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(want[i].status, (int)i);
        assert_int_equal(sv_oms_terminal(want[i].status), want[i].terminal);
        assert_string_equal(sv_oms_status_name(want[i].status), want[i].name);
    }
    assert_int_equal(sv_oms_terminal(-1), 0);
    assert_int_equal(sv_oms_terminal(10), 0);
    assert_string_equal(sv_oms_status_name(-1), "?");
    assert_string_equal(sv_oms_status_name(10), "?");
    assert_string_equal(sv_oms_status_name(1000), "?");
}

/* ---- submit ---- */

static void test_submit_assigns_ids_and_publishes_pending_then_ack(void **state)
{
    world_t *w = *state;
    sv_event_t s = signal_of(w, ETH, S2, SV_SIDE_SELL, "1.5", "2000.25");
    s.u.signal.stop_price = fx("1999");
    s.u.signal.type = SV_ORDER_STOP_LIMIT;
    s.u.signal.tif = SV_TIF_IOC;
    s.u.signal.order_flags = SV_ORDER_FLAG_REDUCE_ONLY;
    assert_int_equal(sv_oms_submit(w->oms, &s), 1);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "0.1", "100"), 2);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "0.2", "101"), 3);

    /* the venue saw each order once, as PENDING, with everything the signal asked for */
    assert_int_equal(w->v.n_calls, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w->v.calls[i].kind, CALL_SUBMIT);
        assert_int_equal(w->v.calls[i].id, (uint64_t)i + 1);
        assert_int_equal(w->v.calls[i].status_seen, SV_OS_PENDING);
    }
    const sv_order_t *sent = &w->v.calls[0].order;
    assert_int_equal(w->v.calls[0].symbol, ETH);
    assert_int_equal(sent->client_id, 1);
    assert_int_equal(sent->status, SV_OS_PENDING);
    assert_int_equal(sent->qty, fx("1.5"));
    assert_int_equal(sent->price, fx("2000.25"));
    assert_int_equal(sent->stop_price, fx("1999"));
    assert_int_equal(sent->strategy, S2);
    assert_int_equal(sent->signal_id, 501);
    assert_int_equal(sent->side, SV_SIDE_SELL);
    assert_int_equal(sent->type, SV_ORDER_STOP_LIMIT);
    assert_int_equal(sent->tif, SV_TIF_IOC);
    assert_int_equal(sent->order_flags, SV_ORDER_FLAG_REDUCE_ONLY);
    assert_int_equal(sent->filled_qty, 0);
    assert_int_equal(sent->exchange_id, 0);
    assert_int_equal(w->v.calls[1].symbol, BTC);
    assert_int_equal(sv_oms_order_symbol(w->oms, 1), ETH);
    assert_int_equal(sv_oms_order_symbol(w->oms, 2), BTC);
    assert_int_equal(sv_oms_order_symbol(w->oms, 4), 0);
    assert_null(sv_oms_order(w->oms, 4));
    assert_null(sv_oms_order(w->oms, 0));

    /* the venue answers later: only PENDING so far */
    EVENTS(3);
    const sv_order_t *o = ORDER_EV(0, 1, SV_OS_PENDING);
    assert_int_equal(w->evs[0].h.symbol, ETH);
    assert_int_equal(w->evs[0].h.ts_exchange, NOW);
    assert_int_equal(o->strategy, S2);
    assert_int_equal(o->qty, fx("1.5"));
    ORDER_EV(1, 2, SV_OS_PENDING);
    ORDER_EV(2, 3, SV_OS_PENDING);

    report(w, 1, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(4);
    o = ORDER_EV(3, 1, SV_OS_ACKNOWLEDGED);
    assert_int_equal(o->exchange_id, 1001);
    assert_int_equal(o->strategy, S2);
    assert_int_equal(o->side, SV_SIDE_SELL);
    assert_int_equal(w->evs[3].h.symbol, ETH);
    assert_int_equal(w->evs[3].h.ts_exchange, 7000); /* the venue's time */
    assert_int_equal(w->evs[3].h.ts_receive, NOW);
    assert_int_equal(current(w, 1)->exchange_id, 1001);
    STATE(1, SV_OS_ACKNOWLEDGED, "0", "0");
    STATE(2, SV_OS_PENDING, "0", "0");
    /* a repeated ACK moves nothing */
    report(w, 1, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(4);
    STATS(3, 0, 0, 0, 0, 1, 0);
}

static void test_submit_with_the_venue_answering_inside_the_call(void **state)
{
    world_t *w = *state;
    w->v.answer_submit = SV_OS_ACKNOWLEDGED;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    EVENTS(2);
    ORDER_EV(0, 1, SV_OS_PENDING);
    ORDER_EV(1, 1, SV_OS_ACKNOWLEDGED);
    STATE(1, SV_OS_ACKNOWLEDGED, "0", "0");

    /* a reject inside submit: the venue's reason, one REJECTED */
    w->v.answer_submit = SV_OS_REJECTED;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 2);
    EVENTS(4);
    ORDER_EV(2, 2, SV_OS_PENDING);
    const sv_order_t *o = ORDER_EV(3, 2, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "insufficient balance");
    STATS(2, 0, 1, 0, 0, 0, 0);
}

static void test_submit_refused_by_the_venue(void **state)
{
    world_t *w = *state;
    w->v.submit_rc = SV_E_IO;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    assert_int_equal(w->v.n_calls, 1);
    EVENTS(2);
    ORDER_EV(0, 1, SV_OS_PENDING);
    const sv_order_t *o = ORDER_EV(1, 1, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "exchange fake refused the request: i/o error");
    assert_string_equal(reason_of(w, current(w, 1)), "exchange fake refused the request: i/o error");
    STATE(1, SV_OS_REJECTED, "0", "0");
    STATS(1, 0, 1, 0, 0, 0, 0);
    /* the next order still gets the next id */
    w->v.submit_rc = 0;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 2);
    STATE(2, SV_OS_PENDING, "0", "0");
}

static void test_submit_without_a_venue(void **state)
{
    world_t *w = *state;
    sv_oms_set_exchange(w->oms, NULL);
    assert_int_equal(submit(w, ETH, S2, SV_SIDE_SELL, "1", "100"), 1);
    assert_int_equal(w->v.n_calls, 0);
    EVENTS(1);
    const sv_order_t *o = ORDER_EV(0, 1, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "no exchange connected");
    assert_int_equal(o->strategy, S2);
    assert_int_equal(w->evs[0].h.symbol, ETH);
    STATE(1, SV_OS_REJECTED, "0", "0");
    STATS(1, 0, 1, 0, 0, 0, 0);
    /* nor can anything be canceled */
    assert_int_equal(sv_oms_cancel(w->oms, 0, 1), SV_E_STATE);
}

static void test_reject_by_risk(void **state)
{
    world_t *w = *state;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    w->n = 0;
    sv_event_t s = signal_of(w, ETH, S2, SV_SIDE_SELL, "3", "50");
    assert_int_equal(sv_oms_reject(w->oms, &s, "max_order_qty: 3 > 2"), 2);
    assert_int_equal(w->v.n_calls, 1); /* only the first order reached the venue */
    EVENTS(1);
    const sv_order_t *o = ORDER_EV(0, 2, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "max_order_qty: 3 > 2");
    assert_int_equal(o->strategy, S2);
    assert_int_equal(o->side, SV_SIDE_SELL);
    assert_int_equal(o->qty, fx("3"));
    assert_int_equal(o->signal_id, 502);
    assert_int_equal(w->evs[0].h.symbol, ETH);
    STATE(2, SV_OS_REJECTED, "0", "0");
    assert_int_equal(sv_oms_order_symbol(w->oms, 2), ETH);
    STATS(2, 0, 1, 0, 0, 0, 0);
    /* a report about it changes nothing */
    report(w, 2, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(1);
    STATS(2, 0, 1, 0, 0, 1, 0);
}

/* ---- fills ---- */

static void test_partial_then_full_fill(void **state)
{
    world_t *w = *state;
    int64_t id = submit(w, ETH, S2, SV_SIDE_SELL, "3", "100");
    assert_int_equal(id, 1);
    report(w, 1, SV_OS_ACKNOWLEDGED, NULL);
    w->n = 0;

    sv_exec_report_t r = status_report(1, SV_OS_PARTIALLY_FILLED, NULL);
    r.trade_id = 11;
    r.last_qty = fx("1");
    r.last_price = fx("100");
    r.fee = fx("0.05");
    r.fee_asset = 9;
    r.liquidity = SV_LIQ_MAKER;
    r.ts = 8000;
    sv_oms_on_report(w->oms, &r);
    EVENTS(2);
    const sv_fill_t *f = FILL_EV(0, 1, 11);
    assert_int_equal(f->price, fx("100"));
    assert_int_equal(f->qty, fx("1"));
    assert_int_equal(f->fee, fx("0.05"));
    assert_int_equal(f->fee_asset, 9);
    assert_int_equal(f->strategy, S2);
    assert_int_equal(f->side, SV_SIDE_SELL);
    assert_int_equal(f->liquidity, SV_LIQ_MAKER);
    assert_int_equal(w->evs[0].h.symbol, ETH);
    assert_int_equal(w->evs[0].h.ts_exchange, 8000);
    const sv_order_t *o = ORDER_EV(1, 1, SV_OS_PARTIALLY_FILLED);
    assert_int_equal(o->filled_qty, fx("1"));
    assert_int_equal(o->avg_price, fx("100"));
    assert_int_equal(w->evs[1].h.ts_exchange, 8000);
    STATE(1, SV_OS_PARTIALLY_FILLED, "1", "100");

    r.trade_id = 12;
    r.last_qty = fx("2");
    r.last_price = fx("101");
    r.fee = fx("0.1");
    r.liquidity = SV_LIQ_TAKER;
    r.status = SV_OS_FILLED;
    sv_oms_on_report(w->oms, &r);
    EVENTS(4);
    f = FILL_EV(2, 1, 12);
    assert_int_equal(f->price, fx("101"));
    assert_int_equal(f->qty, fx("2"));
    assert_int_equal(f->fee, fx("0.1"));
    assert_int_equal(f->liquidity, SV_LIQ_TAKER);
    assert_int_equal(f->side, SV_SIDE_SELL);
    o = ORDER_EV(3, 1, SV_OS_FILLED);
    /* (1 * 100 + 2 * 101) / 3 = 100.666..., rounded half away from zero */
    assert_int_equal(o->avg_price, 10066666667);
    assert_int_equal(o->filled_qty, fx("3"));
    STATE(1, SV_OS_FILLED, "3", "100.66666667");
    STATS(1, 2, 0, 0, 0, 0, 0);
}

static void test_repeated_trade_id_counts_once(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    fill(w, id, 42, "0.4", "100");
    EVENTS(2);
    fill(w, id, 42, "0.4", "100");
    fill(w, id, 42, "0.6", "100"); /* the same trade id, whatever it says */
    EVENTS(2);
    STATE(id, SV_OS_PARTIALLY_FILLED, "0.4", "100");
    STATS(1, 1, 0, 0, 2, 0, 0);
    fill(w, id, 43, "0.6", "110");
    EVENTS(4);
    STATE(id, SV_OS_FILLED, "1", "106");
    STATS(1, 2, 0, 0, 2, 0, 0);
}

static void test_overfill_is_refused(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    fill(w, id, 1, "1.00000001", "100");
    EVENTS(0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    STATS(1, 0, 0, 0, 0, 0, 1);
    fill(w, id, 2, "0.6", "100");
    fill(w, id, 3, "0.5", "100"); /* 0.6 + 0.5 > 1 */
    EVENTS(2);
    STATE(id, SV_OS_PARTIALLY_FILLED, "0.6", "100");
    STATS(1, 1, 0, 0, 0, 0, 2);
    fill(w, id, 4, "0.4", "100"); /* exactly the rest is fine */
    EVENTS(4);
    ORDER_EV(3, id, SV_OS_FILLED);
    STATE(id, SV_OS_FILLED, "1", "100");
    STATS(1, 2, 0, 0, 0, 0, 2);
}

static void test_fill_before_ack_and_the_late_ack(void **state)
{
    world_t *w = *state;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    w->n = 0;
    fill(w, 1, 5, "0.25", "99");
    EVENTS(2);
    FILL_EV(0, 1, 5);
    ORDER_EV(1, 1, SV_OS_PARTIALLY_FILLED);
    STATE(1, SV_OS_PARTIALLY_FILLED, "0.25", "99");
    /* the ACK that should have come first: ignored, counted, nothing published */
    report(w, 1, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(2);
    STATE(1, SV_OS_PARTIALLY_FILLED, "0.25", "99");
    STATS(1, 1, 0, 0, 0, 1, 0);

    /* filled whole before the ACK: the ACK finds it terminal */
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 2);
    w->n = 0;
    fill(w, 2, 6, "1", "98");
    EVENTS(2);
    ORDER_EV(1, 2, SV_OS_FILLED);
    report(w, 2, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(2);
    STATE(2, SV_OS_FILLED, "1", "98");
    STATS(2, 2, 0, 0, 0, 2, 0);
}

static void test_reports_after_a_terminal_state_are_ignored(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    fill(w, id, 1, "1", "100");
    EVENTS(2);
    const int late[] = {SV_OS_ACKNOWLEDGED, SV_OS_CANCELED, SV_OS_EXPIRED, SV_OS_REJECTED,
                        SV_OS_PENDING_CANCEL, SV_OS_PENDING};
    for (size_t i = 0; i < sizeof late / sizeof late[0]; i++)
        report(w, id, late[i], "late");
    fill(w, id, 2, "0.1", "100"); /* a new trade id, but the order is done */
    EVENTS(2);
    STATE(id, SV_OS_FILLED, "1", "100");
    assert_int_equal(current(w, id)->reason, 0);
    STATS(1, 1, 0, 0, 0, 7, 0);

    /* canceled and expired orders likewise */
    uint64_t c = acked(w, "1", "100");
    report(w, c, SV_OS_CANCELED, "canceled by venue");
    EVENTS(1);
    const sv_order_t *o = ORDER_EV(0, c, SV_OS_CANCELED);
    assert_string_equal(reason_of(w, o), "canceled by venue");
    fill(w, c, 3, "0.5", "100");
    report(w, c, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(1);
    STATE(c, SV_OS_CANCELED, "0", "0");
    uint64_t e = acked(w, "1", "100");
    report(w, e, SV_OS_EXPIRED, "GTD expired");
    fill(w, e, 4, "0.5", "100");
    report(w, e, SV_OS_CANCELED, NULL);
    EVENTS(1);
    STATE(e, SV_OS_EXPIRED, "0", "0");
    assert_string_equal(reason_of(w, current(w, e)), "GTD expired");
    STATS(3, 1, 0, 1, 0, 11, 0);
}

static void test_report_for_an_unknown_order(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    report(w, 99, SV_OS_ACKNOWLEDGED, NULL);
    report(w, 0, SV_OS_CANCELED, NULL);
    fill(w, 2, 1, "0.5", "100"); /* the next id, not issued yet */
    EVENTS(0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    assert_null(sv_oms_order(w->oms, 2));
    STATS(1, 0, 0, 0, 0, 3, 0);
}

static void test_status_claim_without_fill_data_moves_nothing(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    report(w, id, SV_OS_PARTIALLY_FILLED, NULL);
    report(w, id, SV_OS_FILLED, NULL);
    EVENTS(0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    STATS(1, 0, 0, 0, 0, 2, 0);
    /* a part-filled order likewise */
    fill(w, id, 1, "0.5", "100");
    w->n = 0;
    report(w, id, SV_OS_FILLED, NULL);
    EVENTS(0);
    STATE(id, SV_OS_PARTIALLY_FILLED, "0.5", "100");
    STATS(1, 1, 0, 0, 0, 3, 0);
}

static void test_bad_fill_values_are_refused(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    fill(w, id, 1, "0.5", "0");   /* no price */
    fill(w, id, 2, "0.5", "-1");  /* a negative price */
    EVENTS(0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    STATS(1, 0, 0, 0, 0, 0, 2);
}

/* The venue's trade ids are remembered past 255 fills of one order. */
static void test_many_fills_stay_idempotent(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "400", "100");
    for (uint64_t t = 1; t <= 300; t++)
        fill(w, id, t, "1", "100");
    STATE(id, SV_OS_PARTIALLY_FILLED, "300", "100");
    STATS(1, 300, 0, 0, 0, 0, 0);
    /* the latest few trade ids sent again: all known */
    for (uint64_t t = 294; t <= 300; t++)
        fill(w, id, t, "1", "100");
    STATE(id, SV_OS_PARTIALLY_FILLED, "300", "100");
    STATS(1, 300, 0, 0, 0 + 7, 0, 0);
    assert_int_equal(w->n, 600);
}

/* ---- cancel ---- */

static void test_cancel_then_canceled(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    assert_int_equal(w->v.n_calls, 1);
    assert_int_equal(w->v.calls[0].kind, CALL_CANCEL);
    assert_int_equal(w->v.calls[0].id, id);
    assert_int_equal(w->v.calls[0].symbol, BTC);
    assert_int_equal(w->v.calls[0].status_seen, SV_OS_PENDING_CANCEL);
    EVENTS(1);
    ORDER_EV(0, id, SV_OS_PENDING_CANCEL);
    STATE(id, SV_OS_PENDING_CANCEL, "0", "0");
    /* a second cancel while one is pending */
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), SV_E_STATE);
    assert_int_equal(w->v.n_calls, 1);
    report(w, id, SV_OS_CANCELED, "canceled");
    EVENTS(2);
    const sv_order_t *o = ORDER_EV(1, id, SV_OS_CANCELED);
    assert_string_equal(reason_of(w, o), "canceled");
    STATE(id, SV_OS_CANCELED, "0", "0");
    STATS(1, 0, 0, 1, 0, 0, 0);
    /* terminal now */
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), SV_E_STATE);
    assert_int_equal(sv_oms_cancel(w->oms, 0, id), SV_E_STATE);
    EVENTS(2);
    assert_int_equal(w->v.n_calls, 1);
}

static void test_cancel_answered_inside_the_call(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    w->v.answer_cancel = SV_OS_CANCELED;
    assert_int_equal(sv_oms_cancel(w->oms, 0, id), 0);
    EVENTS(2);
    ORDER_EV(0, id, SV_OS_PENDING_CANCEL);
    ORDER_EV(1, id, SV_OS_CANCELED);
    STATE(id, SV_OS_CANCELED, "0", "0");
    STATS(1, 0, 0, 1, 0, 0, 0);
}

static void test_cancel_refusals(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, 99), SV_E_NOTFOUND);
    assert_int_equal(sv_oms_cancel(w->oms, 0, 0), SV_E_NOTFOUND);
    assert_int_equal(sv_oms_cancel(w->oms, S2, id), SV_E_NOTFOUND); /* not S2's order */
    EVENTS(0);
    assert_int_equal(w->v.n_calls, 0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    /* filled, rejected and expired orders are terminal */
    uint64_t f = acked(w, "1", "100");
    fill(w, f, 1, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, f), SV_E_STATE);
    sv_event_t s = signal_of(w, BTC, S1, SV_SIDE_BUY, "1", "1");
    int64_t r = sv_oms_reject(w->oms, &s, "risk");
    assert_int_equal(sv_oms_cancel(w->oms, S1, (uint64_t)r), SV_E_STATE);
    uint64_t e = acked(w, "1", "100");
    report(w, e, SV_OS_EXPIRED, NULL);
    w->n = 0;
    assert_int_equal(sv_oms_cancel(w->oms, 0, e), SV_E_STATE);
    EVENTS(0);
    assert_int_equal(w->v.n_calls, 0);
    /* a venue without cancel */
    w->ex.cancel = NULL;
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), SV_E_UNSUPPORTED);
    EVENTS(0);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
}

/* A cancel the venue could not take leaves the order as it was, and cancelable. */
static void test_cancel_not_sent(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    w->v.cancel_rc = SV_E_IO;
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), SV_E_IO);
    EVENTS(2);
    ORDER_EV(0, id, SV_OS_PENDING_CANCEL);
    ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    /* part-filled: back to PARTIALLY_FILLED */
    fill(w, id, 1, "0.5", "100");
    w->n = 0;
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), SV_E_IO);
    EVENTS(2);
    ORDER_EV(1, id, SV_OS_PARTIALLY_FILLED);
    STATE(id, SV_OS_PARTIALLY_FILLED, "0.5", "100");
    /* and the next try goes through */
    w->v.cancel_rc = 0;
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    STATE(id, SV_OS_PENDING_CANCEL, "0.5", "100");
    assert_int_equal(w->v.n_calls, 3);
    STATS(1, 1, 0, 0, 0, 0, 0);
}

static void test_fill_racing_a_pending_cancel(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    fill(w, id, 1, "0.4", "100");
    EVENTS(3);
    ORDER_EV(0, id, SV_OS_PENDING_CANCEL);
    FILL_EV(1, id, 1);
    /* still waiting for the cancel, with the fill shown */
    const sv_order_t *o = ORDER_EV(2, id, SV_OS_PENDING_CANCEL);
    assert_int_equal(o->filled_qty, fx("0.4"));
    STATE(id, SV_OS_PENDING_CANCEL, "0.4", "100");
    report(w, id, SV_OS_CANCELED, "canceled");
    EVENTS(4);
    ORDER_EV(3, id, SV_OS_CANCELED);
    STATE(id, SV_OS_CANCELED, "0.4", "100");
    STATS(1, 1, 0, 1, 0, 0, 0);

    /* the cancel loses: filled whole, and the late CANCELED is ignored */
    uint64_t j = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, j), 0);
    fill(w, j, 2, "1", "101");
    EVENTS(3);
    ORDER_EV(2, j, SV_OS_FILLED);
    report(w, j, SV_OS_CANCELED, NULL);
    EVENTS(3);
    STATE(j, SV_OS_FILLED, "1", "101");
    STATS(2, 2, 0, 1, 0, 1, 0);
}

static void test_refused_cancel_returns_the_order(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    report(w, id, SV_OS_ACKNOWLEDGED, "cancel rejected: too late");
    EVENTS(2);
    const sv_order_t *o = ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    assert_string_equal(reason_of(w, o), "cancel rejected: too late");
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    /* part-filled while the cancel was pending: back to PARTIALLY_FILLED */
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    fill(w, id, 1, "0.3", "100");
    report(w, id, SV_OS_ACKNOWLEDGED, NULL);
    EVENTS(6);
    ORDER_EV(2, id, SV_OS_PENDING_CANCEL);
    FILL_EV(3, id, 1);
    ORDER_EV(4, id, SV_OS_PENDING_CANCEL);
    ORDER_EV(5, id, SV_OS_PARTIALLY_FILLED);
    STATE(id, SV_OS_PARTIALLY_FILLED, "0.3", "100");
    /* and it can be canceled again */
    assert_int_equal(sv_oms_cancel(w->oms, S1, id), 0);
    report(w, id, SV_OS_CANCELED, NULL);
    STATE(id, SV_OS_CANCELED, "0.3", "100");
    STATS(1, 1, 0, 1, 0, 0, 0);
}

static void test_cancel_all_and_open_orders(void **state)
{
    world_t *w = *state;
    w->v.answer_submit = SV_OS_ACKNOWLEDGED;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    assert_int_equal(submit(w, ETH, S1, SV_SIDE_BUY, "1", "100"), 2);
    assert_int_equal(submit(w, BTC, S2, SV_SIDE_BUY, "1", "100"), 3);
    assert_int_equal(submit(w, ETH, S2, SV_SIDE_BUY, "1", "100"), 4);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 5); /* filled below */
    assert_int_equal(submit(w, BTC, S2, SV_SIDE_BUY, "1", "100"), 6); /* cancel pending below */
    w->v.answer_submit = 0;
    assert_int_equal(submit(w, ETH, S2, SV_SIDE_BUY, "1", "100"), 7); /* pending, not acked */
    fill(w, 5, 1, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S2, 6), 0);

    uint64_t ids[8] = {0};
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 8), 6);
    const uint64_t all[] = {1, 2, 3, 4, 6, 7};
    for (int i = 0; i < 6; i++)
        assert_int_equal(ids[i], all[i]);
    memset(ids, 0, sizeof ids);
    assert_int_equal(sv_oms_open_orders(w->oms, S1, 0, ids, 8), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    memset(ids, 0, sizeof ids);
    assert_int_equal(sv_oms_open_orders(w->oms, S2, ETH, ids, 8), 2);
    assert_int_equal(ids[0], 4);
    assert_int_equal(ids[1], 7);
    memset(ids, 0, sizeof ids);
    assert_int_equal(sv_oms_open_orders(w->oms, 0, BTC, ids, 8), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 6);
    /* a short buffer: the total, and only max ids written */
    memset(ids, 0, sizeof ids);
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 2), 6);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 0);
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, NULL, 0), 6);
    assert_int_equal(sv_oms_open_orders(w->oms, 3, 0, ids, 8), 0);

    /* S1 everywhere: 1 and 2 (5 is filled) */
    w->v.n_calls = 0;
    w->n = 0;
    assert_int_equal(sv_oms_cancel_all(w->oms, S1, 0), 2);
    assert_int_equal(w->v.n_calls, 2);
    assert_int_equal(w->v.calls[0].id, 1);
    assert_int_equal(w->v.calls[0].symbol, BTC);
    assert_int_equal(w->v.calls[1].id, 2);
    assert_int_equal(w->v.calls[1].symbol, ETH);
    EVENTS(2);
    ORDER_EV(0, 1, SV_OS_PENDING_CANCEL);
    ORDER_EV(1, 2, SV_OS_PENDING_CANCEL);
    STATE(3, SV_OS_ACKNOWLEDGED, "0", "0");
    STATE(5, SV_OS_FILLED, "1", "100");
    /* ETH, any strategy: 4 and 7 (2 is already pending cancel) */
    w->v.n_calls = 0;
    assert_int_equal(sv_oms_cancel_all(w->oms, 0, ETH), 2);
    assert_int_equal(w->v.n_calls, 2);
    assert_int_equal(w->v.calls[0].id, 4);
    assert_int_equal(w->v.calls[1].id, 7);
    STATE(3, SV_OS_ACKNOWLEDGED, "0", "0");
    STATE(7, SV_OS_PENDING_CANCEL, "0", "0");
    /* what is left: 3 */
    w->v.n_calls = 0;
    assert_int_equal(sv_oms_cancel_all(w->oms, 0, 0), 1);
    assert_int_equal(w->v.n_calls, 1);
    assert_int_equal(w->v.calls[0].id, 3);
    assert_int_equal(sv_oms_cancel_all(w->oms, 0, 0), 0);
    /* still open until the venue confirms */
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 8), 6);
    for (uint64_t i = 1; i <= 7; i++)
        if (i != 5)
            report(w, i, SV_OS_CANCELED, NULL);
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 8), 0);
    STATS(7, 1, 0, 6, 0, 0, 0);
}

static void test_cancel_all_counts_only_cancels_sent(void **state)
{
    world_t *w = *state;
    acked(w, "1", "100");
    acked(w, "1", "100");
    w->v.cancel_rc = SV_E_IO;
    assert_int_equal(sv_oms_cancel_all(w->oms, 0, 0), 0);
    assert_int_equal(w->v.n_calls, 2);
    STATE(1, SV_OS_ACKNOWLEDGED, "0", "0");
    STATE(2, SV_OS_ACKNOWLEDGED, "0", "0");
}

/* ---- replace ---- */

static void test_replace_confirmed_later(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    assert_int_equal(amend(w, S1, id, "2", "99.5"), (int64_t)id);
    assert_int_equal(w->v.n_calls, 1);
    assert_int_equal(w->v.calls[0].kind, CALL_REPLACE);
    assert_int_equal(w->v.calls[0].id, id);
    assert_int_equal(w->v.calls[0].symbol, BTC);
    assert_int_equal(w->v.calls[0].price, fx("99.5"));
    assert_int_equal(w->v.calls[0].qty, fx("2"));
    assert_int_equal(w->v.calls[0].status_seen, SV_OS_PENDING_REPLACE);
    EVENTS(1);
    const sv_order_t *o = ORDER_EV(0, id, SV_OS_PENDING_REPLACE);
    assert_int_equal(o->qty, fx("1")); /* not in force before the venue says so */
    assert_int_equal(o->price, fx("100"));

    sv_exec_report_t r = status_report(id, SV_OS_ACKNOWLEDGED, NULL);
    r.price = fx("99.5");
    r.qty = fx("2");
    sv_oms_on_report(w->oms, &r);
    EVENTS(2);
    o = ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    assert_int_equal(o->qty, fx("2"));
    assert_int_equal(o->price, fx("99.5"));
    assert_int_equal(current(w, id)->qty, fx("2"));
    assert_int_equal(current(w, id)->price, fx("99.5"));
    /* no new order: the next id is 2 */
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 2);
    /* the new quantity is what fills count against */
    fill(w, id, 1, "2", "99.5");
    STATE(id, SV_OS_FILLED, "2", "99.5");
    STATS(2, 1, 0, 0, 0, 0, 0);
}

static void test_replace_answered_inside_the_call(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    w->v.answer_replace = SV_OS_ACKNOWLEDGED;
    assert_int_equal(amend(w, S1, id, "3", "101"), (int64_t)id);
    EVENTS(2);
    ORDER_EV(0, id, SV_OS_PENDING_REPLACE);
    const sv_order_t *o = ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    assert_int_equal(o->qty, fx("3"));
    assert_int_equal(o->price, fx("101"));
    /* a price of 0 keeps the order's price */
    assert_int_equal(amend(w, S1, id, "4", "0"), (int64_t)id);
    assert_int_equal(w->v.calls[1].price, fx("101"));
    assert_int_equal(w->v.calls[1].qty, fx("4"));
    assert_int_equal(current(w, id)->qty, fx("4"));
    assert_int_equal(current(w, id)->price, fx("101"));
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    STATS(1, 0, 0, 0, 0, 0, 0);
}

static void test_replace_of_a_part_filled_order(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "3", "100");
    fill(w, id, 1, "1", "100");
    w->n = 0;
    assert_int_equal(amend(w, S1, id, "5", "100"), (int64_t)id);
    sv_exec_report_t r = status_report(id, SV_OS_ACKNOWLEDGED, NULL);
    r.price = fx("100");
    r.qty = fx("5");
    sv_oms_on_report(w->oms, &r);
    EVENTS(2);
    ORDER_EV(0, id, SV_OS_PENDING_REPLACE);
    const sv_order_t *o = ORDER_EV(1, id, SV_OS_PARTIALLY_FILLED);
    assert_int_equal(o->qty, fx("5"));
    STATE(id, SV_OS_PARTIALLY_FILLED, "1", "100");
    fill(w, id, 2, "4", "100");
    STATE(id, SV_OS_FILLED, "5", "100");
}

/* A part fill while the replace is pending: the replace's outcome still applies. */
static void test_fill_racing_a_pending_replace(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "3", "100");
    assert_int_equal(amend(w, S1, id, "4", "99"), (int64_t)id);
    fill(w, id, 1, "1", "100");
    EVENTS(3);
    ORDER_EV(0, id, SV_OS_PENDING_REPLACE);
    FILL_EV(1, id, 1);
    const sv_order_t *o = ORDER_EV(2, id, SV_OS_PENDING_REPLACE);
    assert_int_equal(o->filled_qty, fx("1"));
    sv_exec_report_t r = status_report(id, SV_OS_ACKNOWLEDGED, NULL);
    r.price = fx("99");
    r.qty = fx("4");
    sv_oms_on_report(w->oms, &r);
    EVENTS(4);
    o = ORDER_EV(3, id, SV_OS_PARTIALLY_FILLED);
    assert_int_equal(o->qty, fx("4"));
    assert_int_equal(o->price, fx("99"));
    fill(w, id, 2, "3", "99");
    STATE(id, SV_OS_FILLED, "4", "99.25");

    /* the replace loses to a complete fill: the late ACK is ignored */
    uint64_t j = acked(w, "1", "100");
    assert_int_equal(amend(w, S1, j, "2", "99"), (int64_t)j);
    fill(w, j, 3, "1", "100");
    report(w, j, SV_OS_ACKNOWLEDGED, NULL);
    STATE(j, SV_OS_FILLED, "1", "100");
    assert_int_equal(current(w, j)->qty, fx("1"));
    STATS(2, 3, 0, 0, 0, 1, 0);
}

static void test_replace_refused_by_the_oms(void **state)
{
    world_t *w = *state;
    uint64_t filled = acked(w, "1", "100");
    fill(w, filled, 1, "1", "100");
    uint64_t part = acked(w, "2", "100");
    fill(w, part, 2, "1", "100");
    uint64_t canceling = acked(w, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, canceling), 0);
    uint64_t replacing = acked(w, "1", "100");
    assert_int_equal(amend(w, S1, replacing, "2", "100"), (int64_t)replacing);
    w->n = 0;
    w->v.n_calls = 0;

    static const struct {
        int strategy;
        int which; /* 0 filled, 1 part, 2 canceling, 3 replacing, 4 unknown 42 */
        const char *qty;
        const char *why;
    } cases[] = {
        {S1, 0, "2", "replace: order 1 is filled"},
        {S1, 4, "2", "replace: order 42 not found"},
        {S2, 1, "3", "replace: order 2 not found"}, /* another strategy's */
        {S1, 1, "1", "replace: new quantity must exceed the filled quantity"},
        {S1, 1, "0.5", "replace: new quantity must exceed the filled quantity"},
        {S1, 2, "2", "replace: order 3 is pending_cancel"},
        {S1, 3, "3", "replace: order 4 is pending_replace"},
    };
    const uint64_t target[] = {filled, part, canceling, replacing, 42};
    uint64_t next = 5;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t id = amend(w, (uint32_t)cases[i].strategy, target[cases[i].which], cases[i].qty, "100");
        assert_int_equal(id, (int64_t)next);
        const sv_order_t *o = ORDER_EV((int)i, next, SV_OS_REJECTED);
        assert_string_equal(reason_of(w, o), cases[i].why);
        assert_int_equal(o->qty, fx(cases[i].qty));
        assert_int_equal(o->strategy, (uint32_t)cases[i].strategy);
        next++;
    }
    EVENTS(7);
    assert_int_equal(w->v.n_calls, 0);
    /* the targets are unchanged */
    STATE(filled, SV_OS_FILLED, "1", "100");
    STATE(part, SV_OS_PARTIALLY_FILLED, "1", "100");
    assert_int_equal(current(w, part)->qty, fx("2"));
    STATE(canceling, SV_OS_PENDING_CANCEL, "0", "0");
    STATE(replacing, SV_OS_PENDING_REPLACE, "0", "0");
    STATS(11, 2, 7, 0, 0, 0, 0);
}

static void test_replace_refused_by_the_venue(void **state)
{
    world_t *w = *state;
    uint64_t id = acked(w, "1", "100");
    w->v.replace_rc = SV_E_STATE;
    assert_int_equal(amend(w, S1, id, "2", "101"), 2);
    assert_int_equal(w->v.n_calls, 1);
    EVENTS(3);
    ORDER_EV(0, id, SV_OS_PENDING_REPLACE);
    ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    const sv_order_t *o = ORDER_EV(2, 2, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "replace: venue refused: invalid state");
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    assert_int_equal(current(w, id)->qty, fx("1"));
    assert_int_equal(current(w, id)->price, fx("100"));
    /* the venue refuses it in a report: the old order lives on */
    w->v.replace_rc = 0;
    w->n = 0;
    assert_int_equal(amend(w, S1, id, "2", "101"), (int64_t)id);
    sv_exec_report_t r = status_report(id, SV_OS_ACKNOWLEDGED, "replace rejected: price off");
    r.price = fx("100");
    r.qty = fx("1");
    sv_oms_on_report(w->oms, &r);
    EVENTS(2);
    o = ORDER_EV(1, id, SV_OS_ACKNOWLEDGED);
    assert_string_equal(reason_of(w, o), "replace rejected: price off");
    assert_int_equal(o->qty, fx("1"));
    assert_int_equal(o->price, fx("100"));
    /* a venue without replace */
    w->ex.replace = NULL;
    w->n = 0;
    assert_int_equal(amend(w, S1, id, "2", "101"), 3);
    EVENTS(1);
    o = ORDER_EV(0, 3, SV_OS_REJECTED);
    assert_string_equal(reason_of(w, o), "replace: not supported by the venue");
    STATE(id, SV_OS_ACKNOWLEDGED, "0", "0");
    STATS(3, 0, 2, 0, 0, 0, 0);
}

/* ---- the ring ---- */

static void test_ring_capacity(void **state)
{
    world_t *w = *state; /* max_orders = 4 */
    for (int64_t i = 1; i <= 4; i++)
        assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), i);
    w->n = 0;
    w->v.n_calls = 0;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), SV_E_FULL);
    sv_event_t s = signal_of(w, BTC, S1, SV_SIDE_BUY, "1", "100");
    assert_int_equal(sv_oms_reject(w->oms, &s, "risk"), SV_E_FULL);
    assert_int_equal(amend(w, S1, 99, "1", "100"), SV_E_FULL); /* its reject record has no room */
    EVENTS(0);
    assert_int_equal(w->v.n_calls, 0);
    STATS(4, 0, 0, 0, 0, 0, 0);
    assert_null(sv_oms_order(w->oms, 5));

    report(w, 2, SV_OS_REJECTED, "no");
    report(w, 1, SV_OS_ACKNOWLEDGED, NULL);
    fill(w, 1, 1, "1", "100");
    report(w, 3, SV_OS_CANCELED, NULL);
    report(w, 4, SV_OS_EXPIRED, NULL);
    w->n = 0;
    for (int64_t i = 5; i <= 8; i++)
        assert_int_equal(submit(w, ETH, S2, SV_SIDE_SELL, "2", "50"), i);
    EVENTS(4);
    ORDER_EV(0, 5, SV_OS_PENDING);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), SV_E_FULL);
    for (uint64_t old = 1; old <= 4; old++) {
        assert_null(sv_oms_order(w->oms, old));
        assert_int_equal(sv_oms_order_symbol(w->oms, old), 0);
        assert_int_equal(sv_oms_cancel(w->oms, 0, old), SV_E_NOTFOUND);
    }
    /* the reused slots hold the new orders, fresh */
    const sv_order_t *o = current(w, 5);
    assert_int_equal(o->client_id, 5);
    assert_int_equal(o->strategy, S2);
    assert_int_equal(o->qty, fx("2"));
    assert_int_equal(o->filled_qty, 0);
    assert_int_equal(o->avg_price, 0);
    assert_int_equal(o->reason, 0);
    assert_int_equal(sv_oms_order_symbol(w->oms, 5), ETH);
    assert_int_equal(current(w, 6)->reason, 0); /* its slot held the rejected order 2 */
    /* a late report about an old id does not touch its successor */
    w->n = 0;
    fill(w, 1, 9, "1", "100");
    report(w, 3, SV_OS_CANCELED, NULL);
    EVENTS(0);
    STATE(5, SV_OS_PENDING, "0", "0");
    STATE(7, SV_OS_PENDING, "0", "0");
    /* trade ids of the old order are forgotten with it */
    report(w, 5, SV_OS_ACKNOWLEDGED, NULL);
    fill(w, 5, 1, "2", "50");
    STATE(5, SV_OS_FILLED, "2", "50");
    uint64_t ids[4];
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 4), 3);
    STATS(8, 2, 1, 1, 0, 2, 0);
}

/* A cancel or an amend sent before the venue acknowledged the order: the venue may still
 * reject the order itself, and the order must end REJECTED, not hang in a pending state. */
static void test_reject_while_cancel_or_replace_pending(void **state)
{
    world_t *w = *state;
    int64_t a = submit(w, BTC, S1, SV_SIDE_BUY, "1", "100");
    assert_int_equal(sv_oms_cancel(w->oms, S1, (uint64_t)a), 0);
    assert_int_equal(current(w, (uint64_t)a)->status, SV_OS_PENDING_CANCEL);
    report(w, (uint64_t)a, SV_OS_REJECTED, "insufficient balance");
    assert_int_equal(current(w, (uint64_t)a)->status, SV_OS_REJECTED);
    int64_t b = submit(w, BTC, S1, SV_SIDE_BUY, "1", "100");
    assert_int_equal(amend(w, S1, (uint64_t)b, "2", "101"), b);
    assert_int_equal(current(w, (uint64_t)b)->status, SV_OS_PENDING_REPLACE);
    report(w, (uint64_t)b, SV_OS_REJECTED, "tick size");
    assert_int_equal(current(w, (uint64_t)b)->status, SV_OS_REJECTED);
    uint64_t ids[4];
    assert_int_equal(sv_oms_open_orders(w->oms, 0, 0, ids, 4), 0);
}

/* A venue that confirms the amend of a part-filled order with the order's own status
 * (PARTIALLY_FILLED, no fill data), as the sim does: the amend takes effect. */
static void test_replace_confirmed_as_partially_filled(void **state)
{
    world_t *w = *state;
    int64_t id = submit(w, BTC, S1, SV_SIDE_BUY, "2", "100");
    report(w, (uint64_t)id, SV_OS_ACKNOWLEDGED, NULL);
    fill(w, (uint64_t)id, 1, "0.5", "100");
    assert_int_equal(amend(w, S1, (uint64_t)id, "3", "99"), id);
    sv_exec_report_t r = status_report((uint64_t)id, SV_OS_PARTIALLY_FILLED, NULL);
    r.qty = fx("3");
    r.price = fx("99");
    sv_oms_on_report(w->oms, &r);
    const sv_order_t *o = current(w, (uint64_t)id);
    assert_int_equal(o->status, SV_OS_PARTIALLY_FILLED);
    assert_int_equal(o->qty, fx("3"));
    assert_int_equal(o->price, fx("99"));
    assert_int_equal(o->filled_qty, fx("0.5"));
}

/* An id whose ring slot still holds a live order is skipped: one old GTC order never blocks
 * order entry, and ids stay unique and increasing. */
static void test_live_slot_is_skipped(void **state)
{
    world_t *w = *state; /* max_orders = 4 */
    for (int64_t i = 1; i <= 4; i++)
        assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), i);
    report(w, 2, SV_OS_REJECTED, "no");
    report(w, 3, SV_OS_REJECTED, "no");
    /* id 5 would reuse order 1's slot (live): skipped; 6 and 7 take the slots of 2 and 3 */
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 6);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 7);
    assert_null(sv_oms_order(w->oms, 5));
    assert_int_equal(current(w, 1)->client_id, 1);
    assert_int_equal(current(w, 1)->status, SV_OS_PENDING);
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), SV_E_FULL);
    /* cancel_all still finds the old order */
    assert_int_equal(sv_oms_cancel_all(w->oms, S1, 0), 4);
    assert_int_equal(current(w, 1)->status, SV_OS_PENDING_CANCEL);
}

/* A venue reason that fills its 96 bytes without a NUL is read within its bounds. */
static void test_reason_filling_the_field(void **state)
{
    world_t *w = *state;
    assert_int_equal(submit(w, BTC, S1, SV_SIDE_BUY, "1", "100"), 1);
    /* on the heap, ending with the struct, so the sanitizer sees any read past it */
    sv_exec_report_t *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(offsetof(sv_exec_report_t, reason) + sizeof r->reason, sizeof *r);
    *r = status_report(1, SV_OS_REJECTED, NULL);
    memset(r->reason, 'x', sizeof r->reason);
    sv_oms_on_report(w->oms, r);
    free(r);
    char want[sizeof r->reason + 1];
    memset(want, 'x', sizeof r->reason);
    want[sizeof r->reason] = '\0';
    STATE(1, SV_OS_REJECTED, "0", "0");
    assert_string_equal(reason_of(w, current(w, 1)), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_terminal_and_names),
        cmocka_unit_test_setup_teardown(test_submit_assigns_ids_and_publishes_pending_then_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_with_the_venue_answering_inside_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_refused_by_the_venue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_without_a_venue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_by_risk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_then_full_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_trade_id_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overfill_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_before_ack_and_the_late_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_after_a_terminal_state_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_for_an_unknown_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_claim_without_fill_data_moves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fill_values_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_fills_stay_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_then_canceled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_answered_inside_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_not_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_racing_a_pending_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_cancel_returns_the_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_all_and_open_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_all_counts_only_cancels_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_confirmed_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_answered_inside_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_of_a_part_filled_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_racing_a_pending_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_refused_by_the_oms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_refused_by_the_venue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_slot_is_skipped, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_reject_while_cancel_or_replace_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_confirmed_as_partially_filled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_capacity, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_reason_filling_the_field, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
