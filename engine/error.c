/* error: names of error codes and the diagnostic record. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *sv_strerror(int err)
{
    switch (err) {
    case SV_OK: return "ok";
    case SV_E_NOMEM: return "out of memory";
    case SV_E_INVAL: return "invalid argument";
    case SV_E_NOTFOUND: return "not found";
    case SV_E_FULL: return "full";
    case SV_E_IO: return "i/o error";
    case SV_E_CONFIG: return "configuration error";
    case SV_E_SCRIPT: return "script error";
    case SV_E_STATE: return "invalid state";
    case SV_E_UNSUPPORTED: return "unsupported";
    case SV_E_EXISTS: return "already exists";
    case SV_E_RANGE: return "out of range";
    case SV_E_PARSE: return "parse error";
    case SV_E_DISABLED: return "disabled";
    case SV_E_REJECTED: return "rejected";
    case SV_E_LIMIT: return "limit exceeded";
    default: return "unknown error";
    }
}

int sv_diag_set(sv_diag_t *d, int code, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        d->code = code;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void sv_diag_clear(sv_diag_t *d)
{
    if (d) {
        d->code = 0;
        d->msg[0] = '\0';
    }
}
