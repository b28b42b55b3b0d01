/* statecopy: carries a script's `ctx.state` from one lua_State to another across a live reload.
 *
 * The value is serialized out of the old state into a byte buffer, then rebuilt in the new
 * state. Each half runs in a protected call of its own state, so a memory cap hit in either
 * state is an error, never a panic. Copied: nil, booleans, numbers, strings, tables (shared
 * references and cycles preserved) and the indicator objects of silvertine.ta (their
 * metatables are re-attached by name, so indicators stay warm). Functions, coroutines,
 * userdata, cdata and other metatables cannot cross states: they are dropped and counted. */
#ifndef SV_STATECOPY_H
#define SV_STATECOPY_H

#include <stddef.h>

#include "error.h"

typedef struct lua_State lua_State;

typedef struct sv_statecopy_stats {
    size_t tables;   /* tables copied */
    size_t dropped;  /* values that could not cross (functions, userdata, ...) */
    size_t bytes;    /* size of the serialized form */
} sv_statecopy_stats_t;

/* Copies registry[ref][field] of `from` (e.g. a ctx table's "state") and pushes the copy onto
 * `to` (on success only). Returns 0, SV_E_LIMIT (too deep, too large, or a memory cap) or
 * SV_E_SCRIPT, with diag. */
int sv_statecopy(lua_State *from, int ref, const char *field, lua_State *to, sv_statecopy_stats_t *stats,
                 sv_diag_t *diag);

#endif
