/* bus_redis: the Redis Streams writer: buffer on publish, pipelined XADD on the loop, and a
 * resync after each lost connection so that no event is lost or written twice.
 *
 * Phases: WAIT (no usable connection), SYNC (reading stream tails: where each stream ended
 * when we first connected, then, after an outage, which of the events in flight made it),
 * RUN (flushing). The flush runs in a uv_prepare handle, so every turn of the loop (a paced
 * replay's wait, the fast replay's periodic NOWAIT turn, a consumer's read) sends what has
 * been buffered since the last turn. */
#define _POSIX_C_SOURCE 200809L
#include "bus_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "evbuf.h"

enum { P_WAIT = 0, P_SYNC = 1, P_RUN = 2 };
enum { SCAN_PAGE = 1000, ID_LEN = 48, MAX_ERROR_LOGS = 10 };
enum { F_ASK = 1,  /* redirected by -ASK: send again to ask_node, after ASKING */
       F_LOST = 2  /* was in flight when its connection was lost: maybe written */ };

static const char *const stream_names[SV_REDIS_STREAMS] = {"market_data", "signal", "order", "fill",
                                                           "timer",       "alert",  "position"};

struct sv_bus_redis {
    sv_redis_options_t o;
    char host[256], password[512], prefix[128];
    char node_text[SV_REDIS_MAX_NODES][280];
    char src[128];
    size_t src_len;
    uv_loop_t *loop;
    sv_log_t *log;
    sv_event_names_t names;
    sv_evbuf_t *buf;
    sv_redis_client_t *client;
    uv_prepare_t prep;
    int prep_ok;

    /* per stream: key, RESP header of an XADD, last acknowledged id, id at first connect */
    char key[SV_REDIS_STREAMS][160];
    size_t key_len[SV_REDIS_STREAMS];
    char head[SV_EV_KIND_COUNT][400]; /* per kind: the field count differs */
    size_t head_len[SV_EV_KIND_COUNT];
    uint32_t nfields[SV_EV_KIND_COUNT];
    char last_id[SV_REDIS_STREAMS][ID_LEN];
    char floor_id[SV_REDIS_STREAMS][ID_LEN];
    int floor_known;
    uint8_t unsure[SV_REDIS_STREAMS];  /* events in flight were lost with a connection */
    int phase;
    int pending;               /* SYNC replies outstanding */
    uintptr_t sync_gen;        /* which sync a reply belongs to */
    uint8_t sync_ask[SV_REDIS_STREAMS]; /* a sync read to send again to ask_node: 1 floor, 2 scan */
    char scan_from[SV_REDIS_STREAMS][ID_LEN];

    uint8_t *flags; /* per buffer slot: F_ASK, F_LOST */
    int ask_node;
    char *cmd;
    size_t cmd_cap;
    int barrier; /* after a redirect: send nothing until every reply in flight is in (order) */
    int in_block, closing, shut;
    uint32_t error_logs;
    sv_bus_redis_stats_t st;
};

/* ---- options ---- */

void sv_redis_options_default(sv_redis_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 6379;
    o->prefix = "silvertine";
    o->maxlen = 1000000;
    o->buffer = 65536;
    o->overflow = SV_OVERFLOW_BLOCK;
    o->on_down = SV_REDIS_ON_DOWN_FAIL;
    o->timeout_ms = 5000;
    o->backoff_ms = 100;
    o->backoff_max_ms = 5000;
    o->pipeline = 1024;
    o->drain_ms = 5000;
    o->group = "silvertine";
    o->group_start = "$";
    o->claim_idle_ms = 30000;
    o->batch = 256;
}

static int cfg_error(const sv_cfg_node_t *n, sv_diag_t *d, const char *key, const char *why, const char *v)
{
    char where[1200];
    if (sv_cfg_where(n, where, sizeof where) != 0)
        snprintf(where, sizeof where, "bus.redis");
    return sv_diag_set(d, SV_E_CONFIG, "%s: bus.redis.%s: %s: '%s'", where, key, why, v);
}

int sv_redis_options_from_config(const sv_cfg_node_t *root, sv_redis_options_t *o, sv_diag_t *d)
{
    static const char *const overflow[] = {"block", "drop_oldest", "halt"};
    sv_redis_options_default(o);
    const sv_cfg_node_t *r = sv_cfg_get(root, "bus.redis");
    o->host = sv_cfg_str(r, "host", o->host);
    o->port = (int)sv_cfg_int(r, "port", o->port);
    o->password = sv_cfg_str(r, "password", "");
    o->db = (int)sv_cfg_int(r, "db", 0);
    o->prefix = sv_cfg_str(r, "prefix", o->prefix);
    o->maxlen = (uint64_t)sv_cfg_int(r, "maxlen", (int64_t)o->maxlen);
    o->buffer = (uint32_t)sv_cfg_int(r, "buffer", o->buffer);
    const char *ov = sv_cfg_str(r, "overflow", "block");
    for (int i = 0; i < 3; i++)
        if (!strcmp(ov, overflow[i]))
            o->overflow = i;
    o->on_down = !strcmp(sv_cfg_str(r, "on_down", "fail"), "wait") ? SV_REDIS_ON_DOWN_WAIT : SV_REDIS_ON_DOWN_FAIL;
    o->timeout_ms = (uint32_t)sv_cfg_int(r, "timeout_ms", o->timeout_ms);
    o->backoff_ms = (uint32_t)sv_cfg_int(r, "backoff_ms", o->backoff_ms);
    o->backoff_max_ms = (uint32_t)sv_cfg_int(r, "backoff_max_ms", o->backoff_max_ms);
    o->pipeline = (uint32_t)sv_cfg_int(r, "pipeline", o->pipeline);
    o->drain_ms = (uint32_t)sv_cfg_int(r, "drain_ms", o->drain_ms);
    o->cluster = sv_cfg_bool(r, "cluster", 0);
    o->group = sv_cfg_str(r, "group", o->group);
    o->consumer = sv_cfg_str(r, "consumer", "");
    o->group_start = sv_cfg_str(r, "group_start", o->group_start);
    o->claim_idle_ms = (uint32_t)sv_cfg_int(r, "claim_idle_ms", o->claim_idle_ms);
    o->batch = (uint32_t)sv_cfg_int(r, "batch", o->batch);

    const sv_cfg_node_t *p = sv_cfg_get(r, "prefix");
    if (!o->prefix[0] || strpbrk(o->prefix, "{} \t\r\n"))
        return cfg_error(p ? p : r, d, "prefix", "must be non-empty, without braces or spaces (it becomes the "
                         "hash tag of {prefix}:<stream>)", o->prefix);
    if (strlen(o->prefix) > 100)
        return cfg_error(p, d, "prefix", "longer than 100 characters", o->prefix);
    if (o->backoff_max_ms < o->backoff_ms)
        return cfg_error(sv_cfg_get(r, "backoff_max_ms"), d, "backoff_max_ms", "must be >= backoff_ms",
                         sv_cfg_raw(sv_cfg_get(r, "backoff_max_ms")));
    const sv_cfg_node_t *nodes = sv_cfg_get(r, "nodes");
    for (size_t i = 0; i < sv_cfg_len(nodes); i++) {
        const sv_cfg_node_t *n = sv_cfg_at(nodes, i);
        const char *a = sv_cfg_str(n, NULL, "");
        const char *colon = strrchr(a, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        char key[32];
        snprintf(key, sizeof key, "nodes.%zu", i);
        if (!colon || colon == a || !end || *end || port < 1 || port > 65535)
            return cfg_error(n, d, key, "expected host:port", a);
        if (o->n_nodes >= SV_REDIS_MAX_NODES - 1)
            return cfg_error(n, d, key, "too many nodes (at most 15)", a);
        o->nodes[o->n_nodes++] = a;
    }
    if ((o->cluster || o->n_nodes) && o->db != 0)
        return cfg_error(sv_cfg_get(r, "db"), d, "db", "a Redis Cluster has only db 0",
                         sv_cfg_raw(sv_cfg_get(r, "db")));
    const char *gs = o->group_start;
    int ok_start = !strcmp(gs, "$") || (gs[0] >= '0' && gs[0] <= '9' && strspn(gs, "0123456789-") == strlen(gs));
    if (!ok_start)
        return cfg_error(sv_cfg_get(r, "group_start"), d, "group_start", "expected $, 0 or a stream id", gs);
    return SV_OK;
}

/* ---- streams ---- */

const char *sv_redis_stream_name(int s) { return s >= 0 && s < SV_REDIS_STREAMS ? stream_names[s] : NULL; }

int sv_redis_stream_of(int kind)
{
    if (kind >= SV_EV_TRADE && kind <= SV_EV_DEPTH)
        return 0;
    if (kind >= SV_EV_SIGNAL && kind < SV_EV_KIND_COUNT)
        return kind - SV_EV_SIGNAL + 1;
    return -1;
}

int sv_redis_stream_key(const char *prefix, int stream, char *buf, size_t len)
{
    if (stream < 0 || stream >= SV_REDIS_STREAMS)
        return SV_E_INVAL;
    int n = snprintf(buf, len, "{%s}:%s", prefix, stream_names[stream]);
    return n < 0 || (size_t)n >= len ? SV_E_RANGE : n;
}

/* ---- RESP ---- */

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_bulk(char *p, const char *s, size_t len)
{
    *p++ = '$';
    p = put_u64(p, len);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* "*argc XADD key [MAXLEN ~ n] *" for a kind with nfields field/value pairs */
static void make_head(sv_bus_redis_t *w, int kind, uint32_t nfields)
{
    int s = sv_redis_stream_of(kind);
    uint32_t argc = 3 + (w->o.maxlen ? 3 : 0) + 2 * nfields;
    char *p = w->head[kind];
    *p++ = '*';
    p = put_u64(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    p = put_bulk(p, "XADD", 4);
    p = put_bulk(p, w->key[s], w->key_len[s]);
    if (w->o.maxlen) {
        char n[24];
        size_t nl = (size_t)(put_u64(n, w->o.maxlen) - n);
        p = put_bulk(p, "MAXLEN", 6);
        p = put_bulk(p, "~", 1);
        p = put_bulk(p, n, nl);
    }
    p = put_bulk(p, "*", 1);
    w->head_len[kind] = (size_t)(p - w->head[kind]);
}

static int add_src(sv_bus_redis_t *w, sv_event_fields_t *f)
{
    return sv_event_fields_add(f, "src", w->src, w->src_len);
}

/* Builds the XADD of ev in w->cmd. Returns its length, or a negative SV_E_* code. */
static long build_xadd(sv_bus_redis_t *w, const sv_event_t *ev)
{
    sv_event_fields_t f;
    int rc = sv_event_encode(ev, &w->names, &f);
    if (rc == SV_OK)
        rc = add_src(w, &f);
    if (rc)
        return rc;
    if (f.n != w->nfields[ev->h.kind])
        return SV_E_INVAL;
    size_t need = w->head_len[ev->h.kind];
    for (uint32_t i = 0; i < f.n; i++)
        need += (size_t)f.name_len[i] + f.value_len[i] + 32;
    if (need > w->cmd_cap) {
        char *p = realloc(w->cmd, need);
        if (!p)
            return SV_E_NOMEM;
        w->cmd = p;
        w->cmd_cap = need;
    }
    char *p = w->cmd;
    memcpy(p, w->head[ev->h.kind], w->head_len[ev->h.kind]);
    p += w->head_len[ev->h.kind];
    for (uint32_t i = 0; i < f.n; i++) {
        p = put_bulk(p, f.name[i], f.name_len[i]);
        p = put_bulk(p, f.value[i], f.value_len[i]);
    }
    return (long)(p - w->cmd);
}

/* ---- writing ---- */

static void flush(sv_bus_redis_t *w);
static void start_sync(sv_bus_redis_t *w);

static void log_rejected(sv_bus_redis_t *w, const sv_event_t *ev, const char *why)
{
    w->st.rejected++;
    if (w->error_logs < MAX_ERROR_LOGS || w->st.rejected % 10000 == 0) {
        w->error_logs++;
        sv_log_error(w->log, "redis writer", "%s event seq %llu not written: %s%s",
                     sv_event_kind_name(ev->h.kind), (unsigned long long)ev->h.seq, why,
                     w->error_logs == MAX_ERROR_LOGS ? " (further errors: one line per 10000)" : "");
    }
}

static void copy_id(char *dst, const char *id, size_t len)
{
    if (len >= ID_LEN)
        len = ID_LEN - 1;
    memcpy(dst, id, len);
    dst[len] = '\0';
}

static void on_xadd(redisAsyncContext *ac, void *reply, void *pd)
{
    sv_bus_redis_t *w = sv_redis_client_ud(ac);
    redisReply *r = reply;
    uint64_t pos = (uint64_t)(uintptr_t)pd;
    if (!w)
        return;
    sv_redis_client_touch(ac);
    if (w->closing)
        return;
    const sv_event_t *ev = sv_evbuf_at(w->buf, pos);
    uint8_t *fl = &w->flags[pos % sv_evbuf_capacity(w->buf)];
    if (!r) { /* the connection went with the command: written or not, the stream will tell */
        if (ev && sv_evbuf_nack(w->buf, pos)) {
            w->unsure[sv_redis_stream_of(ev->h.kind)] = 1;
            *fl = (uint8_t)(*fl | F_LOST);
        }
        if (w->phase == P_RUN && sv_redis_client_ready(w->client)) { /* an ASK node went away */
            w->barrier = 1;
            start_sync(w);
        }
        return;
    }
    if (!ev)
        return; /* dropped meanwhile */
    if (r->type == REDIS_REPLY_STRING) {
        copy_id(w->last_id[sv_redis_stream_of(ev->h.kind)], r->str, r->len);
        *fl = 0;
        sv_evbuf_ack(w->buf, pos);
        w->st.written++;
        return;
    }
    if (r->type != REDIS_REPLY_ERROR) {
        log_rejected(w, ev, "unexpected reply to XADD");
        sv_evbuf_ack(w->buf, pos);
        return;
    }
    int node;
    sv_evbuf_nack(w->buf, pos); /* before a redirect: it may make the client ready and flush */
    *fl = 0;
    w->st.resent++;
    /* after a redirect, the events behind this one in flight on the old node come back
     * redirected too: they all go again, in order, once their replies are in */
    switch (sv_redis_client_redirect(w->client, r, &node)) {
    case SV_REDIS_ASK:
        *fl = F_ASK;
        w->ask_node = node;
        w->barrier = 1;
        return;
    case SV_REDIS_MOVED:
        w->barrier = 1;
        return;
    default:
        break;
    }
    if (sv_redis_transient_error(r->str, r->len)) {
        char why[300];
        snprintf(why, sizeof why, "XADD: %s", r->str);
        sv_redis_client_reconnect(w->client, why);
        return;
    }
    w->st.resent--;
    char why[400];
    snprintf(why, sizeof why, "XADD %s: %s", w->key[sv_redis_stream_of(ev->h.kind)], r->str);
    log_rejected(w, ev, why);
    sv_evbuf_ack(w->buf, pos);
}

static void flush(sv_bus_redis_t *w)
{
    if (w->phase != P_RUN || w->closing)
        return;
    if (w->barrier) {
        if (sv_evbuf_inflight(w->buf))
            return;
        w->barrier = 0;
    }
    uint32_t cap = sv_evbuf_capacity(w->buf), sent = 0;
    while (sv_evbuf_inflight(w->buf) < w->o.pipeline) {
        uint64_t pos;
        const sv_event_t *ev = sv_evbuf_next(w->buf, &pos);
        if (!ev)
            break;
        long len = build_xadd(w, ev);
        if (len < 0) {
            log_rejected(w, ev, len == SV_E_RANGE ? "a text field is too long to encode" : sv_strerror((int)len));
            sv_evbuf_ack(w->buf, pos);
            continue;
        }
        int node = w->flags[pos % cap] & F_ASK ? w->ask_node : -1;
        if (sv_redis_client_send(w->client, node, on_xadd, (void *)(uintptr_t)pos, w->cmd, (size_t)len) != SV_OK) {
            sv_evbuf_nack(w->buf, pos);
            break;
        }
        sent++;
    }
    if (sent)
        sv_redis_client_write(w->client);
}

static void sync_resend(sv_bus_redis_t *w);

static void on_prepare(uv_prepare_t *h)
{
    sv_bus_redis_t *w = h->data;
    if (w->phase == P_SYNC)
        sync_resend(w);
    flush(w);
}

/* ---- resync: stream tails at first connect, and what made it after an outage ---- */

/* The buffer position holding seq (the buffer is in seq order), or UINT64_MAX. */
static uint64_t find_seq(sv_bus_redis_t *w, uint64_t seq)
{
    uint64_t lo = sv_evbuf_head(w->buf), hi = sv_evbuf_tail(w->buf);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const sv_event_t *ev = sv_evbuf_at(w->buf, mid);
        if (!ev) { /* acknowledged out of order: scan linearly around it */
            for (uint64_t p = lo; p < hi; p++)
                if ((ev = sv_evbuf_at(w->buf, p)) && ev->h.seq == seq)
                    return p;
            return UINT64_MAX;
        }
        if (ev->h.seq == seq)
            return mid;
        if (ev->h.seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT64_MAX;
}

static void sync_done(sv_bus_redis_t *w)
{
    uint32_t cap = sv_evbuf_capacity(w->buf);
    uint64_t again = 0;
    for (uint64_t p = sv_evbuf_head(w->buf); p < sv_evbuf_tail(w->buf); p++) {
        if (w->flags[p % cap] & F_LOST) {
            w->flags[p % cap] &= (uint8_t)~F_LOST;
            again++;
        }
    }
    w->st.resent += again;
    if (w->st.recovered || again)
        sv_log_info(w->log, "redis writer", "after the outage: %llu event(s) found written, %llu sent again",
                    (unsigned long long)w->st.recovered, (unsigned long long)again);
    w->phase = P_RUN;
    flush(w);
}

static void stream_synced(sv_bus_redis_t *w, int s)
{
    w->unsure[s] = 0;
    w->sync_ask[s] = 0;
    if (--w->pending == 0)
        sync_done(w);
}

/* privdata of a sync read: the generation of the sync (replies to an abandoned one are
 * ignored) and the stream */
static void *sync_pd(sv_bus_redis_t *w, int s) { return (void *)(uintptr_t)(w->sync_gen << 4 | (unsigned)s); }

static int sync_reply(sv_bus_redis_t *w, void *pd, int *s)
{
    uintptr_t v = (uintptr_t)pd;
    *s = (int)(v & 15);
    return w->phase == P_SYNC && (v >> 4) == w->sync_gen;
}

static void on_floor(redisAsyncContext *ac, void *reply, void *pd);
static void on_scan(redisAsyncContext *ac, void *reply, void *pd);

/* XREVRANGE key + - COUNT 1: where the stream ends before we write to it */
static int send_floor(sv_bus_redis_t *w, int s, int node)
{
    const char *argv[] = {"XREVRANGE", w->key[s], "+", "-", "COUNT", "1"};
    size_t lens[] = {9, w->key_len[s], 1, 1, 5, 1};
    return sv_redis_client_sendv(w->client, node, on_floor, sync_pd(w, s), 6, argv, lens);
}

/* XRANGE key (from + COUNT n, from scan_from[s] (empty: the whole stream) */
static int send_scan(sv_bus_redis_t *w, int s, int node)
{
    char start[ID_LEN + 1], count[16];
    snprintf(start, sizeof start, w->scan_from[s][0] ? "(%s" : "-", w->scan_from[s]);
    snprintf(count, sizeof count, "%d", SCAN_PAGE);
    const char *argv[] = {"XRANGE", w->key[s], start, "+", "COUNT", count};
    size_t lens[] = {6, w->key_len[s], strlen(start), 1, 5, strlen(count)};
    return sv_redis_client_sendv(w->client, node, on_scan, sync_pd(w, s), 6, argv, lens);
}

/* Sync reads redirected by -ASK go to the node named, once it is connected (the loop's prepare
 * callback calls this until they are sent). */
static void sync_resend(sv_bus_redis_t *w)
{
    for (int s = 0; s < SV_REDIS_STREAMS && w->phase == P_SYNC; s++) {
        if (!w->sync_ask[s])
            continue;
        int rc = w->sync_ask[s] == 1 ? send_floor(w, s, w->ask_node) : send_scan(w, s, w->ask_node);
        if (rc == SV_OK)
            w->sync_ask[s] = 0;
    }
}

/* An error reply to a sync read. Returns 1 when it was handled (redirect, retry). */
static int sync_error(sv_bus_redis_t *w, const redisReply *r, int s, int what)
{
    int node;
    switch (sv_redis_client_redirect(w->client, r, &node)) {
    case SV_REDIS_ASK:
        w->ask_node = node;
        w->sync_ask[s] = (uint8_t)what;
        sync_resend(w);
        return 1;
    case SV_REDIS_MOVED: /* the client reconnects to the new owner; on_ready starts over */
        return 1;
    default:
        break;
    }
    if (sv_redis_transient_error(r->str, r->len)) {
        sv_redis_client_reconnect(w->client, r->str);
        return 1;
    }
    return 0;
}

static void on_scan(redisAsyncContext *ac, void *reply, void *pd)
{
    sv_bus_redis_t *w = sv_redis_client_ud(ac);
    redisReply *r = reply;
    int s;
    if (!w || !r)
        return;
    sv_redis_client_touch(ac);
    if (w->closing || !sync_reply(w, pd, &s))
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (sync_error(w, r, s, 2))
            return;
        sv_log_error(w->log, "redis writer", "XRANGE %s: %s: events in flight when the connection was lost "
                     "are sent again", w->key[s], r->str);
        stream_synced(w, s);
        return;
    }
    uint32_t cap = sv_evbuf_capacity(w->buf);
    const char *last = NULL;
    size_t last_len = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        last = e->element[0]->str;
        last_len = e->element[0]->len;
        redisReply *f = e->element[1];
        const char *seq = NULL;
        int mine = 0;
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            redisReply *n = f->element[k], *v = f->element[k + 1];
            if (n->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            if (n->len == 3 && !memcmp(n->str, "src", 3))
                mine = v->len == w->src_len && !memcmp(v->str, w->src, v->len);
            else if (n->len == 3 && !memcmp(n->str, "seq", 3))
                seq = v->str;
        }
        if (!mine || !seq)
            continue;
        uint64_t p = find_seq(w, strtoull(seq, NULL, 10));
        if (p != UINT64_MAX && (w->flags[p % cap] & F_LOST)) {
            w->flags[p % cap] = 0;
            sv_evbuf_ack(w->buf, p);
            w->st.written++;
            w->st.recovered++;
            copy_id(w->last_id[s], last, last_len);
        }
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == SCAN_PAGE && last) {
        copy_id(w->scan_from[s], last, last_len);
        send_scan(w, s, -1); /* on failure the connection is going: on_ready starts over */
        return;
    }
    stream_synced(w, s);
}

static void on_floor(redisAsyncContext *ac, void *reply, void *pd)
{
    sv_bus_redis_t *w = sv_redis_client_ud(ac);
    redisReply *r = reply;
    int s;
    if (!w || !r)
        return;
    sv_redis_client_touch(ac);
    if (w->closing || !sync_reply(w, pd, &s))
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (sync_error(w, r, s, 1))
            return;
        sv_log_error(w->log, "redis writer", "XREVRANGE %s: %s", w->key[s], r->str);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
               r->element[0]->elements > 0 && r->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        copy_id(w->floor_id[s], r->element[0]->element[0]->str, r->element[0]->element[0]->len);
    }
    w->sync_ask[s] = 0;
    if (--w->pending == 0) {
        w->floor_known = 1;
        start_sync(w);
    }
}

static void start_sync(sv_bus_redis_t *w)
{
    w->phase = P_SYNC;
    w->pending = 0;
    w->sync_gen = (w->sync_gen + 1) & (UINTPTR_MAX >> 4);
    memset(w->sync_ask, 0, sizeof w->sync_ask);
    if (!w->floor_known) {
        for (int s = 0; s < SV_REDIS_STREAMS; s++) {
            if (send_floor(w, s, -1) != SV_OK)
                return;
            w->pending++;
        }
        return;
    }
    for (int s = 0; s < SV_REDIS_STREAMS; s++) {
        if (!w->unsure[s])
            continue;
        snprintf(w->scan_from[s], ID_LEN, "%s", w->last_id[s][0] ? w->last_id[s] : w->floor_id[s]);
        if (send_scan(w, s, -1) != SV_OK)
            return;
        w->pending++;
    }
    if (w->pending == 0)
        sync_done(w);
}

static void on_ready(void *ud)
{
    sv_bus_redis_t *w = ud;
    w->st.connected = 1;
    start_sync(w);
}

static void on_down(void *ud, const char *why)
{
    sv_bus_redis_t *w = ud;
    (void)why;
    w->st.connected = 0;
    w->phase = P_WAIT;
    w->pending = 0;
}

/* ---- the backend ---- */

static int block_push(sv_bus_redis_t *w, const sv_event_t *ev)
{
    int rc = SV_E_FULL;
    if (w->in_block)
        return rc;
    w->in_block = 1;
    w->st.blocked++;
    uint64_t t0 = uv_hrtime();
    while ((rc = sv_evbuf_push(w->buf, ev)) == SV_E_FULL) {
        if (w->closing || sv_redis_client_fatal(w->client) || (w->o.stop && *w->o.stop)) {
            /* nobody will make room: keep the newest rather than stall a stopping engine */
            sv_evbuf_drop_oldest(w->buf);
            continue;
        }
        /* not uv_run(): publish() may be running inside a loop callback (a timer, a file
         * watch), where the loop must not be entered again; the client serves its sockets */
        if (w->phase == P_SYNC)
            sync_resend(w);
        flush(w);
        sv_redis_client_poll(w->client, 50);
    }
    w->st.blocked_ns += (int64_t)(uv_hrtime() - t0);
    w->in_block = 0;
    return rc;
}

static int publish(void *self, const sv_event_t *ev)
{
    sv_bus_redis_t *w = self;
    w->st.published++;
    if (w->closing)
        return SV_E_STATE;
    int rc = sv_evbuf_push(w->buf, ev);
    if (rc == SV_E_FULL && w->o.overflow == SV_OVERFLOW_BLOCK)
        rc = block_push(w, ev);
    if (rc == SV_OK) /* the slot may have held a dropped event's flags */
        w->flags[sv_evbuf_last_slot(w->buf)] = 0;
    else if (rc == SV_E_FULL && w->o.overflow == SV_OVERFLOW_HALT) {
        sv_log_error(w->log, "redis writer", "buffer full (%u events; Redis %s) and bus.redis.overflow is halt: "
                     "events are refused from now on and the engine is asked to stop",
                     sv_evbuf_capacity(w->buf), w->st.connected ? "too slow" : "unreachable");
        if (w->o.stop)
            *w->o.stop = 1;
    }
    return rc;
}

static void destroy(void *self) { sv_bus_redis_free(self); }

sv_bus_backend_t sv_bus_redis_backend(sv_bus_redis_t *w)
{
    sv_bus_backend_t b = {.name = "redis", .publish = publish, .destroy = destroy, .self = w};
    return b;
}

/* ---- life cycle ---- */

int sv_bus_redis_new(const sv_redis_options_t *o, uv_loop_t *loop, sv_log_t *log, const sv_event_names_t *names,
                     sv_bus_redis_t **out, sv_diag_t *d)
{
    *out = NULL;
    if (!o->buffer || !o->pipeline || !o->prefix || !o->prefix[0] || strlen(o->prefix) > 100 || !names ||
        !names->symbols || !names->texts)
        return sv_diag_set(d, SV_E_INVAL, "redis writer: bad options");
    sv_bus_redis_t *w = calloc(1, sizeof *w);
    if (!w)
        return sv_diag_set(d, SV_E_NOMEM, "redis writer: out of memory");
    w->o = *o;
    snprintf(w->host, sizeof w->host, "%s", o->host ? o->host : "127.0.0.1");
    snprintf(w->password, sizeof w->password, "%s", o->password ? o->password : "");
    snprintf(w->prefix, sizeof w->prefix, "%s", o->prefix);
    for (uint32_t i = 0; i < o->n_nodes && i < SV_REDIS_MAX_NODES; i++) {
        snprintf(w->node_text[i], sizeof w->node_text[i], "%s", o->nodes[i]);
        w->o.nodes[i] = w->node_text[i];
    }
    w->o.host = w->host;
    w->o.password = w->password;
    w->o.prefix = w->prefix;
    w->o.group = w->o.consumer = w->o.group_start = NULL;
    w->loop = loop;
    w->log = log;
    w->names = *names;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    w->src_len = (size_t)snprintf(w->src, sizeof w->src, "%s/%ld/%lld", host, (long)getpid(),
                                  (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    for (int s = 0; s < SV_REDIS_STREAMS; s++)
        w->key_len[s] = (size_t)sv_redis_stream_key(w->prefix, s, w->key[s], sizeof w->key[s]);
    for (int k = 1; k < SV_EV_KIND_COUNT; k++) {
        sv_event_t z;
        sv_event_fields_t f;
        memset(&z, 0, sizeof z);
        z.h.kind = (uint16_t)k;
        sv_event_encode(&z, &w->names, &f);
        w->nfields[k] = f.n + 1; /* + src */
        make_head(w, k, w->nfields[k]);
    }
    w->buf = sv_evbuf_new(o->buffer, o->overflow);
    w->flags = calloc(o->buffer, 1);
    w->cmd_cap = 4096;
    w->cmd = malloc(w->cmd_cap);
    w->prep_ok = uv_prepare_init(loop, &w->prep) == 0;
    if (!w->buf || !w->flags || !w->cmd || !w->prep_ok) {
        sv_bus_redis_free(w);
        return sv_diag_set(d, SV_E_NOMEM, "redis writer: out of memory");
    }
    w->prep.data = w;
    uv_prepare_start(&w->prep, on_prepare);
    sv_redis_client_options_t co = {
        .name = "redis writer", .host = w->host, .port = o->port, .nodes = w->o.nodes, .n_nodes = o->n_nodes,
        .password = w->password, .db = o->db, .cluster = o->cluster, .slot_key = w->key[0],
        .timeout_ms = o->timeout_ms, .backoff_ms = o->backoff_ms, .backoff_max_ms = o->backoff_max_ms,
        .log = log, .loop = loop, .on_ready = on_ready, .on_down = on_down, .ud = w};
    w->client = sv_redis_client_new(&co);
    if (!w->client) {
        sv_bus_redis_free(w);
        return sv_diag_set(d, SV_E_NOMEM, "redis writer: cannot create the client (bad node address?)");
    }
    int said = 0, rc = SV_OK;
    while (w->phase != P_RUN) {
        sv_redis_client_stats_t cs;
        sv_redis_client_stats(w->client, &cs);
        const char *fatal = sv_redis_client_fatal(w->client);
        if (fatal) {
            rc = sv_diag_set(d, SV_E_CONFIG, "redis writer: %s", fatal);
            break;
        }
        if (cs.failures && o->on_down == SV_REDIS_ON_DOWN_FAIL) {
            rc = sv_diag_set(d, SV_E_IO, "redis writer: cannot connect to Redis at %s (bus.redis.on_down is "
                             "fail; set it to wait to wait for Redis)", sv_redis_client_last_error(w->client));
            break;
        }
        if (cs.failures && !said) {
            sv_log_warn(log, "redis writer", "waiting for Redis at %s:%d (bus.redis.on_down: wait)", w->host, o->port);
            said = 1;
        }
        if (o->stop && *o->stop) {
            rc = sv_diag_set(d, SV_E_STATE, "redis writer: stopped while waiting for Redis (%s)",
                             sv_redis_client_last_error(w->client));
            break;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    if (rc) {
        sv_bus_redis_free(w);
        return rc;
    }
    sv_log_info(log, "redis writer", "writing events to %s and {%s}:<kind> streams (writer %s)", w->key[0],
                w->prefix, w->src);
    *out = w;
    return SV_OK;
}

int sv_bus_redis_drain(sv_bus_redis_t *w, uint32_t timeout_ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000;
    while (sv_evbuf_size(w->buf) && !w->closing && !sv_redis_client_fatal(w->client)) {
        if (uv_hrtime() >= deadline)
            break;
        uv_run(w->loop, UV_RUN_ONCE);
    }
    return sv_evbuf_size(w->buf) ? SV_E_IO : SV_OK;
}

void sv_bus_redis_shutdown(sv_bus_redis_t *w)
{
    if (!w || w->shut)
        return;
    if (w->client && !w->closing && sv_evbuf_size(w->buf))
        sv_bus_redis_drain(w, w->o.drain_ms);
    sv_bus_redis_stats_t st;
    sv_bus_redis_stats(w, &st);
    int trouble = st.buffered || st.dropped || st.refused || st.rejected || st.outages;
    sv_log_write(w->log, trouble ? SV_LOG_WARN : SV_LOG_INFO, "redis writer",
                 "%llu events written to {%s}:<kind> (%llu published, %llu not written, %llu dropped, %llu refused, "
                 "%llu rejected by Redis; %llu outage(s), %.2f s; %llu blocked publish(es), %.3f s)",
                 (unsigned long long)st.written, w->prefix, (unsigned long long)st.published,
                 (unsigned long long)st.buffered, (unsigned long long)st.dropped, (unsigned long long)st.refused,
                 (unsigned long long)st.rejected, (unsigned long long)st.outages, (double)st.outage_ns / 1e9,
                 (unsigned long long)st.blocked, (double)st.blocked_ns / 1e9);
    w->closing = 1;
    sv_redis_client_free(w->client); /* pending XADDs get NULL replies, ignored now */
    w->client = NULL;
    if (w->prep_ok) {
        uv_prepare_stop(&w->prep);
        uv_close((uv_handle_t *)&w->prep, NULL);
    }
    w->shut = 1;
}

void sv_bus_redis_free(sv_bus_redis_t *w)
{
    if (!w)
        return;
    if (!w->shut) {
        sv_bus_redis_shutdown(w);
        uv_run(w->loop, UV_RUN_NOWAIT); /* the handle closes complete before w goes */
    }
    sv_evbuf_free(w->buf);
    free(w->flags);
    free(w->cmd);
    free(w);
}

void sv_bus_redis_stats(const sv_bus_redis_t *w, sv_bus_redis_stats_t *out)
{
    sv_evbuf_stats_t b;
    *out = w->st;
    sv_evbuf_stats(w->buf, &b);
    out->dropped = b.dropped;
    out->refused = w->o.overflow == SV_OVERFLOW_HALT ? b.refused : 0; /* block: retried until taken */
    out->buffered = b.size;
    out->max_buffered = b.max_size;
    out->halted = b.halted;
    if (w->client) {
        sv_redis_client_stats_t c;
        sv_redis_client_stats(w->client, &c);
        out->outages = c.outages;
        out->outage_ns = c.outage_ns;
        out->moved = c.moved;
        out->asked = c.asked;
    }
}

const char *sv_bus_redis_src(const sv_bus_redis_t *w) { return w->src; }
