/* session: config -> engine -> replay -> result, for backtests and paper trading. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus_redis.h"
#include "config.h"
#include "engine.h"
#include "fixed.h"
#include "oms.h"
#include "portfolio.h"
#include "redis_source.h"
#include "replay.h"

typedef struct run {
    const sv_session_options_t *o;
    sv_engine_t *eng;
    FILE *out;
    uint32_t quote;
    /* equity curve */
    sv_equity_point_t *eq;
    size_t n_eq, cap_eq;
    int64_t next_sample, interval_ns;
    /* exposure */
    int64_t last_ts, exposure_ns;
    int exposed;
    int progress_drawn;
} run_t;

static void fmt_time(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int sample(run_t *r, int64_t ts)
{
    if (r->n_eq == r->cap_eq) {
        size_t cap = r->cap_eq ? r->cap_eq * 2 : 4096;
        sv_equity_point_t *p = realloc(r->eq, cap * sizeof *p);
        if (!p)
            return SV_E_NOMEM;
        r->eq = p;
        r->cap_eq = cap;
    }
    r->eq[r->n_eq].ts = ts;
    r->eq[r->n_eq].equity = sv_fixed_to_double(sv_portfolio_equity(sv_engine_portfolio(r->eng), r->quote));
    r->n_eq++;
    return SV_OK;
}

/* after every market event: exposure time and the equity curve */
static void after_event(void *ud, const sv_event_t *ev)
{
    run_t *r = ud;
    int64_t ts = ev->h.ts_exchange;
    if (r->exposed && r->last_ts && ts > r->last_ts)
        r->exposure_ns += ts - r->last_ts;
    r->last_ts = ts;
    r->exposed = sv_portfolio_exposed(sv_engine_portfolio(r->eng));
    if (ts >= r->next_sample) {
        sample(r, ts);
        r->next_sample = ts - ts % r->interval_ns + r->interval_ns;
    }
}

static void on_fill(void *ud, const sv_event_t *ev)
{
    run_t *r = ud;
    const sv_fill_t *f = &ev->u.fill;
    char when[32], qty[32], px[32], fee[32], pos[32];
    fmt_time(ev->h.ts_exchange, when, sizeof when);
    sv_fixed_format(f->qty, qty, sizeof qty);
    sv_fixed_format(f->price, px, sizeof px);
    sv_fixed_format(f->fee, fee, sizeof fee);
    const sv_position_t *p = sv_portfolio_position(sv_engine_portfolio(r->eng), f->strategy, ev->h.symbol);
    sv_fixed_format(p->qty, pos, sizeof pos);
    if (r->progress_drawn) {
        fputs("\r\033[K", stderr);
        r->progress_drawn = 0;
    }
    fprintf(r->out, "%s  FILL  %-10s %-4s %s @ %s  fee %s %s  %s  position %s  (%s, order %llu)\n", when,
            sv_engine_symbol_name(r->eng, ev->h.symbol), f->side > 0 ? "BUY" : "SELL", qty, px, fee,
            sv_engine_symbol_name(r->eng, f->fee_asset), f->liquidity == SV_LIQ_MAKER ? "maker" : "taker",
            pos, sv_strategy_name(sv_engine_strategies(r->eng), f->strategy), (unsigned long long)f->client_id);
    fflush(r->out);
}

static void on_reject(void *ud, const sv_event_t *ev)
{
    run_t *r = ud;
    if (ev->u.order.status != SV_OS_REJECTED)
        return;
    sv_log_warn(sv_engine_log(r->eng), "order", "order %llu (%s %s) rejected: %s",
                (unsigned long long)ev->u.order.client_id, sv_engine_symbol_name(r->eng, ev->h.symbol),
                sv_strategy_name(sv_engine_strategies(r->eng), ev->u.order.strategy),
                sv_engine_text(r->eng, ev->u.order.reason));
}

static void progress(void *ud, double f, uint64_t events)
{
    run_t *r = ud;
    int w = 30, k = (int)(f * w + 0.5);
    char bar[64];
    for (int i = 0; i < w; i++)
        bar[i] = i < k ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%%  %llu events", bar, f * 100, (unsigned long long)events);
    r->progress_drawn = 1;
    if (f >= 1.0) {
        fputs("\r\033[K", stderr);
        r->progress_drawn = 0;
    }
}

static int mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void print_positions(run_t *r)
{
    sv_portfolio_t *pf = sv_engine_portfolio(r->eng);
    sv_instruments_t *ins = sv_engine_instruments(r->eng);
    sv_intern_t *syms = sv_engine_symbols(r->eng);
    fprintf(r->out, "\npositions:\n");
    int any = 0;
    for (uint32_t s = 1; s <= sv_intern_count(syms); s++) {
        if (!sv_instruments_get(ins, s))
            continue;
        const sv_position_t *p = sv_portfolio_position(pf, 0, s);
        if (p->qty == 0 && p->realized == 0 && p->fees == 0)
            continue;
        char q[32], avg[32], real[32], unr[32], fees[32];
        sv_fixed_t a = 0;
        if (p->qty)
            sv_fixed_div(p->cost, p->qty, &a);
        sv_fixed_format(p->qty, q, sizeof q);
        sv_fixed_format(a, avg, sizeof avg);
        sv_fixed_format(p->realized, real, sizeof real);
        sv_fixed_format(sv_portfolio_unrealized(p), unr, sizeof unr);
        sv_fixed_format(p->fees, fees, sizeof fees);
        fprintf(r->out, "  %-10s qty %-12s avg %-12s realized %-12s unrealized %-12s fees %s\n",
                sv_intern_name(syms, s), q, avg, real, unr, fees);
        any = 1;
    }
    if (!any)
        fprintf(r->out, "  (none)\n");
    char eq[32];
    sv_fixed_format(sv_portfolio_equity(pf, r->quote), eq, sizeof eq);
    fprintf(r->out, "equity: %s %s\n", eq, sv_intern_name(syms, r->quote));
}

static int report(run_t *r, sv_replay_t *rp, double initial, sv_session_result_t *res,
                  sv_diag_t *d)
{
    sv_engine_t *e = r->eng;
    sv_portfolio_t *pf = sv_engine_portfolio(e);
    uint32_t n = sv_portfolio_trade_count(pf);
    sv_report_trade_t *tr = calloc(n ? n : 1, sizeof *tr);
    if (!tr)
        return sv_diag_set(d, SV_E_NOMEM, "report: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const sv_trade_record_t *t = sv_portfolio_trade(pf, i);
        snprintf(tr[i].symbol, sizeof tr[i].symbol, "%s", sv_engine_symbol_name(e, t->symbol));
        snprintf(tr[i].strategy, sizeof tr[i].strategy, "%s",
                 t->strategy ? sv_strategy_name(sv_engine_strategies(e), t->strategy) : "account");
        tr[i].side = t->side;
        tr[i].open_ts = t->open_ts;
        tr[i].close_ts = t->close_ts;
        tr[i].qty = sv_fixed_to_double(t->qty);
        tr[i].entry_price = sv_fixed_to_double(t->entry_price);
        tr[i].exit_price = sv_fixed_to_double(t->exit_price);
        tr[i].pnl = sv_fixed_to_double(t->pnl);
        tr[i].fees = sv_fixed_to_double(t->fees);
    }
    char title[256] = "Backtest of ";
    sv_strategy_host_t *h = sv_engine_strategies(e);
    for (uint32_t i = 1; i <= sv_strategy_count(h); i++) {
        size_t len = strlen(title);
        snprintf(title + len, sizeof title - len, "%s%s", i > 1 ? ", " : "", sv_strategy_name(h, i));
    }
    sv_report_input_t in = {.title = title, .config = r->o->config_path,
                            .quote = sv_intern_name(sv_engine_symbols(e), r->quote),
                            .initial_equity = initial, .equity = r->eq, .n_equity = r->n_eq,
                            .trades = tr, .n_trades = n,
                            .fees_paid = sv_fixed_to_double(sv_portfolio_fees(pf)),
                            .exposure_ns = r->exposure_ns, .events = sv_replay_events(rp),
                            .orders = res->orders, .fills = res->fills, .rejects = res->rejects};
    int rc = sv_report_compute(&in, &res->metrics);
    if (rc == 0) {
        fputc('\n', r->out);
        sv_report_print_summary(r->out, &in, &res->metrics);
        /* the last round trips, so a run shows its trades without opening the report */
        uint32_t first = n > 10 ? n - 10 : 0;
        if (n)
            fprintf(r->out, "\n%s trades (%u in all; every one is in the report):\n", n > 10 ? "last 10" : "all", n);
        for (uint32_t i = first; i < n; i++) {
            char open[32], close[32];
            fmt_time(tr[i].open_ts, open, sizeof open);
            fmt_time(tr[i].close_ts, close, sizeof close);
            fprintf(r->out, "  %s -> %s  %-10s %-5s qty %-10g entry %-12.2f exit %-12.2f pnl %+.2f %s\n", open,
                    close, tr[i].symbol, tr[i].side > 0 ? "long" : "short", tr[i].qty, tr[i].entry_price,
                    tr[i].exit_price, tr[i].pnl, in.quote);
        }
    }
    if (rc == 0 && r->o->out_dir) {
        char pj[1100], ph[1100];
        if (mkdirs(r->o->out_dir) != 0) {
            rc = sv_diag_set(d, SV_E_IO, "%s: cannot create the report directory: %s", r->o->out_dir,
                             strerror(errno));
        } else {
            snprintf(pj, sizeof pj, "%s/report.json", r->o->out_dir);
            snprintf(ph, sizeof ph, "%s/report.html", r->o->out_dir);
            rc = sv_report_write_json(pj, &in, &res->metrics);
            if (rc == 0)
                rc = sv_report_write_html(ph, &in, &res->metrics);
            if (rc)
                sv_diag_set(d, rc, "%s: cannot write the report", r->o->out_dir);
            else
                fprintf(r->out, "\nreport: %s\n        %s\n", pj, ph);
        }
    } else if (rc) {
        sv_diag_set(d, rc, "no equity sample: the data selected is empty");
    }
    free(tr);
    return rc;
}

int sv_session_run(const sv_session_options_t *o, sv_session_result_t *res, sv_diag_t *d)
{
    memset(res, 0, sizeof *res);
    sv_config_t *cfg = NULL;
    if (sv_config_load(o->config_path, &cfg, d) != 0) {
        res->exit_code = 2;
        return d->code;
    }
    const sv_cfg_node_t *root = sv_config_root(cfg);
    int level = o->log_level >= 0 ? o->log_level : sv_log_level_parse(sv_cfg_str(root, "log.level", "info"));
    sv_engine_options_t eo = {.simulated = 1, .log_out = stderr, .log_level = level < 0 ? SV_LOG_INFO : level};
    sv_engine_t *e = sv_engine_new(&eo, d);
    if (!e) {
        sv_config_free(cfg);
        res->exit_code = 1;
        return SV_E_NOMEM;
    }
    const char *secrets[SV_LOG_MAX_SECRETS];
    size_t ns = sv_config_secrets(cfg, secrets, SV_LOG_MAX_SECRETS);
    for (size_t i = 0; i < ns && i < SV_LOG_MAX_SECRETS; i++)
        sv_log_add_secret(sv_engine_log(e), secrets[i]);
    run_t r = {.o = o, .eng = e, .out = o->out ? o->out : stdout};
    int rc = sv_engine_load_config(e, cfg, d);
    if (rc) {
        res->exit_code = rc == SV_E_CONFIG || rc == SV_E_UNSUPPORTED ? 2 : 1;
        goto done;
    }
    r.quote = sv_engine_quote_asset(e);
    /* Redis: the bus backend (every event mirrored to streams) and/or the market data source */
    int source = o->mode == SV_SESSION_BACKTEST ? SV_SOURCE_FILES : o->source;
    if (source == SV_SOURCE_CONFIG)
        source = strcmp(sv_cfg_str(root, "data.source", "files"), "redis") ? SV_SOURCE_FILES : SV_SOURCE_REDIS;
    int redis_bus = !strcmp(sv_cfg_str(root, "bus.backend", "memory"), "redis") && source != SV_SOURCE_REDIS_RANGE;
    sv_redis_options_t rds;
    sv_redis_source_t *rs = NULL;
    if ((redis_bus || source != SV_SOURCE_FILES) && (rc = sv_redis_options_from_config(root, &rds, d)) != 0) {
        res->exit_code = 2;
        goto done;
    }
    rds.stop = o->stop;
    if (redis_bus && (rc = sv_engine_use_redis(e, &rds, d)) != 0) {
        res->exit_code = rc == SV_E_CONFIG ? 2 : 1;
        goto done;
    }
    /* sources: the command line's, else the config's (relative to the project root) */
    const char *src[SV_REPLAY_MAX_SOURCES];
    char paths[SV_REPLAY_MAX_SOURCES][1024];
    uint32_t n = 0;
    if (o->n_data) {
        for (; n < o->n_data && n < SV_REPLAY_MAX_SOURCES; n++)
            src[n] = o->data[n];
    } else if (source == SV_SOURCE_FILES) {
        const sv_cfg_node_t *files = sv_cfg_get(root, "data.files");
        for (size_t i = 0; i < sv_cfg_len(files) && n < SV_REPLAY_MAX_SOURCES; i++, n++) {
            const char *f = sv_cfg_str(sv_cfg_at(files, i), NULL, "");
            const char *eq = strchr(f, '=');
            if (f[0] == '/' || (eq && eq[1] == '/'))
                snprintf(paths[n], sizeof paths[n], "%s", f);
            else if (eq)
                snprintf(paths[n], sizeof paths[n], "%.*s%s/%s", (int)(eq - f + 1), f,
                         sv_config_project_root(cfg), eq + 1);
            else
                snprintf(paths[n], sizeof paths[n], "%s/%s", sv_config_project_root(cfg), f);
            src[n] = paths[n];
        }
    }
    double speed = o->speed;
    if (o->mode == SV_SESSION_BACKTEST)
        speed = 0;
    else if (speed < 0)
        speed = sv_cfg_num(root, "data.speed", 1.0);
    r.interval_ns = (int64_t)(o->equity_interval_s ? o->equity_interval_s : 60) * 1000000000;
    sv_replay_options_t ro = {.policy = SV_MD_STRICT, .from_ns = o->from_ns, .to_ns = o->to_ns,
                              .bar_interval_s = o->bar_interval_s ? o->bar_interval_s : 60,
                              .speed = speed, .stop = o->stop, .after_event = after_event, .after_ud = &r,
                              .progress = o->progress ? progress : NULL, .progress_ud = &r};
    sv_replay_t *rp = NULL;
    if (source != SV_SOURCE_FILES) {
        sv_redis_source_options_t so = {
            .mode = source == SV_SOURCE_REDIS_RANGE ? SV_REDIS_READ_RANGE : SV_REDIS_READ_GROUP,
            .from = o->redis_from, .to = o->redis_to, .idle_exit_s = o->idle_exit_s, .stop = o->stop};
        rc = sv_redis_source_open(e, &rds, &so, &rs, d);
    } else {
        rc = sv_replay_open(e, src, n, &ro, &rp, d);
    }
    if (rc) {
        res->exit_code = rc == SV_E_CONFIG ? 2 : 1;
        goto done;
    }
    sv_bus_t *bus = sv_engine_bus(e);
    if (o->print_fills)
        sv_bus_subscribe(bus, SV_BUS_MASK(SV_EV_FILL), on_fill, &r);
    sv_bus_subscribe(bus, SV_BUS_MASK(SV_EV_ORDER), on_reject, &r);
    int64_t t0 = rp ? sv_replay_first_time(rp) : 0;
    sv_engine_advance(e, t0);
    double initial = sv_fixed_to_double(sv_portfolio_equity(sv_engine_portfolio(e), r.quote));
    if (t0)
        sample(&r, t0), r.next_sample = t0 - t0 % r.interval_ns + r.interval_ns;
    int enabled = sv_engine_start(e);
    /* paper trading: edits of a strategy file go live without a restart */
    if (o->mode != SV_SESSION_BACKTEST && sv_engine_watch_strategies(e, d) != 0)
        sv_log_warn(sv_engine_log(e), "reload", "live reload is off: %s", d->msg);
    if (rs)
        sv_log_info(sv_engine_log(e), "session", "paper trading: %d strateg%s on Redis market data", enabled,
                    enabled == 1 ? "y" : "ies");
    else
        sv_log_info(sv_engine_log(e), "session", "%s: %d strateg%s on %u source%s%s",
                    o->mode == SV_SESSION_BACKTEST ? "backtest" : "paper trading", enabled,
                    enabled == 1 ? "y" : "ies", n, n == 1 ? "" : "s", speed > 0 ? " (paced)" : "");
    rc = rs ? sv_redis_source_run(rs, d) : sv_replay_run(rp, d);
    res->stopped = o->stop && *o->stop;
    if (res->stopped)
        fprintf(r.out, "\nstopping: replay interrupted\n");
    /* shutdown: strategies stop, then every open order is canceled */
    sv_engine_stop(e);
    res->open_orders_canceled = (uint32_t)sv_oms_cancel_all(sv_engine_oms(e), 0, 0);
    if (res->open_orders_canceled)
        fprintf(r.out, "canceled %u open order%s\n", res->open_orders_canceled,
                res->open_orders_canceled == 1 ? "" : "s");
    if (r.last_ts)
        sample(&r, r.last_ts);
    sv_oms_stats_t os;
    sv_oms_stats(sv_engine_oms(e), &os);
    if (rs) {
        sv_redis_source_stats_t st;
        sv_redis_source_stats(rs, &st);
        res->events = st.events;
        if (st.skipped)
            sv_log_warn(sv_engine_log(e), "data", "%llu Redis entr%s skipped (not decodable or not market data)",
                        (unsigned long long)st.skipped, st.skipped == 1 ? "y" : "ies");
    } else {
        res->events = sv_replay_events(rp);
    }
    res->orders = os.orders;
    res->fills = os.fills;
    res->rejects = os.rejects;
    for (uint32_t i = 0; rp && i < n; i++) {
        const char *path;
        sv_md_stats_t st;
        if (sv_replay_source_stats(rp, i, &path, &st) == 0 && (st.gaps || st.skipped))
            sv_log_warn(sv_engine_log(e), "data", "%s: %llu gap(s), %llu bad row(s) skipped; first: %s", path,
                        (unsigned long long)st.gaps, (unsigned long long)st.skipped, st.first_warning);
    }
    if (rc) {
        res->exit_code = 1;
    } else {
        sv_strategy_host_t *h = sv_engine_strategies(e);
        fprintf(r.out, "\n%s: %llu events, %llu orders, %llu fills, %llu rejects\n",
                res->stopped ? "stopped" : "done", (unsigned long long)res->events,
                (unsigned long long)res->orders, (unsigned long long)res->fills,
                (unsigned long long)res->rejects);
        for (uint32_t i = 1; i <= sv_strategy_count(h); i++)
            fprintf(r.out, "  strategy %-16s %s%s\n", sv_strategy_name(h, i),
                    sv_strategy_enabled(h, i) ? "running" : "disabled: ", sv_strategy_error(h, i));
        print_positions(&r);
        if (o->mode == SV_SESSION_BACKTEST && (rc = report(&r, rp, initial, res, d)) != 0)
            res->exit_code = 1;
    }
    sv_bus_redis_stats_t ws;
    if (sv_engine_redis(e) && (sv_bus_redis_stats(sv_engine_redis(e), &ws), ws.halted) && !rc) {
        rc = sv_diag_set(d, SV_E_FULL, "redis writer: %llu events were buffered for Redis and "
                         "bus.redis.overflow is halt: the engine stopped", (unsigned long long)ws.buffered);
        res->exit_code = 1;
    }
    sv_replay_close(rp);
    sv_redis_source_close(rs);
done:
    free(r.eq);
    sv_engine_free(e);
    sv_config_free(cfg);
    return rc;
}
