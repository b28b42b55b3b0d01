/* event: kind names and the field-by-field wire form, driven by one table per kind.
 *
 * Each kind is a list of field descriptors (name, type, offset in sv_event_t); encoding and
 * decoding walk the same list, so a field cannot be written without being read back. Numbers
 * are formatted and parsed here by hand (no printf, no strtoll) because the Redis writer
 * encodes every event it mirrors; the decimal form is the one sv_fixed_format() gives. */
#include "event.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

typedef enum ftype {
    F_U64,
    F_I64,
    F_U32,
    F_FIXED,
    F_SIDE,    /* int8: buy | sell | none */
    F_OTYPE,   /* uint8: market | limit | stop_market | stop_limit */
    F_TIF,     /* uint8: gtc | ioc | fok */
    F_STATUS,  /* uint8: sv_order_status_t */
    F_LIQ,     /* uint8: none | maker | taker */
    F_ALERT,   /* uint32: sv_alert_code_t */
    F_OFLAGS,  /* uint8 bit set: post_only, reduce_only */
    F_DFLAGS,  /* uint8 bit set: snapshot, last */
    F_SYMBOL,  /* uint32 id in the symbol table (symbols and assets) */
    F_TEXT,    /* uint32 id in the text table */
    F_TAG,     /* char[16], NUL-padded */
    F_BIDS,    /* depth: n_bids levels "price:qty price:qty" */
    F_ASKS     /* depth: n_asks levels after the bids */
} ftype_t;

typedef struct fdesc {
    const char *name;
    uint8_t len; /* strlen(name) */
    uint8_t type;
    uint16_t off;
} fdesc_t;

#define EVF(name, type, member) {name, sizeof(name) - 1, type, (uint16_t)offsetof(sv_event_t, member)}

static const fdesc_t header_fields[] = {
    EVF("seq", F_U64, h.seq),
    EVF("symbol", F_SYMBOL, h.symbol),
    EVF("ts_exchange", F_I64, h.ts_exchange),
    EVF("ts_receive", F_I64, h.ts_receive),
    EVF("ts_engine", F_I64, h.ts_engine),
    {NULL, 0, 0, 0}};

static const fdesc_t trade_fields[] = {
    EVF("price", F_FIXED, u.trade.price),
    EVF("qty", F_FIXED, u.trade.qty),
    EVF("trade_id", F_U64, u.trade.trade_id),
    EVF("aggressor", F_SIDE, u.trade.aggressor),
    {NULL, 0, 0, 0}};

static const fdesc_t quote_fields[] = {
    EVF("bid_price", F_FIXED, u.quote.bid_price),
    EVF("bid_qty", F_FIXED, u.quote.bid_qty),
    EVF("ask_price", F_FIXED, u.quote.ask_price),
    EVF("ask_qty", F_FIXED, u.quote.ask_qty),
    {NULL, 0, 0, 0}};

static const fdesc_t bar_fields[] = {
    EVF("open", F_FIXED, u.bar.open),
    EVF("high", F_FIXED, u.bar.high),
    EVF("low", F_FIXED, u.bar.low),
    EVF("close", F_FIXED, u.bar.close),
    EVF("volume", F_FIXED, u.bar.volume),
    EVF("quote_volume", F_FIXED, u.bar.quote_volume),
    EVF("start", F_I64, u.bar.start),
    EVF("interval_s", F_U32, u.bar.interval_s),
    EVF("trades", F_U32, u.bar.trades),
    {NULL, 0, 0, 0}};

static const fdesc_t depth_fields[] = {
    EVF("bids", F_BIDS, u.depth),
    EVF("asks", F_ASKS, u.depth),
    EVF("depth_flags", F_DFLAGS, u.depth.depth_flags),
    {NULL, 0, 0, 0}};

static const fdesc_t signal_fields[] = {
    EVF("signal_id", F_U64, u.signal.signal_id),
    EVF("strategy", F_U32, u.signal.strategy),
    EVF("side", F_SIDE, u.signal.side),
    EVF("type", F_OTYPE, u.signal.type),
    EVF("tif", F_TIF, u.signal.tif),
    EVF("order_flags", F_OFLAGS, u.signal.order_flags),
    EVF("qty", F_FIXED, u.signal.qty),
    EVF("price", F_FIXED, u.signal.price),
    EVF("stop_price", F_FIXED, u.signal.stop_price),
    EVF("replace_id", F_U64, u.signal.replace_id),
    EVF("tag", F_TAG, u.signal.tag),
    {NULL, 0, 0, 0}};

static const fdesc_t order_fields[] = {
    EVF("client_id", F_U64, u.order.client_id),
    EVF("exchange_id", F_U64, u.order.exchange_id),
    EVF("strategy", F_U32, u.order.strategy),
    EVF("signal_id", F_U64, u.order.signal_id),
    EVF("status", F_STATUS, u.order.status),
    EVF("side", F_SIDE, u.order.side),
    EVF("type", F_OTYPE, u.order.type),
    EVF("tif", F_TIF, u.order.tif),
    EVF("order_flags", F_OFLAGS, u.order.order_flags),
    EVF("price", F_FIXED, u.order.price),
    EVF("qty", F_FIXED, u.order.qty),
    EVF("stop_price", F_FIXED, u.order.stop_price),
    EVF("filled_qty", F_FIXED, u.order.filled_qty),
    EVF("avg_price", F_FIXED, u.order.avg_price),
    EVF("reason", F_TEXT, u.order.reason),
    {NULL, 0, 0, 0}};

static const fdesc_t fill_fields[] = {
    EVF("client_id", F_U64, u.fill.client_id),
    EVF("trade_id", F_U64, u.fill.trade_id),
    EVF("strategy", F_U32, u.fill.strategy),
    EVF("side", F_SIDE, u.fill.side),
    EVF("liquidity", F_LIQ, u.fill.liquidity),
    EVF("price", F_FIXED, u.fill.price),
    EVF("qty", F_FIXED, u.fill.qty),
    EVF("fee", F_FIXED, u.fill.fee),
    EVF("fee_asset", F_SYMBOL, u.fill.fee_asset),
    {NULL, 0, 0, 0}};

static const fdesc_t timer_fields[] = {
    EVF("timer_id", F_U64, u.timer.timer_id),
    EVF("strategy", F_U32, u.timer.strategy),
    {NULL, 0, 0, 0}};

static const fdesc_t alert_fields[] = {
    EVF("code", F_ALERT, u.alert.code),
    EVF("source", F_U32, u.alert.source),
    EVF("text", F_TEXT, u.alert.text),
    EVF("value", F_I64, u.alert.value),
    {NULL, 0, 0, 0}};

static const fdesc_t position_fields[] = {
    EVF("strategy", F_U32, u.position.strategy),
    EVF("qty", F_FIXED, u.position.qty),
    EVF("avg_price", F_FIXED, u.position.avg_price),
    EVF("realized_pnl", F_FIXED, u.position.realized_pnl),
    {NULL, 0, 0, 0}};

static const char *const kind_names[SV_EV_KIND_COUNT] = {
    NULL, "trade", "quote", "bar", "depth", "signal", "order", "fill", "timer", "alert", "position"};

static const fdesc_t *const kind_fields[SV_EV_KIND_COUNT] = {
    NULL, trade_fields, quote_fields, bar_fields, depth_fields, signal_fields,
    order_fields, fill_fields, timer_fields, alert_fields, position_fields};

/* enum names, indexed by value (side by value + 1) */
static const char *const side_names[] = {"sell", "none", "buy"};
static const char *const otype_names[] = {"market", "limit", "stop_market", "stop_limit"};
static const char *const tif_names[] = {"gtc", "ioc", "fok"};
static const char *const status_names[] = {"new", "pending", "acknowledged", "partially_filled", "filled",
                                           "canceled", "rejected", "expired", "pending_cancel",
                                           "pending_replace"};
static const char *const liq_names[] = {"none", "maker", "taker"};
static const char *const alert_names[] = {"none", "script_error", "script_limit", "script_reloaded",
                                          "reload_failed", "risk", "data"};
static const char *const oflag_names[] = {"post_only", "reduce_only"}; /* bit 0, bit 1 */
static const char *const dflag_names[] = {"snapshot", "last"};

#define COUNT(a) ((int)(sizeof a / sizeof a[0]))

const char *sv_event_kind_name(int kind)
{
    return kind > 0 && kind < SV_EV_KIND_COUNT ? kind_names[kind] : NULL;
}

int sv_event_kind_parse(const char *s, long len)
{
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    for (int k = 1; k < SV_EV_KIND_COUNT; k++)
        if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s, n) == 0)
            return k;
    return SV_EV_NONE;
}

int sv_event_is_market(int kind) { return kind >= SV_EV_TRADE && kind <= SV_EV_DEPTH; }

const char *sv_event_stream_name(int kind)
{
    return sv_event_is_market(kind) ? "market_data" : sv_event_kind_name(kind);
}

const char *sv_event_side_name(int side)
{
    return side >= -1 && side <= 1 ? side_names[side + 1] : NULL;
}

const char *sv_event_status_name(int status)
{
    return status >= 0 && status < COUNT(status_names) ? status_names[status] : NULL;
}

/* ---- encoding ---- */

/* two digits at a time: timestamps have 19 */
static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

static char *fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 20;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--n] = digits2[d + 1];
        tmp[--n] = digits2[d];
    }
    if (v >= 10) {
        tmp[--n] = digits2[v * 2 + 1];
        tmp[--n] = digits2[v * 2];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(p, tmp + n, (size_t)(20 - n));
    return p + (20 - n);
}

static char *fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return fmt_u64(p, (uint64_t)v);
}

/* the text sv_fixed_format() gives: up to 8 decimals, trailing zeros removed */
static char *fmt_fixed(char *p, int64_t v)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = a / SV_FIXED_SCALE, fp = a % SV_FIXED_SCALE;
    if (v < 0)
        *p++ = '-';
    p = fmt_u64(p, ip);
    if (fp) {
        char f[8];
        for (int k = 7; k >= 0; k--, fp /= 10)
            f[k] = (char)('0' + fp % 10);
        int last = 7;
        while (f[last] == '0')
            last--;
        *p++ = '.';
        memcpy(p, f, (size_t)last + 1);
        p += last + 1;
    }
    return p;
}

static char *fmt_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *fmt_enum(char *p, const char *const *names, int count, int v)
{
    return v >= 0 && v < count ? fmt_str(p, names[v]) : fmt_i64(p, v);
}

static char *fmt_bits(char *p, const char *const *names, int count, unsigned v)
{
    char *start = p;
    for (int b = 0; b < count; b++) {
        if (v & (1u << b)) {
            if (p != start)
                *p++ = ',';
            p = fmt_str(p, names[b]);
            v &= ~(1u << b);
        }
    }
    if (v) { /* bits without a name travel as their number */
        if (p != start)
            *p++ = ',';
        p = fmt_u64(p, v);
    }
    return p;
}

static char *fmt_levels(char *p, const sv_level_t *lv, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            *p++ = ' ';
        p = fmt_fixed(p, lv[i].price);
        *p++ = ':';
        p = fmt_fixed(p, lv[i].qty);
    }
    return p;
}

static int add(sv_event_fields_t *o, const char *name, size_t name_len, const char *v, size_t len)
{
    if (o->n >= SV_EVENT_MAX_FIELDS || len > UINT16_MAX || name_len > UINT8_MAX)
        return SV_E_FULL;
    o->name[o->n] = name;
    o->name_len[o->n] = (uint8_t)name_len;
    o->value[o->n] = v;
    o->value_len[o->n] = (uint16_t)len;
    o->n++;
    return SV_OK;
}

int sv_event_fields_add(sv_event_fields_t *o, const char *name, const char *value, size_t len)
{
    if (len > sizeof o->buf - o->used)
        return SV_E_FULL;
    char *p = o->buf + o->used;
    memcpy(p, value, len);
    o->used += len;
    return add(o, name, strlen(name), p, len);
}

/* the longest a value other than a name can be: depth levels, 5 x (2 x 21 + 2) bytes */
enum { MAX_NUMERIC = 256 };

static int encode_list(const fdesc_t *f, const sv_event_t *ev, const sv_event_names_t *nm,
                       sv_event_fields_t *o)
{
    for (; f->name; f++) {
        const char *base = (const char *)ev + f->off;
        const char *name = NULL;
        size_t room = sizeof o->buf - o->used;
        if (f->type == F_SYMBOL || f->type == F_TEXT) {
            uint32_t id;
            memcpy(&id, base, sizeof id);
            name = sv_intern_name(f->type == F_SYMBOL ? nm->symbols : nm->texts, id);
            if (strlen(name) > room)
                return SV_E_RANGE;
        } else if (room < MAX_NUMERIC) {
            return SV_E_RANGE;
        }
        char *start = o->buf + o->used, *p = start;
        switch (f->type) {
        case F_U64: { uint64_t v; memcpy(&v, base, 8); p = fmt_u64(p, v); break; }
        case F_I64: { int64_t v; memcpy(&v, base, 8); p = fmt_i64(p, v); break; }
        case F_FIXED: { int64_t v; memcpy(&v, base, 8); p = fmt_fixed(p, v); break; }
        case F_U32: { uint32_t v; memcpy(&v, base, 4); p = fmt_u64(p, v); break; }
        case F_ALERT: { uint32_t v; memcpy(&v, base, 4);
            p = v < (uint32_t)COUNT(alert_names) ? fmt_str(p, alert_names[v]) : fmt_u64(p, v); break; }
        case F_SIDE: { int v = *(const int8_t *)base; /* names are indexed by side + 1 */
            p = v >= -1 && v <= 1 ? fmt_str(p, side_names[v + 1]) : fmt_i64(p, v); break; }
        case F_OTYPE: p = fmt_enum(p, otype_names, COUNT(otype_names), *(const uint8_t *)base); break;
        case F_TIF: p = fmt_enum(p, tif_names, COUNT(tif_names), *(const uint8_t *)base); break;
        case F_STATUS: p = fmt_enum(p, status_names, COUNT(status_names), *(const uint8_t *)base); break;
        case F_LIQ: p = fmt_enum(p, liq_names, COUNT(liq_names), *(const uint8_t *)base); break;
        case F_OFLAGS: p = fmt_bits(p, oflag_names, COUNT(oflag_names), *(const uint8_t *)base); break;
        case F_DFLAGS: p = fmt_bits(p, dflag_names, COUNT(dflag_names), *(const uint8_t *)base); break;
        case F_SYMBOL:
        case F_TEXT: p = fmt_str(p, name); break;
        case F_TAG: { size_t n = strnlen(base, 16); memcpy(p, base, n); p += n; break; }
        case F_BIDS: case F_ASKS: {
            const sv_depth_t *d = &ev->u.depth;
            int nb = d->n_bids, na = d->n_asks;
            if (nb + na > SV_DEPTH_LEVELS)
                return SV_E_RANGE;
            p = f->type == F_BIDS ? fmt_levels(p, d->levels, nb) : fmt_levels(p, d->levels + nb, na);
            break;
        }
        default: return SV_E_INVAL;
        }
        int rc = add(o, f->name, f->len, start, (size_t)(p - start));
        if (rc)
            return rc;
        o->used += (size_t)(p - start);
    }
    return SV_OK;
}

int sv_event_encode(const sv_event_t *ev, const sv_event_names_t *nm, sv_event_fields_t *o)
{
    o->n = 0;
    o->used = 0;
    unsigned k = ev->h.kind;
    if (k == SV_EV_NONE || k >= SV_EV_KIND_COUNT)
        return SV_E_INVAL;
    add(o, "kind", 4, kind_names[k], strlen(kind_names[k]));
    int rc = encode_list(header_fields, ev, nm, o);
    return rc ? rc : encode_list(kind_fields[k], ev, nm, o);
}

/* ---- decoding ---- */

typedef struct dec {
    size_t n;
    const char *const *names;
    const size_t *name_lens;
    const char *const *values;
    const size_t *value_lens;
    size_t cursor; /* where the next field is expected (fields come in table order) */
    char *err;
    size_t errlen;
} dec_t;

static int fail(dec_t *d, int code, const char *field, const char *why, const char *v, size_t len)
{
    if (d->err && d->errlen) {
        if (v) {
            size_t show = len > 64 ? 64 : len;
            snprintf(d->err, d->errlen, "field '%s': %s: '%.*s'%s", field, why, (int)show, v,
                     show < len ? "..." : "");
        } else {
            snprintf(d->err, d->errlen, "field '%s': %s", field, why);
        }
    }
    return code;
}

/* Index of the field called name, or -1. */
static long find(dec_t *d, const char *name, size_t nl)
{
    if (d->cursor < d->n && d->name_lens[d->cursor] == nl && !memcmp(d->names[d->cursor], name, nl))
        return (long)d->cursor++;
    for (size_t i = 0; i < d->n; i++) {
        if (d->name_lens[i] == nl && !memcmp(d->names[i], name, nl)) {
            d->cursor = i + 1;
            return (long)i;
        }
    }
    return -1;
}

static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return SV_E_PARSE;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SV_E_PARSE;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (max - dgt) / 10)
            return SV_E_RANGE;
        v = v * 10 + dgt;
    }
    *out = v;
    return SV_OK;
}

static int parse_i64(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    int neg = n > 0 && s[0] == '-';
    uint64_t v;
    uint64_t lim = neg ? (uint64_t)0 - (uint64_t)min : (uint64_t)max;
    int rc = parse_u64(s + neg, n - (size_t)neg, lim, &v);
    if (rc)
        return rc;
    *out = neg ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
    return SV_OK;
}

static int name_index(const char *const *names, int count, const char *s, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], s, n))
            return i;
    return -1;
}

/* An enum value: its name, or its number within [min, max]. */
static int parse_enum(dec_t *d, const char *field, const char *const *names, int count, int shift,
                      int64_t min, int64_t max, const char *s, size_t n, int64_t *out)
{
    int i = name_index(names, count, s, n);
    if (i >= 0) {
        *out = i - shift;
        return SV_OK;
    }
    if (parse_i64(s, n, min, max, out) == SV_OK)
        return SV_OK;
    char why[160] = "expected one of";
    for (int k = 0; k < count; k++) {
        size_t l = strlen(why);
        snprintf(why + l, sizeof why - l, "%s%s", k ? ", " : " ", names[k]);
    }
    return fail(d, SV_E_PARSE, field, why, s, n);
}

static int parse_bits(dec_t *d, const char *field, const char *const *names, int count, const char *s,
                      size_t n, uint8_t *out)
{
    unsigned v = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        int b = name_index(names, count, s + i, j - i);
        uint64_t num;
        if (b >= 0)
            v |= 1u << b;
        else if (parse_u64(s + i, j - i, 255, &num) == SV_OK)
            v |= (unsigned)num;
        else
            return fail(d, SV_E_PARSE, field, "expected names separated by ',' (or nothing)", s, n);
        i = j + 1;
        if (j + 1 == n) /* a trailing comma */
            return fail(d, SV_E_PARSE, field, "expected names separated by ',' (or nothing)", s, n);
    }
    *out = (uint8_t)v;
    return SV_OK;
}

static int parse_levels(dec_t *d, const char *field, const char *s, size_t n, sv_level_t *lv, int room,
                        int *count)
{
    int k = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        const char *colon = memchr(s + i, ':', j - i);
        if (k >= room)
            return fail(d, SV_E_RANGE, field, "more than 5 depth levels in all", s, n);
        if (!colon || sv_fixed_parse(s + i, colon - (s + i), &lv[k].price) ||
            sv_fixed_parse(colon + 1, s + j - colon - 1, &lv[k].qty))
            return fail(d, SV_E_PARSE, field, "expected levels 'price:qty' separated by spaces", s, n);
        k++;
        if (j + 1 == n)
            return fail(d, SV_E_PARSE, field, "expected levels 'price:qty' separated by spaces", s, n);
        i = j + 1;
    }
    *count = k;
    return SV_OK;
}

static int intern_name(dec_t *d, const char *field, sv_intern_t *t, const char *s, size_t n, uint32_t *out)
{
    if (n == 0) {
        *out = 0;
        return SV_OK;
    }
    if (memchr(s, '\0', n))
        return fail(d, SV_E_PARSE, field, "contains a NUL byte", NULL, 0);
    uint32_t id = sv_intern_add(t, s, (long)n);
    if (!id)
        return fail(d, SV_E_FULL, field, "the engine's name table is full", s, n);
    *out = id;
    return SV_OK;
}

static int decode_list(dec_t *d, const fdesc_t *f, const sv_event_names_t *nm, sv_event_t *ev)
{
    for (; f->name; f++) {
        long i = find(d, f->name, f->len);
        if (i < 0)
            return fail(d, SV_E_NOTFOUND, f->name, "missing", NULL, 0);
        const char *s = d->values[i];
        size_t n = d->value_lens[i];
        char *base = (char *)ev + f->off;
        int rc = SV_OK;
        int64_t e = 0;
        switch (f->type) {
        case F_U64: {
            uint64_t v;
            if ((rc = parse_u64(s, n, UINT64_MAX, &v)) == SV_OK)
                memcpy(base, &v, 8);
            break;
        }
        case F_I64: {
            int64_t v;
            if ((rc = parse_i64(s, n, INT64_MIN, INT64_MAX, &v)) == SV_OK)
                memcpy(base, &v, 8);
            break;
        }
        case F_U32: {
            uint64_t v;
            if ((rc = parse_u64(s, n, UINT32_MAX, &v)) == SV_OK) {
                uint32_t w = (uint32_t)v;
                memcpy(base, &w, 4);
            }
            break;
        }
        case F_FIXED: {
            sv_fixed_t v;
            if (sv_fixed_parse(s, (long)n, &v) != SV_OK)
                return fail(d, SV_E_PARSE, f->name, "not an exact decimal with at most 8 decimals", s, n);
            memcpy(base, &v, 8);
            break;
        }
        case F_ALERT:
            if ((rc = parse_enum(d, f->name, alert_names, COUNT(alert_names), 0, 0, UINT32_MAX, s, n, &e)))
                return rc;
            {
                uint32_t w = (uint32_t)e;
                memcpy(base, &w, 4);
            }
            break;
        case F_SIDE:
            if ((rc = parse_enum(d, f->name, side_names, COUNT(side_names), 1, INT8_MIN, INT8_MAX, s, n, &e)))
                return rc;
            *(int8_t *)base = (int8_t)e;
            break;
        case F_OTYPE:
        case F_TIF:
        case F_STATUS:
        case F_LIQ: {
            const char *const *names = f->type == F_OTYPE ? otype_names
                                       : f->type == F_TIF ? tif_names
                                       : f->type == F_STATUS ? status_names : liq_names;
            int count = f->type == F_OTYPE ? COUNT(otype_names)
                        : f->type == F_TIF ? COUNT(tif_names)
                        : f->type == F_STATUS ? COUNT(status_names) : COUNT(liq_names);
            if ((rc = parse_enum(d, f->name, names, count, 0, 0, UINT8_MAX, s, n, &e)))
                return rc;
            *(uint8_t *)base = (uint8_t)e;
            break;
        }
        case F_OFLAGS:
            if ((rc = parse_bits(d, f->name, oflag_names, COUNT(oflag_names), s, n, (uint8_t *)base)))
                return rc;
            break;
        case F_DFLAGS:
            if ((rc = parse_bits(d, f->name, dflag_names, COUNT(dflag_names), s, n, (uint8_t *)base)))
                return rc;
            break;
        case F_SYMBOL:
        case F_TEXT: {
            uint32_t id = 0;
            if ((rc = intern_name(d, f->name, f->type == F_SYMBOL ? nm->symbols : nm->texts, s, n, &id)))
                return rc;
            memcpy(base, &id, 4);
            break;
        }
        case F_TAG:
            if (n > 16)
                return fail(d, SV_E_RANGE, f->name, "longer than 16 bytes", s, n);
            memcpy(base, s, n);
            break;
        case F_BIDS:
        case F_ASKS: {
            sv_depth_t *dp = &ev->u.depth;
            int cnt = 0;
            int used = f->type == F_BIDS ? 0 : dp->n_bids;
            if ((rc = parse_levels(d, f->name, s, n, dp->levels + used, SV_DEPTH_LEVELS - used, &cnt)))
                return rc;
            if (f->type == F_BIDS)
                dp->n_bids = (uint8_t)cnt;
            else
                dp->n_asks = (uint8_t)cnt;
            break;
        }
        default:
            return SV_E_INVAL;
        }
        if (rc == SV_E_RANGE)
            return fail(d, rc, f->name, "out of range", s, n);
        if (rc)
            return fail(d, rc, f->name, "not a decimal integer", s, n);
    }
    return SV_OK;
}

int sv_event_decode(size_t n, const char *const *names, const size_t *name_lens, const char *const *values,
                    const size_t *value_lens, const sv_event_names_t *tables, sv_event_t *ev, char *err,
                    size_t errlen)
{
    dec_t d = {.n = n, .names = names, .name_lens = name_lens, .values = values, .value_lens = value_lens,
               .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    memset(ev, 0, sizeof *ev);
    long i = find(&d, "kind", 4);
    if (i < 0)
        return fail(&d, SV_E_NOTFOUND, "kind", "missing (not an event written by Silvertine?)", NULL, 0);
    int k = sv_event_kind_parse(values[i], (long)value_lens[i]);
    if (k == SV_EV_NONE)
        return fail(&d, SV_E_PARSE, "kind", "unknown event kind", values[i], value_lens[i]);
    ev->h.kind = (uint16_t)k;
    ev->h.flags = SV_EVF_REMOTE;
    int rc = decode_list(&d, header_fields, tables, ev);
    return rc ? rc : decode_list(&d, kind_fields[k], tables, ev);
}
