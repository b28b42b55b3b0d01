/* bus: synchronous in-process fan-out with a run-to-completion queue and an optional
 * mirroring backend. Subscriber lists per kind are fixed arrays built at subscribe time, so a
 * publish is a copy into the ring (when nested) and a loop of indirect calls. */
#include "bus.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct sub {
    int id; /* 0 = free */
    uint32_t mask;
    sv_bus_fn fn;
    void *ud;
} sub_t;

struct sv_bus {
    sub_t *subs;
    uint32_t max_subs, n_subs;
    uint16_t *by_kind[SV_EV_KIND_COUNT]; /* indexes into subs, in subscription order */
    uint32_t n_by_kind[SV_EV_KIND_COUNT];
    int next_id;

    sv_event_t *ring;
    uint32_t cap, head, count;
    int depth; /* > 0 while delivering or held */

    uint64_t seq;
    int64_t (*now)(void *);
    void *now_ud;
    sv_bus_backend_t backend;
    int has_backend;
    sv_bus_stats_t st;
};

sv_bus_t *sv_bus_new(uint32_t queue_capacity, uint32_t max_subscribers,
                     int64_t (*now)(void *ud), void *now_ud)
{
    sv_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (max_subscribers > 65535)
        max_subscribers = 65535;
    b->max_subs = max_subscribers;
    b->cap = queue_capacity ? queue_capacity : 1;
    b->subs = calloc(max_subscribers ? max_subscribers : 1, sizeof *b->subs);
    b->ring = calloc(b->cap, sizeof *b->ring);
    int ok = b->subs && b->ring;
    for (int k = 0; k < SV_EV_KIND_COUNT && ok; k++)
        ok = (b->by_kind[k] = calloc(max_subscribers ? max_subscribers : 1, sizeof(uint16_t))) != NULL;
    if (!ok) {
        sv_bus_free(b);
        return NULL;
    }
    b->now = now;
    b->now_ud = now_ud;
    b->next_id = 1;
    b->seq = 1;
    return b;
}

void sv_bus_free(sv_bus_t *b)
{
    if (!b)
        return;
    if (b->has_backend && b->backend.destroy)
        b->backend.destroy(b->backend.self);
    for (int k = 0; k < SV_EV_KIND_COUNT; k++)
        free(b->by_kind[k]);
    free(b->subs);
    free(b->ring);
    free(b);
}

int sv_bus_attach(sv_bus_t *b, const sv_bus_backend_t *backend)
{
    if (b->has_backend)
        return SV_E_EXISTS;
    if (!backend || !backend->publish)
        return SV_E_INVAL;
    b->backend = *backend;
    b->has_backend = 1;
    return SV_OK;
}

const char *sv_bus_backend_name(const sv_bus_t *b)
{
    return b->has_backend ? b->backend.name : "memory";
}

int sv_bus_subscribe(sv_bus_t *b, uint32_t kind_mask, sv_bus_fn fn, void *ud)
{
    if (!fn)
        return SV_E_INVAL;
    if (b->n_subs >= b->max_subs)
        return SV_E_FULL;
    uint32_t i = b->n_subs++;
    sub_t *s = &b->subs[i];
    s->id = b->next_id++;
    s->mask = kind_mask;
    s->fn = fn;
    s->ud = ud;
    /* the per-kind lists only ever grow at the end, so a delivery walking one stays valid */
    for (int k = 0; k < SV_EV_KIND_COUNT; k++)
        if (kind_mask & SV_BUS_MASK(k))
            b->by_kind[k][b->n_by_kind[k]++] = (uint16_t)i;
    return s->id;
}

int sv_bus_unsubscribe(sv_bus_t *b, int id)
{
    for (uint32_t i = 0; i < b->n_subs; i++) {
        if (b->subs[i].id == id) {
            /* keep the slot and its list entries, skipped from now on: compacting the lists
             * during a delivery would make it skip the subscriber after this one */
            b->subs[i].id = 0;
            b->subs[i].mask = 0;
            return SV_OK;
        }
    }
    return SV_E_NOTFOUND;
}

static void deliver(sv_bus_t *b, const sv_event_t *ev)
{
    unsigned k = ev->h.kind;
    const uint16_t *list = b->by_kind[k];
    for (uint32_t i = 0; i < b->n_by_kind[k]; i++) {
        const sub_t *s = &b->subs[list[i]];
        if (s->id) {
            s->fn(s->ud, ev);
            b->st.delivered++;
        }
    }
    if (b->has_backend && !(ev->h.flags & SV_EVF_REMOTE))
        if (b->backend.publish(b->backend.self, ev) != SV_OK)
            b->st.backend_errors++;
}

static void drain(sv_bus_t *b)
{
    while (b->count) {
        /* deliver from the ring slot itself: a nested publish writes to the tail, and the
         * ring never overwrites the head slot while it is in use (count includes it) */
        sv_event_t *ev = &b->ring[b->head];
        b->depth++;
        deliver(b, ev);
        b->depth--;
        b->head = (b->head + 1) % b->cap;
        b->count--;
    }
}

int sv_bus_publish(sv_bus_t *b, sv_event_t *ev)
{
    if (ev->h.kind == SV_EV_NONE || ev->h.kind >= SV_EV_KIND_COUNT)
        return SV_E_INVAL;
    if (b->depth > 0 && b->count >= b->cap) {
        b->st.queue_full++;
        return SV_E_FULL;
    }
    ev->h.seq = b->seq++;
    if (b->now)
        ev->h.ts_engine = b->now(b->now_ud);
    b->st.published++;
    if (b->depth > 0) {
        b->ring[(b->head + b->count) % b->cap] = *ev;
        b->count++;
        if (b->count > b->st.max_queue)
            b->st.max_queue = b->count;
        return SV_OK;
    }
    b->depth++;
    deliver(b, ev);
    b->depth--;
    drain(b);
    return SV_OK;
}

void sv_bus_hold(sv_bus_t *b) { b->depth++; }

void sv_bus_release(sv_bus_t *b)
{
    if (b->depth > 0 && --b->depth == 0)
        drain(b);
}

uint64_t sv_bus_next_seq(const sv_bus_t *b) { return b->seq; }

void sv_bus_stats(const sv_bus_t *b, sv_bus_stats_t *out) { *out = b->st; }
