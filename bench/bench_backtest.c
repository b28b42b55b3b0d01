/* bench_backtest: whole backtests through the real session code (CSV parsing, bus, sim venue,
 * OMS, portfolio, sma_cross in Lua), single thread.
 *   backtest_trades_events_per_s  a 10,000,000-trade file (trades + the 1-minute bars made from them)
 *   backtest_peak_rss_mb          peak resident memory after that run (streamed: flat in the data length)
 *   backtest_bars_events_per_s    a year of 1-minute bars for three symbols
 * usage: bench_backtest CONFIG TRADES_CSV BARS_CSV...   (scripts/bench.sh generates the data) */
#include "bench_common.h"

#include <sys/resource.h>

#include "log.h"
#include "session.h"

static double run(const char *cfg, const char **data, uint32_t n, uint64_t *events)
{
    FILE *devnull = fopen("/dev/null", "w");
    sv_session_options_t o = {.mode = SV_SESSION_BACKTEST, .config_path = cfg, .data = data,
                              .n_data = n, .log_level = SV_LOG_ERROR, .out = devnull};
    sv_session_result_t res;
    sv_diag_t d;
    int64_t t0 = bench_now_ns();
    if (sv_session_run(&o, &res, &d) != 0) {
        fprintf(stderr, "bench_backtest: %s\n", d.msg);
        exit(1);
    }
    int64_t dt = bench_now_ns() - t0;
    fclose(devnull);
    *events = res.events;
    return (double)res.events / ((double)dt / 1e9);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_backtest CONFIG TRADES_CSV BARS_CSV...\n");
        return 2;
    }
    uint64_t ev;
    const char *trades[] = {argv[2]};
    double tps = run(argv[1], trades, 1, &ev);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bench_report("backtest_trades_events_per_s", tps, "events/s (10M trades + bars, sma_cross)");
    bench_report("backtest_trades_events", (double)ev, "events");
    bench_report("backtest_peak_rss_mb", (double)ru.ru_maxrss / 1024.0, "MiB peak RSS");
    double bps = run(argv[1], (const char **)argv + 3, (uint32_t)(argc - 3), &ev);
    bench_report("backtest_bars_events_per_s", bps, "events/s (1y of 1m bars x3 symbols)");
    bench_report("backtest_bars_events", (double)ev, "events");
    return 0;
}
