/* evbuf: a bounded FIFO of events on their way out of the process, kept until acknowledged.
 *
 * The Redis writer copies each event here on the trading path (a 128-byte copy; nothing is
 * allocated after creation) and sends from here on the loop. An event stays until the far
 * end acknowledges it, so a lost connection loses nothing: rewinding marks every event in
 * flight as to be sent again, in the original order. Positions are 64-bit counters that only
 * grow; pos % capacity is the slot. Acknowledgements may come out of order (a redirected
 * write); the head only moves past a contiguous run of acknowledged events.
 *
 * When the buffer is full, the overflow policy decides: block (push fails with SV_E_FULL, the
 * caller makes room by serving its I/O and pushes again), drop_oldest (the oldest event is
 * dropped, counted, and the push succeeds) or halt (push fails with SV_E_FULL and every later
 * push with SV_E_STATE). */
#ifndef SV_EVBUF_H
#define SV_EVBUF_H

#include <stdint.h>

#include "abi.h"

typedef enum sv_overflow { SV_OVERFLOW_BLOCK = 0, SV_OVERFLOW_DROP_OLDEST = 1, SV_OVERFLOW_HALT = 2 } sv_overflow_t;

typedef struct sv_evbuf sv_evbuf_t;

typedef struct sv_evbuf_stats {
    uint64_t pushed;   /* events accepted */
    uint64_t acked;    /* events acknowledged (left the buffer) */
    uint64_t dropped;  /* events dropped by drop_oldest */
    uint64_t refused;  /* pushes refused (block: until room was made; halt) */
    uint32_t size;     /* events held now */
    uint32_t inflight; /* events sent and not yet acknowledged */
    uint32_t max_size; /* high-water mark */
    int halted;
} sv_evbuf_stats_t;

/* Creates a buffer for capacity (>= 1) events under policy. NULL on ENOMEM or bad arguments. */
sv_evbuf_t *sv_evbuf_new(uint32_t capacity, int policy);
void sv_evbuf_free(sv_evbuf_t *b);

/* Copies ev in. Returns 0; SV_E_FULL when full under block or halt (halt: halted from now
 * on); SV_E_STATE when halted. */
int sv_evbuf_push(sv_evbuf_t *b, const sv_event_t *ev);

/* The next event to send: sets *pos, marks it in flight and returns it; NULL when every held
 * event is in flight or acknowledged. */
const sv_event_t *sv_evbuf_next(sv_evbuf_t *b, uint64_t *pos);
/* The event at pos, or NULL when it has left the buffer (acknowledged or dropped). */
const sv_event_t *sv_evbuf_at(const sv_evbuf_t *b, uint64_t pos);

/* The event at pos was written. Returns 1, or 0 when it had already left the buffer. */
int sv_evbuf_ack(sv_evbuf_t *b, uint64_t pos);
/* The event at pos was not written: it is sent again, before any event after it. Returns 1,
 * or 0 when it had already left the buffer. */
int sv_evbuf_nack(sv_evbuf_t *b, uint64_t pos);
/* Every event in flight goes back to be sent again (the connection was lost). */
void sv_evbuf_rewind(sv_evbuf_t *b);

/* Positions: head (oldest held) and tail (next pushed); held events are [head, tail). */
uint64_t sv_evbuf_head(const sv_evbuf_t *b);
uint64_t sv_evbuf_tail(const sv_evbuf_t *b);
/* 1 when the event at pos (in [head, tail)) is in flight. */
int sv_evbuf_inflight_at(const sv_evbuf_t *b, uint64_t pos);
/* Drops the oldest held event (counted); used when a stop request ends a blocked push. */
int sv_evbuf_drop_oldest(sv_evbuf_t *b);
/* Events in flight now. */
uint32_t sv_evbuf_inflight(const sv_evbuf_t *b);
/* Events held now. */
uint32_t sv_evbuf_size(const sv_evbuf_t *b);
/* The capacity given at creation. */
uint32_t sv_evbuf_capacity(const sv_evbuf_t *b);
/* The slot (pos % capacity) of the last event pushed, for callers that keep per-slot state. */
uint32_t sv_evbuf_last_slot(const sv_evbuf_t *b);
void sv_evbuf_stats(const sv_evbuf_t *b, sv_evbuf_stats_t *out);

#endif
