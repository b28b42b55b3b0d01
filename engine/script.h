/* script: the LuaJIT host. One lua_State per script, JIT on, sandboxed.
 *
 * A script state gets: an accounting allocator (bytes in use, peak, allocation count and an
 * optional hard cap: past it an allocation fails with Lua's "not enough memory"; the cap holds
 * while script code runs or compiles, never during the host's own unprotected API calls, where
 * a failed allocation would be LuaJIT's panic); the full
 * standard library for the engine's own privileged Lua modules (lua/silvertine/NAME.lua,
 * embedded in the library and reachable through package.preload); the ABI declared to the
 * FFI once. The user's file is compiled as text only (bytecode is refused) and runs in a
 * whitelisted environment built by silvertine.sandbox, so it never sees io, os (but
 * os.time/clock/date), debug, ffi, jit, load*, dofile, string.dump, setfenv/getfenv, or
 * require beyond the engine's own allowed modules.
 *
 * CPU budget: every call into a script (sv_script_pcall) may be given a budget of CPU time.
 * A watchdog thread (sv_watchdog_t, one per host) watches a set of scripts without any clock
 * read or lock on the calling thread: sv_script_pcall only bumps a per-script call counter
 * (odd while a call runs, relaxed atomics). When the watchdog sees the same call still running
 * after `budget` of the calling thread's CPU time, it arms a count hook on the state
 * (lua_sethook from the watchdog thread, which LuaJIT allows). The hook raises "file:line: CPU
 * budget of N ms exceeded" and stays armed, so it raises again at the next instruction: a
 * script's own pcall cannot swallow it. When the call unwinds to sv_script_pcall the hook is
 * cleared and the call fails with SV_E_LIMIT. The watchdog wakes every budget/4, so a runaway
 * call stops after between 1 and 1.25 budgets of CPU time, plus the wake-up latency of the
 * watchdog thread. Compiled traces test the hook, and string patterns (matched in C, where no
 * hook runs) stop, only with the build's LuaJIT: scripts/build-luajit.sh compiles it with
 * LUAJIT_ENABLE_CHECKHOOK and ends a match once the hook is armed (sv_script_guard_stops_jit).
 * lua_sethook is the only thing the watchdog ever does to a state, and every lua_sethook call,
 * from either thread, is made under the watchdog's mutex.
 *
 * Errors: every function that runs Lua returns 0 or SV_E_SCRIPT/SV_E_LIMIT and fills a diag
 * with "file:line: reason" as Lua reported it. */
#ifndef SV_SCRIPT_H
#define SV_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct lua_State lua_State;
typedef struct sv_script sv_script_t;

typedef struct sv_script_stats {
    size_t mem_bytes;    /* in use now */
    size_t mem_peak;
    uint64_t allocs;     /* allocations and growths since creation */
    size_t mem_limit;    /* 0 = none */
    uint64_t calls;      /* outermost sv_script_pcall calls */
    uint64_t cpu_stops;  /* calls stopped by the CPU budget */
} sv_script_stats_t;

typedef struct sv_watchdog sv_watchdog_t;

/* Creates a script state named `name` (used in messages) with a memory cap of mem_limit
 * bytes (0 = none). Returns 0, SV_E_NOMEM or SV_E_SCRIPT (diag filled). */
int sv_script_new(const char *name, size_t mem_limit, sv_script_t **out, sv_diag_t *diag);
void sv_script_free(sv_script_t *s);

lua_State *sv_script_lua(sv_script_t *s);
const char *sv_script_name(const sv_script_t *s);

/* Compiles `path` (text only) in a fresh sandbox environment and runs it. The chunk must
 * return a table: on success it is left on the Lua stack (with the environment below it:
 * stack top is [..., env, module]). Returns 0 or SV_E_SCRIPT / SV_E_NOTFOUND / SV_E_LIMIT. */
int sv_script_load_file(sv_script_t *s, const char *path, sv_diag_t *diag);

/* Same as sv_script_load_file for source text in memory; `chunkname` names it in errors. */
int sv_script_load_string(sv_script_t *s, const char *src, size_t len, const char *chunkname,
                          sv_diag_t *diag);

/* lua_pcall with the engine's error reporting: on error pops the error, fills diag with its
 * text (a non-string error object is described, never called) and returns SV_E_SCRIPT, or
 * SV_E_LIMIT when the memory cap was hit or the CPU budget stopped the call (then diag says
 * "file:line: CPU budget of N ms exceeded", the place where the script was stopped). */
int sv_script_pcall(sv_script_t *s, int nargs, int nresults, sv_diag_t *diag);

void sv_script_stats(const sv_script_t *s, sv_script_stats_t *out);

/* Script parameters (from a config's `params`): pushes them as a Lua table; makes an owned
 * deep copy (NULL on ENOMEM; free it with sv_params_free); frees a copy. */
void sv_script_push_params(lua_State *L, const sv_param_t *params, uint32_t n);
sv_param_t *sv_params_dup(const sv_param_t *params, uint32_t n);
void sv_params_free(sv_param_t *params, uint32_t n);

/* Sets the CPU budget of each later call, in ms of the calling thread's CPU time (<= 0: none).
 * Enforced while the script is watched. */
void sv_script_set_cpu_budget(sv_script_t *s, double ms);
double sv_script_cpu_budget(const sv_script_t *s);

/* 1 when the linked LuaJIT checks hooks inside compiled traces (built with
 * LUAJIT_ENABLE_CHECKHOOK), so the budget also stops a JIT-compiled loop; 0 with a stock
 * LuaJIT, where only interpreted code can be stopped. */
int sv_script_guard_stops_jit(void);

/* A watchdog: one thread that enforces the CPU budgets of the scripts added to it. The thread
 * starts with the first sv_watchdog_add and is joined by sv_watchdog_free. NULL on ENOMEM. */
sv_watchdog_t *sv_watchdog_new(void);
/* Joins the thread. Every script must have been removed. */
void sv_watchdog_free(sv_watchdog_t *w);
/* Starts watching s (a script belongs to at most one watchdog). 0, SV_E_EXISTS or SV_E_NOMEM
 * (the thread could not be started). */
int sv_watchdog_add(sv_watchdog_t *w, sv_script_t *s);
/* Stops watching s; after it returns the watchdog never touches s again, so s may be freed. */
void sv_watchdog_remove(sv_watchdog_t *w, sv_script_t *s);

#endif
