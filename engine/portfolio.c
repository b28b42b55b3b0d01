/* portfolio: average-cost positions per (strategy, symbol), the account as their sum, balances
 * per asset and closed round trips, in exact fixed point (portfolio.h, docs/portfolio.md).
 *
 * Layout: one row of max_strategies + 1 positions per symbol id, so a fill touches one row and
 * a mark writes one contiguous run. The arrays are calloc'd and a row gets its ids the first
 * time its symbol is marked or filled, so symbols that never trade cost no resident memory.
 *
 * A fill is applied in two phases: every new value is computed into a plan and checked for
 * overflow, then the plan is written. An error therefore leaves the portfolio unchanged, and
 * the only allocation (growing the closed-trade list) happens before anything is written. */
#include "portfolio.h"

#include <stdlib.h>

#include "error.h"
#include "fixed.h"

typedef __int128 i128;

/* A round trip in progress on one position (the fill's strategy, or own0). */
typedef struct trip {
    int8_t open;
    int8_t side;
    int64_t open_ts;
    sv_fixed_t max_qty;
    sv_fixed_t entry_n, entry_q; /* notional and quantity of the parts that grew |qty| */
    sv_fixed_t exit_n, exit_q;   /* ... and of the parts that shrank it */
    sv_fixed_t realized, fees;
} trip_t;

/* A symbol that values its base asset in equity; chained with the others of the same base. */
typedef struct pair {
    uint32_t symbol, base, quote;
    uint32_t next; /* 1 + index of the next pair with this base; 0 = end */
} pair_t;

struct sv_portfolio {
    const sv_instruments_t *ins;
    uint32_t max_ids;
    uint32_t stride;        /* max_strategies + 1 */
    sv_position_t *pos;     /* [symbol * stride + strategy]; strategy 0 = the account */
    sv_position_t *own0;    /* [symbol]: the position of fills that carry strategy 0 */
    uint8_t *traded;        /* [symbol * stride + strategy]: the row has had a fill (so marks it) */
    uint32_t **traders;     /* [symbol]: the strategies with a fill on it, for marking */
    uint32_t *n_traders;
    trip_t *trips;          /* [symbol * stride + strategy]; strategy 0 = own0's */
    sv_fixed_t *bal;        /* [asset] */
    sv_fixed_t *marks;      /* [symbol] */
    uint8_t *seen;          /* [symbol]: row ids set and pair considered */
    pair_t *pairs;          /* at most one per symbol */
    uint32_t n_pairs;
    uint32_t *pair_by_base; /* [asset]: 1 + index of the first pair, 0 = none */
    sv_trade_record_t *records;
    uint32_t n_records, cap_records;
    uint32_t exposed;       /* account positions with qty != 0 */
    sv_fixed_t fees;
    uint64_t fills;
};

static const sv_position_t flat_position;

/* Checked arithmetic. INT64_MIN is refused too, so every stored value can be negated. */
static int add(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out)
{
    if (__builtin_add_overflow(a, b, out) || *out == INT64_MIN)
        return SV_E_RANGE;
    return SV_OK;
}

static int sub(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out)
{
    if (__builtin_sub_overflow(a, b, out) || *out == INT64_MIN)
        return SV_E_RANGE;
    return SV_OK;
}

static sv_fixed_t absf(sv_fixed_t v) { return v < 0 ? -v : v; }

static int sign(sv_fixed_t v) { return (v > 0) - (v < 0); }

/* round(a * b / 1e8) half away from zero, without overflow: for the non-failing getters. */
static i128 mul128(sv_fixed_t a, sv_fixed_t b)
{
    i128 x = (i128)a * b, q = x / SV_FIXED_SCALE, r = x % SV_FIXED_SCALE;
    if (2 * (r < 0 ? -r : r) >= SV_FIXED_SCALE)
        q += x < 0 ? -1 : 1;
    return q;
}

static sv_fixed_t clamp(i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < -INT64_MAX ? -INT64_MAX : (sv_fixed_t)v;
}

sv_portfolio_t *sv_portfolio_new(const sv_instruments_t *ins, uint32_t max_ids, uint32_t max_strategies)
{
    if (!ins || max_ids == 0 || max_strategies == UINT32_MAX)
        return NULL;
    sv_portfolio_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    size_t cells = (size_t)max_ids * (max_strategies + 1);
    p->ins = ins;
    p->max_ids = max_ids;
    p->stride = max_strategies + 1;
    p->pos = calloc(cells, sizeof *p->pos);
    p->own0 = calloc(max_ids, sizeof *p->own0);
    p->traded = calloc(cells, 1);
    p->traders = calloc(max_ids, sizeof *p->traders);
    p->n_traders = calloc(max_ids, sizeof *p->n_traders);
    p->trips = calloc(cells, sizeof *p->trips);
    p->bal = calloc(max_ids, sizeof *p->bal);
    p->marks = calloc(max_ids, sizeof *p->marks);
    p->seen = calloc(max_ids, sizeof *p->seen);
    p->pairs = calloc(max_ids, sizeof *p->pairs);
    p->pair_by_base = calloc(max_ids, sizeof *p->pair_by_base);
    p->cap_records = 64;
    p->records = malloc(p->cap_records * sizeof *p->records);
    if (!p->pos || !p->own0 || !p->traded || !p->traders || !p->n_traders || !p->trips || !p->bal || !p->marks || !p->seen || !p->pairs ||
        !p->pair_by_base || !p->records) {
        sv_portfolio_free(p);
        return NULL;
    }
    return p;
}

void sv_portfolio_free(sv_portfolio_t *p)
{
    if (!p)
        return;
    free(p->pos);
    free(p->traded);
    if (p->traders)
        for (uint32_t i = 0; i < p->max_ids; i++)
            free(p->traders[i]);
    free(p->traders);
    free(p->n_traders);
    free(p->own0);
    free(p->trips);
    free(p->bal);
    free(p->marks);
    free(p->seen);
    free(p->pairs);
    free(p->pair_by_base);
    free(p->records);
    free(p);
}

int sv_portfolio_set_balance(sv_portfolio_t *p, uint32_t asset, sv_fixed_t amount)
{
    if (asset == 0 || asset >= p->max_ids || amount == INT64_MIN)
        return SV_E_RANGE;
    p->bal[asset] = amount;
    return SV_OK;
}

sv_fixed_t sv_portfolio_balance(const sv_portfolio_t *p, uint32_t asset)
{
    return asset < p->max_ids ? p->bal[asset] : 0;
}

/* The mark of the first marked <base><quote> symbol, 0 when there is none. */
static sv_fixed_t pair_mark(const sv_portfolio_t *p, uint32_t base, uint32_t quote)
{
    for (uint32_t i = p->pair_by_base[base]; i; i = p->pairs[i - 1].next)
        if (p->pairs[i - 1].quote == quote)
            return p->marks[p->pairs[i - 1].symbol];
    return 0;
}

/* First sight of a symbol: give its row ids and, if it is the first <base><quote> symbol
 * marked, let it value its base asset in equity. Instruments are read here, once: they are
 * expected to be fixed before trading starts. */
static void first_sight(sv_portfolio_t *p, uint32_t symbol)
{
    sv_position_t *row = &p->pos[(size_t)symbol * p->stride];
    for (uint32_t s = 0; s < p->stride; s++) {
        row[s].strategy = s;
        row[s].symbol = symbol;
    }
    p->own0[symbol].symbol = symbol;
    p->seen[symbol] = 1;
    const sv_instrument_t *ins = sv_instruments_get(p->ins, symbol);
    if (!ins || ins->base == 0 || ins->base >= p->max_ids || ins->quote >= p->max_ids ||
        ins->base == ins->quote)
        return;
    for (uint32_t i = p->pair_by_base[ins->base]; i; i = p->pairs[i - 1].next)
        if (p->pairs[i - 1].quote == ins->quote)
            return;
    p->pairs[p->n_pairs] = (pair_t){symbol, ins->base, ins->quote, p->pair_by_base[ins->base]};
    p->pair_by_base[ins->base] = ++p->n_pairs;
}

void sv_portfolio_mark(sv_portfolio_t *p, uint32_t symbol, sv_fixed_t price)
{
    if (symbol == 0 || symbol >= p->max_ids || price <= 0)
        return;
    if (!p->seen[symbol])
        first_sight(p, symbol);
    p->marks[symbol] = price;
    /* per market event: only the account row and the strategies that traded the symbol (a
     * row that never traded is flat, and gets the mark when its first fill comes) */
    sv_position_t *row = &p->pos[(size_t)symbol * p->stride];
    row[0].mark = price;
    for (uint32_t i = 0; i < p->n_traders[symbol]; i++)
        row[p->traders[symbol][i]].mark = price;
    p->own0[symbol].mark = price;
}

/* When the position (qty before -> after) was opened: now when it leaves flat or flips. */
static int64_t opened_at(sv_fixed_t before, sv_fixed_t after, int64_t was, int64_t ts)
{
    if (after == 0)
        return 0;
    return sign(before) != sign(after) ? ts : was;
}

/* One fill (side s, quantity q, notional n) on an average-cost position. `closed` and
 * `closed_n` receive the quantity it closed and that part's share of n. */
static int step(const sv_position_t *in, int s, sv_fixed_t q, sv_fixed_t n, int64_t ts,
                sv_position_t *out, sv_fixed_t *closed, sv_fixed_t *closed_n)
{
    *out = *in;
    *closed = *closed_n = 0;
    if (add(in->qty, s * q, &out->qty))
        return SV_E_RANGE;
    if (in->qty == 0 || sign(in->qty) == s) {
        if (add(in->cost, s * n, &out->cost))
            return SV_E_RANGE;
    } else {
        sv_fixed_t a = absf(in->qty), c = q < a ? q : a, cost_c = in->cost, n_c = n, r;
        if ((c < a && sv_fixed_muldiv(in->cost, c, a, &cost_c)) ||
            (c < q && sv_fixed_muldiv(n, c, q, &n_c)))
            return SV_E_RANGE;
        /* realized += -s*n_c - cost_c;  cost += -cost_c + s*(n - n_c) */
        if (sub(-s * n_c, cost_c, &r) || add(in->realized, r, &out->realized) ||
            sub(in->cost, cost_c, &out->cost) || add(out->cost, s * (n - n_c), &out->cost))
            return SV_E_RANGE;
        *closed = c;
        *closed_n = n_c;
    }
    out->opened_ts = opened_at(in->qty, out->qty, in->opened_ts, ts);
    return SV_OK;
}

/* The fee in quote units: as is when paid in the quote asset; at the fill's price when paid
 * in the base asset; at the mark of the <fee asset><quote> symbol otherwise (0 when none). */
static int fee_in_quote(const sv_portfolio_t *p, const sv_instrument_t *ins, const sv_fill_t *f,
                        sv_fixed_t *out)
{
    *out = 0;
    if (f->fee == 0 || f->fee_asset == ins->quote) {
        *out = f->fee;
        return SV_OK;
    }
    sv_fixed_t rate = f->fee_asset == ins->base ? f->price : pair_mark(p, f->fee_asset, ins->quote);
    if (sv_fixed_mul(f->fee, rate, out) || *out == INT64_MIN)
        return SV_E_RANGE;
    return SV_OK;
}

/* Everything a fill changes, computed before anything is written. */
typedef struct plan {
    sv_position_t own, acc;  /* the fill's position and the account position, after */
    trip_t trip;             /* the fill's round trip, after */
    int closes;              /* a round trip ends: rec is to be appended */
    sv_trade_record_t rec;
    sv_fixed_t base, quote, fee_bal; /* balances after (fee_bal: a third fee asset) */
    sv_fixed_t fees;         /* the portfolio's fee total, after */
} plan_t;

/* The round trip of the fill's position: the closed part c (notional n_c, its realized PnL,
 * fee f_c = fee * c/q) goes to the current trip, which ends when the position reaches flat or
 * flips; the opened part o = q - c (the rest of n and of the fee) grows the current trip or
 * starts a new one. */
static int plan_trip(const trip_t *in, const sv_fill_t *f, uint32_t symbol, int64_t ts,
                     const sv_position_t *before, const sv_position_t *after, sv_fixed_t c,
                     sv_fixed_t n_c, sv_fixed_t n, sv_fixed_t fq, plan_t *pl)
{
    trip_t t = *in;
    sv_fixed_t o = f->qty - c, f_c = 0, r;
    if (c == f->qty)
        f_c = fq;
    else if (c > 0 && sv_fixed_muldiv(fq, c, f->qty, &f_c))
        return SV_E_RANGE;
    if (c > 0) {
        if (add(t.exit_n, n_c, &t.exit_n) || add(t.exit_q, c, &t.exit_q) ||
            sub(after->realized, before->realized, &r) || add(t.realized, r, &t.realized) ||
            add(t.fees, f_c, &t.fees))
            return SV_E_RANGE;
        if (c == absf(before->qty)) {
            sv_trade_record_t *rec = &pl->rec;
            *rec = (sv_trade_record_t){.strategy = f->strategy, .symbol = symbol, .side = t.side,
                                       .open_ts = t.open_ts, .close_ts = ts, .qty = t.max_qty,
                                       .fees = t.fees};
            if (sv_fixed_muldiv(t.entry_n, SV_FIXED_SCALE, t.entry_q, &rec->entry_price) ||
                sv_fixed_muldiv(t.exit_n, SV_FIXED_SCALE, t.exit_q, &rec->exit_price) ||
                sub(t.realized, t.fees, &rec->pnl))
                return SV_E_RANGE;
            pl->closes = 1;
            t = (trip_t){0};
        }
    }
    if (o > 0) {
        if (!t.open)
            t = (trip_t){.open = 1, .side = f->side, .open_ts = ts};
        if (add(t.entry_n, n - n_c, &t.entry_n) || add(t.entry_q, o, &t.entry_q) ||
            add(t.fees, fq - f_c, &t.fees))
            return SV_E_RANGE;
        if (absf(after->qty) > t.max_qty)
            t.max_qty = absf(after->qty);
    }
    pl->trip = t;
    return SV_OK;
}

/* The account after the fill: itself plus the change of the fill's position. */
static int plan_account(const sv_position_t *acc, const sv_position_t *before,
                        const sv_position_t *after, sv_fixed_t fq, int64_t ts, sv_position_t *out)
{
    sv_fixed_t dq, dc, dr;
    *out = *acc;
    if (sub(after->qty, before->qty, &dq) || sub(after->cost, before->cost, &dc) ||
        sub(after->realized, before->realized, &dr) || add(acc->qty, dq, &out->qty) ||
        add(acc->cost, dc, &out->cost) || add(acc->realized, dr, &out->realized) ||
        add(acc->fees, fq, &out->fees))
        return SV_E_RANGE;
    out->opened_ts = opened_at(acc->qty, out->qty, acc->opened_ts, ts);
    return SV_OK;
}

/* The balances after the fill: base += s*q, quote -= s*n, fee asset -= fee. */
static int plan_balances(const sv_portfolio_t *p, const sv_instrument_t *ins, const sv_fill_t *f,
                         sv_fixed_t n, plan_t *pl)
{
    int s = f->side;
    if (add(p->bal[ins->base], s * f->qty, &pl->base) || sub(p->bal[ins->quote], s * n, &pl->quote))
        return SV_E_RANGE;
    if (f->fee == 0)
        return SV_OK;
    sv_fixed_t *from = f->fee_asset == ins->base ? &pl->base
                       : f->fee_asset == ins->quote ? &pl->quote
                                                    : &pl->fee_bal;
    if (from == &pl->fee_bal)
        pl->fee_bal = p->bal[f->fee_asset];
    return sub(*from, f->fee, from);
}

int sv_portfolio_apply_fill(sv_portfolio_t *p, const sv_event_t *ev)
{
    const sv_fill_t *f = &ev->u.fill;
    uint32_t sym = ev->h.symbol;
    int64_t ts = ev->h.ts_exchange;
    if (ev->h.kind != SV_EV_FILL)
        return SV_E_INVAL;
    const sv_instrument_t *ins = sv_instruments_get(p->ins, sym);
    if (!ins)
        return SV_E_NOTFOUND;
    if (sym >= p->max_ids || ins->base >= p->max_ids || ins->quote >= p->max_ids ||
        f->strategy >= p->stride)
        return SV_E_RANGE;
    if ((f->side != SV_SIDE_BUY && f->side != SV_SIDE_SELL) || f->qty <= 0 || f->price <= 0 ||
        ins->base == 0 || ins->quote == 0 || ins->base == ins->quote || f->fee == INT64_MIN ||
        (f->fee != 0 && (f->fee_asset == 0 || f->fee_asset >= p->max_ids)))
        return SV_E_INVAL;

    size_t row = (size_t)sym * p->stride;
    sv_position_t *own = f->strategy ? &p->pos[row + f->strategy] : &p->own0[sym];
    sv_position_t *acc = &p->pos[row];
    trip_t *trip = &p->trips[row + f->strategy];
    plan_t pl = {0};
    sv_fixed_t n, fq, c, n_c;
    if (sv_fixed_mul(f->price, f->qty, &n) || fee_in_quote(p, ins, f, &fq) ||
        step(own, f->side, f->qty, n, ts, &pl.own, &c, &n_c) ||
        add(pl.own.fees, fq, &pl.own.fees) ||
        plan_trip(trip, f, sym, ts, own, &pl.own, c, n_c, n, fq, &pl) ||
        plan_account(acc, own, &pl.own, fq, ts, &pl.acc) || plan_balances(p, ins, f, n, &pl) ||
        add(p->fees, fq, &pl.fees))
        return SV_E_RANGE;
    pl.own.strategy = f->strategy; /* ids, for a row seen here first */
    pl.acc.strategy = 0;
    pl.own.symbol = pl.acc.symbol = sym;
    if (pl.closes && p->n_records == p->cap_records) {
        if (p->cap_records > UINT32_MAX / 2)
            return SV_E_FULL;
        sv_trade_record_t *grown = realloc(p->records, 2 * (size_t)p->cap_records * sizeof *grown);
        if (!grown)
            return SV_E_NOMEM;
        p->records = grown;
        p->cap_records *= 2;
    }

    if (f->strategy && !p->traded[row + f->strategy]) {
        /* the first fill of this strategy on this symbol: mark its row from now on */
        uint32_t *t = realloc(p->traders[sym], (p->n_traders[sym] + 1) * sizeof *t);
        if (!t)
            return SV_E_NOMEM;
        p->traders[sym] = t;
        t[p->n_traders[sym]++] = f->strategy;
        p->traded[row + f->strategy] = 1;
    }

    /* Commit: nothing below can fail. */
    if (!p->seen[sym])
        first_sight(p, sym);
    p->exposed += (pl.acc.qty != 0) - (acc->qty != 0);
    *own = pl.own;
    *acc = pl.acc;
    *trip = pl.trip;
    if (pl.closes)
        p->records[p->n_records++] = pl.rec;
    p->bal[ins->base] = pl.base;
    p->bal[ins->quote] = pl.quote;
    if (f->fee != 0 && f->fee_asset != ins->base && f->fee_asset != ins->quote)
        p->bal[f->fee_asset] = pl.fee_bal;
    p->fees = pl.fees;
    p->fills++;
    sv_portfolio_mark(p, sym, f->price);
    return SV_OK;
}

const sv_position_t *sv_portfolio_position(const sv_portfolio_t *p, uint32_t strategy, uint32_t symbol)
{
    if (symbol >= p->max_ids || strategy >= p->stride)
        return &flat_position;
    sv_position_t *row = &p->pos[(size_t)symbol * p->stride + strategy];
    /* a row that never traded is not marked per event (sv_portfolio_mark): bring its mark
     * up to date when someone looks (it is flat, so only the mark can be stale) */
    if (strategy && !p->traded[(size_t)symbol * p->stride + strategy])
        row->mark = p->marks[symbol];
    return row;
}

sv_fixed_t sv_portfolio_unrealized(const sv_position_t *pos)
{
    return clamp(mul128(pos->mark, pos->qty) - pos->cost);
}

sv_fixed_t sv_portfolio_equity(const sv_portfolio_t *p, uint32_t quote)
{
    if (quote == 0 || quote >= p->max_ids)
        return 0;
    i128 sum = p->bal[quote];
    for (uint32_t i = 0; i < p->n_pairs; i++)
        if (p->pairs[i].quote == quote)
            sum += mul128(p->bal[p->pairs[i].base], p->marks[p->pairs[i].symbol]);
    return clamp(sum);
}

int sv_portfolio_exposed(const sv_portfolio_t *p) { return p->exposed != 0; }

uint32_t sv_portfolio_trade_count(const sv_portfolio_t *p) { return p->n_records; }

const sv_trade_record_t *sv_portfolio_trade(const sv_portfolio_t *p, uint32_t i)
{
    return i < p->n_records ? &p->records[i] : NULL;
}

sv_fixed_t sv_portfolio_fees(const sv_portfolio_t *p) { return p->fees; }

uint64_t sv_portfolio_fills(const sv_portfolio_t *p) { return p->fills; }
