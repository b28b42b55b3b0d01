/* instrument: the trading rules of each symbol: base and quote assets, tick size, lot size
 * and minimum notional (Binance's PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL), indexed by the
 * interned symbol id. The sim exchange rejects what breaks them, as a real exchange does. */
#ifndef SV_INSTRUMENT_H
#define SV_INSTRUMENT_H

#include <stdint.h>

#include "abi.h"
#include "error.h"
#include "intern.h"

typedef struct sv_instrument {
    uint32_t symbol;     /* interned symbol id */
    uint32_t base;       /* interned asset ids (in the same table as symbols) */
    uint32_t quote;
    sv_fixed_t tick;     /* price step (> 0) */
    sv_fixed_t lot;      /* quantity step (> 0) */
    sv_fixed_t min_notional;
} sv_instrument_t;

typedef struct sv_instruments sv_instruments_t;

/* A table for symbol ids < max_symbols. NULL on ENOMEM. */
sv_instruments_t *sv_instruments_new(uint32_t max_symbols);
void sv_instruments_free(sv_instruments_t *t);

/* Adds or replaces the rules of ins->symbol. SV_E_RANGE / SV_E_INVAL on a bad id or step. */
int sv_instruments_set(sv_instruments_t *t, const sv_instrument_t *ins);

/* The rules of a symbol, or NULL when none were set. */
const sv_instrument_t *sv_instruments_get(const sv_instruments_t *t, uint32_t symbol);

/* Checks an order's price (0 = market: not checked) and quantity against the rules. Returns 0
 * or SV_E_REJECTED with `reason` filled ("price 100.005 is not a multiple of tick 0.01"). */
int sv_instrument_check(const sv_instrument_t *ins, sv_fixed_t price, sv_fixed_t qty,
                        sv_fixed_t ref_price, char *reason, size_t len);

#endif
