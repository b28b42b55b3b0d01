/* redis_client: an asynchronous connection, on a libuv loop, to the Redis node that holds a
 * deployment's streams, for the Redis bus writer and its consumers.
 *
 * hiredis 0.14 (Debian 12) has no cluster support, no connect or command timeouts and no TLS;
 * this module adds what the bus needs. Every key the bus uses carries one hash tag
 * ("{silvertine}:fill"), so all of them live in one cluster slot and the client only ever
 * needs the node that owns that slot (the "target"); a connection is kept per node it has
 * met. It does:
 *   - the handshake on every connection: AUTH, SELECT, a PING, and in cluster mode CLUSTER
 *     SLOTS to find the owner of the slot;
 *   - -MOVED (the target changes; later commands go there) and -ASK (a one-off command to
 *     another node, preceded by ASKING) parsing; the caller re-sends what was redirected;
 *   - timeouts (connect, and no reply while replies are due) with its own timer;
 *   - reconnecting with exponential backoff, logging and counting each outage.
 * Errors a person must fix (a wrong password, a bad db) are fatal: the client stops and says
 * why. Replies go straight to the caller's hiredis callbacks (nothing is allocated per command
 * beyond what hiredis does); a callback recovers its owner with sv_redis_client_ud() and calls
 * sv_redis_client_touch() so the reply timeout knows the connection is alive. When a
 * connection is lost every command pending on it gets a NULL reply, then on_down runs.
 *
 * hiredis is attached to the loop by a small adapter of our own rather than Debian's
 * hiredis/adapters/libuv.h, which ignores poll errors: a connection reset by a killed server
 * would go unnoticed until the reply timeout. */
#ifndef SV_REDIS_CLIENT_H
#define SV_REDIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct redisAsyncContext;
struct redisReply;
struct uv_loop_s;

typedef struct sv_redis_client sv_redis_client_t;

/* A hiredis reply callback: (context, redisReply * or NULL when the connection was lost,
 * the privdata given with the command). */
typedef void (*sv_redis_cb)(struct redisAsyncContext *ac, void *reply, void *privdata);

enum { SV_REDIS_MAX_NODES = 16 };

typedef struct sv_redis_client_options {
    const char *name;            /* in log lines: "redis writer", "redis consumer" */
    const char *host;            /* the configured server (a seed in cluster mode) */
    int port;
    const char *const *nodes;    /* more seeds, "host:port" (cluster) */
    uint32_t n_nodes;
    const char *password;        /* NULL or "": no AUTH */
    int db;
    int cluster;                 /* ask CLUSTER SLOTS for the owner of slot_key's slot */
    const char *slot_key;        /* any key with the deployment's hash tag */
    uint32_t timeout_ms;         /* connect timeout and reply timeout (0: 5000) */
    uint32_t backoff_ms;         /* first reconnect delay (0: 100) */
    uint32_t backoff_max_ms;     /* longest reconnect delay (0: 5000) */
    sv_log_t *log;
    struct uv_loop_s *loop;
    /* the target is connected and its handshake done (first time, and after each outage) */
    void (*on_ready)(void *ud);
    /* the target's connection was lost or failed (pending commands have had NULL replies);
     * why is a readable reason */
    void (*on_down)(void *ud, const char *why);
    void *ud;
} sv_redis_client_options_t;

typedef struct sv_redis_client_stats {
    uint64_t connects;     /* handshakes completed */
    uint64_t failures;     /* connection attempts that failed */
    uint32_t consecutive;  /* attempts failed since the last success */
    uint64_t outages;      /* times the ready target was lost */
    int64_t outage_ns;     /* total time not ready after having been ready */
    uint64_t moved, asked; /* redirects followed */
} sv_redis_client_stats_t;

/* Creates a client and starts connecting (nothing blocks). NULL on ENOMEM or bad options. */
sv_redis_client_t *sv_redis_client_new(const sv_redis_client_options_t *o);
/* Closes every connection (pending commands get NULL replies first) and frees the client
 * once the loop has run its handle closes. Not from inside a reply callback. */
void sv_redis_client_free(sv_redis_client_t *c);

/* 1 when commands can be sent to the target. */
int sv_redis_client_ready(const sv_redis_client_t *c);
/* A fatal error (wrong password, bad db): the reason, or NULL. The client no longer retries. */
const char *sv_redis_client_fatal(const sv_redis_client_t *c);
/* The last connection error ("127.0.0.1:6390: Connection refused"), or "". */
const char *sv_redis_client_last_error(const sv_redis_client_t *c);
/* "host:port" of the target. */
const char *sv_redis_client_target(const sv_redis_client_t *c);
void sv_redis_client_stats(const sv_redis_client_t *c, sv_redis_client_stats_t *out);

/* The ud of the client that owns ac (inside a reply callback). */
void *sv_redis_client_ud(const struct redisAsyncContext *ac);
/* Notes that ac's connection answered (call first in every reply callback). */
void sv_redis_client_touch(struct redisAsyncContext *ac);

/* Sends a RESP-formatted command to the target (node < 0) or to node (an index from
 * sv_redis_client_redirect(), preceded by ASKING). Returns 0, or SV_E_STATE when that node is
 * not ready (nothing was sent; an ASK node is being connected), SV_E_IO on a hiredis error. */
int sv_redis_client_send(sv_redis_client_t *c, int node, sv_redis_cb fn, void *privdata, const char *cmd,
                         size_t len);
/* The same with an argument vector (formatted by hiredis). */
int sv_redis_client_sendv(sv_redis_client_t *c, int node, sv_redis_cb fn, void *privdata, int argc,
                          const char **argv, const size_t *lens);

enum { SV_REDIS_NOT_REDIRECT = 0, SV_REDIS_MOVED = 1, SV_REDIS_ASK = 2 };
/* Interprets an error reply. -MOVED: the target becomes the node named (connected if needed;
 * the client is not ready until it is) and SV_REDIS_MOVED is returned. -ASK: *node is set to
 * the node to send that one command to (it is connected if needed) and SV_REDIS_ASK returned.
 * Anything else: SV_REDIS_NOT_REDIRECT. */
int sv_redis_client_redirect(sv_redis_client_t *c, const struct redisReply *r, int *node);

/* Writes what the sends above queued now, instead of at the loop's next poll for writability
 * (which costs a pass of the loop and two epoll_ctl calls per batch). Safe anywhere: a context
 * inside one of its own callbacks is left to the loop. */
void sv_redis_client_write(sv_redis_client_t *c);

/* Serves the client's connections without the loop: waits up to timeout_ms for their sockets,
 * hands what is ready to hiredis (replies reach their callbacks) and runs the timeouts and
 * reconnects. For a wait that may happen inside a loop callback, where uv_run() must not be
 * called (the bus writer's `block` overflow policy). 0 or SV_E_IO. */
int sv_redis_client_poll(sv_redis_client_t *c, int timeout_ms);

/* Drops the target's connection and reconnects after the backoff (a transient error such as
 * -LOADING or -TRYAGAIN). why is logged. */
void sv_redis_client_reconnect(sv_redis_client_t *c, const char *why);

/* 1 for an error reply that says "try again later": LOADING, BUSY, TRYAGAIN, CLUSTERDOWN,
 * MASTERDOWN, READONLY, OOM, NOAUTH. */
int sv_redis_transient_error(const char *err, size_t len);

/* The cluster slot of a key (CRC16 of its hash tag, or of the whole key). */
uint32_t sv_redis_key_slot(const char *key, size_t len);

#endif
