/* test_replay: engine/replay.h on a real engine (simulated clock, no strategies). A subscriber
 * on the engine's bus records every bar and trade the replay feeds, and the tests assert the
 * exact sequence: several files merged by exchange time (ties in argument order), symbols
 * from SYMBOL=path or the file name, trades aggregated into bars published just before the
 * trade that closes them, from/to, first_time, a bad row stopping a strict run with its
 * file:line, the per-source stats and the callbacks. Files live in a mkdtemp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpfiles.h"

#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fixed.h"

#define T0_MS 1704067200000LL /* 2024-01-01T00:00:00Z */
#define T0_NS (T0_MS * 1000000LL)
#define MIN_NS 60000000000LL
#define SEC_NS 1000000000LL

enum { MAX_REC = 256 };

static int group_setup(void **state)
{
    (void)state;
    return tmp_setup("sv_replay");
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

/* 1m kline row at minute m, every price = px. */
static void kline(char *buf, size_t len, int m, const char *px)
{
    long long ot = T0_MS + (long long)m * 60000;
    snprintf(buf, len, "%lld,%s,%s,%s,%s,1,%lld,%s,1,0,0,0\n", ot, px, px, px, px, ot + 59999, px);
}

/* A klines file with one row per minute in `minutes` (-1 ends), prices 1, 2, 3, ... */
static const char *klines_file(const char *name, const int *minutes)
{
    char text[4096] = "", row[256], px[16];
    for (int i = 0; minutes[i] >= 0; i++) {
        snprintf(px, sizeof px, "%d", i + 1);
        kline(row, sizeof row, minutes[i], px);
        strcat(text, row);
    }
    return write_file(name, text);
}

/* ---- the engine and the recorder ------------------------------------------------------------- */

typedef struct world {
    sv_engine_t *eng;
    sv_event_t rec[MAX_REC];
    int n;
} world_t;

static void record(void *ud, const sv_event_t *ev)
{
    world_t *w = ud;
    assert_true(w->n < MAX_REC);
    w->rec[w->n++] = *ev;
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    sv_engine_options_t o = {.simulated = 1, .log_out = NULL};
    sv_diag_t d;
    w->eng = sv_engine_new(&o, &d);
    if (!w->eng)
        return -1;
    if (sv_bus_subscribe(sv_engine_bus(w->eng), SV_BUS_MASK(SV_EV_BAR) | SV_BUS_MASK(SV_EV_TRADE),
                         record, w) <= 0)
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    sv_engine_free(w->eng);
    free(w);
    return 0;
}

static sv_replay_t *open_ok(world_t *w, const char *const *src, uint32_t n, const sv_replay_options_t *o)
{
    sv_replay_t *r = NULL;
    sv_diag_t d;
    int rc = sv_replay_open(w->eng, src, n, o, &r, &d);
    if (rc != 0)
        fail_msg("sv_replay_open: %d %s", rc, d.msg);
    return r;
}

static void run_ok(sv_replay_t *r)
{
    sv_diag_t d;
    int rc = sv_replay_run(r, &d);
    if (rc != 0)
        fail_msg("sv_replay_run: %d %s", rc, d.msg);
}

/* What one recorded event must be: kind, symbol name, exchange time, and the price (trade)
 * or close (bar). */
typedef struct want {
    int kind;
    const char *symbol;
    int64_t ts;
    const char *px;
} want_t;

static void assert_sequence(world_t *w, const want_t *want, int n)
{
    if (w->n != n)
        fail_msg("recorded %d events, want %d", w->n, n);
    for (int i = 0; i < n; i++) {
        const sv_event_t *e = &w->rec[i];
        const char *sym = sv_engine_symbol_name(w->eng, e->h.symbol);
        sv_fixed_t px = e->h.kind == SV_EV_BAR ? e->u.bar.close : e->u.trade.price;
        if (e->h.kind != want[i].kind || strcmp(sym, want[i].symbol) != 0 ||
            e->h.ts_exchange != want[i].ts || px != fx(want[i].px))
            fail_msg("event %d: kind %d %s ts %lld px %lld, want kind %d %s ts %lld px %s", i,
                     e->h.kind, sym, (long long)e->h.ts_exchange, (long long)px, want[i].kind,
                     want[i].symbol, (long long)want[i].ts, want[i].px);
        /* the simulated clock was moved to each event before it was published */
        assert_int_equal(e->h.ts_engine, e->h.ts_exchange);
        if (i > 0)
            assert_true(e->h.seq > w->rec[i - 1].h.seq);
    }
}

/* ---- tests ------------------------------------------------------------------------------------- */

static const sv_replay_options_t STRICT = {.policy = SV_MD_STRICT};

static void test_two_files_merged_by_time(void **state)
{
    world_t *w = *state;
    static const int mins[] = {0, 1, 2, -1};
    const char *a = klines_file("BTCUSDT-1m-2024-01.csv", mins); /* bars close at 60, 120, 180 s */
    const char *b = write_file("ETHUSDT-trades-2024-01.csv",
                               "1,10,1,10,1704067260000,true\n"   /* 60 s: ties with a bar */
                               "2,11,1,11,1704067290000,true\n"   /* 90 s */
                               "3,12,1,12,1704067380000,false\n"); /* 180 s: ties with a bar */
    const char *src[] = {a, b};
    sv_replay_t *r = open_ok(w, src, 2, &STRICT);
    run_ok(r);
    const want_t want[] = {
        {SV_EV_BAR, "BTCUSDT", T0_NS + MIN_NS, "1"},       {SV_EV_TRADE, "ETHUSDT", T0_NS + MIN_NS, "10"},
        {SV_EV_TRADE, "ETHUSDT", T0_NS + 90 * SEC_NS, "11"}, {SV_EV_BAR, "BTCUSDT", T0_NS + 2 * MIN_NS, "2"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + 3 * MIN_NS, "3"},   {SV_EV_TRADE, "ETHUSDT", T0_NS + 3 * MIN_NS, "12"},
    };
    assert_sequence(w, want, 6);
    assert_int_equal(sv_replay_events(r), 6);
    sv_replay_close(r);
}

static void test_ties_follow_argument_order(void **state)
{
    world_t *w = *state;
    static const int mins[] = {0, 1, -1};
    const char *a = klines_file("AAAUSDT-1m.csv", mins);
    const char *b = klines_file("BBBUSDT-1m.csv", mins);
    const char *src[] = {b, a}; /* b first: b wins every tie */
    sv_replay_t *r = open_ok(w, src, 2, &STRICT);
    run_ok(r);
    const want_t want[] = {
        {SV_EV_BAR, "BBBUSDT", T0_NS + MIN_NS, "1"},     {SV_EV_BAR, "AAAUSDT", T0_NS + MIN_NS, "1"},
        {SV_EV_BAR, "BBBUSDT", T0_NS + 2 * MIN_NS, "2"}, {SV_EV_BAR, "AAAUSDT", T0_NS + 2 * MIN_NS, "2"},
    };
    assert_sequence(w, want, 4);
    sv_replay_close(r);
}

static void test_symbol_naming(void **state)
{
    world_t *w = *state;
    static const int m0[] = {0, -1}, m1[] = {1, -1}, m2[] = {2, -1}, m3[] = {3, -1};
    const char *plain = klines_file("data.csv", m0);
    const char *under = klines_file("SOLUSDT_1m_2024.csv", m1);
    const char *dot = klines_file("ADAUSDT.csv", m2);
    const char *dash = klines_file("DOGEUSDT-1m-2024-01.csv", m3);
    char named[600];
    snprintf(named, sizeof named, "XRPUSDT=%s", plain);
    const char *src[] = {named, under, dot, dash};
    sv_replay_t *r = open_ok(w, src, 4, &STRICT);
    run_ok(r);
    const want_t want[] = {
        {SV_EV_BAR, "XRPUSDT", T0_NS + MIN_NS, "1"},
        {SV_EV_BAR, "SOLUSDT", T0_NS + 2 * MIN_NS, "1"},
        {SV_EV_BAR, "ADAUSDT", T0_NS + 3 * MIN_NS, "1"},
        {SV_EV_BAR, "DOGEUSDT", T0_NS + 4 * MIN_NS, "1"},
    };
    assert_sequence(w, want, 4);
    /* the source's path is the file, without the SYMBOL= prefix */
    const char *path = NULL;
    sv_md_stats_t st;
    assert_int_equal(sv_replay_source_stats(r, 0, &path, &st), 0);
    assert_string_equal(path, plain);
    sv_replay_close(r);

    /* a file name that starts with a separator names no symbol */
    const char *nameless = klines_file("-1m-2024.csv", m0);
    char want_msg[1200];
    snprintf(want_msg, sizeof want_msg, "%s: cannot tell the symbol (name it: SYMBOL=%s)", nameless,
             nameless);
    sv_replay_t *r2 = NULL;
    sv_diag_t d;
    assert_int_equal(sv_replay_open(w->eng, &nameless, 1, &STRICT, &r2, &d), SV_E_INVAL);
    assert_null(r2);
    assert_string_equal(d.msg, want_msg);
}

static void test_trades_aggregated_into_bars(void **state)
{
    world_t *w = *state;
    const char *t = write_file("BTCUSDT-trades-agg.csv",
                               "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n"
                               "1,100,1,100,1704067201000,true,true\n"   /* 1 s */
                               "2,110,1,110,1704067230000,false,true\n"  /* 30 s */
                               "3,105,2,210,1704067261000,true,true\n"   /* 61 s: closes [0, 60) */
                               "4,104,1,104,1704067262000,true,true\n"   /* 62 s */
                               "5,120,1,120,1704067385000,true,true\n"); /* 185 s: closes [60, 120) */
    sv_replay_options_t o = {.policy = SV_MD_STRICT, .bar_interval_s = 60};
    sv_replay_t *r = open_ok(w, &t, 1, &o);
    run_ok(r);
    const want_t want[] = {
        {SV_EV_TRADE, "BTCUSDT", T0_NS + 1 * SEC_NS, "100"},
        {SV_EV_TRADE, "BTCUSDT", T0_NS + 30 * SEC_NS, "110"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + MIN_NS, "110"},
        {SV_EV_TRADE, "BTCUSDT", T0_NS + 61 * SEC_NS, "105"},
        {SV_EV_TRADE, "BTCUSDT", T0_NS + 62 * SEC_NS, "104"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + 2 * MIN_NS, "104"},
        {SV_EV_TRADE, "BTCUSDT", T0_NS + 185 * SEC_NS, "120"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + 4 * MIN_NS, "120"}, /* flushed at the end */
    };
    assert_sequence(w, want, 8);
    assert_int_equal(sv_replay_events(r), 8);
    const sv_bar_t *b = &w->rec[2].u.bar;
    assert_int_equal(b->start, T0_NS);
    assert_int_equal(b->open, fx("100"));
    assert_int_equal(b->high, fx("110"));
    assert_int_equal(b->low, fx("100"));
    assert_int_equal(b->volume, fx("2"));
    assert_int_equal(b->quote_volume, fx("210"));
    assert_int_equal(b->trades, 2);
    assert_int_equal(b->interval_s, 60);
    b = &w->rec[5].u.bar;
    assert_int_equal(b->start, T0_NS + MIN_NS);
    assert_int_equal(b->open, fx("105"));
    assert_int_equal(b->high, fx("105"));
    assert_int_equal(b->low, fx("104"));
    assert_int_equal(b->volume, fx("3"));
    assert_int_equal(b->quote_volume, fx("314"));
    assert_int_equal(b->trades, 2);
    b = &w->rec[7].u.bar;
    assert_int_equal(b->start, T0_NS + 3 * MIN_NS);
    assert_int_equal(b->trades, 1);
    sv_replay_close(r);
}

static void test_from_to(void **state)
{
    world_t *w = *state;
    static const int mins[] = {0, 1, 2, 3, 4, -1};
    const char *a = klines_file("BTCUSDT-from-to.csv", mins);
    sv_replay_options_t o = {.policy = SV_MD_STRICT, .from_ns = T0_NS + MIN_NS, .to_ns = T0_NS + 3 * MIN_NS};
    sv_replay_t *r = open_ok(w, &a, 1, &o);
    assert_int_equal(sv_replay_first_time(r), T0_NS + 2 * MIN_NS); /* the close of minute 1 */
    run_ok(r);
    const want_t want[] = {
        {SV_EV_BAR, "BTCUSDT", T0_NS + 2 * MIN_NS, "2"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + 3 * MIN_NS, "3"},
    };
    assert_sequence(w, want, 2);
    sv_md_stats_t st;
    assert_int_equal(sv_replay_source_stats(r, 0, NULL, &st), 0);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.events, 2);
    assert_int_equal(st.filtered, 3);
    sv_replay_close(r);
}

static void test_first_time(void **state)
{
    world_t *w = *state;
    static const int late[] = {5, 6, -1}, early[] = {2, 3, -1};
    const char *a = klines_file("AAAUSDT-first.csv", late);
    const char *b = klines_file("BBBUSDT-first.csv", early);
    const char *empty = write_file("CCCUSDT-first.csv",
                                   "open_time,open,high,low,close,volume,close_time,quote_volume,"
                                   "count,taker_buy_volume,taker_buy_quote_volume,ignore\n");
    const char *src[] = {a, empty, b};
    sv_replay_t *r = open_ok(w, src, 3, &STRICT);
    assert_int_equal(sv_replay_first_time(r), T0_NS + 3 * MIN_NS);
    assert_int_equal(sv_replay_first_time(r), T0_NS + 3 * MIN_NS); /* reads ahead only */
    assert_int_equal(w->n, 0);
    run_ok(r);
    const want_t want[] = {
        {SV_EV_BAR, "BBBUSDT", T0_NS + 3 * MIN_NS, "1"}, {SV_EV_BAR, "BBBUSDT", T0_NS + 4 * MIN_NS, "2"},
        {SV_EV_BAR, "AAAUSDT", T0_NS + 6 * MIN_NS, "1"}, {SV_EV_BAR, "AAAUSDT", T0_NS + 7 * MIN_NS, "2"},
    };
    assert_sequence(w, want, 4);
    sv_replay_close(r);

    r = open_ok(w, &empty, 1, &STRICT);
    assert_int_equal(sv_replay_first_time(r), 0);
    run_ok(r);
    assert_int_equal(sv_replay_events(r), 0);
    sv_replay_close(r);
}

static void test_bad_row_strict_stops_with_place(void **state)
{
    world_t *w = *state;
    char text[2048], row[256];
    text[0] = 0;
    kline(row, sizeof row, 0, "1");
    strcat(text, row);
    kline(row, sizeof row, 1, "2");
    strcat(text, row);
    strcat(text, "1704067320000,100,90,110,100,5,1704067379999,500,10,1,1,0\n"); /* line 3 */
    kline(row, sizeof row, 3, "4");
    strcat(text, row);
    const char *a = write_file("BTCUSDT-bad.csv", text);
    sv_replay_t *r = open_ok(w, &a, 1, &STRICT);
    sv_diag_t d;
    assert_int_equal(sv_replay_run(r, &d), SV_E_PARSE);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: high < low", a);
    assert_int_equal(d.code, SV_E_PARSE);
    assert_string_equal(d.msg, want);
    /* the rows before it were fed, nothing after it */
    const want_t seq[] = {
        {SV_EV_BAR, "BTCUSDT", T0_NS + MIN_NS, "1"},
        {SV_EV_BAR, "BTCUSDT", T0_NS + 2 * MIN_NS, "2"},
    };
    assert_sequence(w, seq, 2);
    assert_int_equal(sv_replay_events(r), 2);
    sv_replay_close(r);

    /* the same file under the skip policy: every good row, the bad one counted */
    w->n = 0;
    sv_replay_options_t o = {.policy = SV_MD_SKIP};
    r = open_ok(w, &a, 1, &o);
    run_ok(r);
    assert_int_equal(sv_replay_events(r), 3);
    assert_int_equal(w->rec[2].h.ts_exchange, T0_NS + 4 * MIN_NS);
    sv_md_stats_t st;
    const char *path;
    assert_int_equal(sv_replay_source_stats(r, 0, &path, &st), 0);
    assert_string_equal(path, a);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.gaps, 1); /* the skipped minute is missing */
    assert_string_equal(st.first_warning, want);
    sv_replay_close(r);
}

static void test_source_stats(void **state)
{
    world_t *w = *state;
    static const int ma[] = {0, 1, 3, -1}, mb[] = {0, -1};
    const char *a = klines_file("AAAUSDT-stats.csv", ma); /* one bar missing */
    const char *b = klines_file("BBBUSDT-stats.csv", mb);
    const char *src[] = {a, b};
    sv_replay_t *r = open_ok(w, src, 2, &STRICT);
    run_ok(r);
    assert_int_equal(sv_replay_events(r), 4);
    const char *path;
    sv_md_stats_t st;
    assert_int_equal(sv_replay_source_stats(r, 0, &path, &st), 0);
    assert_string_equal(path, a);
    assert_int_equal(st.rows, 3);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.gaps, 1);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: gap: 1 bar(s) missing before this row", a);
    assert_string_equal(st.first_warning, want);
    assert_int_equal(sv_replay_source_stats(r, 1, &path, &st), 0);
    assert_string_equal(path, b);
    assert_int_equal(st.rows, 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.gaps, 0);
    assert_int_equal(sv_replay_source_stats(r, 2, &path, &st), SV_E_NOTFOUND);
    sv_replay_close(r);
}

static void test_open_errors(void **state)
{
    world_t *w = *state;
    sv_replay_t *r = NULL;
    sv_diag_t d;
    assert_int_equal(sv_replay_open(w->eng, NULL, 0, &STRICT, &r, &d), SV_E_INVAL);
    assert_string_equal(d.msg, "no data files given (use --data FILE or data.files)");

    static const int m[] = {0, -1};
    const char *good = klines_file("BTCUSDT-open.csv", m);
    char missing[600], want[1200];
    snprintf(missing, sizeof missing, "%s/ETHUSDT-missing.csv", dir);
    const char *src[] = {good, missing};
    assert_int_equal(sv_replay_open(w->eng, src, 2, &STRICT, &r, &d), SV_E_NOTFOUND);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    assert_string_equal(d.msg, want);
    assert_null(r);

    const char *odd = write_file("ETHUSDT-odd.csv", "1,2,3\n");
    src[1] = odd;
    assert_int_equal(sv_replay_open(w->eng, src, 2, &STRICT, &r, &d), SV_E_PARSE);
    snprintf(want, sizeof want, "%s:1: cannot tell the layout: 3 columns (klines have 12, trades 6 or 7)", odd);
    assert_string_equal(d.msg, want);
    assert_null(r);
    assert_int_equal(w->n, 0);
}

typedef struct cb {
    volatile sig_atomic_t stop;
    int after, stop_after;
    int64_t after_ts[16];
    int progress_calls;
    double last_fraction;
    uint64_t last_events;
} cb_t;

static void after_event(void *ud, const sv_event_t *ev)
{
    cb_t *c = ud;
    c->after_ts[c->after++] = ev->h.ts_exchange;
    if (c->after == c->stop_after)
        c->stop = 1;
}

static void progress(void *ud, double fraction, uint64_t events)
{
    cb_t *c = ud;
    c->progress_calls++;
    c->last_fraction = fraction;
    c->last_events = events;
}

static void test_callbacks_and_stop(void **state)
{
    world_t *w = *state;
    static const int m[] = {0, 1, 2, 3, -1};
    const char *a = klines_file("BTCUSDT-cb.csv", m);
    cb_t c = {.stop_after = 0};
    sv_replay_options_t o = {.policy = SV_MD_STRICT, .stop = &c.stop, .progress = progress,
                             .progress_ud = &c, .after_event = after_event, .after_ud = &c};
    sv_replay_t *r = open_ok(w, &a, 1, &o);
    run_ok(r);
    assert_int_equal(c.after, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.after_ts[i], T0_NS + (i + 1) * MIN_NS);
    assert_true(c.last_fraction == 1.0);
    assert_int_equal(c.last_events, 4);
    assert_int_equal(c.progress_calls, 2); /* at the first event and at the end */
    sv_replay_close(r);

    /* a stop request ends the run after the event being delivered */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    w->n = 0;
    r = open_ok(w, &a, 1, &o);
    run_ok(r);
    assert_int_equal(c.after, 2);
    assert_int_equal(sv_replay_events(r), 2);
    assert_int_equal(w->n, 2);
    assert_int_equal(c.last_events, 2);
    sv_replay_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_files_merged_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ties_follow_argument_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_naming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trades_aggregated_into_bars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_row_strict_stops_with_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_and_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
