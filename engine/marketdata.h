/* marketdata: historical feeds and bar aggregation.
 *
 * Readers stream Binance's public CSV files (never loading them whole): klines
 *   open_time, open, high, low, close, volume, close_time, quote_volume, trades,
 *   taker_buy_base, taker_buy_quote, ignore
 * and trades
 *   id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]
 * with or without a header line, timestamps in ms or µs (told apart by magnitude). Prices
 * and quantities are parsed exactly into fixed point. Every row is validated: a malformed
 * or impossible row (non-positive price, high < low, open/close outside the range, negative
 * volume, time going backwards) is an error naming file:line and the reason, or, under the
 * skip policy, a counted warning; gaps between klines are counted warnings.
 *
 * The aggregator turns trades into bars of a fixed interval (1 s, 1 m, ...) per symbol. */
#ifndef SV_MARKETDATA_H
#define SV_MARKETDATA_H

#include <stdint.h>

#include "abi.h"
#include "error.h"

typedef enum sv_md_format { SV_MD_AUTO = 0, SV_MD_KLINES = 1, SV_MD_TRADES = 2 } sv_md_format_t;
typedef enum sv_md_policy { SV_MD_STRICT = 0, SV_MD_SKIP = 1 } sv_md_policy_t;

typedef struct sv_md_options {
    int format;      /* sv_md_format_t; AUTO decides from the first data row's column count */
    int policy;      /* sv_md_policy_t */
    uint32_t symbol; /* interned id stamped on every event */
    int64_t from_ns; /* rows before it are skipped (0: no bound) */
    int64_t to_ns;   /* rows at or after it are skipped (0: no bound) */
} sv_md_options_t;

typedef struct sv_md_stats {
    uint64_t rows;      /* data rows read (header excluded) */
    uint64_t events;    /* events returned */
    uint64_t skipped;   /* bad rows skipped under SV_MD_SKIP */
    uint64_t gaps;      /* missing klines between two rows */
    uint64_t filtered;  /* rows outside from/to */
    char first_warning[512];
} sv_md_stats_t;

typedef struct sv_md_reader sv_md_reader_t;

/* Opens a CSV file. Returns 0, SV_E_NOTFOUND/SV_E_IO (diag names the file) or SV_E_PARSE
 * (unrecognised layout). */
int sv_md_open(const char *path, const sv_md_options_t *opts, sv_md_reader_t **out, sv_diag_t *diag);
void sv_md_close(sv_md_reader_t *r);

/* Reads the next event into *ev (SV_EV_BAR or SV_EV_TRADE). Returns 1 for an event, 0 at
 * the end, or SV_E_PARSE with diag "file:line: reason" under the strict policy. */
int sv_md_next(sv_md_reader_t *r, sv_event_t *ev, sv_diag_t *diag);

int sv_md_format(const sv_md_reader_t *r);
void sv_md_stats(const sv_md_reader_t *r, sv_md_stats_t *out);
/* Fraction of the file consumed, 0..1 (for progress bars). */
double sv_md_progress(const sv_md_reader_t *r);

/* Bars from trades: one open bar per symbol. */
typedef struct sv_bar_agg sv_bar_agg_t;

/* Creates an aggregator of interval_s-second bars for symbols with ids < max_symbols. */
sv_bar_agg_t *sv_bar_agg_new(uint32_t interval_s, uint32_t max_symbols);
void sv_bar_agg_free(sv_bar_agg_t *a);

/* Adds a trade. When the trade starts a new interval, the finished bar of that symbol is
 * written to *bar and 1 is returned (the trade then opens the next bar); else 0. Intervals
 * without trades produce no bar. SV_E_RANGE for a symbol id >= max_symbols. */
int sv_bar_agg_add(sv_bar_agg_t *a, const sv_event_t *trade, sv_event_t *bar);

/* Emits the open bar of the next symbol that has one (call until 0 at the end of data). */
int sv_bar_agg_flush(sv_bar_agg_t *a, sv_event_t *bar);

#endif
