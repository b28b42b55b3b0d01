/* test_report: the metrics of engine/report.h on hand-computed curves and trades, and the
 * reports: report.json parsed by a strict validator below, report.html checked for its charts,
 * rows and escaping, both byte-identical when written twice. Files go to a mkdtemp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

#define SEC 1000000000LL
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define T0 (1704067200LL * SEC) /* 2024-01-01T00:00:00Z */

#define NEAR(got, want)                                                                        \
    do {                                                                                       \
        double g_ = (got), w_ = (want);                                                        \
        if (!(fabs(g_ - w_) <= 1e-9 * (1.0 + fabs(w_))))                                       \
            fail_msg("%s = %.17g, want %.17g", #got, g_, w_);                                  \
    } while (0)

/* ---- fixtures and helpers ---- */

typedef struct tmp {
    char dir[64];
    char json[96], json2[96], html[96], html2[96];
} tmp_t;

static int tmp_setup(void **state)
{
    tmp_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    strcpy(t->dir, "/tmp/sv_report_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->json, sizeof t->json, "%s/a.json", t->dir);
    snprintf(t->json2, sizeof t->json2, "%s/b.json", t->dir);
    snprintf(t->html, sizeof t->html, "%s/a.html", t->dir);
    snprintf(t->html2, sizeof t->html2, "%s/b.html", t->dir);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_t *t = *state;
    unlink(t->json);
    unlink(t->json2);
    unlink(t->html);
    unlink(t->html2);
    int rc = rmdir(t->dir);
    free(t);
    return rc;
}

/* The whole file, NUL-terminated; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void same_bytes(const char *a, const char *b)
{
    size_t la, lb;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    if (la != lb || memcmp(x, y, la) != 0)
        fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

#define HAS(hay, needle)                                                                       \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("missing %s", (needle));                                                  \
    } while (0)

#define LACKS(hay, needle)                                                                     \
    do {                                                                                       \
        if (strstr((hay), (needle)))                                                           \
            fail_msg("unexpected %s", (needle));                                               \
    } while (0)

static sv_report_input_t input(const sv_equity_point_t *e, size_t n, double initial)
{
    sv_report_input_t in;
    memset(&in, 0, sizeof in);
    in.title = "test";
    in.config = "config/environments/test.yaml";
    in.quote = "USDT";
    in.initial_equity = initial;
    in.equity = e;
    in.n_equity = n;
    return in;
}

static sv_report_metrics_t compute(const sv_report_input_t *in)
{
    sv_report_metrics_t m;
    memset(&m, 0x5a, sizeof m); /* a field never written cannot pass */
    assert_int_equal(sv_report_compute(in, &m), 0);
    return m;
}

/* Every double of the metrics is finite, except a profit factor without losses. */
static void all_finite(const sv_report_metrics_t *m)
{
    const double *d = (const double *)m;
    size_t n = offsetof(sv_report_metrics_t, n_trades) / sizeof(double);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(d[i]) && &d[i] != &m->profit_factor)
            fail_msg("metric #%zu = %g", i, d[i]);
    if (!isfinite(m->days))
        fail_msg("days = %g", m->days);
}

/* ---- a strict JSON validator (RFC 8259 grammar; no NaN/Infinity tokens) ---- */

typedef struct jp {
    const char *p, *end;
    int depth;
} jp_t;

static int j_value(jp_t *j);

static void j_ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int j_lit(jp_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int j_digits(jp_t *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static int j_number(jp_t *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!j_digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!j_digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!j_digits(j))
            return 0;
    }
    return 1;
}

static int j_string(jp_t *j)
{
    if (j->p >= j->end || *j->p++ != '"')
        return 0;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (j->p >= j->end)
                return 0;
            c = (unsigned char)*j->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                        return 0;
            } else if (!strchr("\"\\/bfnrt", c))
                return 0;
        }
    }
    return 0;
}

static int j_seq(jp_t *j, char close, int object)
{
    j->p++;
    j_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        if (object) {
            j_ws(j);
            if (!j_string(j))
                return 0;
            j_ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return 0;
        }
        if (!j_value(j))
            return 0;
        j_ws(j);
        if (j->p >= j->end)
            return 0;
        char c = *j->p++;
        if (c == close)
            return 1;
        if (c != ',')
            return 0;
    }
}

static int j_value(jp_t *j)
{
    j_ws(j);
    if (j->p >= j->end || ++j->depth > 64)
        return 0;
    int ok;
    switch (*j->p) {
    case '{': ok = j_seq(j, '}', 1); break;
    case '[': ok = j_seq(j, ']', 0); break;
    case '"': ok = j_string(j); break;
    case 't': ok = j_lit(j, "true"); break;
    case 'f': ok = j_lit(j, "false"); break;
    case 'n': ok = j_lit(j, "null"); break;
    default: ok = j_number(j);
    }
    j->depth--;
    return ok;
}

static void json_valid(const char *buf, size_t len)
{
    jp_t j = {buf, buf + len, 0};
    if (!j_value(&j))
        fail_msg("invalid JSON at byte %td: %.40s", j.p - buf, j.p);
    j_ws(&j);
    if (j.p != j.end)
        fail_msg("trailing bytes after JSON at %td", j.p - buf);
    if (*buf != '{')
        fail_msg("JSON is not an object");
}

static void validator_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"{\"a\":nan}", "{\"a\":inf}", "{\"a\":-inf}", "{\"a\":1,}", "[1 2]",
                         "{\"a\":\"x\ty\"}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":1", "\"\\x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jp_t j = {bad[i], bad[i] + strlen(bad[i]), 0};
        int ok = j_value(&j);
        j_ws(&j);
        if (ok && j.p == j.end)
            fail_msg("validator accepted %s", bad[i]);
    }
    const char *good = "{\"a\":[1,-0.5,2e-07,true,null,\"\\u00e9\\\"\"],\"b\":{}}";
    json_valid(good, strlen(good));
}

/* ---- metrics ---- */

/* Peak 120 at 1h, trough 90 at 2h (-25 %), back to exactly 120 at 4h (3 h underwater); later
 * peak 130 at 5h, 117 at 6h (-10 %), never recovered: 2 h to the end at 7h. */
static void test_drawdown(void **state)
{
    (void)state;
    const sv_equity_point_t e[] = {{T0, 100},
                                   {T0 + 1 * HOUR, 120},
                                   {T0 + 2 * HOUR, 90},
                                   {T0 + 3 * HOUR, 110},
                                   {T0 + 4 * HOUR, 120},
                                   {T0 + 5 * HOUR, 130},
                                   {T0 + 6 * HOUR, 117},
                                   {T0 + 7 * HOUR, 125}};
    sv_report_input_t in = input(e, 8, 100);
    sv_report_metrics_t m = compute(&in);
    NEAR(m.max_drawdown, 0.25);
    NEAR(m.max_drawdown_duration_s, 3 * 3600);
    NEAR(m.start_equity, 100);
    NEAR(m.final_equity, 125);
    NEAR(m.total_return, 0.25);
    NEAR(m.days, 7.0 / 24);
    NEAR(m.cagr, 0.25); /* under a day: CAGR is the total return */
    NEAR(m.calmar, 1.0);
    /* one UTC day: one daily return (+25 %), no deviation, no downside */
    NEAR(m.volatility, 0);
    NEAR(m.sharpe, 0);
    NEAR(m.sortino, 0);
    NEAR(m.var95_daily, 0);
    all_finite(&m);

    /* The same curve ending later and still below 130: the open span is the longest. */
    sv_equity_point_t e2[8];
    memcpy(e2, e, sizeof e);
    e2[7].ts = T0 + 10 * HOUR;
    in.equity = e2;
    m = compute(&in);
    NEAR(m.max_drawdown, 0.25);
    NEAR(m.max_drawdown_duration_s, 5 * 3600);

    /* The first sample already below initial equity is a drawdown from initial equity. */
    const sv_equity_point_t e3[] = {{T0, 95}, {T0 + 30 * SEC, 98}, {T0 + 60 * SEC, 100}};
    in = input(e3, 3, 100);
    m = compute(&in);
    NEAR(m.max_drawdown, 0.05);
    NEAR(m.max_drawdown_duration_s, 60);
    NEAR(m.total_return, 0);
}

/* Closes per UTC day: day 0 ends at 1100 (its last sample is 1 ns before midnight), the sample
 * at midnight belongs to day 1 which closes at 990, day 2 has no sample (990 carried), day 3
 * closes at 1089. Returns against 1000: +10 %, -10 %, 0, +10 %. */
static void test_daily_resampling(void **state)
{
    (void)state;
    const sv_equity_point_t e[] = {{T0 + 1 * HOUR, 1010},
                                   {T0 + DAY - 1, 1100},
                                   {T0 + DAY, 1050},
                                   {T0 + DAY + 12 * HOUR, 990},
                                   {T0 + 3 * DAY + 6 * HOUR, 1089}};
    sv_report_input_t in = input(e, 5, 1000);
    sv_report_metrics_t m = compute(&in);
    /* mean 0.025; squared deviations .005625 + .015625 + .000625 + .005625 = .0275 */
    double sd = sqrt(0.0275 / 3);
    NEAR(m.volatility, sd * sqrt(365));
    NEAR(m.sharpe, 0.025 / sd * sqrt(365));
    /* downside deviation sqrt(0.01 / 4) = 0.05 */
    NEAR(m.sortino, 0.025 / 0.05 * sqrt(365));
    /* 5th percentile at (4-1)*0.05 = 0.15 between -0.1 and 0: -0.085 */
    NEAR(m.var95_daily, 0.085);
    NEAR(m.total_return, 0.089);
    NEAR(m.days, 3 + 5.0 / 24);
    NEAR(m.cagr, pow(1.089, 365 / (3 + 5.0 / 24)) - 1);
    /* peak 1100 at day 0 23:59:59.999999999, 990 is -10 %, never regained */
    NEAR(m.max_drawdown, 0.1);
    NEAR(m.max_drawdown_duration_s, (double)(3 * DAY + 6 * HOUR - (DAY - 1)) / 1e9);
    NEAR(m.calmar, m.cagr / 0.1);

    /* Timestamps before 1970 fall on their own day (floor, not truncation): -1 ns is
     * 1969-12-31, so 0 ns starts a second day. */
    const sv_equity_point_t e2[] = {{-1, 110}, {0, 99}};
    in = input(e2, 2, 100);
    m = compute(&in);
    /* returns +10 %, -10 %: mean 0, so Sharpe 0 but volatility is not */
    NEAR(m.volatility, sqrt(0.02) * sqrt(365));
    NEAR(m.sharpe, 0);
}

/* A flat curve and a single sample: every metric 0, nothing NaN or infinite. */
static void test_flat_and_single(void **state)
{
    (void)state;
    const sv_equity_point_t e[] = {
        {T0, 1000}, {T0 + DAY, 1000}, {T0 + 2 * DAY, 1000}, {T0 + 3 * DAY, 1000}};
    sv_report_input_t in = input(e, 4, 1000);
    sv_report_metrics_t m = compute(&in);
    all_finite(&m);
    NEAR(m.total_return, 0);
    NEAR(m.cagr, 0);
    NEAR(m.volatility, 0);
    NEAR(m.sharpe, 0);
    NEAR(m.sortino, 0);
    NEAR(m.calmar, 0);
    NEAR(m.max_drawdown, 0);
    NEAR(m.max_drawdown_duration_s, 0);
    NEAR(m.win_rate, 0);
    NEAR(m.profit_factor, 0);
    NEAR(m.expectancy, 0);
    NEAR(m.avg_trade_duration_s, 0);
    NEAR(m.exposure, 0);
    NEAR(m.var95_daily, 0);
    NEAR(m.days, 3);
    assert_int_equal(m.n_trades, 0);

    const sv_equity_point_t one[] = {{T0, 1000}};
    in = input(one, 1, 0); /* no initial equity: the first sample is the start */
    m = compute(&in);
    all_finite(&m);
    NEAR(m.start_equity, 1000);
    NEAR(m.total_return, 0);
    NEAR(m.days, 0);
    NEAR(m.exposure, 0);
    NEAR(m.sharpe, 0);

    /* Equity wiped out to 0 and below: no NaN from the divisions or pow(). */
    const sv_equity_point_t bust[] = {{T0, 1000}, {T0 + 2 * DAY, 0}, {T0 + 4 * DAY, -50}};
    in = input(bust, 3, 1000);
    m = compute(&in);
    all_finite(&m);
    NEAR(m.cagr, -1);
    NEAR(m.max_drawdown, 1.05);

    in.n_equity = 0;
    assert_int_equal(sv_report_compute(&in, &m), SV_E_INVAL);
    assert_int_equal(sv_report_compute(NULL, &m), SV_E_INVAL);
}

static sv_report_trade_t trade(const char *sym, const char *strat, int side, int64_t open,
                               int64_t close, double pnl)
{
    sv_report_trade_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    snprintf(t.strategy, sizeof t.strategy, "%s", strat);
    t.side = side;
    t.open_ts = open;
    t.close_ts = close;
    t.qty = 0.5;
    t.entry_price = 42000.5;
    t.exit_price = 42100.25;
    t.pnl = pnl;
    t.fees = 1.25;
    return t;
}

static void test_trades(void **state)
{
    (void)state;
    const sv_equity_point_t e[] = {{T0, 1000}, {T0 + DAY, 1050}};
    const sv_report_trade_t t[] = {
        trade("BTCUSDT", "s", 1, T0, T0 + 1 * HOUR, 30),
        trade("BTCUSDT", "s", -1, T0, T0 + 2 * HOUR, -10),
        trade("ETHUSDT", "s", 1, T0, T0 + 3 * HOUR, 50),
        trade("ETHUSDT", "s", 1, T0, T0 + 4 * HOUR, 0),
        trade("BTCUSDT", "s", -1, T0, T0 + 10 * HOUR, -20),
    };
    sv_report_input_t in = input(e, 2, 1000);
    in.trades = t;
    in.n_trades = 5;
    in.exposure_ns = 6 * HOUR;
    in.fees_paid = 12.5;
    sv_report_metrics_t m = compute(&in);
    assert_int_equal(m.n_trades, 5);
    NEAR(m.win_rate, 0.4);             /* 2 of 5; the 0 trade is not a win */
    NEAR(m.profit_factor, 80.0 / 30);  /* (30 + 50) / |-10 - 20| */
    NEAR(m.expectancy, 10);            /* 50 / 5 */
    NEAR(m.avg_win, 40);
    NEAR(m.avg_loss, -15);
    NEAR(m.best_trade, 50);
    NEAR(m.worst_trade, -20);
    NEAR(m.avg_trade_duration_s, 4 * 3600); /* (1 + 2 + 3 + 4 + 10) h / 5 */
    NEAR(m.exposure, 0.25);
    NEAR(m.fees, 12.5);

    /* Only losses: best is the smallest loss, no wins, profit factor 0. */
    const sv_report_trade_t l[] = {trade("X", "s", 1, T0, T0 + HOUR, -3),
                                   trade("X", "s", 1, T0, T0 + HOUR, -5)};
    in.trades = l;
    in.n_trades = 2;
    m = compute(&in);
    NEAR(m.best_trade, -3);
    NEAR(m.worst_trade, -5);
    NEAR(m.avg_win, 0);
    NEAR(m.avg_loss, -4);
    NEAR(m.profit_factor, 0);
    NEAR(m.win_rate, 0);
}

/* Builds a curve with one noon sample per day giving the returns r (against 1000 first). */
static void curve_from_returns(const double *r, size_t n, sv_equity_point_t *e)
{
    double v = 1000;
    for (size_t i = 0; i < n; i++) {
        v *= 1 + r[i];
        e[i].ts = T0 + (int64_t)i * DAY + 12 * HOUR;
        e[i].equity = v;
    }
}

static void test_var(void **state)
{
    (void)state;
    /* 21 returns: the 5th percentile sits exactly on the 2nd smallest (-3 %). */
    const double r21[21] = {0.01,  -0.02, 0.03, -0.05, 0.00,  0.02,  0.01,
                            -0.01, 0.04,  0.02, -0.03, 0.01,  -0.005, 0.0,
                            0.015, 0.02,  -0.01, 0.03, 0.005, 0.01,  -0.02};
    sv_equity_point_t e[21];
    curve_from_returns(r21, 21, e);
    sv_report_input_t in = input(e, 21, 1000);
    sv_report_metrics_t m = compute(&in);
    NEAR(m.var95_daily, 0.03);

    /* 11 returns: position 0.5 between -4 % and -2 %: 3 %. */
    const double r11[11] = {0.01, -0.02, 0.03, 0.0, 0.02, -0.04, 0.01, 0.05, 0.0, 0.01, 0.02};
    curve_from_returns(r11, 11, e);
    in.n_equity = 11;
    m = compute(&in);
    NEAR(m.var95_daily, 0.03);

    /* Only gains: no loss at 95 %, reported as 0, not negative. */
    const double up[5] = {0.01, 0.02, 0.01, 0.03, 0.02};
    curve_from_returns(up, 5, e);
    in.n_equity = 5;
    m = compute(&in);
    NEAR(m.var95_daily, 0);
    NEAR(m.sortino, 0);
    assert_true(m.sharpe > 0);
}

/* ---- reports ---- */

static void test_profit_factor_no_loss(void **state)
{
    tmp_t *tmp = *state;
    const sv_equity_point_t e[] = {{T0, 1000}, {T0 + DAY, 1015}};
    const sv_report_trade_t t[] = {trade("BTCUSDT", "s", 1, T0, T0 + HOUR, 10),
                                   trade("BTCUSDT", "s", 1, T0, T0 + HOUR, 5)};
    sv_report_input_t in = input(e, 2, 1000);
    in.trades = t;
    in.n_trades = 2;
    sv_report_metrics_t m = compute(&in);
    assert_true(isinf(m.profit_factor) && m.profit_factor > 0);

    assert_int_equal(sv_report_write_json(tmp->json, &in, &m), 0);
    size_t len;
    char *js = slurp(tmp->json, &len);
    json_valid(js, len);
    HAS(js, "\"profit_factor\":null,");
    free(js);

    char *txt = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&txt, &tlen);
    assert_non_null(f);
    sv_report_print_summary(f, &in, &m);
    fclose(f);
    const char *row = strstr(txt, "Profit factor");
    assert_non_null(row);
    const char *eol = strchr(row, '\n');
    assert_non_null(eol);
    assert_memory_equal(eol - 3, "inf", 3);
    free(txt);
}

/* Right-aligned two-column table with percent, money and duration formats. */
static void test_summary(void **state)
{
    (void)state;
    const sv_equity_point_t e[] = {{T0, 100},
                                   {T0 + 1 * HOUR, 120},
                                   {T0 + 2 * HOUR, 90},
                                   {T0 + 4 * HOUR, 120},
                                   {T0 + 7 * HOUR, 125}};
    const sv_report_trade_t t[] = {trade("BTCUSDT", "s", 1, T0, T0 + 93784 * SEC, 30),
                                   trade("BTCUSDT", "s", 1, T0, T0 + 93784 * SEC, -10)};
    sv_report_input_t in = input(e, 5, 100);
    in.trades = t;
    in.n_trades = 2;
    in.events = 1234;
    sv_report_metrics_t m = compute(&in);

    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    assert_non_null(f);
    sv_report_print_summary(f, &in, &m);
    fclose(f);

    HAS(txt, "test\nconfig: config/environments/test.yaml\n"
             "period: 2024-01-01T00:00:00.000Z .. 2024-01-01T07:00:00.000Z (0.29 days)\n\n");
    const char *want[] = {"Start equity           100.00 USDT",
                          "Final equity           125.00 USDT",
                          "Total return                25.00%",
                          "Max drawdown                25.00%",
                          "Max drawdown duration  0d 03:00:00",
                          "Profit factor                 3.00",
                          "Expectancy              10.00 USDT",
                          "Avg trade duration     1d 02:03:04",
                          "Win rate                    50.00%",
                          "Events                        1234"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char line[96];
        snprintf(line, sizeof line, "\n%s\n", want[i]);
        HAS(txt, line);
    }
    /* every table line has the same width */
    const char *p = strstr(txt, "\n\n") + 2;
    size_t width = (size_t)(strchr(p, '\n') - p), lines = 0;
    for (; *p; p = strchr(p, '\n') + 1, lines++)
        if ((size_t)(strchr(p, '\n') - p) != width)
            fail_msg("line %zu is not %zu wide: %.60s", lines, width, p);
    assert_int_equal(lines, 26);
    free(txt);
}

/* A curve with a tricky title and trades whose names need escaping. */
static void rich_input(sv_report_input_t *in, sv_equity_point_t *e, size_t n,
                       sv_report_trade_t *t)
{
    for (size_t i = 0; i < n; i++) {
        e[i].ts = T0 + (int64_t)i * 7 * HOUR;
        e[i].equity = 10000 + 250 * sin((double)i / 3) + 10 * (double)i;
    }
    t[0] = trade("BTCUSDT", "mean<rev>&\"x\"", -1, T0 + HOUR + 5 * SEC + 123456789,
                 T0 + 30 * HOUR, 12.5);
    t[1] = trade("ETHUSDT", "sma_cross", 1, 1709210096789000000LL, 1709210100000000000LL, -4);
    t[2] = trade("OLD\\USD", "it's", 1, -1, 0, 0.125);
    memset(in, 0, sizeof *in);
    in->title = "tab\there \"q\" back\\slash <b>& \xc3\xa9 bad\xff";
    in->config = "config/environments/backtest.yaml";
    in->quote = "USDT";
    in->initial_equity = 10000;
    in->equity = e;
    in->n_equity = n;
    in->trades = t;
    in->n_trades = 3;
    in->fees_paid = 3.75;
    in->exposure_ns = 20 * HOUR;
    in->events = 123;
    in->orders = 7;
    in->fills = 6;
    in->rejects = 1;
}

static void test_json(void **state)
{
    tmp_t *tmp = *state;
    sv_equity_point_t e[40];
    sv_report_trade_t t[3];
    sv_report_input_t in;
    rich_input(&in, e, 40, t);
    sv_report_metrics_t m = compute(&in);

    assert_int_equal(sv_report_write_json(tmp->json, &in, &m), 0);
    assert_int_equal(sv_report_write_json(tmp->json2, &in, &m), 0);
    same_bytes(tmp->json, tmp->json2);

    size_t len;
    char *js = slurp(tmp->json, &len);
    json_valid(js, len);
    HAS(js, "{\"title\":\"tab\\there \\\"q\\\" back\\\\slash <b>& \xc3\xa9 bad\\ufffd\","
            "\"config\":\"config/environments/backtest.yaml\",\"quote\":\"USDT\",\n");
    HAS(js, "\"period\":{\"start\":\"2024-01-01T00:00:00.000Z\","
            "\"end\":\"2024-01-12T09:00:00.000Z\",\"days\":11.375},\n");
    HAS(js, "\"counts\":{\"events\":123,\"orders\":7,\"fills\":6,\"rejects\":1,\"trades\":3}");
    HAS(js, "\"equity\":[\n[1704067200000,10000],\n[1704092400000,");
    HAS(js, "{\"symbol\":\"BTCUSDT\",\"strategy\":\"mean<rev>&\\\"x\\\"\",\"side\":\"short\","
            "\"open_time\":\"2024-01-01T01:00:05.123Z\","
            "\"close_time\":\"2024-01-02T06:00:00.000Z\","
            "\"qty\":0.5,\"entry_price\":42000.5,\"exit_price\":42100.25,\"pnl\":12.5,"
            "\"fees\":1.25}");
    HAS(js, "\"open_time\":\"2024-02-29T12:34:56.789Z\","
            "\"close_time\":\"2024-02-29T12:35:00.000Z\"");
    HAS(js, "{\"symbol\":\"OLD\\\\USD\",\"strategy\":\"it's\",\"side\":\"long\","
            "\"open_time\":\"1969-12-31T23:59:59.999Z\","
            "\"close_time\":\"1970-01-01T00:00:00.000Z\"");
    HAS(js, "\"win_rate\":0.666666666667,\"profit_factor\":3.15625,");
    HAS(js, "\"fees\":3.75,\"n_trades\":3}");
    assert_int_equal(count(js, "\n[17"), 40);
    LACKS(js, "nan");
    LACKS(js, "inf");
    free(js);

    assert_int_equal(sv_report_write_json("/nonexistent-dir/x/report.json", &in, &m), SV_E_IO);
    in.n_equity = 0;
    assert_int_equal(sv_report_write_json(tmp->json, &in, &m), SV_E_INVAL);
}

static void test_html(void **state)
{
    tmp_t *tmp = *state;
    sv_equity_point_t e[40];
    sv_report_trade_t t[3];
    sv_report_input_t in;
    rich_input(&in, e, 40, t);
    sv_report_metrics_t m = compute(&in);

    assert_int_equal(sv_report_write_html(tmp->html, &in, &m), 0);
    assert_int_equal(sv_report_write_html(tmp->html2, &in, &m), 0);
    same_bytes(tmp->html, tmp->html2);

    size_t len;
    char *h = slurp(tmp->html, &len);
    assert_memory_equal(h, "<!DOCTYPE html>\n<html lang=\"en\">\n", 33);
    assert_string_equal(h + len - 16, "</body>\n</html>\n");
    assert_int_equal(count(h, "<svg"), 2);
    assert_int_equal(count(h, "</svg>"), 2);
    HAS(h, "<polyline class=\"eq\"");
    HAS(h, "<polygon class=\"dd\"");
    HAS(h, ">2024-01-01</text>"); /* x axis dates */
    HAS(h, ">2024-01-12</text>");
    HAS(h, ">0%</text>"); /* drawdown axis values */
    LACKS(h, ">-0%");
    HAS(h, "<title>tab\there &quot;q&quot; back\\slash &lt;b&gt;&amp; \xc3\xa9 "
           "bad&#xFFFD;</title>");
    /* every trade row, escaped */
    HAS(h, "<tr><td>1</td><td class=\"l\">BTCUSDT</td>"
           "<td class=\"l\">mean&lt;rev&gt;&amp;&quot;x&quot;</td><td class=\"l\">short</td>"
           "<td class=\"l\">2024-01-01T01:00:05.123Z</td>");
    HAS(h, "<tr><td>2</td><td class=\"l\">ETHUSDT</td><td class=\"l\">sma_cross</td>");
    HAS(h, "<tr><td>3</td><td class=\"l\">OLD\\USD</td><td class=\"l\">it&#39;s</td>");
    HAS(h, "<td>0.5</td><td>42000.5</td><td>42100.25</td><td class=\"pos\">12.50</td>"
           "<td>1.25</td></tr>");
    HAS(h, "<h2>Trades (3)</h2>");
    HAS(h, "<tr><td class=\"l\">Fees paid</td><td>3.75 USDT</td></tr>");
    LACKS(h, "mean<rev>");
    LACKS(h, "<script");
    LACKS(h, "src=");
    LACKS(h, "href=");
    LACKS(h, "nan");
    LACKS(h, "inf");
    free(h);

    /* A single sample and no trades still gives two charts and a table. */
    in.n_equity = 1;
    in.n_trades = 0;
    m = compute(&in);
    assert_int_equal(sv_report_write_html(tmp->html, &in, &m), 0);
    h = slurp(tmp->html, &len);
    assert_int_equal(count(h, "<svg"), 2);
    HAS(h, "No trades");
    LACKS(h, "nan");
    LACKS(h, "inf");
    free(h);
}

/* 10000 samples: at most 2000 in report.json and each chart, keeping the first, the last and
 * the maximum drawdown's peak and trough. */
static void test_downsample(void **state)
{
    tmp_t *tmp = *state;
    enum { N = 10000 };
    sv_equity_point_t *e = malloc(N * sizeof *e);
    assert_non_null(e);
    for (int i = 0; i < N; i++) {
        e[i].ts = T0 + (int64_t)i * 60 * SEC;
        e[i].equity = 1000 + (i % 97) - (i % 13);
    }
    /* The peak, then the trough (-75 %) and a higher high within the same run of samples, so
     * the peak is neither the run's highest nor its lowest point. */
    e[3001].equity = 2000;
    e[3003].equity = 500;
    e[3005].equity = 2100;
    e[N - 1].equity = 1001.5;
    sv_report_input_t in = input(e, N, 1000);
    sv_report_metrics_t m = compute(&in);
    NEAR(m.max_drawdown, 0.75);
    NEAR(m.max_drawdown_duration_s, (double)(N - 1 - 3005) * 60);

    assert_int_equal(sv_report_write_json(tmp->json, &in, &m), 0);
    assert_int_equal(sv_report_write_json(tmp->json2, &in, &m), 0);
    same_bytes(tmp->json, tmp->json2);
    size_t len;
    char *js = slurp(tmp->json, &len);
    json_valid(js, len);
    size_t pts = count(js, "\n[17");
    if (pts > 2000 || pts < 1000)
        fail_msg("%zu points in report.json", pts);
    char want[64];
    const int keep[] = {0, 3001, 3003, 3005, N - 1};
    for (size_t i = 0; i < 5; i++) {
        snprintf(want, sizeof want, "\n[%lld,%.12g]", (long long)(e[keep[i]].ts / 1000000),
                 e[keep[i]].equity);
        HAS(js, want);
    }
    /* ascending times */
    long long prev = -1;
    for (const char *p = strstr(js, "\n[17"); p; p = strstr(p + 1, "\n[17")) {
        long long ts = strtoll(p + 2, NULL, 10);
        if (ts <= prev)
            fail_msg("equity times not ascending: %lld after %lld", ts, prev);
        prev = ts;
    }
    free(js);

    assert_int_equal(sv_report_write_html(tmp->html, &in, &m), 0);
    assert_int_equal(sv_report_write_html(tmp->html2, &in, &m), 0);
    same_bytes(tmp->html, tmp->html2);
    char *h = slurp(tmp->html, &len);
    const char *poly = strstr(h, "<polyline class=\"eq\" points=\"");
    assert_non_null(poly);
    size_t commas = 0;
    for (const char *p = poly; *p != '/'; p++)
        commas += *p == ',';
    assert_int_equal(commas, pts);
    free(h);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validator_rejects),
        cmocka_unit_test(test_drawdown),
        cmocka_unit_test(test_daily_resampling),
        cmocka_unit_test(test_flat_and_single),
        cmocka_unit_test(test_trades),
        cmocka_unit_test(test_var),
        cmocka_unit_test_setup_teardown(test_profit_factor_no_loss, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_summary),
        cmocka_unit_test_setup_teardown(test_json, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_html, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_downsample, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
