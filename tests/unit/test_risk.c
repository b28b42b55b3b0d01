/* test_risk: engine/risk.h driven directly, against a fake environment (positions, equity and a
 * clock the test sets; alerts, cancel_all and flatten calls recorded). Each pre-trade rule at
 * its boundary (exactly at the limit passes, one unit (1e-8) or one tick over is rejected, with
 * the exact reason), the order of the checks, the kill switch and its state file, every
 * post-trade monitor and its action, and the stats counters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "risk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fixed.h"
#include "log.h"

enum { BTC = 1, ETH = 2, NSYM = 8 };   /* symbol ids */
enum { S1 = 1, S2 = 2 };                /* strategy ids */
enum { MAX_ALERTS = 64, MAX_TEXTS = 128 };

#define NS 1000000000LL
#define MS 1000000LL
#define MIN (60 * NS)
#define HOUR (3600 * NS)
#define DAY (86400 * NS)

static sv_fixed_t fx(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad literal %s", s);
    return v;
}

/* UTC instant of a civil date and time, in ns */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 86400) + h * 3600 + mi * 60 + s) * NS;
}

/* ---- the fake environment ---- */

typedef struct fake {
    sv_fixed_t pos[NSYM], mark[NSYM], net[NSYM], lot[NSYM];
    sv_fixed_t equity;
    int64_t now;
    int cancel_all, flatten;
    sv_event_t alerts[MAX_ALERTS];
    int n_alerts;
    char texts[MAX_TEXTS][400];
    int n_texts;
    char last_log[512];
    int n_logs;
} fake_t;

static fake_t F;

static void f_position(void *ud, uint32_t strategy, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *mark,
                       sv_fixed_t *net)
{
    fake_t *f = ud;
    assert_int_equal(strategy, 0); /* risk looks at the account */
    assert_true(symbol < NSYM);
    *qty = f->pos[symbol];
    *mark = f->mark[symbol];
    *net = f->net[symbol];
}
static sv_fixed_t f_equity(void *ud) { return ((fake_t *)ud)->equity; }
static int f_cancel_all(void *ud) { return ++((fake_t *)ud)->cancel_all; }
static int f_flatten(void *ud) { return ++((fake_t *)ud)->flatten; }
static uint32_t f_text(void *ud, const char *s)
{
    fake_t *f = ud;
    assert_true(f->n_texts < MAX_TEXTS);
    snprintf(f->texts[f->n_texts], sizeof f->texts[0], "%s", s);
    return (uint32_t)++f->n_texts;
}
static int64_t f_now(void *ud) { return ((fake_t *)ud)->now; }
static void f_publish(void *ud, sv_event_t *ev)
{
    fake_t *f = ud;
    assert_true(f->n_alerts < MAX_ALERTS);
    f->alerts[f->n_alerts++] = *ev;
}
static void f_log(void *ud, int level, const char *msg)
{
    fake_t *f = ud;
    (void)level;
    snprintf(f->last_log, sizeof f->last_log, "%s", msg);
    f->n_logs++;
}
static const char *f_symbol_name(void *ud, uint32_t s)
{
    (void)ud;
    return s == BTC ? "BTCUSDT" : s == ETH ? "ETHUSDT" : "?";
}
static sv_fixed_t f_lot(void *ud, uint32_t s) { return ((fake_t *)ud)->lot[s]; }

static const sv_risk_env_t ENV = {.ud = &F, .position = f_position, .equity = f_equity, .cancel_all = f_cancel_all,
                                  .flatten = f_flatten, .text = f_text, .now = f_now, .publish = f_publish,
                                  .log = f_log, .symbol_name = f_symbol_name, .lot = f_lot};

static sv_risk_config_t C; /* the config of the test; each test sets it, then calls mk() */

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    memset(&C, 0, sizeof C);
    F.equity = fx("10000");
    F.now = utc(2024, 1, 8, 12, 0, 0); /* a Monday */
    return 0;
}

/* engines of the running test, freed by teardown when a failed assertion skipped done() */
static sv_risk_t *live[4];

static sv_risk_t *mk(void)
{
    sv_risk_t *r = sv_risk_new(&C, &ENV, NSYM);
    assert_non_null(r);
    for (int i = 0; i < 4; i++)
        if (!live[i]) {
            live[i] = r;
            return r;
        }
    fail_msg("more than 4 engines alive");
    return NULL;
}

static void done(sv_risk_t *r)
{
    for (int i = 0; i < 4; i++)
        if (live[i] == r)
            live[i] = NULL;
    sv_risk_free(r);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        sv_risk_free(live[i]);
        live[i] = NULL;
    }
    return 0;
}

/* the text of the last alert, checked to be a risk alert */
static const char *last_alert(void)
{
    assert_true(F.n_alerts > 0);
    const sv_event_t *ev = &F.alerts[F.n_alerts - 1];
    assert_int_equal(ev->h.kind, SV_EV_ALERT);
    assert_int_equal(ev->u.alert.code, SV_ALERT_RISK);
    assert_true(ev->u.alert.text >= 1 && (int)ev->u.alert.text <= F.n_texts);
    return F.texts[ev->u.alert.text - 1];
}

/* ---- signals and events ---- */

static sv_event_t sig_full(uint32_t symbol, uint32_t strategy, int side, const char *qty, const char *price, int type,
                           const char *stop)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_SIGNAL;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.signal.strategy = strategy;
    ev.u.signal.side = (int8_t)side;
    ev.u.signal.qty = fx(qty);
    ev.u.signal.price = price ? fx(price) : 0;
    ev.u.signal.stop_price = stop ? fx(stop) : 0;
    ev.u.signal.type = (uint8_t)type;
    return ev;
}

/* a limit order (price) or a market order (price NULL) of S1 */
static sv_event_t sig(uint32_t symbol, int side, const char *qty, const char *price)
{
    return sig_full(symbol, S1, side, qty, price, price ? SV_ORDER_LIMIT : SV_ORDER_MARKET, NULL);
}

static int check_ev(sv_risk_t *r, sv_event_t *ev, char *reason, size_t len)
{
    reason[0] = '\0';
    return sv_risk_check(r, ev, reason, len);
}

#define PASS(r, ev_) \
    do { \
        sv_event_t e_ = (ev_); \
        char why_[300]; \
        int rc_ = check_ev((r), &e_, why_, sizeof why_); \
        if (rc_ != 0) \
            fail_msg("%s:%d: expected to pass, rejected: %s", __FILE__, __LINE__, why_); \
    } while (0)

#define REJECT(r, ev_, text) \
    do { \
        sv_event_t e_ = (ev_); \
        char why_[300]; \
        int rc_ = check_ev((r), &e_, why_, sizeof why_); \
        if (rc_ != SV_E_REJECTED) \
            fail_msg("%s:%d: expected the rejection '%s', it passed", __FILE__, __LINE__, (text)); \
        if (strcmp(why_, (text)) != 0) \
            fail_msg("%s:%d: reason\n  got:      '%s'\n  expected: '%s'", __FILE__, __LINE__, why_, (text)); \
    } while (0)

/* an approved signal's quantity after the check */
static sv_fixed_t approved_qty(sv_risk_t *r, sv_event_t ev)
{
    char why[300];
    int rc = check_ev(r, &ev, why, sizeof why);
    if (rc != 0)
        fail_msg("expected to pass, rejected: %s", why);
    return ev.u.signal.qty;
}

static void on_order(sv_risk_t *r, uint32_t symbol, uint64_t id, int side, const char *qty, const char *price,
                     int status)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ORDER;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.order.client_id = id;
    ev.u.order.side = (int8_t)side;
    ev.u.order.qty = fx(qty);
    ev.u.order.price = price ? fx(price) : 0;
    ev.u.order.type = price ? SV_ORDER_LIMIT : SV_ORDER_MARKET;
    ev.u.order.status = (uint8_t)status;
    ev.u.order.strategy = S1;
    sv_risk_on_event(r, &ev);
}

static void on_trade(sv_risk_t *r, uint32_t symbol, const char *price)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TRADE;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.trade.price = fx(price);
    ev.u.trade.qty = fx("1");
    sv_risk_on_event(r, &ev);
}

static void on_quote(sv_risk_t *r, uint32_t symbol, const char *bid, const char *ask)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_QUOTE;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.quote.bid_price = fx(bid);
    ev.u.quote.ask_price = fx(ask);
    sv_risk_on_event(r, &ev);
}

static void on_bar(sv_risk_t *r, uint32_t symbol, const char *close)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_BAR;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.bar.open = ev.u.bar.high = ev.u.bar.low = ev.u.bar.close = fx(close);
    sv_risk_on_event(r, &ev);
}

/* a fill: the fake position must already be the one after it */
static void on_fill(sv_risk_t *r, uint32_t symbol, const char *fee)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_FILL;
    ev.h.symbol = symbol;
    ev.h.ts_exchange = F.now;
    ev.u.fill.fee = fx(fee);
    ev.u.fill.strategy = S1;
    sv_risk_on_event(r, &ev);
}

/* the monitors look at the equity on the next market event (monitor interval 0) */
static void equity_at(sv_risk_t *r, const char *eq)
{
    F.equity = fx(eq);
    on_bar(r, BTC, "100");
}

static int rule_id(const char *name)
{
    for (int i = 0; i < 32; i++)
        if (!strcmp(sv_risk_rule_name(i), name))
            return i;
    fail_msg("no rule %s", name);
    return -1;
}

/* ---- pre-trade rules, each at its boundary ---- */

static void test_max_order_qty(void **state)
{
    (void)state;
    C.defaults.max_order_qty = fx("1");
    sv_risk_t *r = mk();
    PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1.00000001", "100"), "max_order_qty: quantity 1.00000001 is above 1");
    REJECT(r, sig(BTC, -1, "1.00000001", "100"), "max_order_qty: quantity 1.00000001 is above 1");
    PASS(r, sig(BTC, -1, "0.00000001", NULL));
    /* a per-symbol override replaces the defaults */
    sv_risk_limits_t l = C.defaults;
    l.max_order_qty = fx("10");
    assert_int_equal(sv_risk_set_limits(r, ETH, &l), SV_OK);
    assert_int_equal(sv_risk_limits(r, ETH)->max_order_qty, fx("10"));
    assert_int_equal(sv_risk_limits(r, BTC)->max_order_qty, fx("1"));
    PASS(r, sig(ETH, 1, "10", "100"));
    REJECT(r, sig(ETH, 1, "10.00000001", "100"), "max_order_qty: quantity 10.00000001 is above 10");
    assert_int_equal(sv_risk_set_limits(r, NSYM, &l), SV_E_RANGE);
    done(r);
}

static void test_max_order_notional(void **state)
{
    (void)state;
    C.defaults.max_order_notional = fx("1000");
    sv_risk_t *r = mk();
    PASS(r, sig(BTC, 1, "10", "100"));
    REJECT(r, sig(BTC, 1, "10", "100.01"), "max_order_notional: notional 1000.1 is above 1000");
    REJECT(r, sig(BTC, 1, "10.00000001", "100"), "max_order_notional: notional 1000.000001 is above 1000");
    /* a market order is valued at the last price; without one it cannot be valued */
    REJECT(r, sig(BTC, 1, "1", NULL), "max_order_notional: no reference price yet for a market order");
    on_trade(r, BTC, "100");
    PASS(r, sig(BTC, 1, "10", NULL));
    REJECT(r, sig(BTC, -1, "10.00000001", NULL), "max_order_notional: notional 1000.000001 is above 1000");
    /* a stop market order at its stop price */
    PASS(r, sig_full(BTC, S1, 1, "5", NULL, SV_ORDER_STOP_MARKET, "200"));
    REJECT(r, sig_full(BTC, S1, 1, "5", NULL, SV_ORDER_STOP_MARKET, "200.01"),
           "max_order_notional: notional 1000.05 is above 1000");
    done(r);
}

static void test_max_position_qty(void **state)
{
    (void)state;
    C.defaults.max_position_qty = fx("2");
    sv_risk_t *r = mk();
    F.pos[BTC] = fx("1.5");
    PASS(r, sig(BTC, 1, "0.5", "100"));
    REJECT(r, sig(BTC, 1, "0.50000001", "100"), "max_position_qty: position would reach 2.00000001, above 2");
    /* open orders on the same side count (worst case: they fill too), the other side does not */
    on_order(r, BTC, 11, 1, "0.3", "90", SV_OS_ACKNOWLEDGED);
    on_order(r, BTC, 12, -1, "5", "120", SV_OS_ACKNOWLEDGED);
    PASS(r, sig(BTC, 1, "0.2", "100"));
    REJECT(r, sig(BTC, 1, "0.20000001", "100"), "max_position_qty: position would reach 2.00000001, above 2");
    /* a partial fill leaves the remaining quantity open */
    sv_event_t pf;
    memset(&pf, 0, sizeof pf);
    pf.h.kind = SV_EV_ORDER;
    pf.h.symbol = BTC;
    pf.h.ts_exchange = F.now;
    pf.u.order = (sv_order_t){.client_id = 11, .side = 1, .qty = fx("0.3"), .filled_qty = fx("0.1"), .price = fx("90"),
                              .type = SV_ORDER_LIMIT, .status = SV_OS_PARTIALLY_FILLED};
    F.pos[BTC] = fx("1.6");
    sv_risk_on_event(r, &pf);
    PASS(r, sig(BTC, 1, "0.2", "100"));
    REJECT(r, sig(BTC, 1, "0.20000001", "100"), "max_position_qty: position would reach 2.00000001, above 2");
    on_order(r, BTC, 11, 1, "0.3", "90", SV_OS_CANCELED);
    on_order(r, BTC, 12, -1, "5", "120", SV_OS_CANCELED);
    PASS(r, sig(BTC, 1, "0.4", "100"));
    /* an order that only reduces the position passes even above the limit */
    F.pos[BTC] = fx("3");
    PASS(r, sig(BTC, -1, "3", "100"));
    REJECT(r, sig(BTC, -1, "5.00000001", "100"), "max_position_qty: position would reach -2.00000001, above 2");
    PASS(r, sig(BTC, -1, "5", "100")); /* flips to exactly -2 */
    /* short side */
    F.pos[BTC] = fx("-1.5");
    PASS(r, sig(BTC, -1, "0.5", "100"));
    REJECT(r, sig(BTC, -1, "0.50000001", "100"), "max_position_qty: position would reach -2.00000001, above 2");
    PASS(r, sig(BTC, 1, "1.5", "100"));
    done(r);
}

static void test_max_position_notional(void **state)
{
    (void)state;
    C.defaults.max_position_notional = fx("200");
    sv_risk_t *r = mk();
    F.pos[BTC] = fx("1.5");
    PASS(r, sig(BTC, 1, "0.5", "100"));
    REJECT(r, sig(BTC, 1, "0.5", "100.01"), "max_position_notional: position notional would reach 200.02, above 200");
    REJECT(r, sig(BTC, 1, "0.50000001", "100"),
           "max_position_notional: position notional would reach 200.000001, above 200");
    on_order(r, BTC, 21, 1, "0.25", "99", SV_OS_PENDING);
    PASS(r, sig(BTC, 1, "0.25", "100"));
    REJECT(r, sig(BTC, 1, "0.25000001", "100"),
           "max_position_notional: position notional would reach 200.000001, above 200");
    /* reducing passes */
    F.pos[BTC] = fx("5");
    PASS(r, sig(BTC, -1, "1", "100"));
    done(r);
}

static void test_max_gross_exposure(void **state)
{
    (void)state;
    C.max_gross_exposure = fx("1000");
    sv_risk_t *r = mk();
    F.pos[BTC] = fx("2");
    F.mark[BTC] = fx("100");  /* 200 */
    F.pos[ETH] = fx("-10");
    F.mark[ETH] = fx("50");   /* 500 */
    on_order(r, ETH, 31, -1, "1", "60", SV_OS_ACKNOWLEDGED); /* 60 */
    on_trade(r, BTC, "100");
    /* 760 held: 240 more is exactly 1000 */
    PASS(r, sig(BTC, 1, "2.4", "100"));
    REJECT(r, sig(BTC, 1, "2.40000001", "100"), "max_gross_exposure: gross exposure would reach 1000.000001, above 1000");
    REJECT(r, sig(BTC, 1, "2.4", "100.01"), "max_gross_exposure: gross exposure would reach 1000.024, above 1000");
    /* a market order at the last price */
    PASS(r, sig(BTC, 1, "2.4", NULL));
    REJECT(r, sig(BTC, 1, "2.40000001", NULL), "max_gross_exposure: gross exposure would reach 1000.000001, above 1000");
    /* the open order gone, 60 more fits */
    on_order(r, ETH, 31, -1, "1", "60", SV_OS_FILLED);
    PASS(r, sig(BTC, 1, "3", "100"));
    /* reducing passes whatever the exposure */
    F.mark[ETH] = fx("500");
    PASS(r, sig(ETH, 1, "10", "500"));
    REJECT(r, sig(BTC, 1, "0.01", "100"), "max_gross_exposure: gross exposure would reach 5201, above 1000");
    done(r);
}

static void test_price_band(void **state)
{
    (void)state;
    C.defaults.price_band_bps = 100; /* 1 % */
    sv_risk_t *r = mk();
    PASS(r, sig(BTC, 1, "1", "100000")); /* no last price yet: no band */
    on_trade(r, BTC, "100");
    PASS(r, sig(BTC, 1, "1", "101"));
    REJECT(r, sig(BTC, 1, "1", "101.00000001"), "price_band: price 101.00000001 is more than 100 bps from the last price 100");
    PASS(r, sig(BTC, -1, "1", "99"));
    REJECT(r, sig(BTC, -1, "1", "98.99999999"), "price_band: price 98.99999999 is more than 100 bps from the last price 100");
    PASS(r, sig(BTC, 1, "1", NULL)); /* a market order has no price to band */
    /* the mid of a quote */
    on_quote(r, BTC, "199", "201");
    PASS(r, sig(BTC, 1, "1", "202"));
    REJECT(r, sig(BTC, 1, "1", "202.01"), "price_band: price 202.01 is more than 100 bps from the last price 200");
    PASS(r, sig(BTC, 1, "1", "198"));
    REJECT(r, sig(BTC, 1, "1", "197.99"), "price_band: price 197.99 is more than 100 bps from the last price 200");
    /* a bar's close */
    on_bar(r, BTC, "50");
    PASS(r, sig(BTC, 1, "1", "50.5"));
    REJECT(r, sig(BTC, 1, "1", "50.50000001"), "price_band: price 50.50000001 is more than 100 bps from the last price 50");
    /* a stop-limit's limit price */
    REJECT(r, sig_full(BTC, S1, 1, "1", "51", SV_ORDER_STOP_LIMIT, "50"),
           "price_band: price 51 is more than 100 bps from the last price 50");
    done(r);
}

static void test_min_max_price(void **state)
{
    (void)state;
    C.defaults.min_price = fx("10");
    C.defaults.max_price = fx("1000");
    sv_risk_t *r = mk();
    PASS(r, sig(BTC, 1, "1", "10"));
    REJECT(r, sig(BTC, 1, "1", "9.99999999"), "min_price: price 9.99999999 is below 10");
    PASS(r, sig(BTC, 1, "1", "1000"));
    REJECT(r, sig(BTC, 1, "1", "1000.00000001"), "max_price: price 1000.00000001 is above 1000");
    PASS(r, sig(BTC, 1, "1", NULL)); /* a market order without a last price: nothing to compare */
    on_trade(r, BTC, "1000.01");
    REJECT(r, sig(BTC, -1, "1", NULL), "max_price: price 1000.01 is above 1000");
    on_trade(r, BTC, "9.99");
    REJECT(r, sig(BTC, -1, "1", NULL), "min_price: price 9.99 is below 10");
    REJECT(r, sig_full(BTC, S1, -1, "1", NULL, SV_ORDER_STOP_MARKET, "9.99"), "min_price: price 9.99 is below 10");
    done(r);
}

static void test_max_open_orders(void **state)
{
    (void)state;
    C.defaults.max_open_orders = 2;
    sv_risk_t *r = mk();
    on_order(r, BTC, 1, 1, "1", "90", SV_OS_PENDING);
    PASS(r, sig(BTC, 1, "1", "91")); /* the second order: exactly at the limit */
    on_order(r, BTC, 2, 1, "1", "91", SV_OS_PENDING);
    REJECT(r, sig(BTC, 1, "1", "92"), "max_open_orders: 2 orders already open (max 2)");
    /* the count is per symbol */
    PASS(r, sig(ETH, 1, "1", "92"));
    /* an acknowledgement is the same order, not a new one */
    on_order(r, BTC, 1, 1, "1", "90", SV_OS_ACKNOWLEDGED);
    REJECT(r, sig(BTC, 1, "1", "92"), "max_open_orders: 2 orders already open (max 2)");
    /* an amend replaces an open order: it does not count twice */
    sv_event_t amend = sig(BTC, 1, "1", "89");
    amend.u.signal.replace_id = 1;
    PASS(r, amend);
    /* pending cancel is still open; canceled, filled, rejected, expired are not */
    on_order(r, BTC, 1, 1, "1", "90", SV_OS_PENDING_CANCEL);
    REJECT(r, sig(BTC, 1, "1", "92"), "max_open_orders: 2 orders already open (max 2)");
    on_order(r, BTC, 1, 1, "1", "90", SV_OS_CANCELED);
    PASS(r, sig(BTC, 1, "1", "92"));
    on_order(r, BTC, 3, 1, "1", "92", SV_OS_ACKNOWLEDGED);
    on_order(r, BTC, 2, 1, "1", "91", SV_OS_FILLED);
    PASS(r, sig(BTC, 1, "1", "92"));
    on_order(r, BTC, 4, 1, "1", "92", SV_OS_ACKNOWLEDGED);
    on_order(r, BTC, 3, 1, "1", "92", SV_OS_EXPIRED);
    on_order(r, BTC, 5, 1, "1", "92", SV_OS_REJECTED); /* never open */
    PASS(r, sig(BTC, 1, "1", "92"));
    done(r);
}

static void test_rate_limit_per_second(void **state)
{
    (void)state;
    C.rate_per_second = 5;
    sv_risk_t *r = mk();
    int64_t t0 = F.now;
    for (int i = 0; i < 5; i++)
        PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 5 orders per second");
    /* a rejected order takes no token; one token comes back every 200 ms, exactly */
    F.now = t0 + 200 * MS - 1;
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 5 orders per second");
    F.now = t0 + 200 * MS;
    PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 5 orders per second");
    /* a long pause refills the bucket, to its size and no more */
    F.now = t0 + 10 * NS;
    for (int i = 0; i < 5; i++)
        PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 5 orders per second");
    /* a rate that does not divide a second: 3 per second, a token every 333333333.3 ns */
    done(r);
    C.rate_per_second = 3;
    r = mk();
    t0 = F.now;
    for (int i = 0; i < 3; i++)
        PASS(r, sig(BTC, 1, "1", "100"));
    F.now = t0 + 333333333;
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 3 orders per second");
    F.now = t0 + 333333334;
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
}

static void test_rate_limit_per_minute(void **state)
{
    (void)state;
    C.rate_per_second = 10;
    C.rate_per_minute = 3;
    sv_risk_t *r = mk();
    int64_t t0 = F.now;
    for (int i = 0; i < 3; i++)
        PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 3 orders per minute");
    F.now = t0 + 20 * NS - 1;
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 3 orders per minute");
    F.now = t0 + 20 * NS;
    PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 3 orders per minute");
    F.now = t0 + 10 * MIN;
    for (int i = 0; i < 3; i++)
        PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(BTC, 1, "1", "100"), "rate_limit: more than 3 orders per minute");
    done(r);
}

static void test_allowlist(void **state)
{
    (void)state;
    C.allowlist_enabled = 1;
    sv_risk_t *r = mk();
    assert_int_equal(sv_risk_allow(r, BTC), SV_OK);
    assert_int_equal(sv_risk_allow(r, NSYM), SV_E_RANGE);
    PASS(r, sig(BTC, 1, "1", "100"));
    REJECT(r, sig(ETH, 1, "1", "100"), "allowlist: ETHUSDT is not in allowed_symbols");
    REJECT(r, sig(0, 1, "1", "100"), "allowlist: unknown symbol id 0");
    done(r);
    C.allowlist_enabled = 0;
    r = mk();
    PASS(r, sig(ETH, 1, "1", "100"));
    done(r);
}

static void test_duplicate(void **state)
{
    (void)state;
    C.defaults.duplicate_window_ns = 500 * MS;
    F.now = 0; /* even at time 0 (a clock that starts there) */
    sv_risk_t *r = mk();
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = 500 * MS;
    REJECT(r, sig(BTC, 1, "1", "100"), "duplicate: the same order (buy 1 @ 100) was sent 500 ms ago");
    /* any difference is another order */
    PASS(r, sig(BTC, -1, "1", "100"));
    PASS(r, sig(BTC, 1, "1.00000001", "100"));
    PASS(r, sig(BTC, 1, "1", "100.01"));
    PASS(r, sig(ETH, 1, "1", "100"));
    PASS(r, sig_full(BTC, S2, 1, "1", "100", SV_ORDER_LIMIT, NULL));
    /* just after the window */
    F.now = 500 * MS + 1;
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now += 100 * MS;
    REJECT(r, sig(BTC, 1, "1", "100"), "duplicate: the same order (buy 1 @ 100) was sent 100 ms ago");
    REJECT(r, sig(BTC, -1, "1", "100"), "duplicate: the same order (sell 1 @ 100) was sent 100 ms ago");
    done(r);
}

static void test_self_trade(void **state)
{
    (void)state;
    C.self_trade_prevention = 1;
    sv_risk_t *r = mk();
    on_order(r, BTC, 7, -1, "1", "101", SV_OS_ACKNOWLEDGED);
    PASS(r, sig(BTC, 1, "1", "100.99"));
    REJECT(r, sig(BTC, 1, "1", "101"), "self_trade: would cross the engine's own resting sell order 7 at 101");
    REJECT(r, sig(BTC, 1, "1", NULL), "self_trade: would cross the engine's own resting sell order 7 at 101");
    PASS(r, sig(BTC, -1, "1", "90")); /* the same side never crosses */
    PASS(r, sig(ETH, 1, "1", "200")); /* another symbol */
    on_order(r, BTC, 7, -1, "1", "101", SV_OS_CANCELED);
    on_order(r, BTC, 8, 1, "1", "99", SV_OS_PARTIALLY_FILLED);
    PASS(r, sig(BTC, -1, "1", "99.01"));
    REJECT(r, sig(BTC, -1, "1", "99"), "self_trade: would cross the engine's own resting buy order 8 at 99");
    REJECT(r, sig(BTC, -1, "1", NULL), "self_trade: would cross the engine's own resting buy order 8 at 99");
    /* a resting market or stop order has no price to cross */
    on_order(r, BTC, 8, 1, "1", "99", SV_OS_FILLED);
    on_order(r, BTC, 9, 1, "1", NULL, SV_OS_ACKNOWLEDGED);
    PASS(r, sig(BTC, -1, "1", "1"));
    done(r);
    /* off */
    C.self_trade_prevention = 0;
    r = mk();
    on_order(r, BTC, 7, -1, "1", "101", SV_OS_ACKNOWLEDGED);
    PASS(r, sig(BTC, 1, "1", "101"));
    done(r);
}

static void test_trading_hours_utc(void **state)
{
    (void)state;
    C.hours = (sv_risk_hours_t){.enabled = 1, .start_min = 9 * 60 + 30, .end_min = 16 * 60, .days = 0x1f,
                                .no_trade_after_open_min = 15, .no_trade_before_close_min = 15};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 9, 29, 59);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 09:29 local is outside 09:30-16:00");
    F.now = utc(2024, 1, 8, 9, 30, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 09:30 local is in the first 15 minutes of the session");
    F.now = utc(2024, 1, 8, 9, 44, 59);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 09:44 local is in the first 15 minutes of the session");
    F.now = utc(2024, 1, 8, 9, 45, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 1, 8, 15, 44, 59);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 1, 8, 15, 45, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 15:45 local is in the last 15 minutes of the session");
    F.now = utc(2024, 1, 8, 16, 0, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 16:00 local is outside 09:30-16:00");
    F.now = utc(2024, 1, 12, 12, 0, 0); /* Friday */
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 1, 13, 12, 0, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: Saturday is not a trading day");
    F.now = utc(2024, 1, 14, 12, 0, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: Sunday is not a trading day");
    done(r);
    /* no days listed: every day */
    C.hours.days = 0;
    r = mk();
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
}

static void test_trading_hours_new_york_dst(void **state)
{
    (void)state;
    snprintf(C.timezone, sizeof C.timezone, "America/New_York");
    C.hours = (sv_risk_hours_t){.enabled = 1, .start_min = 9 * 60 + 30, .end_min = 16 * 60, .days = 0x1f};
    sv_risk_t *r = mk();
    /* winter (EST, UTC-5): Friday 2024-03-08, the session is 14:30Z-21:00Z */
    F.now = utc(2024, 3, 8, 14, 30, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 3, 8, 14, 29, 59);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 09:29 local is outside 09:30-16:00");
    F.now = utc(2024, 3, 8, 13, 30, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 08:30 local is outside 09:30-16:00");
    F.now = utc(2024, 3, 8, 20, 59, 59);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 3, 8, 21, 0, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 16:00 local is outside 09:30-16:00");
    /* the clocks go forward on Sunday 2024-03-10; summer (EDT, UTC-4): Monday 2024-03-11 */
    F.now = utc(2024, 3, 11, 13, 30, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 3, 11, 13, 29, 59);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 09:29 local is outside 09:30-16:00");
    F.now = utc(2024, 3, 11, 19, 59, 59);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 3, 11, 20, 0, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 16:00 local is outside 09:30-16:00");
    F.now = utc(2024, 3, 11, 14, 30, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    /* the day of the change is a Sunday: not a trading day, in local time (03:30Z Monday is Sunday 23:30 EDT) */
    F.now = utc(2024, 3, 11, 3, 30, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: Sunday is not a trading day");
    /* and back on Sunday 2024-11-03: Friday 11-01 is EDT, Monday 11-04 is EST */
    F.now = utc(2024, 11, 1, 13, 30, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = utc(2024, 11, 4, 13, 30, 0);
    REJECT(r, sig(BTC, 1, "1", "100"), "trading_hours: 08:30 local is outside 09:30-16:00");
    F.now = utc(2024, 11, 4, 14, 30, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
    /* an unknown zone: no risk engine */
    snprintf(C.timezone, sizeof C.timezone, "Mars/Olympus_Mons");
    assert_null(sv_risk_new(&C, &ENV, NSYM));
}

static void test_trades_per_hour_and_day(void **state)
{
    (void)state;
    C.trades_per_hour = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 3};
    C.trades_per_day = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 5};
    sv_risk_t *r = mk();
    int64_t t0 = F.now;
    for (uint64_t i = 1; i <= 3; i++) {
        PASS(r, sig(BTC, 1, "1", "100"));
        on_order(r, BTC, i, 1, "1", "100", SV_OS_PENDING);
        on_order(r, BTC, i, 1, "1", "100", SV_OS_FILLED); /* terminal orders still count as sent */
        F.now += MIN;
    }
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "trades_per_hour: 3 orders sent in the last hour reached the limit 3 -> block");
    REJECT(r, sig(BTC, 1, "1", "100"), "trades_per_hour: 3 orders sent in the last hour (max 3)");
    /* a reducing order passes the block */
    F.pos[BTC] = fx("3");
    PASS(r, sig(BTC, -1, "1", "100"));
    F.pos[BTC] = 0;
    /* the first order leaves the window an hour after it was sent */
    F.now = t0 + HOUR;
    REJECT(r, sig(BTC, 1, "1", "100"), "trades_per_hour: 3 orders sent in the last hour (max 3)");
    F.now = t0 + HOUR + 1;
    PASS(r, sig(BTC, 1, "1", "100"));
    on_order(r, BTC, 4, 1, "1", "100", SV_OS_PENDING);
    F.now = t0 + 2 * HOUR;
    PASS(r, sig(BTC, 1, "1", "100"));
    on_order(r, BTC, 5, 1, "1", "100", SV_OS_PENDING);
    /* five in 24 hours */
    F.now = t0 + 3 * HOUR;
    REJECT(r, sig(BTC, 1, "1", "100"), "trades_per_day: 5 orders sent in the last 24 hours (max 5)");
    F.now = t0 + DAY + 1;
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
}

static void test_trades_per_hour_alert_and_halt(void **state)
{
    (void)state;
    /* alert: orders pass, one alert when the count reaches the limit, again after it fell below */
    C.trades_per_hour = (sv_risk_monitor_t){.action = SV_RISK_ACTION_ALERT, .limit = 2};
    sv_risk_t *r = mk();
    int64_t t0 = F.now;
    on_order(r, BTC, 1, 1, "1", "100", SV_OS_PENDING);
    assert_int_equal(F.n_alerts, 0);
    on_order(r, BTC, 2, 1, "1", "100", SV_OS_PENDING);
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "trades_per_hour: 2 orders sent in the last hour reached the limit 2 -> alert");
    assert_int_equal(F.alerts[0].u.alert.value, SV_RISK_ACTION_ALERT);
    on_order(r, BTC, 3, 1, "1", "100", SV_OS_PENDING);
    assert_int_equal(F.n_alerts, 1);
    PASS(r, sig(BTC, 1, "1", "100"));
    F.now = t0 + 2 * HOUR;
    on_bar(r, BTC, "100");
    on_order(r, BTC, 4, 1, "1", "100", SV_OS_PENDING);
    on_order(r, BTC, 5, 1, "1", "100", SV_OS_PENDING);
    assert_int_equal(F.n_alerts, 2);
    done(r);
    /* flatten_halt: everything canceled and closed, then every order refused */
    memset(&F.alerts, 0, sizeof F.alerts);
    F.n_alerts = 0;
    C.trades_per_hour = (sv_risk_monitor_t){.action = SV_RISK_ACTION_FLATTEN_HALT, .limit = 2};
    r = mk();
    on_order(r, BTC, 1, 1, "1", "100", SV_OS_PENDING);
    on_order(r, BTC, 2, 1, "1", "100", SV_OS_PENDING);
    assert_int_equal(F.flatten, 1);
    assert_int_equal(F.cancel_all, 1);
    assert_true(sv_risk_halted(r));
    assert_true(sv_risk_kill_switch_engaged(r));
    REJECT(r, sig(BTC, -1, "1", "100"), "halt: trading halted by a flatten_halt action; reset the kill switch to resume");
    done(r);
}

static void test_price_sanity(void **state)
{
    (void)state;
    sv_risk_t *r = mk();
    REJECT(r, sig(BTC, 1, "0", "100"), "price_sanity: quantity must be > 0 and prices >= 0 (got qty 0, price 100)");
    REJECT(r, sig(BTC, 1, "-1", "100"), "price_sanity: quantity must be > 0 and prices >= 0 (got qty -1, price 100)");
    REJECT(r, sig(BTC, 1, "1", "-0.00000001"),
           "price_sanity: quantity must be > 0 and prices >= 0 (got qty 1, price -0.00000001)");
    REJECT(r, sig(BTC, 0, "1", "100"), "price_sanity: quantity must be > 0 and prices >= 0 (got qty 1, price 100)");
    REJECT(r, sig(BTC, 2, "1", "100"), "price_sanity: quantity must be > 0 and prices >= 0 (got qty 1, price 100)");
    REJECT(r, sig_full(BTC, S1, 1, "1", NULL, SV_ORDER_LIMIT, NULL), "price_sanity: a limit order needs a price > 0");
    REJECT(r, sig_full(BTC, S1, 1, "1", NULL, SV_ORDER_STOP_MARKET, NULL),
           "price_sanity: a stop order needs a stop price > 0");
    REJECT(r, sig_full(BTC, S1, 1, "1", "100", SV_ORDER_STOP_LIMIT, NULL),
           "price_sanity: a stop order needs a stop price > 0");
    REJECT(r, sig_full(BTC, S1, 1, "1", NULL, SV_ORDER_STOP_LIMIT, "100"), "price_sanity: a limit order needs a price > 0");
    REJECT(r, sig_full(BTC, S1, 1, "1", NULL, SV_ORDER_STOP_MARKET, "-1"),
           "price_sanity: quantity must be > 0 and prices >= 0 (got qty 1, price 0)");
    PASS(r, sig(BTC, 1, "0.00000001", NULL));
    PASS(r, sig_full(BTC, S1, 1, "1", "100", SV_ORDER_STOP_LIMIT, "99"));
    done(r);
}

/* ---- combinations: the first failing rule in the documented order names the rejection ---- */

static int deny_all(void *ud, const sv_event_t *s, char *reason, size_t len)
{
    (void)ud;
    (void)s;
    snprintf(reason, len, "no");
    return SV_E_REJECTED;
}

/* the rejection must name `rule`; then `fix` removes that violation */
#define NEXT(rule, fix) \
    do { \
        char why_[300]; \
        sv_event_t e_ = ev; \
        if (check_ev(r, &e_, why_, sizeof why_) != SV_E_REJECTED) \
            fail_msg("%s:%d: expected a %s rejection, it passed", __FILE__, __LINE__, (rule)); \
        if (strncmp(why_, rule ": ", strlen(rule) + 2) != 0) \
            fail_msg("%s:%d: expected a %s rejection, got '%s'", __FILE__, __LINE__, (rule), why_); \
        fix; \
    } while (0)

static void test_order_of_checks(void **state)
{
    (void)state;
    /* one order that breaks every rule; the violations are then removed one by one, and each
     * time the next rule in the documented order names the rejection */
    C.allowlist_enabled = 1;
    C.hours = (sv_risk_hours_t){.enabled = 1, .start_min = 9 * 60, .end_min = 17 * 60};
    C.defaults = (sv_risk_limits_t){.max_order_qty = fx("1"), .max_order_notional = fx("100"),
                                    .max_position_qty = fx("2"), .max_position_notional = fx("200"),
                                    .min_price = fx("10"), .max_price = fx("1000"), .price_band_bps = 100,
                                    .max_open_orders = 1};
    C.max_gross_exposure = fx("250");
    C.rate_per_second = 1;
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 8, 0, 0);
    on_trade(r, BTC, "100");
    on_trade(r, ETH, "100");
    F.mark[BTC] = F.mark[ETH] = fx("100");
    F.pos[ETH] = fx("1");
    on_order(r, BTC, 1, -1, "0.01", "110", SV_OS_ACKNOWLEDGED);
    sv_event_t ev = sig(BTC, 1, "0", "5");
    NEXT("allowlist", sv_risk_allow(r, BTC); sv_risk_allow(r, ETH));
    NEXT("trading_hours", F.now = utc(2024, 1, 8, 12, 0, 0));
    NEXT("price_sanity", ev.u.signal.qty = fx("3"));
    NEXT("min_price", ev.u.signal.price = fx("2000"));
    NEXT("max_price", ev.u.signal.price = fx("200"));
    NEXT("price_band", ev.u.signal.price = fx("101"));
    NEXT("max_order_qty", ev.u.signal.qty = fx("1"));
    NEXT("max_order_notional", ev.u.signal.qty = fx("0.5"); F.pos[BTC] = fx("1.9"));
    NEXT("max_position_qty", F.pos[BTC] = fx("1.5"));       /* 2 * 101 */
    NEXT("max_position_notional", F.pos[BTC] = fx("1"));    /* 100 + 100 + 1.1 + 50.5 */
    NEXT("max_gross_exposure", F.pos[ETH] = 0);
    NEXT("max_open_orders", on_order(r, BTC, 1, -1, "0.01", "110", SV_OS_CANCELED));
    /* an approved order takes the only token of the second */
    F.pos[ETH] = fx("1");
    PASS(r, sig(ETH, -1, "1", "100"));
    F.pos[ETH] = 0;
    NEXT("rate_limit", F.now += NS);
    PASS(r, ev);
    done(r);

    /* the rest, on a second engine */
    memset(&C, 0, sizeof C);
    C.defaults.duplicate_window_ns = 1000 * MS;
    C.self_trade_prevention = 1;
    C.trades_per_hour = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 3};
    C.daily_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 100};
    r = mk();
    int64_t t0 = F.now = utc(2024, 1, 8, 12, 0, 0);
    equity_at(r, "10000");
    ev = sig(BTC, 1, "0.5", "101");
    PASS(r, ev);
    on_order(r, BTC, 1, 1, "0.5", "101", SV_OS_ACKNOWLEDGED);
    on_order(r, BTC, 2, -1, "0.5", "101", SV_OS_ACKNOWLEDGED);
    on_order(r, BTC, 3, -1, "1", "200", SV_OS_PENDING);
    on_order(r, BTC, 3, -1, "1", "200", SV_OS_CANCELED);
    equity_at(r, "9900");
    sv_risk_add_rule(r, "mine", deny_all, NULL);
    F.now = t0 + 100 * MS;
    NEXT("duplicate", F.now = t0 + 1000 * MS + 1);
    NEXT("self_trade", on_order(r, BTC, 2, -1, "0.5", "101", SV_OS_CANCELED));
    NEXT("trades_per_hour", F.now = t0 + HOUR + 1);
    NEXT("block", F.now = utc(2024, 1, 9, 0, 0, 0); equity_at(r, "9900"));
    NEXT("mine", (void)0);
    done(r);
}
#undef NEXT

static void test_combination_limits_and_reduce(void **state)
{
    (void)state;
    /* a reduce action scales first, so the other limits see the order that would be sent */
    C.defaults.max_order_qty = fx("1");
    C.drawdown[0] = (sv_risk_monitor_t){.action = SV_RISK_ACTION_REDUCE, .limit = 0.05, .factor = 0.5};
    C.n_drawdown = 1;
    F.lot[BTC] = fx("0.001");
    sv_risk_t *r = mk();
    equity_at(r, "10000");
    REJECT(r, sig(BTC, 1, "1.5", "100"), "max_order_qty: quantity 1.5 is above 1");
    equity_at(r, "9500");
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1.5", "100")), fx("0.75"));
    assert_int_equal(approved_qty(r, sig(BTC, 1, "2", "100")), fx("1"));
    REJECT(r, sig(BTC, 1, "2.002", "100"), "max_order_qty: quantity 1.001 is above 1");
    done(r);
}

/* ---- the kill switch ---- */

static void test_kill_switch(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_risk.XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(C.kill_switch_file, sizeof C.kill_switch_file, "%s/var/sub/kill_switch", dir);
    sv_risk_t *r = mk();
    assert_false(sv_risk_kill_switch_engaged(r));
    on_order(r, BTC, 1, 1, "1", "90", SV_OS_ACKNOWLEDGED);
    PASS(r, sig(BTC, 1, "1", "100"));
    /* engage: every open order canceled, every order refused, even a reducing one */
    assert_int_equal(sv_risk_kill_switch(r, 1, "operator test"), SV_OK);
    assert_true(sv_risk_kill_switch_engaged(r));
    assert_int_equal(F.cancel_all, 1);
    assert_string_equal(last_alert(), "kill switch engaged: operator test; every open order is canceled");
    F.pos[BTC] = fx("1");
    REJECT(r, sig(BTC, -1, "1", "100"), "kill_switch: engaged: no new orders until it is reset");
    REJECT(r, sig(BTC, 1, "1", "100"), "kill_switch: engaged: no new orders until it is reset");
    /* the state file (its directories made) */
    FILE *f = fopen(C.kill_switch_file, "r");
    assert_non_null(f);
    char line[200] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "engaged: operator test\n");
    /* engaging again cancels nothing more */
    assert_int_equal(sv_risk_kill_switch(r, 1, "again"), SV_OK);
    assert_int_equal(F.cancel_all, 1);
    /* it survives a restart: a new risk engine reads the file (and cancels what is open) */
    done(r);
    r = mk();
    assert_true(sv_risk_kill_switch_engaged(r));
    assert_int_equal(F.cancel_all, 2);
    REJECT(r, sig(BTC, 1, "1", "100"), "kill_switch: engaged: no new orders until it is reset");
    /* reset: the file is gone, orders pass */
    assert_int_equal(sv_risk_kill_switch(r, 0, NULL), SV_OK);
    assert_false(sv_risk_kill_switch_engaged(r));
    assert_string_equal(last_alert(), "kill switch reset: trading resumes");
    struct stat sb;
    assert_int_not_equal(stat(C.kill_switch_file, &sb), 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    assert_int_equal(sv_risk_kill_switch(r, 0, NULL), SV_OK); /* resetting twice is fine */
    /* another process (the CLI) writes or removes the file; sync reads it */
    f = fopen(C.kill_switch_file, "w");
    assert_non_null(f);
    fputs("engaged: cli\n", f);
    fclose(f);
    sv_risk_kill_switch_sync(r);
    assert_true(sv_risk_kill_switch_engaged(r));
    assert_int_equal(F.cancel_all, 3);
    assert_string_equal(last_alert(), "kill switch engaged (state file present): every open order is canceled");
    sv_risk_kill_switch_sync(r); /* no change, nothing more */
    assert_int_equal(F.cancel_all, 3);
    REJECT(r, sig(BTC, 1, "1", "100"), "kill_switch: engaged: no new orders until it is reset");
    assert_int_equal(unlink(C.kill_switch_file), 0);
    sv_risk_kill_switch_sync(r);
    assert_false(sv_risk_kill_switch_engaged(r));
    assert_string_equal(last_alert(), "kill switch reset (state file removed): trading resumes");
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
    /* a file that cannot be written: still engaged in memory, SV_E_IO */
    snprintf(C.kill_switch_file, sizeof C.kill_switch_file, "/proc/no/such/kill_switch");
    r = mk();
    assert_int_equal(sv_risk_kill_switch(r, 1, "x"), SV_E_IO);
    assert_true(sv_risk_kill_switch_engaged(r));
    done(r);
    /* no file: in memory only */
    C.kill_switch_file[0] = '\0';
    r = mk();
    assert_int_equal(sv_risk_kill_switch(r, 1, "memory"), SV_OK);
    REJECT(r, sig(BTC, 1, "1", "100"), "kill_switch: engaged: no new orders until it is reset");
    done(r);
    r = mk();
    assert_false(sv_risk_kill_switch_engaged(r));
    done(r);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- monitors ---- */

static void test_daily_loss(void **state)
{
    (void)state;
    C.daily_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 100};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 0, 0, 0);
    equity_at(r, "10000"); /* the day starts at 10000 */
    F.now += HOUR;
    equity_at(r, "9900.00000001");
    assert_int_equal(F.n_alerts, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    equity_at(r, "9900");
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "daily_loss: loss 100.00 since the period start reached the limit 100.00 -> block");
    assert_int_equal(F.alerts[0].u.alert.value, SV_RISK_ACTION_BLOCK);
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    /* only reducing orders pass */
    F.pos[BTC] = fx("2");
    PASS(r, sig(BTC, -1, "2", NULL));
    REJECT(r, sig(BTC, -1, "2.00000001", NULL),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    F.pos[BTC] = fx("-2");
    PASS(r, sig(BTC, 1, "1", "100"));
    F.pos[BTC] = 0;
    /* acted once: a deeper loss the same day does not alert again */
    equity_at(r, "9000");
    assert_int_equal(F.n_alerts, 1);
    /* the next day lifts it and counts from its own start */
    F.now = utc(2024, 1, 8, 23, 59, 59);
    equity_at(r, "9000");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    F.now = utc(2024, 1, 9, 0, 0, 0);
    equity_at(r, "9000");
    PASS(r, sig(BTC, 1, "1", "100"));
    equity_at(r, "8900.00000001");
    PASS(r, sig(BTC, 1, "1", "100"));
    equity_at(r, "8900");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    done(r);
}

static void test_daily_loss_in_time_zone(void **state)
{
    (void)state;
    /* the day is New York's: it starts at 05:00Z in winter */
    snprintf(C.timezone, sizeof C.timezone, "America/New_York");
    C.daily_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 100};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 12, 0, 0);
    equity_at(r, "10000");
    equity_at(r, "9900");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    F.now = utc(2024, 1, 9, 4, 59, 59); /* 23:59:59 in New York */
    equity_at(r, "9900");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the daily_loss monitor; only reducing orders pass");
    F.now = utc(2024, 1, 9, 5, 0, 0);
    equity_at(r, "9900");
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
}

static void test_weekly_and_monthly_loss(void **state)
{
    (void)state;
    C.weekly_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_ALERT, .limit = 300};
    C.monthly_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 500};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 3, 12, 0, 0); /* Wednesday: the week started on Monday the 1st */
    equity_at(r, "10000");
    F.now = utc(2024, 1, 7, 23, 0, 0); /* Sunday, the same week */
    equity_at(r, "9700.00000001");
    assert_int_equal(F.n_alerts, 0);
    equity_at(r, "9700");
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "weekly_loss: loss 300.00 since the period start reached the limit 300.00 -> alert");
    PASS(r, sig(BTC, 1, "1", "100")); /* an alert blocks nothing */
    F.now = utc(2024, 1, 8, 0, 0, 0); /* a new week: counts from 9700 */
    equity_at(r, "9700");
    equity_at(r, "9500");
    assert_int_equal(F.n_alerts, 2); /* the month: 500 since the 1st */
    assert_string_equal(last_alert(), "monthly_loss: loss 500.00 since the period start reached the limit 500.00 -> block");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the monthly_loss monitor; only reducing orders pass");
    F.now = utc(2024, 1, 31, 23, 59, 59);
    equity_at(r, "9500");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the monthly_loss monitor; only reducing orders pass");
    F.now = utc(2024, 2, 1, 0, 0, 0);
    equity_at(r, "9500");
    PASS(r, sig(BTC, 1, "1", "100"));
    done(r);
}

static void ladder(void)
{
    C.drawdown[0] = (sv_risk_monitor_t){.action = SV_RISK_ACTION_REDUCE, .limit = 0.05, .factor = 0.5};
    C.drawdown[1] = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 0.10};
    C.drawdown[2] = (sv_risk_monitor_t){.action = SV_RISK_ACTION_FLATTEN_HALT, .limit = 0.15};
    C.n_drawdown = 3;
    F.lot[BTC] = fx("0.001");
}

static void test_drawdown_ladder(void **state)
{
    (void)state;
    ladder();
    sv_risk_t *r = mk();
    equity_at(r, "10000");
    F.now += MIN;
    equity_at(r, "9500.00000001");
    assert_int_equal(F.n_alerts, 0);
    assert_true(sv_risk_size_factor(r) == 1.0);
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("1"));
    /* tier 1, 5 %: reduce, sizes halved and floored to the lot */
    equity_at(r, "9500");
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "drawdown: drawdown 5.00% from the peak reached tier 1 (5.00%) -> reduce");
    assert_int_equal(F.alerts[0].u.alert.value, SV_RISK_ACTION_REDUCE);
    assert_true(sv_risk_size_factor(r) == 0.5);
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("0.5"));
    assert_int_equal(approved_qty(r, sig(BTC, 1, "0.003", "100")), fx("0.001")); /* 0.0015 -> 0.001 */
    assert_int_equal(approved_qty(r, sig(BTC, -1, "0.0039", "100")), fx("0.001"));
    REJECT(r, sig(BTC, 1, "0.001", "100"), "reduce: quantity 0.001 times 0.50 is below one lot");
    /* an order that only reduces the position is not cut */
    F.pos[BTC] = fx("0.8");
    assert_int_equal(approved_qty(r, sig(BTC, -1, "0.8", NULL)), fx("0.8"));
    F.pos[BTC] = 0;
    /* tier 2, 10 %: block */
    equity_at(r, "9000.00000001");
    PASS(r, sig(BTC, 1, "1", "100"));
    equity_at(r, "9000");
    assert_int_equal(F.n_alerts, 2);
    assert_string_equal(last_alert(), "drawdown: drawdown 10.00% from the peak reached tier 2 (10.00%) -> block");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the drawdown monitor; only reducing orders pass");
    F.pos[BTC] = fx("1");
    PASS(r, sig(BTC, -1, "1", NULL));
    /* tier 3, 15 %: flatten and halt (kill switch engaged, every open order canceled) */
    equity_at(r, "8500.00000001");
    assert_int_equal(F.flatten, 0);
    assert_false(sv_risk_halted(r));
    equity_at(r, "8500");
    assert_int_equal(F.flatten, 1);
    assert_int_equal(F.cancel_all, 1);
    assert_true(sv_risk_halted(r));
    assert_true(sv_risk_kill_switch_engaged(r));
    assert_string_equal(F.texts[F.alerts[2].u.alert.text - 1],
                        "drawdown: drawdown 15.00% from the peak reached tier 3 (15.00%) -> flatten_halt");
    assert_int_equal(F.alerts[2].u.alert.value, SV_RISK_ACTION_FLATTEN_HALT);
    REJECT(r, sig(BTC, -1, "1", NULL), "halt: trading halted by a flatten_halt action; reset the kill switch to resume");
    REJECT(r, sig(BTC, 1, "1", "100"), "halt: trading halted by a flatten_halt action; reset the kill switch to resume");
    /* still there: no second flatten */
    equity_at(r, "8000");
    assert_int_equal(F.flatten, 1);
    sv_risk_stats_t st;
    sv_risk_stats(r, &st);
    assert_int_equal(st.actions, 3);
    /* reset: trading resumes, the ladder starts over from the current equity */
    F.pos[BTC] = 0;
    assert_int_equal(sv_risk_kill_switch(r, 0, NULL), SV_OK);
    assert_false(sv_risk_halted(r));
    equity_at(r, "8000");
    assert_true(sv_risk_size_factor(r) == 1.0);
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("1"));
    equity_at(r, "7600"); /* 5 % of 8000 */
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("0.5"));
    done(r);
}

static void test_drawdown_new_high_clears(void **state)
{
    (void)state;
    ladder();
    sv_risk_t *r = mk();
    equity_at(r, "10000");
    equity_at(r, "9000"); /* both tiers at once */
    assert_int_equal(F.n_alerts, 2);
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the drawdown monitor; only reducing orders pass");
    assert_true(sv_risk_size_factor(r) == 0.5);
    equity_at(r, "10000"); /* back to the peak, not above */
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the drawdown monitor; only reducing orders pass");
    equity_at(r, "10000.00000001"); /* a new high */
    assert_true(sv_risk_size_factor(r) == 1.0);
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("1"));
    /* the ladder counts from the new peak */
    equity_at(r, "9500.00000001"); /* 5 % of 10000.00000001 is 500.0000000005, rounded to 500 */
    assert_int_equal(approved_qty(r, sig(BTC, 1, "1", "100")), fx("0.5"));
    done(r);
}

static void test_reduce_factors_combine(void **state)
{
    (void)state;
    /* two reduce actions in force: the smaller factor applies; each lifts on its own */
    C.drawdown[0] = (sv_risk_monitor_t){.action = SV_RISK_ACTION_REDUCE, .limit = 0.05, .factor = 0.5};
    C.n_drawdown = 1;
    C.daily_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_REDUCE, .limit = 100, .factor = 0.25};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 10, 0, 0);
    equity_at(r, "10000");
    equity_at(r, "9900");
    assert_true(sv_risk_size_factor(r) == 0.25);
    equity_at(r, "9500");
    assert_true(sv_risk_size_factor(r) == 0.25);
    F.now = utc(2024, 1, 9, 0, 0, 0); /* the daily reduction ends; the drawdown's remains */
    equity_at(r, "9500");
    assert_true(sv_risk_size_factor(r) == 0.5);
    equity_at(r, "10001");
    assert_true(sv_risk_size_factor(r) == 1.0);
    done(r);
}

static void test_circuit_breaker(void **state)
{
    (void)state;
    C.circuit_breaker = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 0.10, .window_ns = 60 * MIN};
    sv_risk_t *r = mk();
    int64_t t0 = F.now;
    equity_at(r, "10000");
    F.now = t0 + 10 * MIN;
    equity_at(r, "9500");
    F.now = t0 + 30 * MIN;
    equity_at(r, "9000.00000001");
    assert_int_equal(F.n_alerts, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    equity_at(r, "9000");
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "circuit_breaker: equity fell 10.00% within 60 minutes -> block");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the circuit_breaker monitor; only reducing orders pass");
    /* lifted one window after it tripped */
    F.now = t0 + 90 * MIN - 1;
    equity_at(r, "9000");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the circuit_breaker monitor; only reducing orders pass");
    F.now = t0 + 90 * MIN;
    equity_at(r, "9000");
    PASS(r, sig(BTC, 1, "1", "100"));
    assert_int_equal(F.n_alerts, 1);
    /* a loss spread over more than the window does not trip it */
    F.now = t0 + 150 * MIN;
    equity_at(r, "8500");
    F.now = t0 + 211 * MIN;
    equity_at(r, "8100");
    assert_int_equal(F.n_alerts, 1);
    PASS(r, sig(BTC, 1, "1", "100"));
    /* a fast one does, measured from the highest equity in the window */
    F.now = t0 + 220 * MIN;
    equity_at(r, "9000");
    F.now = t0 + 221 * MIN;
    equity_at(r, "8100");
    assert_int_equal(F.n_alerts, 2);
    done(r);
}

/* a round trip of the account position on BTC: opened and closed by two fills */
static void round_trip(sv_risk_t *r, const char *result)
{
    F.pos[BTC] = fx("1");
    F.net[BTC] -= fx("0.1");
    on_fill(r, BTC, "0.1");
    F.now += MIN;
    F.pos[BTC] = 0;
    F.net[BTC] += fx(result) + fx("0.1"); /* the result counts both fees */
    on_fill(r, BTC, "0.1");
    F.now += MIN;
}

static void test_consecutive_losses(void **state)
{
    (void)state;
    C.consecutive_losses = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 3};
    sv_risk_t *r = mk();
    F.now = utc(2024, 1, 8, 10, 0, 0);
    round_trip(r, "-1");
    round_trip(r, "-1");
    round_trip(r, "0.5"); /* a win breaks the streak */
    round_trip(r, "-1");
    round_trip(r, "-0.00000001");
    assert_int_equal(F.n_alerts, 0);
    round_trip(r, "0"); /* break-even is no loss */
    round_trip(r, "-1");
    round_trip(r, "-1");
    assert_int_equal(F.n_alerts, 0);
    PASS(r, sig(BTC, 1, "1", "100"));
    round_trip(r, "-0.2"); /* counted with the fees: -0.2 - 0.2 */
    assert_int_equal(F.n_alerts, 1);
    assert_string_equal(last_alert(), "consecutive_losses: 3 losing round trips in a row -> block");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the consecutive_losses monitor; only reducing orders pass");
    /* lifted the next day */
    F.now = utc(2024, 1, 8, 23, 59, 0);
    on_bar(r, BTC, "100");
    REJECT(r, sig(BTC, 1, "1", "100"),
           "block: new positions are blocked by the consecutive_losses monitor; only reducing orders pass");
    F.now = utc(2024, 1, 9, 0, 0, 0);
    on_bar(r, BTC, "100");
    PASS(r, sig(BTC, 1, "1", "100"));
    /* and a new streak counts from zero */
    round_trip(r, "-1");
    round_trip(r, "-1");
    assert_int_equal(F.n_alerts, 1);
    round_trip(r, "-1");
    assert_int_equal(F.n_alerts, 2);
    done(r);
}

static void test_monitor_interval(void **state)
{
    (void)state;
    C.daily_loss = (sv_risk_monitor_t){.action = SV_RISK_ACTION_BLOCK, .limit = 100};
    C.monitor_interval_ns = 1 * NS;
    sv_risk_t *r = mk();
    equity_at(r, "10000");
    F.now += 500 * MS;
    equity_at(r, "9000"); /* within the interval: not looked at */
    assert_int_equal(F.n_alerts, 0);
    F.now += 500 * MS;
    equity_at(r, "9000");
    assert_int_equal(F.n_alerts, 1);
    done(r);
    /* a fill is always looked at */
    F.n_alerts = 0;
    r = mk();
    equity_at(r, "10000");
    F.now += 1;
    F.equity = fx("9000");
    on_fill(r, BTC, "0");
    assert_int_equal(F.n_alerts, 1);
    done(r);
}

/* ---- custom rules run last ---- */

static int calls;
static int deny_big(void *ud, const sv_event_t *s, char *reason, size_t len)
{
    (void)ud;
    calls++;
    if (s->u.signal.qty > fx("5")) {
        snprintf(reason, len, "too big for me");
        return SV_E_REJECTED;
    }
    return 0;
}
static int deny_silently(void *ud, const sv_event_t *s, char *reason, size_t len)
{
    (void)ud;
    (void)reason;
    (void)len;
    return s->u.signal.qty > fx("8") ? SV_E_REJECTED : 0;
}

static void test_custom_rules(void **state)
{
    (void)state;
    C.defaults.max_order_qty = fx("10");
    sv_risk_t *r = mk();
    assert_int_equal(sv_risk_add_rule(r, "big", deny_big, NULL), SV_OK);
    assert_int_equal(sv_risk_add_rule(r, "quiet", deny_silently, NULL), SV_OK);
    assert_int_equal(sv_risk_add_rule(r, "x", NULL, NULL), SV_E_INVAL);
    calls = 0;
    PASS(r, sig(BTC, 1, "5", "100"));
    REJECT(r, sig(BTC, 1, "6", "100"), "big: too big for me");
    REJECT(r, sig(BTC, 1, "11", "100"), "max_order_qty: quantity 11 is above 10");
    assert_int_equal(calls, 2); /* a C rejection never reaches the custom rules */
    done(r);
    r = mk();
    sv_risk_add_rule(r, "quiet", deny_silently, NULL);
    REJECT(r, sig(BTC, 1, "9", "100"), "quiet: rejected");
    sv_risk_stats_t st;
    sv_risk_stats(r, &st);
    assert_int_equal(st.by_rule[rule_id("custom")], 1);
    done(r);
}

/* ---- stats and names ---- */

static void test_stats_and_names(void **state)
{
    (void)state;
    C.defaults.max_order_qty = fx("1");
    C.defaults.price_band_bps = 100;
    sv_risk_t *r = mk();
    on_trade(r, BTC, "100");
    PASS(r, sig(BTC, 1, "1", "100"));
    PASS(r, sig(BTC, 1, "0.5", "100"));
    REJECT(r, sig(BTC, 1, "2", "100"), "max_order_qty: quantity 2 is above 1");
    REJECT(r, sig(BTC, 1, "1.5", "100"), "max_order_qty: quantity 1.5 is above 1");
    REJECT(r, sig(BTC, 1, "1", "200"), "price_band: price 200 is more than 100 bps from the last price 100");
    sv_risk_stats_t st;
    sv_risk_stats(r, &st);
    assert_int_equal(st.checked, 5);
    assert_int_equal(st.approved, 2);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.by_rule[rule_id("max_order_qty")], 2);
    assert_int_equal(st.by_rule[rule_id("price_band")], 1);
    assert_int_equal(st.actions, 0);
    done(r);
    assert_string_equal(sv_risk_rule_name(999), "?");
    assert_string_equal(sv_risk_action_name(SV_RISK_ACTION_FLATTEN_HALT), "flatten_halt");
    assert_string_equal(sv_risk_action_name(9), "?");
    assert_int_equal(sv_risk_action_parse("reduce"), SV_RISK_ACTION_REDUCE);
    assert_int_equal(sv_risk_action_parse("block"), SV_RISK_ACTION_BLOCK);
    assert_int_equal(sv_risk_action_parse("nope"), -1);
    sv_risk_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_order_qty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_order_notional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_position_qty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_position_notional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_gross_exposure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_price_band, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_max_price, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_open_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_per_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_per_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowlist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_trade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trading_hours_utc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trading_hours_new_york_dst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trades_per_hour_and_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trades_per_hour_alert_and_halt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_price_sanity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_of_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_combination_limits_and_reduce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_loss_in_time_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weekly_and_monthly_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drawdown_ladder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drawdown_new_high_clears, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reduce_factors_combine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_circuit_breaker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consecutive_losses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
