/* bench_reload: live reload latency.
 *   reload_ms  a strategy file replaced (written, renamed into place) -> the new version live:
 *              the engine's loop sees the change, waits out the 15 ms debounce, compiles the
 *              file in a fresh state, carries ctx.state over and swaps it in (p50 of 50). */
#include "bench_common.h"

#include <uv.h>

#include "engine.h"

static void write_version(const char *dir, const char *path, int v)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/next.lua", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(1);
    }
    fprintf(f, "local S = { version = %d }\nfunction S.on_start(ctx) ctx.state.n = 0 end\n"
               "function S.on_reload(ctx, old) end\nfunction S.on_bar(ctx, b) ctx.state.n = ctx.state.n + 1 end\n"
               "return S\n", v);
    fclose(f);
    if (rename(tmp, path) != 0) {
        perror(path);
        exit(1);
    }
}

int main(void)
{
    char dir[] = "/tmp/sv_bench_reload_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/s.lua", dir);
    write_version(dir, path, 0);
    sv_engine_options_t o = {.simulated = 1, .log_out = stderr, .log_level = SV_LOG_WARN};
    sv_diag_t d;
    sv_engine_t *e = sv_engine_new(&o, &d);
    const char *syms[] = {"BTCUSDT"};
    sv_strategy_spec_t spec = {.name = "r", .file = path, .symbols = syms, .n_symbols = 1};
    if (!e || sv_engine_add_strategy(e, &spec, &d) < 0 || sv_engine_watch_strategies(e, &d) != 0) {
        fprintf(stderr, "bench_reload: %s\n", d.msg);
        return 1;
    }
    sv_engine_start(e);
    enum { N = 50 };
    int64_t ms[N];
    uv_loop_t *loop = sv_engine_loop(e);
    sv_strategy_host_t *h = sv_engine_strategies(e);
    for (int i = 0; i < N; i++) {
        uint32_t before = sv_strategy_reloads(h, 1);
        int64_t t0 = bench_now_ns();
        write_version(dir, path, i + 1);
        while (sv_strategy_reloads(h, 1) == before && bench_now_ns() - t0 < 2000000000LL)
            uv_run(loop, UV_RUN_ONCE);
        ms[i] = bench_now_ns() - t0;
        if (sv_strategy_reloads(h, 1) == before || !sv_strategy_enabled(h, 1)) {
            fprintf(stderr, "bench_reload: reload %d did not happen\n", i + 1);
            return 1;
        }
    }
    bench_report("reload_ms", (double)bench_percentile(ms, N, 50) / 1e6, "ms p50 (file replaced -> new version live)");
    bench_report("reload_p99_ms", (double)bench_percentile(ms, N, 99) / 1e6, "ms p99");
    sv_engine_free(e);
    remove(path);
    rmdir(dir);
    return 0;
}
