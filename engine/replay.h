/* replay: drives an engine from historical data files, in time order.
 *
 * Each source is "[SYMBOL=]path"; without SYMBOL= the symbol is the file name up to its first
 * '-', '_' or '.' ("BTCUSDT-1m-2024-01.csv" -> BTCUSDT). Several files are merged by exchange
 * time (ties: the order the files were given). Trades can also be aggregated into bars
 * (bar_interval_s): a finished bar is published just before the trade that closes it (the bar
 * ended at or before that trade's time); open bars are flushed at the end. As fast as the
 * CPU allows (backtest), or paced against the wall clock at `speed` times real time (paper). */
#ifndef SV_REPLAY_H
#define SV_REPLAY_H

#include <signal.h>
#include <stdint.h>

#include "engine.h"
#include "marketdata.h"

enum { SV_REPLAY_MAX_SOURCES = 64 };

typedef struct sv_replay sv_replay_t;

typedef struct sv_replay_options {
    int policy;               /* sv_md_policy_t for bad rows */
    int64_t from_ns, to_ns;   /* 0: no bound */
    uint32_t bar_interval_s;  /* > 0: aggregate trades into bars of this length */
    double speed;             /* 0: as fast as possible; else wall-clock pacing factor */
    volatile sig_atomic_t *stop; /* set non-zero (e.g. by a signal handler) to stop early */
    void (*progress)(void *ud, double fraction, uint64_t events);
    void *progress_ud;
    /* called after every market event is published (the engine's own loop step) */
    void (*after_event)(void *ud, const sv_event_t *ev);
    void *after_ud;
} sv_replay_options_t;

/* Opens every source. Returns 0 or an error with diag naming the file. */
int sv_replay_open(sv_engine_t *eng, const char *const *sources, uint32_t n,
                   const sv_replay_options_t *opts, sv_replay_t **out, sv_diag_t *diag);
void sv_replay_close(sv_replay_t *r);

/* Time of the first event (ns), or 0 when the sources are empty; reads ahead only. */
int64_t sv_replay_first_time(sv_replay_t *r);

/* Feeds every event to the engine. Returns 0, or a data error (strict policy) with diag. */
int sv_replay_run(sv_replay_t *r, sv_diag_t *diag);

/* Events fed, and the stats of source i. */
uint64_t sv_replay_events(const sv_replay_t *r);
int sv_replay_source_stats(const sv_replay_t *r, uint32_t i, const char **path, sv_md_stats_t *st);

#endif
