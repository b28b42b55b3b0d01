/* silvertine: the command line. Only argument handling and output live here; everything the
 * commands do is in libsilvertine.
 *
 * Exit codes: 0 success, 1 runtime failure (data, scripts, I/O), 2 usage or config error. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "fixed.h"
#include "replay.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM; the only thing a handler touches */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;
} cmd_t;

static int cmd_version(int argc, char **argv);
static int cmd_config(int argc, char **argv);
static int cmd_run(int argc, char **argv);

static const cmd_t commands[] = {
    {"run", cmd_run, "run the configured strategies on a data feed (paper trading)",
     "usage: silvertine run -c CONFIG [--data [SYMBOL=]FILE ...] [--speed X] [--from T] [--to T]\n"
     "\n"
     "Runs the strategies of the environment file CONFIG against its data files (data.files, or\n"
     "--data), replayed at X times real time (data.speed; 0 = as fast as possible), and prints a\n"
     "line per signal. Ctrl-C or SIGTERM stops cleanly.\n"
     "\n"
     "  -c, --config FILE   environment file, e.g. config/environments/development.yaml\n"
     "  --data FILE         a Binance klines or trades CSV; SYMBOL= names its symbol (default:\n"
     "                      the file name up to its first '-', '_' or '.'); repeatable\n"
     "  --speed X           replay speed factor (overrides data.speed)\n"
     "  --from T, --to T    only data in [T, T): YYYY-MM-DD[THH:MM[:SS]] UTC or epoch ms\n"
     "  --bars N            aggregate trades into N-second bars (default 60 for trade files)\n"
     "  --quiet             no line per signal\n"},
    {"config", cmd_config, "check a configuration and print it resolved",
     "usage: silvertine config check -c CONFIG\n"
     "\n"
     "Loads the environment file CONFIG and every exchange, risk and strategy file it names,\n"
     "substitutes ${VAR} and ${VAR:-default} from the environment, validates everything against\n"
     "the schema and prints the resolved configuration with secrets shown as ***.\n"
     "Exit status 0 when valid, 2 on any configuration error (one line: file:line:column: key: reason).\n"},
    {"version", cmd_version, "print the version and the ABI version",
     "usage: silvertine version\n"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: silvertine COMMAND [OPTIONS]\n\nSilvertine: an event-driven trading engine with "
               "LuaJIT strategies.\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'silvertine COMMAND --help' describes a command.\n");
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

static const cmd_t *find_cmd(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "silvertine %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see 'silvertine %s --help')\n", cmd);
    return EXIT_USAGE;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("silvertine 0.1.0 (abi %u)\n", sv_abi_version());
    return 0;
}

static int load_config(const char *path, sv_config_t **cfg)
{
    sv_diag_t d;
    sv_diag_clear(&d);
    if (sv_config_load(path, cfg, &d) != 0) {
        fprintf(stderr, "%s\n", d.msg);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    const char *file = NULL;
    if (argc < 2 || strcmp(argv[1], "check") != 0)
        return usage_error("config", "expected 'check', got '%s'", argc < 2 ? "" : argv[1]);
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            file = argv[++i];
        else
            return usage_error("config", "unexpected argument '%s'", argv[i]);
    }
    if (!file)
        return usage_error("config", "%s", "-c CONFIG is required");
    sv_config_t *cfg;
    int rc = load_config(file, &cfg);
    if (rc)
        return rc;
    sv_config_dump(cfg, stdout);
    fprintf(stderr, "%s: ok\n", file);
    sv_config_free(cfg);
    return 0;
}

/* "2024-01-02", "2024-01-02T03:04[:05]" (UTC) or epoch milliseconds -> ns; -1 if malformed. */
static int64_t parse_time(const char *s)
{
    char *end;
    long long ms = strtoll(s, &end, 10);
    if (*end == '\0' && end != s && strlen(s) > 8)
        return (int64_t)ms * 1000000;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest == 'T' || *rest == ' ') {
        const char *r2 = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!r2)
            r2 = strptime(rest + 1, "%H:%M", &tm);
        rest = r2;
    }
    if (!rest || (*rest && strcmp(rest, "Z") != 0))
        return -1;
    return (int64_t)timegm(&tm) * 1000000000;
}

typedef struct run_ctx {
    sv_engine_t *eng;
    int quiet;
    uint64_t signals;
} run_ctx_t;

static void print_signal(void *ud, const sv_event_t *ev)
{
    run_ctx_t *rc = ud;
    rc->signals++;
    if (rc->quiet)
        return;
    const sv_signal_t *s = &ev->u.signal;
    char qty[32], px[32], when[32];
    sv_fixed_format(s->qty, qty, sizeof qty);
    sv_fixed_format(s->price, px, sizeof px);
    time_t t = (time_t)(ev->h.ts_exchange / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    static const char *types[] = {"market", "limit", "stop_market", "stop_limit"};
    printf("%s  signal #%llu  %-10s %-4s %s %s%s%s  (%s)\n", when, (unsigned long long)s->signal_id,
           sv_engine_symbol_name(rc->eng, ev->h.symbol), s->side > 0 ? "BUY" : "SELL", qty,
           types[s->type & 3], s->price ? " @ " : "", s->price ? px : "",
           sv_strategy_name(sv_engine_strategies(rc->eng), s->strategy));
}

static int cmd_run(int argc, char **argv)
{
    const char *file = NULL, *data[SV_REPLAY_MAX_SOURCES];
    uint32_t ndata = 0;
    double speed = -1;
    int64_t from = 0, to = 0;
    long bars = -1;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v)
            return usage_error("run", "%s needs a value", a);
        i++;
        if (!strcmp(a, "-c") || !strcmp(a, "--config"))
            file = v;
        else if (!strcmp(a, "--data")) {
            if (ndata >= SV_REPLAY_MAX_SOURCES)
                return usage_error("run", "%s", "too many --data files");
            data[ndata++] = v;
        } else if (!strcmp(a, "--speed")) {
            char *end;
            speed = strtod(v, &end);
            if (*end || speed < 0)
                return usage_error("run", "--speed must be a number >= 0, got '%s'", v);
        } else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            int64_t t = parse_time(v);
            if (t < 0)
                return usage_error("run", "bad time '%s' (YYYY-MM-DD[THH:MM[:SS]] or epoch ms)", v);
            *(a[2] == 'f' ? &from : &to) = t;
        } else if (!strcmp(a, "--bars")) {
            char *end;
            bars = strtol(v, &end, 10);
            if (*end || bars < 0 || bars > 86400)
                return usage_error("run", "--bars must be 0..86400 seconds, got '%s'", v);
        } else
            return usage_error("run", "unknown option '%s'", a);
    }
    if (!file)
        return usage_error("run", "%s", "-c CONFIG is required");
    sv_config_t *cfg;
    int rc = load_config(file, &cfg);
    if (rc)
        return rc;
    const sv_cfg_node_t *root = sv_config_root(cfg);
    int level = sv_log_level_parse(sv_cfg_str(root, "log.level", "info"));
    sv_engine_options_t eo = {.simulated = 1, .log_out = stderr, .log_level = level < 0 ? SV_LOG_INFO : level};
    sv_diag_t d;
    sv_diag_clear(&d);
    sv_engine_t *eng = sv_engine_new(&eo, &d);
    char paths[SV_REPLAY_MAX_SOURCES][1024];
    if (!eng) {
        fprintf(stderr, "%s\n", d.msg);
        sv_config_free(cfg);
        return EXIT_RUNTIME;
    }
    const char *secrets[SV_LOG_MAX_SECRETS];
    size_t ns = sv_config_secrets(cfg, secrets, SV_LOG_MAX_SECRETS);
    for (size_t i = 0; i < ns && i < SV_LOG_MAX_SECRETS; i++)
        sv_log_add_secret(sv_engine_log(eng), secrets[i]);
    if (ndata == 0) {
        const sv_cfg_node_t *files = sv_cfg_get(root, "data.files");
        for (size_t i = 0; i < sv_cfg_len(files) && ndata < SV_REPLAY_MAX_SOURCES; i++) {
            const char *f = sv_cfg_str(sv_cfg_at(files, i), NULL, "");
            if (f[0] == '/' || strchr(f, '='))
                snprintf(paths[ndata], sizeof paths[ndata], "%s", f);
            else
                snprintf(paths[ndata], sizeof paths[ndata], "%s/%s", sv_config_project_root(cfg), f);
            data[ndata] = paths[ndata];
            ndata++;
        }
    }
    if (speed < 0)
        speed = sv_cfg_num(root, "data.speed", 1.0);
    if (sv_engine_load_config(eng, cfg, &d) != 0) {
        fprintf(stderr, "%s\n", d.msg);
        sv_engine_free(eng);
        sv_config_free(cfg);
        return EXIT_USAGE;
    }
    run_ctx_t ctx = {.eng = eng, .quiet = quiet};
    sv_bus_subscribe(sv_engine_bus(eng), SV_BUS_MASK(SV_EV_SIGNAL), print_signal, &ctx);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sv_replay_options_t ro = {.policy = SV_MD_STRICT, .from_ns = from, .to_ns = to, .speed = speed,
                              .stop = &g_stop, .bar_interval_s = bars < 0 ? 0 : (uint32_t)bars};
    sv_replay_t *rp;
    rc = sv_replay_open(eng, data, ndata, &ro, &rp, &d);
    if (rc == 0) {
        sv_engine_advance(eng, sv_replay_first_time(rp));
        int enabled = sv_engine_start(eng);
        fprintf(stderr, "running %d strateg%s on %u data file%s (speed %s)\n", enabled,
                enabled == 1 ? "y" : "ies", ndata, ndata == 1 ? "" : "s", speed > 0 ? "paced" : "max");
        rc = sv_replay_run(rp, &d);
        sv_engine_stop(eng);
        if (rc)
            fprintf(stderr, "%s\n", d.msg);
        printf("\n%s: %llu events, %llu signals\n", g_stop ? "stopped" : "done",
               (unsigned long long)sv_replay_events(rp), (unsigned long long)ctx.signals);
        sv_strategy_host_t *h = sv_engine_strategies(eng);
        for (uint32_t i = 1; i <= sv_strategy_count(h); i++)
            printf("  strategy %-16s %s%s\n", sv_strategy_name(h, i),
                   sv_strategy_enabled(h, i) ? "running" : "disabled: ", sv_strategy_error(h, i));
        sv_replay_close(rp);
        rc = rc ? EXIT_RUNTIME : 0;
    } else {
        fprintf(stderr, "%s\n", d.msg);
        rc = EXIT_RUNTIME;
    }
    sv_engine_free(eng);
    sv_config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(0, NULL);
    const cmd_t *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "silvertine: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        fputs(c->usage, stdout);
        return 0;
    }
    return c->fn(argc - 1, argv + 1);
}
