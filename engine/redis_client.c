/* redis_client: hiredis async connections on the engine's loop, a handshake per connection,
 * one target node for the deployment's hash slot, redirects, timeouts and reconnects. */
#define _POSIX_C_SOURCE 200809L
#include "redis_client.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "error.h"

enum { N_IDLE = 0, N_CONNECTING, N_HANDSHAKE, N_READY };
enum { TICK_MS = 50 };

typedef struct node {
    sv_redis_client_t *c;
    int idx;
    char host[256];
    int port;
    char addr[280]; /* host:port */
    redisAsyncContext *ac;
    int state;
    int want_slots;          /* ask CLUSTER SLOTS once the handshake is done */
    int hs_failed;           /* a handshake reply failed; the connection is being dropped */
    uint64_t since;          /* ms (loop time) the connection attempt started */
    uint64_t busy_since;     /* ms a command was sent to an idle connection */
    uint64_t last_reply;     /* ms */
    char drop_reason[256];   /* set when we drop the connection ourselves */
} node_t;

struct sv_redis_client {
    sv_redis_client_options_t o;
    char name[64], password[512], slot_key[256];
    uint32_t slot;
    node_t nodes[SV_REDIS_MAX_NODES];
    uint32_t n_nodes, n_seeds;
    int target;
    uint32_t rotate;       /* next seed to try when the target cannot be reached (cluster) */
    int cluster_seen;      /* cluster mode configured or a MOVED seen: refresh slots on reconnect */
    uv_timer_t timer;
    uv_prepare_t prep; /* writes what was queued during the loop's turn, before it polls */
    int open_handles;  /* while closing */
    uint64_t retry_at;     /* ms; 0 = no reconnect due */
    uint32_t backoff;
    int up;                /* the target is ready and on_ready has run */
    uint64_t down_since;   /* uv_hrtime() when the ready target was lost; 0 = not down */
    char fatal[640];
    char last_error[640];
    int closing;
    sv_redis_client_stats_t st;
};

static uint64_t now_ms(sv_redis_client_t *c) { return uv_now(c->o.loop); }

/* Copies src into dst[size], truncating. */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

static void node_connect(node_t *n);

/* ---- the event loop adapter ----
 * Debian's hiredis/adapters/libuv.h (0.14) has two problems here. It drops poll errors
 * (status != 0): a connection reset by a killed server then goes unnoticed until the reply
 * timeout, with the poll stopped; this adapter hands an error to hiredis as a read, which fails
 * and disconnects at once. And it calls uv_poll_start() on every command (hiredis asks for
 * write interest per command and read interest after every write), each of which costs libuv
 * an epoll_ctl DEL and a later ADD. Here write interest is a flag: what hiredis queued is
 * written by flush_writes() (the client's prepare callback, before the loop polls, or on
 * demand), and the poll is changed only when a write could not complete (socket full, connect
 * in progress) or read interest really changes. */

typedef struct uvev {
    redisAsyncContext *ac;
    uv_poll_t handle;
    int events;     /* what the poll watches now */
    int want_write; /* hiredis has output queued */
} uvev_t;

static void ev_poll(uv_poll_t *h, int status, int events)
{
    uvev_t *p = h->data;
    if (status < 0) {
        if (p->ac)
            redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void ev_set(uvev_t *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->handle, events, ev_poll);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *pd) { ev_set(pd, ((uvev_t *)pd)->events | UV_READABLE); }
static void ev_del_read(void *pd) { ev_set(pd, ((uvev_t *)pd)->events & ~UV_READABLE); }
static void ev_add_write(void *pd) { ((uvev_t *)pd)->want_write = 1; }

static void ev_del_write(void *pd)
{
    uvev_t *p = pd;
    p->want_write = 0;
    ev_set(p, p->events & ~UV_WRITABLE);
}

static void ev_closed(uv_handle_t *h) { free(h->data); }

static void ev_cleanup(void *pd)
{
    uvev_t *p = pd;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    uvev_t *p = calloc(1, sizeof *p);
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->ac = ac;
    p->handle.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}

/* ---- nodes ---- */

static int find_node(sv_redis_client_t *c, const char *host, int port)
{
    for (uint32_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].port == port && !strcmp(c->nodes[i].host, host))
            return (int)i;
    return -1;
}

static int add_node(sv_redis_client_t *c, const char *host, size_t hlen, int port)
{
    char h[256];
    if (hlen == 0 || hlen >= sizeof h || port <= 0 || port > 65535)
        return SV_E_INVAL;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    int i = find_node(c, h, port);
    if (i >= 0)
        return i;
    if (c->n_nodes >= SV_REDIS_MAX_NODES)
        return SV_E_FULL;
    node_t *n = &c->nodes[c->n_nodes];
    memset(n, 0, sizeof *n);
    n->c = c;
    n->idx = (int)c->n_nodes;
    memcpy(n->host, h, hlen + 1);
    n->port = port;
    char addr[sizeof n->addr];
    snprintf(addr, sizeof addr, "%s:%d", h, port);
    copy_str(n->addr, sizeof n->addr, addr);
    return (int)c->n_nodes++;
}

/* "host:port" */
static int add_node_addr(sv_redis_client_t *c, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return SV_E_INVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1)
        return SV_E_INVAL;
    return add_node(c, addr, (size_t)(colon - addr), (int)port);
}

static void drop(node_t *n, const char *why)
{
    if (!n->ac)
        return;
    copy_str(n->drop_reason, sizeof n->drop_reason, why);
    redisAsyncContext *ac = n->ac;
    if (n->state == N_CONNECTING) {
        /* no disconnect callback comes for a connection never made */
        n->ac = NULL;
        n->state = N_IDLE;
        ac->data = NULL;
    }
    redisAsyncFree(ac);
}

/* ---- the target going up and down ---- */

static void target_ready(sv_redis_client_t *c)
{
    node_t *n = &c->nodes[c->target];
    c->backoff = c->o.backoff_ms;
    c->retry_at = 0;
    c->st.connects++;
    c->st.consecutive = 0;
    if (c->down_since) {
        int64_t d = (int64_t)(uv_hrtime() - c->down_since);
        c->st.outage_ns += d;
        sv_log_warn(c->o.log, c->name, "%s: connected again after %.2f s", n->addr, (double)d / 1e9);
        c->down_since = 0;
    } else {
        sv_log_info(c->o.log, c->name, "%s: connected%s", n->addr, c->cluster_seen ? " (cluster)" : "");
    }
    c->up = 1;
    if (c->o.on_ready)
        c->o.on_ready(c->o.ud);
}

/* The target failed or was lost: schedule a reconnect and tell the owner. */
static void target_down(sv_redis_client_t *c, const char *why)
{
    node_t *n = &c->nodes[c->target];
    snprintf(c->last_error, sizeof c->last_error, "%.280s: %.350s", n->addr, why);
    if (c->fatal[0]) {
        if (c->o.on_down)
            c->o.on_down(c->o.ud, c->fatal);
        return;
    }
    if (c->up) {
        c->up = 0;
        c->down_since = uv_hrtime();
        c->st.outages++;
        sv_log_warn(c->o.log, c->name, "%s: connection lost (%s); events are kept and sent again once "
                    "it is back; reconnecting in %.1f s", n->addr, why, c->backoff / 1000.0);
    } else {
        c->st.failures++;
        c->st.consecutive++;
        sv_log_write(c->o.log, c->st.consecutive == 1 ? SV_LOG_WARN : SV_LOG_INFO, c->name,
                     "%s: %s; retrying in %.1f s", n->addr, why, c->backoff / 1000.0);
    }
    c->retry_at = now_ms(c) + c->backoff;
    c->backoff = c->backoff * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms : c->backoff * 2;
    /* a cluster whose node for our slot is gone: ask the other nodes who owns it now */
    if (c->cluster_seen && c->st.consecutive >= 2 && c->n_nodes > 1)
        c->target = (int)(c->rotate++ % c->n_nodes);
    if (c->o.on_down)
        c->o.on_down(c->o.ud, why);
}

static void set_fatal(sv_redis_client_t *c, node_t *n, const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    snprintf(c->fatal, sizeof c->fatal, "%.280s: %.350s", n->addr, msg);
    sv_log_error(c->o.log, c->name, "%s", c->fatal);
}

/* ---- handshake ---- */

static int is_err(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, prefix, strlen(prefix));
}

static void hs_fail(node_t *n, const char *why)
{
    n->hs_failed = 1;
    drop(n, why);
}

static void hs_auth(redisAsyncContext *ac, void *reply, void *pd)
{
    (void)pd;
    node_t *n = ac->data;
    redisReply *r = reply;
    if (!n || !r || n->hs_failed)
        return;
    sv_redis_client_touch(ac);
    if (r->type == REDIS_REPLY_ERROR) {
        if (strstr(r->str, "no password is set") || strstr(r->str, "without any password configured"))
            set_fatal(n->c, n, "bus.redis.password is set but the server has no password: %s", r->str);
        else
            set_fatal(n->c, n, "AUTH failed: %s (check bus.redis.password)", r->str);
        hs_fail(n, n->c->fatal);
    }
}

static void hs_select(redisAsyncContext *ac, void *reply, void *pd)
{
    (void)pd;
    node_t *n = ac->data;
    redisReply *r = reply;
    if (!n || !r || n->hs_failed)
        return;
    sv_redis_client_touch(ac);
    if (r->type == REDIS_REPLY_ERROR) {
        set_fatal(n->c, n, "SELECT failed: %s (check bus.redis.db; a cluster has only db 0)", r->str);
        hs_fail(n, n->c->fatal);
    }
}

static void hs_slots(redisAsyncContext *ac, void *reply, void *pd);

static void node_ready(node_t *n)
{
    sv_redis_client_t *c = n->c;
    n->state = N_READY;
    n->last_reply = now_ms(c);
    if (n->idx == c->target)
        target_ready(c);
}

static void hs_ping(redisAsyncContext *ac, void *reply, void *pd)
{
    (void)pd;
    node_t *n = ac->data;
    redisReply *r = reply;
    if (!n || !r || n->hs_failed)
        return;
    sv_redis_client_touch(ac);
    sv_redis_client_t *c = n->c;
    if (is_err(r, "NOAUTH")) {
        set_fatal(c, n, "%s", "the server requires a password: set bus.redis.password");
        hs_fail(n, c->fatal);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) { /* LOADING after a restart, ...: try again later */
        hs_fail(n, r->str);
        return;
    }
    if (n->want_slots) {
        n->want_slots = 0;
        if (redisAsyncCommand(ac, hs_slots, NULL, "CLUSTER SLOTS") != REDIS_OK)
            hs_fail(n, "cannot send CLUSTER SLOTS");
        return;
    }
    node_ready(n);
}

static void hs_slots(redisAsyncContext *ac, void *reply, void *pd)
{
    (void)pd;
    node_t *n = ac->data;
    redisReply *r = reply;
    if (!n || !r || n->hs_failed)
        return;
    sv_redis_client_touch(ac);
    sv_redis_client_t *c = n->c;
    if (r->type == REDIS_REPLY_ERROR) {
        if (c->o.cluster)
            sv_log_warn(c->o.log, c->name, "%s: bus.redis.cluster is true but the server is not a cluster "
                        "node (%s); using it as a single server", n->addr, r->str);
        node_ready(n);
        return;
    }
    int owner = -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2)
            continue;
        redisReply *m = e->element[2];
        if (m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        /* remember every master: somewhere to ask when the owner goes away */
        const char *host = m->element[0]->len ? m->element[0]->str : n->host;
        size_t hlen = m->element[0]->len ? m->element[0]->len : strlen(n->host);
        int idx = add_node(c, host, hlen, (int)m->element[1]->integer);
        if ((long long)c->slot >= e->element[0]->integer && (long long)c->slot <= e->element[1]->integer)
            owner = idx;
    }
    if (owner < 0) {
        hs_fail(n, "CLUSTER SLOTS names no node for the slot of the streams (cluster still forming?)");
        return;
    }
    n->state = N_READY;
    n->last_reply = now_ms(c);
    if (n->idx != c->target)
        return;
    if (owner != n->idx) {
        sv_log_info(c->o.log, c->name, "%s: slot %u of the streams is served by %s", n->addr, c->slot,
                    c->nodes[owner].addr);
        c->target = owner;
    }
    node_t *t = &c->nodes[owner];
    if (t->state == N_READY)
        target_ready(c);
    else if (t->state == N_IDLE && !t->ac)
        node_connect(t);
}

/* ---- connection callbacks ---- */

static void node_lost(node_t *n, const char *why)
{
    sv_redis_client_t *c = n->c;
    n->state = N_IDLE;
    n->ac = NULL;
    n->hs_failed = 0;
    if (c->closing)
        return;
    if (n->idx == c->target)
        target_down(c, why);
    else
        sv_log_info(c->o.log, c->name, "%s: connection closed (%s)", n->addr, why);
}

static void on_connect_cb(const redisAsyncContext *ac, int status)
{
    node_t *n = ac->data;
    if (!n)
        return;
    if (status != REDIS_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac->errstr[0] ? ac->errstr : "cannot connect");
        node_lost(n, why); /* hiredis frees ac after this returns */
        return;
    }
    if (n->state == N_CONNECTING)
        n->state = N_HANDSHAKE;
}

static void on_disconnect_cb(const redisAsyncContext *ac, int status)
{
    node_t *n = ac->data;
    if (!n)
        return;
    char why[256];
    if (n->drop_reason[0])
        snprintf(why, sizeof why, "%s", n->drop_reason);
    else if (status != REDIS_OK && ac->errstr[0])
        snprintf(why, sizeof why, "%s", ac->errstr);
    else
        snprintf(why, sizeof why, "the server closed the connection");
    n->drop_reason[0] = '\0';
    node_lost(n, why);
}

static void node_connect(node_t *n)
{
    sv_redis_client_t *c = n->c;
    n->drop_reason[0] = '\0';
    n->hs_failed = 0;
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);
    if (!ac || ac->err) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        node_lost(n, why);
        return;
    }
    ac->data = n;
    if (ev_attach(ac, c->o.loop) != REDIS_OK) {
        redisAsyncFree(ac);
        node_lost(n, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect_cb);
    redisAsyncSetDisconnectCallback(ac, on_disconnect_cb);
    n->ac = ac;
    n->state = N_CONNECTING;
    n->since = now_ms(c);
    n->busy_since = n->since;
    /* the handshake is queued now; hiredis writes it once the socket connects */
    int ok = 1;
    if (c->password[0])
        ok = ok && redisAsyncCommand(ac, hs_auth, NULL, "AUTH %s", c->password) == REDIS_OK;
    if (c->o.db)
        ok = ok && redisAsyncCommand(ac, hs_select, NULL, "SELECT %d", c->o.db) == REDIS_OK;
    ok = ok && redisAsyncCommand(ac, hs_ping, NULL, "PING") == REDIS_OK;
    if (!ok)
        drop(n, "cannot queue the handshake");
}

/* ---- the tick: timeouts and reconnects ---- */

static void on_tick(uv_timer_t *t)
{
    sv_redis_client_t *c = t->data;
    uint64_t now = now_ms(c);
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        node_t *n = &c->nodes[i];
        if (!n->ac)
            continue;
        char why[128];
        if (n->state != N_READY && now - n->since > c->o.timeout_ms) {
            snprintf(why, sizeof why, "no connection within %u ms", c->o.timeout_ms);
            int was_connecting = n->state == N_CONNECTING;
            drop(n, why);
            if (was_connecting)
                node_lost(n, why);
        } else if (n->state == N_READY && n->ac->replies.head) {
            uint64_t since = n->last_reply > n->busy_since ? n->last_reply : n->busy_since;
            if (now - since > c->o.timeout_ms) {
                snprintf(why, sizeof why, "no reply for %u ms", c->o.timeout_ms);
                drop(n, why);
            }
        }
    }
    node_t *tg = &c->nodes[c->target];
    if (!c->up && !c->fatal[0] && c->retry_at && now >= c->retry_at) {
        c->retry_at = 0;
        if (tg->state == N_IDLE && !tg->ac) {
            tg->want_slots = c->cluster_seen;
            node_connect(tg);
        } else if (tg->state == N_READY) { /* a node met before: ask it who owns the slot now */
            if (!c->cluster_seen)
                target_ready(c);
            else if (redisAsyncCommand(tg->ac, hs_slots, NULL, "CLUSTER SLOTS") != REDIS_OK)
                drop(tg, "cannot send CLUSTER SLOTS");
        }
    }
}

/* Writes what hiredis queued on every connection; a write that cannot complete (or a connect
 * still in progress) leaves write interest on the poll. */
static void flush_writes(sv_redis_client_t *c)
{
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        node_t *nd = &c->nodes[i];
        redisAsyncContext *ac = nd->ac;
        uvev_t *p = ac ? ac->ev.data : NULL;
        if (!p || !p->want_write)
            continue;
        /* inside one of its own callbacks a failed write would free the context under hiredis'
         * feet (0.14): leave that one to the next call */
        if (nd->state >= N_HANDSHAKE && !(ac->c.flags & (REDIS_IN_CALLBACK | REDIS_DISCONNECTING | REDIS_FREEING)))
            redisAsyncHandleWrite(ac);
        if (nd->ac == ac && p->want_write)
            ev_set(p, p->events | UV_WRITABLE);
    }
}

void sv_redis_client_write(sv_redis_client_t *c) { flush_writes(c); }

static void on_prepare_cb(uv_prepare_t *h) { flush_writes(h->data); }

int sv_redis_client_poll(sv_redis_client_t *c, int timeout_ms)
{
    flush_writes(c);
    struct pollfd fds[SV_REDIS_MAX_NODES];
    redisAsyncContext *acs[SV_REDIS_MAX_NODES] = {0};
    node_t *who[SV_REDIS_MAX_NODES] = {0};
    int n = 0;
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        node_t *nd = &c->nodes[i];
        uvev_t *p = nd->ac ? nd->ac->ev.data : NULL;
        if (!p || !(p->events || p->want_write))
            continue;
        fds[n] = (struct pollfd){.fd = nd->ac->c.fd,
                                 .events = (short)((p->events & UV_READABLE ? POLLIN : 0) |
                                                   (p->events & UV_WRITABLE || p->want_write ? POLLOUT : 0))};
        acs[n] = nd->ac;
        who[n++] = nd;
    }
    int rc = poll(fds, (nfds_t)n, timeout_ms);
    for (int i = 0; rc > 0 && i < n; i++) {
        /* handling one may free another's context: only a node still on the same one is served */
        if (fds[i].revents & (POLLIN | POLLERR | POLLHUP) && who[i]->ac == acs[i])
            redisAsyncHandleRead(acs[i]);
        if (fds[i].revents & POLLOUT && who[i]->ac == acs[i])
            redisAsyncHandleWrite(acs[i]);
    }
    uv_update_time(c->o.loop);
    on_tick(&c->timer); /* timeouts and reconnects, as the loop's timer would */
    return rc < 0 ? SV_E_IO : SV_OK;
}

/* ---- public ---- */

sv_redis_client_t *sv_redis_client_new(const sv_redis_client_options_t *o)
{
    if (!o->loop || !o->host || !o->slot_key)
        return NULL;
    sv_redis_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *o;
    snprintf(c->name, sizeof c->name, "%s", o->name ? o->name : "redis");
    snprintf(c->password, sizeof c->password, "%s", o->password ? o->password : "");
    snprintf(c->slot_key, sizeof c->slot_key, "%s", o->slot_key);
    c->o.name = c->name;
    c->o.password = c->password;
    c->o.slot_key = c->slot_key;
    c->o.host = NULL;
    c->o.nodes = NULL;
    if (!c->o.timeout_ms)
        c->o.timeout_ms = 5000;
    if (!c->o.backoff_ms)
        c->o.backoff_ms = 100;
    if (!c->o.backoff_max_ms)
        c->o.backoff_max_ms = 5000;
    if (c->o.backoff_max_ms < c->o.backoff_ms)
        c->o.backoff_max_ms = c->o.backoff_ms;
    c->backoff = c->o.backoff_ms;
    c->slot = sv_redis_key_slot(c->slot_key, strlen(c->slot_key));
    c->cluster_seen = o->cluster;
    if (add_node(c, o->host, strlen(o->host), o->port) < 0) {
        free(c);
        return NULL;
    }
    for (uint32_t i = 0; i < o->n_nodes; i++) {
        if (add_node_addr(c, o->nodes[i]) < 0) {
            free(c);
            return NULL;
        }
    }
    c->n_seeds = c->n_nodes;
    c->rotate = 1;
    if (uv_timer_init(o->loop, &c->timer) != 0) {
        free(c);
        return NULL;
    }
    c->timer.data = c;
    uv_timer_start(&c->timer, on_tick, TICK_MS, TICK_MS);
    uv_prepare_init(o->loop, &c->prep);
    c->prep.data = c;
    uv_prepare_start(&c->prep, on_prepare_cb);
    uv_unref((uv_handle_t *)&c->prep);
    c->target = 0;
    c->nodes[0].want_slots = o->cluster;
    node_connect(&c->nodes[0]);
    return c;
}

/* c goes once both of its handles are closed (libuv runs close callbacks in no given order) */
static void free_after_close(uv_handle_t *h)
{
    sv_redis_client_t *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

void sv_redis_client_free(sv_redis_client_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        node_t *n = &c->nodes[i];
        if (n->ac) {
            redisAsyncContext *ac = n->ac;
            if (n->state == N_CONNECTING)
                ac->data = NULL;
            n->ac = NULL;
            redisAsyncFree(ac);
        }
    }
    uv_prepare_stop(&c->prep);
    uv_timer_stop(&c->timer);
    c->open_handles = 2;
    uv_close((uv_handle_t *)&c->prep, free_after_close);
    uv_close((uv_handle_t *)&c->timer, free_after_close);
}

int sv_redis_client_ready(const sv_redis_client_t *c) { return !c->closing && c->up; }

const char *sv_redis_client_fatal(const sv_redis_client_t *c) { return c->fatal[0] ? c->fatal : NULL; }
const char *sv_redis_client_last_error(const sv_redis_client_t *c) { return c->last_error; }
const char *sv_redis_client_target(const sv_redis_client_t *c) { return c->nodes[c->target].addr; }

void sv_redis_client_stats(const sv_redis_client_t *c, sv_redis_client_stats_t *out)
{
    *out = c->st;
    if (c->down_since)
        out->outage_ns += (int64_t)(uv_hrtime() - c->down_since);
}

void *sv_redis_client_ud(const redisAsyncContext *ac)
{
    const node_t *n = ac->data;
    return n ? n->c->o.ud : NULL;
}

void sv_redis_client_touch(redisAsyncContext *ac)
{
    node_t *n = ac->data;
    if (n)
        n->last_reply = uv_now(n->c->o.loop);
}

static node_t *ready_node(sv_redis_client_t *c, int node)
{
    if (c->closing || c->fatal[0])
        return NULL;
    if (node >= 0 && (uint32_t)node >= c->n_nodes)
        return NULL;
    if (node < 0 && !c->up)
        return NULL;
    node_t *n = &c->nodes[node < 0 ? c->target : node];
    if (n->state != N_READY) {
        if (node >= 0 && n->state == N_IDLE && !n->ac)
            node_connect(n);
        return NULL;
    }
    if (!n->ac->replies.head)
        n->busy_since = now_ms(c);
    if (node >= 0 && redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return NULL;
    return n;
}

int sv_redis_client_send(sv_redis_client_t *c, int node, sv_redis_cb fn, void *pd, const char *cmd, size_t len)
{
    node_t *n = ready_node(c, node);
    if (!n)
        return SV_E_STATE;
    return redisAsyncFormattedCommand(n->ac, fn, pd, cmd, len) == REDIS_OK ? SV_OK : SV_E_IO;
}

int sv_redis_client_sendv(sv_redis_client_t *c, int node, sv_redis_cb fn, void *pd, int argc, const char **argv,
                          const size_t *lens)
{
    node_t *n = ready_node(c, node);
    if (!n)
        return SV_E_STATE;
    return redisAsyncCommandArgv(n->ac, fn, pd, argc, argv, lens) == REDIS_OK ? SV_OK : SV_E_IO;
}

int sv_redis_client_redirect(sv_redis_client_t *c, const redisReply *r, int *node)
{
    int moved = is_err(r, "MOVED "), ask = is_err(r, "ASK ");
    if (!moved && !ask)
        return SV_REDIS_NOT_REDIRECT;
    /* "MOVED 3999 127.0.0.1:6381" */
    const char *addr = strchr(r->str + (moved ? 6 : 4), ' ');
    if (!addr)
        return SV_REDIS_NOT_REDIRECT;
    int idx = add_node_addr(c, addr + 1);
    if (idx < 0) {
        sv_log_error(c->o.log, c->name, "cannot follow '%s': %s", r->str, sv_strerror(idx));
        return SV_REDIS_NOT_REDIRECT;
    }
    node_t *n = &c->nodes[idx];
    c->cluster_seen = 1;
    if (ask) {
        c->st.asked++;
        if (n->state == N_IDLE && !n->ac)
            node_connect(n);
        *node = idx;
        return SV_REDIS_ASK;
    }
    if (idx != c->target) {
        c->st.moved++;
        sv_log_info(c->o.log, c->name, "slot %u moved from %s to %s", c->slot, c->nodes[c->target].addr,
                    n->addr);
        c->target = idx;
        c->up = 0;
        if (n->state == N_READY)
            target_ready(c);
        else if (n->state == N_IDLE && !n->ac)
            node_connect(n);
    }
    return SV_REDIS_MOVED;
}

void sv_redis_client_reconnect(sv_redis_client_t *c, const char *why)
{
    node_t *n = &c->nodes[c->target];
    if (n->ac)
        drop(n, why);
}

int sv_redis_transient_error(const char *err, size_t len)
{
    static const char *const words[] = {"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN",
                                        "READONLY", "OOM", "NOAUTH", NULL};
    for (int i = 0; words[i]; i++) {
        size_t n = strlen(words[i]);
        if (len >= n && !memcmp(err, words[i], n) && (len == n || err[n] == ' '))
            return 1;
    }
    return 0;
}

/* CRC16-CCITT (XMODEM), as Redis Cluster computes it */
static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint32_t sv_redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return crc16(key, len) & 16383;
}
