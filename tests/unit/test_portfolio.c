/* test_portfolio: engine/portfolio.h with exact fixed-point values: average cost, realized and
 * unrealized PnL, fees in quote, base and a third asset, balances, round-trip records, the
 * account as the sum of strategies, errors that leave the state unchanged, equity, and a
 * property test of 1,000,000 random fills checked against an independent model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "portfolio.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

typedef __int128 i128;

/* Asset and symbol ids, as one intern table would hand them out. */
enum {
    USDT = 1, BTC = 2, ETH = 3, BNB = 4,
    BTCUSDT = 5, ETHUSDT = 6, ETHBTC = 7, BNBUSDT = 8,
    NOINS = 9,     /* a symbol without an instrument */
    BTCUSDT2 = 10, /* a second BTC/USDT symbol (another venue's name) */
    BIG = 11,      /* a symbol id >= the portfolio's max_ids */
    MAX_IDS = 11, MAX_STRAT = 4
};

typedef struct world {
    sv_instruments_t *ins;
    sv_portfolio_t *p;
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
        fail_msg("line %d: %s = %s (%lld), want %s (%lld)", line, expr, g, (long long)got, w,
                 (long long)want);
    }
}

/* EQ(value, "decimal"): exact fixed-point equality. */
#define EQ(got, want) eq_fixed((got), fx(want), #got, __LINE__)

static void add_instrument(sv_instruments_t *ins, uint32_t sym, uint32_t base, uint32_t quote)
{
    sv_instrument_t in = {.symbol = sym, .base = base, .quote = quote, .tick = 1, .lot = 1};
    assert_int_equal(sv_instruments_set(ins, &in), SV_OK);
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    w->ins = sv_instruments_new(16);
    add_instrument(w->ins, BTCUSDT, BTC, USDT);
    add_instrument(w->ins, ETHUSDT, ETH, USDT);
    add_instrument(w->ins, ETHBTC, ETH, BTC);
    add_instrument(w->ins, BNBUSDT, BNB, USDT);
    add_instrument(w->ins, BTCUSDT2, BTC, USDT);
    add_instrument(w->ins, BIG, BTC, USDT);
    w->p = sv_portfolio_new(w->ins, MAX_IDS, MAX_STRAT);
    assert_non_null(w->p);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    sv_portfolio_free(w->p);
    sv_instruments_free(w->ins);
    free(w);
    return 0;
}

static sv_event_t fill_event(uint32_t strategy, uint32_t sym, int side, sv_fixed_t qty,
                             sv_fixed_t price, sv_fixed_t fee, uint32_t fee_asset, int64_t ts)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_FILL;
    ev.h.symbol = sym;
    ev.h.ts_exchange = ts;
    ev.u.fill.side = (int8_t)side;
    ev.u.fill.qty = qty;
    ev.u.fill.price = price;
    ev.u.fill.fee = fee;
    ev.u.fill.fee_asset = fee_asset;
    ev.u.fill.strategy = strategy;
    return ev;
}

static int fill_units(sv_portfolio_t *p, uint32_t strategy, uint32_t sym, int side, sv_fixed_t qty,
                      sv_fixed_t price, sv_fixed_t fee, uint32_t fee_asset, int64_t ts)
{
    sv_event_t ev = fill_event(strategy, sym, side, qty, price, fee, fee_asset, ts);
    return sv_portfolio_apply_fill(p, &ev);
}

/* FILL(p, strategy, symbol, side, "qty", "price", "fee", fee_asset, ts): must succeed. */
#define FILL(p, s, sym, side, q, px, fee, fa, ts)                                               \
    assert_int_equal(fill_units((p), (s), (sym), (side), fx(q), fx(px), fx(fee), (fa), (ts)), SV_OK)

/* The state of a position, every field exact. */
#define POS(p, s, sym, q, c, r, f)                                                              \
    do {                                                                                        \
        const sv_position_t *pos_ = sv_portfolio_position((p), (s), (sym));                     \
        assert_int_equal(pos_->strategy, (s));                                                  \
        assert_int_equal(pos_->symbol, (sym));                                                  \
        EQ(pos_->qty, q);                                                                       \
        EQ(pos_->cost, c);                                                                      \
        EQ(pos_->realized, r);                                                                  \
        EQ(pos_->fees, f);                                                                      \
    } while (0)

#define RECORD(p, i, s, sym, sd, ots, cts, q, entry, exit, pnl_, fees_)                         \
    do {                                                                                        \
        const sv_trade_record_t *t_ = sv_portfolio_trade((p), (i));                             \
        assert_non_null(t_);                                                                    \
        assert_int_equal(t_->strategy, (s));                                                    \
        assert_int_equal(t_->symbol, (sym));                                                    \
        assert_int_equal(t_->side, (sd));                                                       \
        assert_int_equal(t_->open_ts, (ots));                                                   \
        assert_int_equal(t_->close_ts, (cts));                                                  \
        EQ(t_->qty, q);                                                                         \
        EQ(t_->entry_price, entry);                                                             \
        EQ(t_->exit_price, exit);                                                               \
        EQ(t_->pnl, pnl_);                                                                      \
        EQ(t_->fees, fees_);                                                                    \
    } while (0)

static sv_fixed_t avg_entry(const sv_position_t *pos)
{
    sv_fixed_t v = 0;
    assert_int_equal(sv_fixed_muldiv(pos->cost, SV_FIXED_SCALE, pos->qty, &v), SV_OK);
    return v;
}

/* ---- positions and PnL ---------------------------------------------------------------- */

static void test_buy_then_sell_at_profit(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    assert_int_equal(sv_portfolio_set_balance(p, USDT, fx("100000")), SV_OK);
    assert_int_equal(sv_portfolio_exposed(p), 0);

    FILL(p, 1, BTCUSDT, +1, "0.5", "20000", "10", USDT, 1000);
    POS(p, 1, BTCUSDT, "0.5", "10000", "0", "10");
    POS(p, 0, BTCUSDT, "0.5", "10000", "0", "10");
    EQ(avg_entry(sv_portfolio_position(p, 1, BTCUSDT)), "20000");
    EQ(sv_portfolio_balance(p, USDT), "89990");
    EQ(sv_portfolio_balance(p, BTC), "0.5");
    assert_int_equal(sv_portfolio_position(p, 1, BTCUSDT)->opened_ts, 1000);
    assert_int_equal(sv_portfolio_position(p, 0, BTCUSDT)->opened_ts, 1000);
    assert_int_equal(sv_portfolio_exposed(p), 1);
    /* the fill's price is the mark until the market says otherwise */
    EQ(sv_portfolio_position(p, 1, BTCUSDT)->mark, "20000");
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, BTCUSDT)), "0");
    EQ(sv_portfolio_equity(p, USDT), "99990");

    sv_portfolio_mark(p, BTCUSDT, fx("20500.5"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, BTCUSDT)), "250.25");
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 0, BTCUSDT)), "250.25");
    EQ(sv_portfolio_equity(p, USDT), "100240.25");

    FILL(p, 1, BTCUSDT, -1, "0.5", "21000", "10.5", USDT, 2000);
    POS(p, 1, BTCUSDT, "0", "0", "500", "20.5");
    POS(p, 0, BTCUSDT, "0", "0", "500", "20.5");
    EQ(sv_portfolio_balance(p, USDT), "100479.5");
    EQ(sv_portfolio_balance(p, BTC), "0");
    EQ(sv_portfolio_fees(p), "20.5");
    assert_int_equal(sv_portfolio_fills(p), 2);
    assert_int_equal(sv_portfolio_position(p, 1, BTCUSDT)->opened_ts, 0);
    assert_int_equal(sv_portfolio_exposed(p), 0);
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, BTCUSDT)), "0");
    EQ(sv_portfolio_equity(p, USDT), "100479.5");

    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 1, BTCUSDT, +1, 1000, 2000, "0.5", "20000", "21000", "479.5", "20.5");
    assert_null(sv_portfolio_trade(p, 1));
}

static void test_partial_close(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 1, ETHUSDT, +1, "3", "100", "0", 0, 1);
    FILL(p, 1, ETHUSDT, +1, "1", "101", "0", 0, 2);
    POS(p, 1, ETHUSDT, "4", "401", "0", "0");
    EQ(avg_entry(sv_portfolio_position(p, 1, ETHUSDT)), "100.25");

    /* closes 1 of 4: releases 401/4 = 100.25 of cost */
    FILL(p, 1, ETHUSDT, -1, "1", "110", "0", 0, 3);
    POS(p, 1, ETHUSDT, "3", "300.75", "9.75", "0");
    EQ(avg_entry(sv_portfolio_position(p, 1, ETHUSDT)), "100.25");
    assert_int_equal(sv_portfolio_position(p, 1, ETHUSDT)->opened_ts, 1);

    FILL(p, 1, ETHUSDT, -1, "2", "90", "0", 0, 4);
    POS(p, 1, ETHUSDT, "1", "100.25", "-10.75", "0");
    sv_portfolio_mark(p, ETHUSDT, fx("95"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, ETHUSDT)), "-5.25");
    assert_int_equal(sv_portfolio_trade_count(p), 0);

    FILL(p, 1, ETHUSDT, -1, "1", "100", "0", 0, 5);
    /* -(300 + 101 - 110 - 180 - 100) */
    POS(p, 1, ETHUSDT, "0", "0", "-11", "0");
    EQ(sv_portfolio_balance(p, USDT), "-11");
    EQ(sv_portfolio_balance(p, ETH), "0");
    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 1, ETHUSDT, +1, 1, 5, "4", "100.25", "97.5", "-11", "0");
}

static void test_flip_long_to_short_in_one_fill(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 1, ETHUSDT, +1, "2", "50", "0", 0, 10);
    FILL(p, 1, ETHUSDT, -1, "5", "60", "1.5", USDT, 20);
    /* closes 2 (notional 120 of 300, realizes 20), opens 3 short at 60 */
    POS(p, 1, ETHUSDT, "-3", "-180", "20", "1.5");
    EQ(avg_entry(sv_portfolio_position(p, 1, ETHUSDT)), "60");
    assert_int_equal(sv_portfolio_position(p, 1, ETHUSDT)->opened_ts, 20);
    assert_int_equal(sv_portfolio_position(p, 0, ETHUSDT)->opened_ts, 20);
    EQ(sv_portfolio_balance(p, ETH), "-3");
    EQ(sv_portfolio_balance(p, USDT), "198.5");
    sv_portfolio_mark(p, ETHUSDT, fx("58"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, ETHUSDT)), "6");
    /* the fee is split pro rata: 2/5 to the closed trip, 3/5 to the new one */
    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 1, ETHUSDT, +1, 10, 20, "2", "50", "60", "19.4", "0.6");
}

static void test_short_then_cover(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 2, BTCUSDT, -1, "1.5", "200", "0", 0, 7);
    POS(p, 2, BTCUSDT, "-1.5", "-300", "0", "0");
    EQ(avg_entry(sv_portfolio_position(p, 2, BTCUSDT)), "200");
    EQ(sv_portfolio_balance(p, BTC), "-1.5");
    EQ(sv_portfolio_balance(p, USDT), "300");
    sv_portfolio_mark(p, BTCUSDT, fx("210"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 2, BTCUSDT)), "-15");
    assert_int_equal(sv_portfolio_exposed(p), 1);

    FILL(p, 2, BTCUSDT, +1, "1.5", "180", "0", 0, 8);
    POS(p, 2, BTCUSDT, "0", "0", "30", "0");
    EQ(sv_portfolio_balance(p, BTC), "0");
    EQ(sv_portfolio_balance(p, USDT), "30");
    assert_int_equal(sv_portfolio_exposed(p), 0);
    RECORD(p, 0, 2, BTCUSDT, -1, 7, 8, "1.5", "200", "180", "30", "0");
}

static void test_fill_that_exactly_closes(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 1, BTCUSDT, +1, "0.1", "10", "0", 0, 1);
    FILL(p, 1, BTCUSDT, +1, "0.1", "20", "0", 0, 2);
    FILL(p, 1, BTCUSDT, +1, "0.1", "30.00000001", "0", 0, 3);
    POS(p, 1, BTCUSDT, "0.3", "6", "0", "0"); /* 0.1 * 30.00000001 rounds to 3 */
    FILL(p, 1, BTCUSDT, -1, "0.3", "25", "0", 0, 4);
    POS(p, 1, BTCUSDT, "0", "0", "1.5", "0");
    assert_int_equal(sv_portfolio_position(p, 1, BTCUSDT)->opened_ts, 0);
    assert_int_equal(sv_portfolio_exposed(p), 0);
    RECORD(p, 0, 1, BTCUSDT, +1, 1, 4, "0.3", "20", "25", "1.5", "0");
    /* the next fill starts a new trip */
    FILL(p, 1, BTCUSDT, -1, "0.2", "26", "0", 0, 5);
    POS(p, 1, BTCUSDT, "-0.2", "-5.2", "1.5", "0");
    assert_int_equal(sv_portfolio_position(p, 1, BTCUSDT)->opened_ts, 5);
    assert_int_equal(sv_portfolio_trade_count(p), 1);
}

static void test_many_small_fills_average_in(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    /* 1000 x 0.001 at 100.00, 100.01, ..., 109.99 */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fill_units(p, 3, BTCUSDT, +1, fx("0.001"), fx("100") + i * fx("0.01"), 0, 0, i + 1),
                         SV_OK);
    POS(p, 3, BTCUSDT, "1", "104.995", "0", "0");
    EQ(avg_entry(sv_portfolio_position(p, 3, BTCUSDT)), "104.995");

    /* 1000 x 0.00123457 at 100.12345678 + i * 0.01234567: every notional rounds */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fill_units(p, 3, ETHUSDT, +1, fx("0.00123457"),
                                    fx("100.12345678") + i * fx("0.01234567"), 0, 0, i + 1),
                         SV_OK);
    POS(p, 3, ETHUSDT, "1.23457", "131.22259216", "0", "0");
    EQ(avg_entry(sv_portfolio_position(p, 3, ETHUSDT)), "106.29011896");
    FILL(p, 3, ETHUSDT, -1, "1.23457", "110", "0", 0, 2000);
    POS(p, 3, ETHUSDT, "0", "0", "4.58010784", "0");
    RECORD(p, 0, 3, ETHUSDT, +1, 1, 2000, "1.23457", "106.29011896", "110", "4.58010784", "0");
}

static void test_fee_in_quote_base_and_third_asset(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    assert_int_equal(sv_portfolio_set_balance(p, USDT, fx("50000")), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, BNB, fx("1")), SV_OK);

    /* in the quote asset: as is */
    FILL(p, 1, BTCUSDT, +1, "1", "20000", "20", USDT, 1);
    EQ(sv_portfolio_balance(p, USDT), "29980");
    EQ(sv_portfolio_balance(p, BTC), "1");
    POS(p, 1, BTCUSDT, "1", "20000", "0", "20");

    /* in the base asset: the balance pays it, the position's quantity does not change, and
     * it counts at the fill's price */
    FILL(p, 1, BTCUSDT, +1, "1", "20001", "0.001", BTC, 2);
    EQ(sv_portfolio_balance(p, USDT), "9979");
    EQ(sv_portfolio_balance(p, BTC), "1.999");
    POS(p, 1, BTCUSDT, "2", "40001", "0", "40.001");

    /* in a third asset without a <BNB><USDT> mark: the balance pays, it counts 0 */
    FILL(p, 1, ETHUSDT, +1, "1", "1000", "0.05", BNB, 3);
    EQ(sv_portfolio_balance(p, BNB), "0.95");
    POS(p, 1, ETHUSDT, "1", "1000", "0", "0");

    /* with a mark: at the mark */
    sv_portfolio_mark(p, BNBUSDT, fx("300"));
    FILL(p, 1, ETHUSDT, +1, "1", "1000", "0.05", BNB, 4);
    EQ(sv_portfolio_balance(p, BNB), "0.9");
    POS(p, 1, ETHUSDT, "2", "2000", "0", "15");
    /* ETHBTC has no <BNB><BTC> symbol: 0 */
    FILL(p, 1, ETHBTC, +1, "1", "0.05", "0.05", BNB, 5);
    EQ(sv_portfolio_balance(p, BNB), "0.85");
    POS(p, 1, ETHBTC, "1", "0.05", "0", "0");

    EQ(sv_portfolio_fees(p), "55.001");
    EQ(sv_portfolio_balance(p, USDT), "7979");
    EQ(sv_portfolio_balance(p, ETH), "3");
    EQ(sv_portfolio_balance(p, BTC), "1.949");

    /* a base fee on the closing fill belongs to the trip */
    FILL(p, 1, BTCUSDT, -1, "2", "20000", "0.0005", BTC, 6);
    POS(p, 1, BTCUSDT, "0", "0", "-1", "50.001");
    EQ(sv_portfolio_balance(p, BTC), "-0.0515");
    RECORD(p, 0, 1, BTCUSDT, +1, 1, 6, "2", "20000.5", "20000", "-51.001", "50.001");
}

/* ---- exact rounding ----------------------------------------------------------------- */

static void test_rounding_to_the_last_unit(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 1, BTCUSDT, +1, "0.12345679", "12345.67891234", "0.01234568", USDT, 1);
    POS(p, 1, BTCUSDT, "0.12345679", "1524.15788889", "0", "0.01234568");
    /* 0.00000001 * 99999.99999999 = 0.00099999999999... rounds up to 0.001 */
    FILL(p, 1, BTCUSDT, +1, "0.00000001", "99999.99999999", "0", 0, 2);
    POS(p, 1, BTCUSDT, "0.1234568", "1524.15888889", "0", "0.01234568");
    /* releases round(1524.15888889 * 0.05555555 / 0.1234568) = 685.87137654 */
    FILL(p, 1, BTCUSDT, -1, "0.05555555", "12346.00000001", "0.00000001", USDT, 3);
    POS(p, 1, BTCUSDT, "0.06790125", "838.28751235", "0.01744376", "0.01234569");
    FILL(p, 1, BTCUSDT, -1, "0.06790125", "12000.12345678", "0.33333333", USDT, 4);
    POS(p, 1, BTCUSDT, "0", "0", "-23.44668572", "0.34567902");

    /* flat again: realized == -(sum of signed notionals), balances moved by exactly the
     * notionals and the fees */
    sv_fixed_t n[4];
    assert_int_equal(sv_fixed_mul(fx("12345.67891234"), fx("0.12345679"), &n[0]), SV_OK);
    assert_int_equal(sv_fixed_mul(fx("99999.99999999"), fx("0.00000001"), &n[1]), SV_OK);
    assert_int_equal(sv_fixed_mul(fx("12346.00000001"), fx("0.05555555"), &n[2]), SV_OK);
    assert_int_equal(sv_fixed_mul(fx("12000.12345678"), fx("0.06790125"), &n[3]), SV_OK);
    sv_fixed_t signed_sum = n[0] + n[1] - n[2] - n[3];
    assert_true(signed_sum == fx("23.44668572"));
    assert_true(sv_portfolio_position(p, 1, BTCUSDT)->realized == -signed_sum);
    assert_true(sv_portfolio_balance(p, USDT) == -signed_sum - fx("0.34567902"));
    EQ(sv_portfolio_balance(p, BTC), "0");
    RECORD(p, 0, 1, BTCUSDT, +1, 1, 4, "0.1234568", "12345.68601235", "12155.76787322",
           "-23.79236474", "0.34567902");
}

/* Every division rounds half away from zero: cost released, the closed share of a notional,
 * unrealized PnL and equity. */
static void test_halves_round_away_from_zero(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    /* long: 3.00000002 / 3 = 1.0000000067 -> 1.00000001; then 2.00000001 / 2 -> 1.00000001 */
    FILL(p, 1, BTCUSDT, +1, "2", "1", "0", 0, 1);
    FILL(p, 1, BTCUSDT, +1, "1", "1.00000002", "0", 0, 2);
    FILL(p, 1, BTCUSDT, -1, "1", "2", "0", 0, 3);
    POS(p, 1, BTCUSDT, "2", "2.00000001", "0.99999999", "0");
    FILL(p, 1, BTCUSDT, -1, "1", "2", "0", 0, 4);
    POS(p, 1, BTCUSDT, "1", "1", "1.99999998", "0");
    FILL(p, 1, BTCUSDT, -1, "1", "2", "0", 0, 5);
    POS(p, 1, BTCUSDT, "0", "0", "2.99999998", "0");
    /* short: the same, negative */
    FILL(p, 2, BTCUSDT, -1, "2", "1", "0", 0, 1);
    FILL(p, 2, BTCUSDT, -1, "1", "1.00000002", "0", 0, 2);
    FILL(p, 2, BTCUSDT, +1, "1", "0.5", "0", 0, 3);
    POS(p, 2, BTCUSDT, "-2", "-2.00000001", "0.50000001", "0");
    FILL(p, 2, BTCUSDT, +1, "1", "0.5", "0", 0, 4);
    POS(p, 2, BTCUSDT, "-1", "-1", "1.00000002", "0");
    /* a flip: notional 1.5 * 0.00000002 = 3 units; the closed half is 1.5 -> 2 units */
    FILL(p, 3, ETHUSDT, +1, "0.00000001", "1", "0", 0, 1);
    FILL(p, 3, ETHUSDT, -1, "0.00000002", "1.5", "0", 0, 2);
    POS(p, 3, ETHUSDT, "-0.00000001", "-0.00000001", "0.00000001", "0");
    /* unrealized: round(1.5 * -0.00000001) = -0.00000002 */
    sv_portfolio_mark(p, ETHUSDT, fx("1.5"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 3, ETHUSDT)), "-0.00000001");
    sv_portfolio_mark(p, ETHUSDT, fx("0.5"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 3, ETHUSDT)), "0");
    /* equity: 0.00000001 BNB at 0.5 is worth 0.00000001, -0.00000001 BNB -0.00000001 */
    assert_int_equal(sv_portfolio_set_balance(p, USDT, 0), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, BTC, 0), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, ETH, 0), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, BNB, 1), SV_OK);
    sv_portfolio_mark(p, BNBUSDT, fx("0.5"));
    EQ(sv_portfolio_equity(p, USDT), "0.00000001");
    assert_int_equal(sv_portfolio_set_balance(p, BNB, -1), SV_OK);
    EQ(sv_portfolio_equity(p, USDT), "-0.00000001");
}

/* ---- errors ------------------------------------------------------------------------- */

typedef struct snap {
    sv_position_t pos[MAX_IDS][MAX_STRAT + 1];
    sv_fixed_t bal[MAX_IDS];
    sv_fixed_t fees, eq_usdt;
    uint64_t fills;
    uint32_t trades;
    int exposed;
} snap_t;

static void take(const sv_portfolio_t *p, snap_t *s)
{
    memset(s, 0, sizeof *s);
    for (uint32_t sym = 0; sym < MAX_IDS; sym++)
        for (uint32_t st = 0; st <= MAX_STRAT; st++)
            s->pos[sym][st] = *sv_portfolio_position(p, st, sym);
    for (uint32_t a = 0; a < MAX_IDS; a++)
        s->bal[a] = sv_portfolio_balance(p, a);
    s->fees = sv_portfolio_fees(p);
    s->eq_usdt = sv_portfolio_equity(p, USDT);
    s->fills = sv_portfolio_fills(p);
    s->trades = sv_portfolio_trade_count(p);
    s->exposed = sv_portfolio_exposed(p);
}

static void expect_error(sv_portfolio_t *p, int want, sv_event_t ev)
{
    snap_t before, after;
    take(p, &before);
    int rc = sv_portfolio_apply_fill(p, &ev);
    if (rc != want)
        fail_msg("apply_fill: rc %d (%s), want %d (%s)", rc, sv_strerror(rc), want, sv_strerror(want));
    take(p, &after);
    assert_memory_equal(&before, &after, sizeof before);
}

static void test_errors_leave_state_unchanged(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    assert_int_equal(sv_portfolio_set_balance(p, USDT, fx("1000")), SV_OK);
    FILL(p, 1, BTCUSDT, +1, "2", "100", "0.2", USDT, 1);
    FILL(p, 2, BTCUSDT, -1, "1", "100", "0", 0, 1);

    expect_error(p, SV_E_NOTFOUND, fill_event(1, NOINS, +1, fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_NOTFOUND, fill_event(1, 0, +1, fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, 0, fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, 2, fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, 0, fx("100"), 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, -fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, fx("1"), 0, 0, 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, fx("1"), -fx("100"), 0, 0, 2));
    /* a fee needs an asset */
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, fx("1"), fx("100"), fx("1"), 0, 2));
    expect_error(p, SV_E_INVAL, fill_event(1, BTCUSDT, -1, fx("1"), fx("100"), fx("1"), MAX_IDS, 2));
    sv_event_t not_fill = fill_event(1, BTCUSDT, -1, fx("1"), fx("100"), 0, 0, 2);
    not_fill.h.kind = SV_EV_TRADE;
    expect_error(p, SV_E_INVAL, not_fill);
    /* ids beyond the portfolio's tables */
    expect_error(p, SV_E_RANGE, fill_event(MAX_STRAT + 1, BTCUSDT, -1, fx("1"), fx("100"), 0, 0, 2));
    expect_error(p, SV_E_RANGE, fill_event(1, BIG, -1, fx("1"), fx("100"), 0, 0, 2));

    /* overflow: the notional */
    expect_error(p, SV_E_RANGE, fill_event(1, BTCUSDT, -1, fx("1000"), fx("1000000000"), 0, 0, 2));
    /* overflow: the position, after a valid notional */
    expect_error(p, SV_E_RANGE, fill_event(1, BTCUSDT, +1, INT64_MAX - fx("1"), 1, 0, 0, 2));
    /* overflow: the fee converted at the fill's price */
    expect_error(p, SV_E_RANGE, fill_event(1, BTCUSDT, -1, fx("1"), fx("100000000"), fx("100000000"), BTC, 2));
    /* overflow: a balance, on a fill that would close strategy 1 and write a record */
    sv_fixed_t usdt = sv_portfolio_balance(p, USDT);
    EQ(usdt, "899.8");
    assert_int_equal(sv_portfolio_set_balance(p, USDT, INT64_MAX - fx("100")), SV_OK);
    expect_error(p, SV_E_RANGE, fill_event(1, BTCUSDT, -1, fx("2"), fx("101"), 0, 0, 2));
    assert_int_equal(sv_portfolio_set_balance(p, USDT, usdt), SV_OK);
    /* overflow: the fee's balance */
    assert_int_equal(sv_portfolio_set_balance(p, BNB, -INT64_MAX + 5), SV_OK);
    expect_error(p, SV_E_RANGE, fill_event(1, BTCUSDT, -1, fx("2"), fx("101"), 6, BNB, 2));
    assert_int_equal(sv_portfolio_set_balance(p, BNB, 0), SV_OK);

    /* bad ids for balances */
    assert_int_equal(sv_portfolio_set_balance(p, 0, 1), SV_E_RANGE);
    assert_int_equal(sv_portfolio_set_balance(p, MAX_IDS, 1), SV_E_RANGE);
    assert_true(sv_portfolio_balance(p, MAX_IDS) == 0);

    /* nothing leaked into the trip: it still closes as if the errors never happened */
    assert_int_equal(sv_portfolio_fills(p), 2);
    assert_int_equal(sv_portfolio_trade_count(p), 0);
    FILL(p, 1, BTCUSDT, -1, "2", "101", "0.202", USDT, 3);
    POS(p, 1, BTCUSDT, "0", "0", "2", "0.402");
    RECORD(p, 0, 1, BTCUSDT, +1, 1, 3, "2", "100", "101", "1.598", "0.402");
    EQ(sv_portfolio_balance(p, USDT), "1101.598");
    EQ(sv_portfolio_balance(p, BTC), "-1");
}

static void test_new_refuses_bad_arguments(void **state)
{
    world_t *w = *state;
    assert_null(sv_portfolio_new(NULL, 16, 1));
    assert_null(sv_portfolio_new(w->ins, 0, 1));
    assert_null(sv_portfolio_new(w->ins, 16, UINT32_MAX));
    sv_portfolio_t *p = sv_portfolio_new(w->ins, 16, 0); /* only fills with strategy 0 */
    assert_non_null(p);
    assert_int_equal(fill_units(p, 1, BTCUSDT, +1, fx("1"), fx("1"), 0, 0, 1), SV_E_RANGE);
    assert_int_equal(fill_units(p, 0, BTCUSDT, +1, fx("1"), fx("1"), 0, 0, 1), SV_OK);
    POS(p, 0, BTCUSDT, "1", "1", "0", "0");
    sv_portfolio_free(p);
    sv_portfolio_free(NULL);
}

/* ---- round-trip records ------------------------------------------------------------- */

static void test_trade_records_with_a_flip(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    /* the worked example of docs/portfolio.md */
    assert_int_equal(sv_portfolio_set_balance(p, USDT, fx("10000")), SV_OK);
    FILL(p, 2, ETHUSDT, +1, "1", "100", "0.1", USDT, 1000);
    POS(p, 2, ETHUSDT, "1", "100", "0", "0.1");
    EQ(sv_portfolio_balance(p, USDT), "9899.9");
    FILL(p, 2, ETHUSDT, +1, "2", "103", "0.2", USDT, 2000);
    POS(p, 2, ETHUSDT, "3", "306", "0", "0.3");
    EQ(sv_portfolio_balance(p, USDT), "9693.7");
    FILL(p, 2, ETHUSDT, -1, "1", "110", "0.11", USDT, 3000);
    POS(p, 2, ETHUSDT, "2", "204", "8", "0.41");
    EQ(sv_portfolio_balance(p, USDT), "9803.59");
    assert_int_equal(sv_portfolio_trade_count(p), 0);
    /* the flip: closes 2 of 3 (fee 2/3 of 1 = 0.66666667), opens 1 short at 105 */
    FILL(p, 2, ETHUSDT, -1, "3", "105", "1", USDT, 4000);
    POS(p, 2, ETHUSDT, "-1", "-105", "14", "1.41");
    EQ(sv_portfolio_balance(p, USDT), "10117.59");
    EQ(sv_portfolio_balance(p, ETH), "-1");
    assert_int_equal(sv_portfolio_position(p, 2, ETHUSDT)->opened_ts, 4000);
    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 2, ETHUSDT, +1, 1000, 4000, "3", "102", "106.66666667", "12.92333333", "1.07666667");
    FILL(p, 2, ETHUSDT, -1, "1", "104", "0.104", USDT, 5000);
    POS(p, 2, ETHUSDT, "-2", "-209", "14", "1.514");
    EQ(sv_portfolio_balance(p, USDT), "10221.486");
    sv_portfolio_mark(p, ETHUSDT, fx("101"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 2, ETHUSDT)), "7");
    FILL(p, 2, ETHUSDT, +1, "2", "100", "0.3", USDT, 6000);
    POS(p, 2, ETHUSDT, "0", "0", "23", "1.814");
    EQ(sv_portfolio_balance(p, USDT), "10021.186");
    EQ(sv_portfolio_balance(p, ETH), "0");
    assert_int_equal(sv_portfolio_trade_count(p), 2);
    RECORD(p, 1, 2, ETHUSDT, -1, 4000, 6000, "2", "104.5", "100", "8.26266667", "0.73733333");
    /* the trips' fees and PnL add up to the position's */
    EQ(sv_portfolio_trade(p, 0)->fees + sv_portfolio_trade(p, 1)->fees, "1.814");
    EQ(sv_portfolio_trade(p, 0)->pnl + sv_portfolio_trade(p, 1)->pnl, "21.186");
}

static void test_record_list_grows(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    for (int i = 0; i < 300; i++) {
        sv_fixed_t px = fx("100") + i;
        assert_int_equal(fill_units(p, 1 + i % 2, BTCUSDT, +1, fx("1"), px, 0, 0, 2 * i), SV_OK);
        assert_int_equal(fill_units(p, 1 + i % 2, BTCUSDT, -1, fx("1"), px + fx("1"), 0, 0, 2 * i + 1), SV_OK);
    }
    assert_int_equal(sv_portfolio_trade_count(p), 300);
    for (uint32_t i = 0; i < 300; i++) {
        const sv_trade_record_t *t = sv_portfolio_trade(p, i);
        assert_int_equal(t->strategy, 1 + i % 2);
        assert_int_equal(t->open_ts, 2 * i);
        assert_int_equal(t->close_ts, 2 * i + 1);
        assert_true(t->entry_price == fx("100") + (sv_fixed_t)i);
        assert_true(t->exit_price == fx("101") + (sv_fixed_t)i);
        EQ(t->pnl, "1");
    }
    POS(p, 1, BTCUSDT, "0", "0", "150", "0");
    POS(p, 0, BTCUSDT, "0", "0", "300", "0");
}

/* ---- strategies and the account ---------------------------------------------------- */

static void test_two_strategies_and_the_account(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    FILL(p, 1, BTCUSDT, +1, "2", "100", "0.2", USDT, 1);
    FILL(p, 2, BTCUSDT, -1, "1", "110", "0.11", USDT, 2);
    POS(p, 1, BTCUSDT, "2", "200", "0", "0.2");
    POS(p, 2, BTCUSDT, "-1", "-110", "0", "0.11");
    /* the account is the sum, not a position of its own: strategy 2's short does not close
     * strategy 1's long, so nothing is realized yet */
    POS(p, 0, BTCUSDT, "1", "90", "0", "0.31");
    assert_int_equal(sv_portfolio_position(p, 0, BTCUSDT)->opened_ts, 1);

    FILL(p, 1, BTCUSDT, -1, "1", "120", "0", 0, 3);
    POS(p, 1, BTCUSDT, "1", "100", "20", "0.2");
    POS(p, 0, BTCUSDT, "0", "-10", "20", "0.31");
    /* hedged: flat in quantity, the 10 locked in between the strategies is unrealized */
    assert_int_equal(sv_portfolio_exposed(p), 0);
    assert_int_equal(sv_portfolio_position(p, 0, BTCUSDT)->opened_ts, 0);
    sv_portfolio_mark(p, BTCUSDT, fx("130"));
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 0, BTCUSDT)), "10");
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 1, BTCUSDT)), "30");
    EQ(sv_portfolio_unrealized(sv_portfolio_position(p, 2, BTCUSDT)), "-20");

    FILL(p, 2, BTCUSDT, +1, "1", "90", "0", 0, 4);
    POS(p, 2, BTCUSDT, "0", "0", "20", "0.11");
    POS(p, 0, BTCUSDT, "1", "100", "40", "0.31");
    assert_int_equal(sv_portfolio_position(p, 0, BTCUSDT)->opened_ts, 4);
    assert_int_equal(sv_portfolio_exposed(p), 1);
    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 2, BTCUSDT, -1, 2, 4, "1", "110", "90", "19.89", "0.11");
    /* untouched strategies of a touched symbol are flat with their ids */
    POS(p, 3, BTCUSDT, "0", "0", "0", "0");
    EQ(sv_portfolio_balance(p, BTC), "1");
    EQ(sv_portfolio_balance(p, USDT), "-60.31");
}

static void test_fills_without_a_strategy(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    /* strategy 0 fills form their own position, recorded under strategy 0 and counted in
     * the account */
    FILL(p, 1, ETHUSDT, +1, "1", "100", "0", 0, 1);
    FILL(p, 0, ETHUSDT, -1, "1", "110", "0.5", USDT, 2);
    POS(p, 0, ETHUSDT, "0", "-10", "0", "0.5");
    assert_int_equal(sv_portfolio_trade_count(p), 0);
    FILL(p, 0, ETHUSDT, +1, "1", "105", "0", 0, 3);
    POS(p, 0, ETHUSDT, "1", "100", "5", "0.5");
    POS(p, 1, ETHUSDT, "1", "100", "0", "0");
    assert_int_equal(sv_portfolio_trade_count(p), 1);
    RECORD(p, 0, 0, ETHUSDT, -1, 2, 3, "1", "110", "105", "4.5", "0.5");
}

/* ---- marks and equity --------------------------------------------------------------- */

static void test_equity_and_marks(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    assert_int_equal(sv_portfolio_set_balance(p, USDT, fx("1000")), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, BTC, fx("0.12345678")), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, ETH, fx("2")), SV_OK);
    assert_int_equal(sv_portfolio_set_balance(p, BNB, fx("1")), SV_OK);
    /* no marks: only the quote asset's own balance */
    EQ(sv_portfolio_equity(p, USDT), "1000");
    EQ(sv_portfolio_equity(p, BTC), "0.12345678");

    sv_portfolio_mark(p, BTCUSDT, fx("12345.6789"));
    sv_portfolio_mark(p, ETHUSDT, fx("1500"));
    sv_portfolio_mark(p, ETHBTC, fx("0.075"));
    EQ(sv_portfolio_equity(p, USDT), "5524.15776391");
    EQ(sv_portfolio_equity(p, BTC), "0.27345678");
    sv_portfolio_mark(p, BNBUSDT, fx("300"));
    EQ(sv_portfolio_equity(p, USDT), "5824.15776391");
    /* a second BTC/USDT symbol does not value BTC twice; the first one marked keeps doing it */
    sv_portfolio_mark(p, BTCUSDT2, fx("99999"));
    EQ(sv_portfolio_equity(p, USDT), "5824.15776391");
    EQ(sv_portfolio_position(p, 0, BTCUSDT2)->mark, "99999");
    /* a newer mark revalues; bad marks are ignored */
    sv_portfolio_mark(p, BTCUSDT, fx("10000"));
    sv_portfolio_mark(p, BTCUSDT, 0);
    sv_portfolio_mark(p, BTCUSDT, -fx("1"));
    sv_portfolio_mark(p, MAX_IDS, fx("1"));
    EQ(sv_portfolio_position(p, 2, BTCUSDT)->mark, "10000");
    EQ(sv_portfolio_equity(p, USDT), "5534.5678");
    /* each asset's value rounds on its own: 0.33333333 * 0.00000003 = 0.0000000099999999 */
    assert_int_equal(sv_portfolio_set_balance(p, ETH, fx("0.33333333")), SV_OK);
    sv_portfolio_mark(p, ETHBTC, fx("0.00000003"));
    EQ(sv_portfolio_equity(p, BTC), "0.12345679");
    /* a short balance counts negative */
    assert_int_equal(sv_portfolio_set_balance(p, BTC, -fx("0.5")), SV_OK);
    EQ(sv_portfolio_equity(p, USDT), "-3200.000005"); /* 1000 - 5000 + 499.999995 + 300 */
    EQ(sv_portfolio_equity(p, MAX_IDS), "0");
}

static void test_position_lookups(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    const sv_position_t *none = sv_portfolio_position(p, MAX_STRAT + 1, BTCUSDT);
    assert_int_equal(none->qty, 0);
    assert_int_equal(none->cost, 0);
    assert_int_equal(none->mark, 0);
    none = sv_portfolio_position(p, 1, MAX_IDS + 5);
    assert_int_equal(none->qty, 0);
    const sv_position_t *never = sv_portfolio_position(p, 1, ETHBTC);
    assert_int_equal(never->qty, 0);
    assert_int_equal(never->realized, 0);
    assert_int_equal(sv_portfolio_trade_count(p), 0);
    assert_null(sv_portfolio_trade(p, 0));
    EQ(sv_portfolio_fees(p), "0");
    assert_int_equal(sv_portfolio_fills(p), 0);
}

/* ---- the property test ------------------------------------------------------------- */

enum { N_FILLS = 1000000, N_SYM = 4, N_STRAT = 3 };

static const uint32_t prop_sym[N_SYM] = {BTCUSDT, ETHUSDT, ETHBTC, BNBUSDT};
static const uint32_t prop_base[N_SYM] = {BTC, ETH, ETH, BNB};
static const uint32_t prop_quote[N_SYM] = {USDT, USDT, BTC, USDT};
/* price ranges in units: together 0.01 .. 100000 */
static const sv_fixed_t prop_lo[N_SYM] = {1000000000000LL, 10000000000LL, 1000000LL, 100000000LL};
static const sv_fixed_t prop_hi[N_SYM] = {10000000000000LL, 1000000000000LL, 100000000LL, 100000000000LL};

static uint64_t xorshift64s(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The model's own rounding: a * b / den, half away from zero. */
static i128 model_div(i128 num, i128 den)
{
    i128 q = num / den, r = num % den;
    if (2 * (r < 0 ? -r : r) >= den)
        q += num < 0 ? -1 : 1;
    return q;
}

static sv_fixed_t model_mul(sv_fixed_t a, sv_fixed_t b)
{
    return (sv_fixed_t)model_div((i128)a * b, SV_FIXED_SCALE);
}

typedef struct mpos {
    int64_t qty;
    i128 signed_n; /* sum of side * notional */
    i128 fees;     /* quote units */
    int trip_open, trip_side;
    int64_t trip_open_ts, trip_max;
    i128 entry_n, entry_q, exit_n, exit_q;
    i128 rec_pnl, rec_fees; /* over its closed records, read back from the portfolio */
    uint32_t trips;
} mpos_t;

typedef struct model {
    mpos_t pos[N_STRAT + 1][N_SYM];
    i128 bal[MAX_IDS];
    sv_fixed_t mark[MAX_IDS];
    i128 fees;
    uint32_t trades;
} model_t;

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* Applies one fill to the portfolio and to the model, and checks the record it closes. */
static void prop_fill(sv_portfolio_t *p, model_t *m, uint32_t st, int k, int side, sv_fixed_t qty,
                      sv_fixed_t price, sv_fixed_t fee, uint32_t fee_asset, int64_t ts)
{
    uint32_t sym = prop_sym[k], base = prop_base[k], quote = prop_quote[k];
    int rc = fill_units(p, st, sym, side, qty, price, fee, fee_asset, ts);
    if (rc != SV_OK)
        fail_msg("fill %lld: rc %d (%s)", (long long)ts, rc, sv_strerror(rc));

    mpos_t *mp = &m->pos[st][k];
    sv_fixed_t n = model_mul(price, qty), fq = 0;
    if (fee != 0) {
        if (fee_asset == quote)
            fq = fee;
        else if (fee_asset == base)
            fq = model_mul(fee, price);
        else if (fee_asset == BNB && quote == USDT)
            fq = model_mul(fee, m->mark[BNBUSDT]);
    }
    m->bal[base] += side * (i128)qty;
    m->bal[quote] -= side * (i128)n;
    m->bal[fee_asset] -= fee;
    m->fees += fq;
    m->mark[sym] = price;
    mp->signed_n += side * (i128)n;
    mp->fees += fq;

    int64_t before = mp->qty, after = before + side * qty;
    int64_t c = (before != 0 && (before > 0) != (side > 0)) ? (qty < abs64(before) ? qty : abs64(before)) : 0;
    i128 n_c = c == qty ? n : (i128)model_div((i128)n * c, qty);
    mp->qty = after;
    if (c > 0) {
        mp->exit_n += n_c;
        mp->exit_q += c;
        if (c == abs64(before)) {
            const sv_trade_record_t *t = sv_portfolio_trade(p, m->trades);
            if (!t)
                fail_msg("fill %lld: no record %u", (long long)ts, m->trades);
            if (t->strategy != st || t->symbol != sym || t->side != mp->trip_side ||
                t->open_ts != mp->trip_open_ts || t->close_ts != ts || t->qty != mp->trip_max ||
                t->entry_price != (sv_fixed_t)model_div(mp->entry_n * SV_FIXED_SCALE, mp->entry_q) ||
                t->exit_price != (sv_fixed_t)model_div(mp->exit_n * SV_FIXED_SCALE, mp->exit_q))
                fail_msg("fill %lld: record %u differs from the model", (long long)ts, m->trades);
            mp->rec_pnl += t->pnl;
            mp->rec_fees += t->fees;
            mp->trips++;
            m->trades++;
            mp->trip_open = 0;
            mp->trip_max = 0;
            mp->entry_n = mp->entry_q = mp->exit_n = mp->exit_q = 0;
        }
    }
    if (qty - c > 0) {
        if (!mp->trip_open) {
            mp->trip_open = 1;
            mp->trip_side = side;
            mp->trip_open_ts = ts;
        }
        mp->entry_n += n - n_c;
        mp->entry_q += qty - c;
        if (abs64(after) > mp->trip_max)
            mp->trip_max = abs64(after);
    }
    if (sv_portfolio_trade_count(p) != m->trades)
        fail_msg("fill %lld: %u records, model %u", (long long)ts, sv_portfolio_trade_count(p), m->trades);
}

static void prop_check(const sv_portfolio_t *p, const model_t *m, int all_flat)
{
    for (int k = 0; k < N_SYM; k++) {
        uint32_t sym = prop_sym[k];
        i128 q = 0, c = 0, r = 0, f = 0;
        for (uint32_t st = 1; st <= N_STRAT; st++) {
            const sv_position_t *pos = sv_portfolio_position(p, st, sym);
            const mpos_t *mp = &m->pos[st][k];
            if (pos->qty != mp->qty)
                fail_msg("s%u sym%u: qty %lld, model %lld", st, sym, (long long)pos->qty, (long long)mp->qty);
            if ((i128)pos->realized - pos->cost != -mp->signed_n)
                fail_msg("s%u sym%u: realized - cost != -(sum of signed notionals)", st, sym);
            if (pos->fees != mp->fees)
                fail_msg("s%u sym%u: fees %lld differ", st, sym, (long long)pos->fees);
            if (pos->qty == 0) {
                if (pos->cost != 0 || pos->realized != -mp->signed_n || pos->opened_ts != 0)
                    fail_msg("s%u sym%u: flat but cost %lld realized %lld, -signed %lld", st, sym,
                             (long long)pos->cost, (long long)pos->realized, (long long)-mp->signed_n);
                if (mp->rec_pnl != (i128)pos->realized - pos->fees || mp->rec_fees != pos->fees)
                    fail_msg("s%u sym%u: records do not add up to the position", st, sym);
            }
            q += pos->qty;
            c += pos->cost;
            r += pos->realized;
            f += pos->fees;
        }
        const sv_position_t *acc = sv_portfolio_position(p, 0, sym);
        if (acc->qty != q || acc->cost != c || acc->realized != r || acc->fees != f)
            fail_msg("sym%u: the account is not the sum of the strategies", sym);
        const sv_position_t *unused = sv_portfolio_position(p, MAX_STRAT, sym);
        if (unused->qty || unused->cost || unused->realized || unused->fees)
            fail_msg("sym%u: strategy %d moved without fills", sym, MAX_STRAT);
        if (all_flat && acc->qty != 0)
            fail_msg("sym%u: not flat", sym);
    }
    for (uint32_t a = 1; a <= BNB; a++)
        if (sv_portfolio_balance(p, a) != m->bal[a])
            fail_msg("asset %u: balance %lld, model %lld", a, (long long)sv_portfolio_balance(p, a),
                     (long long)m->bal[a]);
    assert_true(sv_portfolio_fees(p) == m->fees);
    i128 eq = m->bal[USDT];
    for (int k = 0; k < N_SYM; k++)
        if (prop_quote[k] == USDT)
            eq += model_mul((sv_fixed_t)m->bal[prop_base[k]], m->mark[prop_sym[k]]);
    assert_true(sv_portfolio_equity(p, USDT) == eq);
    assert_true(sv_portfolio_equity(p, BTC) == m->bal[BTC] + model_mul((sv_fixed_t)m->bal[ETH], m->mark[ETHBTC]));
}

static void test_property_random_fills(void **state)
{
    world_t *w = *state;
    sv_portfolio_t *p = w->p;
    static model_t m;
    memset(&m, 0, sizeof m);
    static const sv_fixed_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    const sv_fixed_t start[5] = {0, fx("1000000"), fx("10"), fx("100"), fx("1000")};
    for (uint32_t a = USDT; a <= BNB; a++) {
        assert_int_equal(sv_portfolio_set_balance(p, a, start[a]), SV_OK);
        m.bal[a] = start[a];
    }

    for (int64_t i = 1; i <= N_FILLS; i++) {
        uint64_t r = xorshift64s(&seed), r2 = xorshift64s(&seed);
        int k = (int)(r % N_SYM);
        uint32_t st = 1 + (uint32_t)((r >> 8) % N_STRAT);
        const mpos_t *mp = &m.pos[st][k];
        /* price: uniform in the symbol's range, cut to 2..8 decimals */
        sv_fixed_t price = prop_lo[k] + (sv_fixed_t)(r2 % (uint64_t)(prop_hi[k] - prop_lo[k] + 1));
        price -= price % pow10[8 - (2 + (r >> 16) % 7)];
        if (price < prop_lo[k])
            price = prop_lo[k];
        /* quantity: 1 .. 10^6 lots of 1e-5, spread over the decades */
        sv_fixed_t lots = 1 + (sv_fixed_t)((r2 >> 40) % (uint64_t)pow10[1 + (r >> 20) % 6]);
        sv_fixed_t qty = lots * 1000;
        int side = (r >> 24) & 1 ? 1 : -1;
        unsigned how = (r >> 28) % 16;
        if (mp->qty != 0 && how < 2) { /* close exactly */
            side = mp->qty > 0 ? -1 : 1;
            qty = abs64(mp->qty);
        } else if (mp->qty != 0 && how == 2) { /* flip */
            side = mp->qty > 0 ? -1 : 1;
            qty = abs64(mp->qty) + qty;
        }
        sv_fixed_t fee = 0;
        uint32_t fee_asset = 0;
        switch ((r >> 32) % 4) {
        case 1: /* 10 bps in the quote asset */
            fee = model_mul(model_mul(price, qty), SV_FIXED_SCALE / 1000);
            fee_asset = prop_quote[k];
            break;
        case 2: /* 0.1 % of the quantity in the base asset */
            fee = qty / 1000;
            fee_asset = prop_base[k];
            break;
        case 3: /* in BNB */
            fee = 1 + (sv_fixed_t)((r2 >> 8) % 1000000);
            fee_asset = BNB;
            break;
        }
        prop_fill(p, &m, st, k, side, qty, price, fee, fee_asset, i);
        if ((r >> 36) % 64 == 0) { /* now and then the market moves without us */
            int mk = (int)((r2 >> 4) % N_SYM);
            sv_fixed_t px = prop_lo[mk] + (sv_fixed_t)((r2 >> 12) % (uint64_t)(prop_hi[mk] - prop_lo[mk]));
            sv_portfolio_mark(p, prop_sym[mk], px);
            m.mark[prop_sym[mk]] = px;
        }
    }
    assert_int_equal(sv_portfolio_fills(p), N_FILLS);
    assert_true(m.trades > 10000); /* the test exercised round trips */
    prop_check(p, &m, 0);

    /* close everything and check the flat invariants everywhere */
    int64_t ts = N_FILLS + 1;
    for (uint32_t st = 1; st <= N_STRAT; st++)
        for (int k = 0; k < N_SYM; k++) {
            int64_t q = m.pos[st][k].qty;
            if (q != 0)
                prop_fill(p, &m, st, k, q > 0 ? -1 : 1, abs64(q), prop_lo[k] + 12345678, 0, 0, ts++);
        }
    prop_check(p, &m, 1);
    assert_int_equal(sv_portfolio_exposed(p), 0);
    i128 rec_fees = 0;
    for (uint32_t i = 0; i < sv_portfolio_trade_count(p); i++)
        rec_fees += sv_portfolio_trade(p, i)->fees;
    assert_true(rec_fees == m.fees);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buy_then_sell_at_profit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_long_to_short_in_one_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_then_cover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_that_exactly_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_small_fills_average_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fee_in_quote_base_and_third_asset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounding_to_the_last_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_halves_round_away_from_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_leave_state_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_refuses_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trade_records_with_a_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_list_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_strategies_and_the_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fills_without_a_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equity_and_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_random_fills, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
