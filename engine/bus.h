/* bus: publish/subscribe of events by kind.
 *
 * Delivery is in-process, synchronous and in subscription order: sv_bus_publish() returns
 * after every subscriber of the event's kind has seen it. An event published while another
 * is being delivered (a strategy's signal, an order's fill) is queued in a fixed ring and
 * delivered as soon as the current fan-out finishes, so no handler is ever re-entered and the
 * delivery order equals the sequence-number order (run to completion). sv_bus_hold() /
 * sv_bus_release() open the same kind of scope around work that is not itself a delivery
 * (a script's on_start), so a script's own calls never re-enter it.
 *
 * A backend mirrors events outside the process (Redis Streams): it sees every event after
 * the in-process subscribers, must not block, and is attached without callers changing.
 * The default backend, "memory", mirrors nothing. Publishing allocates nothing. */
#ifndef SV_BUS_H
#define SV_BUS_H

#include <stdint.h>

#include "abi.h"

typedef struct sv_bus sv_bus_t;

/* A subscriber. `ev` is valid only during the call. */
typedef void (*sv_bus_fn)(void *ud, const sv_event_t *ev);

/* A backend that mirrors events outside the process. publish() is called once per event,
 * after in-process delivery, for events without SV_EVF_REMOTE; it must not block. */
typedef struct sv_bus_backend {
    const char *name;
    int (*publish)(void *self, const sv_event_t *ev);
    void (*destroy)(void *self);
    void *self;
} sv_bus_backend_t;

typedef struct sv_bus_stats {
    uint64_t published;   /* events accepted */
    uint64_t delivered;   /* subscriber calls */
    uint64_t queue_full;  /* publishes refused because the ring was full */
    uint64_t backend_errors;
    uint32_t max_queue;   /* high-water mark of the ring */
} sv_bus_stats_t;

#define SV_BUS_MASK(kind) (1u << (kind))
#define SV_BUS_MASK_MARKET \
    (SV_BUS_MASK(SV_EV_TRADE) | SV_BUS_MASK(SV_EV_QUOTE) | SV_BUS_MASK(SV_EV_BAR) | SV_BUS_MASK(SV_EV_DEPTH))
#define SV_BUS_MASK_ALL 0xffffffffu

/* Creates a bus with the memory backend, a re-entrant publish ring of queue_capacity events
 * (a power of two is not required) and room for max_subscribers. `now` gives ts_engine
 * (NULL: leave ts_engine as published). NULL on ENOMEM. */
sv_bus_t *sv_bus_new(uint32_t queue_capacity, uint32_t max_subscribers,
                     int64_t (*now)(void *ud), void *now_ud);
/* Destroys the bus and its attached backend. */
void sv_bus_free(sv_bus_t *bus);

/* Attaches a backend (replacing none); the bus owns it and destroys it. SV_E_EXISTS if one is
 * attached already. */
int sv_bus_attach(sv_bus_t *bus, const sv_bus_backend_t *backend);
/* Name of the attached backend ("memory" when none). */
const char *sv_bus_backend_name(const sv_bus_t *bus);

/* Subscribes fn to the kinds in kind_mask. Returns a subscription id (> 0) or SV_E_FULL. */
int sv_bus_subscribe(sv_bus_t *bus, uint32_t kind_mask, sv_bus_fn fn, void *ud);
/* Removes a subscription (safe during delivery: it receives nothing further). */
int sv_bus_unsubscribe(sv_bus_t *bus, int id);

/* Stamps ev (seq, ts_engine) and delivers it, or queues it when called during a delivery or
 * a hold. Returns 0, SV_E_INVAL (bad kind) or SV_E_FULL (ring full; the event is refused and
 * counted). The caller's struct is updated with the stamped header. */
int sv_bus_publish(sv_bus_t *bus, sv_event_t *ev);

/* Opens / closes a scope in which publishes are queued; closing the outermost scope delivers
 * the queue. Scopes nest. */
void sv_bus_hold(sv_bus_t *bus);
void sv_bus_release(sv_bus_t *bus);

/* Sequence number the next event will get. */
uint64_t sv_bus_next_seq(const sv_bus_t *bus);
void sv_bus_stats(const sv_bus_t *bus, sv_bus_stats_t *out);

#endif
