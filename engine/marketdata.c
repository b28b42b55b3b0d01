/* marketdata: streaming CSV readers for Binance klines and trades, and the bar aggregator.
 * The reader keeps one fixed buffer (memory does not grow with the file) and parses fields
 * in place with exact fixed-point parsing. */
#define _POSIX_C_SOURCE 200809L
#include "marketdata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixed.h"

enum { BUF = 1 << 20, MAX_FIELDS = 16 };

struct sv_md_reader {
    int fd;
    char path[1024];
    sv_md_options_t o;
    int format;
    char *buf;
    size_t len, pos; /* valid bytes, parse position */
    int eof;
    uint64_t line;
    uint64_t consumed, size;
    int64_t prev_time;   /* ns: klines open time, trades time */
    int64_t interval_ns; /* klines: from the first row */
    int64_t unit_ns;     /* 1e6 (ms) or 1e3 (µs), decided on the first row */
    sv_md_stats_t st;
};

static int fill(sv_md_reader_t *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    while (!r->eof && r->len < BUF) {
        ssize_t n = read(r->fd, r->buf + r->len, BUF - r->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return SV_E_IO;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
    }
    return SV_OK;
}

/* Next line (without the newline) or NULL at the end. A line longer than the buffer is cut. */
static char *next_line(sv_md_reader_t *r, size_t *n)
{
    for (;;) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        if (nl) {
            *n = (size_t)(nl - start);
            r->pos += *n + 1;
            r->consumed += *n + 1;
            r->line++;
            if (*n && start[*n - 1] == '\r')
                (*n)--;
            return start;
        }
        if (r->eof) {
            if (r->pos == r->len)
                return NULL;
            *n = r->len - r->pos;
            r->consumed += *n;
            r->pos = r->len;
            r->line++;
            return start;
        }
        if (r->pos == 0 && r->len == BUF) { /* absurdly long line: take it as it is */
            *n = BUF;
            r->pos = BUF;
            r->consumed += BUF;
            r->line++;
            return start;
        }
        if (fill(r) != 0)
            return NULL;
    }
}

typedef struct field {
    const char *p;
    int n;
} field_t;

static int split(char *line, size_t n, field_t *f)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && k < MAX_FIELDS; i++) {
        if (i == n || line[i] == ',') {
            f[k].p = line + start;
            f[k].n = (int)(i - start);
            k++;
            start = i + 1;
        }
    }
    return k;
}

static int parse_i64(const field_t *f, int64_t *out)
{
    int64_t v = 0;
    int i = 0, neg = 0;
    if (f->n > 0 && f->p[0] == '-')
        neg = i = 1;
    if (i >= f->n || f->n - i > 18)
        return SV_E_PARSE;
    for (; i < f->n; i++) {
        if (f->p[i] < '0' || f->p[i] > '9')
            return SV_E_PARSE;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = neg ? -v : v;
    return SV_OK;
}

static int parse_bool(const field_t *f, int *out)
{
    if ((f->n == 4 && strncasecmp(f->p, "true", 4) == 0) || (f->n == 1 && f->p[0] == '1'))
        return *out = 1, SV_OK;
    if ((f->n == 5 && strncasecmp(f->p, "false", 5) == 0) || (f->n == 1 && f->p[0] == '0'))
        return *out = 0, SV_OK;
    return SV_E_PARSE;
}

/* AUTO: the first data row's column count decides (0 when it fits neither layout). */
static int layout_of(int nf)
{
    return nf == 12 ? SV_MD_KLINES : (nf == 6 || nf == 7) ? SV_MD_TRADES : SV_MD_AUTO;
}

static int layout_error(const sv_md_reader_t *r, uint64_t line, int nf, sv_diag_t *d)
{
    return sv_diag_set(d, SV_E_PARSE,
                       "%s:%llu: cannot tell the layout: %d columns (klines have 12, trades 6 or 7)",
                       r->path, (unsigned long long)line, nf);
}

static int is_header(uint64_t line, const char *p) { return line == 1 && !(p[0] >= '0' && p[0] <= '9'); }

/* Decides an AUTO layout at open from the first data row in the buffer, without consuming
 * it, so an unrecognised file fails before any event is read. A file without a data row (or
 * whose first row does not fit the buffer) is left to sv_md_next. */
static int detect(sv_md_reader_t *r, sv_diag_t *d)
{
    field_t f[MAX_FIELDS];
    uint64_t line = 0;
    for (size_t pos = 0; pos < r->len;) {
        char *start = r->buf + pos, *nl = memchr(start, '\n', r->len - pos);
        if (!nl && !r->eof)
            return SV_OK;
        size_t n = nl ? (size_t)(nl - start) : r->len - pos;
        pos += n + 1;
        line++;
        if (n && start[n - 1] == '\r')
            n--;
        if (n == 0 || is_header(line, start))
            continue;
        int nf = split(start, n, f);
        if ((r->format = layout_of(nf)) == SV_MD_AUTO)
            return layout_error(r, line, nf, d);
        return SV_OK;
    }
    return SV_OK;
}

int sv_md_open(const char *path, const sv_md_options_t *o, sv_md_reader_t **out, sv_diag_t *d)
{
    sv_md_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", path);
    r->buf = malloc(BUF);
    if (!r->buf) {
        free(r);
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", path);
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        free(r->buf);
        free(r);
        return sv_diag_set(d, e == ENOENT ? SV_E_NOTFOUND : SV_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(r->fd, &sb) == 0)
        r->size = (uint64_t)sb.st_size;
    snprintf(r->path, sizeof r->path, "%s", path);
    r->o = *o;
    r->format = o->format;
    if (fill(r) != 0) {
        sv_md_close(r);
        return sv_diag_set(d, SV_E_IO, "%s: read error", path);
    }
    int rc = r->format == SV_MD_AUTO ? detect(r, d) : SV_OK;
    if (rc) {
        sv_md_close(r);
        return rc;
    }
    *out = r;
    return SV_OK;
}

void sv_md_close(sv_md_reader_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

int sv_md_format(const sv_md_reader_t *r) { return r->format; }

void sv_md_stats(const sv_md_reader_t *r, sv_md_stats_t *out) { *out = r->st; }

double sv_md_progress(const sv_md_reader_t *r)
{
    return r->size ? (double)r->consumed / (double)r->size : 1.0;
}

/* A bad row: an error under the strict policy, a counted warning under skip. */
static int bad_row(sv_md_reader_t *r, sv_diag_t *d, const char *fmt, const char *a)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a);
    if (r->o.policy == SV_MD_SKIP) {
        if (r->st.skipped++ == 0 && !r->st.first_warning[0])
            snprintf(r->st.first_warning, sizeof r->st.first_warning, "%.300s:%llu: %.200s", r->path,
                     (unsigned long long)r->line, msg);
        return 1; /* skip */
    }
    return sv_diag_set(d, SV_E_PARSE, "%s:%llu: %s", r->path, (unsigned long long)r->line, msg);
}

/* Converts a ms/µs timestamp to ns; SV_E_RANGE when it is negative or the result (plus one
 * unit, for a kline's end) would not fit an int64. */
static int to_ns(sv_md_reader_t *r, int64_t t, int64_t *ns)
{
    if (r->unit_ns == 0)
        r->unit_ns = t >= 100000000000000LL ? 1000 : 1000000; /* >= 1e14: µs since 1973 */
    if (t < 0 || t >= INT64_MAX / r->unit_ns - 1)
        return SV_E_RANGE;
    *ns = t * r->unit_ns;
    return SV_OK;
}

#define BAD(...)                                                                                  \
    do {                                                                                          \
        int rc_ = bad_row(r, d, __VA_ARGS__);                                                     \
        if (rc_ < 0)                                                                              \
            return rc_;                                                                           \
        return 2;                                                                                 \
    } while (0)

static const char *const kline_names[] = {"open_time", "open", "high", "low", "close", "volume",
                                          "close_time", "quote_volume", "trades"};

/* Returns 1 event, 2 skipped row, or an error. */
static int kline(sv_md_reader_t *r, field_t *f, int nf, sv_event_t *ev, sv_diag_t *d)
{
    if (nf != 12) {
        char cols[16];
        snprintf(cols, sizeof cols, "%d", nf);
        BAD("expected 12 kline columns, got %s", cols);
    }
    int64_t ot, ct, trades;
    sv_fixed_t v[9];
    if (parse_i64(&f[0], &ot) != 0)
        BAD("%s: not an integer timestamp", kline_names[0]);
    if (parse_i64(&f[6], &ct) != 0)
        BAD("%s: not an integer timestamp", kline_names[6]);
    for (int i = 1; i <= 7; i++) {
        if (i == 6)
            continue;
        if (sv_fixed_parse_round(f[i].p, f[i].n, &v[i]) != 0)
            BAD("%s: not a decimal number", kline_names[i]);
    }
    if (parse_i64(&f[8], &trades) != 0 || trades < 0)
        BAD("%s: not a non-negative integer", kline_names[8]);
    sv_fixed_t open = v[1], high = v[2], low = v[3], close = v[4], vol = v[5];
    if (open <= 0 || high <= 0 || low <= 0 || close <= 0)
        BAD("%s", "prices must be > 0");
    if (high < low)
        BAD("%s", "high < low");
    if (open > high || open < low || close > high || close < low)
        BAD("%s", "open or close outside [low, high]");
    if (vol < 0 || v[7] < 0)
        BAD("%s", "volume must be >= 0");
    int64_t start, end;
    if (to_ns(r, ot, &start) != 0 || to_ns(r, ct, &end) != 0)
        BAD("%s", "timestamp out of range");
    end += r->unit_ns;
    if (end <= start)
        BAD("%s", "close_time is not after open_time");
    if (r->prev_time && start <= r->prev_time)
        BAD("%s", "time going backwards (open_time not after the previous row's)");
    if (r->interval_ns == 0)
        r->interval_ns = end - start;
    if (r->prev_time && start != r->prev_time + r->interval_ns) {
        uint64_t missing = (uint64_t)((start - r->prev_time) / r->interval_ns) - 1;
        if (r->st.gaps == 0 && !r->st.first_warning[0])
            snprintf(r->st.first_warning, sizeof r->st.first_warning,
                     "%.300s:%llu: gap: %llu bar(s) missing before this row", r->path,
                     (unsigned long long)r->line, (unsigned long long)missing);
        r->st.gaps += missing ? missing : 1;
    }
    r->prev_time = start;
    if ((r->o.from_ns && start < r->o.from_ns) || (r->o.to_ns && start >= r->o.to_ns)) {
        r->st.filtered++;
        return 2;
    }
    memset(ev, 0, sizeof *ev);
    ev->h.kind = SV_EV_BAR;
    ev->h.symbol = r->o.symbol;
    ev->h.ts_exchange = end;
    ev->u.bar.open = open;
    ev->u.bar.high = high;
    ev->u.bar.low = low;
    ev->u.bar.close = close;
    ev->u.bar.volume = vol;
    ev->u.bar.quote_volume = v[7];
    ev->u.bar.start = start;
    ev->u.bar.interval_s = (uint32_t)((end - start) / 1000000000);
    ev->u.bar.trades = (uint32_t)trades;
    return 1;
}

static int trade(sv_md_reader_t *r, field_t *f, int nf, sv_event_t *ev, sv_diag_t *d)
{
    if (nf != 6 && nf != 7) {
        char cols[16];
        snprintf(cols, sizeof cols, "%d", nf);
        BAD("expected 6 or 7 trade columns (id, price, qty, quote_qty, time, is_buyer_maker[, "
            "is_best_match]), got %s", cols);
    }
    int64_t id, t;
    sv_fixed_t px, qty;
    int maker;
    if (parse_i64(&f[0], &id) != 0)
        BAD("%s", "id: not an integer");
    if (sv_fixed_parse_round(f[1].p, f[1].n, &px) != 0)
        BAD("%s", "price: not a decimal number");
    if (sv_fixed_parse_round(f[2].p, f[2].n, &qty) != 0)
        BAD("%s", "qty: not a decimal number");
    if (parse_i64(&f[4], &t) != 0)
        BAD("%s", "time: not an integer timestamp");
    if (parse_bool(&f[5], &maker) != 0)
        BAD("%s", "is_buyer_maker: expected true or false");
    if (px <= 0)
        BAD("%s", "price must be > 0");
    if (qty <= 0)
        BAD("%s", "qty must be > 0");
    int64_t ts;
    if (to_ns(r, t, &ts) != 0)
        BAD("%s", "time: timestamp out of range");
    if (ts < r->prev_time)
        BAD("%s", "time going backwards");
    r->prev_time = ts;
    if ((r->o.from_ns && ts < r->o.from_ns) || (r->o.to_ns && ts >= r->o.to_ns)) {
        r->st.filtered++;
        return 2;
    }
    memset(ev, 0, sizeof *ev);
    ev->h.kind = SV_EV_TRADE;
    ev->h.symbol = r->o.symbol;
    ev->h.ts_exchange = ts;
    ev->u.trade.price = px;
    ev->u.trade.qty = qty;
    ev->u.trade.trade_id = (uint64_t)id;
    /* the buyer was the maker: the seller crossed the spread */
    ev->u.trade.aggressor = maker ? SV_SIDE_SELL : SV_SIDE_BUY;
    return 1;
}

int sv_md_next(sv_md_reader_t *r, sv_event_t *ev, sv_diag_t *d)
{
    size_t n;
    char *line;
    field_t f[MAX_FIELDS];
    while ((line = next_line(r, &n)) != NULL) {
        if (n == 0)
            continue;
        if (is_header(r->line, line))
            continue;
        int nf = split(line, n, f);
        if (r->format == SV_MD_AUTO && (r->format = layout_of(nf)) == SV_MD_AUTO)
            return layout_error(r, r->line, nf, d);
        r->st.rows++;
        int rc = r->format == SV_MD_KLINES ? kline(r, f, nf, ev, d) : trade(r, f, nf, ev, d);
        if (rc == 1) {
            r->st.events++;
            return 1;
        }
        if (rc < 0)
            return rc;
    }
    if (!r->eof)
        return sv_diag_set(d, SV_E_IO, "%s: read error", r->path);
    return 0;
}

/* ---- bar aggregation -------------------------------------------------------------------- */

typedef struct open_bar {
    int open;
    sv_event_t bar;
} open_bar_t;

struct sv_bar_agg {
    int64_t interval_ns;
    uint32_t max, flush_next;
    open_bar_t *bars;
};

sv_bar_agg_t *sv_bar_agg_new(uint32_t interval_s, uint32_t max_symbols)
{
    if (interval_s == 0)
        return NULL;
    sv_bar_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->bars = calloc(max_symbols ? max_symbols : 1, sizeof *a->bars);
    if (!a->bars) {
        free(a);
        return NULL;
    }
    a->interval_ns = (int64_t)interval_s * 1000000000;
    a->max = max_symbols;
    return a;
}

void sv_bar_agg_free(sv_bar_agg_t *a)
{
    if (a) {
        free(a->bars);
        free(a);
    }
}

static void start_bar(sv_bar_agg_t *a, open_bar_t *ob, const sv_event_t *t)
{
    sv_bar_t *b = &ob->bar.u.bar;
    int64_t start = t->h.ts_exchange - t->h.ts_exchange % a->interval_ns;
    memset(&ob->bar, 0, sizeof ob->bar);
    ob->open = 1;
    ob->bar.h.kind = SV_EV_BAR;
    ob->bar.h.symbol = t->h.symbol;
    ob->bar.h.ts_exchange = start + a->interval_ns;
    b->start = start;
    b->interval_s = (uint32_t)(a->interval_ns / 1000000000);
    b->open = b->high = b->low = b->close = t->u.trade.price;
}

int sv_bar_agg_add(sv_bar_agg_t *a, const sv_event_t *t, sv_event_t *out)
{
    uint32_t s = t->h.symbol;
    if (s >= a->max)
        return SV_E_RANGE;
    open_bar_t *ob = &a->bars[s];
    int emitted = 0;
    if (ob->open && t->h.ts_exchange >= ob->bar.h.ts_exchange) {
        *out = ob->bar;
        emitted = 1;
        ob->open = 0;
    }
    if (!ob->open)
        start_bar(a, ob, t);
    sv_bar_t *b = &ob->bar.u.bar;
    sv_fixed_t px = t->u.trade.price, notional;
    if (px > b->high)
        b->high = px;
    if (px < b->low)
        b->low = px;
    b->close = px;
    b->volume += t->u.trade.qty;
    if (sv_fixed_mul(px, t->u.trade.qty, &notional) == 0)
        b->quote_volume += notional;
    b->trades++;
    return emitted;
}

int sv_bar_agg_flush(sv_bar_agg_t *a, sv_event_t *out)
{
    for (; a->flush_next < a->max; a->flush_next++) {
        if (a->bars[a->flush_next].open) {
            *out = a->bars[a->flush_next].bar;
            a->bars[a->flush_next].open = 0;
            return 1;
        }
    }
    a->flush_next = 0; /* bars opened after this flush can be flushed again */
    return 0;
}
