/* exchange: the adapter interface between the OMS and a venue (the in-process `sim`, later
 * `binance`).
 *
 * The OMS calls submit/cancel/replace; the venue answers later (or at once) with execution
 * reports through the sink it was given: acknowledgements, rejects, fills, cancels and
 * expiries. Reports may repeat or arrive out of order (real venues do); the OMS makes their
 * handling idempotent. An adapter never publishes on the bus itself. */
#ifndef SV_EXCHANGE_H
#define SV_EXCHANGE_H

#include <stdint.h>

#include "abi.h"

/* What a venue reports about one order. */
typedef struct sv_exec_report {
    uint64_t client_id;
    uint64_t exchange_id;
    uint32_t symbol;
    uint8_t status;        /* sv_order_status_t the venue now reports */
    uint8_t liquidity;     /* for a fill: sv_liquidity_t */
    uint8_t pad[2];
    int64_t ts;            /* venue time, ns */
    /* a fill (status PARTIALLY_FILLED or FILLED with last_qty > 0) */
    uint64_t trade_id;     /* venue trade id: the key that makes fills idempotent */
    sv_fixed_t last_price;
    sv_fixed_t last_qty;
    sv_fixed_t fee;
    uint32_t fee_asset;    /* interned asset id */
    /* price/qty now in force (after a replace) */
    sv_fixed_t price;
    sv_fixed_t qty;
    char reason[96];       /* reject/cancel/expire reason */
} sv_exec_report_t;

/* Where a venue sends its reports (the OMS). */
typedef struct sv_exec_sink {
    void (*report)(void *ud, const sv_exec_report_t *r);
    void *ud;
} sv_exec_sink_t;

/* A venue. Each call returns 0 when the request was taken (its outcome comes as a report) or a
 * negative SV_E_* code when it could not even be sent. */
typedef struct sv_exchange {
    const char *name;
    void *self;
    int (*submit)(void *self, const sv_order_t *order, uint32_t symbol);
    int (*cancel)(void *self, uint64_t client_id, uint32_t symbol);
    int (*replace)(void *self, uint64_t client_id, uint32_t symbol, sv_fixed_t price, sv_fixed_t qty);
} sv_exchange_t;

#endif
