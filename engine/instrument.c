/* instrument: per-symbol trading rules in a flat array indexed by symbol id. */
#include "instrument.h"

#include <stdio.h>
#include <stdlib.h>

#include "fixed.h"

struct sv_instruments {
    uint32_t max;
    sv_instrument_t *by_id; /* symbol == 0: unset */
};

sv_instruments_t *sv_instruments_new(uint32_t max_symbols)
{
    sv_instruments_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->by_id = calloc(max_symbols ? max_symbols : 1, sizeof *t->by_id);
    if (!t->by_id) {
        free(t);
        return NULL;
    }
    t->max = max_symbols;
    return t;
}

void sv_instruments_free(sv_instruments_t *t)
{
    if (t) {
        free(t->by_id);
        free(t);
    }
}

int sv_instruments_set(sv_instruments_t *t, const sv_instrument_t *ins)
{
    if (ins->symbol == 0 || ins->symbol >= t->max)
        return SV_E_RANGE;
    if (ins->tick <= 0 || ins->lot <= 0 || ins->min_notional < 0)
        return SV_E_INVAL;
    t->by_id[ins->symbol] = *ins;
    return SV_OK;
}

const sv_instrument_t *sv_instruments_get(const sv_instruments_t *t, uint32_t symbol)
{
    if (symbol == 0 || symbol >= t->max || t->by_id[symbol].symbol == 0)
        return NULL;
    return &t->by_id[symbol];
}

int sv_instrument_check(const sv_instrument_t *ins, sv_fixed_t price, sv_fixed_t qty,
                        sv_fixed_t ref_price, char *reason, size_t len)
{
    char a[32], b[32];
    if (price < 0 || (price > 0 && price % ins->tick != 0)) {
        sv_fixed_format(price, a, sizeof a);
        sv_fixed_format(ins->tick, b, sizeof b);
        snprintf(reason, len, "price %s is not a multiple of tick size %s", a, b);
        return SV_E_REJECTED;
    }
    if (qty <= 0 || qty % ins->lot != 0) {
        sv_fixed_format(qty, a, sizeof a);
        sv_fixed_format(ins->lot, b, sizeof b);
        snprintf(reason, len, "quantity %s is not a positive multiple of lot size %s", a, b);
        return SV_E_REJECTED;
    }
    sv_fixed_t px = price > 0 ? price : ref_price, notional;
    if (ins->min_notional > 0 && px > 0 && sv_fixed_mul(px, qty, &notional) == 0 &&
        notional < ins->min_notional) {
        sv_fixed_format(notional, a, sizeof a);
        sv_fixed_format(ins->min_notional, b, sizeof b);
        snprintf(reason, len, "notional %s is below the minimum %s", a, b);
        return SV_E_REJECTED;
    }
    return SV_OK;
}
