/* engine: construction and wiring of one engine run, plus the recorder used by tests. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

struct sv_engine {
    sv_log_t log;
    sv_clock_t *clock;
    sv_bus_t *bus;
    sv_intern_t *symbols, *texts;
    sv_strategy_host_t *strategies;
    int started;
    /* recorder */
    sv_event_t *rec;
    uint32_t rec_cap, rec_n;
    int rec_sub;
};

static int64_t bus_now(void *ud) { return sv_clock_now(ud); }

sv_engine_t *sv_engine_new(const sv_engine_options_t *o, sv_diag_t *d)
{
    sv_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    sv_log_init(&e->log, o->log_out, o->log_level);
    e->clock = sv_clock_new(o->simulated, 65536);
    e->symbols = sv_intern_new(65536, 1 << 20);
    e->texts = sv_intern_new(65536, 4 << 20);
    if (e->clock)
        e->bus = sv_bus_new(o->bus_queue ? o->bus_queue : 65536, 256, bus_now, e->clock);
    if (e->bus && e->symbols && e->texts)
        e->strategies = sv_strategy_host_new(e->bus, e->clock, e->symbols, e->texts, &e->log,
                                             o->script_mem_limit);
    if (!e->strategies) {
        sv_engine_free(e);
        sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        return NULL;
    }
    return e;
}

sv_engine_t *sv_engine_new_sim(void)
{
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_WARN};
    return sv_engine_new(&o, NULL);
}

void sv_engine_free(sv_engine_t *e)
{
    if (!e)
        return;
    sv_strategy_host_free(e->strategies);
    sv_bus_free(e->bus);
    sv_clock_free(e->clock);
    sv_intern_free(e->symbols);
    sv_intern_free(e->texts);
    free(e->rec);
    free(e);
}

void sv_engine_set_log_level(sv_engine_t *e, int level) { e->log.level = level; }

sv_bus_t *sv_engine_bus(sv_engine_t *e) { return e->bus; }
sv_clock_t *sv_engine_clock(sv_engine_t *e) { return e->clock; }
sv_log_t *sv_engine_log(sv_engine_t *e) { return &e->log; }
sv_intern_t *sv_engine_symbols(sv_engine_t *e) { return e->symbols; }
sv_intern_t *sv_engine_texts(sv_engine_t *e) { return e->texts; }
sv_strategy_host_t *sv_engine_strategies(sv_engine_t *e) { return e->strategies; }

int sv_engine_add_strategy(sv_engine_t *e, const sv_strategy_spec_t *spec, sv_diag_t *d)
{
    sv_diag_clear(d);
    return sv_strategy_load(e->strategies, spec, d);
}

int sv_engine_start(sv_engine_t *e)
{
    e->started = 1;
    return sv_strategy_start_all(e->strategies);
}

int sv_engine_stop(sv_engine_t *e)
{
    if (!e->started)
        return SV_E_STATE;
    e->started = 0;
    sv_strategy_stop_all(e->strategies);
    return SV_OK;
}

int sv_engine_advance(sv_engine_t *e, int64_t ts)
{
    sv_clock_timer_t t;
    int n = 0;
    while (sv_clock_timer_pop_due(e->clock, ts, &t)) {
        sv_clock_set(e->clock, t.due);
        sv_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.h.kind = SV_EV_TIMER;
        ev.h.ts_exchange = ev.h.ts_receive = t.due;
        ev.u.timer.timer_id = (uint64_t)t.id;
        ev.u.timer.strategy = (uint32_t)t.cookie;
        sv_bus_publish(e->bus, &ev);
        n++;
    }
    sv_clock_set(e->clock, ts);
    return n;
}

int sv_engine_feed(sv_engine_t *e, sv_event_t *ev)
{
    unsigned k = ev->h.kind;
    if (k != SV_EV_TRADE && k != SV_EV_QUOTE && k != SV_EV_BAR && k != SV_EV_DEPTH)
        return SV_E_INVAL;
    if (sv_clock_is_simulated(e->clock))
        sv_engine_advance(e, ev->h.ts_exchange);
    if (ev->h.ts_receive == 0)
        ev->h.ts_receive = sv_clock_now(e->clock);
    return sv_bus_publish(e->bus, ev);
}

uint32_t sv_engine_symbol(sv_engine_t *e, const char *name) { return sv_intern_add(e->symbols, name, -1); }

const char *sv_engine_symbol_name(sv_engine_t *e, uint32_t id) { return sv_intern_name(e->symbols, id); }

const char *sv_engine_text(sv_engine_t *e, uint32_t id) { return sv_intern_name(e->texts, id); }

static void record(void *ud, const sv_event_t *ev)
{
    sv_engine_t *e = ud;
    if (e->rec_n < e->rec_cap)
        e->rec[e->rec_n++] = *ev;
}

int sv_engine_record(sv_engine_t *e, uint32_t kind_mask, uint32_t capacity)
{
    if (e->rec)
        return SV_E_EXISTS;
    e->rec = calloc(capacity ? capacity : 1, sizeof *e->rec);
    if (!e->rec)
        return SV_E_NOMEM;
    e->rec_cap = capacity;
    e->rec_sub = sv_bus_subscribe(e->bus, kind_mask, record, e);
    return e->rec_sub < 0 ? e->rec_sub : SV_OK;
}

uint32_t sv_engine_recorded(sv_engine_t *e) { return e->rec_n; }

const sv_event_t *sv_engine_record_at(sv_engine_t *e, uint32_t i)
{
    return i < e->rec_n ? &e->rec[i] : NULL;
}

int sv_engine_strategy_enabled(sv_engine_t *e, uint32_t sid)
{
    return sv_strategy_enabled(e->strategies, sid);
}

const char *sv_engine_strategy_error(sv_engine_t *e, uint32_t sid)
{
    return sv_strategy_error(e->strategies, sid);
}

int sv_engine_load_config(sv_engine_t *e, const sv_config_t *cfg, sv_diag_t *d)
{
    const sv_cfg_node_t *root = sv_config_root(cfg);
    const sv_cfg_node_t *syms = sv_cfg_get(root, "exchange.symbols");
    for (size_t i = 0; i < sv_cfg_len(syms); i++)
        sv_intern_add(e->symbols, sv_cfg_str(sv_cfg_at(syms, i), "symbol", ""), -1);
    const sv_cfg_node_t *list = sv_cfg_get(root, "strategies");
    for (size_t i = 0; i < sv_cfg_len(list); i++) {
        const sv_cfg_node_t *st = sv_cfg_at(list, i);
        if (!sv_cfg_bool(st, "enabled", 1))
            continue;
        const sv_cfg_node_t *sy = sv_cfg_get(st, "symbols"), *pm = sv_cfg_get(st, "params");
        size_t ns = sv_cfg_len(sy), np = sv_cfg_len(pm);
        const char **names = calloc(ns + 1, sizeof *names);
        sv_param_t *params = calloc(np + 1, sizeof *params);
        if (!names || !params) {
            free(names);
            free(params);
            return sv_diag_set(d, SV_E_NOMEM, "engine: out of memory");
        }
        for (size_t k = 0; k < ns; k++)
            names[k] = sv_cfg_str(sv_cfg_at(sy, k), NULL, "");
        for (size_t k = 0; k < np; k++) {
            const sv_cfg_node_t *v = sv_cfg_at(pm, k);
            params[k].key = sv_cfg_key(pm, k);
            switch (sv_cfg_type(v)) {
            case SV_CFG_STRING: params[k].type = SV_PARAM_STRING; params[k].string = sv_cfg_str(v, NULL, ""); break;
            case SV_CFG_BOOL: params[k].type = SV_PARAM_BOOL; params[k].boolean = sv_cfg_bool(v, NULL, 0); break;
            default: params[k].type = SV_PARAM_NUMBER; params[k].number = sv_cfg_num(v, NULL, 0); break;
            }
        }
        sv_strategy_spec_t spec = {
            .name = sv_cfg_str(st, "name", ""), .file = sv_cfg_str(st, "file", ""),
            .symbols = names, .n_symbols = (uint32_t)ns, .params = params, .n_params = (uint32_t)np};
        int rc = sv_strategy_load(e->strategies, &spec, d);
        free(names);
        free(params);
        if (rc < 0)
            return rc;
    }
    return SV_OK;
}
