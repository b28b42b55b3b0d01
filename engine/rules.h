/* rules: custom risk rules written in Lua. Each rule is a sandboxed script (its own
 * lua_State, like a strategy) returning a table with
 *
 *   function R.check(ctx, order) return true end        -- or: return false, "reason"
 *
 * run by the risk engine after its C checks, for every signal. `order` is a read-only view of
 * the signal (symbol, side, qty, price, stop_price, type, tif, strategy, tag); ctx reads
 * positions (ctx:position), open orders (ctx:open_orders), recent market data (ctx:last_price,
 * ctx:quote, ctx:bar), the time (ctx:now), the rule's params and its own state table. Rules
 * fail closed: a rule that raises, returns nothing true, exceeds its memory cap or its CPU
 * budget rejects the order, and the error is logged with file:line. */
#ifndef SV_RULES_H
#define SV_RULES_H

#include <stdint.h>

#include "abi.h"
#include "error.h"
#include "intern.h"
#include "log.h"

/* CPU budget of one check() call (a rule that loops is stopped and the order rejected), and
 * of loading a rule. The memory cap is the engine's script cap. */
enum { SV_RULE_CPU_BUDGET_MS = 5, SV_RULE_START_BUDGET_MS = 1000 };

/* What rules read from the rest of the core (borrowed). */
typedef struct sv_rules_env {
    void *ud;
    void (*position)(void *ud, uint32_t symbol, sv_fixed_t *qty, sv_fixed_t *avg_price);
    uint32_t (*open_orders)(void *ud, uint32_t symbol, sv_order_t *out, uint32_t max);
    const char *(*strategy_name)(void *ud, uint32_t sid);
    int64_t (*now)(void *ud);
} sv_rules_env_t;

/* Creates the rule host for symbol ids < max_symbols, reading names from symbols and logging
 * to log (borrowed). NULL on ENOMEM. */
sv_rules_t *sv_rules_new(const sv_rules_env_t *env, sv_intern_t *symbols, sv_log_t *log, uint32_t max_symbols,
                         size_t mem_limit);
void sv_rules_free(sv_rules_t *rules);

/* Loads a rule script; returns its id (>= 1) or a negative code with diag filled. */
int sv_rules_load(sv_rules_t *rules, const char *name, const char *file, const sv_param_t *params,
                  uint32_t n_params, sv_diag_t *diag);

/* Live reload of rule `id` from its file: compiled in a fresh state, ctx.state carried over,
 * swapped in only if it loads; else the running version stays and diag says why (file:line). */
int sv_rules_reload(sv_rules_t *rules, int id, sv_diag_t *diag);
int sv_rules_count(const sv_rules_t *rules);
const char *sv_rules_file(const sv_rules_t *rules, int id);
uint32_t sv_rules_reloads(const sv_rules_t *rules, int id);

/* The risk engine's hook (sv_risk_rule_fn) for rule `id`: pass `sv_rules_hook(rules, id)` as
 * the ud. Returns 0 to approve, SV_E_REJECTED with reason. */
int sv_rules_check(void *hook, const sv_event_t *signal, char *reason, size_t len);
void *sv_rules_hook(sv_rules_t *rules, int id);
const char *sv_rules_name(const sv_rules_t *rules, int id);

/* Market data, so rules can read the last trade, quote and bar of each symbol. */
void sv_rules_on_market(sv_rules_t *rules, const sv_event_t *ev);

/* The FFI table handed to rule states. */
const sv_rule_api_t *sv_rules_api(void);

#endif
