/* sim: the simulated venue (rules in sim.h, examples in docs/sim.md).
 *
 * Orders live in a fixed array of slots taken from a free list; a hash of client ids finds
 * them for cancel and replace. The live orders of a symbol form a doubly linked list in time
 * priority, so a market event costs O(orders on its symbol), and O(1) when there are none.
 * Requests sent with latency wait in a FIFO ring: a constant latency on a clock that never
 * goes back keeps it sorted by due time, so finding due work is one comparison per event.
 * Symbol and asset ids index flat tables of SIM_MAX_IDS entries (calloc'd, so only the
 * pages of ids in use are ever touched).
 *
 * Reentrancy: the sink may call submit/cancel/replace from inside a report. Every step
 * changes the venue's state first and reports last; matching collects its actions for the
 * whole symbol before applying any, and checks each order's version again before touching
 * it, so a nested call never sees a half-made change nor invalidates an iterator. Orders a
 * nested call submits match from the next event on. A nested sv_sim_on_market is a
 * programmer error. */
#include "sim.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

typedef __int128 i128;

#define SIM_MAX_IDS 65536u /* symbol and asset ids the venue tracks: [0, 65536) */
#define SIM_MAX_ORDERS (1u << 24)
#define NIL UINT32_MAX
#define BPS_DEN ((int64_t)10000 * SV_FIXED_SCALE) /* fixed-point bps per 1 */

enum { ST_FREE, ST_PENDING, ST_LIVE, ST_DONE }; /* DONE: terminal, awaiting its requests */
enum { RQ_ARRIVE, RQ_CANCEL, RQ_REPLACE };
enum { END_NONE, END_IOC, END_FOK, END_FUNDS };
enum { AT_OR_ABOVE, AT_OR_BELOW, ABOVE, BELOW };

typedef struct order {
    uint64_t client_id, exchange_id;
    sv_fixed_t price, qty, stop, filled;
    sv_fixed_t lock_px; /* price the buy lock is computed at */
    sv_fixed_t locked;  /* held in the lock asset (quote for a buy, base for a sell) */
    sv_fixed_t queue;   /* quantity ahead at the limit price (queue_position) */
    sv_instrument_t in; /* the rules at arrival, so a lock is released in the asset it took */
    int64_t live_ts;    /* when it was acknowledged (or last amended) */
    uint32_t symbol;
    uint32_t ver;       /* bumped on every change a pending action must not miss */
    uint32_t prev, next; /* symbol list; next is also the free-list link */
    int8_t side;
    uint8_t type, tif, flags, state, status, fresh, triggered;
    uint8_t n_req, cancel_pending, replace_pending;
} order_t;

typedef struct request {
    int64_t due;
    sv_fixed_t price, qty;
    uint32_t slot;
    uint8_t kind;
} request_t;

typedef struct symstate {
    sv_fixed_t ref_buy, ref_sell; /* where a market buy / sell would trade now (0: unknown) */
    sv_fixed_t bid, bid_qty, ask, ask_qty;
    uint32_t head, tail, n;       /* live orders; head/tail valid only when n > 0 */
} symstate_t;

typedef struct balance {
    sv_fixed_t total, locked;
} balance_t;

typedef struct action {
    int64_t pos; /* where on the bar's path it happens; 0 for trades and quotes */
    int64_t ts;  /* when, for a bar (0: now) */
    sv_fixed_t price, qty, cap;
    uint32_t slot, ver, seq;
    uint8_t liq, end;
} action_t;

/* A bar's price path: open -> the nearer extreme -> the other -> close. */
typedef struct path {
    sv_fixed_t pt[4];
} path_t;

struct sv_sim {
    sv_sim_options_t o;
    const sv_instruments_t *ins;
    sv_clock_t *clock;
    sv_exec_sink_t sink;
    order_t *orders;
    uint32_t free_head, n_live;
    uint64_t *hkey; /* 0: empty */
    uint32_t *hval, hmask;
    request_t *ring;
    uint32_t ring_cap, ring_head, ring_n;
    symstate_t *syms;
    balance_t *bal;
    action_t *acts;
    uint64_t last_exchange_id, last_trade_id;
    sv_fixed_t lock_fee_bps;
    int in_market;
};

/* ---- fixed-point helpers ---- */

static sv_fixed_t sat(i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (sv_fixed_t)v;
}

static sv_fixed_t notional(sv_fixed_t px, sv_fixed_t q)
{
    sv_fixed_t n;
    return sv_fixed_mul(px, q, &n) == SV_OK ? n : SV_FIXED_MAX;
}

static sv_fixed_t fee_of(sv_fixed_t n, sv_fixed_t bps)
{
    sv_fixed_t f;
    return sv_fixed_muldiv(n, bps, BPS_DEN, &f) == SV_OK ? f : SV_FIXED_MAX;
}

/* Buys pay px * (1 + bps) rounded up to the tick, sells get px * (1 - bps) rounded down. */
static sv_fixed_t slipped(const sv_sim_t *s, sv_fixed_t px, int side, sv_fixed_t tick)
{
    if (s->o.slippage_bps == 0 || px <= 0)
        return px;
    i128 den = (i128)BPS_DEN * tick, q;
    if (side > 0) {
        q = ((i128)px * (BPS_DEN + s->o.slippage_bps) + den - 1) / den;
    } else {
        q = (i128)px * (BPS_DEN - s->o.slippage_bps) / den;
        if (q < 1)
            q = 1;
    }
    return sat(q * tick);
}

/* participation x volume, rounded down to the lot. */
static sv_fixed_t cap_of(const sv_sim_t *s, sv_fixed_t volume, sv_fixed_t lot)
{
    if (volume <= 0)
        return 0;
    i128 c = (i128)volume * s->o.participation / SV_FIXED_SCALE;
    return (sv_fixed_t)(c - c % lot);
}

static uint32_t lock_asset(const order_t *o) { return o->side > 0 ? o->in.quote : o->in.base; }

/* What an order holds for `rem` unfilled: a sell its base quantity, a buy the notional at its
 * lock price plus the larger fee. */
static sv_fixed_t lock_for(const sv_sim_t *s, const order_t *o, sv_fixed_t rem)
{
    if (rem <= 0)
        return 0;
    if (o->side < 0)
        return rem;
    sv_fixed_t n = notional(o->lock_px, rem);
    return sat((i128)n + fee_of(n, s->lock_fee_bps));
}

static sv_fixed_t free_of(const sv_sim_t *s, uint32_t asset)
{
    return sat((i128)s->bal[asset].total - s->bal[asset].locked);
}

/* ---- client id hash: linear probing, backward-shift deletion ---- */

static uint32_t h_home(const sv_sim_t *s, uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k & s->hmask;
}

static uint32_t h_find(const sv_sim_t *s, uint64_t k)
{
    for (uint32_t i = h_home(s, k);; i = (i + 1) & s->hmask) {
        if (s->hkey[i] == k)
            return s->hval[i];
        if (s->hkey[i] == 0)
            return NIL;
    }
}

static void h_put(sv_sim_t *s, uint64_t k, uint32_t v)
{
    uint32_t i = h_home(s, k);
    while (s->hkey[i] != 0)
        i = (i + 1) & s->hmask;
    s->hkey[i] = k;
    s->hval[i] = v;
}

static void h_del(sv_sim_t *s, uint64_t k)
{
    uint32_t i = h_home(s, k), m = s->hmask;
    while (s->hkey[i] != k) {
        if (s->hkey[i] == 0)
            return;
        i = (i + 1) & m;
    }
    for (uint32_t j = (i + 1) & m; s->hkey[j] != 0; j = (j + 1) & m) {
        /* the key at j may fill the hole at i unless its home lies cyclically in (i, j] */
        if (((j - h_home(s, s->hkey[j])) & m) >= ((j - i) & m)) {
            s->hkey[i] = s->hkey[j];
            s->hval[i] = s->hval[j];
            i = j;
        }
    }
    s->hkey[i] = 0;
}

/* ---- slots and symbol lists ---- */

static void link_tail(sv_sim_t *s, uint32_t idx)
{
    order_t *o = &s->orders[idx];
    symstate_t *ss = &s->syms[o->symbol];
    o->next = NIL;
    if (ss->n == 0) {
        o->prev = NIL;
        ss->head = idx;
    } else {
        o->prev = ss->tail;
        s->orders[ss->tail].next = idx;
    }
    ss->tail = idx;
    ss->n++;
}

static void unlink_order(sv_sim_t *s, uint32_t idx)
{
    order_t *o = &s->orders[idx];
    symstate_t *ss = &s->syms[o->symbol];
    if (o->prev == NIL)
        ss->head = o->next;
    else
        s->orders[o->prev].next = o->next;
    if (o->next == NIL)
        ss->tail = o->prev;
    else
        s->orders[o->next].prev = o->prev;
    ss->n--;
}

/* Frees a terminal order once no request refers to it any more. */
static void settle(sv_sim_t *s, uint32_t idx)
{
    order_t *o = &s->orders[idx];
    if (o->state == ST_DONE && o->n_req == 0) {
        o->state = ST_FREE;
        o->ver++;
        o->next = s->free_head;
        s->free_head = idx;
    }
}

/* Ends an order: releases its lock, takes it off the book and forgets its client id. */
static void finish(sv_sim_t *s, uint32_t idx, int status)
{
    order_t *o = &s->orders[idx];
    if (o->state == ST_LIVE) {
        s->bal[lock_asset(o)].locked -= o->locked;
        o->locked = 0;
        unlink_order(s, idx);
        s->n_live--;
    }
    h_del(s, o->client_id);
    o->status = (uint8_t)status;
    o->state = ST_DONE;
    o->ver++;
    settle(s, idx);
}

/* ---- reports ---- */

static void report_init(const sv_sim_t *s, const order_t *o, sv_exec_report_t *r, const char *why)
{
    memset(r, 0, sizeof *r);
    r->client_id = o->client_id;
    r->exchange_id = o->exchange_id;
    r->symbol = o->symbol;
    r->status = o->status;
    r->ts = sv_clock_now(s->clock);
    r->price = o->price;
    r->qty = o->qty;
    if (why)
        snprintf(r->reason, sizeof r->reason, "%s", why);
}

static void emit(sv_sim_t *s, const sv_exec_report_t *r)
{
    if (s->sink.report)
        s->sink.report(s->sink.ud, r);
}

static const char *status_word(int st)
{
    switch (st) {
    case SV_OS_FILLED: return "filled";
    case SV_OS_CANCELED: return "canceled";
    case SV_OS_EXPIRED: return "expired";
    case SV_OS_REJECTED: return "rejected";
    default: return "closed";
    }
}

/* Writes a reason (reports carry at most 95 characters of it). */
__attribute__((format(printf, 2, 3))) static void say(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, 96, fmt, ap);
    va_end(ap);
}

static void fmt2(sv_fixed_t x, sv_fixed_t y, char *a, char *b)
{
    sv_fixed_format(x, a, 32);
    sv_fixed_format(y, b, 32);
}

/* ---- validation shared by arrival and replace ---- */

static int is_limit(const order_t *o)
{
    return o->type == SV_ORDER_LIMIT || o->type == SV_ORDER_STOP_LIMIT;
}

static int is_stop(const order_t *o)
{
    return o->type == SV_ORDER_STOP_MARKET || o->type == SV_ORDER_STOP_LIMIT;
}

/* A post-only limit would take when it crosses the last price seen on the other side. */
static int post_only_takes(const order_t *o, const symstate_t *ss, sv_fixed_t price, char *why)
{
    sv_fixed_t ref = o->side > 0 ? ss->ref_buy : ss->ref_sell;
    if (ref <= 0 || (o->side > 0 ? price < ref : price > ref))
        return 0;
    char a[32], b[32];
    fmt2(price, ref, a, b);
    say(why, "post-only order would take liquidity: limit %s, market %s", a, b);
    return 1;
}

static int funds_short(const sv_sim_t *s, const order_t *o, sv_fixed_t need, char *why)
{
    sv_fixed_t avail = free_of(s, lock_asset(o));
    if (need <= avail)
        return 0;
    char a[32], b[32];
    fmt2(need, avail, a, b);
    say(why, "insufficient %s balance: need %s, available %s",
             o->side > 0 ? "quote" : "base", a, b);
    return 1;
}

static sv_fixed_t queue_at(const symstate_t *ss, const order_t *o)
{
    if (o->type != SV_ORDER_LIMIT)
        return 0;
    if (o->side > 0)
        return ss->bid == o->price ? ss->bid_qty : 0;
    return ss->ask == o->price ? ss->ask_qty : 0;
}

/* ---- requests ---- */

static void reject(sv_sim_t *s, uint32_t idx, const char *why)
{
    sv_exec_report_t r;
    s->orders[idx].status = SV_OS_REJECTED;
    report_init(s, &s->orders[idx], &r, why);
    finish(s, idx, SV_OS_REJECTED);
    emit(s, &r);
}

static void arrive(sv_sim_t *s, uint32_t idx)
{
    order_t *o = &s->orders[idx];
    char why[96], a[32], b[32];
    const sv_instrument_t *in = sv_instruments_get(s->ins, o->symbol);
    if (!in) {
        reject(s, idx, "unknown instrument");
        return;
    }
    if (in->base >= SIM_MAX_IDS || in->quote >= SIM_MAX_IDS) {
        reject(s, idx, "asset id beyond the simulator's limit of 65536");
        return;
    }
    o->in = *in;
    const symstate_t *ss = &s->syms[o->symbol];
    sv_fixed_t ref = o->side > 0 ? ss->ref_buy : ss->ref_sell;
    if (is_limit(o) && o->price <= 0) {
        reject(s, idx, "limit price must be > 0");
        return;
    }
    if (is_stop(o) && o->stop <= 0) {
        reject(s, idx, "stop price must be > 0");
        return;
    }
    if (is_stop(o) && o->stop % in->tick != 0) {
        fmt2(o->stop, in->tick, a, b);
        say(why, "stop price %s is not a multiple of tick size %s", a, b);
        reject(s, idx, why);
        return;
    }
    if (o->type == SV_ORDER_MARKET && ref <= 0) {
        reject(s, idx, "no market price yet");
        return;
    }
    sv_fixed_t ref_px = o->type == SV_ORDER_MARKET        ? ref
                        : o->type == SV_ORDER_STOP_MARKET ? o->stop
                                                          : 0;
    if (sv_instrument_check(in, is_limit(o) ? o->price : 0, o->qty, ref_px, why, sizeof why)) {
        reject(s, idx, why);
        return;
    }
    if (o->flags & SV_ORDER_FLAG_POST_ONLY) {
        if (o->type != SV_ORDER_LIMIT || o->tif != SV_TIF_GTC) {
            reject(s, idx, "post-only is only valid on GTC limit orders");
            return;
        }
        if (post_only_takes(o, ss, o->price, why)) {
            reject(s, idx, why);
            return;
        }
    }
    o->lock_px = is_limit(o) ? o->price : slipped(s, is_stop(o) ? o->stop : ref, o->side, in->tick);
    sv_fixed_t need = lock_for(s, o, o->qty);
    if (funds_short(s, o, need, why)) {
        reject(s, idx, why);
        return;
    }
    o->exchange_id = ++s->last_exchange_id;
    o->status = SV_OS_ACKNOWLEDGED;
    o->state = ST_LIVE;
    o->fresh = 1;
    o->live_ts = sv_clock_now(s->clock);
    o->locked = need;
    s->bal[lock_asset(o)].locked += need;
    o->queue = queue_at(ss, o);
    link_tail(s, idx);
    s->n_live++;
    sv_exec_report_t r;
    report_init(s, o, &r, NULL);
    emit(s, &r);
}

static void do_cancel(sv_sim_t *s, uint32_t idx)
{
    sv_exec_report_t r;
    s->orders[idx].status = SV_OS_CANCELED;
    report_init(s, &s->orders[idx], &r, "canceled");
    finish(s, idx, SV_OS_CANCELED);
    emit(s, &r);
}

/* Whether an amend to n (o with its new price and quantity) breaks a rule: says why. On
 * success n holds the lock it needs. */
static int amend_refused(const sv_sim_t *s, const order_t *o, order_t *n, sv_fixed_t price,
                         char *why)
{
    char a[32], b[32];
    if (o->type == SV_ORDER_MARKET) {
        say(why, "market orders cannot be amended");
        return 1;
    }
    if (o->type == SV_ORDER_STOP_MARKET && price) {
        say(why, "a stop-market order has no limit price to amend");
        return 1;
    }
    if (n->qty <= o->filled) {
        fmt2(n->qty, o->filled, a, b);
        say(why, "new quantity %s must exceed the filled %s", a, b);
        return 1;
    }
    if (sv_instrument_check(&o->in, is_limit(o) ? n->price : 0, n->qty,
                            o->type == SV_ORDER_STOP_MARKET ? o->stop : 0, why, 96))
        return 1;
    if ((o->flags & SV_ORDER_FLAG_POST_ONLY) &&
        post_only_takes(o, &s->syms[o->symbol], n->price, why))
        return 1;
    if (is_limit(o))
        n->lock_px = n->price;
    n->locked = lock_for(s, n, n->qty - o->filled);
    return funds_short(s, o, n->locked - o->locked, why); /* only the extra is needed */
}

static void do_replace(sv_sim_t *s, uint32_t idx, sv_fixed_t price, sv_fixed_t qty)
{
    order_t *o = &s->orders[idx];
    order_t n = *o;
    char why[96], msg[96];
    sv_exec_report_t r;
    if (price)
        n.price = price;
    if (qty)
        n.qty = qty;
    if (amend_refused(s, o, &n, price, why)) {
        say(msg, "replace rejected: %.70s", why);
        report_init(s, o, &r, msg);
        emit(s, &r);
        return;
    }
    s->bal[lock_asset(o)].locked += n.locked - o->locked;
    o->locked = n.locked;
    o->price = n.price;
    o->qty = n.qty;
    o->lock_px = n.lock_px;
    o->ver++;
    o->fresh = 1; /* it re-enters the book, at the back */
    o->live_ts = sv_clock_now(s->clock);
    o->queue = queue_at(&s->syms[o->symbol], o);
    unlink_order(s, idx);
    link_tail(s, idx);
    report_init(s, o, &r, NULL);
    emit(s, &r);
}

static void run_request(sv_sim_t *s, const request_t *rq)
{
    uint32_t idx = rq->slot;
    order_t *o = &s->orders[idx];
    o->n_req--;
    if (rq->kind == RQ_ARRIVE) {
        arrive(s, idx);
        return;
    }
    if (rq->kind == RQ_CANCEL)
        o->cancel_pending = 0;
    else
        o->replace_pending = 0;
    if (o->state == ST_DONE) { /* it ended while the request travelled */
        sv_exec_report_t r;
        report_init(s, o, &r, NULL);
        say(r.reason, "%s rejected: order already %s", rq->kind == RQ_CANCEL ? "cancel" : "replace",
            status_word(o->status));
        settle(s, idx);
        emit(s, &r);
    } else if (rq->kind == RQ_CANCEL) {
        do_cancel(s, idx);
    } else {
        do_replace(s, idx, rq->price, rq->qty);
    }
}

static void push(sv_sim_t *s, int kind, uint32_t idx, sv_fixed_t price, sv_fixed_t qty)
{
    assert(s->ring_n < s->ring_cap); /* at most arrive + replace + cancel per slot */
    request_t *rq = &s->ring[(s->ring_head + s->ring_n) % s->ring_cap];
    s->ring_n++;
    int64_t now = sv_clock_now(s->clock);
    rq->due = now > INT64_MAX - s->o.latency_ns ? INT64_MAX : now + s->o.latency_ns;
    rq->price = price;
    rq->qty = qty;
    rq->slot = idx;
    rq->kind = (uint8_t)kind;
    s->orders[idx].n_req++;
}

static void run_due(sv_sim_t *s, int64_t ts)
{
    while (s->ring_n && s->ring[s->ring_head].due <= ts) {
        request_t rq = s->ring[s->ring_head];
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_n--;
        run_request(s, &rq);
    }
}

/* ---- the exchange adapter ---- */

static int sim_submit(void *self, const sv_order_t *ord, uint32_t symbol)
{
    sv_sim_t *s = self;
    if (!ord || ord->client_id == 0 || (ord->side != SV_SIDE_BUY && ord->side != SV_SIDE_SELL) ||
        ord->type > SV_ORDER_STOP_LIMIT || ord->tif > SV_TIF_FOK)
        return SV_E_INVAL;
    if (symbol >= SIM_MAX_IDS)
        return SV_E_RANGE;
    if (h_find(s, ord->client_id) != NIL)
        return SV_E_EXISTS;
    if (s->free_head == NIL)
        return SV_E_FULL;
    uint32_t idx = s->free_head;
    order_t *o = &s->orders[idx];
    s->free_head = o->next;
    uint32_t ver = o->ver + 1;
    memset(o, 0, sizeof *o);
    o->ver = ver;
    o->client_id = ord->client_id;
    o->symbol = symbol;
    o->side = ord->side;
    o->type = ord->type;
    o->tif = ord->tif;
    o->flags = ord->order_flags;
    o->price = is_limit(o) ? ord->price : 0;
    o->qty = ord->qty;
    o->stop = is_stop(o) ? ord->stop_price : 0;
    o->state = ST_PENDING;
    o->status = SV_OS_PENDING;
    o->prev = o->next = NIL;
    h_put(s, o->client_id, idx);
    if (s->o.latency_ns == 0)
        arrive(s, idx);
    else
        push(s, RQ_ARRIVE, idx, 0, 0);
    return SV_OK;
}

static int sim_cancel(void *self, uint64_t client_id, uint32_t symbol)
{
    sv_sim_t *s = self;
    uint32_t idx = client_id ? h_find(s, client_id) : NIL;
    if (idx == NIL || (symbol != 0 && symbol != s->orders[idx].symbol))
        return SV_E_NOTFOUND;
    order_t *o = &s->orders[idx];
    if (o->cancel_pending)
        return SV_E_STATE;
    if (s->o.latency_ns == 0) {
        do_cancel(s, idx);
    } else {
        o->cancel_pending = 1;
        push(s, RQ_CANCEL, idx, 0, 0);
    }
    return SV_OK;
}

static int sim_replace(void *self, uint64_t client_id, uint32_t symbol, sv_fixed_t price,
                       sv_fixed_t qty)
{
    sv_sim_t *s = self;
    if (price < 0 || qty < 0)
        return SV_E_INVAL;
    uint32_t idx = client_id ? h_find(s, client_id) : NIL;
    if (idx == NIL || (symbol != 0 && symbol != s->orders[idx].symbol))
        return SV_E_NOTFOUND;
    order_t *o = &s->orders[idx];
    if (o->cancel_pending || o->replace_pending)
        return SV_E_STATE;
    if (s->o.latency_ns == 0) {
        do_replace(s, idx, price, qty);
    } else {
        o->replace_pending = 1;
        push(s, RQ_REPLACE, idx, price, qty);
    }
    return SV_OK;
}

sv_exchange_t sv_sim_exchange(sv_sim_t *sim)
{
    sv_exchange_t ex = {"sim", sim, sim_submit, sim_cancel, sim_replace};
    return ex;
}

/* ---- matching ---- */

static void path_init(path_t *p, const sv_bar_t *b)
{
    int high_first = b->high - b->open < b->open - b->low; /* a tie goes to the low */
    p->pt[0] = b->open;
    p->pt[1] = high_first ? b->high : b->low;
    p->pt[2] = high_first ? b->low : b->high;
    p->pt[3] = b->close;
}

/* The first distance along the path, from `from` on, where the price meets `cond` against L;
 * -1 when it never does. The path moves one price unit per unit of distance, so a crossing
 * inside a segment is exact. */
static int64_t path_first(const path_t *p, int64_t from, int cond, sv_fixed_t L)
{
    int64_t s = 0;
    for (int i = 0; i < 3; i++) {
        sv_fixed_t a = p->pt[i], b = p->pt[i + 1];
        int64_t len = b >= a ? b - a : a - b;
        if (s + len < from) {
            s += len;
            continue;
        }
        int64_t st = from > s ? from : s;
        sv_fixed_t x = b >= a ? a + (st - s) : a - (st - s);
        switch (cond) {
        case AT_OR_ABOVE:
            if (x >= L)
                return st;
            if (b >= L)
                return st + (L - x);
            break;
        case AT_OR_BELOW:
            if (x <= L)
                return st;
            if (b <= L)
                return st + (x - L);
            break;
        case ABOVE:
            if (x > L)
                return st;
            if (b > L)
                return st + (L - x);
            break;
        default: /* BELOW */
            if (x < L)
                return st;
            if (b < L)
                return st + (x - L);
            break;
        }
        s += len;
    }
    return -1;
}

/* The time the path reaches pos, taking the bar's time to be spread evenly along it. */
static int64_t path_time(const path_t *p, const sv_bar_t *b, int64_t end, int64_t pos)
{
    int64_t len = 0, start = b->start > 0 && b->start < end ? b->start : end;
    for (int i = 0; i < 3; i++)
        len += p->pt[i + 1] >= p->pt[i] ? p->pt[i + 1] - p->pt[i] : p->pt[i] - p->pt[i + 1];
    return len > 0 ? start + (int64_t)((i128)(end - start) * pos / len) : start;
}

static sv_fixed_t path_price(const path_t *p, int64_t pos)
{
    int64_t s = 0;
    for (int i = 0; i < 3; i++) {
        sv_fixed_t a = p->pt[i], b = p->pt[i + 1];
        int64_t len = b >= a ? b - a : a - b;
        if (pos <= s + len)
            return b >= a ? a + (pos - s) : a - (pos - s);
        s += len;
    }
    return p->pt[3];
}

/* An order taking liquidity at px: fills up to cap; IOC cancels and FOK expires the rest. */
static int take(const order_t *o, action_t *a, int64_t pos, sv_fixed_t px, sv_fixed_t cap)
{
    sv_fixed_t rem = o->qty - o->filled;
    a->pos = pos;
    a->price = px;
    a->liq = SV_LIQ_TAKER;
    a->cap = cap;
    if (o->tif == SV_TIF_FOK) {
        if (cap >= rem)
            a->qty = rem;
        else
            a->end = END_FOK;
    } else {
        a->qty = cap < rem ? cap : rem;
        if (o->tif == SV_TIF_IOC && a->qty < rem)
            a->end = END_IOC;
    }
    return a->qty > 0 || a->end != END_NONE;
}

/* An IOC/FOK order with nothing to take. */
static int miss(const order_t *o, action_t *a, int64_t pos)
{
    a->pos = pos;
    a->end = o->tif == SV_TIF_FOK ? END_FOK : END_IOC;
    return 1;
}

/* A resting order filled at its limit. */
static int make(const order_t *o, action_t *a, int64_t pos, sv_fixed_t cap)
{
    sv_fixed_t rem = o->qty - o->filled;
    a->pos = pos;
    a->price = o->price;
    a->liq = SV_LIQ_MAKER;
    a->qty = cap < rem ? cap : rem;
    return a->qty > 0;
}

static int rest_bar(const order_t *o, action_t *a, const path_t *p, int64_t from, sv_fixed_t cap)
{
    int64_t t = path_first(p, from, o->side > 0 ? BELOW : ABOVE, o->price);
    return t >= 0 && make(o, a, t, cap);
}

static int eval_bar(const sv_sim_t *s, order_t *o, const sv_bar_t *bar, const path_t *p,
                    action_t *a)
{
    int buy = o->side > 0, fresh = o->fresh;
    sv_fixed_t cap = cap_of(s, bar->volume, o->in.lot), L = o->price;
    o->fresh = 0;
    if (o->type == SV_ORDER_MARKET || (o->type == SV_ORDER_STOP_MARKET && o->triggered))
        return take(o, a, 0, slipped(s, bar->open, o->side, o->in.tick), cap);
    if (is_stop(o) && !o->triggered) {
        int64_t t = path_first(p, 0, buy ? AT_OR_ABOVE : AT_OR_BELOW, o->stop);
        if (t < 0)
            return 0;
        o->triggered = 1;
        sv_fixed_t tp = path_price(p, t); /* max(open, stop) for a buy, min for a sell */
        if (o->type == SV_ORDER_STOP_MARKET)
            return take(o, a, t, slipped(s, tp, o->side, o->in.tick), cap);
        if (buy ? tp <= L : tp >= L)
            return take(o, a, t, tp, cap);
        if (o->tif != SV_TIF_GTC)
            return miss(o, a, t);
        return rest_bar(o, a, p, t, cap);
    }
    if (fresh && !(o->flags & SV_ORDER_FLAG_POST_ONLY) && (buy ? bar->open <= L : bar->open >= L))
        return take(o, a, 0, bar->open, cap);
    if (o->tif != SV_TIF_GTC)
        return miss(o, a, 0);
    return rest_bar(o, a, p, 0, cap);
}

static int eval_trade(const sv_sim_t *s, order_t *o, const sv_trade_t *tr, action_t *a)
{
    int buy = o->side > 0, fresh = o->fresh;
    sv_fixed_t T = tr->price, L = o->price, cap = cap_of(s, tr->qty, o->in.lot);
    o->fresh = 0;
    if (T <= 0)
        return 0;
    if (o->type == SV_ORDER_MARKET || (o->type == SV_ORDER_STOP_MARKET && o->triggered))
        return take(o, a, 0, slipped(s, T, o->side, o->in.tick), cap);
    if (is_stop(o) && !o->triggered) {
        if (!(buy ? T >= o->stop : T <= o->stop))
            return 0;
        o->triggered = 1;
        if (o->type == SV_ORDER_STOP_MARKET)
            return take(o, a, 0, slipped(s, T, o->side, o->in.tick), cap);
        fresh = 1; /* the limit arrives now */
    }
    if (fresh && !(o->flags & SV_ORDER_FLAG_POST_ONLY) && (buy ? T <= L : T >= L))
        return take(o, a, 0, T, cap);
    if (o->tif != SV_TIF_GTC)
        return miss(o, a, 0);
    if (buy ? T < L : T > L) {
        o->queue = 0;
        return make(o, a, 0, cap);
    }
    if (T == L && s->o.queue_position) {
        if (o->queue >= tr->qty) {
            o->queue -= tr->qty;
            return 0;
        }
        sv_fixed_t avail = tr->qty - o->queue;
        o->queue = 0;
        avail -= avail % o->in.lot;
        return make(o, a, 0, avail < cap ? avail : cap);
    }
    return 0;
}

static int eval_quote(const sv_sim_t *s, order_t *o, const sv_quote_t *q, action_t *a)
{
    int buy = o->side > 0, fresh = o->fresh;
    sv_fixed_t px = buy ? q->ask_price : q->bid_price, L = o->price;
    sv_fixed_t cap = cap_of(s, buy ? q->ask_qty : q->bid_qty, o->in.lot);
    o->fresh = 0;
    if (px <= 0)
        return 0;
    if (o->type == SV_ORDER_MARKET || (o->type == SV_ORDER_STOP_MARKET && o->triggered))
        return take(o, a, 0, px, cap);
    if (is_stop(o) && !o->triggered) {
        if (!(buy ? px >= o->stop : px <= o->stop))
            return 0;
        o->triggered = 1;
        if (o->type == SV_ORDER_STOP_MARKET)
            return take(o, a, 0, px, cap);
        fresh = 1;
    }
    int cross = buy ? px <= L : px >= L;
    if (fresh && !(o->flags & SV_ORDER_FLAG_POST_ONLY) && cross)
        return take(o, a, 0, px, cap);
    if (o->tif != SV_TIF_GTC)
        return miss(o, a, 0);
    return cross && make(o, a, 0, cap);
}

/* Whether the account can pay a fill of q at px: a buy's quote (notional + fee) from what the
 * fill releases of its lock plus the free quote; a sell's base likewise. */
static int affordable(const sv_sim_t *s, const order_t *o, sv_fixed_t px, sv_fixed_t bps,
                      sv_fixed_t q, sv_fixed_t *need, sv_fixed_t *avail)
{
    sv_fixed_t release = o->locked - lock_for(s, o, o->qty - o->filled - q);
    if (o->side > 0) {
        sv_fixed_t n = notional(px, q);
        *need = sat((i128)n + fee_of(n, bps));
    } else {
        *need = q;
    }
    *avail = sat((i128)free_of(s, lock_asset(o)) + release);
    return *need <= *avail;
}

static void fill(sv_sim_t *s, order_t *o, sv_fixed_t px, sv_fixed_t bps, sv_fixed_t q, int liq,
                 sv_exec_report_t *r)
{
    sv_fixed_t n = notional(px, q), fee = fee_of(n, bps);
    sv_fixed_t keep = lock_for(s, o, o->qty - o->filled - q);
    balance_t *base = &s->bal[o->in.base], *quote = &s->bal[o->in.quote];
    s->bal[lock_asset(o)].locked -= o->locked - keep;
    o->locked = keep;
    if (o->side > 0) {
        quote->total -= n + fee;
        base->total += q;
    } else {
        base->total -= q;
        quote->total += n - fee;
    }
    o->filled += q;
    o->status = o->filled == o->qty ? SV_OS_FILLED : SV_OS_PARTIALLY_FILLED;
    report_init(s, o, r, NULL);
    r->trade_id = ++s->last_trade_id;
    r->last_price = px;
    r->last_qty = q;
    r->fee = fee;
    r->fee_asset = o->in.quote;
    r->liquidity = (uint8_t)liq;
}

static void apply(sv_sim_t *s, const action_t *a)
{
    uint32_t idx = a->slot;
    order_t *o = &s->orders[idx];
    if (o->state != ST_LIVE || o->ver != a->ver)
        return; /* a nested call changed or ended it */
    sv_exec_report_t r[2];
    int nr = 0, end = a->end;
    int64_t live_ts = o->live_ts;
    char why[96] = "", x[32], y[32];
    sv_fixed_t q = a->qty;
    if (q > 0) {
        sv_fixed_t bps = a->liq == SV_LIQ_MAKER ? s->o.maker_fee_bps : s->o.taker_fee_bps;
        sv_fixed_t need, avail;
        if (!affordable(s, o, a->price, bps, q, &need, &avail)) {
            fmt2(need, avail, x, y);
            say(why, "insufficient %s balance: need %s, available %s",
                     o->side > 0 ? "quote" : "base", x, y);
            end = END_FUNDS;
            /* fill the most whole lots it can pay for (none for a FOK) */
            sv_fixed_t lot = o->in.lot, lo = 0, hi = o->tif == SV_TIF_FOK ? 1 : q / lot;
            while (hi - lo > 1) {
                sv_fixed_t mid = lo + (hi - lo) / 2;
                if (affordable(s, o, a->price, bps, mid * lot, &need, &avail))
                    lo = mid;
                else
                    hi = mid;
            }
            q = lo * lot;
        }
        if (q > 0)
            fill(s, o, a->price, bps, q, a->liq, &r[nr++]);
    }
    if (o->filled == o->qty) {
        finish(s, idx, SV_OS_FILLED);
    } else if (end != END_NONE) {
        int st = end == END_IOC ? SV_OS_CANCELED : SV_OS_EXPIRED;
        if (end == END_IOC) {
            say(why, "IOC: unfilled quantity canceled");
        } else if (end == END_FOK) {
            fmt2(o->qty - o->filled, a->cap, x, y);
            say(why, "FOK: cannot fill %s in full (%s available)", x, y);
        }
        o->status = (uint8_t)st;
        report_init(s, o, &r[nr++], why);
        finish(s, idx, st);
    }
    for (int i = 0; i < nr; i++) {
        if (a->ts)
            r[i].ts = a->ts > live_ts ? a->ts : live_ts;
        emit(s, &r[i]);
    }
}

static int act_before(const action_t *x, const action_t *y)
{
    return x->pos < y->pos || (x->pos == y->pos && x->seq < y->seq);
}

static int act_cmp(const void *x, const void *y)
{
    return act_before(x, y) ? -1 : act_before(y, x) ? 1 : 0;
}

static void sort_actions(action_t *v, uint32_t n)
{
    if (n > 16) {
        qsort(v, n, sizeof *v, act_cmp);
        return;
    }
    for (uint32_t i = 1; i < n; i++) {
        action_t t = v[i];
        uint32_t j = i;
        for (; j > 0 && act_before(&t, &v[j - 1]); j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}

/* The price a market order would meet as the event begins, and after it. */
static void see_first(symstate_t *ss, const sv_event_t *ev)
{
    switch (ev->h.kind) {
    case SV_EV_TRADE:
        if (ev->u.trade.price > 0)
            ss->ref_buy = ss->ref_sell = ev->u.trade.price;
        break;
    case SV_EV_QUOTE:
        ss->bid = ev->u.quote.bid_price;
        ss->bid_qty = ev->u.quote.bid_qty;
        ss->ask = ev->u.quote.ask_price;
        ss->ask_qty = ev->u.quote.ask_qty;
        if (ss->ask > 0)
            ss->ref_buy = ss->ask;
        if (ss->bid > 0)
            ss->ref_sell = ss->bid;
        break;
    default: /* SV_EV_BAR */
        if (ev->u.bar.open > 0)
            ss->ref_buy = ss->ref_sell = ev->u.bar.open;
        break;
    }
}

static void see_last(symstate_t *ss, const sv_event_t *ev)
{
    if (ev->h.kind == SV_EV_BAR && ev->u.bar.close > 0)
        ss->ref_buy = ss->ref_sell = ev->u.bar.close;
}

void sv_sim_on_market(sv_sim_t *s, const sv_event_t *ev)
{
    if (s->in_market) { /* called from inside one of its own reports */
        assert(!"sv_sim_on_market is not reentrant");
        return;
    }
    int kind = ev->h.kind;
    symstate_t *ss = NULL;
    s->in_market = 1;
    if ((kind == SV_EV_TRADE || kind == SV_EV_QUOTE || kind == SV_EV_BAR) &&
        ev->h.symbol < SIM_MAX_IDS) {
        ss = &s->syms[ev->h.symbol];
        see_first(ss, ev);
    }
    if (s->ring_n && s->ring[s->ring_head].due <= ev->h.ts_exchange)
        run_due(s, ev->h.ts_exchange);
    if (!ss || ss->n == 0) {
        if (ss)
            see_last(ss, ev);
        s->in_market = 0;
        return;
    }
    path_t p;
    if (kind == SV_EV_BAR)
        path_init(&p, &ev->u.bar);
    uint32_t n = 0, k = 0;
    for (uint32_t idx = ss->head, left = ss->n; left; left--, k++) {
        order_t *o = &s->orders[idx];
        action_t *a = &s->acts[n];
        memset(a, 0, sizeof *a);
        int got = kind == SV_EV_BAR     ? eval_bar(s, o, &ev->u.bar, &p, a)
                  : kind == SV_EV_TRADE ? eval_trade(s, o, &ev->u.trade, a)
                                        : eval_quote(s, o, &ev->u.quote, a);
        if (got) {
            if (kind == SV_EV_BAR)
                a->ts = path_time(&p, &ev->u.bar, ev->h.ts_exchange, a->pos);
            a->slot = idx;
            a->ver = o->ver;
            a->seq = k;
            n++;
        }
        idx = o->next;
    }
    see_last(ss, ev);
    if (kind == SV_EV_BAR && n > 1)
        sort_actions(s->acts, n);
    for (uint32_t i = 0; i < n; i++)
        apply(s, &s->acts[i]);
    s->in_market = 0;
}

/* ---- life cycle and balances ---- */

static int options_valid(const sv_sim_options_t *o)
{
    return o->latency_ns >= 0 && o->participation > 0 && o->participation <= SV_FIXED_ONE &&
           o->slippage_bps >= 0 && o->slippage_bps < BPS_DEN && o->maker_fee_bps >= -BPS_DEN &&
           o->maker_fee_bps <= BPS_DEN && o->taker_fee_bps >= -BPS_DEN &&
           o->taker_fee_bps <= BPS_DEN && o->max_orders > 0 && o->max_orders <= SIM_MAX_ORDERS;
}

sv_sim_t *sv_sim_new(const sv_sim_options_t *opts, const sv_instruments_t *ins, sv_clock_t *clock,
                     sv_exec_sink_t sink)
{
    if (!opts || !ins || !clock || !options_valid(opts))
        return NULL;
    sv_sim_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = *opts;
    s->ins = ins;
    s->clock = clock;
    s->sink = sink;
    uint32_t n = opts->max_orders, hcap = 16;
    while (hcap < 2 * n)
        hcap <<= 1;
    s->hmask = hcap - 1;
    s->ring_cap = 3 * n;
    s->orders = calloc(n, sizeof *s->orders);
    s->hkey = calloc(hcap, sizeof *s->hkey);
    s->hval = calloc(hcap, sizeof *s->hval);
    s->ring = calloc(s->ring_cap, sizeof *s->ring);
    s->acts = calloc(n, sizeof *s->acts);
    s->syms = calloc(SIM_MAX_IDS, sizeof *s->syms);
    s->bal = calloc(SIM_MAX_IDS, sizeof *s->bal);
    if (!s->orders || !s->hkey || !s->hval || !s->ring || !s->acts || !s->syms || !s->bal) {
        sv_sim_free(s);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++)
        s->orders[i].next = i + 1 < n ? i + 1 : NIL;
    s->free_head = 0;
    sv_fixed_t m = opts->maker_fee_bps > opts->taker_fee_bps ? opts->maker_fee_bps
                                                             : opts->taker_fee_bps;
    s->lock_fee_bps = m > 0 ? m : 0;
    return s;
}

void sv_sim_free(sv_sim_t *s)
{
    if (!s)
        return;
    free(s->orders);
    free(s->hkey);
    free(s->hval);
    free(s->ring);
    free(s->acts);
    free(s->syms);
    free(s->bal);
    free(s);
}

int sv_sim_set_balance(sv_sim_t *s, uint32_t asset, sv_fixed_t amount)
{
    if (asset >= SIM_MAX_IDS)
        return SV_E_RANGE;
    if (amount < 0)
        return SV_E_INVAL;
    s->bal[asset].total = amount;
    return SV_OK;
}

sv_fixed_t sv_sim_balance(const sv_sim_t *s, uint32_t asset)
{
    return asset < SIM_MAX_IDS ? s->bal[asset].total : 0;
}

uint32_t sv_sim_open_orders(const sv_sim_t *s) { return s->n_live; }
