/* redis_source: XREADGROUP / XACK / XPENDING + XCLAIM, or XRANGE pages, decoded in reply
 * callbacks into a bounded queue that sv_redis_source_run() feeds to the engine.
 *
 * At most one read (or claim) is in flight, and only when the queue is empty and every
 * acknowledgement has been sent: an XACK always reaches Redis before the next read on the
 * same connection, so a read of the consumer's own pending entries never returns an entry
 * that was processed already. Acknowledgements lost with a connection are sent again first
 * thing after reconnecting. */
#define _POSIX_C_SOURCE 200809L
#include "redis_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>


enum { ID_LEN = 48, BLOCK_MS = 100, MAX_SKIP_LOGS = 20 };

typedef struct entry {
    sv_event_t ev;
    char id[ID_LEN];
} entry_t;

struct sv_redis_source {
    sv_engine_t *eng;
    uv_loop_t *loop;
    sv_log_t *log;
    sv_event_names_t names;
    sv_redis_options_t ro;
    sv_redis_source_options_t so;
    char host[256], password[512], prefix[128], group[128], consumer[128], group_start[48];
    char node_text[SV_REDIS_MAX_NODES][280];
    char key[160];
    size_t key_len;
    char from[ID_LEN], to[ID_LEN];
    const char *name; /* log component */
    sv_redis_client_t *client;
    uv_timer_t claim_timer;
    int claim_timer_ok;

    int ready;        /* connected (and, in group mode, joined) */
    int joining;      /* XGROUP CREATE in flight */
    int fetching;     /* a read or claim in flight */
    int backlog;      /* group: reading the consumer's own pending entries */
    int started;      /* range: the first page was asked for */
    char cursor[ID_LEN];
    int range_done;
    int claim_due;
    int ask_node;     /* >= 0: send the next fetch there (an -ASK redirect) */
    int failed;       /* an error that ends the run */
    char error[600];

    entry_t *q;
    uint32_t qcap, qn, qhead;
    char (*acks)[ID_LEN];
    uint32_t ack_cap, n_ack, n_ack_inflight;
    uint64_t last_entry; /* uv_hrtime() of the last entry read */
    uint32_t skip_logs;
    sv_redis_source_stats_t st;
};

static void copy_id(char *dst, const char *id, size_t len)
{
    if (len >= ID_LEN)
        len = ID_LEN - 1;
    memcpy(dst, id, len);
    dst[len] = '\0';
}

static void fail(sv_redis_source_t *s, const char *what, const char *err)
{
    if (!s->failed) {
        s->failed = 1;
        snprintf(s->error, sizeof s->error, "%s: %.200s %.120s: %.200s", s->name, what, s->key, err);
        sv_log_error(s->log, s->name, "%s %s: %s", what, s->key, err);
    }
}

/* ---- acknowledgements ---- */

static void send_acks(sv_redis_source_t *s);

static void on_ack(redisAsyncContext *ac, void *reply, void *pd)
{
    sv_redis_source_t *s = sv_redis_client_ud(ac);
    redisReply *r = reply;
    (void)pd;
    if (!s)
        return;
    if (!r) { /* lost: sent again after reconnecting */
        s->n_ack_inflight = 0;
        return;
    }
    sv_redis_client_touch(ac);
    if (r->type == REDIS_REPLY_ERROR) {
        sv_log_error(s->log, s->name, "XACK %s: %s (%u entries stay pending)", s->key, r->str, s->n_ack_inflight);
    } else {
        s->st.acked += s->n_ack_inflight;
    }
    uint32_t done = s->n_ack_inflight;
    memmove(s->acks, s->acks + done, (size_t)(s->n_ack - done) * ID_LEN);
    s->n_ack -= done;
    s->n_ack_inflight = 0;
    if (s->n_ack)
        send_acks(s);
}

static void send_acks(sv_redis_source_t *s)
{
    if (!s->ready || s->n_ack_inflight || !s->n_ack)
        return;
    uint32_t n = s->n_ack;
    const char **argv = malloc(sizeof *argv * (n + 3));
    size_t *lens = malloc(sizeof *lens * (n + 3));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return;
    }
    argv[0] = "XACK", lens[0] = 4;
    argv[1] = s->key, lens[1] = s->key_len;
    argv[2] = s->group, lens[2] = strlen(s->group);
    for (uint32_t i = 0; i < n; i++)
        argv[3 + i] = s->acks[i], lens[3 + i] = strlen(s->acks[i]);
    if (sv_redis_client_sendv(s->client, -1, on_ack, NULL, (int)n + 3, argv, lens) == SV_OK)
        s->n_ack_inflight = n;
    free(argv);
    free(lens);
}

static void ack_later(sv_redis_source_t *s, const char *id)
{
    if (s->so.mode != SV_REDIS_READ_GROUP)
        return;
    if (s->n_ack == s->ack_cap) {
        uint32_t cap = s->ack_cap * 2;
        char(*p)[ID_LEN] = realloc(s->acks, (size_t)cap * ID_LEN);
        if (!p)
            return; /* stays pending; claimed or re-read later */
        s->acks = p;
        s->ack_cap = cap;
    }
    snprintf(s->acks[s->n_ack++], ID_LEN, "%s", id);
}

/* ---- entries ---- */

static void skip(sv_redis_source_t *s, const char *id, const char *why)
{
    s->st.skipped++;
    if (s->skip_logs < MAX_SKIP_LOGS || s->st.skipped % 10000 == 0) {
        s->skip_logs++;
        sv_log_warn(s->log, s->name, "%s %s: %s; entry skipped (%llu so far)%s", s->key, id, why,
                    (unsigned long long)s->st.skipped,
                    s->skip_logs == MAX_SKIP_LOGS ? "; further skips: one line per 10000" : "");
    }
    ack_later(s, id);
}

/* Decodes an array of [id, [field, value, ...]] entries into the queue. Returns the last id. */
static const redisReply *take(sv_redis_source_t *s, const redisReply *arr)
{
    const redisReply *last = NULL;
    for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements; i++) {
        const redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        last = e->element[0];
        char id[ID_LEN];
        copy_id(id, last->str, last->len);
        s->st.entries++;
        s->last_entry = uv_hrtime();
        const redisReply *f = e->element[1];
        if (f->type != REDIS_REPLY_ARRAY) { /* pending but trimmed away */
            skip(s, id, "the entry no longer exists (trimmed by MAXLEN?)");
            continue;
        }
        enum { MAXF = 64 };
        const char *names[MAXF], *values[MAXF];
        size_t nl[MAXF], vl[MAXF], n = 0;
        for (size_t k = 0; k + 1 < f->elements && n < MAXF; k += 2, n++) {
            names[n] = f->element[k]->str ? f->element[k]->str : "";
            nl[n] = f->element[k]->str ? f->element[k]->len : 0;
            values[n] = f->element[k + 1]->str ? f->element[k + 1]->str : "";
            vl[n] = f->element[k + 1]->str ? f->element[k + 1]->len : 0;
        }
        if (s->qn >= s->qcap) { /* cannot happen: reads ask for at most qcap entries */
            skip(s, id, "the read queue is full");
            continue;
        }
        entry_t *q = &s->q[s->qn];
        char err[256];
        if (sv_event_decode(n, names, nl, values, vl, &s->names, &q->ev, err, sizeof err) != SV_OK) {
            skip(s, id, err);
            continue;
        }
        if (!s->so.on_event && !sv_event_is_market(q->ev.h.kind)) {
            char why[128];
            snprintf(why, sizeof why, "kind '%s' is not market data", sv_event_kind_name(q->ev.h.kind));
            skip(s, id, why);
            continue;
        }
        if (s->so.mode == SV_REDIS_READ_RANGE)
            q->ev.h.flags |= SV_EVF_REPLAY;
        memcpy(q->id, id, sizeof id);
        s->qn++;
    }
    return last;
}

static int handle_error(sv_redis_source_t *s, const redisReply *r, const char *what)
{
    int node;
    switch (sv_redis_client_redirect(s->client, r, &node)) {
    case SV_REDIS_ASK: s->ask_node = node; return 1;
    case SV_REDIS_MOVED: return 1;
    default: break;
    }
    if (sv_redis_transient_error(r->str, r->len)) {
        sv_redis_client_reconnect(s->client, r->str);
        return 1;
    }
    if (!strncmp(r->str, "NOGROUP", 7)) { /* the stream or the group went away (a restart without
                                           * persistence): join again */
        sv_log_warn(s->log, s->name, "%s %s: %s; creating the group again", what, s->key, r->str);
        sv_redis_client_reconnect(s->client, "the consumer group is gone");
        return 1;
    }
    fail(s, what, r->str);
    return 0;
}

/* The common start of the fetch replies (XREADGROUP/XRANGE, XCLAIM, XPENDING): the source, or
 * NULL when there is nothing more to do (source gone, connection lost, error handled). */
static sv_redis_source_t *fetch_reply(redisAsyncContext *ac, redisReply *r, const char *what)
{
    sv_redis_source_t *s = sv_redis_client_ud(ac);
    if (!s)
        return NULL;
    s->fetching = 0;
    if (!r)
        return NULL;
    sv_redis_client_touch(ac);
    if (r->type == REDIS_REPLY_ERROR) {
        handle_error(s, r, what ? what : s->so.mode == SV_REDIS_READ_RANGE ? "XRANGE" : "XREADGROUP");
        return NULL;
    }
    return s;
}

static void on_read(redisAsyncContext *ac, void *reply, void *pd)
{
    redisReply *r = reply;
    (void)pd;
    sv_redis_source_t *s = fetch_reply(ac, r, NULL);
    if (!s)
        return;
    if (s->so.mode == SV_REDIS_READ_RANGE) {
        const redisReply *last = take(s, r);
        if (last) {
            copy_id(s->cursor, last->str, last->len);
            s->started = 1; /* later pages start after the cursor */
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < s->qcap)
            s->range_done = 1;
        return;
    }
    /* XREADGROUP: nil on timeout, else [[key, [entries]]] */
    const redisReply *entries = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements > 1)
        entries = r->element[0]->element[1];
    const redisReply *last = take(s, entries);
    if (s->backlog) {
        if (last)
            copy_id(s->cursor, last->str, last->len);
        else {
            s->backlog = 0; /* every entry pending for this consumer was read */
            if (s->st.entries)
                sv_log_info(s->log, s->name, "%s: resumed from the entries pending for consumer '%s'", s->key,
                            s->consumer);
        }
    }
}

static void on_claim(redisAsyncContext *ac, void *reply, void *pd)
{
    redisReply *r = reply;
    (void)pd;
    sv_redis_source_t *s = fetch_reply(ac, r, "XCLAIM");
    if (!s)
        return;
    uint32_t before = s->qn;
    take(s, r);
    s->st.claimed += r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements)
        sv_log_warn(s->log, s->name, "%s: claimed %zu entr%s idle for more than %u ms from a consumer that "
                    "stopped acknowledging (%u to process)", s->key, r->elements, r->elements == 1 ? "y" : "ies",
                    s->ro.claim_idle_ms, s->qn - before);
}

static void on_pending(redisAsyncContext *ac, void *reply, void *pd)
{
    redisReply *r = reply;
    (void)pd;
    sv_redis_source_t *s = fetch_reply(ac, r, "XPENDING");
    if (!s)
        return;
    /* [[id, consumer, idle ms, deliveries], ...]: claim the ones of other consumers */
    size_t n = 0, cl = strlen(s->consumer);
    const char *argv[5 + 1024];
    size_t lens[5 + 1024];
    char idle[24];
    snprintf(idle, sizeof idle, "%u", s->ro.claim_idle_ms);
    argv[0] = "XCLAIM", lens[0] = 6;
    argv[1] = s->key, lens[1] = s->key_len;
    argv[2] = s->group, lens[2] = strlen(s->group);
    argv[3] = s->consumer, lens[3] = cl;
    argv[4] = idle, lens[4] = strlen(idle);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n < 1024 && n < s->qcap; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING)
            continue;
        if (e->element[1]->len == cl && !memcmp(e->element[1]->str, s->consumer, cl))
            continue;
        argv[5 + n] = e->element[0]->str, lens[5 + n] = e->element[0]->len;
        n++;
    }
    s->claim_due = r->type == REDIS_REPLY_ARRAY && r->elements >= s->qcap; /* more may wait */
    if (n && sv_redis_client_sendv(s->client, -1, on_claim, NULL, (int)(5 + n), argv, lens) == SV_OK)
        s->fetching = 1;
}

static void fetch(sv_redis_source_t *s)
{
    if (!s->ready || s->fetching || s->failed || s->qhead < s->qn || s->n_ack > s->n_ack_inflight)
        return;
    char count[16], block[16], start[ID_LEN + 1];
    snprintf(count, sizeof count, "%u", s->qcap);
    s->qn = s->qhead = 0;
    int node = s->ask_node, rc;
    s->ask_node = -1;
    if (s->so.mode == SV_REDIS_READ_RANGE) {
        if (s->range_done)
            return;
        if (!s->started)
            snprintf(start, sizeof start, "%s", s->from);
        else
            snprintf(start, sizeof start, "(%s", s->cursor);
        const char *argv[] = {"XRANGE", s->key, start, s->to, "COUNT", count};
        size_t lens[] = {6, s->key_len, strlen(start), strlen(s->to), 5, strlen(count)};
        rc = sv_redis_client_sendv(s->client, node, on_read, NULL, 6, argv, lens);
    } else if (s->claim_due && !s->backlog) {
        char idle[24];
        snprintf(idle, sizeof idle, "%u", s->ro.claim_idle_ms);
        const char *argv[] = {"XPENDING", s->key, s->group, "IDLE", idle, "-", "+", count};
        size_t lens[] = {8, s->key_len, strlen(s->group), 4, strlen(idle), 1, 1, strlen(count)};
        s->claim_due = 0;
        rc = sv_redis_client_sendv(s->client, node, on_pending, NULL, 8, argv, lens);
    } else {
        snprintf(block, sizeof block, "%d", BLOCK_MS);
        const char *id = s->backlog ? s->cursor : ">";
        const char *argv[] = {"XREADGROUP", "GROUP", s->group, s->consumer, "COUNT", count, "BLOCK", block,
                              "STREAMS", s->key, id};
        size_t lens[] = {10, 5, strlen(s->group), strlen(s->consumer), 5, strlen(count), 5, strlen(block), 7,
                         s->key_len, strlen(id)};
        rc = sv_redis_client_sendv(s->client, node, on_read, NULL, 11, argv, lens);
    }
    if (rc == SV_OK)
        s->fetching = 1;
}

static void on_claim_tick(uv_timer_t *t)
{
    sv_redis_source_t *s = t->data;
    s->claim_due = 1;
}

/* ---- connection ---- */

static void on_join(redisAsyncContext *ac, void *reply, void *pd)
{
    sv_redis_source_t *s = sv_redis_client_ud(ac);
    redisReply *r = reply;
    (void)pd;
    if (!s)
        return;
    s->joining = 0;
    if (!r)
        return;
    sv_redis_client_touch(ac);
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9)) {
        handle_error(s, r, "XGROUP CREATE"); /* a redirect: joined again from the run loop */
        return;
    }
    s->ready = 1;
    s->last_entry = uv_hrtime(); /* idle time counts while connected only */
    s->backlog = 1;
    snprintf(s->cursor, sizeof s->cursor, "0");
    send_acks(s); /* acknowledgements lost with the previous connection */
}

/* Joins the group (creating it if needed) once connected; called again until it is done. */
static void join(sv_redis_source_t *s)
{
    if (s->ready || s->joining || s->failed || !sv_redis_client_ready(s->client))
        return;
    if (s->so.mode == SV_REDIS_READ_RANGE) {
        s->ready = 1;
        return;
    }
    const char *argv[] = {"XGROUP", "CREATE", s->key, s->group, s->ro.group_start, "MKSTREAM"};
    size_t lens[] = {6, 6, s->key_len, strlen(s->group), strlen(s->ro.group_start), 8};
    int node = s->ask_node;
    if (sv_redis_client_sendv(s->client, node, on_join, NULL, 6, argv, lens) == SV_OK) {
        s->joining = 1;
        s->ask_node = -1;
    }
}

static void on_ready(void *ud) { join(ud); }

static void on_down(void *ud, const char *why)
{
    sv_redis_source_t *s = ud;
    (void)why;
    if (s->ready)
        s->st.outages++;
    s->ready = 0;
    s->joining = 0;
    s->fetching = 0;
    s->n_ack_inflight = 0;
}

/* ---- public ---- */

int sv_redis_parse_id(const char *t, char *out, size_t len)
{
    size_t n = strlen(t);
    if (!strcmp(t, "-") || !strcmp(t, "+")) {
        snprintf(out, len, "%s", t);
        return SV_OK;
    }
    size_t d = strspn(t, "0123456789");
    if (d > 0 && d <= 20 && (d == n || (t[d] == '-' && n > d + 1 && strspn(t + d + 1, "0123456789") == n - d - 1))) {
        if (n >= len)
            return SV_E_PARSE;
        snprintf(out, len, "%s", t);
        return SV_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (n < 10 || strspn(t, "0123456789") != 4 || t[4] != '-' || t[7] != '-')
        return SV_E_PARSE; /* YYYY-MM-DD, four-digit years only */
    const char *rest = strptime(t, "%Y-%m-%d", &tm);
    if (!rest)
        return SV_E_PARSE;
    if (*rest == 'T' || *rest == ' ') {
        const char *r2 = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!r2)
            r2 = strptime(rest + 1, "%H:%M", &tm);
        rest = r2;
    }
    if (!rest || (*rest && strcmp(rest, "Z") != 0))
        return SV_E_PARSE;
    snprintf(out, len, "%lld", (long long)timegm(&tm) * 1000);
    return SV_OK;
}

int sv_redis_source_open(sv_engine_t *eng, const sv_redis_options_t *ro, const sv_redis_source_options_t *so,
                         sv_redis_source_t **out, sv_diag_t *d)
{
    *out = NULL;
    const char *name = so->mode == SV_REDIS_READ_RANGE ? "redis replay" : "redis consumer";
    if (!ro->batch || so->stream < 0 || so->stream >= SV_REDIS_STREAMS)
        return sv_diag_set(d, SV_E_INVAL, "%s: bad options", name);
    sv_redis_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", name);
    s->name = name;
    s->eng = eng;
    s->loop = sv_engine_loop(eng);
    s->log = sv_engine_log(eng);
    s->names.symbols = sv_engine_symbols(eng);
    s->names.texts = sv_engine_texts(eng);
    s->ro = *ro;
    s->so = *so;
    s->ask_node = -1;
    snprintf(s->host, sizeof s->host, "%s", ro->host ? ro->host : "127.0.0.1");
    snprintf(s->password, sizeof s->password, "%s", ro->password ? ro->password : "");
    snprintf(s->prefix, sizeof s->prefix, "%s", ro->prefix ? ro->prefix : "silvertine");
    snprintf(s->group, sizeof s->group, "%s", ro->group && ro->group[0] ? ro->group : "silvertine");
    if (ro->consumer && ro->consumer[0]) {
        snprintf(s->consumer, sizeof s->consumer, "%s", ro->consumer);
    } else {
        gethostname(s->consumer, sizeof s->consumer - 1);
        s->consumer[sizeof s->consumer - 1] = '\0';
    }
    for (uint32_t i = 0; i < ro->n_nodes && i < SV_REDIS_MAX_NODES; i++) {
        snprintf(s->node_text[i], sizeof s->node_text[i], "%s", ro->nodes[i]);
        s->ro.nodes[i] = s->node_text[i];
    }
    snprintf(s->group_start, sizeof s->group_start, "%s", ro->group_start && ro->group_start[0] ? ro->group_start : "$");
    s->ro.group_start = s->group_start;
    s->ro.host = s->host;
    s->ro.password = s->password;
    s->ro.prefix = s->prefix;
    s->ro.group = s->group;
    s->ro.consumer = s->consumer;
    int kl = sv_redis_stream_key(s->prefix, so->stream, s->key, sizeof s->key);
    if (kl < 0) {
        free(s);
        return sv_diag_set(d, SV_E_CONFIG, "%s: bus.redis.prefix is too long", name);
    }
    s->key_len = (size_t)kl;
    snprintf(s->from, sizeof s->from, "%s", so->from ? so->from : "-");
    snprintf(s->to, sizeof s->to, "%s", so->to ? so->to : "+");
    s->qcap = ro->batch;
    s->q = calloc(s->qcap, sizeof *s->q);
    s->ack_cap = s->qcap * 2;
    s->acks = calloc(s->ack_cap, ID_LEN);
    if (!s->q || !s->acks) {
        sv_redis_source_close(s);
        return sv_diag_set(d, SV_E_NOMEM, "%s: out of memory", name);
    }
    if (so->mode == SV_REDIS_READ_GROUP) {
        s->claim_timer_ok = uv_timer_init(s->loop, &s->claim_timer) == 0;
        if (s->claim_timer_ok) {
            uint64_t every = ro->claim_idle_ms / 2 > 100 ? ro->claim_idle_ms / 2 : 100;
            s->claim_timer.data = s;
            uv_timer_start(&s->claim_timer, on_claim_tick, every, every);
        }
    }
    sv_redis_client_options_t co = {
        .name = name, .host = s->host, .port = ro->port, .nodes = s->ro.nodes, .n_nodes = ro->n_nodes,
        .password = s->password, .db = ro->db, .cluster = ro->cluster, .slot_key = s->key,
        .timeout_ms = ro->timeout_ms > BLOCK_MS * 4 ? ro->timeout_ms : BLOCK_MS * 4, .backoff_ms = ro->backoff_ms,
        .backoff_max_ms = ro->backoff_max_ms, .log = s->log, .loop = s->loop, .on_ready = on_ready,
        .on_down = on_down, .ud = s};
    s->client = sv_redis_client_new(&co);
    if (!s->client) {
        sv_redis_source_close(s);
        return sv_diag_set(d, SV_E_NOMEM, "%s: cannot create the client (bad node address?)", name);
    }
    int said = 0, rc = SV_OK;
    while (!s->ready) {
        sv_redis_client_stats_t cs;
        sv_redis_client_stats(s->client, &cs);
        const char *fatal = sv_redis_client_fatal(s->client);
        if (fatal)
            rc = sv_diag_set(d, SV_E_CONFIG, "%s: %s", name, fatal);
        else if (s->failed)
            rc = sv_diag_set(d, SV_E_IO, "%s", s->error);
        else if (cs.failures && ro->on_down == SV_REDIS_ON_DOWN_FAIL)
            rc = sv_diag_set(d, SV_E_IO, "%s: cannot connect to Redis at %s (bus.redis.on_down is fail; set it "
                             "to wait to wait for Redis)", name, sv_redis_client_last_error(s->client));
        else if (so->stop && *so->stop)
            rc = sv_diag_set(d, SV_E_STATE, "%s: stopped while waiting for Redis (%s)", name,
                             sv_redis_client_last_error(s->client));
        if (rc)
            break;
        if (cs.failures && !said) {
            sv_log_warn(s->log, name, "waiting for Redis at %s:%d (bus.redis.on_down: wait)", s->host, ro->port);
            said = 1;
        }
        join(s);
        if (!s->ready)
            uv_run(s->loop, UV_RUN_ONCE);
    }
    if (rc) {
        sv_redis_source_close(s);
        return rc;
    }
    if (so->mode == SV_REDIS_READ_GROUP)
        sv_log_info(s->log, name, "reading %s as consumer '%s' of group '%s'", s->key, s->consumer, s->group);
    else
        sv_log_info(s->log, name, "reading %s from %s to %s", s->key, s->from, s->to);
    *out = s;
    return SV_OK;
}

static int done(sv_redis_source_t *s)
{
    if (s->qhead < s->qn)
        return 0;
    if (s->so.mode == SV_REDIS_READ_RANGE)
        return s->range_done;
    return s->so.idle_exit_s > 0 && s->ready && (double)(uv_hrtime() - s->last_entry) / 1e9 >= s->so.idle_exit_s;
}

int sv_redis_source_run(sv_redis_source_t *s, sv_diag_t *d)
{
    int rc = SV_OK;
    uint32_t since_turn = 0;
    s->last_entry = uv_hrtime();
    for (;;) {
        if (s->so.stop && *s->so.stop)
            break;
        if (s->failed) {
            rc = sv_diag_set(d, SV_E_IO, "%s", s->error);
            break;
        }
        const char *fatal = sv_redis_client_fatal(s->client);
        if (fatal) {
            rc = sv_diag_set(d, SV_E_CONFIG, "%s: %s", s->name, fatal);
            break;
        }
        if (s->qhead < s->qn) {
            entry_t *e = &s->q[s->qhead++];
            int r = s->so.on_event ? s->so.on_event(s->so.ud, &e->ev, e->id) : sv_engine_feed(s->eng, &e->ev);
            if (r < 0 && s->so.on_event) {
                rc = sv_diag_set(d, r, "%s: %s %s: stopped by the caller: %s", s->name, s->key, e->id,
                                 sv_strerror(r));
                break;
            }
            s->st.events++;
            if (!s->st.first_id[0])
                snprintf(s->st.first_id, sizeof s->st.first_id, "%s", e->id);
            snprintf(s->st.last_id, sizeof s->st.last_id, "%s", e->id);
            ack_later(s, e->id);
            if (++since_turn >= 256) { /* serve the loop's other I/O (the Redis writer) */
                since_turn = 0;
                uv_run(s->loop, UV_RUN_NOWAIT);
            }
            continue;
        }
        join(s);
        send_acks(s);
        if (done(s))
            break;
        fetch(s);
        sv_redis_client_write(s->client); /* the XACK and the next read go out now */
        uv_run(s->loop, UV_RUN_ONCE);
    }
    /* what was processed is acknowledged before we go; what was not stays pending */
    uint64_t deadline = uv_hrtime() + 2000000000ull;
    while (s->n_ack && s->ready && !s->failed && uv_hrtime() < deadline) {
        send_acks(s);
        uv_run(s->loop, UV_RUN_ONCE);
    }
    if (s->n_ack)
        sv_log_warn(s->log, s->name, "%u processed entr%s not acknowledged (Redis unreachable); they will be "
                    "read again", s->n_ack, s->n_ack == 1 ? "y was" : "ies were");
    sv_log_info(s->log, s->name, "%s: %llu entries read, %llu processed, %llu skipped, %llu acknowledged, "
                "%llu claimed", s->key, (unsigned long long)s->st.entries, (unsigned long long)s->st.events,
                (unsigned long long)s->st.skipped, (unsigned long long)s->st.acked,
                (unsigned long long)s->st.claimed);
    return rc;
}

void sv_redis_source_close(sv_redis_source_t *s)
{
    if (!s)
        return;
    if (s->client)
        sv_redis_client_free(s->client);
    if (s->claim_timer_ok) {
        uv_timer_stop(&s->claim_timer);
        uv_close((uv_handle_t *)&s->claim_timer, NULL);
    }
    s->client = NULL;
    uv_run(s->loop, UV_RUN_NOWAIT); /* the handle closes complete before s goes */
    free(s->q);
    free(s->acks);
    free(s);
}

void sv_redis_source_stats(const sv_redis_source_t *s, sv_redis_source_stats_t *out) { *out = s->st; }
