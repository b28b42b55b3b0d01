/* evbuf: a ring of events with a state byte per slot (queued, in flight, acknowledged). */
#include "evbuf.h"

#include <stdlib.h>

#include "error.h"

enum { QUEUED = 0, INFLIGHT = 1, ACKED = 2 };

struct sv_evbuf {
    sv_event_t *ev;
    uint8_t *state;
    uint32_t cap;
    int policy;
    uint64_t head, tail;
    uint64_t next; /* no queued event before it */
    uint32_t last_slot; /* where the last push went */
    sv_evbuf_stats_t st;
};

sv_evbuf_t *sv_evbuf_new(uint32_t capacity, int policy)
{
    if (capacity == 0 || policy < SV_OVERFLOW_BLOCK || policy > SV_OVERFLOW_HALT)
        return NULL;
    sv_evbuf_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = capacity;
    b->policy = policy;
    b->ev = calloc(capacity, sizeof *b->ev);
    b->state = calloc(capacity, 1);
    if (!b->ev || !b->state) {
        sv_evbuf_free(b);
        return NULL;
    }
    return b;
}

void sv_evbuf_free(sv_evbuf_t *b)
{
    if (!b)
        return;
    free(b->ev);
    free(b->state);
    free(b);
}

static uint8_t *state(const sv_evbuf_t *b, uint64_t pos) { return &b->state[pos % b->cap]; }

/* moves the head past acknowledged events */
static void advance(sv_evbuf_t *b)
{
    while (b->head < b->tail && *state(b, b->head) == ACKED) {
        b->head++;
        b->st.acked++;
    }
    if (b->next < b->head)
        b->next = b->head;
}

int sv_evbuf_drop_oldest(sv_evbuf_t *b)
{
    if (b->head == b->tail)
        return 0;
    uint8_t *s = state(b, b->head);
    if (*s == INFLIGHT)
        b->st.inflight--;
    if (*s == ACKED)
        b->st.acked++;
    else
        b->st.dropped++;
    b->head++;
    advance(b);
    return 1;
}

int sv_evbuf_push(sv_evbuf_t *b, const sv_event_t *ev)
{
    if (b->st.halted) {
        b->st.refused++;
        return SV_E_STATE;
    }
    if (b->tail - b->head >= b->cap) {
        if (b->policy == SV_OVERFLOW_DROP_OLDEST) {
            sv_evbuf_drop_oldest(b);
        } else {
            b->st.refused++;
            if (b->policy == SV_OVERFLOW_HALT)
                b->st.halted = 1;
            return SV_E_FULL;
        }
    }
    uint32_t slot = (uint32_t)(b->tail % b->cap);
    b->last_slot = slot;
    b->ev[slot] = *ev;
    b->state[slot] = QUEUED;
    b->tail++;
    b->st.pushed++;
    uint32_t size = (uint32_t)(b->tail - b->head);
    if (size > b->st.max_size)
        b->st.max_size = size;
    return SV_OK;
}

const sv_event_t *sv_evbuf_next(sv_evbuf_t *b, uint64_t *pos)
{
    while (b->next < b->tail && *state(b, b->next) != QUEUED)
        b->next++;
    if (b->next >= b->tail)
        return NULL;
    *pos = b->next;
    *state(b, b->next) = INFLIGHT;
    b->st.inflight++;
    return &b->ev[b->next++ % b->cap];
}

const sv_event_t *sv_evbuf_at(const sv_evbuf_t *b, uint64_t pos)
{
    if (pos < b->head || pos >= b->tail || *state(b, pos) == ACKED)
        return NULL;
    return &b->ev[pos % b->cap];
}

int sv_evbuf_ack(sv_evbuf_t *b, uint64_t pos)
{
    if (pos < b->head || pos >= b->tail)
        return 0;
    uint8_t *s = state(b, pos);
    if (*s == ACKED)
        return 0;
    if (*s == INFLIGHT)
        b->st.inflight--;
    *s = ACKED;
    advance(b);
    return 1;
}

int sv_evbuf_nack(sv_evbuf_t *b, uint64_t pos)
{
    if (pos < b->head || pos >= b->tail)
        return 0;
    uint8_t *s = state(b, pos);
    if (*s == ACKED)
        return 0;
    if (*s == INFLIGHT)
        b->st.inflight--;
    *s = QUEUED;
    if (pos < b->next)
        b->next = pos;
    return 1;
}

void sv_evbuf_rewind(sv_evbuf_t *b)
{
    for (uint64_t p = b->head; p < b->tail && b->st.inflight; p++) {
        uint8_t *s = state(b, p);
        if (*s == INFLIGHT) {
            *s = QUEUED;
            b->st.inflight--;
        }
    }
    b->next = b->head;
}

uint64_t sv_evbuf_head(const sv_evbuf_t *b) { return b->head; }
uint64_t sv_evbuf_tail(const sv_evbuf_t *b) { return b->tail; }

int sv_evbuf_inflight_at(const sv_evbuf_t *b, uint64_t pos)
{
    return pos >= b->head && pos < b->tail && *state(b, pos) == INFLIGHT;
}

uint32_t sv_evbuf_inflight(const sv_evbuf_t *b) { return b->st.inflight; }
uint32_t sv_evbuf_size(const sv_evbuf_t *b) { return (uint32_t)(b->tail - b->head); }
uint32_t sv_evbuf_capacity(const sv_evbuf_t *b) { return b->cap; }
uint32_t sv_evbuf_last_slot(const sv_evbuf_t *b) { return b->last_slot; }

void sv_evbuf_stats(const sv_evbuf_t *b, sv_evbuf_stats_t *out)
{
    *out = b->st;
    out->size = (uint32_t)(b->tail - b->head);
}
