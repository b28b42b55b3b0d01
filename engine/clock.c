/* clock: real/simulated time and a deterministic timer heap (no allocation after creation). */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <stdlib.h>
#include <time.h>

#include "error.h"

typedef struct node {
    sv_clock_timer_t t;
    uint64_t order; /* tie-break: creation / re-arm order */
} node_t;

struct sv_clock {
    int simulated;
    int64_t now;
    uint32_t cap, n;
    int64_t next_id;
    uint64_t next_order;
    node_t *heap;
};

sv_clock_t *sv_clock_new(int simulated, uint32_t max_timers)
{
    sv_clock_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->heap = calloc(max_timers ? max_timers : 1, sizeof *c->heap);
    if (!c->heap) {
        free(c);
        return NULL;
    }
    c->simulated = simulated;
    c->cap = max_timers;
    c->next_id = 1;
    return c;
}

void sv_clock_free(sv_clock_t *c)
{
    if (c) {
        free(c->heap);
        free(c);
    }
}

int64_t sv_clock_now(const sv_clock_t *c)
{
    if (c->simulated)
        return c->now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sv_clock_set(sv_clock_t *c, int64_t ns)
{
    if (c->simulated && ns > c->now)
        c->now = ns;
}

int sv_clock_is_simulated(const sv_clock_t *c) { return c->simulated; }

static int before(const node_t *a, const node_t *b)
{
    return a->t.due < b->t.due || (a->t.due == b->t.due && a->order < b->order);
}

static void swap(node_t *a, node_t *b)
{
    node_t t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(sv_clock_t *c, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!before(&c->heap[i], &c->heap[p]))
            break;
        swap(&c->heap[i], &c->heap[p]);
        i = p;
    }
}

static void sift_down(sv_clock_t *c, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n && before(&c->heap[l], &c->heap[m]))
            m = l;
        if (r < c->n && before(&c->heap[r], &c->heap[m]))
            m = r;
        if (m == i)
            return;
        swap(&c->heap[i], &c->heap[m]);
        i = m;
    }
}

static void remove_at(sv_clock_t *c, uint32_t i)
{
    c->heap[i] = c->heap[--c->n];
    if (i < c->n) {
        sift_down(c, i);
        sift_up(c, i);
    }
}

int64_t sv_clock_timer_add(sv_clock_t *c, int64_t due, int64_t period, uint64_t cookie)
{
    if (period < 0)
        return SV_E_INVAL;
    if (c->n >= c->cap)
        return SV_E_FULL;
    node_t *nd = &c->heap[c->n];
    nd->t.id = c->next_id++;
    nd->t.due = due;
    nd->t.period = period;
    nd->t.cookie = cookie;
    nd->order = c->next_order++;
    sift_up(c, c->n++);
    return c->next_id - 1;
}

int sv_clock_timer_cancel(sv_clock_t *c, int64_t id)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->heap[i].t.id == id) {
            remove_at(c, i);
            return SV_OK;
        }
    }
    return SV_E_NOTFOUND;
}

int sv_clock_timer_cancel_owned(sv_clock_t *c, int64_t id, uint64_t cookie)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->heap[i].t.id == id) {
            if (c->heap[i].t.cookie != cookie)
                return SV_E_NOTFOUND;
            remove_at(c, i);
            return SV_OK;
        }
    }
    return SV_E_NOTFOUND;
}

int sv_clock_timer_cancel_cookie(sv_clock_t *c, uint64_t cookie)
{
    int k = 0;
    for (uint32_t i = 0; i < c->n;) {
        if (c->heap[i].t.cookie == cookie) {
            remove_at(c, i);
            k++;
        } else {
            i++;
        }
    }
    return k;
}

int sv_clock_timer_pop_due(sv_clock_t *c, int64_t now, sv_clock_timer_t *out)
{
    if (c->n == 0 || c->heap[0].t.due > now)
        return 0;
    *out = c->heap[0].t;
    if (out->period > 0) {
        c->heap[0].t.due += out->period;
        c->heap[0].order = c->next_order++;
        sift_down(c, 0);
    } else {
        remove_at(c, 0);
    }
    return 1;
}

int64_t sv_clock_timer_next(const sv_clock_t *c) { return c->n ? c->heap[0].t.due : INT64_MAX; }
