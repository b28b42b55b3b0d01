/* test_marketdata: engine/marketdata.h. The Binance klines and trades readers (header or not,
 * ms and µs timestamps, CRLF, a last line without newline, empty lines) with exact ns times and
 * fixed-point values; every validation error under the strict policy with its exact
 * "file:line: reason", the same rows under the skip policy; kline gaps, from/to filtering,
 * progress; and the trade-to-bar aggregator with exact OHLCV. Files live in a mkdtemp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpfiles.h"

#include "marketdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fixed.h"

/* 2024-01-01T00:00:00Z */
#define T0_MS 1704067200000LL
#define T0_NS (T0_MS * 1000000LL)
#define MIN_NS 60000000000LL
#define SEC_NS 1000000000LL

enum { SYM = 7, MAX_EV = 64 };

static int group_setup(void **state)
{
    (void)state;
    return tmp_setup("sv_md");
}

static int group_teardown(void **state)
{
    (void)state;
    return tmp_teardown();
}

/* Writes `text` to a new file in the temp dir, its name numbered so names may repeat; returns
 * its path (valid for the whole run). */
static const char *write_file(const char *name, const char *text)
{
    char numbered[300];
    snprintf(numbered, sizeof numbered, "%d-%s", tmp_n + 1, name);
    return tmp_write(numbered, text, strlen(text));
}

static sv_fixed_t fx(const char *s)
{
    sv_fixed_t v = 0;
    if (sv_fixed_parse(s, -1, &v) != SV_OK)
        fail_msg("bad literal %s", s);
    return v;
}

static sv_md_reader_t *open_ok(const char *path, int format, int policy)
{
    sv_md_options_t o = {.format = format, .policy = policy, .symbol = SYM};
    sv_md_reader_t *r = NULL;
    sv_diag_t d;
    int rc = sv_md_open(path, &o, &r, &d);
    if (rc != 0)
        fail_msg("open %s: %d %s", path, rc, d.msg);
    assert_non_null(r);
    return r;
}

/* Reads every event; returns how many, *last_rc is what ended the loop. */
static int read_all(sv_md_reader_t *r, sv_event_t *ev, int max, int *last_rc, sv_diag_t *d)
{
    int n = 0, rc;
    while ((rc = sv_md_next(r, &ev[n], d)) == 1) {
        n++;
        assert_true(n < max);
    }
    *last_rc = rc;
    return n;
}

static void assert_bar(const sv_event_t *e, int64_t start, int64_t close_ts, const char *o,
                       const char *h, const char *l, const char *c, const char *v, const char *qv,
                       uint32_t interval_s, uint32_t trades, uint32_t symbol)
{
    assert_int_equal(e->h.kind, SV_EV_BAR);
    assert_int_equal(e->h.symbol, symbol);
    assert_int_equal(e->u.bar.start, start);
    assert_int_equal(e->h.ts_exchange, close_ts);
    assert_int_equal(e->u.bar.open, fx(o));
    assert_int_equal(e->u.bar.high, fx(h));
    assert_int_equal(e->u.bar.low, fx(l));
    assert_int_equal(e->u.bar.close, fx(c));
    assert_int_equal(e->u.bar.volume, fx(v));
    assert_int_equal(e->u.bar.quote_volume, fx(qv));
    assert_int_equal(e->u.bar.interval_s, interval_s);
    assert_int_equal(e->u.bar.trades, trades);
}

static void assert_trade(const sv_event_t *e, int64_t ts, const char *px, const char *qty,
                         uint64_t id, int aggressor)
{
    assert_int_equal(e->h.kind, SV_EV_TRADE);
    assert_int_equal(e->h.symbol, SYM);
    assert_int_equal(e->h.ts_exchange, ts);
    assert_int_equal(e->u.trade.price, fx(px));
    assert_int_equal(e->u.trade.qty, fx(qty));
    assert_int_equal(e->u.trade.trade_id, id);
    assert_int_equal(e->u.trade.aggressor, aggressor);
}

static void assert_stats(const sv_md_reader_t *r, uint64_t rows, uint64_t events, uint64_t skipped,
                         uint64_t gaps, uint64_t filtered)
{
    sv_md_stats_t st;
    sv_md_stats(r, &st);
    assert_int_equal(st.rows, rows);
    assert_int_equal(st.events, events);
    assert_int_equal(st.skipped, skipped);
    assert_int_equal(st.gaps, gaps);
    assert_int_equal(st.filtered, filtered);
}

static const char KLINE_HEADER[] =
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore\n";

/* One 1m kline row at minute m after T0 (ms timestamps), prices as given. */
static const char *kline(int m, const char *o, const char *h, const char *l, const char *c, const char *v)
{
    static char buf[8][256];
    static int k;
    char *b = buf[k++ % 8];
    long long ot = T0_MS + (long long)m * 60000;
    snprintf(b, sizeof buf[0], "%lld,%s,%s,%s,%s,%s,%lld,1000.5,10,1,500,0\n", ot, o, h, l, c, v,
             ot + 59999);
    return b;
}

/* ---- klines -------------------------------------------------------------------------------- */

static void test_klines_with_header_ms(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s", KLINE_HEADER,
             "1704067200000,42283.58000000,42298.62000000,42283.57000000,42298.61000000,"
             "35.38588000,1704067259999,1496472.22930600,1279,21.98939000,930188.45030130,0\n",
             "1704067260000,42298.62,42320,42289.6,42304.3,30.0,1704067319999,1269000.5,900,1,1,0\n");
    const char *path = write_file("BTCUSDT-1m.csv", text);
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    assert_int_equal(sv_md_format(r), SV_MD_KLINES); /* decided at open */
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_bar(&ev[0], T0_NS, T0_NS + MIN_NS, "42283.58", "42298.62", "42283.57", "42298.61",
               "35.38588", "1496472.229306", 60, 1279, SYM);
    assert_bar(&ev[1], T0_NS + MIN_NS, T0_NS + 2 * MIN_NS, "42298.62", "42320", "42289.6",
               "42304.3", "30", "1269000.5", 60, 900, SYM);
    assert_stats(r, 2, 2, 0, 0, 0);
    assert_int_equal(sv_md_next(r, &ev[0], &d), 0); /* stays at the end */
    sv_md_close(r);
}

static void test_klines_without_header_us(void **state)
{
    (void)state;
    /* µs timestamps (Binance spot files from 2025) and a 1h interval */
    const char *path = write_file("ETHUSDT-1h.csv",
                                  "1704067200000000,2281.5,2290,2280.01,2285.99,1200.1234,"
                                  "1704070799999999,2741234.56,5000,600,1370000,0\n"
                                  "1704070800000000,2286,2286,2286,2286,0,1704074399999999,0,0,0,0,0\n");
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_bar(&ev[0], T0_NS, T0_NS + 3600 * SEC_NS, "2281.5", "2290", "2280.01", "2285.99",
               "1200.1234", "2741234.56", 3600, 5000, SYM);
    assert_bar(&ev[1], T0_NS + 3600 * SEC_NS, T0_NS + 7200 * SEC_NS, "2286", "2286", "2286", "2286",
               "0", "0", 3600, 0, SYM);
    assert_stats(r, 2, 2, 0, 0, 0);
    sv_md_close(r);
}

/* ---- trades -------------------------------------------------------------------------------- */

static void test_trades_7_columns_with_header(void **state)
{
    (void)state;
    const char *path = write_file("BTCUSDT-trades.csv",
                                  "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n"
                                  "3321596091,42283.58000000,0.00100000,42.28358,1704067200005,true,true\n"
                                  "3321596092,42283.59,0.5,21141.795,1704067200005,false,true\n"
                                  "3321596093,42284,12,507408,1704067201000,TRUE,true\n");
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    assert_int_equal(sv_md_format(r), SV_MD_TRADES);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    /* the buyer was the maker: the seller was the aggressor */
    assert_trade(&ev[0], T0_NS + 5000000, "42283.58", "0.001", 3321596091u, SV_SIDE_SELL);
    assert_trade(&ev[1], T0_NS + 5000000, "42283.59", "0.5", 3321596092u, SV_SIDE_BUY);
    assert_trade(&ev[2], T0_NS + SEC_NS, "42284", "12", 3321596093u, SV_SIDE_SELL);
    assert_stats(r, 3, 3, 0, 0, 0);
    sv_md_close(r);
}

static void test_trades_6_columns_us_no_header(void **state)
{
    (void)state;
    const char *path = write_file("ETHUSDT-trades.csv",
                                  "1,2281.5,0.25,570.375,1704067200000001,False\n"
                                  "2,2281.49,1.00000001,2281.49002281,1704067200000002,True\n"
                                  "3,2281.48,3,6844.44,1704067200000002,0\n"
                                  "4,2281.47,3,6844.41,1704067200000003,1\n");
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    assert_int_equal(sv_md_format(r), SV_MD_TRADES);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 4);
    assert_trade(&ev[0], T0_NS + 1000, "2281.5", "0.25", 1, SV_SIDE_BUY);
    assert_trade(&ev[1], T0_NS + 2000, "2281.49", "1.00000001", 2, SV_SIDE_SELL);
    assert_trade(&ev[2], T0_NS + 2000, "2281.48", "3", 3, SV_SIDE_BUY);
    assert_trade(&ev[3], T0_NS + 3000, "2281.47", "3", 4, SV_SIDE_SELL);
    sv_md_close(r);
}

/* ---- line endings, empty lines, progress ---------------------------------------------------- */

static void test_crlf_empty_lines_and_last_line_without_newline(void **state)
{
    (void)state;
    const char *path = write_file("crlf.csv",
                                  "id,price,qty,quote_qty,time,is_buyer_maker\r\n"
                                  "1,100,1,100,1704067200000,true\r\n"
                                  "\r\n"
                                  "\n"
                                  "2,101,2,202,1704067200001,false\r\n"
                                  "\r\n"
                                  "3,102,3,306,1704067200002,true"); /* no final newline */
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    /* "true\r" would not parse as a boolean: the \r is gone */
    assert_trade(&ev[0], T0_NS, "100", "1", 1, SV_SIDE_SELL);
    assert_trade(&ev[1], T0_NS + 1000000, "101", "2", 2, SV_SIDE_BUY);
    assert_trade(&ev[2], T0_NS + 2000000, "102", "3", 3, SV_SIDE_SELL);
    assert_stats(r, 3, 3, 0, 0, 0);
    assert_true(sv_md_progress(r) == 1.0);
    sv_md_close(r);
}

static void test_progress_goes_to_one(void **state)
{
    (void)state;
    /* two rows of 36 bytes each: progress is exactly 0, 1/2, 1 */
    const char *path = write_file("progress.csv",
                                  "1,100,1,100,1704067200000,true,true\n"
                                  "2,100,1,100,1704067200000,true,true\n");
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    sv_event_t ev;
    sv_diag_t d;
    assert_true(sv_md_progress(r) == 0.0);
    assert_int_equal(sv_md_next(r, &ev, &d), 1);
    assert_true(sv_md_progress(r) == 0.5);
    assert_int_equal(sv_md_next(r, &ev, &d), 1);
    assert_true(sv_md_progress(r) == 1.0);
    assert_int_equal(sv_md_next(r, &ev, &d), 0);
    assert_true(sv_md_progress(r) == 1.0);
    sv_md_close(r);
}

static void test_empty_and_header_only_files(void **state)
{
    (void)state;
    const char *paths[] = {write_file("empty.csv", ""), write_file("header.csv", KLINE_HEADER),
                           write_file("blank.csv", "\n\r\n\n")};
    for (int i = 0; i < 3; i++) {
        sv_md_reader_t *r = open_ok(paths[i], SV_MD_AUTO, SV_MD_STRICT);
        assert_int_equal(sv_md_format(r), SV_MD_AUTO); /* nothing to decide from */
        sv_event_t ev;
        sv_diag_t d;
        assert_int_equal(sv_md_next(r, &ev, &d), 0);
        assert_stats(r, 0, 0, 0, 0, 0);
        assert_true(sv_md_progress(r) == 1.0);
        sv_md_close(r);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    char path[512], want[600];
    snprintf(path, sizeof path, "%s/no-such-file.csv", dir);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    sv_md_options_t o = {.symbol = SYM};
    sv_md_reader_t *r = (sv_md_reader_t *)(uintptr_t)1;
    sv_diag_t d;
    assert_int_equal(sv_md_open(path, &o, &r, &d), SV_E_NOTFOUND);
    assert_int_equal(d.code, SV_E_NOTFOUND);
    assert_string_equal(d.msg, want);
    assert_ptr_equal(r, (sv_md_reader_t *)(uintptr_t)1); /* untouched */
}

/* ---- validation: strict ---------------------------------------------------------------------- */

typedef struct bad_case {
    const char *row;    /* the bad row (line 3: after a header and a good row) */
    const char *reason; /* what follows "file:3: " */
} bad_case_t;

static const char KGOOD[] = "1704067200000,100,110,90,105,5,1704067259999,500,10,1,1,0\n";
static const char TGOOD[] = "1,100,1,100,1704067200000,true,true\n";
static const char TRADE_HEADER[] = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n";

/* the good row for the next minute, for files that continue after the bad rows */
static const char KNEXT[] = "1704067260000,105,106,104,105,1,1704067319999,105,1,1,1,0\n";

static const bad_case_t kline_bad[] = {
    {"1704067260000,100,90,110,100,5,1704067319999,500,10,1,1,0\n", "high < low"},
    {"1704067260000,120,110,90,100,5,1704067319999,500,10,1,1,0\n", "open or close outside [low, high]"},
    {"1704067260000,100,110,90,80,5,1704067319999,500,10,1,1,0\n", "open or close outside [low, high]"},
    {"1704067260000,89.99,110,90,100,5,1704067319999,500,10,1,1,0\n", "open or close outside [low, high]"},
    {"1704067260000,100,110,90,110.00000001,5,1704067319999,500,10,1,1,0\n",
     "open or close outside [low, high]"},
    {"1704067260000,0,110,90,100,5,1704067319999,500,10,1,1,0\n", "prices must be > 0"},
    {"1704067260000,100,110,-90,100,5,1704067319999,500,10,1,1,0\n", "prices must be > 0"},
    {"1704067260000,100,110,90,100,-0.1,1704067319999,500,10,1,1,0\n", "volume must be >= 0"},
    {"1704067260000,100,110,90,100,5,1704067319999,-500,10,1,1,0\n", "volume must be >= 0"},
    {"1704067200000,100,110,90,100,5,1704067259999,500,10,1,1,0\n",
     "time going backwards (open_time not after the previous row's)"},
    {"1704067140000,100,110,90,100,5,1704067199999,500,10,1,1,0\n",
     "time going backwards (open_time not after the previous row's)"},
    {"1704067260000,1O0,110,90,100,5,1704067319999,500,10,1,1,0\n", "open: not a decimal number"},
    {"1704067260000,100,110,90,100,5e1,1704067319999,500,10,1,1,0\n", "volume: not a decimal number"},
    {"1704067260000,100,110,90,100,,1704067319999,500,10,1,1,0\n", "volume: not a decimal number"},
    {"17040672600x0,100,110,90,100,5,1704067319999,500,10,1,1,0\n", "open_time: not an integer timestamp"},
    {"1704067260000,100,110,90,100,5,1704067319999,500,-1,1,1,0\n", "trades: not a non-negative integer"},
    {"1704067260000,100,110,90,100,5,1704067259999,500,10,1,1,0\n", "close_time is not after open_time"},
    {"1704067260000,100,110,90,100,5,1704067319999\n", "expected 12 kline columns, got 7"},
    {"1704067260000,100,110,90,100,5,1704067319999,500,10,1,100\n", "expected 12 kline columns, got 11"},
    {"999999999999999999,100,110,90,100,5,999999999999999999,500,10,1,1,0\n", "timestamp out of range"},
};

static const bad_case_t trade_bad[] = {
    {"2,0,1,0,1704067200001,true,true\n", "price must be > 0"},
    {"2,-1,1,-1,1704067200001,true,true\n", "price must be > 0"},
    {"2,100,0,0,1704067200001,true,true\n", "qty must be > 0"},
    {"2,100,-0.5,-50,1704067200001,true,true\n", "qty must be > 0"},
    {"2,100,1,100,1704067199999,true,true\n", "time going backwards"},
    {"2,abc,1,100,1704067200001,true,true\n", "price: not a decimal number"},
    {"2,100,1.5.1,100,1704067200001,true,true\n", "qty: not a decimal number"},
    {"x2,100,1,100,1704067200001,true,true\n", "id: not an integer"},
    {"2,100,1,100,2024-01-01,true,true\n", "time: not an integer timestamp"},
    {"2,100,1,100,1704067200001,yes,true\n", "is_buyer_maker: expected true or false"},
    {"2,100,1,100,1704067200001\n",
     "expected 6 or 7 trade columns (id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]), got 5"},
    {"2,100,1,100,-1704067200001,true,true\n", "time: timestamp out of range"},
};

static void check_strict(const char *header, const char *good, const bad_case_t *c, int i)
{
    char text[1024], name[32], want[1024];
    snprintf(text, sizeof text, "%s%s%s", header, good, c->row);
    snprintf(name, sizeof name, "strict-%d.csv", i);
    const char *path = write_file(name, text);
    snprintf(want, sizeof want, "%s:3: %s", path, c->reason);
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    sv_event_t ev;
    sv_diag_t d;
    assert_int_equal(sv_md_next(r, &ev, &d), 1);
    memset(&d, 0, sizeof d);
    int rc = sv_md_next(r, &ev, &d);
    if (rc != SV_E_PARSE || strcmp(d.msg, want) != 0)
        fail_msg("case %d (%s): rc %d, msg '%s', want '%s'", i, c->row, rc, d.msg, want);
    assert_int_equal(d.code, SV_E_PARSE);
    sv_md_stats_t st;
    sv_md_stats(r, &st);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.skipped, 0);
    sv_md_close(r);
}

static void test_klines_strict_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kline_bad / sizeof kline_bad[0]; i++)
        check_strict(KLINE_HEADER, KGOOD, &kline_bad[i], (int)i);
}

static void test_trades_strict_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof trade_bad / sizeof trade_bad[0]; i++)
        check_strict(TRADE_HEADER, TGOOD, &trade_bad[i], 100 + (int)i);
}

static void test_unrecognised_layout(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *where; /* "line: columns" */
    } cases[] = {
        {"a,b,c,d\n1,2,3,4\n", "2: cannot tell the layout: 4 columns"},
        {"\n\n1,2,3,4,5,6,7,8\n", "3: cannot tell the layout: 8 columns"},
        {"1704067200000,100\r\n", "1: cannot tell the layout: 2 columns"},
        {"1,2,3,4,5", "1: cannot tell the layout: 5 columns"},
    };
    for (int i = 0; i < 4; i++) {
        char name[32], want[1024];
        snprintf(name, sizeof name, "layout-%d.csv", i);
        const char *path = write_file(name, cases[i].text);
        snprintf(want, sizeof want, "%s:%s (klines have 12, trades 6 or 7)", path, cases[i].where);
        sv_md_options_t o = {.format = SV_MD_AUTO, .policy = SV_MD_SKIP, .symbol = SYM};
        sv_md_reader_t *r = NULL;
        sv_diag_t d;
        /* refused at open, whatever the policy */
        assert_int_equal(sv_md_open(path, &o, &r, &d), SV_E_PARSE);
        assert_null(r);
        assert_int_equal(d.code, SV_E_PARSE);
        assert_string_equal(d.msg, want);
    }
}

static void test_explicit_format_is_not_guessed(void **state)
{
    (void)state;
    /* a klines row read as trades: column 5 (time) is "105", column 6 is not a boolean */
    char text[512];
    snprintf(text, sizeof text, "%s", KGOOD);
    const char *path = write_file("forced.csv", text);
    sv_md_reader_t *r = open_ok(path, SV_MD_TRADES, SV_MD_STRICT);
    assert_int_equal(sv_md_format(r), SV_MD_TRADES);
    sv_event_t ev;
    sv_diag_t d;
    char want[600];
    snprintf(want, sizeof want,
             "%s:1: expected 6 or 7 trade columns (id, price, qty, quote_qty, time, is_buyer_maker[, "
             "is_best_match]), got 12",
             path);
    assert_int_equal(sv_md_next(r, &ev, &d), SV_E_PARSE);
    assert_string_equal(d.msg, want);
    sv_md_close(r);

    /* a trades row read as klines: too few columns */
    path = write_file("forced2.csv", TGOOD);
    r = open_ok(path, SV_MD_KLINES, SV_MD_STRICT);
    snprintf(want, sizeof want, "%s:1: expected 12 kline columns, got 7", path);
    assert_int_equal(sv_md_next(r, &ev, &d), SV_E_PARSE);
    assert_string_equal(d.msg, want);
    sv_md_close(r);
}

/* ---- validation: skip -------------------------------------------------------------------------- */

static void check_skip(const char *header, const char *good, const bad_case_t *bad, size_t n_bad,
                       const char *next_good, const char *name)
{
    char text[8192];
    size_t off = (size_t)snprintf(text, sizeof text, "%s%s", header, good);
    for (size_t i = 0; i < n_bad; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "%s", bad[i].row);
    snprintf(text + off, sizeof text - off, "%s", next_good);
    const char *path = write_file(name, text);
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_SKIP);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2); /* the good rows around the bad ones */
    sv_md_stats_t st;
    sv_md_stats(r, &st);
    assert_int_equal(st.rows, n_bad + 2);
    assert_int_equal(st.events, 2);
    assert_int_equal(st.skipped, n_bad);
    assert_int_equal(st.gaps, 0);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: %s", path, bad[0].reason);
    assert_string_equal(st.first_warning, want);
    sv_md_close(r);
}

static void test_klines_skip_policy(void **state)
{
    (void)state;
    check_skip(KLINE_HEADER, KGOOD, kline_bad, sizeof kline_bad / sizeof kline_bad[0], KNEXT,
               "skip-k.csv");
    /* the good row after the bad ones is exact */
    const char *path = write_file("skip-k2.csv", "1704067200000,100,90,110,100,5,1704067259999,500,10,1,1,0\n"
                                                 "1704067200000,100,110,90,105,5,1704067259999,500,10,1,1,0\n");
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_SKIP);
    sv_event_t ev;
    sv_diag_t d;
    assert_int_equal(sv_md_next(r, &ev, &d), 1);
    assert_bar(&ev, T0_NS, T0_NS + MIN_NS, "100", "110", "90", "105", "5", "500", 60, 10, SYM);
    assert_int_equal(sv_md_next(r, &ev, &d), 0);
    assert_stats(r, 2, 1, 1, 0, 0);
    sv_md_close(r);
}

static void test_trades_skip_policy(void **state)
{
    (void)state;
    check_skip(TRADE_HEADER, TGOOD, trade_bad, sizeof trade_bad / sizeof trade_bad[0],
               "9,101,2,202,1704067200001,false,true\n", "skip-t.csv");
}

/* ---- gaps and filtering ------------------------------------------------------------------------ */

static void test_kline_gaps_counted(void **state)
{
    (void)state;
    char text[2048];
    /* minutes 0, 1, 4, 5, 7: 2 + 1 bars missing */
    snprintf(text, sizeof text, "%s%s%s%s%s", kline(0, "1", "1", "1", "1", "1"),
             kline(1, "1", "1", "1", "1", "1"), kline(4, "1", "1", "1", "1", "1"),
             kline(5, "1", "1", "1", "1", "1"), kline(7, "1", "1", "1", "1", "1"));
    const char *path = write_file("gaps.csv", text);
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_STRICT);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5); /* a gap is a warning, not an error */
    assert_int_equal(ev[2].u.bar.start, T0_NS + 4 * MIN_NS);
    sv_md_stats_t st;
    sv_md_stats(r, &st);
    assert_int_equal(st.gaps, 3);
    assert_int_equal(st.skipped, 0);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: gap: 2 bar(s) missing before this row", path);
    assert_string_equal(st.first_warning, want);
    sv_md_close(r);
}

static void test_first_warning_is_the_first(void **state)
{
    (void)state;
    char text[2048], want[1024];
    /* a gap (line 2) before a skipped row (line 3): the gap stays the first warning */
    snprintf(text, sizeof text, "%s%s%s", kline(0, "1", "1", "1", "1", "1"),
             kline(2, "1", "1", "1", "1", "1"), kline(3, "1", "0.5", "1", "1", "1"));
    const char *path = write_file("gap-then-bad.csv", text);
    sv_md_reader_t *r = open_ok(path, SV_MD_AUTO, SV_MD_SKIP);
    sv_event_t ev[MAX_EV];
    sv_diag_t d;
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_stats(r, 3, 2, 1, 1, 0);
    sv_md_stats_t st;
    sv_md_stats(r, &st);
    snprintf(want, sizeof want, "%s:2: gap: 1 bar(s) missing before this row", path);
    assert_string_equal(st.first_warning, want);
    sv_md_close(r);

    /* a skipped row (line 2) before a gap (line 3) */
    snprintf(text, sizeof text, "%s%s%s", kline(0, "1", "1", "1", "1", "1"),
             kline(1, "1", "0.5", "1", "1", "1"), kline(3, "1", "1", "1", "1", "1"));
    path = write_file("bad-then-gap.csv", text);
    r = open_ok(path, SV_MD_AUTO, SV_MD_SKIP);
    n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(n, 2);
    assert_stats(r, 3, 2, 1, 2, 0);
    sv_md_stats(r, &st);
    snprintf(want, sizeof want, "%s:2: high < low", path);
    assert_string_equal(st.first_warning, want);
    sv_md_close(r);
}

static void test_from_to_klines(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s%s%s%s", KLINE_HEADER, kline(0, "1", "1", "1", "1", "1"),
             kline(1, "2", "2", "2", "2", "1"), kline(2, "3", "3", "3", "3", "1"),
             kline(3, "4", "4", "4", "4", "1"), kline(4, "5", "5", "5", "5", "1"));
    const char *path = write_file("from-to-k.csv", text);
    /* [minute 1, minute 3): by open time */
    sv_md_options_t o = {.symbol = SYM, .from_ns = T0_NS + MIN_NS, .to_ns = T0_NS + 3 * MIN_NS};
    sv_md_reader_t *r;
    sv_diag_t d;
    assert_int_equal(sv_md_open(path, &o, &r, &d), 0);
    sv_event_t ev[MAX_EV];
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].u.bar.start, T0_NS + MIN_NS);
    assert_int_equal(ev[0].u.bar.close, fx("2"));
    assert_int_equal(ev[1].u.bar.start, T0_NS + 2 * MIN_NS);
    assert_int_equal(ev[1].u.bar.close, fx("3"));
    assert_stats(r, 5, 2, 0, 0, 3);
    sv_md_close(r);
}

static void test_from_to_trades(void **state)
{
    (void)state;
    const char *path = write_file("from-to-t.csv",
                                  "1,1,1,1,1704067200000,true\n"
                                  "2,2,1,2,1704067200999,true\n"
                                  "3,3,1,3,1704067201000,true\n"
                                  "4,4,1,4,1704067201999,true\n"
                                  "5,5,1,5,1704067202000,true\n");
    sv_md_options_t o = {.symbol = SYM, .from_ns = T0_NS + SEC_NS, .to_ns = T0_NS + 2 * SEC_NS};
    sv_md_reader_t *r;
    sv_diag_t d;
    assert_int_equal(sv_md_open(path, &o, &r, &d), 0);
    sv_event_t ev[MAX_EV];
    int rc, n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].u.trade.trade_id, 3);
    assert_int_equal(ev[1].u.trade.trade_id, 4);
    assert_stats(r, 5, 2, 0, 0, 3);
    /* only a lower bound */
    sv_md_close(r);
    o.to_ns = 0;
    assert_int_equal(sv_md_open(path, &o, &r, &d), 0);
    n = read_all(r, ev, MAX_EV, &rc, &d);
    assert_int_equal(n, 3);
    assert_int_equal(ev[2].u.trade.trade_id, 5);
    assert_stats(r, 5, 3, 0, 0, 2);
    sv_md_close(r);
}

/* ---- bar aggregation --------------------------------------------------------------------------- */

static sv_event_t trade_ev(uint32_t sym, int64_t ts, const char *px, const char *qty)
{
    sv_event_t e;
    memset(&e, 0, sizeof e);
    e.h.kind = SV_EV_TRADE;
    e.h.symbol = sym;
    e.h.ts_exchange = ts;
    e.u.trade.price = fx(px);
    e.u.trade.qty = fx(qty);
    return e;
}

static int add(sv_bar_agg_t *a, uint32_t sym, int64_t ts, const char *px, const char *qty, sv_event_t *bar)
{
    sv_event_t t = trade_ev(sym, ts, px, qty);
    return sv_bar_agg_add(a, &t, bar);
}

static void test_agg_bars_from_trades(void **state)
{
    (void)state;
    sv_bar_agg_t *a = sv_bar_agg_new(60, 4);
    assert_non_null(a);
    sv_event_t bar;
    memset(&bar, 0xAB, sizeof bar);
    assert_int_equal(add(a, 1, T0_NS + SEC_NS, "100", "1", &bar), 0);
    assert_int_equal(add(a, 1, T0_NS + 30 * SEC_NS, "105", "2", &bar), 0);
    assert_int_equal(add(a, 1, T0_NS + MIN_NS - 1, "95", "0.5", &bar), 0);
    assert_int_equal(bar.h.kind, 0xABAB); /* nothing written before a bar is finished */
    /* the first trade of the next minute closes the bar */
    assert_int_equal(add(a, 1, T0_NS + MIN_NS, "101", "1.25", &bar), 1);
    assert_bar(&bar, T0_NS, T0_NS + MIN_NS, "100", "105", "95", "95", "3.5", "357.5", 60, 3, 1);
    /* minutes 2 and 3 have no trades: no bars for them */
    assert_int_equal(add(a, 1, T0_NS + 3 * MIN_NS + 20 * SEC_NS, "102", "2", &bar), 1);
    assert_bar(&bar, T0_NS + MIN_NS, T0_NS + 2 * MIN_NS, "101", "101", "101", "101", "1.25",
               "126.25", 60, 1, 1);
    assert_int_equal(add(a, 1, T0_NS + 3 * MIN_NS + 21 * SEC_NS, "103.5", "0.00000001", &bar), 0);
    /* the end of data: the open bar is flushed */
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_bar(&bar, T0_NS + 3 * MIN_NS, T0_NS + 4 * MIN_NS, "102", "103.5", "102", "103.5",
               "2.00000001", "204.00000104", 60, 2, 1);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 0);
    sv_bar_agg_free(a);
}

static void test_agg_two_symbols_interleaved(void **state)
{
    (void)state;
    sv_bar_agg_t *a = sv_bar_agg_new(60, 8);
    sv_event_t bar;
    assert_int_equal(add(a, 2, T0_NS + 1 * SEC_NS, "10", "1", &bar), 0);
    assert_int_equal(add(a, 5, T0_NS + 2 * SEC_NS, "2000", "3", &bar), 0);
    assert_int_equal(add(a, 2, T0_NS + 3 * SEC_NS, "12", "1", &bar), 0);
    assert_int_equal(add(a, 5, T0_NS + 4 * SEC_NS, "1990", "1", &bar), 0);
    /* symbol 2 moves to minute 1: only its own bar closes */
    assert_int_equal(add(a, 2, T0_NS + MIN_NS + SEC_NS, "11", "2", &bar), 1);
    assert_bar(&bar, T0_NS, T0_NS + MIN_NS, "10", "12", "10", "12", "2", "22", 60, 2, 2);
    /* symbol 5's bar is still open and still takes minute-0 trades */
    assert_int_equal(add(a, 5, T0_NS + 59 * SEC_NS, "2010", "1", &bar), 0);
    assert_int_equal(add(a, 5, T0_NS + 2 * MIN_NS, "2020", "1", &bar), 1);
    assert_bar(&bar, T0_NS, T0_NS + MIN_NS, "2000", "2010", "1990", "2010", "5", "10000", 60, 3, 5);
    /* flush: symbol order */
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_bar(&bar, T0_NS + MIN_NS, T0_NS + 2 * MIN_NS, "11", "11", "11", "11", "2", "22", 60, 1, 2);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_bar(&bar, T0_NS + 2 * MIN_NS, T0_NS + 3 * MIN_NS, "2020", "2020", "2020", "2020", "1",
               "2020", 60, 1, 5);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 0);
    sv_bar_agg_free(a);
}

static void test_agg_flush_again_after_more_trades(void **state)
{
    (void)state;
    sv_bar_agg_t *a = sv_bar_agg_new(1, 4);
    sv_event_t bar;
    assert_int_equal(add(a, 3, T0_NS, "1", "1", &bar), 0);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_int_equal(bar.u.bar.interval_s, 1);
    assert_int_equal(bar.h.ts_exchange, T0_NS + SEC_NS);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 0);
    /* the flushed bar is gone; a later trade opens a new one, which a later flush emits */
    assert_int_equal(add(a, 1, T0_NS + 5 * SEC_NS, "2", "1", &bar), 0);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_bar(&bar, T0_NS + 5 * SEC_NS, T0_NS + 6 * SEC_NS, "2", "2", "2", "2", "1", "2", 1, 1, 1);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 0);
    sv_bar_agg_free(a);
}

static void test_agg_symbol_out_of_range(void **state)
{
    (void)state;
    sv_bar_agg_t *a = sv_bar_agg_new(60, 4);
    sv_event_t bar;
    assert_int_equal(add(a, 4, T0_NS, "1", "1", &bar), SV_E_RANGE);
    assert_int_equal(add(a, 1000000, T0_NS, "1", "1", &bar), SV_E_RANGE);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 0); /* nothing was opened */
    assert_int_equal(add(a, 3, T0_NS, "1", "1", &bar), 0);
    assert_int_equal(sv_bar_agg_flush(a, &bar), 1);
    assert_int_equal(bar.h.symbol, 3);
    sv_bar_agg_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_klines_with_header_ms),
        cmocka_unit_test(test_klines_without_header_us),
        cmocka_unit_test(test_trades_7_columns_with_header),
        cmocka_unit_test(test_trades_6_columns_us_no_header),
        cmocka_unit_test(test_crlf_empty_lines_and_last_line_without_newline),
        cmocka_unit_test(test_progress_goes_to_one),
        cmocka_unit_test(test_empty_and_header_only_files),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_klines_strict_errors),
        cmocka_unit_test(test_trades_strict_errors),
        cmocka_unit_test(test_unrecognised_layout),
        cmocka_unit_test(test_explicit_format_is_not_guessed),
        cmocka_unit_test(test_klines_skip_policy),
        cmocka_unit_test(test_trades_skip_policy),
        cmocka_unit_test(test_kline_gaps_counted),
        cmocka_unit_test(test_first_warning_is_the_first),
        cmocka_unit_test(test_from_to_klines),
        cmocka_unit_test(test_from_to_trades),
        cmocka_unit_test(test_agg_bars_from_trades),
        cmocka_unit_test(test_agg_two_symbols_interleaved),
        cmocka_unit_test(test_agg_flush_again_after_more_trades),
        cmocka_unit_test(test_agg_symbol_out_of_range),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
