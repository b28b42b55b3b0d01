/* session: one run of the engine on a historical feed, as the CLI's `backtest` and `run`
 * (paper trading) commands use it: config -> engine with the sim venue -> replay -> at the end
 * open orders canceled, final positions and PnL, and (backtest) the report.
 *
 * Backtest: as fast as the CPU allows, equity sampled every equity_interval_s of data time,
 * a progress bar on a terminal, a summary table, report.json and report.html in out_dir.
 * Paper: paced at `speed` times real time, a line per fill; a stop request (Ctrl-C, SIGTERM)
 * ends the replay early and the session still cancels open orders and prints the result.
 * With bus.backend redis every event is also written to Redis Streams (bus_redis.h); a paper
 * session can take its market data from Redis instead of files (SV_SOURCE_REDIS*). */
#ifndef SV_SESSION_H
#define SV_SESSION_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "report.h"

enum { SV_SESSION_BACKTEST = 0, SV_SESSION_PAPER = 1 };

/* Where market data comes from (paper sessions; a backtest always replays files). */
enum {
    SV_SOURCE_CONFIG = 0,     /* data.source */
    SV_SOURCE_FILES = 1,      /* data.files or --data, replayed */
    SV_SOURCE_REDIS = 2,      /* {prefix}:market_data, live, in the consumer group (redis_source.h) */
    SV_SOURCE_REDIS_RANGE = 3 /* {prefix}:market_data from redis_from to redis_to (silvertine replay) */
};

typedef struct sv_session_options {
    int mode;                     /* SV_SESSION_BACKTEST or SV_SESSION_PAPER */
    const char *config_path;      /* environment file */
    const char *const *data;      /* "[SYMBOL=]file" sources; NULL/0: the config's data.files */
    uint32_t n_data;
    int64_t from_ns, to_ns;       /* 0: no bound */
    double speed;                 /* paper: < 0 = the config's data.speed; 0 = no pacing */
    uint32_t bar_interval_s;      /* aggregate trades into bars; 0 = 60 when a source has trades */
    uint32_t equity_interval_s;   /* 0: 60 */
    const char *out_dir;          /* backtest report directory; NULL: none written */
    int progress;                 /* draw a progress bar on stderr */
    int print_fills;              /* a line per fill on out */
    int log_level;                /* < 0: the config's log.level */
    FILE *out;                    /* summary and fill lines (stdout) */
    volatile sig_atomic_t *stop;  /* set to stop early */
    int source;                   /* SV_SOURCE_* */
    const char *redis_from, *redis_to; /* SV_SOURCE_REDIS_RANGE: stream ids; NULL: "-", "+" */
    double idle_exit_s;           /* SV_SOURCE_REDIS: stop after this long without an entry; 0: never */
} sv_session_options_t;

typedef struct sv_session_result {
    int exit_code;                /* 0 ok, 1 runtime (data/script) error, 2 config error */
    uint64_t events, orders, fills, rejects;
    uint32_t open_orders_canceled;
    sv_report_metrics_t metrics;  /* backtest */
    int stopped;                  /* the stop flag ended the replay */
} sv_session_result_t;

/* Runs a session. Returns 0 or an error with diag filled (res->exit_code says which kind). */
int sv_session_run(const sv_session_options_t *opts, sv_session_result_t *res, sv_diag_t *diag);

#endif
