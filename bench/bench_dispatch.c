/* bench_dispatch: the cost of the strategy hot path.
 *   lua_dispatch_ns          bus publish of a bar -> Lua on_bar reading one field -> return
 *   lua_dispatch_guarded_ns  the same with the CPU guard on (a 5 ms budget, its watchdog running)
 *   bus_publish_ns           the same publish with no Lua subscriber (the floor)
 *   event_to_signal_p50/p99  market event published -> SignalEvent published by the strategy
 *   allocs_per_event         heap allocations per event on that path, counted
 *   cpu_guard_overhead_pct   sma_cross behind the whole engine (sim venue), per-event cost with
 *                            the guard vs without, best of 10 alternating runs each
 *   cpu_guard_stop_ms        a JIT-compiled `while true do x = x + 1 end` in on_bar under a
 *                            5 ms budget: event fed -> the call stopped and the strategy
 *                            disabled (worst of 20; the goal is 2 budgets); also its median and
 *                            the worst in CPU time of the engine thread (what the budget counts)
 * Strategies are written to a temporary directory; the engine is the real libsilvertine. */
#include "bench_common.h"

#include "engine.h"
#include "script.h"

BENCH_COUNT_ALLOCS

static const char *write_strategy(const char *name, const char *src)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ & 3];
    snprintf(p, 256, "/tmp/sv_bench_%d_%s.lua", (int)getpid(), name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(src, f) < 0 || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
    return p;
}

static sv_engine_t *engine_with(const char *file, uint32_t *sym)
{
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_WARN};
    sv_diag_t d;
    sv_engine_t *e = sv_engine_new(&o, &d);
    const char *syms[] = {"BTCUSDT"};
    sv_strategy_spec_t spec = {.name = "bench", .file = file, .symbols = syms, .n_symbols = 1};
    if (!e || sv_engine_add_strategy(e, &spec, &d) < 0) {
        fprintf(stderr, "bench: %s\n", d.msg);
        exit(1);
    }
    *sym = sv_engine_symbol(e, "BTCUSDT");
    sv_engine_start(e);
    return e;
}

/* An engine with the sim venue and one BTCUSDT strategy; cpu_budget_ms 0: no guard. */
static sv_engine_t *sim_engine(const char *file, double cpu_budget_ms, uint32_t *sym)
{
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_ERROR,
                             .script_cpu_budget_ms = cpu_budget_ms};
    sv_diag_t d;
    sv_engine_t *e = sv_engine_new(&o, &d);
    if (!e || sv_engine_add_instrument(e, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0") != 0 ||
        sv_engine_set_balance(e, "USDT", "100000000") != 0) {
        fprintf(stderr, "bench: engine set-up failed\n");
        exit(1);
    }
    sv_sim_config_t sc = {.participation = 1};
    sv_engine_use_sim(e, &sc);
    const char *syms[] = {"BTCUSDT"};
    sv_strategy_spec_t spec = {.name = "bench", .file = file, .symbols = syms, .n_symbols = 1};
    if (sv_engine_add_strategy(e, &spec, &d) < 0) {
        fprintf(stderr, "bench: %s\n", d.msg);
        exit(1);
    }
    *sym = sv_engine_symbol(e, "BTCUSDT");
    sv_engine_start(e);
    return e;
}

/* ns per bar of sma_cross behind the whole engine: a random walk, so it trades */
static double sma_cross_ns(const char *file, double cpu_budget_ms, long n)
{
    uint32_t sym;
    sv_engine_t *e = sim_engine(file, cpu_budget_ms, &sym);
    sv_event_t ev;
    uint64_t x = 88172645463325252ull;
    int64_t px = 4200000000000;
    int64_t t0 = 0;
    for (long i = 0; i < n + 100000; i++) {
        if (i == 100000)
            t0 = bench_now_ns();
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        px += (int64_t)(x % 2001) * 1000000 - 1000000000;
        memset(&ev, 0, sizeof ev);
        ev.h.kind = SV_EV_BAR;
        ev.h.symbol = sym;
        ev.h.ts_exchange = 1704067200000000000LL + i * 60000000000LL;
        ev.u.bar.open = ev.u.bar.high = ev.u.bar.low = ev.u.bar.close = px;
        ev.u.bar.volume = 100000000000000LL;
        sv_engine_feed(e, &ev);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    if (!sv_engine_strategy_enabled(e, 1)) {
        fprintf(stderr, "bench: sma_cross stopped: %s\n", sv_engine_strategy_error(e, 1));
        exit(1);
    }
    sv_engine_free(e);
    return ns;
}

static void make_bar(sv_event_t *ev, uint32_t sym, int64_t i)
{
    memset(ev, 0, sizeof *ev);
    ev->h.kind = SV_EV_BAR;
    ev->h.symbol = sym;
    ev->h.ts_exchange = 1704067200000000000LL + i * 60000000000LL;
    ev->u.bar.close = 4200000000000 + (i % 1000) * 100000000;
    ev->u.bar.open = ev->u.bar.high = ev->u.bar.low = ev->u.bar.close;
}

typedef struct lat {
    int64_t t0;
    int64_t *samples;
    size_t n, cap;
} lat_t;

static void on_signal(void *ud, const sv_event_t *ev)
{
    (void)ev;
    lat_t *l = ud;
    if (l->n < l->cap)
        l->samples[l->n++] = bench_now_ns() - l->t0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    sv_event_t ev;
    uint32_t sym;

    /* the floor: a publish with no subscriber interested in bars */
    {
        sv_bus_t *bus = sv_bus_new(1024, 16, NULL, NULL);
        make_bar(&ev, 1, 0);
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sv_bus_publish(bus, &ev);
        bench_report("bus_publish_ns", (double)(bench_now_ns() - t0) / (double)n, "ns/event");
        sv_bus_free(bus);
    }

    /* dispatch: the bus and the strategy host alone, a handler that reads one field */
    {
        const char *f = write_strategy("read", "local S = {}\nlocal last = 0\n"
                                               "function S.on_bar(ctx, bar) last = bar.close end\n"
                                               "return S\n");
        sv_clock_t *clock = sv_clock_new(1, 16);
        sv_intern_t *syms = sv_intern_new(16, 1024), *texts = sv_intern_new(16, 1024);
        sv_log_t log;
        sv_log_init(&log, stderr, SV_LOG_WARN);
        sv_bus_t *bus = sv_bus_new(1024, 16, NULL, NULL);
        sv_strategy_host_t *h = sv_strategy_host_new(bus, clock, syms, texts, &log, 0);
        const char *names[] = {"BTCUSDT"};
        sv_strategy_spec_t spec = {.name = "bench", .file = f, .symbols = names, .n_symbols = 1};
        sv_diag_t d;
        if (sv_strategy_load(h, &spec, &d) < 0) {
            fprintf(stderr, "bench: %s\n", d.msg);
            return 1;
        }
        sv_strategy_start_all(h);
        make_bar(&ev, sv_intern_find(syms, "BTCUSDT", -1), 0);
        for (long i = 0; i < 100000; i++) /* warm up: let the JIT compile the handler */
            sv_bus_publish(bus, &ev);
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sv_bus_publish(bus, &ev);
        bench_report("lua_dispatch_ns", (double)(bench_now_ns() - t0) / (double)n, "ns/event");
        /* the same with the guard: a second host whose strategy has a 5 ms budget */
        sv_strategy_host_t *g = sv_strategy_host_new(bus, clock, syms, texts, &log, 0);
        sv_strategy_host_set_cpu_budget(g, 5);
        spec.name = "guarded";
        sv_strategy_host_free(h);
        if (sv_strategy_load(g, &spec, &d) < 0) {
            fprintf(stderr, "bench: %s\n", d.msg);
            return 1;
        }
        sv_strategy_start_all(g);
        for (long i = 0; i < 100000; i++)
            sv_bus_publish(bus, &ev);
        t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sv_bus_publish(bus, &ev);
        bench_report("lua_dispatch_guarded_ns", (double)(bench_now_ns() - t0) / (double)n, "ns/event (CPU guard on)");
        sv_strategy_host_free(g);
        sv_bus_free(bus);
        sv_intern_free(syms);
        sv_intern_free(texts);
        sv_clock_free(clock);
        remove(f);
    }

    /* the same handler behind the whole engine (portfolio marks, venue matching) */
    {
        const char *f = write_strategy("read2", "local S = {}\nlocal last = 0\n"
                                                "function S.on_bar(ctx, bar) last = bar.close end\n"
                                                "return S\n");
        sv_engine_t *e = engine_with(f, &sym);
        for (long i = 0; i < 100000; i++) {
            make_bar(&ev, sym, i);
            sv_engine_feed(e, &ev);
        }
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            make_bar(&ev, sym, 100000 + i);
            sv_engine_feed(e, &ev);
        }
        bench_report("engine_bar_event_ns", (double)(bench_now_ns() - t0) / (double)n, "ns/event (full engine)");
        sv_engine_free(e);
        remove(f);
    }

    /* event -> signal: a strategy that signals on every bar */
    {
        const char *f = write_strategy("signal", "local S = { params = { qty = 0.01 } }\n"
                                                 "function S.on_bar(ctx, bar)\n"
                                                 "  ctx:buy(bar.symbol, S.params.qty, bar.close)\n"
                                                 "end\nreturn S\n");
        sv_engine_t *e = engine_with(f, &sym);
        lat_t l = {.cap = (size_t)n};
        l.samples = malloc(sizeof(int64_t) * l.cap);
        sv_bus_subscribe(sv_engine_bus(e), SV_BUS_MASK(SV_EV_SIGNAL), on_signal, &l);
        for (long i = 0; i < 100000; i++) {
            make_bar(&ev, sym, i);
            sv_engine_feed(e, &ev);
        }
        l.n = 0;
        uint64_t a0 = bench_allocs;
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            make_bar(&ev, sym, 100000 + i);
            l.t0 = bench_now_ns();
            sv_engine_feed(e, &ev);
        }
        int64_t total = bench_now_ns() - t0;
        uint64_t allocs = bench_allocs - a0;
        if (l.n != (size_t)n) {
            fprintf(stderr, "bench: expected %ld signals, got %zu (%s)\n", n, l.n,
                    sv_engine_strategy_error(e, 1));
            return 1;
        }
        bench_report("event_to_signal_mean_ns", (double)total / (double)n, "ns/event (incl. 2 clock reads)");
        bench_report("event_to_signal_p50_ns", (double)bench_percentile(l.samples, l.n, 50), "ns");
        bench_report("event_to_signal_p99_ns", (double)bench_percentile(l.samples, l.n, 99), "ns");
        bench_report("allocs_per_event", (double)allocs / (double)n, "heap allocations/event");
        free(l.samples);
        sv_engine_free(e);
        remove(f);
    }

    /* the guard's cost on a real strategy: sma_cross, best of alternating runs */
    {
        const char *root = getenv("SV_SOURCE_DIR") ? getenv("SV_SOURCE_DIR") : SV_SOURCE_DIR;
        char f[1024];
        snprintf(f, sizeof f, "%s/strategies/sma_cross.lua", root);
        /* the hot path is the same code either way (the call counter is always kept): what
         * differs is the watchdog thread, waking every 1.25 ms. Many short alternating runs,
         * best of each: the VM's noise is larger than the difference */
        long m = n / 4 > 100000 ? n / 4 : 100000;
        double plain = 1e30, guarded = 1e30;
        for (int r = 0; r < 10; r++) {
            double a = sma_cross_ns(f, 0, m), b = sma_cross_ns(f, 5, m);
            plain = a < plain ? a : plain;
            guarded = b < guarded ? b : guarded;
        }
        bench_report("sma_cross_event_ns", plain, "ns/event (full engine, no CPU guard)");
        bench_report("sma_cross_event_guarded_ns", guarded, "ns/event (full engine, 5 ms CPU budget)");
        bench_report("cpu_guard_overhead_pct", (guarded - plain) / plain * 100, "% per event (goal <= 5)");
    }

    /* a runaway handler: how long until it is stopped (a stock LuaJIT never stops it) */
    if (!sv_script_guard_stops_jit()) {
        fprintf(stderr, "bench: cpu_guard_stop_ms skipped: LuaJIT without LUAJIT_ENABLE_CHECKHOOK\n");
    } else {
        const char *f = write_strategy("runaway", "local S = {}\n"
                                                  "function S.on_bar(ctx, bar)\n"
                                                  "  if bar.close > 0 then local x = 0 while true do x = x + 1 end end\n"
                                                  "end\nreturn S\n");
        int64_t worst = 0, worst_cpu = 0, samples[20];
        for (int r = 0; r < 20; r++) {
            uint32_t sym;
            sv_engine_t *e = sim_engine(f, 5, &sym);
            make_bar(&ev, sym, r);
            struct timespec c0, c1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            int64_t t0 = bench_now_ns();
            sv_engine_feed(e, &ev);
            samples[r] = bench_now_ns() - t0;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            int64_t cpu = (c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec);
            worst_cpu = cpu > worst_cpu ? cpu : worst_cpu;
            if (sv_engine_strategy_enabled(e, 1) || !strstr(sv_engine_strategy_error(e, 1), "CPU budget of 5 ms")) {
                fprintf(stderr, "bench: the runaway was not stopped: %s\n", sv_engine_strategy_error(e, 1));
                return 1;
            }
            worst = samples[r] > worst ? samples[r] : worst;
            sv_engine_free(e);
        }
        bench_report("cpu_guard_stop_ms", (double)worst / 1e6, "ms, worst of 20 (budget 5 ms, goal <= 10)");
        bench_report("cpu_guard_stop_p50_ms", (double)bench_percentile(samples, 20, 50) / 1e6, "ms, median of 20");
        bench_report("cpu_guard_stop_cpu_ms", (double)worst_cpu / 1e6, "ms of the engine thread's CPU time, worst of 20");
        remove(f);
    }
    return 0;
}
