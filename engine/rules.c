/* rules: Lua risk rules on the script host, with a read-only ctx and a view of the signal. */
#define _POSIX_C_SOURCE 200809L
#include "rules.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "script.h"
#include "statecopy.h"

enum { MAX_RULES = 16 };

typedef struct rule {
    sv_rules_t *host;
    int id;
    char name[64];
    char file[1024];
    sv_script_t *script;
    lua_State *L;
    int ref; /* the check dispatcher */
    int ctx_ref;
    const sv_event_t **slot;
    sv_param_t *params; /* kept for reloads */
    uint32_t n_params;
    uint32_t reloads;
} rule_t;

struct sv_rules {
    sv_rules_env_t env;
    sv_intern_t *symbols;
    sv_log_t *log;
    uint32_t max_symbols;
    size_t mem_limit;
    sv_watchdog_t *watchdog; /* CPU budgets of the rules' check() calls */
    sv_event_t *last; /* [symbol * 3 + {trade, quote, bar}] */
    rule_t *r[MAX_RULES + 1];
    int n;
};

static const sv_event_t empty_event;

static int kind_slot(int kind)
{
    return kind == SV_EV_TRADE ? 0 : kind == SV_EV_QUOTE ? 1 : kind == SV_EV_BAR ? 2 : -1;
}

/* ---- the FFI table ---------------------------------------------------------------------- */

static int api_position(sv_rules_t *h, uint32_t symbol, double *qty, double *avg)
{
    sv_fixed_t q = 0, a = 0;
    if (h->env.position)
        h->env.position(h->env.ud, symbol, &q, &a);
    *qty = sv_fixed_to_double(q);
    *avg = sv_fixed_to_double(a);
    return SV_OK;
}

static int api_last(sv_rules_t *h, uint32_t symbol, int kind, sv_event_t *out)
{
    int k = kind_slot(kind);
    if (k < 0 || symbol == 0 || symbol >= h->max_symbols)
        return SV_E_INVAL;
    const sv_event_t *e = &h->last[symbol * 3 + (uint32_t)k];
    if (e->h.kind == 0)
        return SV_E_NOTFOUND;
    *out = *e;
    return SV_OK;
}

static uint32_t api_open_orders(sv_rules_t *h, uint32_t symbol, sv_order_t *out, uint32_t max)
{
    return h->env.open_orders ? h->env.open_orders(h->env.ud, symbol, out, max) : 0;
}

static uint32_t api_symbol_id(sv_rules_t *h, const char *name) { return sv_intern_find(h->symbols, name, -1); }

static const char *api_symbol_name(sv_rules_t *h, uint32_t id) { return sv_intern_name(h->symbols, id); }

static const char *api_strategy_name(sv_rules_t *h, uint32_t sid)
{
    return h->env.strategy_name ? h->env.strategy_name(h->env.ud, sid) : "";
}

static int64_t api_now(sv_rules_t *h) { return h->env.now ? h->env.now(h->env.ud) : 0; }

static void api_log(sv_rules_t *h, uint32_t id, int level, const char *msg)
{
    char comp[96];
    snprintf(comp, sizeof comp, "rule %s", id >= 1 && (int)id <= h->n ? h->r[id]->name : "?");
    sv_log_write(h->log, level < SV_LOG_DEBUG || level > SV_LOG_ERROR ? SV_LOG_INFO : level, comp, "%s", msg);
}

static const sv_rule_api_t api = {
    .position = api_position,
    .last = api_last,
    .open_orders = api_open_orders,
    .symbol_id = api_symbol_id,
    .symbol_name = api_symbol_name,
    .strategy_name = api_strategy_name,
    .now = api_now,
    .log = api_log,
};

const sv_rule_api_t *sv_rules_api(void) { return &api; }

/* ---- host ------------------------------------------------------------------------------- */

sv_rules_t *sv_rules_new(const sv_rules_env_t *env, sv_intern_t *symbols, sv_log_t *log, uint32_t max_symbols,
                         size_t mem_limit)
{
    sv_rules_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->last = calloc((size_t)(max_symbols ? max_symbols : 1) * 3, sizeof *h->last);
    h->watchdog = sv_watchdog_new();
    if (!h->last || !h->watchdog) {
        free(h->last);
        sv_watchdog_free(h->watchdog);
        free(h);
        return NULL;
    }
    h->env = *env;
    h->symbols = symbols;
    h->log = log;
    h->max_symbols = max_symbols;
    h->mem_limit = mem_limit;
    return h;
}

static void rule_free(rule_t *r)
{
    if (r) {
        sv_script_free(r->script);
        sv_params_free(r->params, r->n_params);
        free(r->slot);
        free(r);
    }
}


/* Compiles r->file into a fresh state and binds it: r->script, r->L, r->ref, r->ctx_ref. */
static int compile(sv_rules_t *h, rule_t *r, sv_diag_t *d)
{
    int rc = sv_script_new(r->name, h->mem_limit, &r->script, d);
    if (rc)
        return rc;
    /* loading gets the start budget; every check() the strategies' per-call budget: a rule
     * that loops is stopped, and the order it was checking is rejected (fail closed) */
    sv_script_set_cpu_budget(r->script, SV_RULE_START_BUDGET_MS);
    if (sv_watchdog_add(h->watchdog, r->script) != 0)
        return sv_diag_set(d, SV_E_NOMEM, "%s: cannot start the CPU watchdog thread", r->name);
    if ((rc = sv_script_load_file(r->script, r->file, d)) != 0)
        return rc;
    lua_State *L = r->L = sv_script_lua(r->script);
    int env = lua_gettop(L) - 1, mod = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "silvertine.rule");
    if ((rc = sv_script_pcall(r->script, 1, 1, d)) != 0)
        return rc;
    lua_getfield(L, -1, "bind");
    lua_createtable(L, 0, 8);
    lua_pushlightuserdata(L, h);
    lua_setfield(L, -2, "host");
    lua_pushlightuserdata(L, (void *)&api);
    lua_setfield(L, -2, "api");
    lua_pushlightuserdata(L, (void *)r->slot);
    lua_setfield(L, -2, "slot");
    lua_pushinteger(L, r->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, r->name);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, mod);
    lua_setfield(L, -2, "module");
    lua_pushvalue(L, env);
    lua_setfield(L, -2, "env");
    sv_script_push_params(L, r->params, r->n_params);
    lua_setfield(L, -2, "params");
    if ((rc = sv_script_pcall(r->script, 1, 2, d)) != 0) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%.200s: %.800s", r->file, d->msg);
        sv_diag_set(d, rc, "%s", msg);
        return rc;
    }
    r->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    sv_script_set_cpu_budget(r->script, SV_RULE_CPU_BUDGET_MS);
    return SV_OK;
}

void sv_rules_free(sv_rules_t *h)
{
    if (!h)
        return;
    for (int i = 1; i <= h->n; i++)
        rule_free(h->r[i]);
    sv_watchdog_free(h->watchdog);
    free(h->last);
    free(h);
}

void sv_rules_on_market(sv_rules_t *h, const sv_event_t *ev)
{
    int k = kind_slot(ev->h.kind);
    if (k >= 0 && ev->h.symbol > 0 && ev->h.symbol < h->max_symbols)
        h->last[ev->h.symbol * 3 + (uint32_t)k] = *ev;
}


int sv_rules_load(sv_rules_t *h, const char *name, const char *file, const sv_param_t *params, uint32_t n_params,
                  sv_diag_t *d)
{
    if (!name || !*name || !file)
        return sv_diag_set(d, SV_E_INVAL, "rule: a name and a file are required");
    if (h->n >= MAX_RULES)
        return sv_diag_set(d, SV_E_FULL, "%s: too many risk rules (max %d)", name, MAX_RULES);
    rule_t *r = calloc(1, sizeof *r);
    if (!r || !(r->slot = malloc(sizeof *r->slot)) || !(r->params = sv_params_dup(params, n_params))) {
        if (r)
            free(r->slot);
        free(r);
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", name);
    }
    *r->slot = &empty_event;
    r->host = h;
    r->id = h->n + 1;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->file, sizeof r->file, "%s", file);
    r->n_params = n_params;
    int rc = compile(h, r, d);
    if (rc) {
        rule_free(r);
        return rc;
    }
    h->r[r->id] = r;
    h->n = r->id;
    sv_log_info(h->log, "risk", "rule %s loaded from %s", r->name, file);
    return r->id;
}

int sv_rules_reload(sv_rules_t *h, int id, sv_diag_t *d)
{
    rule_t *r = id >= 1 && id <= h->n ? h->r[id] : NULL;
    if (!r)
        return sv_diag_set(d, SV_E_NOTFOUND, "reload: unknown rule %d", id);
    rule_t n = *r;
    n.script = NULL;
    int rc = compile(h, &n, d);
    sv_statecopy_stats_t cs;
    if (rc == 0 && (rc = sv_statecopy(r->L, r->ctx_ref, "state", n.L, &cs, d)) == 0) {
        lua_rawgeti(n.L, LUA_REGISTRYINDEX, n.ctx_ref);
        lua_pushvalue(n.L, -2);
        lua_setfield(n.L, -2, "state");
        lua_settop(n.L, 0);
    }
    r->reloads++;
    if (rc) {
        sv_script_free(n.script);
        sv_log_error(h->log, "risk", "rule %s: reload failed, the running version stays: %s", r->name, d->msg);
        return rc;
    }
    sv_script_t *old = r->script;
    r->script = n.script;
    r->L = n.L;
    r->ref = n.ref;
    r->ctx_ref = n.ctx_ref;
    sv_script_free(old);
    sv_log_info(h->log, "risk", "rule %s: reloaded %s", r->name, r->file);
    return SV_OK;
}

int sv_rules_count(const sv_rules_t *h) { return h->n; }

const char *sv_rules_file(const sv_rules_t *h, int id) { return id >= 1 && id <= h->n ? h->r[id]->file : ""; }

uint32_t sv_rules_reloads(const sv_rules_t *h, int id) { return id >= 1 && id <= h->n ? h->r[id]->reloads : 0; }

void *sv_rules_hook(sv_rules_t *h, int id) { return id >= 1 && id <= h->n ? h->r[id] : NULL; }

const char *sv_rules_name(const sv_rules_t *h, int id) { return id >= 1 && id <= h->n ? h->r[id]->name : ""; }

int sv_rules_check(void *hook, const sv_event_t *sig, char *reason, size_t len)
{
    rule_t *r = hook;
    lua_State *L = r->L;
    *r->slot = sig;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref);
    sv_diag_t d;
    int rc = sv_script_pcall(r->script, 0, 2, &d);
    *r->slot = &empty_event;
    if (rc != 0) {
        /* fail closed: a broken rule rejects, and says why */
        snprintf(reason, len, "raised an error (order rejected): %s", d.msg);
        sv_log_error(r->host->log, "risk", "rule %s raised: %s", r->name, d.msg);
        return SV_E_REJECTED;
    }
    int ok = lua_toboolean(L, -2);
    if (!ok) {
        const char *why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        snprintf(reason, len, "%s", why ? why : "rejected (no reason given)");
    }
    lua_settop(L, 0);
    return ok ? SV_OK : SV_E_REJECTED;
}
