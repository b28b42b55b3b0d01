/* error: the engine's error codes and the diagnostic record that carries a place and a reason.
 *
 * Every fallible function returns 0 (SV_OK) or a negative SV_E_* code; sv_strerror() names it.
 * Where a person must act (config, scripts, API input, data files) the function also fills an
 * sv_diag_t with one line "place: reason", e.g.
 *   config/risk/default.yaml:12:5: max_order_qty: must be > 0, got -1
 * No library function calls exit() or abort(). */
#ifndef SV_ERROR_H
#define SV_ERROR_H

#include <stddef.h>

#include "abi.h" /* sv_diag_t is part of the FFI interface */

enum {
    SV_OK = 0,
    SV_E_NOMEM = -1,       /* allocation failed */
    SV_E_INVAL = -2,       /* invalid argument */
    SV_E_NOTFOUND = -3,    /* no such file, key, symbol, order */
    SV_E_FULL = -4,        /* a bounded table or queue is full */
    SV_E_IO = -5,          /* read/write failed */
    SV_E_CONFIG = -6,      /* configuration error (see the diag) */
    SV_E_SCRIPT = -7,      /* a Lua script failed to load or raised */
    SV_E_STATE = -8,       /* operation not legal in the current state */
    SV_E_UNSUPPORTED = -9, /* not implemented for this backend or mode */
    SV_E_EXISTS = -10,     /* already present */
    SV_E_RANGE = -11,      /* value out of range */
    SV_E_PARSE = -12,      /* malformed input (data file, message) */
    SV_E_DISABLED = -13,   /* the component is disabled */
    SV_E_REJECTED = -14,   /* refused by a rule */
    SV_E_LIMIT = -15       /* a resource limit (CPU, memory) was hit */
};

/* Returns a static, human-readable name for an SV_E_* code. */
const char *sv_strerror(int err);

/* sv_diag_t (abi.h): the code and one line naming the place and the reason. Caller-owned. */

/* Sets d (if not NULL) to code and the formatted message; returns code so callers can
 * `return sv_diag_set(d, SV_E_CONFIG, "%s:%d:%d: ...", ...)`. */
int sv_diag_set(sv_diag_t *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears d (code 0, empty message). */
void sv_diag_clear(sv_diag_t *d);

#endif
