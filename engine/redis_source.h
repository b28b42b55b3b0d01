/* redis_source: an engine's events read from a Redis stream written by the Redis bus
 * (bus_redis.h): live, as one consumer of a consumer group, or replayed from a stream id or a
 * time.
 *
 * Group mode (`silvertine run` with data.source redis): the engine is consumer
 * bus.redis.consumer of group bus.redis.group on {prefix}:market_data. The group is created
 * if needed (at bus.redis.group_start). On start and after every reconnect the consumer first
 * reads its own pending entries (delivered to it before, never acknowledged: a restarted
 * engine resumes right after its last acknowledged entry), then new ones (XREADGROUP >). Each
 * entry is decoded (event.h), fed to the engine (sv_engine_feed), and acknowledged (XACK,
 * batched) once the engine has processed it, so several engines in one group split the stream
 * and each entry is processed by one of them. Entries pending for another consumer longer
 * than bus.redis.claim_idle_ms (a dead engine) are claimed (XPENDING + XCLAIM) and processed.
 *
 * Range mode (`silvertine replay --from ID|TIME`): XRANGE from..to in pages, fed in order,
 * until the end of the stream.
 *
 * Entries that cannot be decoded (written by something else, or damaged) are skipped,
 * counted, and logged with the stream, the entry id and the field; in group mode they are
 * acknowledged so they do not come back. Events read are marked SV_EVF_REMOTE (and
 * SV_EVF_REPLAY in range mode), so a Redis backend on the same engine does not write them
 * again. Decoding happens in the reply callback and feeding in sv_redis_source_run(), outside
 * any loop callback, so the engine is never entered from inside its own loop. */
#ifndef SV_REDIS_SOURCE_H
#define SV_REDIS_SOURCE_H

#include <signal.h>
#include <stdint.h>

#include "bus_redis.h"
#include "engine.h"

enum { SV_REDIS_READ_GROUP = 0, SV_REDIS_READ_RANGE = 1 };

typedef struct sv_redis_source sv_redis_source_t;

typedef struct sv_redis_source_options {
    int mode;                    /* SV_REDIS_READ_* */
    int stream;                  /* stream index (bus_redis.h); 0: market_data */
    const char *from, *to;       /* range: first and last id, inclusive; NULL: "-" and "+" */
    double idle_exit_s;          /* group: stop after this long connected without a new entry; 0: never */
    volatile sig_atomic_t *stop; /* raised: stop after the entry being processed */
    /* Called with every decoded entry (any kind) instead of feeding market data to the
     * engine; a negative return stops the run with that error. */
    int (*on_event)(void *ud, sv_event_t *ev, const char *id);
    void *ud;
} sv_redis_source_options_t;

typedef struct sv_redis_source_stats {
    uint64_t entries;   /* entries read */
    uint64_t events;    /* events processed (fed) */
    uint64_t skipped;   /* entries that could not be decoded, or not market data */
    uint64_t acked;     /* acknowledged (group) */
    uint64_t claimed;   /* claimed from other consumers (group) */
    uint64_t outages;
    char first_id[48], last_id[48]; /* ids of the first and last entry processed */
} sv_redis_source_stats_t;

/* Connects (waiting or failing per ro->on_down) and, in group mode, joins the group. Returns 0
 * and *out, or an error with diag (SV_E_CONFIG: wrong password or db; SV_E_IO: Redis
 * unreachable). */
int sv_redis_source_open(sv_engine_t *eng, const sv_redis_options_t *ro, const sv_redis_source_options_t *so,
                         sv_redis_source_t **out, sv_diag_t *diag);
/* Reads and processes entries until the range ends, the stop flag is raised or the idle time
 * passes; acknowledges what was processed before returning. 0 or an error with diag. */
int sv_redis_source_run(sv_redis_source_t *s, sv_diag_t *diag);
/* Closes the connection (call before the engine is freed). */
void sv_redis_source_close(sv_redis_source_t *s);
void sv_redis_source_stats(const sv_redis_source_t *s, sv_redis_source_stats_t *out);

/* Turns "ID" ("1700000000000-5", "1700000000000", "-", "+", "$" not allowed) or a UTC time
 * ("2024-01-02", "2024-01-02T03:04[:05]") into a stream id in out. Returns 0 or SV_E_PARSE. */
int sv_redis_parse_id(const char *text, char *out, size_t len);

#endif
