/* fuzz_script: bounded fuzzing of the script host and the strategy host with generated and
 * mutated Lua programs.
 *
 * Each program is a strategy written from a small grammar (handlers that compute, branch,
 * loop, recurse, raise, allocate, match patterns and call every ctx method with hostile
 * arguments), or such a program with random byte edits (mostly syntax errors). It is loaded
 * into a fresh engine with the simulated exchange, an 8 MiB memory cap and a 10 ms CPU budget,
 * fed bars, ticks, quotes and timers, then stopped. The engine must never crash, and every
 * failure must be a clean diagnostic: a load error is SV_E_SCRIPT or SV_E_LIMIT with a message,
 * a disabled strategy names the handler and a reason, no program runs for long, and the
 * script's heap stays under its cap.
 *
 *   fuzz_script [-s seed] [-n count] [-t seconds] [-o failure.lua] [-v]   generate (defaults:
 *             seed 5, count 100000, 10 s, whichever ends first, $TMPDIR/fuzz_script-PID.lua;
 *             -v prints every diagnostic)
 *   fuzz_script FILE...                              replay programs (a saved failure)
 *
 * Prints one summary line; exit status 0, or 1 with the failing program left in -o (each
 * program runs from that file, so a crash leaves it there too). The sequence of programs
 * depends on the seed only, so a failure reproduces with the same seed. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "script.h"

enum { MEM_LIMIT_MB = 8, CPU_BUDGET_MS = 10, SRC_MAX = 1 << 16 };

/* ---- random programs ------------------------------------------------------------------------ */

typedef struct gen {
    uint64_t rng;
    char *buf;
    size_t len, cap;
    int depth;
} gen_t;

static uint32_t rnd(gen_t *g, uint32_t n)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return n ? (uint32_t)(g->rng % n) : 0;
}

static void put(gen_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gen_t *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->buf + g->len, g->cap - g->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        g->len += (size_t)n < g->cap - g->len ? (size_t)n : g->cap - g->len - 1;
}

static const char *pick(gen_t *g, const char *const *list, size_t n) { return list[rnd(g, (uint32_t)n)]; }
#define PICK(g, a) pick(g, a, sizeof a / sizeof a[0])

static void expr(gen_t *g);
static void block(gen_t *g, int n);

static const char *const numbers[] = {"0", "1", "-1", "0.5", "3", "100", "1e308", "-1e308", "(1/0)", "(-1/0)",
                                      "(0/0)", "2^53", "2^63", "1e-9", "42", "7", "-0.0", "65536"};
static const char *const strings[] = {"'XUSDT'", "'YUSDT'", "''", "'x'", "'USDT'", "'%d'", "'\\0'",
                                      "'on_bar'", "'buy'", "'sell'", "'limit'", "'ioc'"};
static const char *const fields[] = {"bar.close", "bar.symbol", "bar.time_ns", "bar.volume", "bar.open",
                                     "bar.time", "bar.seq", "bar.interval", "bar.nope", "bar.start"};
static const char *const patterns[] = {"'a'", "'%d+'", "'(.-)x'", "'[%w_]+'", "'%'", "'[a'", "'.-.-b'",
                                       "'(%a+)'", "'%b()'", "'^x*$'", "'%f[%w]'"};
static const char *const binops[] = {"+", "-", "*", "/", "%", "^", "..", "==", "~=", "<", "<=", "and", "or"};

static void var(gen_t *g)
{
    switch (rnd(g, 3)) {
    case 0: put(g, "v%u", rnd(g, 4)); break;
    case 1: put(g, "ctx.state.s%u", rnd(g, 3)); break;
    default: put(g, "G%u", rnd(g, 3)); break;
    }
}

static void func(gen_t *g)
{
    put(g, "function(...) ");
    block(g, 1 + (int)rnd(g, 2));
    put(g, " return ");
    expr(g);
    put(g, " end");
}

static void call(gen_t *g)
{
    switch (rnd(g, 24)) {
    case 0: put(g, "ctx:buy("); expr(g); put(g, ", "); expr(g); put(g, ")"); break;
    case 1: put(g, "ctx:sell("); expr(g); put(g, ", "); expr(g); put(g, ", "); expr(g); put(g, ")"); break;
    case 2:
        put(g, "ctx:order{ symbol = ");
        expr(g);
        put(g, ", side = %s, qty = ", rnd(g, 2) ? "'buy'" : "'sell'");
        expr(g);
        put(g, ", price = ");
        expr(g);
        put(g, ", tif = %s, tag = ", rnd(g, 2) ? "'gtc'" : "'fok'");
        expr(g);
        put(g, " }");
        break;
    case 3: put(g, "ctx:cancel("); expr(g); put(g, ")"); break;
    case 4: put(g, "ctx:cancel_all()"); break;
    case 5: put(g, "ctx:position("); expr(g); put(g, ")"); break;
    case 6: put(g, "ctx:balance("); expr(g); put(g, ")"); break;
    case 7: put(g, "ctx:timer("); expr(g); put(g, ", %s)", rnd(g, 2) ? "true" : "false"); break;
    case 8: put(g, "ctx:log("); expr(g); put(g, ", "); expr(g); put(g, ")"); break;
    case 9: put(g, "pcall("); func(g); put(g, ")"); break;
    case 10: put(g, "coroutine.wrap("); func(g); put(g, ")()"); break;
    case 11: put(g, "string.find(tostring("); expr(g); put(g, "), %s)", PICK(g, patterns)); break;
    case 12: put(g, "string.gsub(tostring("); expr(g); put(g, "), %s, tostring(", PICK(g, patterns)); expr(g); put(g, "))"); break;
    case 13: put(g, "string.rep(tostring("); expr(g); put(g, "), %s)", PICK(g, numbers)); break;
    case 14: put(g, "string.format(%s, ", rnd(g, 2) ? "'%d %s'" : "'%5.2f'"); expr(g); put(g, ", "); expr(g); put(g, ")"); break;
    case 15: put(g, "tostring("); expr(g); put(g, ")"); break;
    case 16: put(g, "tonumber("); expr(g); put(g, ")"); break;
    case 17: put(g, "math.floor("); expr(g); put(g, ")"); break;
    case 18: put(g, "setmetatable({}, { __index = "); func(g); put(g, ", __add = "); func(g); put(g, ", __tostring = "); func(g); put(g, " })"); break;
    case 19: put(g, "ctx.ta.sma("); expr(g); put(g, ")"); break;
    case 20: put(g, "select('#', "); expr(g); put(g, ")"); break;
    case 21: put(g, "unpack({"); expr(g); put(g, ", "); expr(g); put(g, "})"); break;
    case 22: put(g, "("); func(g); put(g, ")("); expr(g); put(g, ")"); break;
    default: put(g, "table.concat({"); expr(g); put(g, ", "); expr(g); put(g, "}, ',')"); break;
    }
}

static void expr(gen_t *g)
{
    if (g->len > SRC_MAX / 2 || ++g->depth > 6) {
        put(g, "%s", PICK(g, numbers));
        g->depth--;
        return;
    }
    switch (rnd(g, 14)) {
    case 0: case 1: put(g, "%s", PICK(g, numbers)); break;
    case 2: put(g, "%s", PICK(g, strings)); break;
    case 3: put(g, "%s", PICK(g, fields)); break;
    case 4: var(g); break;
    case 5: put(g, "%s", rnd(g, 3) == 0 ? "nil" : rnd(g, 2) ? "true" : "false"); break;
    case 6: put(g, "{ "); expr(g); put(g, ", k = "); expr(g); put(g, " }"); break;
    case 7: case 8: put(g, "("); expr(g); put(g, " %s ", PICK(g, binops)); expr(g); put(g, ")"); break;
    case 9: put(g, "%s", rnd(g, 3) == 0 ? "#" : rnd(g, 2) ? "- " : "not "); expr(g); break;
    default: call(g); break;
    }
    g->depth--;
}

static void stmt(gen_t *g)
{
    if (g->len > SRC_MAX / 2 || ++g->depth > 5) {
        put(g, "v0 = %s", PICK(g, numbers));
        g->depth--;
        return;
    }
    switch (rnd(g, 16)) {
    case 0: put(g, "local v%u = ", rnd(g, 4)); expr(g); break;
    case 1: case 2: var(g); put(g, " = "); expr(g); break;
    case 3: put(g, "if "); expr(g); put(g, " then "); block(g, 2); put(g, " else "); block(g, 1); put(g, " end"); break;
    case 4: put(g, "for i = "); expr(g); put(g, ", "); expr(g); put(g, " do "); block(g, 2); put(g, " end"); break;
    case 5: put(g, "for i = 1, %u do ", rnd(g, 3) ? rnd(g, 50) : 1000000 * rnd(g, 100)); block(g, 2); put(g, " end"); break;
    case 6: put(g, "while "); expr(g); put(g, " do "); block(g, 2); put(g, " end"); break;
    case 7: put(g, "repeat "); block(g, 1); put(g, " until "); expr(g); break;
    case 8: put(g, "do local t = {} for i = 1, %u do t[i] = ", rnd(g, 2) ? rnd(g, 100) : 10000000); expr(g); put(g, " end v1 = t end"); break;
    case 9: put(g, "error("); expr(g); put(g, ")"); break;
    case 10: put(g, "assert("); expr(g); put(g, ", "); expr(g); put(g, ")"); break;
    case 11: put(g, "local function rec(n) if n %s then return rec(n + 1) + 1 end return n end rec(0)", rnd(g, 2) ? "< 100" : "> -1"); break;
    case 12: put(g, "print("); expr(g); put(g, ")"); break;
    default: put(g, "local _ = "); call(g); break; /* never a statement starting with '(' */
    }
    g->depth--;
}

static void block(gen_t *g, int n)
{
    for (int i = 0; i < n; i++) {
        stmt(g);
        put(g, "\n");
    }
}

static const char *const handlers[] = {"on_bar", "on_tick", "on_quote", "on_timer", "on_order", "on_fill",
                                       "on_stop", "on_signal"};

/* A whole strategy file. Top-level code and on_start stay loop-free: those get the 1 s budget
 * of one-off work, which would eat the fuzzing time. */
static void program(gen_t *g)
{
    g->len = 0;
    g->depth = 0;
    put(g, "local S = { params = { qty = 1 } }\nlocal v0, v1, v2, v3 = 1, 2, 'x', {}\n");
    put(g, "function S.on_start(ctx) ctx.state.s0 = 0; ctx:timer(%u, true) end\n", 1000 + rnd(g, 60000));
    int nh = 1 + (int)rnd(g, 4);
    for (int i = 0; i < nh; i++) {
        const char *h = PICK(g, handlers);
        put(g, "function S.%s(ctx, %s)\n", h, strcmp(h, "on_bar") == 0 ? "bar" : "ev");
        if (strcmp(h, "on_bar") != 0) /* the bar fields the grammar reads, on every handler */
            put(g, "local bar = { close = 100, symbol = 'XUSDT', time_ns = 0, volume = 1, open = 100, "
                   "time = 0, seq = 1, interval = 60, start = 0, ev = ev }\n");
        block(g, 1 + (int)rnd(g, 6));
        put(g, "end\n");
    }
    put(g, "return S\n");
}

/* Random byte edits of a program: mostly syntax errors, sometimes a different program. */
static void mutate(gen_t *g)
{
    static const char *const tokens[] = {"end", "(", ")", "{", "}", "=", "..", "\"", "'", "[[", "]]", "--[[",
                                         "local", "function", ",", "\\", "\n", "\033", "\xff", "%"};
    int edits = 1 + (int)rnd(g, 4);
    for (int i = 0; i < edits && g->len > 2; i++) {
        size_t at = rnd(g, (uint32_t)g->len);
        switch (rnd(g, 3)) {
        case 0: /* delete a span */ {
            size_t n = 1 + rnd(g, 8);
            if (at + n > g->len)
                n = g->len - at;
            memmove(g->buf + at, g->buf + at + n, g->len - at - n);
            g->len -= n;
            break;
        }
        case 1: /* insert a token */ {
            const char *t = PICK(g, tokens);
            size_t n = strlen(t);
            if (g->len + n + 1 >= g->cap)
                break;
            memmove(g->buf + at + n, g->buf + at, g->len - at);
            memcpy(g->buf + at, t, n);
            g->len += n;
            break;
        }
        default: g->buf[at] = (char)(' ' + rnd(g, 95)); break;
        }
    }
    g->buf[g->len] = 0;
}

/* ---- running one program -------------------------------------------------------------------- */

typedef struct tally {
    long runs, loaded, load_errors, script_errors, limit_stops, clean;
} tally_t;

static char failure[1024];
static int verbose;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure, sizeof failure, fmt, ap);
    va_end(ap);
    return -1;
}

static int clean_text(const char *m)
{
    size_t n = strlen(m);
    return n > 0 && n < sizeof(((sv_diag_t *)0)->msg);
}

static void bar_event(sv_event_t *ev, uint32_t sym, int64_t ms, double close)
{
    memset(ev, 0, sizeof *ev);
    ev->h.kind = SV_EV_BAR;
    ev->h.symbol = sym;
    ev->h.ts_exchange = ms * 1000000;
    ev->u.bar.open = ev->u.bar.high = ev->u.bar.low = ev->u.bar.close = (int64_t)(close * 1e8);
    ev->u.bar.volume = 1000000LL * 100000000LL;
    ev->u.bar.interval_s = 1;
    ev->u.bar.start = ev->h.ts_exchange - 1000000000LL;
}

/* 0, or -1 with `failure` set. */
static int run_file(const char *path, tally_t *t)
{
    sv_engine_options_t o = {.simulated = 1, .log_out = NULL, .log_level = SV_LOG_ERROR,
                             .script_mem_limit = (size_t)MEM_LIMIT_MB << 20,
                             .script_cpu_budget_ms = CPU_BUDGET_MS};
    sv_diag_t d;
    sv_engine_t *e = sv_engine_new(&o, &d);
    if (!e)
        return fail("engine: %s", d.msg);
    sv_engine_add_instrument(e, "XUSDT", "X", "USDT", "0.01", "0.001", "0");
    sv_engine_add_instrument(e, "YUSDT", "Y", "USDT", "0.01", "0.001", "0");
    sv_engine_set_balance(e, "USDT", "1000000");
    sv_engine_set_balance(e, "X", "100");
    sv_sim_config_t sc = {.participation = 1};
    sv_engine_use_sim(e, &sc);
    const char *syms[] = {"XUSDT"};
    sv_strategy_spec_t spec = {.name = "fuzz", .file = path, .symbols = syms, .n_symbols = 1};
    t->runs++;
    int64_t t0 = now_ns();
    int rc = sv_engine_add_strategy(e, &spec, &d);
    int res = 0;
    if (rc < 0) {
        t->load_errors++;
        if (verbose)
            printf("load: %s\n", d.msg);
        if (rc != SV_E_SCRIPT && rc != SV_E_LIMIT)
            res = fail("load returned %d (%s): %s", rc, sv_strerror(rc), d.msg);
        else if (!clean_text(d.msg))
            res = fail("load error without a message (rc %d)", rc);
        goto done;
    }
    t->loaded++;
    uint32_t sym = sv_engine_symbol(e, "XUSDT");
    int64_t ms = 1704067200000;
    sv_engine_advance(e, ms * 1000000);
    sv_engine_start(e);
    sv_event_t ev;
    for (int i = 0; i < 12 && sv_engine_strategy_enabled(e, (uint32_t)rc); i++) {
        ms += 1000; /* a second a bar: 64 timers at the 10 ms minimum fire 6,400 times a bar */
        bar_event(&ev, sym, ms, 100 + (i % 5) - 2);
        sv_engine_feed(e, &ev);
        memset(&ev, 0, sizeof ev);
        ev.h.kind = i % 2 ? SV_EV_TRADE : SV_EV_QUOTE;
        ev.h.symbol = sym;
        ev.h.ts_exchange = (ms + 500) * 1000000;
        if (i % 2) {
            ev.u.trade.price = 10000000000LL;
            ev.u.trade.qty = 100000000LL;
            ev.u.trade.aggressor = 1;
        } else {
            ev.u.quote.bid_price = 9990000000LL;
            ev.u.quote.ask_price = 10010000000LL;
            ev.u.quote.bid_qty = ev.u.quote.ask_qty = 100000000LL;
        }
        sv_engine_feed(e, &ev);
    }
    sv_engine_stop(e);
    size_t mem = 0;
    sv_strategy_script_stats(sv_engine_strategies(e), (uint32_t)rc, &mem, NULL);
    if (mem > (size_t)MEM_LIMIT_MB << 20) {
        res = fail("the script's heap is %zu bytes, over its %d MiB cap", mem, MEM_LIMIT_MB);
    } else if (sv_engine_strategy_enabled(e, (uint32_t)rc)) {
        t->clean++;
    } else {
        const char *why = sv_engine_strategy_error(e, (uint32_t)rc);
        if (verbose)
            printf("disabled: %s\n", why);
        if (strncmp(why, "on_", 3) != 0 || !strstr(why, ": ") || !clean_text(why))
            res = fail("disabled without a clean reason: '%s'", why);
        else if (strstr(why, "CPU budget of") || strstr(why, "not enough memory"))
            t->limit_stops++;
        else
            t->script_errors++;
    }
done:;
    /* a stop is 1 to 1.5 budgets of CPU per call; 12 bars, ticks and quotes plus on_stop can
     * never add up to this without one call that was not stopped */
    int64_t took_ms = (now_ns() - t0) / 1000000;
    if (!res && took_ms > 20000)
        res = fail("the program ran %lld ms", (long long)took_ms);
    sv_engine_free(e);
    return res;
}

static int write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 5;
    long count = 100000;
    double seconds = 10;
    char def_out[256];
    snprintf(def_out, sizeof def_out, "%s/fuzz_script-%d.lua", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    const char *out = def_out;
    int opt;
    while ((opt = getopt(argc, argv, "s:n:t:o:v")) != -1) {
        switch (opt) {
        case 'v': verbose = 1; break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'n': count = atol(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: fuzz_script [-s seed] [-n count] [-t seconds] [-o failure.lua] [-v] [FILE...]\n");
            return 2;
        }
    }
    if (!sv_script_guard_stops_jit()) {
        /* generated programs loop: a stock LuaJIT runs a compiled loop forever */
        printf("fuzz_script: skipped: LuaJIT without LUAJIT_ENABLE_CHECKHOOK cannot stop compiled loops "
               "(see scripts/build-luajit.sh)\n");
        return 0;
    }
    tally_t t = {0};
    int64_t t0 = now_ns();
    if (optind < argc) { /* replay */
        for (int i = optind; i < argc; i++)
            if (run_file(argv[i], &t) != 0) {
                printf("fuzz_script: %s: %s\n", argv[i], failure);
                return 1;
            }
        printf("fuzz_script: %ld files replayed cleanly\n", t.runs);
        return 0;
    }
    /* each program runs from the failure file itself: a crash leaves the culprit there */
    const char *path = out;
    gen_t g = {.cap = SRC_MAX};
    g.buf = malloc(g.cap);
    if (!g.buf)
        return 1;
    int rc = 0;
    long i;
    for (i = 0; i < count && (double)(now_ns() - t0) / 1e9 < seconds; i++) {
        g.rng = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull);
        if (!g.rng)
            g.rng = 1;
        program(&g);
        if (rnd(&g, 4) == 0)
            mutate(&g);
        if (write_file(path, g.buf, g.len) != 0) {
            perror(path);
            rc = 1;
            break;
        }
        if (run_file(path, &t) != 0) {
            printf("fuzz_script: program %ld (seed %llu): %s\nfuzz_script: the program is in %s\n", i,
                   (unsigned long long)seed, failure, out);
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        remove(path);
    free(g.buf);
    if (rc == 0)
        printf("fuzz_script: %ld programs in %.1f s (seed %llu): %ld loaded, %ld load errors, %ld ran clean, "
               "%ld script errors, %ld stopped by a limit; no crash, every failure a clean diagnostic\n",
               t.runs, (double)(now_ns() - t0) / 1e9, (unsigned long long)seed, t.loaded, t.load_errors, t.clean,
               t.script_errors, t.limit_stops);
    return rc;
}
