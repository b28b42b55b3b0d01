/* risk: pre-trade checks, post-trade monitors and the kill switch. See risk.h for the rules
 * and their order. All state is preallocated per symbol; a check reads a few cache lines. */
#define _POSIX_C_SOURCE 200809L
#include "risk.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixed.h"
#include "log.h"
#include "tz.h"

typedef __int128 i128;

enum {
    R_PASS = 0,
    R_KILL_SWITCH,
    R_HALT,
    R_ALLOWLIST,
    R_TRADING_HOURS,
    R_PRICE_SANITY,
    R_MIN_PRICE,
    R_MAX_PRICE,
    R_PRICE_BAND,
    R_MAX_ORDER_QTY,
    R_MAX_ORDER_NOTIONAL,
    R_MAX_POSITION_QTY,
    R_MAX_POSITION_NOTIONAL,
    R_GROSS_EXPOSURE,
    R_MAX_OPEN_ORDERS,
    R_RATE_LIMIT,
    R_DUPLICATE,
    R_SELF_TRADE,
    R_TRADES_PER_HOUR,
    R_TRADES_PER_DAY,
    R_BLOCK,
    R_REDUCE,
    R_CUSTOM,
    R_COUNT
};

static const char *const rule_names[R_COUNT] = {
    "pass", "kill_switch", "halt", "allowlist", "trading_hours", "price_sanity", "min_price",
    "max_price", "price_band", "max_order_qty", "max_order_notional", "max_position_qty",
    "max_position_notional", "max_gross_exposure", "max_open_orders", "rate_limit", "duplicate",
    "self_trade", "trades_per_hour", "trades_per_day", "block", "reduce", "custom"};

/* monitors, for alert sources */
enum { M_DAILY = 1, M_WEEKLY, M_MONTHLY, M_DRAWDOWN, M_BREAKER, M_CONSECUTIVE, M_TRADES_HOUR, M_TRADES_DAY, M_COUNT };
static const char *const monitor_names[] = {"", "daily_loss", "weekly_loss", "monthly_loss", "drawdown",
                                            "circuit_breaker", "consecutive_losses", "trades_per_hour",
                                            "trades_per_day"};

static const char *const action_names[] = {"none", "alert", "reduce", "block", "flatten_halt"};

enum { MAX_OPEN = 256, DUP = 8, MAX_RULES = 16, BREAKER_SLOTS = 1440 };
#define TOKEN_S ((i128)1000000000)   /* bucket units of one order, per second bucket */
#define TOKEN_M ((i128)60000000000)  /* per minute bucket */

typedef struct open_ord {
    uint64_t id;
    int8_t side;
    sv_fixed_t price; /* 0: market or stop (never rests at a price) */
    sv_fixed_t remaining;
} open_ord_t;

typedef struct recent {
    uint32_t strategy;
    int8_t side;
    int8_t used;
    sv_fixed_t qty, price;
    int64_t ts;
} recent_t;

typedef struct sym {
    int active;
    int has_limits;
    int allowed;
    sv_risk_limits_t limits;
    sv_fixed_t last;
    open_ord_t *open; /* MAX_OPEN, allocated on first use */
    uint32_t n_open;
    recent_t dup[DUP];
    uint32_t dup_next;
    /* round trips of the account position */
    int in_trade;
    sv_fixed_t trade_start_pnl;
} sym_t;

typedef struct rule {
    char name[64];
    sv_risk_rule_fn fn;
    void *ud;
} rule_t;

struct sv_risk {
    sv_risk_config_t cfg;
    sv_risk_env_t env;
    uint32_t max_symbols;
    sym_t *sym;
    uint32_t *active; /* ids of active symbols, for exposure sums */
    uint32_t n_active;
    rule_t rules[MAX_RULES];
    uint32_t n_rules;
    sv_tz_t *tz;

    /* token buckets, exact: a token is 1e9 (per second) or 60e9 (per minute) units and each
     * nanosecond adds `rate` units, so a bucket refills at exactly rate tokens per period */
    i128 tok_s, tok_m;
    int64_t tok_ts;
    /* orders sent, for trades per hour/day: a ring of send times */
    int64_t *sent;
    uint32_t sent_cap, sent_head, sent_n;

    /* state set by monitors and the kill switch */
    int kill, halted;
    int blocked;          /* bit per monitor id: a block in force */
    double factor;        /* reduce: the smallest factor of the reduce actions in force */
    int reduce_by;        /* bit per monitor id */
    double mfactor[M_COUNT]; /* the factor each monitor's reduce put in force */
    /* monitors */
    int64_t next_monitor;
    int64_t day_start, week_start, month_start;
    sv_fixed_t day_equity, week_equity, month_equity;
    int fired;            /* bit per monitor id: acted in the current period */
    sv_fixed_t peak;
    int dd_tier;          /* tiers acted on: 0..n */
    struct {
        int64_t ts;
        sv_fixed_t equity;
    } breaker[BREAKER_SLOTS];
    uint32_t breaker_head, breaker_n;
    int64_t breaker_until;
    uint32_t consecutive;
    int64_t consecutive_day; /* local day a consecutive_losses action was taken */
    sv_risk_stats_t st;
};

const char *sv_risk_rule_name(int rule) { return rule >= 0 && rule < R_COUNT ? rule_names[rule] : "?"; }

const char *sv_risk_action_name(int a) { return a >= 0 && a <= SV_RISK_ACTION_FLATTEN_HALT ? action_names[a] : "?"; }

int sv_risk_action_parse(const char *s)
{
    for (int i = 0; i <= SV_RISK_ACTION_FLATTEN_HALT; i++)
        if (!strcmp(s, action_names[i]))
            return i;
    return -1;
}

static void logf_(sv_risk_t *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(sv_risk_t *r, int level, const char *fmt, ...)
{
    if (!r->env.log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->env.log(r->env.ud, level, msg);
}

static int64_t now(sv_risk_t *r) { return r->env.now ? r->env.now(r->env.ud) : 0; }

/* t (ns, UTC) as 2024-01-02T12:13:00Z: the log says when, in data time (a backtest's log
 * lines carry the wall clock) */
static const char *iso(int64_t t, char *buf, size_t len)
{
    int64_t sec = t / 1000000000 - (t < 0 && t % 1000000000 ? 1 : 0);
    int64_t days = sec / 86400 - (sec % 86400 < 0 ? 1 : 0), sod = sec - days * 86400;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    snprintf(buf, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y, (long long)m, (long long)d,
             (long long)(sod / 3600), (long long)(sod / 60 % 60), (long long)(sod % 60));
    return buf;
}

static void alert(sv_risk_t *r, uint32_t source, int action, const char *msg)
{
    char when[40];
    logf_(r, action >= SV_RISK_ACTION_BLOCK ? SV_LOG_ERROR : SV_LOG_WARN, "%s (at %s)", msg, iso(now(r), when, sizeof when));
    if (!r->env.publish)
        return;
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_ALERT;
    ev.h.ts_exchange = ev.h.ts_receive = now(r);
    ev.u.alert.code = SV_ALERT_RISK;
    ev.u.alert.source = source;
    ev.u.alert.text = r->env.text ? r->env.text(r->env.ud, msg) : 0;
    ev.u.alert.value = action;
    r->env.publish(r->env.ud, &ev);
}

sv_risk_t *sv_risk_new(const sv_risk_config_t *cfg, const sv_risk_env_t *env, uint32_t max_symbols)
{
    sv_risk_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = *cfg;
    r->env = *env;
    r->max_symbols = max_symbols;
    r->sym = calloc(max_symbols ? max_symbols : 1, sizeof *r->sym);
    r->active = calloc(max_symbols ? max_symbols : 1, sizeof *r->active);
    uint64_t cap = (uint64_t)(cfg->trades_per_day.limit > cfg->trades_per_hour.limit ? cfg->trades_per_day.limit
                                                                                    : cfg->trades_per_hour.limit);
    r->sent_cap = cap > 0 && cap < 10000000 ? (uint32_t)cap + 1 : 1;
    r->sent = calloc(r->sent_cap, sizeof *r->sent);
    if (!r->sym || !r->active || !r->sent) {
        sv_risk_free(r);
        return NULL;
    }
    r->factor = 1.0;
    r->tok_s = (i128)cfg->rate_per_second * TOKEN_S; /* buckets start full */
    r->tok_m = (i128)cfg->rate_per_minute * TOKEN_M;
    r->tok_ts = INT64_MIN;
    r->day_start = r->week_start = r->month_start = INT64_MIN; /* no period yet */
    r->breaker_until = r->next_monitor = INT64_MIN;
    if (cfg->timezone[0] && strcmp(cfg->timezone, "UTC") != 0) {
        sv_diag_t d;
        if (sv_tz_load(cfg->timezone, &r->tz, &d) != 0) {
            sv_risk_free(r);
            return NULL;
        }
    }
    sv_risk_kill_switch_sync(r);
    return r;
}

void sv_risk_free(sv_risk_t *r)
{
    if (!r)
        return;
    if (r->sym)
        for (uint32_t i = 0; i < r->max_symbols; i++)
            free(r->sym[i].open);
    free(r->sym);
    free(r->active);
    free(r->sent);
    sv_tz_free(r->tz);
    free(r);
}

static sym_t *sym(sv_risk_t *r, uint32_t s)
{
    if (s == 0 || s >= r->max_symbols)
        return NULL;
    sym_t *y = &r->sym[s];
    if (!y->active) {
        y->active = 1;
        r->active[r->n_active++] = s;
    }
    return y;
}

int sv_risk_set_limits(sv_risk_t *r, uint32_t s, const sv_risk_limits_t *l)
{
    sym_t *y = sym(r, s);
    if (!y)
        return SV_E_RANGE;
    y->limits = *l;
    y->has_limits = 1;
    return SV_OK;
}

int sv_risk_allow(sv_risk_t *r, uint32_t s)
{
    sym_t *y = sym(r, s);
    if (!y)
        return SV_E_RANGE;
    y->allowed = 1;
    return SV_OK;
}

int sv_risk_add_rule(sv_risk_t *r, const char *name, sv_risk_rule_fn fn, void *ud)
{
    if (!fn)
        return SV_E_INVAL;
    if (r->n_rules >= MAX_RULES)
        return SV_E_FULL;
    rule_t *u = &r->rules[r->n_rules++];
    snprintf(u->name, sizeof u->name, "%s", name ? name : "rule");
    u->fn = fn;
    u->ud = ud;
    return SV_OK;
}

const sv_risk_limits_t *sv_risk_limits(const sv_risk_t *r, uint32_t s)
{
    if (s > 0 && s < r->max_symbols && r->sym[s].has_limits)
        return &r->sym[s].limits;
    return &r->cfg.defaults;
}

/* ---- the kill switch ------------------------------------------------------------------- */

static void cancel_everything(sv_risk_t *r)
{
    if (!r->env.cancel_all)
        return;
    int n = r->env.cancel_all(r->env.ud);
    logf_(r, SV_LOG_ERROR, "kill switch: %d open order%s canceled", n, n == 1 ? "" : "s");
}

/* Resetting the kill switch after a halt: the monitors start over from the current equity, as
 * after a restart (else the drawdown block of the tier below the halt would last forever: with
 * no new position allowed, no new equity high can lift it). */
static void unhalt(sv_risk_t *r)
{
    if (!r->halted)
        return;
    r->halted = 0;
    r->day_start = r->week_start = r->month_start = INT64_MIN;
    r->next_monitor = r->breaker_until = INT64_MIN;
    r->fired = r->blocked = r->reduce_by = 0;
    r->factor = 1.0;
    r->peak = 0;
    r->dd_tier = 0;
    r->breaker_n = 0;
    r->consecutive = 0;
}

int sv_risk_kill_switch(sv_risk_t *r, int on, const char *why)
{
    int was = r->kill;
    int rc = SV_OK;
    if (r->cfg.kill_switch_file[0]) {
        if (on) {
            char dir[1024];
            snprintf(dir, sizeof dir, "%s", r->cfg.kill_switch_file);
            for (char *p = dir + 1; *p; p++) /* its directory may not exist yet */
                if (*p == '/') {
                    *p = '\0';
                    mkdir(dir, 0755);
                    *p = '/';
                }
            FILE *f = fopen(r->cfg.kill_switch_file, "w");
            if (!f || fprintf(f, "engaged: %s\n", why ? why : "") < 0 || fclose(f) != 0)
                rc = SV_E_IO;
        } else if (remove(r->cfg.kill_switch_file) != 0 && errno != ENOENT) {
            rc = SV_E_IO;
        }
    }
    r->kill = on;
    if (!on)
        unhalt(r);
    if (on && !was) {
        char msg[300];
        snprintf(msg, sizeof msg, "kill switch engaged: %s; every open order is canceled", why ? why : "");
        alert(r, 0, SV_RISK_ACTION_BLOCK, msg);
        cancel_everything(r);
    } else if (!on && was) {
        alert(r, 0, SV_RISK_ACTION_ALERT, "kill switch reset: trading resumes");
    }
    return rc;
}

void sv_risk_kill_switch_sync(sv_risk_t *r)
{
    if (!r->cfg.kill_switch_file[0])
        return;
    struct stat sb;
    int on = stat(r->cfg.kill_switch_file, &sb) == 0;
    if (on != r->kill) {
        r->kill = on;
        if (!on)
            unhalt(r);
        alert(r, 0, on ? SV_RISK_ACTION_BLOCK : SV_RISK_ACTION_ALERT,
              on ? "kill switch engaged (state file present): every open order is canceled"
                 : "kill switch reset (state file removed): trading resumes");
        if (on)
            cancel_everything(r);
    }
}

int sv_risk_kill_switch_engaged(const sv_risk_t *r) { return r->kill; }
int sv_risk_halted(const sv_risk_t *r) { return r->halted; }
double sv_risk_size_factor(const sv_risk_t *r) { return r->factor; }

void sv_risk_stats(const sv_risk_t *r, sv_risk_stats_t *out) { *out = r->st; }

/* ---- pre-trade checks ------------------------------------------------------------------ */

static int fail(sv_risk_t *r, int rule, char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(sv_risk_t *r, int rule, char *reason, size_t len, const char *fmt, ...)
{
    int n = snprintf(reason, len, "%s: ", rule_names[rule]);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < len)
        vsnprintf(reason + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    r->st.rejected++;
    r->st.by_rule[rule]++;
    return SV_E_REJECTED;
}

static const char *fmtx(sv_fixed_t v, char *buf) /* buf: 32 bytes */
{
    sv_fixed_format(v, buf, 32);
    return buf;
}

static int in_hours(sv_risk_t *r, int64_t ts, char *why, size_t len)
{
    const sv_risk_hours_t *h = &r->cfg.hours;
    sv_tz_local_t lt;
    if (r->tz) {
        sv_tz_to_local(r->tz, ts, &lt);
    } else {
        memset(&lt, 0, sizeof lt);
        int64_t sec = ts / 1000000000 - (ts < 0 && ts % 1000000000 ? 1 : 0);
        int64_t days = sec / 86400 - (sec % 86400 < 0 ? 1 : 0);
        int64_t sod = sec - days * 86400;
        lt.hour = (int)(sod / 3600);
        lt.minute = (int)(sod / 60 % 60);
        lt.weekday = (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday (3) */
    }
    int m = lt.hour * 60 + lt.minute;
    static const char *const day[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
    if (h->days && !(h->days & (1u << lt.weekday))) {
        snprintf(why, len, "%s is not a trading day", day[lt.weekday]);
        return 0;
    }
    if (m < h->start_min || m >= h->end_min) {
        snprintf(why, len, "%02d:%02d local is outside %02d:%02d-%02d:%02d", lt.hour, lt.minute, h->start_min / 60,
                 h->start_min % 60, h->end_min / 60, h->end_min % 60);
        return 0;
    }
    if (m < h->start_min + h->no_trade_after_open_min) {
        snprintf(why, len, "%02d:%02d local is in the first %d minutes of the session", lt.hour, lt.minute,
                 h->no_trade_after_open_min);
        return 0;
    }
    if (m >= h->end_min - h->no_trade_before_close_min) {
        snprintf(why, len, "%02d:%02d local is in the last %d minutes of the session", lt.hour, lt.minute,
                 h->no_trade_before_close_min);
        return 0;
    }
    return 1;
}

static void refill(sv_risk_t *r, int64_t t)
{
    if (r->tok_ts == INT64_MIN) {
        r->tok_ts = t;
        return;
    }
    if (t <= r->tok_ts)
        return;
    i128 dt = (i128)t - r->tok_ts; /* a gap longer than a minute refills both buckets anyway */
    if (dt > TOKEN_M)
        dt = TOKEN_M;
    r->tok_ts = t;
    if (r->cfg.rate_per_second) {
        i128 cap = (i128)r->cfg.rate_per_second * TOKEN_S;
        r->tok_s += dt * r->cfg.rate_per_second;
        if (r->tok_s > cap)
            r->tok_s = cap;
    }
    if (r->cfg.rate_per_minute) {
        i128 cap = (i128)r->cfg.rate_per_minute * TOKEN_M;
        r->tok_m += dt * r->cfg.rate_per_minute;
        if (r->tok_m > cap)
            r->tok_m = cap;
    }
}

static uint32_t sent_since(const sv_risk_t *r, int64_t since)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->sent_n; i++) {
        uint32_t k = (r->sent_head + r->sent_cap - 1 - i) % r->sent_cap;
        if (r->sent[k] < since)
            break;
        n++;
    }
    return n;
}

/* Does this order only reduce the account position? */
static int reduces(sv_fixed_t pos, int side, sv_fixed_t qty)
{
    return (pos > 0 && side < 0 && qty <= pos) || (pos < 0 && side > 0 && qty <= -pos);
}

int sv_risk_check(sv_risk_t *r, sv_event_t *ev, char *reason, size_t len)
{
    sv_signal_t *s = &ev->u.signal;
    uint32_t id = ev->h.symbol;
    int64_t t = now(r);
    char a[32], b[32], c[32];
    r->st.checked++;
    /* a halt engages the kill switch too: name the halt, it says more */
    if (r->halted)
        return fail(r, R_HALT, reason, len, "trading halted by a flatten_halt action; reset the kill switch to resume");
    if (r->kill)
        return fail(r, R_KILL_SWITCH, reason, len, "engaged: no new orders until it is reset");
    sym_t *y = sym(r, id);
    if (!y)
        return fail(r, R_ALLOWLIST, reason, len, "unknown symbol id %u", id);
    if (r->cfg.allowlist_enabled && !y->allowed)
        return fail(r, R_ALLOWLIST, reason, len, "%s is not in allowed_symbols",
                    r->env.symbol_name ? r->env.symbol_name(r->env.ud, id) : "symbol");
    if (r->cfg.hours.enabled) {
        char why[128];
        if (!in_hours(r, t, why, sizeof why))
            return fail(r, R_TRADING_HOURS, reason, len, "%s", why);
    }
    if (s->qty <= 0 || (s->side != 1 && s->side != -1) || s->price < 0 || s->stop_price < 0)
        return fail(r, R_PRICE_SANITY, reason, len, "quantity must be > 0 and prices >= 0 (got qty %s, price %s)",
                    fmtx(s->qty, a), fmtx(s->price, b));
    if ((s->type == SV_ORDER_LIMIT || s->type == SV_ORDER_STOP_LIMIT) && s->price <= 0)
        return fail(r, R_PRICE_SANITY, reason, len, "a limit order needs a price > 0");
    if ((s->type == SV_ORDER_STOP_MARKET || s->type == SV_ORDER_STOP_LIMIT) && s->stop_price <= 0)
        return fail(r, R_PRICE_SANITY, reason, len, "a stop order needs a stop price > 0");

    const sv_risk_limits_t *l = y->has_limits ? &y->limits : &r->cfg.defaults;
    sv_fixed_t ref = s->price > 0 ? s->price : s->stop_price > 0 ? s->stop_price : y->last;
    if (l->min_price && ref && ref < l->min_price)
        return fail(r, R_MIN_PRICE, reason, len, "price %s is below %s", fmtx(ref, a), fmtx(l->min_price, b));
    if (l->max_price && ref > l->max_price)
        return fail(r, R_MAX_PRICE, reason, len, "price %s is above %s", fmtx(ref, a), fmtx(l->max_price, b));
    if (l->price_band_bps && s->price > 0 && y->last > 0) {
        i128 dev = (i128)(s->price > y->last ? s->price - y->last : y->last - s->price) * 10000;
        if (dev > (i128)l->price_band_bps * y->last)
            return fail(r, R_PRICE_BAND, reason, len, "price %s is more than %lld bps from the last price %s",
                        fmtx(s->price, a), (long long)l->price_band_bps, fmtx(y->last, b));
    }
    sv_fixed_t pos = 0, mark = 0, pnl = 0;
    if (r->env.position)
        r->env.position(r->env.ud, 0, id, &pos, &mark, &pnl);
    /* reduce: scale the size first, so that every limit sees the order that would be sent; an
     * order that only reduces the position is left whole (halving a close would keep risk on) */
    sv_fixed_t qty = s->qty;
    if (r->factor < 1.0 && !reduces(pos, s->side, qty)) {
        sv_fixed_t lot = r->env.lot ? r->env.lot(r->env.ud, id) : 0, q;
        if (sv_fixed_from_double(sv_fixed_to_double(qty) * r->factor, &q) != 0)
            q = 0;
        if (lot > 0)
            q = sv_fixed_floor_step(q, lot);
        if (q <= 0)
            return fail(r, R_REDUCE, reason, len, "quantity %s times %.2f is below one lot", fmtx(qty, a), r->factor);
        qty = q;
    }
    if (l->max_order_qty && qty > l->max_order_qty)
        return fail(r, R_MAX_ORDER_QTY, reason, len, "quantity %s is above %s", fmtx(qty, a), fmtx(l->max_order_qty, b));
    sv_fixed_t notional = 0;
    if (l->max_order_notional || l->max_position_notional || r->cfg.max_gross_exposure) {
        if (ref <= 0)
            return fail(r, l->max_order_notional ? R_MAX_ORDER_NOTIONAL : R_MAX_POSITION_NOTIONAL, reason, len,
                        "no reference price yet for a market order");
        if (sv_fixed_mul(ref, qty, &notional) != 0)
            notional = INT64_MAX;
    }
    if (l->max_order_notional && notional > l->max_order_notional)
        return fail(r, R_MAX_ORDER_NOTIONAL, reason, len, "notional %s is above %s", fmtx(notional, a),
                    fmtx(l->max_order_notional, b));
    int reducing = reduces(pos, s->side, qty);
    /* an amend (replace_id) takes the place of its order: that one is not counted again */
    uint64_t skip = s->replace_id;
    if ((l->max_position_qty || l->max_position_notional) && !reducing) {
        /* worst case: every open order on the same side fills too */
        sv_fixed_t same = 0;
        for (uint32_t i = 0; i < y->n_open; i++)
            if (y->open[i].side == s->side && y->open[i].id != skip)
                same += y->open[i].remaining;
        sv_fixed_t after = pos + (s->side > 0 ? qty + same : -qty - same);
        sv_fixed_t mag = after < 0 ? -after : after;
        if (l->max_position_qty && mag > l->max_position_qty)
            return fail(r, R_MAX_POSITION_QTY, reason, len, "position would reach %s, above %s", fmtx(after, a),
                        fmtx(l->max_position_qty, b));
        sv_fixed_t pn = INT64_MAX;
        if (l->max_position_notional && (sv_fixed_mul(mag, ref, &pn) != 0 || pn > l->max_position_notional))
            return fail(r, R_MAX_POSITION_NOTIONAL, reason, len, "position notional would reach %s, above %s",
                        fmtx(pn, a), fmtx(l->max_position_notional, b));
    }
    if (r->cfg.max_gross_exposure && !reducing) {
        i128 gross = notional;
        for (uint32_t k = 0; k < r->n_active; k++) {
            sym_t *z = &r->sym[r->active[k]];
            sv_fixed_t q = 0, m = 0, p = 0, v;
            if (r->env.position)
                r->env.position(r->env.ud, 0, r->active[k], &q, &m, &p);
            if (!m)
                m = z->last;
            if (q && sv_fixed_mul(q < 0 ? -q : q, m, &v) == 0)
                gross += v;
            for (uint32_t i = 0; i < z->n_open; i++) {
                if (z->open[i].id == skip)
                    continue;
                sv_fixed_t px = z->open[i].price ? z->open[i].price : m;
                if (sv_fixed_mul(z->open[i].remaining, px, &v) == 0)
                    gross += v;
            }
        }
        if (gross > r->cfg.max_gross_exposure)
            return fail(r, R_GROSS_EXPOSURE, reason, len, "gross exposure would reach %s, above %s",
                        fmtx(gross > INT64_MAX ? INT64_MAX : (sv_fixed_t)gross, a), fmtx(r->cfg.max_gross_exposure, b));
    }
    uint32_t n_open = y->n_open;
    for (uint32_t i = 0; skip && i < y->n_open; i++)
        if (y->open[i].id == skip)
            n_open--;
    if (l->max_open_orders && n_open >= l->max_open_orders)
        return fail(r, R_MAX_OPEN_ORDERS, reason, len, "%u orders already open (max %u)", n_open, l->max_open_orders);
    refill(r, t);
    int short_s = r->cfg.rate_per_second && r->tok_s < TOKEN_S;
    if (short_s || (r->cfg.rate_per_minute && r->tok_m < TOKEN_M))
        return fail(r, R_RATE_LIMIT, reason, len, "more than %u orders per %s",
                    short_s ? r->cfg.rate_per_second : r->cfg.rate_per_minute, short_s ? "second" : "minute");
    if (l->duplicate_window_ns) {
        for (int i = 0; i < DUP; i++) {
            const recent_t *d = &y->dup[i];
            if (d->used && d->strategy == s->strategy && d->side == s->side && d->qty == s->qty &&
                d->price == s->price && t - d->ts <= l->duplicate_window_ns)
                return fail(r, R_DUPLICATE, reason, len, "the same order (%s %s @ %s) was sent %lld ms ago",
                            s->side > 0 ? "buy" : "sell", fmtx(s->qty, a), fmtx(s->price, c),
                            (long long)((t - d->ts) / 1000000));
        }
    }
    if (r->cfg.self_trade_prevention) {
        for (uint32_t i = 0; i < y->n_open; i++) {
            const open_ord_t *o = &y->open[i];
            if (o->side == s->side || o->price <= 0)
                continue;
            int market = s->type == SV_ORDER_MARKET || s->type == SV_ORDER_STOP_MARKET;
            if (s->side > 0 ? (market || s->price >= o->price) : (market || s->price <= o->price))
                return fail(r, R_SELF_TRADE, reason, len, "would cross the engine's own resting %s order %llu at %s",
                            o->side > 0 ? "buy" : "sell", (unsigned long long)o->id, fmtx(o->price, a));
        }
    }
    /* trades per hour / day with action block: a sliding window, exact at check time */
    if (r->cfg.trades_per_hour.action == SV_RISK_ACTION_BLOCK && !reducing &&
        sent_since(r, t - 3600LL * 1000000000) >= (uint32_t)r->cfg.trades_per_hour.limit)
        return fail(r, R_TRADES_PER_HOUR, reason, len, "%u orders sent in the last hour (max %.0f)",
                    sent_since(r, t - 3600LL * 1000000000), r->cfg.trades_per_hour.limit);
    if (r->cfg.trades_per_day.action == SV_RISK_ACTION_BLOCK && !reducing &&
        sent_since(r, t - 86400LL * 1000000000) >= (uint32_t)r->cfg.trades_per_day.limit)
        return fail(r, R_TRADES_PER_DAY, reason, len, "%u orders sent in the last 24 hours (max %.0f)",
                    sent_since(r, t - 86400LL * 1000000000), r->cfg.trades_per_day.limit);
    if (r->blocked && !reducing)
        return fail(r, R_BLOCK, reason, len, "new positions are blocked by the %s monitor; only reducing orders pass",
                    monitor_names[__builtin_ctz((unsigned)r->blocked)]);
    for (uint32_t i = 0; i < r->n_rules; i++) {
        char why[256] = "";
        if (r->rules[i].fn(r->rules[i].ud, ev, why, sizeof why) != 0) {
            int n = snprintf(reason, len, "%s: %s", r->rules[i].name, why[0] ? why : "rejected");
            (void)n;
            r->st.rejected++;
            r->st.by_rule[R_CUSTOM]++;
            return SV_E_REJECTED;
        }
    }
    /* approved: consume a token, remember it for the duplicate guard, apply the reduction */
    if (r->cfg.rate_per_second)
        r->tok_s -= TOKEN_S;
    if (r->cfg.rate_per_minute)
        r->tok_m -= TOKEN_M;
    recent_t *d = &y->dup[y->dup_next++ % DUP];
    d->used = 1;
    d->strategy = s->strategy;
    d->side = s->side;
    d->qty = s->qty;
    d->price = s->price;
    d->ts = t;
    s->qty = qty;
    r->st.approved++;
    return SV_OK;
}

/* ---- what the risk engine watches ------------------------------------------------------ */

static void trades_monitors(sv_risk_t *r, int64_t t);

static void track_order(sv_risk_t *r, const sv_event_t *ev)
{
    const sv_order_t *o = &ev->u.order;
    sym_t *y = sym(r, ev->h.symbol);
    if (!y)
        return;
    uint32_t i = 0;
    while (i < y->n_open && y->open[i].id != o->client_id)
        i++;
    int live = o->status == SV_OS_PENDING || o->status == SV_OS_ACKNOWLEDGED || o->status == SV_OS_PARTIALLY_FILLED ||
               o->status == SV_OS_PENDING_CANCEL || o->status == SV_OS_PENDING_REPLACE;
    if (!live) {
        if (i < y->n_open)
            y->open[i] = y->open[--y->n_open];
        return;
    }
    int sent = 0;
    if (i == y->n_open) {
        if (!y->open && !(y->open = calloc(MAX_OPEN, sizeof *y->open)))
            return;
        if (y->n_open >= MAX_OPEN)
            return;
        y->n_open++;
        /* a new order sent: count it for trades per hour/day */
        r->sent[r->sent_head] = ev->h.ts_exchange;
        r->sent_head = (r->sent_head + 1) % r->sent_cap;
        if (r->sent_n < r->sent_cap)
            r->sent_n++;
        sent = 1;
    }
    open_ord_t *p = &y->open[i];
    p->id = o->client_id;
    p->side = o->side;
    p->price = (o->type == SV_ORDER_LIMIT) ? o->price : 0;
    p->remaining = o->qty - o->filled_qty;
    if (sent)
        trades_monitors(r, ev->h.ts_exchange);
}

/* the size factor: the smallest of the reduce actions in force */
static void refactor(sv_risk_t *r)
{
    r->factor = 1.0;
    for (int m = 1; m < M_COUNT; m++)
        if ((r->reduce_by & (1 << m)) && r->mfactor[m] < r->factor)
            r->factor = r->mfactor[m];
}

/* ends the block and the reduction a monitor put in force */
static void lift(sv_risk_t *r, int monitor)
{
    int bit = 1 << monitor;
    if (!((r->blocked | r->reduce_by) & bit))
        return;
    r->blocked &= ~bit;
    r->reduce_by &= ~bit;
    refactor(r);
    logf_(r, SV_LOG_INFO, "%s: lifted (size factor now %.2f%s)", monitor_names[monitor], r->factor,
          r->blocked ? ", other blocks remain" : "");
}

static void act(sv_risk_t *r, int monitor, const sv_risk_monitor_t *m, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s -> %s", monitor_names[monitor], what, action_names[m->action]);
    r->st.actions++;
    switch (m->action) {
    case SV_RISK_ACTION_REDUCE: {
        double f = m->factor > 0 && m->factor < 1 ? m->factor : 0.5;
        if (!(r->reduce_by & (1 << monitor)) || f < r->mfactor[monitor])
            r->mfactor[monitor] = f;
        r->reduce_by |= 1 << monitor;
        refactor(r);
        break;
    }
    case SV_RISK_ACTION_BLOCK: r->blocked |= 1 << monitor; break;
    case SV_RISK_ACTION_FLATTEN_HALT:
        r->halted = 1;
        alert(r, (uint32_t)monitor, m->action, msg);
        /* persist it: a restart must not resume trading by itself */
        sv_risk_kill_switch(r, 1, msg);
        r->halted = 1;
        if (r->env.flatten)
            r->env.flatten(r->env.ud);
        return;
    default: break;
    }
    alert(r, (uint32_t)monitor, m->action, msg);
}

/* Rounds limit * base to a fixed value, so that a limit compares exactly: a loss of exactly
 * the limit acts, one unit less does not. */
static sv_fixed_t threshold(double limit, sv_fixed_t base)
{
    sv_fixed_t v;
    if (sv_fixed_from_double(limit * (base ? sv_fixed_to_double(base) : 1.0), &v) != 0)
        v = INT64_MAX;
    return v;
}

static int64_t period_start(sv_risk_t *r, int64_t t, int which) /* 0 day, 1 week, 2 month */
{
    int64_t day = r->tz ? sv_tz_day_start(r->tz, t) : t - (((t % 86400000000000LL) + 86400000000000LL) % 86400000000000LL);
    if (which == 0)
        return day;
    sv_tz_local_t lt;
    if (r->tz) {
        sv_tz_to_local(r->tz, t, &lt);
    } else {
        int64_t days = day / 86400000000000LL;
        lt.weekday = (int)(((days % 7) + 7 + 3) % 7);
        /* civil day of month */
        int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        lt.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    }
    /* step back whole days to the Monday / the 1st (local midnights, DST-safe) */
    int back = which == 1 ? lt.weekday : lt.day - 1;
    int64_t s = day;
    for (int i = 0; i < back; i++)
        s = r->tz ? sv_tz_day_start(r->tz, s - 1) : s - 86400000000000LL;
    return s;
}

static void check_loss(sv_risk_t *r, int monitor, const sv_risk_monitor_t *m, int64_t *start, sv_fixed_t *start_eq,
                       int which, int64_t t, sv_fixed_t eq)
{
    if (m->action == SV_RISK_ACTION_NONE)
        return;
    int64_t ps = period_start(r, t, which);
    if (ps != *start) {
        /* a new period: its loss counts from here; a block or reduction it caused ends */
        *start = ps;
        *start_eq = eq;
        r->fired &= ~(1 << monitor);
        lift(r, monitor);
        return;
    }
    sv_fixed_t loss = *start_eq - eq;
    if (loss >= threshold(m->limit, 0) && !(r->fired & (1 << monitor))) {
        r->fired |= 1 << monitor;
        char what[200];
        snprintf(what, sizeof what, "loss %.2f since the period start reached the limit %.2f",
                 sv_fixed_to_double(loss), m->limit);
        act(r, monitor, m, what);
    }
}

/* trades (orders sent) per hour and per day: act when the count reaches the limit, lift when
 * the sliding window falls below it. A block is enforced by the pre-trade check itself. */
static void trades_monitor(sv_risk_t *r, int monitor, const sv_risk_monitor_t *m, int64_t window, int64_t t)
{
    if (m->action == SV_RISK_ACTION_NONE || r->halted)
        return;
    uint32_t n = sent_since(r, t - window);
    int bit = 1 << monitor;
    if (n >= (uint32_t)m->limit) {
        if (!(r->fired & bit)) {
            r->fired |= bit;
            char what[160];
            snprintf(what, sizeof what, "%u orders sent in the last %s reached the limit %.0f", n,
                     monitor == M_TRADES_HOUR ? "hour" : "24 hours", m->limit);
            act(r, monitor, m, what);
            r->blocked &= ~bit;
        }
    } else if (r->fired & bit) {
        r->fired &= ~bit;
        lift(r, monitor);
    }
}

static void trades_monitors(sv_risk_t *r, int64_t t)
{
    trades_monitor(r, M_TRADES_HOUR, &r->cfg.trades_per_hour, 3600LL * 1000000000, t);
    trades_monitor(r, M_TRADES_DAY, &r->cfg.trades_per_day, 86400LL * 1000000000, t);
}

static void monitors(sv_risk_t *r, int64_t t)
{
    trades_monitors(r, t);
    /* a consecutive_losses action lasts until the next local day */
    if (((r->blocked | r->reduce_by) & (1 << M_CONSECUTIVE)) && period_start(r, t, 0) != r->consecutive_day)
        lift(r, M_CONSECUTIVE);
    if (!r->env.equity)
        return;
    sv_fixed_t eq = r->env.equity(r->env.ud);
    check_loss(r, M_DAILY, &r->cfg.daily_loss, &r->day_start, &r->day_equity, 0, t, eq);
    check_loss(r, M_WEEKLY, &r->cfg.weekly_loss, &r->week_start, &r->week_equity, 1, t, eq);
    check_loss(r, M_MONTHLY, &r->cfg.monthly_loss, &r->month_start, &r->month_equity, 2, t, eq);
    /* drawdown ladder */
    if (eq > r->peak) {
        r->peak = eq;
        if (r->dd_tier) { /* a new high: the ladder starts over, its block and reduction end */
            r->dd_tier = 0;
            lift(r, M_DRAWDOWN);
        }
    }
    if (r->peak > 0 && r->cfg.n_drawdown) {
        sv_fixed_t down = r->peak - eq;
        while (r->dd_tier < (int)r->cfg.n_drawdown && down >= threshold(r->cfg.drawdown[r->dd_tier].limit, r->peak)) {
            char what[200];
            snprintf(what, sizeof what, "drawdown %.2f%% from the peak reached tier %d (%.2f%%)",
                     sv_fixed_to_double(down) / sv_fixed_to_double(r->peak) * 100, r->dd_tier + 1,
                     r->cfg.drawdown[r->dd_tier].limit * 100);
            const sv_risk_monitor_t *m = &r->cfg.drawdown[r->dd_tier++];
            act(r, M_DRAWDOWN, m, what);
            if (r->halted)
                break;
        }
    }
    /* circuit breaker: the highest equity within the window */
    const sv_risk_monitor_t *cb = &r->cfg.circuit_breaker;
    if (cb->action != SV_RISK_ACTION_NONE && cb->window_ns > 0) {
        int64_t slot = cb->window_ns / BREAKER_SLOTS > 1000000000 ? cb->window_ns / BREAKER_SLOTS : 1000000000;
        uint32_t last = (r->breaker_head + BREAKER_SLOTS - 1) % BREAKER_SLOTS;
        if (r->breaker_n == 0 || t - r->breaker[last].ts >= slot) {
            r->breaker[r->breaker_head].ts = t;
            r->breaker[r->breaker_head].equity = eq;
            r->breaker_head = (r->breaker_head + 1) % BREAKER_SLOTS;
            if (r->breaker_n < BREAKER_SLOTS)
                r->breaker_n++;
        }
        sv_fixed_t hi = eq;
        for (uint32_t i = 0; i < r->breaker_n; i++) {
            uint32_t k = (r->breaker_head + BREAKER_SLOTS - 1 - i) % BREAKER_SLOTS;
            if (t - r->breaker[k].ts > cb->window_ns)
                break;
            if (r->breaker[k].equity > hi)
                hi = r->breaker[k].equity;
        }
        if (t >= r->breaker_until)
            lift(r, M_BREAKER);
        if (hi > 0 && hi - eq >= threshold(cb->limit, hi) && t >= r->breaker_until) {
            char what[200];
            snprintf(what, sizeof what, "equity fell %.2f%% within %lld minutes",
                     sv_fixed_to_double(hi - eq) / sv_fixed_to_double(hi) * 100,
                     (long long)(cb->window_ns / 60000000000LL));
            r->breaker_until = t + cb->window_ns;
            act(r, M_BREAKER, cb, what);
        }
    }
}

static void round_trips(sv_risk_t *r, const sv_event_t *ev, int64_t t)
{
    sym_t *y = sym(r, ev->h.symbol);
    if (!y || !r->env.position)
        return;
    sv_fixed_t q, m, pnl;
    r->env.position(r->env.ud, 0, ev->h.symbol, &q, &m, &pnl);
    if (!y->in_trade && q != 0) {
        y->in_trade = 1;
        /* the opening fill's fee is part of the trade: count from before it */
        y->trade_start_pnl = pnl + ev->u.fill.fee;
    } else if (y->in_trade && q == 0) {
        y->in_trade = 0;
        sv_fixed_t result = pnl - y->trade_start_pnl;
        const sv_risk_monitor_t *cl = &r->cfg.consecutive_losses;
        if (result < 0) {
            r->consecutive++;
            if (cl->action != SV_RISK_ACTION_NONE && r->consecutive >= (uint32_t)cl->limit) {
                char what[160];
                snprintf(what, sizeof what, "%u losing round trips in a row", r->consecutive);
                r->consecutive = 0; /* the next streak counts from here */
                r->consecutive_day = period_start(r, t, 0);
                act(r, M_CONSECUTIVE, cl, what);
            }
        } else {
            r->consecutive = 0;
        }
    }
}

void sv_risk_on_event(sv_risk_t *r, const sv_event_t *ev)
{
    int64_t t = ev->h.ts_exchange;
    switch (ev->h.kind) {
    case SV_EV_TRADE: {
        sym_t *y = sym(r, ev->h.symbol);
        if (y)
            y->last = ev->u.trade.price;
        break;
    }
    case SV_EV_QUOTE: {
        sym_t *y = sym(r, ev->h.symbol);
        if (y && ev->u.quote.bid_price > 0 && ev->u.quote.ask_price > 0)
            y->last = (ev->u.quote.bid_price + ev->u.quote.ask_price) / 2;
        break;
    }
    case SV_EV_BAR: {
        sym_t *y = sym(r, ev->h.symbol);
        if (y)
            y->last = ev->u.bar.close;
        break;
    }
    case SV_EV_ORDER: track_order(r, ev); return;
    case SV_EV_FILL:
        round_trips(r, ev, t);
        monitors(r, t);
        r->next_monitor = t + r->cfg.monitor_interval_ns;
        return;
    default: return;
    }
    if (t >= r->next_monitor) {
        monitors(r, t);
        r->next_monitor = t + r->cfg.monitor_interval_ns;
    }
}
