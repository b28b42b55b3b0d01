/* replay: k-way merge of CSV sources by time, optional bar aggregation and pacing. */
#define _POSIX_C_SOURCE 200809L
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

typedef struct source {
    sv_md_reader_t *md;
    char path[1024];
    sv_event_t head;
    int has_head, done;
} source_t;

struct sv_replay {
    sv_engine_t *eng;
    uv_loop_t *loop;
    uv_timer_t tick; /* wakes the loop when the next event is due (paced replays) */
    int tick_ok;
    sv_replay_options_t o;
    source_t src[SV_REPLAY_MAX_SOURCES];
    uint32_t n;
    sv_bar_agg_t *agg;
    uint64_t events;
};

static void symbol_of(const char *spec, char *sym, size_t symlen, const char **path)
{
    const char *eq = strchr(spec, '=');
    if (eq && eq != spec) {
        snprintf(sym, symlen, "%.*s", (int)(eq - spec), spec);
        *path = eq + 1;
        return;
    }
    *path = spec;
    const char *base = strrchr(spec, '/');
    base = base ? base + 1 : spec;
    size_t k = strcspn(base, "-_.");
    snprintf(sym, symlen, "%.*s", (int)k, base);
}

int sv_replay_open(sv_engine_t *eng, const char *const *sources, uint32_t n,
                   const sv_replay_options_t *o, sv_replay_t **out, sv_diag_t *d)
{
    if (n == 0)
        return sv_diag_set(d, SV_E_INVAL, "no data files given (use --data FILE or data.files)");
    if (n > SV_REPLAY_MAX_SOURCES)
        return sv_diag_set(d, SV_E_RANGE, "too many data files (max %d)", SV_REPLAY_MAX_SOURCES);
    sv_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return sv_diag_set(d, SV_E_NOMEM, "replay: out of memory");
    r->eng = eng;
    r->o = *o;
    r->loop = sv_engine_loop(eng);
    r->tick_ok = uv_timer_init(r->loop, &r->tick) == 0;
    if (o->bar_interval_s) {
        r->agg = sv_bar_agg_new(o->bar_interval_s, 65536);
        if (!r->agg) {
            free(r);
            return sv_diag_set(d, SV_E_NOMEM, "replay: out of memory");
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        char sym[64];
        const char *path;
        symbol_of(sources[i], sym, sizeof sym, &path);
        uint32_t id = sv_engine_symbol(eng, sym);
        if (!id) {
            sv_replay_close(r);
            return sv_diag_set(d, SV_E_INVAL, "%s: cannot tell the symbol (name it: SYMBOL=%s)",
                               sources[i], sources[i]);
        }
        sv_md_options_t mo = {.policy = o->policy, .symbol = id, .from_ns = o->from_ns, .to_ns = o->to_ns};
        int rc = sv_md_open(path, &mo, &r->src[i].md, d);
        if (rc) {
            sv_replay_close(r);
            return rc;
        }
        snprintf(r->src[i].path, sizeof r->src[i].path, "%s", path);
        r->n = i + 1;
    }
    *out = r;
    return SV_OK;
}

void sv_replay_close(sv_replay_t *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++)
        sv_md_close(r->src[i].md);
    sv_bar_agg_free(r->agg);
    if (r->tick_ok) {
        uv_close((uv_handle_t *)&r->tick, NULL);
        uv_run(r->loop, UV_RUN_NOWAIT); /* let the close complete before r goes */
    }
    free(r);
}

static int peek(sv_replay_t *r, source_t *s, sv_diag_t *d)
{
    if (s->has_head || s->done)
        return SV_OK;
    int rc = sv_md_next(s->md, &s->head, d);
    if (rc < 0)
        return rc;
    if (rc == 0)
        s->done = 1;
    else
        s->has_head = 1;
    (void)r;
    return SV_OK;
}

/* Index of the source with the earliest head, or -1 when all are done. */
static int earliest(sv_replay_t *r, sv_diag_t *d, int *err)
{
    int best = -1;
    *err = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if ((*err = peek(r, &r->src[i], d)) != 0)
            return -1;
        if (r->src[i].has_head &&
            (best < 0 || r->src[i].head.h.ts_exchange < r->src[best].head.h.ts_exchange))
            best = (int)i;
    }
    return best;
}

int64_t sv_replay_first_time(sv_replay_t *r)
{
    int err;
    sv_diag_t d;
    int i = earliest(r, &d, &err);
    return i < 0 ? 0 : r->src[i].head.h.ts_exchange;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Waits until the event at data_ts is due at `speed` times real time. The wait is the loop's:
 * I/O (Redis, file changes) is served while the replay sleeps. */
static void pace(sv_replay_t *r, int64_t data_ts, int64_t *data0, int64_t *wall0)
{
    if (r->o.speed <= 0)
        return;
    if (*data0 == 0) {
        *data0 = data_ts;
        *wall0 = wall_ns();
        return;
    }
    int64_t due = *wall0 + (int64_t)((double)(data_ts - *data0) / r->o.speed);
    /* in slices, so a stop request is seen promptly */
    for (int64_t now = wall_ns(); now < due && !(r->o.stop && *r->o.stop); now = wall_ns()) {
        int64_t left = due - now;
        if (left > 100000000)
            left = 100000000;
        if (r->tick_ok) {
            uint64_t ms = (uint64_t)(left / 1000000);
            uv_timer_start(&r->tick, on_tick, ms, 0);
            uv_run(r->loop, UV_RUN_ONCE);
            if (ms == 0) { /* sub-millisecond: the loop's timer cannot wait that little */
                struct timespec ts = {0, left % 1000000};
                nanosleep(&ts, NULL);
            }
        } else {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void publish(sv_replay_t *r, sv_event_t *ev)
{
    sv_engine_feed(r->eng, ev);
    r->events++;
    if (r->o.after_event)
        r->o.after_event(r->o.after_ud, ev);
}

int sv_replay_run(sv_replay_t *r, sv_diag_t *d)
{
    int64_t data0 = 0, wall0 = 0;
    uint64_t next_progress = 0;
    for (;;) {
        if (r->o.stop && *r->o.stop)
            break;
        int err, i = earliest(r, d, &err);
        if (err)
            return err;
        if (i < 0)
            break;
        source_t *s = &r->src[i];
        s->has_head = 0;
        sv_event_t ev = s->head, bar;
        pace(r, ev.h.ts_exchange, &data0, &wall0);
        if (r->agg && ev.h.kind == SV_EV_TRADE && sv_bar_agg_add(r->agg, &ev, &bar) == 1) {
            /* the finished bar is due at its close time, before this trade */
            publish(r, &bar);
        }
        publish(r, &ev);
        if ((r->events & 4095) == 0)
            uv_run(r->loop, UV_RUN_NOWAIT); /* as fast as possible: still serve the loop's I/O */
        if (r->o.progress && r->events >= next_progress) {
            double f = 0;
            for (uint32_t k = 0; k < r->n; k++)
                f += sv_md_progress(r->src[k].md);
            r->o.progress(r->o.progress_ud, f / r->n, r->events);
            next_progress = r->events + 65536;
        }
    }
    if (r->agg) {
        sv_event_t bar;
        while (sv_bar_agg_flush(r->agg, &bar) == 1)
            publish(r, &bar);
    }
    if (r->o.progress)
        r->o.progress(r->o.progress_ud, 1.0, r->events);
    uv_run(r->loop, UV_RUN_NOWAIT);
    return SV_OK;
}

uint64_t sv_replay_events(const sv_replay_t *r) { return r->events; }

int sv_replay_source_stats(const sv_replay_t *r, uint32_t i, const char **path, sv_md_stats_t *st)
{
    if (i >= r->n)
        return SV_E_NOTFOUND;
    if (path)
        *path = r->src[i].path;
    sv_md_stats(r->src[i].md, st);
    return SV_OK;
}
