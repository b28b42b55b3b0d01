/* protect: protective orders owned by the core (rules in protect.h, docs/protective-orders.md).
 *
 * Protected positions live in a fixed pool; the live ones of a symbol form a doubly linked
 * list, so a market event walks only the positions on its symbol. Orders waiting for their
 * first fill sit in a small dense array keyed by signal id, then by client id once the OMS
 * has named the order. Every price is exact fixed point; percentages become fixed point once,
 * when a spec is compiled, and levels are recomputed only when the entry price changes. */
#define _POSIX_C_SOURCE 200809L
#include "protect.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "log.h"

#define NIL UINT32_MAX
#define PCT_DEN ((int64_t)100 * SV_FIXED_SCALE) /* fixed-point percent per 1 */

enum { MAX_EXITS = 8, MAX_REJECTS = 3, LEVELS = SV_PROTECT_LEVELS };

/* A compiled spec. A group is in force when its flag is set (take profit: n_tp > 0). */
typedef struct rule {
    sv_fixed_t stop_abs, stop_pct, trail_pct;
    sv_fixed_t tp_abs[LEVELS], tp_pct[LEVELS], tp_frac[LEVELS];
    uint8_t has_stop, has_trail, n_tp;
} rule_t;

/* An exit order in flight. */
typedef struct exit_ord {
    uint64_t id;
    sv_fixed_t left; /* not filled yet */
    uint8_t kind;    /* SV_PROTECT_* */
    uint8_t all;     /* closes everything that was left */
} exit_t;

typedef struct entry {
    uint32_t strategy, symbol;
    uint32_t prev, next; /* the symbol's list; next is also the free-list link */
    int8_t side;
    uint8_t used, closing, n_exits, rejects;
    uint8_t resend_kind, resend_all; /* an exit to send again on the next market event */
    uint8_t order[LEVELS];           /* take-profit levels, nearest to the entry first */
    uint32_t done;                   /* take-profit levels fired */
    rule_t rule;
    sv_fixed_t entry, qty, basis, best, in_flight, resend_qty;
    sv_fixed_t stop, tp[LEVELS]; /* levels in force (0: none) */
    int64_t since_ts;            /* the position counts from here on the entry bar's path */
    exit_t exits[MAX_EXITS];
} entry_t;

typedef struct pend {
    uint64_t signal_id, client_id; /* client_id 0: the OMS has not named the order yet */
    uint32_t strategy, symbol;
    rule_t rule;
} pend_t;

struct sv_protect {
    sv_protect_env_t env;
    uint32_t max_symbols, max_strategies, max_positions, max_pending;
    uint32_t *head; /* per symbol: first entry, or NIL */
    entry_t *ents;
    uint32_t free_head, n_used;
    pend_t *pend;
    uint32_t n_pend;
    rule_t *defaults; /* per strategy id */
    uint8_t *has_defaults;
    uint32_t *exits_of; /* per strategy id: exits in flight */
    sv_protect_stats_t st;
};

static const char *const kind_names[] = {"none", "stop_loss", "trailing_stop", "take_profit"};

const char *sv_protect_kind_name(int kind)
{
    return kind >= 1 && kind <= 3 ? kind_names[kind] : kind_names[0];
}

/* ---- small helpers ---- */

static void logf_(sv_protect_t *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(sv_protect_t *p, int level, const char *fmt, ...)
{
    if (!p->env.log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->env.log(p->env.ud, level, msg);
}

static const char *sym_name(const sv_protect_t *p, uint32_t sym)
{
    const char *s = p->env.symbol_name ? p->env.symbol_name(p->env.ud, sym) : NULL;
    return s && *s ? s : "?";
}

static const char *strat_name(const sv_protect_t *p, uint32_t sid)
{
    const char *s = p->env.strategy_name ? p->env.strategy_name(p->env.ud, sid) : NULL;
    return s && *s ? s : "?";
}

/* a fixed-point value as text, valid until the end of the full expression that made it */
typedef struct num {
    char s[32];
} num_t;
static num_t N(sv_fixed_t v)
{
    num_t n = {{0}};
    sv_fixed_format(v, n.s, sizeof n.s);
    return n;
}

static int terminal(int status)
{
    return status == SV_OS_FILLED || status == SV_OS_CANCELED || status == SV_OS_REJECTED ||
           status == SV_OS_EXPIRED;
}

/* long: at or below the stop; short: at or above */
static int beyond(int side, sv_fixed_t x, sv_fixed_t level) { return side > 0 ? x <= level : x >= level; }
/* long: at or above the take-profit level; short: at or below */
static int reached(int side, sv_fixed_t x, sv_fixed_t level) { return side > 0 ? x >= level : x <= level; }
static int better(int side, sv_fixed_t x, sv_fixed_t than) { return side > 0 ? x > than : x < than; }

/* price moved by pct percent (fixed point) in direction dir (+1 up, -1 down); 0 if <= 0 */
static sv_fixed_t moved(sv_fixed_t price, sv_fixed_t pct, int dir)
{
    sv_fixed_t d = 0;
    if (sv_fixed_muldiv(price, pct, PCT_DEN, &d) != 0)
        return 0;
    sv_fixed_t v = dir > 0 ? price + d : price - d;
    return v > 0 ? v : 0;
}

/* ---- specs ---- */

static int fin_ge0(double v) { return isfinite(v) && v >= 0; }

int sv_protect_validate(const sv_protect_spec_t *s, char *why, size_t len)
{
#define BAD(...) (snprintf(why, len, __VA_ARGS__), SV_E_INVAL)
    if (!s)
        return BAD("no spec");
    if (!fin_ge0(s->stop_loss))
        return BAD("stop_loss must be a price >= 0, got %g", s->stop_loss);
    if (!fin_ge0(s->stop_loss_pct) || s->stop_loss_pct >= 100)
        return BAD("stop_loss_pct must be in [0, 100), got %g", s->stop_loss_pct);
    if (!fin_ge0(s->trailing_pct) || s->trailing_pct >= 100)
        return BAD("trailing_pct must be in [0, 100), got %g", s->trailing_pct);
    if (s->stop_loss > 0 && s->stop_loss_pct > 0)
        return BAD("give stop_loss or stop_loss_pct, not both");
    if (s->n_take_profit > LEVELS)
        return BAD("at most %d take-profit levels, got %u", LEVELS, s->n_take_profit);
    double sum = 0;
    for (uint32_t i = 0; i < s->n_take_profit; i++) {
        double px = s->take_profit[i], pct = s->take_profit_pct[i], f = s->take_profit_fraction[i];
        if (!fin_ge0(px))
            return BAD("take_profit level %u must be a price >= 0, got %g", i + 1, px);
        if (!fin_ge0(pct))
            return BAD("take_profit_pct level %u must be >= 0, got %g", i + 1, pct);
        if ((px > 0) == (pct > 0))
            return BAD("take-profit level %u needs exactly one of a price (take_profit) and a "
                       "percentage (take_profit_pct)", i + 1);
        if (!isfinite(f) || f < 0 || f > 1)
            return BAD("take_profit_fraction level %u must be in [0, 1] (0 = all that is left), got %g", i + 1, f);
        sum += f;
    }
    if (sum > 1 + 1e-9)
        return BAD("take_profit_fraction levels add up to %g, more than the whole position", sum);
    if (!(s->stop_loss > 0 || s->stop_loss_pct > 0 || s->trailing_pct > 0 || s->n_take_profit > 0))
        return BAD("nothing to protect with: give stop_loss, stop_loss_pct, trailing_pct or take_profit");
    return SV_OK;
#undef BAD
}

static int compile(const sv_protect_spec_t *s, rule_t *r, char *why, size_t len)
{
    int rc = sv_protect_validate(s, why, len);
    if (rc)
        return rc;
    memset(r, 0, sizeof *r);
    int bad = sv_fixed_from_double(s->stop_loss, &r->stop_abs) | sv_fixed_from_double(s->stop_loss_pct, &r->stop_pct) |
              sv_fixed_from_double(s->trailing_pct, &r->trail_pct);
    r->has_stop = r->stop_abs > 0 || r->stop_pct > 0;
    r->has_trail = r->trail_pct > 0;
    r->n_tp = (uint8_t)s->n_take_profit;
    for (uint32_t i = 0; i < s->n_take_profit; i++)
        bad |= sv_fixed_from_double(s->take_profit[i], &r->tp_abs[i]) |
               sv_fixed_from_double(s->take_profit_pct[i], &r->tp_pct[i]) |
               sv_fixed_from_double(s->take_profit_fraction[i], &r->tp_frac[i]);
    if (bad) {
        snprintf(why, len, "a price or percentage is out of range");
        return SV_E_INVAL;
    }
    return SV_OK;
}

/* the order's groups override the base's */
static rule_t merge(const rule_t *base, const rule_t *over)
{
    rule_t r;
    if (base)
        r = *base;
    else
        memset(&r, 0, sizeof r);
    if (!over)
        return r;
    if (over->has_stop) {
        r.has_stop = 1;
        r.stop_abs = over->stop_abs;
        r.stop_pct = over->stop_pct;
    }
    if (over->has_trail) {
        r.has_trail = 1;
        r.trail_pct = over->trail_pct;
    }
    if (over->n_tp) {
        r.n_tp = over->n_tp;
        memcpy(r.tp_abs, over->tp_abs, sizeof r.tp_abs);
        memcpy(r.tp_pct, over->tp_pct, sizeof r.tp_pct);
        memcpy(r.tp_frac, over->tp_frac, sizeof r.tp_frac);
    }
    return r;
}

static int rule_empty(const rule_t *r) { return !r->has_stop && !r->has_trail && !r->n_tp; }

/* ---- the table ---- */

sv_protect_t *sv_protect_new(const sv_protect_env_t *env, uint32_t max_symbols, uint32_t max_strategies,
                             uint32_t max_positions, uint32_t max_pending)
{
    if (!env || !env->position || !env->submit || !max_symbols || !max_positions || !max_pending ||
        max_positions >= NIL)
        return NULL;
    sv_protect_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->env = *env;
    p->max_symbols = max_symbols;
    p->max_strategies = max_strategies;
    p->max_positions = max_positions;
    p->max_pending = max_pending;
    p->head = malloc(sizeof *p->head * max_symbols);
    p->ents = calloc(max_positions, sizeof *p->ents);
    p->pend = calloc(max_pending, sizeof *p->pend);
    p->defaults = calloc(max_strategies + 1, sizeof *p->defaults);
    p->has_defaults = calloc(max_strategies + 1, 1);
    p->exits_of = calloc(max_strategies + 1, sizeof *p->exits_of);
    if (!p->head || !p->ents || !p->pend || !p->defaults || !p->has_defaults || !p->exits_of) {
        sv_protect_free(p);
        return NULL;
    }
    for (uint32_t i = 0; i < max_symbols; i++)
        p->head[i] = NIL;
    for (uint32_t i = 0; i < max_positions; i++)
        p->ents[i].next = i + 1 < max_positions ? i + 1 : NIL;
    p->free_head = 0;
    return p;
}

void sv_protect_free(sv_protect_t *p)
{
    if (!p)
        return;
    free(p->head);
    free(p->ents);
    free(p->pend);
    free(p->defaults);
    free(p->has_defaults);
    free(p->exits_of);
    free(p);
}

static entry_t *find(const sv_protect_t *p, uint32_t sid, uint32_t sym)
{
    if (sym >= p->max_symbols)
        return NULL;
    for (uint32_t i = p->head[sym]; i != NIL; i = p->ents[i].next)
        if (p->ents[i].strategy == sid)
            return &p->ents[i];
    return NULL;
}

static entry_t *alloc_entry(sv_protect_t *p, uint32_t sid, uint32_t sym)
{
    if (p->free_head == NIL)
        return NULL;
    uint32_t i = p->free_head;
    entry_t *e = &p->ents[i];
    p->free_head = e->next;
    memset(e, 0, sizeof *e);
    e->used = 1;
    e->strategy = sid;
    e->symbol = sym;
    e->prev = NIL;
    e->next = p->head[sym];
    if (e->next != NIL)
        p->ents[e->next].prev = i;
    p->head[sym] = i;
    p->n_used++;
    return e;
}

static void cancel_exits(sv_protect_t *p, entry_t *e)
{
    for (uint32_t k = 0; k < e->n_exits; k++)
        if (p->env.cancel)
            p->env.cancel(p->env.ud, e->exits[k].id);
}

/* ends a position's protections; exits still in flight are canceled (they would overshoot) */
static void remove_entry(sv_protect_t *p, entry_t *e, const char *why)
{
    cancel_exits(p, e);
    logf_(p, SV_LOG_INFO, "strategy %s %s: protections removed (%s)", strat_name(p, e->strategy),
          sym_name(p, e->symbol), why);
    uint32_t i = (uint32_t)(e - p->ents);
    p->exits_of[e->strategy] -= e->n_exits;
    if (e->prev != NIL)
        p->ents[e->prev].next = e->next;
    else
        p->head[e->symbol] = e->next;
    if (e->next != NIL)
        p->ents[e->next].prev = e->prev;
    memset(e, 0, sizeof *e);
    e->next = p->free_head;
    p->free_head = i;
    p->n_used--;
    p->st.removed++;
}

/* the levels that follow from the rule and the entry price */
static void levels(entry_t *e)
{
    const rule_t *r = &e->rule;
    int s = e->side;
    e->stop = 0;
    if (r->has_stop)
        e->stop = r->stop_abs > 0 ? r->stop_abs : moved(e->entry, r->stop_pct, -s);
    uint32_t n = 0;
    for (uint32_t i = 0; i < LEVELS; i++) {
        e->tp[i] = 0;
        if (i < r->n_tp) {
            e->tp[i] = r->tp_abs[i] > 0 ? r->tp_abs[i] : moved(e->entry, r->tp_pct[i], s);
            e->order[n++] = (uint8_t)i;
        }
    }
    /* nearest to the entry first (insertion sort of at most 4) */
    for (uint32_t a = 1; a < n; a++)
        for (uint32_t b = a; b > 0 && better(-s, e->tp[e->order[b]], e->tp[e->order[b - 1]]); b--) {
            uint8_t t = e->order[b];
            e->order[b] = e->order[b - 1];
            e->order[b - 1] = t;
        }
}

static sv_fixed_t trail_level(const entry_t *e)
{
    return e->rule.has_trail ? moved(e->best, e->rule.trail_pct, -e->side) : 0;
}

/* the tighter of the fixed and the trailing stop (0: none); *kind says which */
static sv_fixed_t stop_level(const entry_t *e, int *kind)
{
    sv_fixed_t fixed = e->stop, trail = trail_level(e);
    if (trail > 0 && (fixed <= 0 || better(e->side, trail, fixed))) {
        *kind = SV_PROTECT_TRAILING_STOP;
        return trail;
    }
    *kind = SV_PROTECT_STOP_LOSS;
    return fixed;
}

static void describe(const sv_protect_t *p, const entry_t *e, char *buf, size_t len)
{
    int n = snprintf(buf, len, "strategy %s %s %s %s @ %s:", strat_name(p, e->strategy), sym_name(p, e->symbol),
                     e->side > 0 ? "long" : "short", N(e->qty).s, N(e->entry).s);
    if (e->stop > 0 && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " stop_loss %s", N(e->stop).s);
    if (e->rule.has_trail && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " trailing_stop %s%% (now %s)", N(e->rule.trail_pct).s,
                      N(trail_level(e)).s);
    for (uint32_t i = 0; i < e->rule.n_tp && n > 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, " take_profit %s x %s", N(e->tp[i]).s,
                      e->rule.tp_frac[i] ? N(e->rule.tp_frac[i]).s : "rest");
}

static void attached(sv_protect_t *p, const entry_t *e)
{
    char d[400];
    describe(p, e, d, sizeof d);
    logf_(p, SV_LOG_INFO, "protecting %s", d);
}

/* ---- exits ---- */

static void alert(sv_protect_t *p, const entry_t *e, int kind, int64_t client_id)
{
    if (!p->env.publish)
        return;
    char text[200];
    snprintf(text, sizeof text, "%s: %s %s %s", sv_protect_kind_name(kind), strat_name(p, e->strategy),
             sym_name(p, e->symbol), e->side > 0 ? "long" : "short");
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ALERT;
    ev.h.symbol = e->symbol;
    ev.h.ts_exchange = ev.h.ts_receive = p->env.now ? p->env.now(p->env.ud) : 0;
    ev.u.alert.code = SV_ALERT_RISK;
    ev.u.alert.source = e->strategy;
    ev.u.alert.text = p->env.text ? p->env.text(p->env.ud, text) : 0;
    ev.u.alert.value = client_id;
    p->env.publish(p->env.ud, &ev);
}

/* sends a market order closing qty of the position; `what` describes the trigger for the log */
static void send_exit(sv_protect_t *p, entry_t *e, int kind, sv_fixed_t qty, int all, const char *what)
{
    if (e->n_exits == MAX_EXITS) { /* cannot track it: try again when one has ended */
        e->resend_kind = (uint8_t)kind;
        e->resend_all |= (uint8_t)all;
        e->resend_qty += qty;
        return;
    }
    sv_event_t sig;
    memset(&sig, 0, sizeof sig);
    sig.h.kind = SV_EV_SIGNAL;
    sig.h.symbol = e->symbol;
    sig.h.ts_exchange = sig.h.ts_receive = p->env.now ? p->env.now(p->env.ud) : 0;
    sig.u.signal.strategy = e->strategy;
    sig.u.signal.side = (int8_t)(e->side > 0 ? SV_SIDE_SELL : SV_SIDE_BUY);
    sig.u.signal.qty = qty;
    sig.u.signal.type = SV_ORDER_MARKET;
    sig.u.signal.order_flags = SV_ORDER_FLAG_REDUCE_ONLY;
    snprintf(sig.u.signal.tag, sizeof sig.u.signal.tag, "%s", sv_protect_kind_name(kind));
    int64_t id = p->env.submit(p->env.ud, &sig);
    int ks = p->env.kill_switch && p->env.kill_switch(p->env.ud);
    if (id <= 0) {
        logf_(p, SV_LOG_ERROR, "%s: strategy %s %s: %s; the exit (%s %s at market) was not sent: %s; retrying on "
              "the next price", sv_protect_kind_name(kind), strat_name(p, e->strategy), sym_name(p, e->symbol), what,
              e->side > 0 ? "sell" : "buy", N(qty).s, sv_strerror((int)id));
        e->resend_kind = (uint8_t)kind;
        e->resend_all |= (uint8_t)all;
        e->resend_qty += qty;
        return;
    }
    exit_t *x = &e->exits[e->n_exits++];
    x->id = (uint64_t)id;
    x->left = qty;
    x->kind = (uint8_t)kind;
    x->all = (uint8_t)all;
    p->exits_of[e->strategy]++;
    e->in_flight += qty;
    if (all)
        e->closing = 1;
    p->st.exits++;
    logf_(p, SV_LOG_WARN, "%s: strategy %s %s %s %s (entry %s): %s; %s %s at market, order %lld%s",
          sv_protect_kind_name(kind), strat_name(p, e->strategy), sym_name(p, e->symbol), e->side > 0 ? "long" : "short",
          N(e->qty).s, N(e->entry).s, what, e->side > 0 ? "sell" : "buy", N(qty).s, (long long)id,
          ks ? " (kill switch engaged: a protective exit only reduces, sent anyway)" : "");
    alert(p, e, kind, id);
}

static sv_fixed_t avail(const entry_t *e)
{
    sv_fixed_t a = e->qty - e->in_flight;
    return a > 0 ? a : 0;
}

static void fire_stop(sv_protect_t *p, entry_t *e, int kind, sv_fixed_t level, sv_fixed_t px)
{
    p->st.triggers++;
    sv_fixed_t q = avail(e);
    char what[256];
    if (kind == SV_PROTECT_TRAILING_STOP)
        snprintf(what, sizeof what, "price %s crossed %s (%s%% from the best price %s)", N(px).s, N(level).s,
                 N(e->rule.trail_pct).s, N(e->best).s);
    else
        snprintf(what, sizeof what, "price %s crossed %s", N(px).s, N(level).s);
    if (q <= 0) { /* everything left is already being closed */
        e->closing = 1;
        return;
    }
    send_exit(p, e, kind, q, 1, what);
    e->closing = 1;
}

static void fire_tp(sv_protect_t *p, entry_t *e, uint32_t i, sv_fixed_t px)
{
    e->done |= 1u << i;
    p->st.triggers++;
    sv_fixed_t a = avail(e), q = a, f = e->rule.tp_frac[i];
    sv_fixed_t lot = p->env.lot ? p->env.lot(p->env.ud, e->symbol) : 0;
    int all = 1;
    if (f > 0) {
        if (sv_fixed_mul(e->basis, f, &q) != 0)
            q = a;
        q = sv_fixed_floor_step(q, lot);
        all = q >= a || (lot > 0 && a - q < lot); /* no dust below one lot is left behind */
        if (all)
            q = a;
    }
    char what[256];
    snprintf(what, sizeof what, "price %s reached take-profit level %u at %s", N(px).s, i + 1, N(e->tp[i]).s);
    if (q <= 0) {
        logf_(p, SV_LOG_WARN, "take_profit: strategy %s %s: %s; nothing to close (%s of %s is below one lot, or "
              "all is being closed)", strat_name(p, e->strategy), sym_name(p, e->symbol), what, N(f).s, N(e->basis).s);
        return;
    }
    send_exit(p, e, SV_PROTECT_TAKE_PROFIT, q, all, what);
}

/* ---- triggers ---- */

/* the price is at x (a trade, a quote side, the start of a bar's path) */
static void at_point(sv_protect_t *p, entry_t *e, sv_fixed_t x)
{
    if (better(e->side, x, e->best))
        e->best = x;
    if (e->closing)
        return;
    int kind;
    sv_fixed_t L = stop_level(e, &kind);
    if (L > 0 && beyond(e->side, x, L)) {
        fire_stop(p, e, kind, L, x);
        return;
    }
    for (uint32_t k = 0; k < e->rule.n_tp && !e->closing; k++) {
        uint32_t i = e->order[k];
        if (!(e->done & (1u << i)) && e->tp[i] > 0 && reached(e->side, x, e->tp[i]))
            fire_tp(p, e, i, x);
    }
}

/* the price moves from a to b in a straight line */
static void along(sv_protect_t *p, entry_t *e, sv_fixed_t a, sv_fixed_t b)
{
    if (e->closing || a == b)
        return;
    if (better(e->side, b, a)) { /* in the position's favour: take-profit levels, nearest first */
        for (uint32_t k = 0; k < e->rule.n_tp && !e->closing; k++) {
            uint32_t i = e->order[k];
            if (!(e->done & (1u << i)) && e->tp[i] > 0 && reached(e->side, b, e->tp[i]))
                fire_tp(p, e, i, e->tp[i]);
        }
        if (better(e->side, b, e->best))
            e->best = b; /* the trailing stop ratchets; it cannot be met on the way up */
        return;
    }
    int kind;
    sv_fixed_t L = stop_level(e, &kind);
    if (L > 0 && beyond(e->side, b, L))
        fire_stop(p, e, kind, L, L);
}

static sv_fixed_t absdiff(sv_fixed_t a, sv_fixed_t b) { return a >= b ? a - b : b - a; }

/* a bar: the venue's path open -> nearer extreme -> other -> close (a tie goes to the low),
 * from where the position's entry happened when that was inside this bar */
static void on_bar(sv_protect_t *p, entry_t *e, const sv_bar_t *b, int64_t end)
{
    sv_fixed_t pt[4];
    int high_first = b->high - b->open < b->open - b->low;
    pt[0] = b->open;
    pt[1] = high_first ? b->high : b->low;
    pt[2] = high_first ? b->low : b->high;
    pt[3] = b->close;
    int64_t len = absdiff(pt[0], pt[1]) + absdiff(pt[1], pt[2]) + absdiff(pt[2], pt[3]);
    int64_t start = b->start > 0 && b->start < end ? b->start : end, from = 0;
    if (len > 0 && end > start && e->since_ts > start && e->since_ts <= end)
        from = (int64_t)((__int128)(e->since_ts - start) * len / (end - start));
    int64_t s = 0;
    int started = 0;
    for (int i = 0; i < 3; i++) {
        sv_fixed_t a = pt[i], c = pt[i + 1];
        int64_t seg = absdiff(a, c);
        if (!started) {
            if (s + seg < from) { /* before the entry */
                s += seg;
                continue;
            }
            a = c >= a ? a + (from - s) : a - (from - s);
            at_point(p, e, a);
            started = 1;
        }
        along(p, e, a, c);
        s += seg;
    }
    if (!started)
        at_point(p, e, pt[3]);
}

static void resend(sv_protect_t *p, entry_t *e)
{
    int kind = e->resend_kind, all = e->resend_all;
    sv_fixed_t a = avail(e), q = all ? a : (e->resend_qty < a ? e->resend_qty : a);
    e->resend_kind = 0;
    e->resend_all = 0;
    e->resend_qty = 0;
    if (q <= 0)
        return;
    p->st.resent++;
    send_exit(p, e, kind, q, all || q == a, "sending again the exit that did not fill");
}

static void on_market(sv_protect_t *p, const sv_event_t *ev)
{
    uint32_t sym = ev->h.symbol;
    if (sym >= p->max_symbols || p->head[sym] == NIL)
        return;
    /* halted: the risk engine is closing every position itself and refuses all orders */
    if (p->env.halted && p->env.halted(p->env.ud))
        return;
    for (uint32_t i = p->head[sym]; i != NIL; i = p->ents[i].next) {
        entry_t *e = &p->ents[i];
        if (e->resend_kind)
            resend(p, e);
        switch (ev->h.kind) {
        case SV_EV_TRADE:
            if (ev->u.trade.price > 0)
                at_point(p, e, ev->u.trade.price);
            break;
        case SV_EV_QUOTE: {
            sv_fixed_t x = e->side > 0 ? ev->u.quote.bid_price : ev->u.quote.ask_price;
            if (x > 0)
                at_point(p, e, x);
            break;
        }
        case SV_EV_BAR:
            if (ev->u.bar.open > 0 && ev->u.bar.low > 0 && ev->u.bar.high >= ev->u.bar.low)
                on_bar(p, e, &ev->u.bar, ev->h.ts_exchange);
            break;
        default:
            break;
        }
        e->since_ts = 0; /* the entry bar has been seen */
    }
}

/* ---- orders and fills ---- */

static pend_t *pend_by_client(sv_protect_t *p, uint64_t client_id)
{
    for (uint32_t i = 0; i < p->n_pend; i++)
        if (p->pend[i].client_id == client_id)
            return &p->pend[i];
    return NULL;
}

static void pend_drop(sv_protect_t *p, uint32_t i) { p->pend[i] = p->pend[--p->n_pend]; }

static exit_t *exit_of(entry_t *e, uint64_t id)
{
    for (uint32_t k = 0; k < e->n_exits; k++)
        if (e->exits[k].id == id)
            return &e->exits[k];
    return NULL;
}

static void exit_drop(sv_protect_t *p, entry_t *e, exit_t *x)
{
    p->exits_of[e->strategy]--;
    *x = e->exits[--e->n_exits];
    e->closing = 0;
    for (uint32_t k = 0; k < e->n_exits; k++)
        if (e->exits[k].all)
            e->closing = 1;
}

static void on_order(sv_protect_t *p, const sv_event_t *ev)
{
    const sv_order_t *o = &ev->u.order;
    int term = terminal(o->status);
    /* bind signal ids to client ids; a signal older than this one that got no order of its own
     * (an amend) never will */
    for (uint32_t i = 0; i < p->n_pend; i++) {
        pend_t *q = &p->pend[i];
        if (q->client_id == 0 && o->signal_id) {
            if (q->signal_id == o->signal_id)
                q->client_id = o->client_id;
            else if (q->signal_id < o->signal_id) {
                pend_drop(p, i--);
                continue;
            }
        }
        if (term && q->client_id == o->client_id)
            pend_drop(p, i--); /* its fills came first (the OMS publishes FILL, then ORDER) */
    }
    if (!term || !o->strategy)
        return;
    entry_t *e = find(p, o->strategy, ev->h.symbol);
    exit_t *x = e ? exit_of(e, o->client_id) : NULL;
    if (!x)
        return;
    if (o->status == SV_OS_FILLED) {
        e->rejects = 0;
        exit_drop(p, e, x);
        return;
    }
    /* ended unfilled (or part-filled): what is left is sent again on the next price */
    sv_fixed_t left = x->left;
    int kind = x->kind, all = x->all;
    e->in_flight -= left;
    if (e->in_flight < 0)
        e->in_flight = 0;
    exit_drop(p, e, x);
    if (o->status == SV_OS_REJECTED && ++e->rejects >= MAX_REJECTS) {
        logf_(p, SV_LOG_ERROR, "%s: strategy %s %s: the exit was rejected %d times in a row (last: order %llu); "
              "the position is NOT protected any more", sv_protect_kind_name(kind), strat_name(p, e->strategy),
              sym_name(p, e->symbol), MAX_REJECTS, (unsigned long long)o->client_id);
        alert(p, e, kind, (int64_t)o->client_id);
        remove_entry(p, e, "gave up");
        return;
    }
    logf_(p, SV_LOG_WARN, "%s: strategy %s %s: exit order %llu %s with %s unfilled; sending it again on the next "
          "price", sv_protect_kind_name(kind), strat_name(p, e->strategy), sym_name(p, e->symbol),
          (unsigned long long)o->client_id, o->status == SV_OS_CANCELED ? "canceled" : o->status == SV_OS_EXPIRED ? "expired" : "rejected",
          N(left).s);
    if (!e->resend_kind || kind != SV_PROTECT_TAKE_PROFIT)
        e->resend_kind = (uint8_t)kind;
    e->resend_all |= (uint8_t)all;
    e->resend_qty += left;
}

static entry_t *open_entry(sv_protect_t *p, uint32_t sid, uint32_t sym, const rule_t *r, int side,
                           sv_fixed_t qty, sv_fixed_t avg, sv_fixed_t px, int64_t ts)
{
    entry_t *e = alloc_entry(p, sid, sym);
    if (!e) {
        logf_(p, SV_LOG_ERROR, "strategy %s %s: cannot protect the position: %u positions protected already",
              strat_name(p, sid), sym_name(p, sym), p->max_positions);
        return NULL;
    }
    e->rule = *r;
    e->side = (int8_t)side;
    e->entry = avg;
    e->qty = e->basis = qty;
    e->best = px > 0 && better(side, px, avg) ? px : avg;
    e->since_ts = ts;
    levels(e);
    p->st.attached++;
    attached(p, e);
    return e;
}

static void on_fill(sv_protect_t *p, const sv_event_t *ev)
{
    const sv_fill_t *f = &ev->u.fill;
    uint32_t sid = f->strategy, sym = ev->h.symbol;
    if (!sid || sid > p->max_strategies || sym >= p->max_symbols)
        return;
    entry_t *e = find(p, sid, sym);
    exit_t *x = e ? exit_of(e, f->client_id) : NULL;
    int is_exit = x != NULL;
    if (x) {
        x->left -= f->qty;
        e->in_flight -= f->qty;
        if (x->left < 0)
            x->left = 0;
        if (e->in_flight < 0)
            e->in_flight = 0;
    }
    pend_t *pd = is_exit ? NULL : pend_by_client(p, f->client_id);
    sv_fixed_t q = 0, avg = 0;
    p->env.position(p->env.ud, sid, sym, &q, &avg);
    if (q == 0) {
        if (e)
            remove_entry(p, e, is_exit ? "closed by its protective exits" : "the position is flat");
        return;
    }
    int side = q > 0 ? 1 : -1;
    sv_fixed_t aq = q > 0 ? q : -q;
    if (e && e->side != side) {
        remove_entry(p, e, "the position reversed");
        e = NULL;
    }
    const rule_t *def = p->has_defaults[sid] ? &p->defaults[sid] : NULL;
    const rule_t *own = pd && f->side == side ? &pd->rule : NULL; /* the order opened or added */
    if (!e) {
        if (is_exit)
            logf_(p, SV_LOG_ERROR, "strategy %s %s: a protective exit overshot: the position is now %s %s",
                  strat_name(p, sid), sym_name(p, sym), side > 0 ? "long" : "short", N(aq).s);
        rule_t r = merge(def, own);
        if (!rule_empty(&r))
            open_entry(p, sid, sym, &r, side, aq, avg, f->price, ev->h.ts_exchange);
        return;
    }
    if (!is_exit) {
        if (aq > e->qty) { /* added to: a new order's spec takes over, percentages follow the entry */
            if (own) {
                e->rule = merge(&e->rule, own);
                e->done = 0;
            }
            e->entry = avg;
            levels(e);
            attached(p, e);
        }
        e->basis = aq; /* take-profit fractions apply to the position as the strategy shaped it */
    }
    e->qty = aq;
    if (e->in_flight > e->qty) { /* exits in flight would overshoot: cancel, the rest goes again */
        logf_(p, SV_LOG_WARN, "strategy %s %s: exits in flight (%s) exceed the position (%s): canceling them",
              strat_name(p, sid), sym_name(p, sym), N(e->in_flight).s, N(e->qty).s);
        cancel_exits(p, e);
    }
}

void sv_protect_on_event(sv_protect_t *p, const sv_event_t *ev)
{
    switch (ev->h.kind) {
    case SV_EV_TRADE:
    case SV_EV_QUOTE:
    case SV_EV_BAR:
        on_market(p, ev);
        break;
    case SV_EV_ORDER:
        on_order(p, ev);
        break;
    case SV_EV_FILL:
        on_fill(p, ev);
        break;
    default:
        break;
    }
}

/* ---- the API ---- */

int sv_protect_set_defaults(sv_protect_t *p, uint32_t sid, const sv_protect_spec_t *spec, char *why, size_t len)
{
    if (!sid || sid > p->max_strategies) {
        snprintf(why, len, "unknown strategy id %u", sid);
        return SV_E_RANGE;
    }
    if (!spec) {
        p->has_defaults[sid] = 0;
        return SV_OK;
    }
    rule_t r;
    int rc = compile(spec, &r, why, len);
    if (rc)
        return rc;
    p->defaults[sid] = r;
    p->has_defaults[sid] = 1;
    return SV_OK;
}

int sv_protect_order(sv_protect_t *p, uint32_t sid, uint32_t sym, uint64_t signal_id, const sv_protect_spec_t *spec,
                     char *why, size_t len)
{
    if (!sid || sid > p->max_strategies || !sym || sym >= p->max_symbols) {
        snprintf(why, len, "unknown strategy %u or symbol %u", sid, sym);
        return SV_E_RANGE;
    }
    rule_t r;
    int rc = compile(spec, &r, why, len);
    if (rc)
        return rc;
    if (signal_id == 0) { /* the open position, now */
        sv_fixed_t q = 0, avg = 0;
        p->env.position(p->env.ud, sid, sym, &q, &avg);
        if (q == 0) {
            snprintf(why, len, "no open position on %s", sym_name(p, sym));
            return SV_E_STATE;
        }
        int side = q > 0 ? 1 : -1;
        entry_t *e = find(p, sid, sym);
        if (e && e->side == side) {
            e->rule = merge(&e->rule, &r);
            if (r.n_tp)
                e->done = 0;
            levels(e);
            attached(p, e);
            return SV_OK;
        }
        if (e)
            remove_entry(p, e, "the position reversed");
        rule_t m = merge(p->has_defaults[sid] ? &p->defaults[sid] : NULL, &r);
        if (!open_entry(p, sid, sym, &m, side, q > 0 ? q : -q, avg, 0, 0)) {
            snprintf(why, len, "%u positions protected already", p->max_positions);
            return SV_E_FULL;
        }
        return SV_OK;
    }
    for (uint32_t i = 0; i < p->n_pend; i++)
        if (p->pend[i].signal_id == signal_id) {
            p->pend[i].rule = r;
            return SV_OK;
        }
    if (p->n_pend == p->max_pending) {
        snprintf(why, len, "%u orders are waiting for protections already", p->max_pending);
        return SV_E_FULL;
    }
    pend_t *q = &p->pend[p->n_pend++];
    memset(q, 0, sizeof *q);
    q->signal_id = signal_id;
    q->strategy = sid;
    q->symbol = sym;
    q->rule = r;
    return SV_OK;
}

int sv_protect_remove(sv_protect_t *p, uint32_t sid, uint32_t sym)
{
    entry_t *e = find(p, sid, sym);
    if (!e)
        return SV_E_NOTFOUND;
    remove_entry(p, e, "removed on request");
    return SV_OK;
}

int sv_protect_state(const sv_protect_t *p, uint32_t sid, uint32_t sym, sv_protect_state_t *out)
{
    memset(out, 0, sizeof *out);
    const entry_t *e = find(p, sid, sym);
    if (!e)
        return SV_E_NOTFOUND;
    out->side = e->side;
    out->qty = e->qty;
    out->basis = e->basis;
    out->entry = e->entry;
    out->stop_loss = e->stop;
    out->trailing_stop = trail_level(e);
    out->best = e->best;
    out->n_take_profit = e->rule.n_tp;
    for (uint32_t i = 0; i < e->rule.n_tp; i++) {
        out->take_profit[i] = e->tp[i];
        sv_fixed_t q = 0;
        if (e->rule.tp_frac[i] > 0 && sv_fixed_mul(e->basis, e->rule.tp_frac[i], &q) == 0)
            out->take_profit_qty[i] = q;
    }
    out->done = e->done;
    out->in_flight = e->in_flight;
    out->closing = e->closing;
    return SV_OK;
}

uint32_t sv_protect_count(const sv_protect_t *p) { return p->n_used; }

int sv_protect_is_exit(const sv_protect_t *p, uint32_t sid, uint32_t sym, uint64_t client_id)
{
    entry_t *e = find(p, sid, sym);
    return e && exit_of(e, client_id) != NULL;
}

uint32_t sv_protect_exits(const sv_protect_t *p, uint32_t sid)
{
    return sid <= p->max_strategies ? p->exits_of[sid] : 0;
}

void sv_protect_stats(const sv_protect_t *p, sv_protect_stats_t *out) { *out = p->st; }
