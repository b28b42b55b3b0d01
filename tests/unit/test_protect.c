/* test_protect: engine/protect.h with exact prices and quantities, against a real portfolio and
 * a recording fake of the rest of the core: fixed stops on trades and bars, a gap through the
 * stop, trailing stops ratcheting (also inside one bar, along the venue's path) then firing,
 * take-profit partial levels with lot rounding, brackets in both orders, short positions,
 * removal when flat and on a flip, partial closes, exits canceled (a disabled strategy, the
 * kill switch) and sent again, halts, rejects, defaults and per-order overrides, the entry
 * bar counted from the fill, and spec validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "portfolio.h"

enum { USDT = 1, BTC = 2, ETH = 3, BTCUSDT = 5, ETHUSDT = 6, MAX_IDS = 16, MAX_STRAT = 8 };
enum { MAX_SENT = 64 };
#define SEC 1000000000LL
#define T0 (1704067200LL * SEC)

typedef struct world {
    sv_instruments_t *ins;
    sv_portfolio_t *port;
    sv_protect_t *p;
    sv_event_t sent[MAX_SENT];
    int64_t sent_id[MAX_SENT];
    int n_sent;
    uint64_t canceled[MAX_SENT];
    int n_canceled;
    sv_event_t alerts[MAX_SENT];
    int n_alerts;
    char texts[MAX_SENT][200];
    uint32_t n_texts;
    char log[16384];
    int halted, kill;
    sv_fixed_t lot;
    int64_t now;      /* engine clock */
    int64_t bar_end;  /* close time of the last bar fed */
    uint64_t next_client, next_signal;
} world_t;

static sv_fixed_t fx(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad literal %s", s);
    return v;
}

static void eq_fixed(sv_fixed_t got, sv_fixed_t want, const char *expr, int line)
{
    if (got != want) {
        char g[32], w[32];
        sv_fixed_format(got, g, sizeof g);
        sv_fixed_format(want, w, sizeof w);
        fail_msg("line %d: %s = %s, want %s", line, expr, g, w);
    }
}
#define EQ(got, want) eq_fixed((got), fx(want), #got, __LINE__)

/* ---- the fake core ---- */

static void env_position(void *ud, uint32_t sid, uint32_t sym, sv_fixed_t *qty, sv_fixed_t *avg)
{
    world_t *w = ud;
    const sv_position_t *p = sv_portfolio_position(w->port, sid, sym);
    *qty = p->qty;
    *avg = 0;
    if (p->qty)
        sv_fixed_div(p->cost, p->qty, avg);
}

static int64_t env_submit(void *ud, const sv_event_t *sig)
{
    world_t *w = ud;
    assert_true(w->n_sent < MAX_SENT);
    int64_t id = 1000 + w->n_sent;
    w->sent[w->n_sent] = *sig;
    w->sent_id[w->n_sent++] = id;
    return id;
}

static int env_cancel(void *ud, uint64_t id)
{
    world_t *w = ud;
    w->canceled[w->n_canceled++] = id;
    return 0;
}

static sv_fixed_t env_lot(void *ud, uint32_t sym)
{
    (void)sym;
    return ((world_t *)ud)->lot;
}
static int env_halted(void *ud) { return ((world_t *)ud)->halted; }
static int env_kill(void *ud) { return ((world_t *)ud)->kill; }
static int64_t env_now(void *ud) { return ((world_t *)ud)->now; }

static void env_publish(void *ud, sv_event_t *ev)
{
    world_t *w = ud;
    assert_int_equal(ev->h.kind, SV_EV_ALERT);
    w->alerts[w->n_alerts++] = *ev;
}

static uint32_t env_text(void *ud, const char *s)
{
    world_t *w = ud;
    snprintf(w->texts[w->n_texts], sizeof w->texts[0], "%s", s);
    return ++w->n_texts;
}

static void env_log(void *ud, int level, const char *msg)
{
    world_t *w = ud;
    (void)level;
    size_t n = strlen(w->log);
    if (n + strlen(msg) + 2 >= sizeof w->log) {
        w->log[0] = '\0';
        n = 0;
    }
    snprintf(w->log + n, sizeof w->log - n, "%s\n", msg);
    if (getenv("SV_TEST_VERBOSE"))
        fprintf(stderr, "  log: %s\n", msg);
}

static const char *env_symbol(void *ud, uint32_t sym)
{
    (void)ud;
    return sym == BTCUSDT ? "BTCUSDT" : sym == ETHUSDT ? "ETHUSDT" : "";
}

static const char *env_strategy(void *ud, uint32_t sid)
{
    (void)ud;
    static const char *const names[] = {"", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
    return sid <= 8 ? names[sid] : "";
}

static void add_instrument(sv_instruments_t *ins, uint32_t sym, uint32_t base)
{
    sv_instrument_t in = {.symbol = sym, .base = base, .quote = USDT, .tick = 1, .lot = 1};
    assert_int_equal(sv_instruments_set(ins, &in), SV_OK);
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    w->ins = sv_instruments_new(MAX_IDS);
    add_instrument(w->ins, BTCUSDT, BTC);
    add_instrument(w->ins, ETHUSDT, ETH);
    w->port = sv_portfolio_new(w->ins, MAX_IDS, MAX_STRAT);
    sv_protect_env_t env = {.ud = w, .position = env_position, .submit = env_submit, .cancel = env_cancel,
                            .lot = env_lot, .halted = env_halted, .kill_switch = env_kill, .now = env_now,
                            .publish = env_publish, .text = env_text, .log = env_log,
                            .symbol_name = env_symbol, .strategy_name = env_strategy};
    w->p = sv_protect_new(&env, MAX_IDS, MAX_STRAT, 64, 16);
    assert_non_null(w->p);
    w->now = T0;
    w->bar_end = T0;
    w->next_client = 1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    sv_protect_free(w->p);
    sv_portfolio_free(w->port);
    sv_instruments_free(w->ins);
    free(w);
    return 0;
}

/* ---- events ---- */

static void deliver(world_t *w, const sv_event_t *ev) { sv_protect_on_event(w->p, ev); }

static void order_ev(world_t *w, uint32_t sid, uint32_t sym, uint64_t client, uint64_t signal_id, int status,
                     int side, sv_fixed_t qty, sv_fixed_t filled)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ORDER;
    ev.h.symbol = sym;
    ev.h.ts_exchange = w->now;
    ev.u.order.client_id = client;
    ev.u.order.signal_id = signal_id;
    ev.u.order.strategy = sid;
    ev.u.order.status = (uint8_t)status;
    ev.u.order.side = (int8_t)side;
    ev.u.order.qty = qty;
    ev.u.order.filled_qty = filled;
    deliver(w, &ev);
}

/* a fill: the portfolio applies it first (as the engine's subscription order does) */
static void fill_ev(world_t *w, uint32_t sid, uint32_t sym, uint64_t client, int side, sv_fixed_t qty,
                    sv_fixed_t px, int64_t ts)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_FILL;
    ev.h.symbol = sym;
    ev.h.ts_exchange = ts;
    ev.u.fill.client_id = client;
    ev.u.fill.trade_id = client * 100 + 1;
    ev.u.fill.side = (int8_t)side;
    ev.u.fill.qty = qty;
    ev.u.fill.price = px;
    ev.u.fill.strategy = sid;
    assert_int_equal(sv_portfolio_apply_fill(w->port, &ev), SV_OK);
    deliver(w, &ev);
}

/* A strategy's order, with protective options when spec != NULL, filled whole at px at ts
 * (0: now). Returns its client id. */
static uint64_t order_at(world_t *w, uint32_t sid, uint32_t sym, const sv_protect_spec_t *spec, int side,
                         const char *qty, const char *px, int64_t ts)
{
    uint64_t signal = ++w->next_signal, client = w->next_client++;
    if (spec) {
        char why[300];
        int rc = sv_protect_order(w->p, sid, sym, signal, spec, why, sizeof why);
        if (rc)
            fail_msg("sv_protect_order: %s", why);
    }
    order_ev(w, sid, sym, client, signal, SV_OS_PENDING, side, fx(qty), 0);
    fill_ev(w, sid, sym, client, side, fx(qty), fx(px), ts ? ts : w->now);
    order_ev(w, sid, sym, client, signal, SV_OS_FILLED, side, fx(qty), fx(qty));
    return client;
}
#define BUY(w, sid, sym, spec, q, px) order_at((w), (sid), (sym), (spec), SV_SIDE_BUY, (q), (px), 0)
#define SELL(w, sid, sym, spec, q, px) order_at((w), (sid), (sym), (spec), SV_SIDE_SELL, (q), (px), 0)

/* the k-th exit sent fills whole at px */
static void exit_fills(world_t *w, int k, const char *px)
{
    const sv_event_t *s = &w->sent[k];
    fill_ev(w, s->u.signal.strategy, s->h.symbol, (uint64_t)w->sent_id[k], s->u.signal.side, s->u.signal.qty,
            fx(px), w->now);
    order_ev(w, s->u.signal.strategy, s->h.symbol, (uint64_t)w->sent_id[k], 0, SV_OS_FILLED, s->u.signal.side,
             s->u.signal.qty, s->u.signal.qty);
}

/* the k-th exit ended without a fill */
static void exit_ends(world_t *w, int k, int status)
{
    const sv_event_t *s = &w->sent[k];
    order_ev(w, s->u.signal.strategy, s->h.symbol, (uint64_t)w->sent_id[k], 0, status, s->u.signal.side,
             s->u.signal.qty, 0);
}

static void trade_on(world_t *w, uint32_t sym, const char *px)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    w->now += SEC;
    ev.h.kind = SV_EV_TRADE;
    ev.h.symbol = sym;
    ev.h.ts_exchange = w->now;
    ev.u.trade.price = fx(px);
    ev.u.trade.qty = fx("1");
    deliver(w, &ev);
}
#define TRADE(w, px) trade_on((w), BTCUSDT, (px))

static void quote(world_t *w, const char *bid, const char *ask)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    w->now += SEC;
    ev.h.kind = SV_EV_QUOTE;
    ev.h.symbol = BTCUSDT;
    ev.h.ts_exchange = w->now;
    ev.u.quote.bid_price = fx(bid);
    ev.u.quote.ask_price = fx(ask);
    ev.u.quote.bid_qty = ev.u.quote.ask_qty = fx("1");
    deliver(w, &ev);
}

/* the next one-minute bar (start = the previous bar's close time) */
static void bar(world_t *w, const char *o, const char *h, const char *l, const char *c)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    int64_t start = w->bar_end > w->now ? w->bar_end : w->now;
    w->bar_end = start + 60 * SEC;
    w->now = w->bar_end;
    ev.h.kind = SV_EV_BAR;
    ev.h.symbol = BTCUSDT;
    ev.h.ts_exchange = w->bar_end;
    ev.u.bar.open = fx(o);
    ev.u.bar.high = fx(h);
    ev.u.bar.low = fx(l);
    ev.u.bar.close = fx(c);
    ev.u.bar.volume = fx("1000");
    ev.u.bar.start = start;
    ev.u.bar.interval_s = 60;
    deliver(w, &ev);
}

/* the k-th exit sent: side, quantity, tag, owner; always a reduce-only market order */
static void exit_is(const world_t *w, int k, uint32_t sid, int side, const char *qty, const char *tag, int line)
{
    if (k >= w->n_sent)
        fail_msg("line %d: exit %d was not sent (%d sent)", line, k, w->n_sent);
    const sv_signal_t *s = &w->sent[k].u.signal;
    if (s->strategy != sid || s->side != side || s->qty != fx(qty) || strcmp(s->tag, tag) != 0 ||
        s->type != SV_ORDER_MARKET || s->order_flags != SV_ORDER_FLAG_REDUCE_ONLY || s->price != 0) {
        char q[32];
        sv_fixed_format(s->qty, q, sizeof q);
        fail_msg("line %d: exit %d is strategy %u side %d qty %s tag '%s' type %d flags %d, want %u %d %s '%s'",
                 line, k, s->strategy, s->side, q, s->tag, s->type, s->order_flags, sid, side, qty, tag);
    }
}
#define EXIT(w, k, sid, side, qty, tag) exit_is((w), (k), (sid), (side), (qty), (tag), __LINE__)

static void logged(const world_t *w, const char *needle, int line)
{
    if (!strstr(w->log, needle))
        fail_msg("line %d: the log has no '%s':\n%s", line, needle, w->log);
}
#define LOGGED(w, s) logged((w), (s), __LINE__)

static sv_protect_state_t state_of(const world_t *w, uint32_t sid, uint32_t sym)
{
    sv_protect_state_t st;
    assert_int_equal(sv_protect_state(w->p, sid, sym, &st), SV_OK);
    return st;
}

/* ---- tests ---- */

static void test_fixed_stop_on_trades(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss = 95};
    BUY(w, 1, BTCUSDT, &sp, "2", "100");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    assert_int_equal(st.side, 1);
    EQ(st.qty, "2");
    EQ(st.entry, "100");
    EQ(st.stop_loss, "95");
    EQ(st.trailing_stop, "0");
    assert_int_equal(sv_protect_count(w->p), 1);

    TRADE(w, "96");
    TRADE(w, "95.00000001");
    assert_int_equal(w->n_sent, 0);
    TRADE(w, "95");
    assert_int_equal(w->n_sent, 1);
    EXIT(w, 0, 1, SV_SIDE_SELL, "2", "stop_loss");
    LOGGED(w, "stop_loss: strategy s1 BTCUSDT long 2 (entry 100): price 95 crossed 95; sell 2 at market, order 1000");
    /* one alert: SV_ALERT_RISK, the owner, the exit's client id, a bounded text */
    assert_int_equal(w->n_alerts, 1);
    assert_int_equal(w->alerts[0].u.alert.code, SV_ALERT_RISK);
    assert_int_equal(w->alerts[0].u.alert.source, 1);
    assert_int_equal(w->alerts[0].u.alert.value, 1000);
    assert_int_equal(w->alerts[0].h.symbol, BTCUSDT);
    assert_string_equal(w->texts[w->alerts[0].u.alert.text - 1], "stop_loss: s1 BTCUSDT long");
    st = state_of(w, 1, BTCUSDT);
    EQ(st.in_flight, "2");
    assert_int_equal(st.closing, 1);

    TRADE(w, "90"); /* the exit is in flight: nothing more */
    assert_int_equal(w->n_sent, 1);
    exit_fills(w, 0, "94.9");
    EQ(sv_portfolio_position(w->port, 1, BTCUSDT)->qty, "0");
    EQ(sv_portfolio_position(w->port, 1, BTCUSDT)->realized, "-10.2");
    assert_int_equal(sv_protect_count(w->p), 0);
    TRADE(w, "80");
    assert_int_equal(w->n_sent, 1);
    sv_protect_stats_t s;
    sv_protect_stats(w->p, &s);
    assert_int_equal(s.attached, 1);
    assert_int_equal(s.triggers, 1);
    assert_int_equal(s.exits, 1);
    assert_int_equal(s.removed, 1);
}

static void test_stop_on_bars_and_gap(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss_pct = 5};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    EQ(state_of(w, 1, BTCUSDT).stop_loss, "95");
    bar(w, "100", "101", "95.5", "100");
    assert_int_equal(w->n_sent, 0);
    bar(w, "99", "100", "95", "98"); /* the low touches the stop */
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "stop_loss");
    LOGGED(w, "price 95 crossed 95");
    exit_fills(w, 0, "98");
    assert_int_equal(sv_protect_count(w->p), 0);

    /* a gap through the stop fires at the open */
    sv_protect_spec_t fixed = {.stop_loss = 95};
    BUY(w, 2, BTCUSDT, &fixed, "1", "100");
    bar(w, "90", "92", "89", "91");
    assert_int_equal(w->n_sent, 2);
    EXIT(w, 1, 2, SV_SIDE_SELL, "1", "stop_loss");
    LOGGED(w, "stop_loss: strategy s2 BTCUSDT long 1 (entry 100): price 90 crossed 95; sell 1 at market, order 1001");
}

static void test_trailing_stop_on_trades(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.trailing_pct = 2};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    EQ(st.best, "100");
    EQ(st.trailing_stop, "98");
    TRADE(w, "99");
    TRADE(w, "101");
    EQ(state_of(w, 1, BTCUSDT).trailing_stop, "98.98");
    TRADE(w, "105");
    EQ(state_of(w, 1, BTCUSDT).trailing_stop, "102.9");
    TRADE(w, "110");
    TRADE(w, "108"); /* the stop never moves back */
    st = state_of(w, 1, BTCUSDT);
    EQ(st.best, "110");
    EQ(st.trailing_stop, "107.8");
    TRADE(w, "107.80000001");
    assert_int_equal(w->n_sent, 0);
    TRADE(w, "107.8");
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "trailing_stop");
    LOGGED(w, "price 107.8 crossed 107.8 (2% from the best price 110)");
    /* another symbol: only its own prices move its stop */
    sv_protect_spec_t q = {.trailing_pct = 1};
    BUY(w, 2, ETHUSDT, &q, "1", "200");
    trade_on(w, ETHUSDT, "210"); /* best 210: stop 207.9 */
    EQ(state_of(w, 2, ETHUSDT).trailing_stop, "207.9");
    assert_int_equal(w->n_sent, 1);
}

static void test_trailing_stop_along_the_bar_path(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.trailing_pct = 2};
    BUY(w, 1, BTCUSDT, &sp, "1", "108"); /* stop 105.84 */
    /* low first (108 - 106 < 112 - 108): 108 -> 106 (above the stop) -> 112 (ratchets) -> 110 */
    bar(w, "108", "112", "106", "110");
    assert_int_equal(w->n_sent, 0);
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    EQ(st.best, "112");
    EQ(st.trailing_stop, "109.76");
    /* high first: 110 -> 111 -> 107 crosses 109.76 */
    bar(w, "110", "111", "107", "108");
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "trailing_stop");
    LOGGED(w, "price 109.76 crossed 109.76 (2% from the best price 112)");

    /* in one bar: high first 108 -> 110 ratchets the stop to 107.8, then 105 crosses it */
    BUY(w, 2, BTCUSDT, &sp, "1", "108");
    bar(w, "108", "110", "105", "106");
    EXIT(w, 1, 2, SV_SIDE_SELL, "1", "trailing_stop");
    LOGGED(w, "price 107.8 crossed 107.8 (2% from the best price 110)");
}

static void test_take_profit_partial_levels(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.take_profit_pct = {5, 10}, .take_profit_fraction = {0.5, 0}, .n_take_profit = 2};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    assert_int_equal(st.n_take_profit, 2);
    EQ(st.take_profit[0], "105");
    EQ(st.take_profit[1], "110");
    EQ(st.take_profit_qty[0], "0.5");
    EQ(st.take_profit_qty[1], "0");
    /* low first: 100 -> 99 -> 106 reaches level 1 only */
    bar(w, "100", "106", "99", "104");
    assert_int_equal(w->n_sent, 1);
    EXIT(w, 0, 1, SV_SIDE_SELL, "0.5", "take_profit");
    LOGGED(w, "take_profit: strategy s1 BTCUSDT long 1 (entry 100): price 105 reached take-profit level 1 at 105; "
              "sell 0.5 at market, order 1000");
    exit_fills(w, 0, "104.5");
    st = state_of(w, 1, BTCUSDT);
    EQ(st.qty, "0.5");
    EQ(st.basis, "1"); /* protective exits do not change what fractions apply to */
    assert_int_equal(st.done, 1);
    TRADE(w, "109.99");
    assert_int_equal(w->n_sent, 1);
    TRADE(w, "110");
    EXIT(w, 1, 1, SV_SIDE_SELL, "0.5", "take_profit"); /* 0 = all that is left */
    exit_fills(w, 1, "110");
    assert_int_equal(sv_protect_count(w->p), 0);
    EQ(sv_portfolio_position(w->port, 1, BTCUSDT)->realized, "7.25");

    /* fractions round down to the lot */
    w->lot = fx("0.001");
    sv_protect_spec_t lots = {.take_profit = {120, 130}, .take_profit_fraction = {0.5, 0.5}, .n_take_profit = 2};
    BUY(w, 2, BTCUSDT, &lots, "0.005", "100");
    TRADE(w, "125");
    EXIT(w, 2, 2, SV_SIDE_SELL, "0.002", "take_profit");
    exit_fills(w, 2, "125");
    TRADE(w, "130"); /* 0.5 of 0.005 is 0.002 again, but it would leave 0.001: one lot is no dust */
    EXIT(w, 3, 2, SV_SIDE_SELL, "0.002", "take_profit");
    exit_fills(w, 3, "130");
    EQ(state_of(w, 2, BTCUSDT).qty, "0.001"); /* nothing left to protect it but nothing fires */
}

static void test_brackets(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t br = {.stop_loss = 95, .take_profit = {110}, .n_take_profit = 1};
    /* low first (6 < 11): the stop fires, the take profit never does */
    BUY(w, 1, BTCUSDT, &br, "1", "100");
    bar(w, "100", "111", "94", "100");
    assert_int_equal(w->n_sent, 1);
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "stop_loss");
    exit_fills(w, 0, "100");
    assert_int_equal(sv_protect_count(w->p), 0);

    /* high first (10.5 < 11): the take profit closes everything, the stop is gone */
    BUY(w, 1, BTCUSDT, &br, "1", "100");
    bar(w, "100", "110.5", "89", "100");
    assert_int_equal(w->n_sent, 2);
    EXIT(w, 1, 1, SV_SIDE_SELL, "1", "take_profit");
    exit_fills(w, 1, "100");
    assert_int_equal(sv_protect_count(w->p), 0);

    /* half at the take profit, then the stop closes the other half in the same bar */
    sv_protect_spec_t half = {.stop_loss = 95, .take_profit = {105}, .take_profit_fraction = {0.5},
                              .n_take_profit = 1};
    BUY(w, 1, BTCUSDT, &half, "1", "100");
    bar(w, "100", "106", "93", "95");
    assert_int_equal(w->n_sent, 4);
    EXIT(w, 2, 1, SV_SIDE_SELL, "0.5", "take_profit");
    EXIT(w, 3, 1, SV_SIDE_SELL, "0.5", "stop_loss");
    exit_fills(w, 2, "95");
    EQ(state_of(w, 1, BTCUSDT).qty, "0.5");
    exit_fills(w, 3, "95");
    assert_int_equal(sv_protect_count(w->p), 0);
}

static void test_short_positions(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss_pct = 2, .trailing_pct = 1, .take_profit_pct = {5},
                            .take_profit_fraction = {0.5}, .n_take_profit = 1};
    SELL(w, 1, BTCUSDT, &sp, "1", "100");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    assert_int_equal(st.side, -1);
    EQ(st.stop_loss, "102");
    EQ(st.trailing_stop, "101");
    EQ(st.take_profit[0], "95");
    TRADE(w, "98");
    EQ(state_of(w, 1, BTCUSDT).trailing_stop, "98.98");
    TRADE(w, "96");
    EQ(state_of(w, 1, BTCUSDT).trailing_stop, "96.96");
    assert_int_equal(w->n_sent, 0);
    TRADE(w, "95");
    EXIT(w, 0, 1, SV_SIDE_BUY, "0.5", "take_profit");
    exit_fills(w, 0, "95");
    EQ(state_of(w, 1, BTCUSDT).trailing_stop, "95.95");
    quote(w, "95.9", "95.94"); /* a short watches the ask */
    assert_int_equal(w->n_sent, 1);
    quote(w, "95.9", "95.95");
    EXIT(w, 1, 1, SV_SIDE_BUY, "0.5", "trailing_stop");
    exit_fills(w, 1, "96");
    assert_int_equal(sv_protect_count(w->p), 0);

    /* a short's fixed stop on a bar: low first 100 -> 99 -> 103 crosses 102 */
    sv_protect_spec_t fixed = {.stop_loss = 102};
    SELL(w, 2, BTCUSDT, &fixed, "1", "100");
    bar(w, "100", "103", "99", "101");
    EXIT(w, 2, 2, SV_SIDE_BUY, "1", "stop_loss");
}

static void test_removed_when_flat_or_reversed(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss = 95};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    SELL(w, 1, BTCUSDT, NULL, "1", "101"); /* the strategy closes it itself */
    assert_int_equal(sv_protect_count(w->p), 0);
    LOGGED(w, "protections removed (the position is flat)");
    TRADE(w, "90");
    assert_int_equal(w->n_sent, 0);

    /* an exit in flight when the strategy closes the position is canceled */
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    TRADE(w, "95");
    assert_int_equal(w->n_sent, 1);
    SELL(w, 1, BTCUSDT, NULL, "1", "95");
    assert_int_equal(w->n_canceled, 1);
    assert_int_equal(w->canceled[0], 1000);
    assert_int_equal(sv_protect_count(w->p), 0);

    /* reversed: the old side's protections go, the new side gets the defaults */
    char why[200];
    sv_protect_spec_t def = {.stop_loss_pct = 10};
    assert_int_equal(sv_protect_set_defaults(w->p, 1, &def, why, sizeof why), SV_OK);
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    EQ(state_of(w, 1, BTCUSDT).stop_loss, "95");
    SELL(w, 1, BTCUSDT, NULL, "3", "100");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    assert_int_equal(st.side, -1);
    EQ(st.qty, "2");
    EQ(st.stop_loss, "110");
    LOGGED(w, "protections removed (the position reversed)");
}

static void test_partial_close_by_the_strategy(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss = 90, .take_profit = {110, 120}, .take_profit_fraction = {0.5, 0},
                            .n_take_profit = 2};
    BUY(w, 1, BTCUSDT, &sp, "2", "100");
    SELL(w, 1, BTCUSDT, NULL, "1", "105"); /* fractions now apply to what is left */
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    EQ(st.qty, "1");
    EQ(st.basis, "1");
    EQ(st.stop_loss, "90");
    TRADE(w, "110");
    EXIT(w, 0, 1, SV_SIDE_SELL, "0.5", "take_profit");
    /* the strategy adds 1 at 112: the basis grows */
    BUY(w, 1, BTCUSDT, NULL, "1", "112");
    st = state_of(w, 1, BTCUSDT);
    EQ(st.qty, "2");
    EQ(st.basis, "2");
    EQ(st.in_flight, "0.5");
    /* the strategy sells 1.8 while 0.5 is being closed: the exit would overshoot, it is canceled */
    SELL(w, 1, BTCUSDT, NULL, "1.8", "111");
    assert_int_equal(w->n_canceled, 1);
    exit_ends(w, 0, SV_OS_CANCELED);
    TRADE(w, "111");
    EXIT(w, 1, 1, SV_SIDE_SELL, "0.2", "take_profit"); /* sent again, capped at what is left */
}

static void test_exit_canceled_is_sent_again(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss = 95};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    TRADE(w, "95");
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "stop_loss");
    /* the strategy is disabled: the host cancels its open orders, the exit among them */
    exit_ends(w, 0, SV_OS_CANCELED);
    LOGGED(w, "exit order 1000 canceled with 1 unfilled; sending it again on the next price");
    assert_int_equal(w->n_sent, 1);
    EQ(state_of(w, 1, BTCUSDT).in_flight, "0");
    w->kill = 1; /* the kill switch stops new trading, not protective exits */
    TRADE(w, "97"); /* a stop that fired stays fired even if the price recovers */
    EXIT(w, 1, 1, SV_SIDE_SELL, "1", "stop_loss");
    LOGGED(w, "kill switch engaged: a protective exit only reduces, sent anyway");
    sv_protect_stats_t s;
    sv_protect_stats(w->p, &s);
    assert_int_equal(s.resent, 1);
    assert_int_equal(s.exits, 2);
    exit_fills(w, 1, "97");
    assert_int_equal(sv_protect_count(w->p), 0);

    /* halted (flatten_halt): the risk engine closes positions itself; nothing is sent */
    w->halted = 1;
    BUY(w, 2, BTCUSDT, &sp, "1", "100");
    TRADE(w, "94");
    assert_int_equal(w->n_sent, 2);
    w->halted = 0;
    TRADE(w, "94");
    EXIT(w, 2, 2, SV_SIDE_SELL, "1", "stop_loss");
}

static void test_rejected_exits_give_up(void **state)
{
    world_t *w = *state;
    sv_protect_spec_t sp = {.stop_loss = 95};
    BUY(w, 1, BTCUSDT, &sp, "1", "100");
    TRADE(w, "95");
    exit_ends(w, 0, SV_OS_REJECTED);
    TRADE(w, "95");
    exit_ends(w, 1, SV_OS_REJECTED);
    TRADE(w, "95");
    assert_int_equal(w->n_sent, 3);
    int alerts = w->n_alerts;
    exit_ends(w, 2, SV_OS_REJECTED);
    assert_int_equal(sv_protect_count(w->p), 0);
    assert_int_equal(w->n_alerts, alerts + 1);
    LOGGED(w, "the exit was rejected 3 times in a row (last: order 1002); the position is NOT protected any more");
    TRADE(w, "90");
    assert_int_equal(w->n_sent, 3);
}

static void test_defaults_and_overrides(void **state)
{
    world_t *w = *state;
    char why[300];
    sv_protect_spec_t def = {.stop_loss_pct = 2, .trailing_pct = 1.5, .take_profit_pct = {3, 6},
                             .take_profit_fraction = {0.5, 0}, .n_take_profit = 2};
    assert_int_equal(sv_protect_set_defaults(w->p, 1, &def, why, sizeof why), SV_OK);
    BUY(w, 1, BTCUSDT, NULL, "1", "200");
    sv_protect_state_t st = state_of(w, 1, BTCUSDT);
    EQ(st.stop_loss, "196");
    EQ(st.trailing_stop, "197");
    EQ(st.take_profit[0], "206");
    EQ(st.take_profit[1], "212");
    /* an order's own groups replace the defaults' groups; the rest stays */
    sv_protect_spec_t own = {.take_profit = {250}, .n_take_profit = 1};
    BUY(w, 1, ETHUSDT, &own, "1", "200");
    st = state_of(w, 1, ETHUSDT);
    EQ(st.stop_loss, "196");
    EQ(st.trailing_stop, "197");
    assert_int_equal(st.n_take_profit, 1);
    EQ(st.take_profit[0], "250");
    /* no defaults, no options: nothing is kept */
    BUY(w, 2, BTCUSDT, NULL, "1", "200");
    assert_int_equal(sv_protect_state(w->p, 2, BTCUSDT, &st), SV_E_NOTFOUND);
    /* adding to a position recomputes percentages from the average entry */
    BUY(w, 1, BTCUSDT, NULL, "1", "210");
    st = state_of(w, 1, BTCUSDT);
    EQ(st.entry, "205");
    EQ(st.stop_loss, "200.9");
    EQ(st.take_profit[0], "211.15");
    /* protect the open position now (signal 0) */
    sv_protect_spec_t now = {.stop_loss = 150};
    assert_int_equal(sv_protect_order(w->p, 2, BTCUSDT, 0, &now, why, sizeof why), SV_OK);
    EQ(state_of(w, 2, BTCUSDT).stop_loss, "150");
    assert_int_equal(sv_protect_order(w->p, 3, BTCUSDT, 0, &now, why, sizeof why), SV_E_STATE);
    assert_string_equal(why, "no open position on BTCUSDT");
    /* cleared defaults protect nothing new */
    assert_int_equal(sv_protect_set_defaults(w->p, 1, NULL, why, sizeof why), SV_OK);
    BUY(w, 1, BTCUSDT, NULL, "1", "200");
    assert_int_equal(sv_protect_remove(w->p, 2, BTCUSDT), SV_OK);
    assert_int_equal(sv_protect_remove(w->p, 2, BTCUSDT), SV_E_NOTFOUND);
    assert_int_equal(sv_protect_set_defaults(w->p, MAX_STRAT + 1, &def, why, sizeof why), SV_E_RANGE);
}

static void test_entry_bar_counts_from_the_fill(void **state)
{
    world_t *w = *state;
    /* a buy limit at 99 fills on the bar 100 -> 101 -> 97 -> 100 (length 8) at distance 3:
     * 22.5 s into the minute, as the venue reports it. The high before the fill does not count. */
    sv_protect_spec_t sp = {.take_profit = {100.5}, .n_take_profit = 1};
    int64_t start = w->now;
    order_at(w, 1, BTCUSDT, &sp, SV_SIDE_BUY, "1", "99", start + 22500000000LL);
    bar(w, "100", "101", "97", "100");
    assert_int_equal(w->n_sent, 0);
    EQ(state_of(w, 1, BTCUSDT).best, "100");
    /* the next bar counts whole: low first 100 -> 99.5 -> 100.6 */
    bar(w, "100", "100.6", "99.5", "100");
    EXIT(w, 0, 1, SV_SIDE_SELL, "1", "take_profit");
}

static void test_binding_and_stale_specs(void **state)
{
    world_t *w = *state;
    char why[300];
    sv_protect_spec_t sp = {.stop_loss = 95};
    /* an order rejected by risk: its spec goes with it */
    assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 50, &sp, why, sizeof why), SV_OK);
    order_ev(w, 1, BTCUSDT, 7, 50, SV_OS_REJECTED, SV_SIDE_BUY, fx("1"), 0);
    /* an amend never gets an order of its own: a later signal's order drops its spec */
    assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 51, &sp, why, sizeof why), SV_OK);
    order_ev(w, 1, BTCUSDT, 8, 52, SV_OS_PENDING, SV_SIDE_BUY, fx("1"), 0);
    /* an order that fills whole: its spec ends with it */
    w->next_signal = 52;
    w->next_client = 9;
    for (int i = 0; i < 20; i++) { /* 20 > the 16 pending slots: none leaked */
        BUY(w, 1, BTCUSDT, &sp, "1", "100");
        SELL(w, 1, BTCUSDT, NULL, "1", "100");
    }
    assert_int_equal(sv_protect_count(w->p), 0);
    /* a fill of client 7 or 8 now gets no protection */
    fill_ev(w, 1, BTCUSDT, 8, SV_SIDE_BUY, fx("1"), fx("100"), w->now);
    assert_int_equal(sv_protect_count(w->p), 0);
    /* the table of waiting orders is bounded */
    for (int i = 0; i < 16; i++)
        assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 1000 + (uint64_t)i, &sp, why, sizeof why), SV_OK);
    assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 2000, &sp, why, sizeof why), SV_E_FULL);
    assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 1000, &sp, why, sizeof why), SV_OK); /* replaces */
    assert_int_equal(sv_protect_order(w->p, 0, BTCUSDT, 3000, &sp, why, sizeof why), SV_E_RANGE);
}

static void bad(const sv_protect_spec_t *sp, const char *want)
{
    char why[300] = "";
    assert_int_equal(sv_protect_validate(sp, why, sizeof why), SV_E_INVAL);
    if (!strstr(why, want))
        fail_msg("validation says '%s', want '%s'", why, want);
}

static void test_validation(void **state)
{
    world_t *w = *state;
    char why[300];
    sv_protect_spec_t ok = {.stop_loss = 95, .trailing_pct = 1, .take_profit = {110, 0}, .take_profit_pct = {0, 20},
                            .take_profit_fraction = {0.5, 0.5}, .n_take_profit = 2};
    assert_int_equal(sv_protect_validate(&ok, why, sizeof why), SV_OK);
    sv_protect_spec_t s;
    memset(&s, 0, sizeof s);
    bad(&s, "nothing to protect with");
    s = ok;
    s.stop_loss_pct = 2;
    bad(&s, "give stop_loss or stop_loss_pct, not both");
    s = ok;
    s.stop_loss = -1;
    bad(&s, "stop_loss must be a price >= 0, got -1");
    s = ok;
    s.trailing_pct = 100;
    bad(&s, "trailing_pct must be in [0, 100), got 100");
    s = ok;
    s.trailing_pct = NAN;
    bad(&s, "trailing_pct must be in [0, 100)");
    s = ok;
    s.stop_loss = 0;
    s.stop_loss_pct = INFINITY;
    bad(&s, "stop_loss_pct must be in [0, 100)");
    s = ok;
    s.n_take_profit = 5;
    bad(&s, "at most 4 take-profit levels, got 5");
    s = ok;
    s.take_profit_pct[0] = 3;
    bad(&s, "take-profit level 1 needs exactly one of a price (take_profit) and a percentage");
    s = ok;
    s.take_profit[0] = 0;
    bad(&s, "take-profit level 1 needs exactly one");
    s = ok;
    s.take_profit_fraction[1] = 1.5;
    bad(&s, "take_profit_fraction level 2 must be in [0, 1] (0 = all that is left), got 1.5");
    s = ok;
    s.take_profit_fraction[1] = 0.6;
    bad(&s, "take_profit_fraction levels add up to 1.1, more than the whole position");
    s = ok;
    s.take_profit_pct[1] = -20;
    bad(&s, "take_profit_pct level 2 must be >= 0, got -20");
    /* the order API refuses the same, naming the reason */
    s = ok;
    s.take_profit_fraction[0] = -0.1;
    assert_int_equal(sv_protect_order(w->p, 1, BTCUSDT, 1, &s, why, sizeof why), SV_E_INVAL);
    assert_string_equal(why, "take_profit_fraction level 1 must be in [0, 1] (0 = all that is left), got -0.1");
    assert_int_equal(sv_protect_set_defaults(w->p, 1, &s, why, sizeof why), SV_E_INVAL);
    assert_null(sv_protect_new(NULL, 4, 4, 4, 4));
    assert_string_equal(sv_protect_kind_name(SV_PROTECT_TRAILING_STOP), "trailing_stop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fixed_stop_on_trades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_on_bars_and_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_stop_on_trades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_stop_along_the_bar_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_profit_partial_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_brackets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_when_flat_or_reversed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_close_by_the_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_canceled_is_sent_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_exits_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_bar_counts_from_the_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_and_stale_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
