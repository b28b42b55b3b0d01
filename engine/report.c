/* report: backtest metrics and the three reports (terminal summary, report.json, report.html).
 *
 * Everything is derived from the input alone, summed in a fixed order and printed with fixed
 * formats in the C locale, so one backtest always gives the same bytes. docs/backtest.md
 * defines every metric; the comments here say why a choice was made. */
#include "report.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define NS_PER_MS 1000000LL
#define NS_PER_DAY 86400000000000LL
#define ANNUAL_DAYS 365.0
#define MAX_POINTS 2000 /* samples of the curve in report.json and in each chart */
#define FLAT_SD 1e-12   /* a deviation of daily returns below this is a flat curve, not a risk */
#define NUM "%.12g"     /* every non-integer number in report.json */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The base of every return: initial_equity, or the first sample when none was given. */
static double start_equity(const sv_report_input_t *in)
{
    return in->initial_equity > 0 ? in->initial_equity : in->equity[0].equity;
}

static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

/* ---- time ---- */

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* ISO-8601 UTC with milliseconds: 2024-02-29T12:34:56.789Z (time is floored to the ms). */
static void iso_time(char *buf, size_t len, int64_t ns)
{
    int64_t ms = floor_div(ns, NS_PER_MS);
    int64_t day = floor_div(ms, 86400000);
    int64_t msod = ms - day * 86400000;
    int64_t y;
    int mo, d;
    civil(day, &y, &mo, &d);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, mo, d,
             (int)(msod / 3600000), (int)(msod / 60000 % 60), (int)(msod / 1000 % 60),
             (int)(msod % 1000));
}

/* A chart's time label: the date, or the date and time when the period is short. */
static void axis_time(char *buf, size_t len, int64_t ns, int with_time)
{
    char iso[48];
    iso_time(iso, sizeof iso, ns);
    if (with_time)
        snprintf(buf, len, "%.10s %.5s", iso, iso + 11);
    else
        snprintf(buf, len, "%.10s", iso);
}

/* 93784 s -> "1d 02:03:04". */
static void duration(char *buf, size_t len, double s)
{
    long long t = s > 0 ? (long long)(s + 0.5) : 0;
    snprintf(buf, len, "%lldd %02lld:%02lld:%02lld", t / 86400, t / 3600 % 24, t / 60 % 60,
             t % 60);
}

/* ---- metrics ---- */

typedef struct dd_scan {
    double max_dd;        /* fraction */
    double max_dur_s;     /* longest span from a peak to its recovery (or the end) */
    size_t peak, trough;  /* samples of the maximum drawdown */
} dd_scan_t;

/* Walks the full-resolution curve. The running peak starts at the start equity, stamped at the
 * first sample, so a loss on the very first sample is a drawdown. dd (n_equity long, may be
 * NULL) receives each sample's drawdown. */
static void scan_drawdown(const sv_report_input_t *in, double *dd, dd_scan_t *s)
{
    const sv_equity_point_t *e = in->equity;
    double peak = start_equity(in);
    size_t peak_i = 0;
    int64_t peak_ts = e[0].ts;
    int under = 0;

    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < in->n_equity; i++) {
        double d = 0.0;
        if (e[i].equity >= peak) {
            if (under && (double)(e[i].ts - peak_ts) / 1e9 > s->max_dur_s)
                s->max_dur_s = (double)(e[i].ts - peak_ts) / 1e9;
            under = 0;
            peak = e[i].equity;
            peak_i = i;
            peak_ts = e[i].ts;
        } else {
            under = 1;
            if (peak > 0)
                d = (peak - e[i].equity) / peak;
            if (d > s->max_dd) {
                s->max_dd = d;
                s->peak = peak_i;
                s->trough = i;
            }
        }
        if (dd)
            dd[i] = d;
    }
    int64_t end = e[in->n_equity - 1].ts;
    if (under && (double)(end - peak_ts) / 1e9 > s->max_dur_s)
        s->max_dur_s = (double)(end - peak_ts) / 1e9;
}

/* Returns of the curve resampled to UTC days (the last sample of each day; a day without
 * samples keeps the previous close). The first return is against the start equity. *out is
 * malloc'd and has *n >= 1 entries. */
static int daily_returns(const sv_report_input_t *in, double **out, size_t *n)
{
    const sv_equity_point_t *e = in->equity;
    int64_t d0 = floor_div(e[0].ts, NS_PER_DAY);
    int64_t d1 = floor_div(e[in->n_equity - 1].ts, NS_PER_DAY);
    if (d1 < d0)
        return SV_E_INVAL; /* not time-ordered */
    size_t days = (size_t)(d1 - d0) + 1;
    double *r = malloc(days * sizeof *r);
    if (!r)
        return SV_E_NOMEM;

    double prev = start_equity(in), close = prev;
    size_t i = 0;
    for (size_t k = 0; k < days; k++) {
        while (i < in->n_equity && floor_div(e[i].ts, NS_PER_DAY) <= d0 + (int64_t)k)
            close = e[i++].equity;
        r[k] = prev > 0 ? close / prev - 1.0 : 0.0;
        prev = close;
    }
    *out = r;
    *n = days;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Historical VaR 95 %: minus the 5th percentile of the returns (linear interpolation between
 * order statistics at (n-1)*0.05), never below 0. Sorts r. */
static double var95(double *r, size_t n)
{
    qsort(r, n, sizeof *r, cmp_double);
    double pos = (double)(n - 1) / 20.0;
    size_t lo = (size_t)pos;
    double q = r[lo];
    if (lo + 1 < n)
        q += (pos - (double)lo) * (r[lo + 1] - r[lo]);
    return q < 0 ? -q : 0.0;
}

static void daily_metrics(double *r, size_t n, sv_report_metrics_t *m)
{
    double sum = 0.0, down = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += r[i];
        if (r[i] < 0)
            down += r[i] * r[i];
    }
    double mean = sum / (double)n;
    double sd = 0.0;
    if (n >= 2) {
        double ss = 0.0;
        for (size_t i = 0; i < n; i++)
            ss += (r[i] - mean) * (r[i] - mean);
        sd = sqrt(ss / (double)(n - 1));
    }
    double dsd = sqrt(down / (double)n);
    double ann = sqrt(ANNUAL_DAYS);

    m->volatility = sd * ann;
    m->sharpe = sd > FLAT_SD ? mean / sd * ann : 0.0;
    m->sortino = dsd > FLAT_SD ? mean / dsd * ann : 0.0;
    m->var95_daily = var95(r, n);
}

static void trade_metrics(const sv_report_input_t *in, sv_report_metrics_t *m)
{
    double gross_win = 0.0, gross_loss = 0.0, sum = 0.0, dur = 0.0;
    size_t wins = 0, losses = 0;

    for (size_t i = 0; i < in->n_trades; i++) {
        const sv_report_trade_t *t = &in->trades[i];
        sum += t->pnl;
        dur += (double)(t->close_ts - t->open_ts) / 1e9;
        if (t->pnl > 0) {
            gross_win += t->pnl;
            wins++;
        } else if (t->pnl < 0) {
            gross_loss += t->pnl;
            losses++;
        }
        if (i == 0 || t->pnl > m->best_trade)
            m->best_trade = t->pnl;
        if (i == 0 || t->pnl < m->worst_trade)
            m->worst_trade = t->pnl;
    }
    m->n_trades = in->n_trades;
    if (in->n_trades == 0)
        return;
    double n = (double)in->n_trades;
    m->win_rate = (double)wins / n;
    m->expectancy = sum / n;
    m->avg_trade_duration_s = dur / n;
    m->avg_win = wins ? gross_win / (double)wins : 0.0;
    m->avg_loss = losses ? gross_loss / (double)losses : 0.0;
    if (gross_loss < 0)
        m->profit_factor = gross_win / -gross_loss;
    else
        m->profit_factor = gross_win > 0 ? INFINITY : 0.0;
}

int sv_report_compute(const sv_report_input_t *in, sv_report_metrics_t *out)
{
    if (!in || !out || !in->equity || in->n_equity == 0 || (in->n_trades && !in->trades))
        return SV_E_INVAL;

    sv_report_metrics_t m;
    memset(&m, 0, sizeof m);
    const sv_equity_point_t *first = &in->equity[0], *last = &in->equity[in->n_equity - 1];
    int64_t period = last->ts - first->ts;

    m.start_equity = start_equity(in);
    m.final_equity = last->equity;
    m.days = (double)period / (double)NS_PER_DAY;
    m.total_return = m.start_equity > 0 ? m.final_equity / m.start_equity - 1.0 : 0.0;
    /* Annualising less than a day turns an hour's noise into absurd rates. */
    if (m.days < 1)
        m.cagr = m.total_return;
    else if (m.start_equity <= 0)
        m.cagr = 0.0;
    else if (m.final_equity <= 0)
        m.cagr = -1.0;
    else
        m.cagr = pow(m.final_equity / m.start_equity, ANNUAL_DAYS / m.days) - 1.0;

    double *r;
    size_t nr;
    int rc = daily_returns(in, &r, &nr);
    if (rc)
        return rc;
    daily_metrics(r, nr, &m);
    free(r);

    dd_scan_t s;
    scan_drawdown(in, NULL, &s);
    m.max_drawdown = s.max_dd;
    m.max_drawdown_duration_s = s.max_dur_s;
    m.calmar = s.max_dd > 0 ? m.cagr / s.max_dd : 0.0;

    trade_metrics(in, &m);
    m.exposure = period > 0 ? (double)in->exposure_ns / (double)period : 0.0;
    m.fees = in->fees_paid;

    /* Degenerate input (zero or negative equity, NaN samples) must not leak NaN or inf into the
     * reports; only a profit factor without losses is legitimately infinite. */
    double *all[] = {&m.start_equity, &m.final_equity, &m.total_return, &m.cagr, &m.volatility,
                     &m.sharpe, &m.sortino, &m.calmar, &m.max_drawdown,
                     &m.max_drawdown_duration_s, &m.win_rate, &m.expectancy, &m.avg_win,
                     &m.avg_loss, &m.best_trade, &m.worst_trade, &m.avg_trade_duration_s,
                     &m.exposure, &m.fees, &m.var95_daily, &m.days};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        *all[i] = finite_or_zero(*all[i]);
    if (isnan(m.profit_factor) || m.profit_factor < 0)
        m.profit_factor = 0.0;

    *out = m;
    return 0;
}

/* ---- shared by the writers ---- */

/* printf's decimal point follows LC_NUMERIC; the reports must not depend on the caller's
 * locale. uselocale() switches only this thread, and only while writing. */
typedef struct c_locale {
    locale_t c, old;
} c_locale_t;

static void c_locale_enter(c_locale_t *l)
{
    l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    l->old = l->c ? uselocale(l->c) : (locale_t)0;
}

static void c_locale_leave(c_locale_t *l)
{
    if (l->c) {
        uselocale(l->old);
        freelocale(l->c);
    }
}

static int close_file(FILE *f)
{
    int bad = ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    return bad ? SV_E_IO : 0;
}

/* Indices of at most MAX_POINTS samples, ascending: the first, the last, the maximum
 * drawdown's peak and trough, and in each of equal runs of samples in between its lowest,
 * highest and deepest-drawdown sample, so both charts keep their extremes. */
static int downsample(const sv_report_input_t *in, const double *dd, const dd_scan_t *s,
                      size_t **idx, size_t *count)
{
    size_t n = in->n_equity, k = 0;
    size_t *out = malloc((n < MAX_POINTS ? n : MAX_POINTS) * sizeof *out);
    if (!out)
        return SV_E_NOMEM;
    if (n <= MAX_POINTS) {
        for (size_t i = 0; i < n; i++)
            out[i] = i;
        *idx = out;
        *count = n;
        return 0;
    }
    unsigned char *keep = calloc(n, 1);
    if (!keep) {
        free(out);
        return SV_E_NOMEM;
    }
    const sv_equity_point_t *e = in->equity;
    const size_t inner = n - 2, runs = (MAX_POINTS - 4) / 3;
    keep[0] = keep[n - 1] = keep[s->peak] = keep[s->trough] = 1;
    for (size_t b = 0; b < runs; b++) {
        size_t lo = 1 + inner * b / runs, hi = 1 + inner * (b + 1) / runs;
        if (lo >= hi)
            continue;
        size_t mn = lo, mx = lo, deep = lo;
        for (size_t i = lo + 1; i < hi; i++) {
            if (e[i].equity < e[mn].equity)
                mn = i;
            if (e[i].equity > e[mx].equity)
                mx = i;
            if (dd[i] > dd[deep])
                deep = i;
        }
        keep[mn] = keep[mx] = keep[deep] = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            out[k++] = i;
    free(keep);
    *idx = out;
    *count = k;
    return 0;
}

/* The full-resolution drawdown and its sampled indices; both malloc'd. */
static int curve_samples(const sv_report_input_t *in, double **dd, dd_scan_t *s, size_t **idx,
                         size_t *count)
{
    *dd = malloc(in->n_equity * sizeof **dd);
    if (!*dd)
        return SV_E_NOMEM;
    scan_drawdown(in, *dd, s);
    int rc = downsample(in, *dd, s, idx, count);
    if (rc) {
        free(*dd);
        *dd = NULL;
    }
    return rc;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (len > n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

enum { ESC_JSON, ESC_HTML };

/* Writes s (at most max bytes; NULL is "") escaped for a JSON string body or HTML text and
 * attributes. Invalid UTF-8 becomes U+FFFD so the output always is valid. */
static void put_escaped(FILE *f, const char *s, size_t max, int mode)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strnlen((const char *)p, max);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *rep = NULL;
        if (c >= 0x80) {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                fwrite(p + i, 1, len, f);
                i += len;
                continue;
            }
            rep = mode == ESC_JSON ? "\\ufffd" : "&#xFFFD;";
        } else if (mode == ESC_JSON) {
            switch (c) {
            case '"': rep = "\\\""; break;
            case '\\': rep = "\\\\"; break;
            case '\n': rep = "\\n"; break;
            case '\r': rep = "\\r"; break;
            case '\t': rep = "\\t"; break;
            default:
                if (c < 0x20) {
                    fprintf(f, "\\u%04x", c);
                    i++;
                    continue;
                }
            }
        } else {
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '\t': case '\n': case '\r': break;
            default:
                if (c < 0x20 || c == 0x7F)
                    rep = "&#xFFFD;"; /* not allowed in HTML text */
            }
        }
        if (rep)
            fputs(rep, f);
        else
            fputc(c, f);
        i++;
    }
}

/* ---- the metric rows shared by the summary and the HTML table ---- */

typedef struct row {
    const char *label;
    char value[64];
} row_t;

enum { MAX_ROWS = 32 };

/* Rounds away the sign of values that print as zero, so -0.001 shows as 0.00, not -0.00. */
static double unsigned_zero(double v)
{
    return (v > -0.005 && v < 0.005) ? 0.0 : v;
}

static size_t metric_rows(const sv_report_input_t *in, const sv_report_metrics_t *m,
                          row_t *rows)
{
    const char *q = in->quote ? in->quote : "";
    const char *sep = *q ? " " : "";
    size_t n = 0;
#define ROW rows[n].value, sizeof rows[n].value
#define DONE(l) rows[n++].label = (l)
#define MONEY(l, v) (snprintf(ROW, "%.2f%s%.20s", unsigned_zero(v), sep, q), DONE(l))
#define PCT(l, v) (snprintf(ROW, "%.2f%%", unsigned_zero((v)*100.0)), DONE(l))
#define RATIO(l, v) (snprintf(ROW, "%.2f", unsigned_zero(v)), DONE(l))
#define COUNT(l, v) (snprintf(ROW, "%llu", (unsigned long long)(v)), DONE(l))
#define DURATION(l, v) (duration(ROW, (v)), DONE(l))
    MONEY("Start equity", m->start_equity);
    MONEY("Final equity", m->final_equity);
    PCT("Total return", m->total_return);
    PCT("CAGR", m->cagr);
    PCT("Volatility (ann.)", m->volatility);
    RATIO("Sharpe", m->sharpe);
    RATIO("Sortino", m->sortino);
    RATIO("Calmar", m->calmar);
    PCT("Max drawdown", m->max_drawdown);
    DURATION("Max drawdown duration", m->max_drawdown_duration_s);
    PCT("VaR 95% (daily)", m->var95_daily);
    PCT("Exposure", m->exposure);
    COUNT("Trades", m->n_trades);
    PCT("Win rate", m->win_rate);
    if (isinf(m->profit_factor)) {
        snprintf(rows[n].value, sizeof rows[n].value, "inf");
        rows[n++].label = "Profit factor";
    } else
        RATIO("Profit factor", m->profit_factor);
    MONEY("Expectancy", m->expectancy);
    MONEY("Avg win", m->avg_win);
    MONEY("Avg loss", m->avg_loss);
    MONEY("Best trade", m->best_trade);
    MONEY("Worst trade", m->worst_trade);
    DURATION("Avg trade duration", m->avg_trade_duration_s);
    MONEY("Fees paid", m->fees);
    COUNT("Events", in->events);
    COUNT("Orders", in->orders);
    COUNT("Fills", in->fills);
    COUNT("Rejects", in->rejects);
#undef ROW
#undef DONE
#undef MONEY
#undef PCT
#undef RATIO
#undef COUNT
#undef DURATION
    return n;
}

void sv_report_print_summary(FILE *out, const sv_report_input_t *in, const sv_report_metrics_t *m)
{
    if (!out || !in || !m)
        return;
    c_locale_t l;
    c_locale_enter(&l);

    row_t rows[MAX_ROWS];
    size_t n = metric_rows(in, m, rows);
    int lw = 0, vw = 0;
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(rows[i].label), b = (int)strlen(rows[i].value);
        lw = a > lw ? a : lw;
        vw = b > vw ? b : vw;
    }
    fprintf(out, "%s\n", in->title ? in->title : "backtest");
    if (in->config && *in->config)
        fprintf(out, "config: %s\n", in->config);
    if (in->n_equity && in->equity) {
        char a[48], b[48];
        iso_time(a, sizeof a, in->equity[0].ts);
        iso_time(b, sizeof b, in->equity[in->n_equity - 1].ts);
        fprintf(out, "period: %s .. %s (%.2f days)\n", a, b, m->days);
    }
    fputc('\n', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%-*s  %*s\n", lw, rows[i].label, vw, rows[i].value);

    c_locale_leave(&l);
}

/* ---- report.json ---- */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, NUM, v);
    else
        fputs("null", f);
}

static void json_key_str(FILE *f, const char *key, const char *s, size_t max)
{
    fprintf(f, "\"%s\":\"", key);
    put_escaped(f, s, max, ESC_JSON);
    fputc('"', f);
}

static void json_key_time(FILE *f, const char *key, int64_t ns)
{
    char buf[48];
    iso_time(buf, sizeof buf, ns);
    fprintf(f, "\"%s\":\"%s\"", key, buf);
}

static void json_metrics(FILE *f, const sv_report_metrics_t *m)
{
    const struct {
        const char *key;
        double v;
    } kv[] = {
        {"start_equity", m->start_equity},
        {"final_equity", m->final_equity},
        {"total_return", m->total_return},
        {"cagr", m->cagr},
        {"volatility", m->volatility},
        {"sharpe", m->sharpe},
        {"sortino", m->sortino},
        {"calmar", m->calmar},
        {"max_drawdown", m->max_drawdown},
        {"max_drawdown_duration_s", m->max_drawdown_duration_s},
        {"var95_daily", m->var95_daily},
        {"exposure", m->exposure},
        {"win_rate", m->win_rate},
        {"profit_factor", m->profit_factor},
        {"expectancy", m->expectancy},
        {"avg_win", m->avg_win},
        {"avg_loss", m->avg_loss},
        {"best_trade", m->best_trade},
        {"worst_trade", m->worst_trade},
        {"avg_trade_duration_s", m->avg_trade_duration_s},
        {"fees", m->fees},
    };
    fputs("\"metrics\":{", f);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", kv[i].key);
        json_num(f, kv[i].v);
    }
    fprintf(f, ",\"n_trades\":%llu}", (unsigned long long)m->n_trades);
}

int sv_report_write_json(const char *path, const sv_report_input_t *in,
                         const sv_report_metrics_t *m)
{
    if (!path || !in || !m || !in->equity || in->n_equity == 0 || (in->n_trades && !in->trades))
        return SV_E_INVAL;
    double *dd;
    dd_scan_t s;
    size_t *idx, k;
    int rc = curve_samples(in, &dd, &s, &idx, &k);
    if (rc)
        return rc;
    FILE *f = fopen(path, "w");
    if (!f) {
        free(dd);
        free(idx);
        return SV_E_IO;
    }
    c_locale_t l;
    c_locale_enter(&l);

    fputc('{', f);
    json_key_str(f, "title", in->title, SIZE_MAX);
    fputc(',', f);
    json_key_str(f, "config", in->config, SIZE_MAX);
    fputc(',', f);
    json_key_str(f, "quote", in->quote, SIZE_MAX);
    fputs(",\n\"period\":{", f);
    json_key_time(f, "start", in->equity[0].ts);
    fputc(',', f);
    json_key_time(f, "end", in->equity[in->n_equity - 1].ts);
    fputs(",\"days\":", f);
    json_num(f, m->days);
    fputs("},\n", f);
    json_metrics(f, m);
    fprintf(f, ",\n\"counts\":{\"events\":%llu,\"orders\":%llu,\"fills\":%llu,\"rejects\":%llu,"
               "\"trades\":%llu},\n",
            (unsigned long long)in->events, (unsigned long long)in->orders,
            (unsigned long long)in->fills, (unsigned long long)in->rejects,
            (unsigned long long)in->n_trades);

    fputs("\"equity\":[", f);
    for (size_t i = 0; i < k; i++) {
        const sv_equity_point_t *p = &in->equity[idx[i]];
        fprintf(f, "%s\n[%lld,", i ? "," : "", (long long)floor_div(p->ts, NS_PER_MS));
        json_num(f, p->equity);
        fputc(']', f);
    }
    fputs("],\n\"trades\":[", f);
    for (size_t i = 0; i < in->n_trades; i++) {
        const sv_report_trade_t *t = &in->trades[i];
        fputs(i ? ",\n{" : "\n{", f);
        json_key_str(f, "symbol", t->symbol, sizeof t->symbol);
        fputc(',', f);
        json_key_str(f, "strategy", t->strategy, sizeof t->strategy);
        fprintf(f, ",\"side\":\"%s\",", t->side < 0 ? "short" : "long");
        json_key_time(f, "open_time", t->open_ts);
        fputc(',', f);
        json_key_time(f, "close_time", t->close_ts);
        const struct {
            const char *key;
            double v;
        } kv[] = {{"qty", t->qty},   {"entry_price", t->entry_price},
                  {"exit_price", t->exit_price}, {"pnl", t->pnl}, {"fees", t->fees}};
        for (size_t j = 0; j < sizeof kv / sizeof kv[0]; j++) {
            fprintf(f, ",\"%s\":", kv[j].key);
            json_num(f, kv[j].v);
        }
        fputc('}', f);
    }
    fputs("]}\n", f);

    c_locale_leave(&l);
    free(dd);
    free(idx);
    return close_file(f);
}

/* ---- report.html ---- */

enum { SVG_W = 900, SVG_H = 280, PAD_L = 80, PAD_R = 24, PAD_T = 16, PAD_B = 36 };

/* The round step (1, 2 or 5 times a power of ten) nearest to range / target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

typedef struct chart {
    const char *name;    /* aria label and heading */
    const char *unit;    /* appended to the y labels: "%" or "" */
    int area;            /* fill between the line and zero */
    const int64_t *ts;   /* n sample times (ns) */
    const double *v;     /* n values */
    size_t n;
    int mark_a, mark_b;  /* sample indices to mark with a dot, or -1 */
} chart_t;

static void svg_chart(FILE *f, const chart_t *c)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < c->n; i++) {
        if (!isfinite(c->v[i]))
            continue;
        lo = c->v[i] < lo ? c->v[i] : lo;
        hi = c->v[i] > hi ? c->v[i] : hi;
    }
    if (c->area) {
        lo = lo < 0 ? lo : 0;
        hi = hi > 0 ? hi : 0;
    }
    if (!(lo <= hi))
        lo = hi = 0;
    if (hi - lo < 1e-9 * (fabs(hi) + fabs(lo)) || hi - lo < 1e-12) {
        double pad = fabs(hi) > 0 ? fabs(hi) * 0.01 : 1.0;
        if (c->area && hi == 0) /* a drawdown chart keeps 0 at the top */
            lo -= pad;
        else {
            lo -= pad;
            hi += pad;
        }
    }
    double step = nice_step(hi - lo, 4);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
    int ticks = (int)((hi - lo) / step + 0.5);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    dec = dec > 10 ? 10 : dec;

    int64_t t0 = c->ts[0], t1 = c->ts[c->n - 1];
    double tspan = t1 > t0 ? (double)(t1 - t0) : 1.0;
    const double pw = SVG_W - PAD_L - PAD_R, ph = SVG_H - PAD_T - PAD_B;
#define X(t) (PAD_L + (double)((t) - t0) / tspan * pw)
#define Y(v) (PAD_T + (hi - (v)) / (hi - lo) * ph)

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H, c->name);
    for (int i = 0; i <= ticks && i <= 20; i++) {
        double v = lo + step * i;
        if (fabs(v) < step * 1e-6)
            v = 0.0; /* not -0 or 1e-17 from the sum */
        double y = Y(v);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>"
                   "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.*f%s</text>\n",
                PAD_L, y, SVG_W - PAD_R, y, PAD_L - 6, y + 4, dec, v, c->unit);
    }
    int with_time = t1 - t0 < 2 * NS_PER_DAY;
    for (int i = 0; i <= 4; i++) {
        int64_t t = t0 + (int64_t)((double)(t1 - t0) * i / 4.0);
        char lab[64];
        axis_time(lab, sizeof lab, t, with_time);
        const char *anchor = i == 0 ? "start" : i == 4 ? "end" : "middle";
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
                PAD_L + pw * i / 4.0, SVG_H - PAD_B + 18, anchor, lab);
    }
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
               "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            PAD_L, PAD_T, PAD_L, SVG_H - PAD_B, PAD_L, SVG_H - PAD_B, SVG_W - PAD_R,
            SVG_H - PAD_B);

    fprintf(f, "<%s class=\"%s\" points=\"", c->area ? "polygon" : "polyline",
            c->area ? "dd" : "eq");
    if (c->area)
        fprintf(f, "%.2f,%.2f ", X(t0), Y(0.0));
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->v[i]))
            fprintf(f, "%.2f,%.2f ", X(c->ts[i]), Y(c->v[i]));
    if (c->area)
        fprintf(f, "%.2f,%.2f", X(t1), Y(0.0));
    fputs("\"/>\n", f);
    int marks[2] = {c->mark_a, c->mark_b};
    for (int i = 0; i < 2; i++)
        if (marks[i] >= 0 && isfinite(c->v[marks[i]]))
            fprintf(f, "<circle class=\"mark\" cx=\"%.2f\" cy=\"%.2f\" r=\"4\"/>\n",
                    X(c->ts[marks[i]]), Y(c->v[marks[i]]));
    fputs("</svg>\n", f);
#undef X
#undef Y
}

static const char HTML_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";

static const char HTML_STYLE[] =
    "<style>\n"
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#222;"
    "max-width:960px;margin:2em auto;padding:0 1em}\n"
    "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}\n"
    ".meta{color:#666;margin-top:0}\n"
    "table{border-collapse:collapse;font-size:.9em;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:.25em .7em;border-bottom:1px solid #e4e4e4;text-align:right;"
    "white-space:nowrap}\n"
    "th{background:#f5f5f5}th.l,td.l{text-align:left}\n"
    ".metrics td.l{color:#555}.trades{width:100%}\n"
    ".pos{color:#1a7f37}.neg{color:#c9302c}\n"
    "svg{display:block;max-width:100%;height:auto;font-size:11px;fill:#555}\n"
    ".grid{stroke:#e6e6e6}.axis{stroke:#999}\n"
    ".eq{fill:none;stroke:#1f6fb2;stroke-width:1.5}\n"
    ".dd{fill:#d9534f;fill-opacity:.25;stroke:#c9302c;stroke-width:1}\n"
    ".mark{fill:#c9302c}\n"
    "</style>\n</head>\n<body>\n";

static void html_trades(FILE *f, const sv_report_input_t *in)
{
    fprintf(f, "<h2>Trades (%zu)</h2>\n<table class=\"trades\">\n<thead><tr><th>#</th>"
               "<th class=\"l\">Symbol</th><th class=\"l\">Strategy</th><th class=\"l\">Side</th>"
               "<th class=\"l\">Open (UTC)</th><th class=\"l\">Close (UTC)</th><th>Qty</th>"
               "<th>Entry</th><th>Exit</th><th>PnL</th><th>Fees</th></tr></thead>\n<tbody>\n",
            in->n_trades);
    if (in->n_trades == 0)
        fputs("<tr><td class=\"l\" colspan=\"11\">No trades</td></tr>\n", f);
    for (size_t i = 0; i < in->n_trades; i++) {
        const sv_report_trade_t *t = &in->trades[i];
        char open[48], close[48];
        iso_time(open, sizeof open, t->open_ts);
        iso_time(close, sizeof close, t->close_ts);
        fprintf(f, "<tr><td>%zu</td><td class=\"l\">", i + 1);
        put_escaped(f, t->symbol, sizeof t->symbol, ESC_HTML);
        fputs("</td><td class=\"l\">", f);
        put_escaped(f, t->strategy, sizeof t->strategy, ESC_HTML);
        fprintf(f, "</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td>"
                   "<td>%.10g</td><td>%.10g</td><td>%.10g</td>"
                   "<td class=\"%s\">%.2f</td><td>%.2f</td></tr>\n",
                t->side < 0 ? "short" : "long", open, close, t->qty, t->entry_price,
                t->exit_price, t->pnl > 0 ? "pos" : t->pnl < 0 ? "neg" : "l",
                unsigned_zero(t->pnl), unsigned_zero(t->fees));
    }
    fputs("</tbody>\n</table>\n", f);
}

int sv_report_write_html(const char *path, const sv_report_input_t *in,
                         const sv_report_metrics_t *m)
{
    if (!path || !in || !m || !in->equity || in->n_equity == 0 || (in->n_trades && !in->trades))
        return SV_E_INVAL;
    double *dd;
    dd_scan_t s;
    size_t *idx, k;
    int rc = curve_samples(in, &dd, &s, &idx, &k);
    if (rc)
        return rc;
    int64_t *ts = malloc(k * sizeof *ts);
    double *eq = malloc(k * sizeof *eq), *ddp = malloc(k * sizeof *ddp);
    FILE *f = ts && eq && ddp ? fopen(path, "w") : NULL;
    if (!f) {
        rc = ts && eq && ddp ? SV_E_IO : SV_E_NOMEM;
        free(ts);
        free(eq);
        free(ddp);
        free(dd);
        free(idx);
        return rc;
    }
    int mark_peak = -1, mark_trough = -1;
    for (size_t i = 0; i < k; i++) {
        ts[i] = in->equity[idx[i]].ts;
        eq[i] = in->equity[idx[i]].equity;
        ddp[i] = -dd[idx[i]] * 100.0;
        if (s.max_dd > 0 && idx[i] == s.peak)
            mark_peak = (int)i;
        if (s.max_dd > 0 && idx[i] == s.trough)
            mark_trough = (int)i;
    }
    c_locale_t l;
    c_locale_enter(&l);

    const char *title = in->title ? in->title : "backtest";
    fputs(HTML_HEAD, f);
    put_escaped(f, title, SIZE_MAX, ESC_HTML);
    fputs("</title>\n", f);
    fputs(HTML_STYLE, f);
    fputs("<h1>", f);
    put_escaped(f, title, SIZE_MAX, ESC_HTML);
    fputs("</h1>\n<p class=\"meta\">", f);
    if (in->config && *in->config) {
        fputs("Config <code>", f);
        put_escaped(f, in->config, SIZE_MAX, ESC_HTML);
        fputs("</code> &middot; ", f);
    }
    char a[48], b[48];
    iso_time(a, sizeof a, in->equity[0].ts);
    iso_time(b, sizeof b, in->equity[in->n_equity - 1].ts);
    fprintf(f, "%s to %s (%.2f days)</p>\n", a, b, m->days);

    row_t rows[MAX_ROWS];
    size_t n = metric_rows(in, m, rows);
    fputs("<h2>Metrics</h2>\n<table class=\"metrics\">\n<tbody>\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<tr><td class=\"l\">%s</td><td>", rows[i].label);
        put_escaped(f, rows[i].value, sizeof rows[i].value, ESC_HTML);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);

    fputs("<h2>Equity", f);
    if (in->quote && *in->quote) {
        fputs(" (", f);
        put_escaped(f, in->quote, SIZE_MAX, ESC_HTML);
        fputc(')', f);
    }
    fputs("</h2>\n", f);
    chart_t c = {"Equity curve", "", 0, ts, eq, k, mark_peak, mark_trough};
    svg_chart(f, &c);
    fputs("<h2>Drawdown (%)</h2>\n", f);
    chart_t d = {"Drawdown", "%", 1, ts, ddp, k, -1, mark_trough};
    svg_chart(f, &d);
    html_trades(f, in);
    fputs("</body>\n</html>\n", f);

    c_locale_leave(&l);
    free(ts);
    free(eq);
    free(ddp);
    free(dd);
    free(idx);
    return close_file(f);
}
