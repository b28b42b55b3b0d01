/* oms: the order management system. Owns every order's life:
 *
 *   NEW -> PENDING -> ACKNOWLEDGED -> PARTIALLY_FILLED -> FILLED
 *                          \-> PENDING_CANCEL -> CANCELED   (also from PARTIALLY_FILLED)
 *                          \-> PENDING_REPLACE -> ACKNOWLEDGED / PARTIALLY_FILLED
 *   NEW/PENDING -> REJECTED;  PENDING/ACKNOWLEDGED/PARTIALLY_FILLED -> EXPIRED / CANCELED
 *   PENDING_CANCEL/PENDING_REPLACE -> REJECTED (the venue refused an order it never acknowledged)
 *
 * Client order ids are unique, increasing and deterministic (1, 2, 3, ... per run); an id whose
 * slot in the fixed table still holds a live order is skipped, so an old resting order never
 * blocks order entry. Execution reports are
 * applied idempotently: a fill whose venue trade id was seen is ignored, a report that would
 * move an order backwards (an ACK after a fill, anything after a terminal state) is ignored
 * and counted, a fill that would exceed the order's quantity is refused. The last 8 trade ids
 * of each order are remembered, and the quantity check backs them up. A venue may confirm the
 * amend (or refuse the cancel) of a part-filled order with PARTIALLY_FILLED and no fill data. Every change is
 * published on the bus as an SV_EV_ORDER event and every new fill as an SV_EV_FILL event,
 * both carrying the owning strategy, so strategies see them in on_order/on_fill.
 * The table is fixed-capacity: no allocation per order. */
#ifndef SV_OMS_H
#define SV_OMS_H

#include <stdint.h>

#include "abi.h"
#include "bus.h"
#include "clock.h"
#include "exchange.h"
#include "intern.h"
#include "log.h"

typedef struct sv_oms sv_oms_t;

typedef struct sv_oms_stats {
    uint64_t orders, fills, rejects, cancels;
    uint64_t duplicate_fills;  /* repeated trade ids ignored */
    uint64_t stale_reports;    /* out-of-order or post-terminal reports ignored */
    uint64_t overfills;        /* fills refused for exceeding the order quantity */
} sv_oms_stats_t;

/* Creates an OMS for up to max_orders live+recent orders, publishing on bus, naming reasons
 * in texts (borrowed). NULL on ENOMEM. */
sv_oms_t *sv_oms_new(sv_bus_t *bus, sv_clock_t *clock, sv_intern_t *texts, sv_log_t *log,
                     uint32_t max_orders);
void sv_oms_free(sv_oms_t *oms);

/* Sets the venue orders go to (borrowed), and returns the sink the venue must report to. */
sv_exec_sink_t sv_oms_set_exchange(sv_oms_t *oms, const sv_exchange_t *ex);

/* Creates an order from an approved signal and sends it. Returns the client id (> 0) or a
 * negative code; a refused order is still published, as REJECTED with the reason. A signal
 * with replace_id set amends that order instead (cancel/replace of price and quantity). */
int64_t sv_oms_submit(sv_oms_t *oms, const sv_event_t *signal);

/* Publishes an order rejected before it reached the venue (by risk): it gets a client id, is
 * recorded as REJECTED with the reason, and the strategy sees it in on_order. */
int64_t sv_oms_reject(sv_oms_t *oms, const sv_event_t *signal, const char *reason);

/* Requests a cancel. 0, SV_E_NOTFOUND, or SV_E_STATE for an order already terminal. When
 * strategy != 0 the order must belong to it. */
int sv_oms_cancel(sv_oms_t *oms, uint32_t strategy, uint64_t client_id);

/* Cancels every open order of strategy (0 = all strategies) on symbol (0 = all symbols).
 * Returns how many cancels were requested. */
int sv_oms_cancel_all(sv_oms_t *oms, uint32_t strategy, uint32_t symbol);

/* Applies a venue report (the sink's function). */
void sv_oms_on_report(sv_oms_t *oms, const sv_exec_report_t *r);

/* The current state of an order, or NULL when unknown. */
const sv_order_t *sv_oms_order(const sv_oms_t *oms, uint64_t client_id);
/* Its symbol (0 when unknown). */
uint32_t sv_oms_order_symbol(const sv_oms_t *oms, uint64_t client_id);

/* Open (non-terminal) orders of strategy/symbol (0 = any): writes up to max client ids,
 * returns the total. */
uint32_t sv_oms_open_orders(const sv_oms_t *oms, uint32_t strategy, uint32_t symbol, uint64_t *ids,
                            uint32_t max);

/* 1 when moving an order from `from` to `to` is legal. */
int sv_oms_transition_legal(int from, int to);
/* 1 for FILLED, CANCELED, REJECTED, EXPIRED. */
int sv_oms_terminal(int status);
const char *sv_oms_status_name(int status);

void sv_oms_stats(const sv_oms_t *oms, sv_oms_stats_t *out);

#endif
