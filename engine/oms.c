/* oms: order records in a fixed ring indexed by client id, a table-driven state machine and
 * idempotent application of venue reports. See oms.h for the rules. */
#define _POSIX_C_SOURCE 200809L
#include "oms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixed.h"

enum { SEEN = 8 };

typedef struct rec {
    sv_order_t o; /* o.client_id == 0: free slot */
    uint32_t symbol;
    uint8_t seen_n;
    uint64_t seen[SEEN]; /* last venue trade ids applied (idempotency) */
    sv_fixed_t filled_notional;
} rec_t;

struct sv_oms {
    sv_bus_t *bus;
    sv_clock_t *clock;
    sv_intern_t *texts;
    sv_log_t *log;
    const sv_exchange_t *ex;
    rec_t *recs;
    uint32_t cap;
    uint64_t next_id;
    sv_oms_stats_t st;
};

#define B(s) (1u << (s))
static const uint32_t legal[] = {
    [SV_OS_NEW] = B(SV_OS_PENDING) | B(SV_OS_REJECTED),
    [SV_OS_PENDING] = B(SV_OS_ACKNOWLEDGED) | B(SV_OS_REJECTED) | B(SV_OS_PARTIALLY_FILLED) |
                      B(SV_OS_FILLED) | B(SV_OS_CANCELED) | B(SV_OS_EXPIRED) |
                      B(SV_OS_PENDING_CANCEL) | B(SV_OS_PENDING_REPLACE),
    [SV_OS_ACKNOWLEDGED] = B(SV_OS_PARTIALLY_FILLED) | B(SV_OS_FILLED) | B(SV_OS_CANCELED) |
                           B(SV_OS_EXPIRED) | B(SV_OS_PENDING_CANCEL) | B(SV_OS_PENDING_REPLACE),
    [SV_OS_PARTIALLY_FILLED] = B(SV_OS_PARTIALLY_FILLED) | B(SV_OS_FILLED) | B(SV_OS_CANCELED) |
                               B(SV_OS_EXPIRED) | B(SV_OS_PENDING_CANCEL) | B(SV_OS_PENDING_REPLACE),
    [SV_OS_FILLED] = 0,
    [SV_OS_CANCELED] = 0,
    [SV_OS_REJECTED] = 0,
    [SV_OS_EXPIRED] = 0,
    /* a cancel can lose the race to fills, or be refused (the order lives on); an order
     * cancelled or amended before the venue acknowledged it can still be rejected */
    [SV_OS_PENDING_CANCEL] = B(SV_OS_CANCELED) | B(SV_OS_PARTIALLY_FILLED) | B(SV_OS_FILLED) |
                             B(SV_OS_EXPIRED) | B(SV_OS_ACKNOWLEDGED) | B(SV_OS_REJECTED),
    /* a replace is confirmed (ACK) or refused (the old order lives on), or loses to fills */
    [SV_OS_PENDING_REPLACE] = B(SV_OS_ACKNOWLEDGED) | B(SV_OS_PARTIALLY_FILLED) | B(SV_OS_FILLED) |
                              B(SV_OS_CANCELED) | B(SV_OS_EXPIRED) | B(SV_OS_PENDING_CANCEL) |
                              B(SV_OS_REJECTED),
};

static const char *const status_names[] = {"new", "pending", "acknowledged", "partially_filled",
                                           "filled", "canceled", "rejected", "expired",
                                           "pending_cancel", "pending_replace"};

int sv_oms_transition_legal(int from, int to)
{
    if (from < 0 || from > SV_OS_PENDING_REPLACE || to < 0 || to > SV_OS_PENDING_REPLACE)
        return 0;
    return (legal[from] & B(to)) != 0;
}

int sv_oms_terminal(int s)
{
    return s == SV_OS_FILLED || s == SV_OS_CANCELED || s == SV_OS_REJECTED || s == SV_OS_EXPIRED;
}

const char *sv_oms_status_name(int s)
{
    return s >= 0 && s <= SV_OS_PENDING_REPLACE ? status_names[s] : "?";
}

sv_oms_t *sv_oms_new(sv_bus_t *bus, sv_clock_t *clock, sv_intern_t *texts, sv_log_t *log, uint32_t max_orders)
{
    sv_oms_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->recs = calloc(max_orders ? max_orders : 1, sizeof *m->recs);
    if (!m->recs) {
        free(m);
        return NULL;
    }
    m->cap = max_orders ? max_orders : 1;
    m->bus = bus;
    m->clock = clock;
    m->texts = texts;
    m->log = log;
    m->next_id = 1;
    return m;
}

void sv_oms_free(sv_oms_t *m)
{
    if (m) {
        free(m->recs);
        free(m);
    }
}

static void sink_report(void *ud, const sv_exec_report_t *r) { sv_oms_on_report(ud, r); }

sv_exec_sink_t sv_oms_set_exchange(sv_oms_t *m, const sv_exchange_t *ex)
{
    m->ex = ex;
    sv_exec_sink_t s = {.report = sink_report, .ud = m};
    return s;
}

static rec_t *find(const sv_oms_t *m, uint64_t id)
{
    if (id == 0)
        return NULL;
    rec_t *r = &m->recs[(id - 1) % m->cap];
    return r->o.client_id == id ? r : NULL;
}

const sv_order_t *sv_oms_order(const sv_oms_t *m, uint64_t id)
{
    rec_t *r = find(m, id);
    return r ? &r->o : NULL;
}

uint32_t sv_oms_order_symbol(const sv_oms_t *m, uint64_t id)
{
    rec_t *r = find(m, id);
    return r ? r->symbol : 0;
}

static void publish_order(sv_oms_t *m, const rec_t *r, int64_t ts)
{
    sv_event_t ev;
    memset(&ev.h, 0, sizeof ev.h);
    ev.h.kind = SV_EV_ORDER;
    ev.h.symbol = r->symbol;
    ev.h.ts_exchange = ts ? ts : sv_clock_now(m->clock);
    ev.h.ts_receive = sv_clock_now(m->clock);
    memset(&ev.u, 0, sizeof ev.u);
    ev.u.order = r->o;
    sv_bus_publish(m->bus, &ev);
}

static void set_status(sv_oms_t *m, rec_t *r, int status, const char *reason, int64_t ts)
{
    r->o.status = (uint8_t)status;
    if (reason && *reason)
        r->o.reason = sv_intern_add(m->texts, reason, -1);
    if (status == SV_OS_REJECTED)
        m->st.rejects++;
    else if (status == SV_OS_CANCELED)
        m->st.cancels++;
    publish_order(m, r, ts);
}

/* A fresh record for a signal, or NULL when the ring slot still holds a live order. */
static rec_t *new_rec(sv_oms_t *m, const sv_event_t *sig)
{
    /* an id whose slot still holds a live order (a GTC order from cap ids ago) is skipped:
     * ids stay unique and deterministic, and one old order never blocks order entry */
    uint64_t id = m->next_id;
    rec_t *r = &m->recs[(id - 1) % m->cap];
    for (uint32_t tries = 0; r->o.client_id && !sv_oms_terminal(r->o.status); tries++) {
        if (tries == m->cap)
            return NULL;
        id++;
        r = &m->recs[(id - 1) % m->cap];
    }
    m->next_id = id + 1;
    memset(r, 0, sizeof *r);
    const sv_signal_t *s = &sig->u.signal;
    r->o.client_id = id;
    r->o.price = s->price;
    r->o.qty = s->qty;
    r->o.stop_price = s->stop_price;
    r->o.strategy = s->strategy;
    r->o.signal_id = s->signal_id;
    r->o.side = s->side;
    r->o.type = s->type;
    r->o.tif = s->tif;
    r->o.order_flags = s->order_flags;
    r->o.status = SV_OS_NEW;
    r->symbol = sig->h.symbol;
    m->st.orders++;
    return r;
}

int64_t sv_oms_reject(sv_oms_t *m, const sv_event_t *sig, const char *reason)
{
    rec_t *r = new_rec(m, sig);
    if (!r)
        return SV_E_FULL;
    set_status(m, r, SV_OS_REJECTED, reason, 0);
    return (int64_t)r->o.client_id;
}

static int64_t replace(sv_oms_t *m, const sv_event_t *sig)
{
    const sv_signal_t *s = &sig->u.signal;
    rec_t *r = find(m, s->replace_id);
    char why[160];
    if (!r || r->o.strategy != s->strategy)
        snprintf(why, sizeof why, "replace: order %llu not found", (unsigned long long)s->replace_id);
    else if (sv_oms_terminal(r->o.status) || r->o.status == SV_OS_PENDING_CANCEL ||
             r->o.status == SV_OS_PENDING_REPLACE)
        snprintf(why, sizeof why, "replace: order %llu is %s", (unsigned long long)s->replace_id,
                 sv_oms_status_name(r->o.status));
    else if (s->qty <= r->o.filled_qty)
        snprintf(why, sizeof why, "replace: new quantity must exceed the filled quantity");
    else if (!m->ex || !m->ex->replace)
        snprintf(why, sizeof why, "replace: not supported by the venue");
    else {
        /* PENDING_REPLACE before the call: the venue may answer inside it */
        int prev = r->o.status;
        set_status(m, r, SV_OS_PENDING_REPLACE, NULL, 0);
        int rc = m->ex->replace(m->ex->self, r->o.client_id, r->symbol, s->price ? s->price : r->o.price, s->qty);
        if (rc == 0)
            return (int64_t)r->o.client_id;
        if (r->o.status == SV_OS_PENDING_REPLACE)
            set_status(m, r, prev, NULL, 0);
        snprintf(why, sizeof why, "replace: venue refused: %s", sv_strerror(rc));
    }
    /* the amend is refused; the order (if any) is unchanged: say so on a rejected record */
    sv_log_warn(m->log, "oms", "%s", why);
    return sv_oms_reject(m, sig, why);
}

int64_t sv_oms_submit(sv_oms_t *m, const sv_event_t *sig)
{
    if (sig->u.signal.replace_id)
        return replace(m, sig);
    rec_t *r = new_rec(m, sig);
    if (!r) {
        sv_log_error(m->log, "oms", "order table full (%u live orders)", m->cap);
        return SV_E_FULL;
    }
    if (!m->ex) {
        set_status(m, r, SV_OS_REJECTED, "no exchange connected", 0);
        return (int64_t)r->o.client_id;
    }
    uint64_t id = r->o.client_id;
    set_status(m, r, SV_OS_PENDING, NULL, 0);
    int rc = m->ex->submit(m->ex->self, &r->o, r->symbol);
    if (rc != 0 && (r = find(m, id)) != NULL && r->o.status == SV_OS_PENDING) {
        char why[128];
        snprintf(why, sizeof why, "exchange %s refused the request: %s", m->ex->name, sv_strerror(rc));
        set_status(m, r, SV_OS_REJECTED, why, 0);
    }
    return (int64_t)id;
}

int sv_oms_cancel(sv_oms_t *m, uint32_t strategy, uint64_t id)
{
    rec_t *r = find(m, id);
    if (!r || (strategy && r->o.strategy != strategy))
        return SV_E_NOTFOUND;
    if (sv_oms_terminal(r->o.status) || r->o.status == SV_OS_PENDING_CANCEL)
        return SV_E_STATE;
    if (!m->ex || !m->ex->cancel)
        return SV_E_UNSUPPORTED;
    /* PENDING_CANCEL before the call: the venue may answer inside it */
    int prev = r->o.status;
    set_status(m, r, SV_OS_PENDING_CANCEL, NULL, 0);
    int rc = m->ex->cancel(m->ex->self, id, r->symbol);
    if (rc != 0) {
        sv_log_warn(m->log, "oms", "cancel of order %llu not sent: %s", (unsigned long long)id, sv_strerror(rc));
        if (r->o.status == SV_OS_PENDING_CANCEL) /* nothing left: the order lives on, cancelable */
            set_status(m, r, prev, NULL, 0);
    }
    return rc;
}

uint32_t sv_oms_open_orders(const sv_oms_t *m, uint32_t strategy, uint32_t symbol, uint64_t *ids, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->cap; i++) {
        const rec_t *r = &m->recs[i];
        if (!r->o.client_id || sv_oms_terminal(r->o.status))
            continue;
        if ((strategy && r->o.strategy != strategy) || (symbol && r->symbol != symbol))
            continue;
        if (n < max)
            ids[n] = r->o.client_id;
        n++;
    }
    return n;
}

int sv_oms_cancel_all(sv_oms_t *m, uint32_t strategy, uint32_t symbol)
{
    int n = 0;
    for (uint32_t i = 0; i < m->cap; i++) {
        const rec_t *r = &m->recs[i];
        if (!r->o.client_id || sv_oms_terminal(r->o.status) || r->o.status == SV_OS_PENDING_CANCEL)
            continue;
        if ((strategy && r->o.strategy != strategy) || (symbol && r->symbol != symbol))
            continue;
        if (sv_oms_cancel(m, 0, r->o.client_id) == 0)
            n++;
    }
    return n;
}

static int seen(rec_t *r, uint64_t trade_id)
{
    for (int i = 0; i < SEEN && i < r->seen_n; i++)
        if (r->seen[i] == trade_id)
            return 1;
    r->seen[r->seen_n % SEEN] = trade_id;
    /* counts to SEEN, then cycles through SEEN..2*SEEN-1 so the write position keeps moving */
    r->seen_n = (uint8_t)(r->seen_n + 1 < 2 * SEEN ? r->seen_n + 1 : SEEN);
    return 0;
}

static void apply_fill(sv_oms_t *m, rec_t *r, const sv_exec_report_t *x)
{
    if (seen(r, x->trade_id)) {
        m->st.duplicate_fills++;
        return;
    }
    if (x->last_qty <= 0 || x->last_price <= 0 || r->o.filled_qty + x->last_qty > r->o.qty) {
        m->st.overfills++;
        sv_log_error(m->log, "oms", "order %llu: fill of %lld units refused (filled %lld of %lld)",
                     (unsigned long long)r->o.client_id, (long long)x->last_qty,
                     (long long)r->o.filled_qty, (long long)r->o.qty);
        return;
    }
    sv_fixed_t notional = 0;
    sv_fixed_mul(x->last_price, x->last_qty, &notional);
    r->o.filled_qty += x->last_qty;
    r->filled_notional += notional;
    sv_fixed_div(r->filled_notional, r->o.filled_qty, &r->o.avg_price);
    if (x->exchange_id)
        r->o.exchange_id = x->exchange_id;
    m->st.fills++;

    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_FILL;
    ev.h.symbol = r->symbol;
    ev.h.ts_exchange = x->ts ? x->ts : sv_clock_now(m->clock);
    ev.h.ts_receive = sv_clock_now(m->clock);
    ev.u.fill.client_id = r->o.client_id;
    ev.u.fill.trade_id = x->trade_id;
    ev.u.fill.price = x->last_price;
    ev.u.fill.qty = x->last_qty;
    ev.u.fill.fee = x->fee;
    ev.u.fill.fee_asset = x->fee_asset;
    ev.u.fill.strategy = r->o.strategy;
    ev.u.fill.side = r->o.side;
    ev.u.fill.liquidity = x->liquidity;
    sv_bus_publish(m->bus, &ev);
    /* the status follows from the quantities, whatever order the reports came in */
    int to = r->o.filled_qty == r->o.qty ? SV_OS_FILLED : SV_OS_PARTIALLY_FILLED;
    if ((r->o.status == SV_OS_PENDING_CANCEL || r->o.status == SV_OS_PENDING_REPLACE) &&
        to == SV_OS_PARTIALLY_FILLED) {
        publish_order(m, r, x->ts); /* still waiting for the cancel/replace: report the fill only */
        return;
    }
    set_status(m, r, to, NULL, x->ts);
}

void sv_oms_on_report(sv_oms_t *m, const sv_exec_report_t *x)
{
    rec_t *r = find(m, x->client_id);
    if (!r) {
        m->st.stale_reports++;
        sv_log_warn(m->log, "oms", "report for unknown order %llu ignored", (unsigned long long)x->client_id);
        return;
    }
    if (sv_oms_terminal(r->o.status)) {
        m->st.stale_reports++;
        return;
    }
    if (x->last_qty > 0) {
        apply_fill(m, r, x);
        return;
    }
    int to = x->status;
    if (to == SV_OS_PARTIALLY_FILLED && r->o.filled_qty > 0 &&
        (r->o.status == SV_OS_PENDING_REPLACE || r->o.status == SV_OS_PENDING_CANCEL)) {
        /* a venue answers a replace or a refused cancel of a part-filled order with the
         * order's own status: that is the confirmation, not a fill */
        to = SV_OS_ACKNOWLEDGED;
    } else if (to == SV_OS_PARTIALLY_FILLED || to == SV_OS_FILLED) {
        /* a status claim without fill data: only fills move quantities */
        m->st.stale_reports++;
        return;
    }
    if (to == SV_OS_ACKNOWLEDGED && r->o.filled_qty > 0)
        to = SV_OS_PARTIALLY_FILLED; /* a confirmed replace or refused cancel of a part-filled order */
    if (!sv_oms_transition_legal(r->o.status, to) || to == r->o.status) {
        m->st.stale_reports++;
        return;
    }
    if (x->exchange_id)
        r->o.exchange_id = x->exchange_id;
    if (r->o.status == SV_OS_PENDING_REPLACE && x->qty > 0) {
        r->o.qty = x->qty;
        if (x->price > 0)
            r->o.price = x->price;
    }
    char reason[sizeof x->reason + 1]; /* it may fill its field without a NUL */
    memcpy(reason, x->reason, sizeof x->reason);
    reason[sizeof x->reason] = '\0';
    set_status(m, r, to, reason, x->ts);
}

void sv_oms_stats(const sv_oms_t *m, sv_oms_stats_t *out) { *out = m->st; }
