/* silvertine: the command line. Only argument handling and output live here; everything the
 * commands do is in libsilvertine.
 *
 * Exit codes: 0 success, 1 runtime failure (data, scripts, I/O), 2 usage or config error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "fixed.h"
#include "redis_source.h"
#include "replay.h"
#include "risk.h"
#include "session.h"

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
static int cmd_backtest(int argc, char **argv);
static int cmd_replay(int argc, char **argv);
static int cmd_kill_switch(int argc, char **argv);

static const cmd_t commands[] = {
    {"backtest", cmd_backtest, "backtest the configured strategies on historical data",
     "usage: silvertine backtest -c CONFIG [--data [SYMBOL=]FILE ...] [--from T] [--to T] [--out DIR]\n"
     "\n"
     "Replays the data (data.files of CONFIG, or --data) through the strategies, the risk stage and\n"
     "the simulated exchange as fast as the CPU allows, on a simulated clock. Prints a summary table\n"
     "and writes DIR/report.json and DIR/report.html. The same input gives byte-identical reports.\n"
     "\n"
     "  -c, --config FILE   environment file, e.g. config/environments/backtest.yaml\n"
     "  --data FILE         a Binance klines or trades CSV; SYMBOL= names its symbol (default: the\n"
     "                      file name up to its first '-', '_' or '.'); repeatable (multi-symbol)\n"
     "  --from T, --to T    only data in [T, T): YYYY-MM-DD[THH:MM[:SS]] UTC or epoch ms\n"
     "  --bars N            aggregate trades into N-second bars (default 60)\n"
     "  --out DIR           report directory (default reports/latest)\n"
     "  --quiet             (no effect; fills are not printed in backtests)\n"
     "  --no-progress       no progress bar\n"
     "\n"
     "Exit status: 0 done, 1 data or runtime error, 2 usage or config error.\n"},
    {"run", cmd_run, "paper-trade the configured strategies on a replayed feed",
     "usage: silvertine run -c CONFIG [--data [SYMBOL=]FILE ...] [--speed X] [--from T] [--to T]\n"
     "\n"
     "Paper trading: the strategies of CONFIG trade on the simulated exchange against its data\n"
     "files (data.files, or --data) replayed at X times real time (data.speed; 0 = no pacing).\n"
     "Prints a line per fill. Ctrl-C or SIGTERM stops cleanly: open orders are canceled and the\n"
     "final positions and PnL are printed.\n"
     "\n"
     "  -c, --config FILE   environment file, e.g. config/environments/development.yaml\n"
     "  --data FILE         a Binance klines or trades CSV (see backtest --help); repeatable\n"
     "  --speed X           replay speed factor (overrides data.speed)\n"
     "  --from T, --to T    only data in [T, T)\n"
     "  --bars N            aggregate trades into N-second bars (default 60)\n"
     "  --quiet             no line per fill\n"
     "  --source S          files (data.files) or redis: live market data from the Redis stream\n"
     "                      {prefix}:market_data as a consumer of bus.redis.group (overrides data.source)\n"
     "  --idle-exit S       with redis: stop after S seconds without new market data\n"},
    {"replay", cmd_replay, "replay market data recorded in Redis through the strategies",
     "usage: silvertine replay -c CONFIG --from ID|TIME [--to ID|TIME] [--quiet]\n"
     "\n"
     "Reads the Redis stream {prefix}:market_data (bus.redis of CONFIG) from --from to --to (or its\n"
     "end) and runs it through the strategies, the risk stage and the simulated exchange as fast\n"
     "as the CPU allows; prints a line per fill and the final positions. Nothing is written back\n"
     "to Redis. Entries that cannot be decoded are skipped, counted and logged with their id.\n"
     "\n"
     "  -c, --config FILE   environment file with bus.redis\n"
     "  --from ID|TIME      first entry: a stream id (1700000000000-0, or epoch ms) or the UTC time\n"
     "                      it was written, YYYY-MM-DD[THH:MM[:SS]]; '-' for the beginning\n"
     "  --to ID|TIME        last entry (inclusive); default: the end of the stream\n"
     "  --quiet             no line per fill\n"
     "\n"
     "Exit status: 0 done, 1 Redis or runtime error, 2 usage or config error.\n"},
    {"config", cmd_config, "check a configuration and print it resolved",
     "usage: silvertine config check -c CONFIG\n"
     "\n"
     "Loads the environment file CONFIG and every exchange, risk and strategy file it names,\n"
     "substitutes ${VAR} and ${VAR:-default} from the environment, validates everything against\n"
     "the schema and prints the resolved configuration with secrets shown as ***.\n"
     "Exit status 0 when valid, 2 on any configuration error (one line: file:line:column: key: reason).\n"},
    {"kill-switch", cmd_kill_switch, "engage, reset or show the kill switch of a (running) engine",
     "usage: silvertine kill-switch on|off|status -c CONFIG [--reason TEXT]\n"
     "\n"
     "The kill switch is the state file named by the risk config (kill_switch.file, default\n"
     "var/kill_switch under the project root). `on` writes it: every engine running with that\n"
     "config sees it within 200 ms, cancels every open order and refuses new ones until `off`\n"
     "removes it. Because the state is the file, it survives a restart. A flatten_halt risk\n"
     "action engages it too; `off` also clears that halt. Backtests ignore the file.\n"
     "Exit status: 0 done (status: 0 reset, 3 engaged), 1 the file cannot be written, 2 usage or config error.\n"},
    {"version", cmd_version, "print the version and the ABI version",
     "usage: silvertine version\n"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: silvertine COMMAND [OPTIONS]\n\nSilvertine: an event-driven trading engine with "
               "LuaJIT strategies.\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
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
    /* what the schema cannot say about bus.redis (a prefix with braces, db in a cluster) */
    sv_redis_options_t ro;
    sv_diag_t d;
    if (sv_redis_options_from_config(sv_config_root(cfg), &ro, &d) != 0) {
        fprintf(stderr, "%s\n", d.msg);
        sv_config_free(cfg);
        return EXIT_USAGE;
    }
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

static int cmd_kill_switch(int argc, char **argv)
{
    const char *file = NULL, *reason = "operator command";
    if (argc < 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off") && strcmp(argv[1], "status")))
        return usage_error("kill-switch", "expected on, off or status, got '%s'", argc < 2 ? "" : argv[1]);
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else
            return usage_error("kill-switch", "unexpected argument '%s'", argv[i]);
    }
    if (!file)
        return usage_error("kill-switch", "%s", "-c CONFIG is required");
    sv_config_t *cfg;
    int rc = load_config(file, &cfg);
    if (rc)
        return rc;
    sv_risk_config_t rcfg;
    memset(&rcfg, 0, sizeof rcfg);
    snprintf(rcfg.kill_switch_file, sizeof rcfg.kill_switch_file, "%s",
             sv_cfg_str(sv_config_root(cfg), "risk.kill_switch.file", ""));
    sv_config_free(cfg);
    sv_risk_env_t env;
    memset(&env, 0, sizeof env);
    sv_risk_t *r = sv_risk_new(&rcfg, &env, 1);
    if (!r) {
        fprintf(stderr, "silvertine kill-switch: out of memory\n");
        return EXIT_RUNTIME;
    }
    if (!strcmp(argv[1], "status")) {
        int on = sv_risk_kill_switch_engaged(r);
        printf("kill switch %s (%s)\n", on ? "ENGAGED" : "reset", rcfg.kill_switch_file);
        sv_risk_free(r);
        return on ? 3 : 0;
    }
    int on = !strcmp(argv[1], "on");
    rc = sv_risk_kill_switch(r, on, reason);
    sv_risk_free(r);
    if (rc) {
        fprintf(stderr, "silvertine kill-switch: %s: %s\n", rcfg.kill_switch_file, strerror(errno));
        return EXIT_RUNTIME;
    }
    printf("kill switch %s (%s)\n", on ? "ENGAGED" : "reset", rcfg.kill_switch_file);
    return 0;
}

/* Options shared by `run` and `backtest`. */
static int parse_session(const char *cmd, int argc, char **argv, sv_session_options_t *o,
                         const char **data)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-progress")) {
            o->progress = 0;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->print_fills = 0;
            continue;
        }
        if (!v)
            return usage_error(cmd, "%s needs a value", a);
        i++;
        if (!strcmp(a, "-c") || !strcmp(a, "--config"))
            o->config_path = v;
        else if (!strcmp(a, "--data")) {
            if (o->n_data >= SV_REPLAY_MAX_SOURCES)
                return usage_error(cmd, "%s", "too many --data files");
            data[o->n_data++] = v;
        } else if (!strcmp(a, "--speed") && o->mode == SV_SESSION_PAPER) {
            char *end;
            o->speed = strtod(v, &end);
            if (*end || !(o->speed >= 0))
                return usage_error(cmd, "--speed must be a number >= 0, got '%s'", v);
        } else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            int64_t t = parse_time(v);
            if (t < 0)
                return usage_error(cmd, "bad time '%s' (YYYY-MM-DD[THH:MM[:SS]] or epoch ms)", v);
            *(a[2] == 'f' ? &o->from_ns : &o->to_ns) = t;
        } else if (!strcmp(a, "--bars")) {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || b < 1 || b > 86400)
                return usage_error(cmd, "--bars must be 1..86400 seconds, got '%s'", v);
            o->bar_interval_s = (uint32_t)b;
        } else if (!strcmp(a, "--out") && o->mode == SV_SESSION_BACKTEST)
            o->out_dir = v;
        else if (!strcmp(a, "--source") && o->mode == SV_SESSION_PAPER) {
            if (strcmp(v, "files") && strcmp(v, "redis"))
                return usage_error(cmd, "--source must be files or redis, got '%s'", v);
            o->source = v[0] == 'f' ? SV_SOURCE_FILES : SV_SOURCE_REDIS;
        } else if (!strcmp(a, "--idle-exit") && o->mode == SV_SESSION_PAPER) {
            char *end;
            o->idle_exit_s = strtod(v, &end);
            if (*end || !(o->idle_exit_s > 0))
                return usage_error(cmd, "--idle-exit must be a number of seconds > 0, got '%s'", v);
        } else
            return usage_error(cmd, "unknown option '%s'", a);
    }
    if (!o->config_path)
        return usage_error(cmd, "%s", "-c CONFIG is required");
    if (o->from_ns && o->to_ns && o->to_ns <= o->from_ns)
        return usage_error(cmd, "%s", "--to must be after --from");
    o->data = data;
    return 0;
}

static int session(sv_session_options_t *o)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o->stop = &g_stop;
    sv_session_result_t res;
    sv_diag_t d;
    sv_diag_clear(&d);
    if (sv_session_run(o, &res, &d) != 0)
        fprintf(stderr, "%s\n", d.msg);
    return res.exit_code;
}

static int cmd_run(int argc, char **argv)
{
    const char *data[SV_REPLAY_MAX_SOURCES];
    sv_session_options_t o = {.mode = SV_SESSION_PAPER, .speed = -1, .print_fills = 1, .log_level = -1};
    int rc = parse_session("run", argc, argv, &o, data);
    return rc ? rc : session(&o);
}

static int cmd_replay(int argc, char **argv)
{
    static char from[64], to[64];
    sv_session_options_t o = {.mode = SV_SESSION_PAPER, .speed = 0, .print_fills = 1, .log_level = -1,
                              .source = SV_SOURCE_REDIS_RANGE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) {
            o.print_fills = 0;
            continue;
        }
        if (!v)
            return usage_error("replay", "%s needs a value", a);
        i++;
        if (!strcmp(a, "-c") || !strcmp(a, "--config"))
            o.config_path = v;
        else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            char *out = a[2] == 'f' ? from : to;
            if (sv_redis_parse_id(v, out, sizeof from) != 0)
                return usage_error("replay", "bad stream id or time '%s' (1700000000000-0, epoch ms, "
                                   "YYYY-MM-DD[THH:MM[:SS]] UTC, or - / +)", v);
            *(a[2] == 'f' ? &o.redis_from : &o.redis_to) = out;
        } else
            return usage_error("replay", "unknown option '%s'", a);
    }
    if (!o.config_path)
        return usage_error("replay", "%s", "-c CONFIG is required");
    if (!o.redis_from)
        return usage_error("replay", "%s", "--from ID|TIME is required ('-' for the beginning)");
    return session(&o);
}

static int cmd_backtest(int argc, char **argv)
{
    const char *data[SV_REPLAY_MAX_SOURCES];
    sv_session_options_t o = {.mode = SV_SESSION_BACKTEST, .out_dir = "reports/latest",
                              .progress = isatty(STDERR_FILENO), .log_level = -1};
    int rc = parse_session("backtest", argc, argv, &o, data);
    return rc ? rc : session(&o);
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
