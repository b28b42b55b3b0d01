/* bus_redis: the `redis` bus backend, which mirrors every event of a bus into Redis Streams.
 *
 * Redis never sits on the trading path. publish() (the bus backend hook, called after the
 * in-process subscribers) copies the event into a bounded buffer (evbuf.h) and returns; a
 * flush on the engine's libuv loop encodes buffered events (event.h) and writes them with
 * pipelined `XADD {prefix}:<stream> MAXLEN ~ <maxlen> * field value ...`, at most `pipeline`
 * in flight, through hiredis' async API (redis_client.h). One stream per kind: market_data
 * (trade, quote, bar, depth), signal, order, fill, timer, alert, position; the hash tag keeps
 * all of a deployment's streams in one Redis Cluster slot.
 *
 * Nothing is lost when Redis goes away: an event leaves the buffer only when Redis has
 * answered its XADD with an id. When the connection drops, the events that were in flight
 * may or may not have been written; after reconnecting the writer reads the stream from the
 * last id it had acknowledged and finds its own entries (field `src`, its writer id, and
 * `seq`), so those are not written twice and the rest are sent again, in order. While Redis
 * is away the engine keeps trading and the buffer fills; when it is full, the overflow policy
 * applies: block (publish waits, serving the Redis connection, until there is room), drop_oldest (counted)
 * or halt (events are refused and the stop flag is raised). Outages are logged and counted.
 *
 * Redis down at start: on_down fail returns an error naming the server and the reason;
 * on_down wait retries with backoff until Redis answers or the stop flag is raised. A wrong
 * password or db is always an error. */
#ifndef SV_BUS_REDIS_H
#define SV_BUS_REDIS_H

#include <signal.h>
#include <stdint.h>

#include "bus.h"
#include "error.h"
#include "event.h"
#include "log.h"
#include "redis_client.h"

enum { SV_REDIS_ON_DOWN_FAIL = 0, SV_REDIS_ON_DOWN_WAIT = 1 };
enum { SV_REDIS_STREAMS = 7 }; /* market_data, signal, order, fill, timer, alert, position */

/* bus.redis in the environment file (docs/config.md). Strings are not copied here; the
 * writer and the consumers copy what they keep. */
typedef struct sv_redis_options {
    const char *host;
    int port;
    const char *password;         /* NULL or "": no AUTH */
    int db;
    const char *prefix;           /* streams are {prefix}:<stream> */
    uint64_t maxlen;              /* XADD MAXLEN ~ maxlen; 0: no trimming */
    uint32_t buffer;              /* events held while Redis is slow or away */
    int overflow;                 /* sv_overflow_t (evbuf.h) */
    int on_down;                  /* SV_REDIS_ON_DOWN_* */
    uint32_t timeout_ms, backoff_ms, backoff_max_ms;
    uint32_t pipeline;            /* XADDs in flight */
    uint32_t drain_ms;            /* at shutdown, how long to wait for buffered events to be written */
    int cluster;
    const char *nodes[SV_REDIS_MAX_NODES]; /* more seeds, "host:port" */
    uint32_t n_nodes;
    /* consumers (redis_source.h) */
    const char *group;
    const char *consumer;         /* NULL or "": the host name */
    const char *group_start;      /* id the group starts at when created: "$", "0" or an id */
    uint32_t claim_idle_ms;       /* pending entries idle this long are claimed from their consumer */
    uint32_t batch;               /* entries per read */
    volatile sig_atomic_t *stop;  /* raised by a signal: ends waits (on_down wait, block) */
} sv_redis_options_t;

struct sv_cfg_node;
/* Fills o with defaults (what the schema's defaults say). */
void sv_redis_options_default(sv_redis_options_t *o);
/* Reads bus.redis from a loaded environment (root) and checks what the schema cannot (a
 * prefix with braces, a db other than 0 in a cluster, node addresses). Returns 0 or
 * SV_E_CONFIG with diag naming file:line:column. o's strings point into the config. */
int sv_redis_options_from_config(const struct sv_cfg_node *root, sv_redis_options_t *o, sv_diag_t *diag);

/* The name of stream index s (0 .. SV_REDIS_STREAMS-1): "market_data", "signal", ... */
const char *sv_redis_stream_name(int s);
/* The stream index of an event kind, or -1. */
int sv_redis_stream_of(int kind);
/* Writes "{prefix}:<stream>" into buf. Returns its length, or SV_E_RANGE if it does not fit. */
int sv_redis_stream_key(const char *prefix, int stream, char *buf, size_t len);

typedef struct sv_bus_redis sv_bus_redis_t;

typedef struct sv_bus_redis_stats {
    uint64_t published;    /* events handed to the writer */
    uint64_t written;      /* acknowledged by Redis (including ones found written after a reconnect) */
    uint64_t recovered;    /* of those, found in the stream after a reconnect instead of re-sent */
    uint64_t resent;       /* events sent again after a lost connection or a redirect */
    uint64_t dropped;      /* dropped by drop_oldest (or by a stop request while blocked) */
    uint64_t refused;      /* refused under halt */
    uint64_t rejected;     /* refused by Redis with a permanent error (logged) */
    uint64_t blocked;      /* publishes that waited for room (block) */
    int64_t blocked_ns;    /* time they waited */
    uint32_t buffered;     /* held now (not yet acknowledged) */
    uint32_t max_buffered;
    uint64_t outages;
    int64_t outage_ns;
    uint64_t moved, asked;
    int halted;
    int connected;
} sv_bus_redis_stats_t;

/* Creates a writer on loop (the engine's), connects and waits (per on_down) until Redis
 * answers. names resolve symbol and text ids when encoding. Returns 0 and *out, or an error
 * with diag: SV_E_CONFIG (wrong password, bad db), SV_E_IO (unreachable under on_down fail),
 * SV_E_STATE (the stop flag ended the wait), SV_E_NOMEM. */
int sv_bus_redis_new(const sv_redis_options_t *o, struct uv_loop_s *loop, sv_log_t *log,
                     const sv_event_names_t *names, sv_bus_redis_t **out, sv_diag_t *diag);
/* The backend for sv_bus_attach(): once attached, the bus owns w (its destroy frees w). */
sv_bus_backend_t sv_bus_redis_backend(sv_bus_redis_t *w);
/* Serves the loop until every buffered event is written or timeout_ms passes. Returns 0, or
 * SV_E_IO when events remain. */
int sv_bus_redis_drain(sv_bus_redis_t *w, uint32_t timeout_ms);
/* Drains (drain_ms), logs a summary and closes the connections; afterwards the writer
 * refuses events. Call before the loop is closed (sv_engine_free does). */
void sv_bus_redis_shutdown(sv_bus_redis_t *w);
/* Frees w (shutting it down first, and turning the loop once, if that was not done). */
void sv_bus_redis_free(sv_bus_redis_t *w);

void sv_bus_redis_stats(const sv_bus_redis_t *w, sv_bus_redis_stats_t *out);
/* The writer id carried in every entry's `src` field: "<host>/<pid>/<start ms>". */
const char *sv_bus_redis_src(const sv_bus_redis_t *w);

#endif
