/* script: the LuaJIT host. One lua_State per script, JIT on, sandboxed.
 *
 * A script state gets: an accounting allocator (bytes in use, peak, allocation count and an
 * optional hard cap: past it an allocation fails with Lua's "not enough memory"); the full
 * standard library for the engine's own privileged Lua modules (lua/silvertine/NAME.lua,
 * embedded in the library and reachable through package.preload); the ABI declared to the
 * FFI once. The user's file is compiled as text only (bytecode is refused) and runs in a
 * whitelisted environment built by silvertine.sandbox, so it never sees io, os (but
 * os.time/clock/date), debug, ffi, jit, load*, dofile, string.dump, setfenv/getfenv, or
 * require beyond the engine's own allowed modules.
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
} sv_script_stats_t;

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
 * SV_E_LIMIT when the memory cap was hit. */
int sv_script_pcall(sv_script_t *s, int nargs, int nresults, sv_diag_t *diag);

void sv_script_stats(const sv_script_t *s, sv_script_stats_t *out);

#endif
