/* report: backtest metrics and the reports a quant reads: a summary table for the terminal,
 * report.json and a self-contained report.html (inline SVG equity curve and drawdown, the
 * trade list, every metric). Deterministic: the same input gives byte-identical files (no
 * timestamps of the run, fixed number formatting, no locale).
 *
 * Conventions (docs/backtest.md): returns are computed from the equity curve resampled to
 * UTC days (the last point of each day); crypto trades every day, so annualisation uses 365
 * days. Sharpe and Sortino use a zero risk-free rate. VaR 95 % is the historical 5th
 * percentile of daily returns, reported as a positive loss fraction. */
#ifndef SV_REPORT_H
#define SV_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sv_equity_point {
    int64_t ts;    /* ns */
    double equity; /* quote units */
} sv_equity_point_t;

typedef struct sv_report_trade {
    char symbol[32];
    char strategy[64];
    int side;          /* +1 long, -1 short */
    int64_t open_ts, close_ts; /* ns */
    double qty, entry_price, exit_price;
    double pnl;        /* after fees */
    double fees;
} sv_report_trade_t;

typedef struct sv_report_input {
    const char *title;           /* e.g. "sma_cross on BTCUSDT" */
    const char *config;          /* the environment file */
    const char *quote;           /* currency of equity, e.g. "USDT" */
    double initial_equity;
    const sv_equity_point_t *equity; /* time-ordered samples, first = start */
    size_t n_equity;
    const sv_report_trade_t *trades;
    size_t n_trades;
    double fees_paid;
    int64_t exposure_ns;         /* time with any open position */
    uint64_t events;             /* market events replayed */
    uint64_t orders, fills, rejects;
} sv_report_input_t;

typedef struct sv_report_metrics {
    double start_equity, final_equity;
    double total_return;          /* fraction: 0.12 = +12 % */
    double cagr;
    double volatility;            /* annualised, of daily returns */
    double sharpe, sortino, calmar;
    double max_drawdown;          /* fraction, positive */
    double max_drawdown_duration_s; /* longest time below a previous peak */
    double win_rate;              /* fraction of trades with pnl > 0 */
    double profit_factor;         /* gross profit / |gross loss|; INFINITY with wins and no loss
                                   * (null in JSON, "inf" in text), 0 with neither */
    double expectancy;            /* mean pnl per trade */
    double avg_win, avg_loss;     /* avg_loss is negative */
    double best_trade, worst_trade;
    double avg_trade_duration_s;
    double exposure;              /* fraction of the period with a position */
    double fees;
    double var95_daily;           /* fraction */
    uint64_t n_trades;
    double days;                  /* length of the period */
} sv_report_metrics_t;

/* Computes every metric; none is NaN or infinite except profit_factor as above. Returns 0,
 * SV_E_INVAL when there is no equity sample or the last is older than the first, or SV_E_NOMEM. */
int sv_report_compute(const sv_report_input_t *in, sv_report_metrics_t *out);

/* The table printed at the end of a backtest. */
void sv_report_print_summary(FILE *out, const sv_report_input_t *in, const sv_report_metrics_t *m);

/* Writes report.json / report.html; the equity curve and drawdown are downsampled to at most
 * 2000 samples, keeping the first, the last and the maximum drawdown's peak and trough.
 * Returns 0, SV_E_INVAL (no equity sample), SV_E_NOMEM or SV_E_IO. */
int sv_report_write_json(const char *path, const sv_report_input_t *in, const sv_report_metrics_t *m);
int sv_report_write_html(const char *path, const sv_report_input_t *in, const sv_report_metrics_t *m);

#endif
