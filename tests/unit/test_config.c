/* test_config: the config loader against the shipped samples and against small files written to
 * a temporary config/ tree, one case per rule, each asserting the exact value or error message.
 *
 * Usage: test_config [repo_root]   (or SV_SOURCE_DIR=repo_root; default ".") */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream, mkdtemp, nftw */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

/* The repository root, made absolute once in main() before any test changes directory. */
static char source_dir[PATH_MAX];

/* Each test runs in a fresh temporary directory holding a config/ tree. */
typedef struct {
    char dir[64];
    char cwd[PATH_MAX];
} fixture_t;

/* The baseline: a valid environment and the files it names. Cases overwrite one file. Line
 * numbers in expected messages count from these texts. */
#define ENV_HEAD                                                                                                    \
    "name: dev\n"           /* 1 */                                                                                 \
    "mode: paper\n"         /* 2 */                                                                                 \
    "exchange: sim\n"       /* 3 */                                                                                 \
    "risk: default\n"       /* 4 */                                                                                 \
    "strategies:\n"         /* 5 */                                                                                 \
    "  - sma\n"             /* 6 */
#define EX_HEAD                                                                                                     \
    "name: sim\n"           /* 1 */                                                                                 \
    "type: sim\n"           /* 2 */
#define EX_SYMBOLS                                                                                                  \
    "symbols:\n"            /* 3 */                                                                                 \
    "  - symbol: BTCUSDT\n" /* 4 */                                                                                 \
    "    base: BTC\n"       /* 5 */                                                                                 \
    "    quote: USDT\n"     /* 6 */                                                                                 \
    "    tick_size: 0.01\n" /* 7 */                                                                                 \
    "    lot_size: 0.00001\n" /* 8 */
#define RISK_BASE "defaults:\n  max_order_qty: 1\n"
#define STRAT_BASE                                                                                                  \
    "name: sma\n"           /* 1 */                                                                                 \
    "file: strategies/sma.lua\n" /* 2 */                                                                            \
    "symbols: [BTCUSDT]\n"  /* 3 */

#define ENV "config/environments/dev.yaml"
#define EXCHANGE "config/exchanges/sim.yaml"
#define RISK "config/risk/default.yaml"
#define STRATEGY "config/strategies/sma.yaml"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void write_baseline(void)
{
    write_file(ENV, ENV_HEAD);
    write_file(EXCHANGE, EX_HEAD EX_SYMBOLS);
    write_file(RISK, RISK_BASE);
    write_file(STRATEGY, STRAT_BASE);
}

static int setup(void **state)
{
    const char *dirs[] = {"config", "config/environments", "config/exchanges", "config/risk", "config/strategies"};
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sv_config_XXXXXX");
    if (!getcwd(fx->cwd, sizeof fx->cwd) || !mkdtemp(fx->dir) || chdir(fx->dir))
        goto fail;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (mkdir(dirs[i], 0755))
            goto fail;
    write_baseline();
    *state = fx;
    return 0;
fail:
    free(fx); /* cmocka skips teardown when setup fails */
    return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    int rc = chdir(fx->cwd);
    if (rc == 0)
        rc = nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return rc;
}

static sv_config_t *load_ok(const char *path)
{
    sv_config_t *cfg = NULL;
    sv_diag_t d;
    int rc = sv_config_load(path, &cfg, &d);
    if (rc)
        fail_msg("loading %s failed (%d): %s", path, rc, d.msg);
    assert_non_null(cfg);
    assert_int_equal(d.code, 0);
    return cfg;
}

/* Loads the baseline with one file replaced by text and expects exactly msg. */
static void expect_error(const char *file, const char *text, const char *msg)
{
    sv_config_t *cfg = (sv_config_t *)&cfg; /* must be reset to NULL */
    sv_diag_t d;
    write_baseline();
    write_file(file, text);
    int rc = sv_config_load(ENV, &cfg, &d);
    assert_int_equal(rc, SV_E_CONFIG);
    assert_int_equal(d.code, SV_E_CONFIG);
    assert_null(cfg);
    assert_string_equal(d.msg, msg);
}

static char *dump_to_string(const sv_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(sv_config_dump(cfg, f), 0);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* True if text is one well-formed YAML document (a dump must be readable by other tools). */
static int yaml_well_formed(const char *text)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int ok = 1, done = 0;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    while (ok && !done) {
        if (!yaml_parser_parse(&p, &ev)) {
            ok = 0;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return ok;
}

/* ---- the shipped samples ---- */

static void unset_sample_vars(void)
{
    const char *vars[] = {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "SV_LOG_LEVEL", "SV_JWT_SECRET",
                          "SV_BUS_BACKEND", "BINANCE_API_KEY", "BINANCE_API_SECRET"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static sv_config_t *load_sample(const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config/environments/%s.yaml", source_dir, name);
    return load_ok(path);
}

static void test_sample_development(void **state)
{
    (void)state;
    unset_sample_vars();
    sv_config_t *cfg = load_sample("development");
    const sv_cfg_node_t *r = sv_config_root(cfg);
    char want[PATH_MAX + 64];

    assert_string_equal(sv_config_project_root(cfg), source_dir);
    assert_string_equal(sv_cfg_str(r, "name", NULL), "development");
    assert_string_equal(sv_cfg_str(r, "mode", NULL), "paper");
    assert_string_equal(sv_cfg_str(r, "bus.backend", NULL), "memory");
    assert_int_equal(sv_cfg_int(r, "bus.redis.port", 0), 6379);
    assert_int_equal(sv_cfg_type(sv_cfg_get(r, "bus.redis.port")), SV_CFG_INT);
    assert_string_equal(sv_cfg_str(r, "bus.redis.host", NULL), "127.0.0.1");
    assert_string_equal(sv_cfg_str(r, "bus.redis.password", "unset"), "");
    assert_true(sv_cfg_num(r, "data.speed", 0) == 60.0);
    /* kept as written: the session resolves "[SYMBOL=]path" against the project root itself */
    assert_string_equal(sv_cfg_str(r, "data.files.0", NULL), "examples/data/BTCUSDT-1m.csv");
    assert_string_equal(sv_cfg_str(r, "log.level", NULL), "info");
    assert_int_equal(sv_cfg_bool(r, "api.enabled", 1), 0);

    /* the exchange, risk and strategy files, composed in */
    assert_string_equal(sv_cfg_str(r, "exchange.name", NULL), "sim");
    assert_string_equal(sv_cfg_str(r, "exchange.type", NULL), "sim");
    assert_true(sv_cfg_num(r, "exchange.sim.balances.USDT", 0) == 10000.0);
    assert_int_equal(sv_cfg_len(sv_cfg_get(r, "exchange.symbols")), 2);
    assert_string_equal(sv_cfg_str(r, "exchange.symbols.0.symbol", NULL), "BTCUSDT");
    assert_string_equal(sv_cfg_raw(sv_cfg_get(r, "exchange.symbols.0.lot_size")), "0.00001");
    assert_string_equal(sv_cfg_str(r, "exchange.symbols.1.symbol", NULL), "ETHUSDT");
    assert_string_equal(sv_cfg_raw(sv_cfg_get(r, "exchange.symbols.1.lot_size")), "0.0001");
    assert_true(sv_cfg_num(r, "exchange.symbols.1.min_notional", 0) == 5.0);
    assert_null(sv_cfg_get(r, "exchange.binance"));
    assert_string_equal(sv_cfg_str(r, "risk.name", NULL), "default");
    assert_int_equal(sv_cfg_len(sv_cfg_get(r, "strategies")), 1);
    assert_string_equal(sv_cfg_str(r, "strategies.0.name", NULL), "sma_cross");
    snprintf(want, sizeof want, "%s/strategies/sma_cross.lua", source_dir);
    assert_string_equal(sv_cfg_str(r, "strategies.0.file", NULL), want);
    assert_string_equal(sv_cfg_str(r, "strategies.0.symbols.0", NULL), "BTCUSDT");
    assert_int_equal(sv_cfg_int(r, "strategies.0.params.fast", 0), 10);
    assert_int_equal(sv_cfg_int(r, "strategies.0.params.slow", 0), 30);
    assert_true(sv_cfg_num(r, "strategies.0.params.qty", 0) == 0.01);
    assert_int_equal(sv_cfg_bool(r, "strategies.0.enabled", 0), 1);
    sv_config_free(cfg);
}

static void test_sample_backtest_and_testnet(void **state)
{
    (void)state;
    unset_sample_vars();
    sv_config_t *cfg = load_sample("backtest");
    const sv_cfg_node_t *r = sv_config_root(cfg);
    assert_string_equal(sv_cfg_str(r, "mode", NULL), "backtest");
    assert_string_equal(sv_cfg_str(r, "exchange.name", NULL), "sim");
    assert_string_equal(sv_cfg_raw(sv_cfg_get(r, "data.files.0")), "examples/data/BTCUSDT-1m.csv");
    assert_string_equal(sv_cfg_str(r, "strategies.0.name", NULL), "sma_cross");
    sv_config_free(cfg);

    cfg = load_sample("testnet");
    r = sv_config_root(cfg);
    assert_string_equal(sv_cfg_str(r, "mode", NULL), "live");
    assert_string_equal(sv_cfg_str(r, "exchange.name", NULL), "binance_testnet");
    assert_string_equal(sv_cfg_str(r, "exchange.type", NULL), "binance");
    assert_string_equal(sv_cfg_str(r, "exchange.binance.api_key", "unset"), "");
    assert_string_equal(sv_cfg_str(r, "exchange.binance.rest_url", NULL), "https://testnet.binance.vision");
    assert_int_equal(sv_cfg_int(r, "exchange.binance.recv_window_ms", 0), 5000);
    assert_null(sv_cfg_get(r, "exchange.sim"));
    assert_string_equal(sv_cfg_str(r, "exchange.symbols.1.symbol", NULL), "ETHUSDT");
    assert_int_equal(sv_config_secrets(cfg, NULL, 0), 0);
    sv_config_free(cfg);

    setenv("BINANCE_API_KEY", "sample-key-value", 1);
    cfg = load_sample("testnet");
    assert_string_equal(sv_cfg_str(sv_config_root(cfg), "exchange.binance.api_key", NULL), "sample-key-value");
    assert_int_equal(sv_config_secrets(cfg, NULL, 0), 1);
    sv_config_free(cfg);
    unsetenv("BINANCE_API_KEY");
}

static void test_sample_files_alone(void **state)
{
    (void)state;
    const struct {
        const char *file, *kind, *name;
    } files[] = {
        {"exchanges/sim.yaml", "exchange", "sim"},
        {"exchanges/binance_testnet.yaml", "exchange", "binance_testnet"},
        {"risk/default.yaml", "risk", "default"},
        {"strategies/sma_cross.yaml", "strategy", "sma_cross"},
        {"environments/development.yaml", "environment", "development"},
    };
    unset_sample_vars();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[PATH_MAX + 64];
        sv_config_t *cfg = NULL;
        sv_diag_t d;
        snprintf(path, sizeof path, "%s/config/%s", source_dir, files[i].file);
        if (sv_config_load_file(path, files[i].kind, &cfg, &d))
            fail_msg("%s: %s", path, d.msg);
        assert_string_equal(sv_cfg_str(sv_config_root(cfg), "name", NULL), files[i].name);
        sv_config_free(cfg);
    }
}

/* ---- defaults, accessors, composition ---- */

static void test_defaults_filled(void **state)
{
    (void)state;
    sv_config_t *cfg = load_ok(ENV);
    const sv_cfg_node_t *r = sv_config_root(cfg);
    char where[256];

    assert_string_equal(sv_cfg_str(r, "bus.backend", NULL), "memory");
    assert_string_equal(sv_cfg_str(r, "bus.redis.host", NULL), "127.0.0.1");
    assert_int_equal(sv_cfg_int(r, "bus.redis.port", 0), 6379);
    assert_int_equal(sv_cfg_int(r, "bus.redis.db", -1), 0);
    assert_string_equal(sv_cfg_str(r, "bus.redis.prefix", NULL), "silvertine");
    assert_int_equal(sv_cfg_int(r, "bus.redis.maxlen", 0), 1000000);
    assert_null(sv_cfg_get(r, "bus.redis.password"));
    assert_true(sv_cfg_num(r, "data.speed", 0) == 1.0);
    assert_int_equal(sv_cfg_type(sv_cfg_get(r, "data.speed")), SV_CFG_NUMBER);
    assert_null(sv_cfg_get(r, "data.files"));
    assert_string_equal(sv_cfg_str(r, "log.level", NULL), "info");
    assert_int_equal(sv_cfg_bool(r, "api.enabled", 1), 0);
    assert_string_equal(sv_cfg_str(r, "api.host", NULL), "127.0.0.1");
    assert_int_equal(sv_cfg_int(r, "api.port", 0), 8080);
    assert_true(sv_cfg_num(r, "exchange.sim.maker_fee_bps", 0) == 10.0);
    assert_true(sv_cfg_num(r, "exchange.sim.taker_fee_bps", 0) == 10.0);
    assert_true(sv_cfg_num(r, "exchange.sim.latency_ms", -1) == 0.0);
    assert_true(sv_cfg_num(r, "exchange.sim.slippage_bps", -1) == 0.0);
    assert_true(sv_cfg_num(r, "exchange.sim.participation", 0) == 1.0);
    assert_int_equal(sv_cfg_bool(r, "exchange.sim.queue_position", 1), 0);
    assert_null(sv_cfg_get(r, "exchange.binance")); /* only the section for `type` is filled */
    assert_true(sv_cfg_num(r, "exchange.symbols.0.min_notional", -1) == 0.0);
    assert_int_equal(sv_cfg_bool(r, "strategies.0.enabled", 0), 1);

    /* a default reports the map it joined */
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "exchange.symbols.0.min_notional"), where, sizeof where), 0);
    assert_string_equal(where, "config/exchanges/sim.yaml:4:5 (default)");
    sv_config_free(cfg);

    /* `key:` left empty asks for the default too; the other adapter's section is filled by type */
    write_file(ENV, ENV_HEAD "bus:\n  backend:\n");
    write_file(EXCHANGE, "name: bn\ntype: binance\n" EX_SYMBOLS);
    cfg = load_ok(ENV);
    r = sv_config_root(cfg);
    assert_string_equal(sv_cfg_str(r, "bus.backend", NULL), "memory");
    assert_null(sv_cfg_get(r, "exchange.sim"));
    assert_string_equal(sv_cfg_str(r, "exchange.binance.rest_url", NULL), "https://testnet.binance.vision");
    assert_string_equal(sv_cfg_str(r, "exchange.binance.ws_url", NULL), "wss://stream.testnet.binance.vision");
    assert_int_equal(sv_cfg_int(r, "exchange.binance.recv_window_ms", 0), 5000);
    assert_null(sv_cfg_get(r, "exchange.binance.api_key"));
    sv_config_free(cfg);
}

static void test_accessors(void **state)
{
    (void)state;
    write_file(EXCHANGE, EX_HEAD "symbols:\n"
                                 "  - symbol: BTCUSDT\n"
                                 "    base: BTC\n"
                                 "    quote: USDT\n"
                                 "    tick_size: 0.010\n"
                                 "    lot_size: 1e-5\n"
                                 "    min_notional: 5\n");
    sv_config_t *cfg = load_ok(ENV);
    const sv_cfg_node_t *r = sv_config_root(cfg), *sym = sv_cfg_get(r, "exchange.symbols.0");
    char where[256];

    /* keys in file order, then defaults in schema order */
    assert_string_equal(sv_cfg_key(r, 0), "name");
    assert_string_equal(sv_cfg_key(r, 4), "strategies");
    assert_string_equal(sv_cfg_key(r, 5), "bus");
    assert_int_equal(sv_cfg_len(r), 9);
    assert_null(sv_cfg_key(r, 9));
    assert_null(sv_cfg_at(r, 9));
    assert_ptr_equal(sv_cfg_at(r, 1), sv_cfg_get(r, "mode"));

    /* exact text kept beside the parsed value */
    assert_int_equal(sv_cfg_type(sv_cfg_get(sym, "tick_size")), SV_CFG_NUMBER);
    assert_string_equal(sv_cfg_raw(sv_cfg_get(sym, "tick_size")), "0.010");
    assert_true(sv_cfg_num(sym, "tick_size", 0) == 0.01);
    assert_string_equal(sv_cfg_raw(sv_cfg_get(sym, "lot_size")), "1e-5");
    assert_true(sv_cfg_num(sym, "lot_size", 0) == 1e-5);
    /* an integer written where a number is expected is still a number */
    assert_int_equal(sv_cfg_type(sv_cfg_get(sym, "min_notional")), SV_CFG_NUMBER);
    assert_true(sv_cfg_num(sym, "min_notional", 0) == 5.0);

    /* the asked-for type or the default */
    assert_int_equal(sv_cfg_int(r, "name", 42), 42);
    assert_string_equal(sv_cfg_str(r, "bus.redis.port", "def"), "def");
    assert_true(sv_cfg_num(r, "bus.redis.port", 0) == 6379.0); /* integers convert */
    assert_int_equal(sv_cfg_bool(r, "name", -1), -1);
    assert_int_equal(sv_cfg_int(r, "data.speed", 7), 7); /* a number is not truncated to an int */

    /* paths that lead nowhere */
    assert_null(sv_cfg_get(r, "nope"));
    assert_null(sv_cfg_get(r, "strategies.1"));
    assert_null(sv_cfg_get(r, "strategies.x"));
    assert_null(sv_cfg_get(r, "strategies.99999999999999999999999"));
    assert_null(sv_cfg_get(r, "name.deeper"));
    assert_null(sv_cfg_get(r, "bus..backend"));
    assert_ptr_equal(sv_cfg_get(r, ""), r);
    assert_ptr_equal(sv_cfg_get(r, NULL), r);
    assert_null(sv_cfg_get(NULL, "name"));
    assert_int_equal(sv_cfg_type(NULL), SV_CFG_NULL);
    assert_string_equal(sv_cfg_str(NULL, "x", "d"), "d");
    assert_null(sv_cfg_raw(r));
    assert_int_equal(sv_cfg_len(sv_cfg_get(r, "name")), 0);
    assert_null(sv_cfg_key(sv_cfg_get(r, "strategies"), 0));

    /* each node knows where it was written, in its own file */
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "mode"), where, sizeof where), 0);
    assert_string_equal(where, "config/environments/dev.yaml:2:7");
    assert_int_equal(sv_cfg_where(sv_cfg_get(sym, "tick_size"), where, sizeof where), 0);
    assert_string_equal(where, "config/exchanges/sim.yaml:7:16");
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "strategies.0"), where, sizeof where), 0);
    assert_string_equal(where, "config/strategies/sma.yaml:1:1");
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "mode"), where, 8), SV_E_RANGE);
    assert_int_equal(sv_cfg_where(NULL, where, sizeof where), SV_E_INVAL);
    sv_config_free(cfg);
}

static void test_params_are_typed_scalars(void **state)
{
    (void)state;
    write_file(STRATEGY, STRAT_BASE "params:\n"
                                    "  fast: 10\n"
                                    "  qty: 0.01\n"
                                    "  label: fast\n"
                                    "  hedge: true\n"
                                    "  quoted: \"10\"\n"
                                    "  word: yes\n"
                                    "  neg: -3\n");
    sv_config_t *cfg = load_ok(ENV);
    const sv_cfg_node_t *p = sv_cfg_get(sv_config_root(cfg), "strategies.0.params");
    assert_int_equal(sv_cfg_len(p), 7);
    assert_int_equal(sv_cfg_type(sv_cfg_get(p, "fast")), SV_CFG_INT);
    assert_int_equal(sv_cfg_int(p, "fast", 0), 10);
    assert_int_equal(sv_cfg_type(sv_cfg_get(p, "qty")), SV_CFG_NUMBER);
    assert_string_equal(sv_cfg_str(p, "label", NULL), "fast");
    assert_int_equal(sv_cfg_type(sv_cfg_get(p, "hedge")), SV_CFG_BOOL);
    assert_int_equal(sv_cfg_bool(p, "hedge", 0), 1);
    assert_int_equal(sv_cfg_type(sv_cfg_get(p, "quoted")), SV_CFG_STRING);
    assert_string_equal(sv_cfg_str(p, "quoted", NULL), "10");
    assert_int_equal(sv_cfg_type(sv_cfg_get(p, "word")), SV_CFG_STRING);
    assert_int_equal(sv_cfg_int(p, "neg", 0), -3);
    assert_string_equal(sv_cfg_key(p, 3), "hedge");
    sv_config_free(cfg);

    expect_error(STRATEGY, STRAT_BASE "params:\n  fast: {a: 1}\n",
                 "config/strategies/sma.yaml:5:9: params.fast: expected a single value (number, string, true or "
                 "false), got a map");
    expect_error(STRATEGY, STRAT_BASE "params:\n  fast: [1, 2]\n",
                 "config/strategies/sma.yaml:5:9: params.fast: expected a single value (number, string, true or "
                 "false), got a list");
}

static void test_composition_by_path(void **state)
{
    (void)state;
    write_file("config/environments/local.yml", "name: local\nfile: /opt/strategies/local.lua\nsymbols: [BTCUSDT]\n");
    write_file(ENV, "name: dev\nmode: paper\nexchange: ../exchanges/sim.yaml\nrisk: default\n"
                    "strategies:\n  - sma\n  - local.yml\n");
    sv_config_t *cfg = load_ok(ENV);
    const sv_cfg_node_t *r = sv_config_root(cfg);
    char where[256];
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "exchange"), where, sizeof where), 0);
    assert_string_equal(where, "config/environments/../exchanges/sim.yaml:1:1");
    assert_string_equal(sv_cfg_key(r, 2), "exchange"); /* the subtree takes the reference's key */
    assert_string_equal(sv_cfg_str(r, "strategies.1.name", NULL), "local");
    assert_string_equal(sv_cfg_str(r, "strategies.1.file", NULL), "/opt/strategies/local.lua"); /* absolute: kept */
    assert_int_equal(sv_cfg_where(sv_cfg_get(r, "strategies.1.symbols.0"), where, sizeof where), 0);
    assert_string_equal(where, "config/environments/local.yml:3:11");
    /* relative to the project root, which is "." for a config/ in the current directory */
    assert_string_equal(sv_config_project_root(cfg), ".");
    assert_string_equal(sv_cfg_str(r, "strategies.0.file", NULL), "strategies/sma.lua");
    sv_config_free(cfg);

    /* an absolute environment path makes every resolved path absolute */
    fixture_t *fx = *state;
    char path[256], want[256];
    snprintf(path, sizeof path, "%s/" ENV, fx->dir);
    cfg = load_ok(path);
    assert_string_equal(sv_config_project_root(cfg), fx->dir);
    snprintf(want, sizeof want, "%s/strategies/sma.lua", fx->dir);
    assert_string_equal(sv_cfg_str(sv_config_root(cfg), "strategies.0.file", NULL), want);
    sv_config_free(cfg);

    /* a single file alone: references stay names */
    sv_diag_t d;
    assert_int_equal(sv_config_load_file(ENV, "environment", &cfg, &d), 0);
    assert_string_equal(sv_cfg_str(sv_config_root(cfg), "exchange", NULL), "../exchanges/sim.yaml");
    assert_string_equal(sv_cfg_str(sv_config_root(cfg), "strategies.1", NULL), "local.yml");
    sv_config_free(cfg);
}

/* ---- ${VAR} substitution ---- */

static void test_env_substitution(void **state)
{
    (void)state;
    setenv("SV_T_PORT", "7000", 1);
    setenv("SV_T_EMPTY", "", 1);
    setenv("SV_T_HOST", "redis.internal", 1);
    setenv("SV_T_NESTED", "${SV_T_PORT}", 1);
    unsetenv("SV_T_UNSET");
    write_file(ENV, ENV_HEAD "bus:\n"
                             "  redis:\n"
                             "    port: ${SV_T_PORT}\n"
                             "    db: ${SV_T_UNSET:-3}\n"
                             "    maxlen: ${SV_T_EMPTY:-42}\n"
                             "    host: ${SV_T_HOST}:${SV_T_PORT}\n"
                             "    password: pa$$word$x$\n"
                             "    prefix: \"${SV_T_NESTED}\"\n"
                             "log:\n"
                             "  file: ${SV_T_UNSET:-}\n");
    sv_config_t *cfg = load_ok(ENV);
    const sv_cfg_node_t *r = sv_config_root(cfg);
    /* substitution comes before typing: an unquoted ${VAR} can be an integer */
    assert_int_equal(sv_cfg_type(sv_cfg_get(r, "bus.redis.port")), SV_CFG_INT);
    assert_int_equal(sv_cfg_int(r, "bus.redis.port", 0), 7000);
    assert_string_equal(sv_cfg_raw(sv_cfg_get(r, "bus.redis.port")), "7000");
    assert_int_equal(sv_cfg_int(r, "bus.redis.db", -1), 3);
    assert_int_equal(sv_cfg_int(r, "bus.redis.maxlen", -1), 42); /* set but empty takes the default */
    assert_string_equal(sv_cfg_str(r, "bus.redis.host", NULL), "redis.internal:7000");
    assert_string_equal(sv_cfg_str(r, "bus.redis.password", NULL), "pa$word$x$"); /* $$ is $, lone $ kept */
    assert_string_equal(sv_cfg_str(r, "bus.redis.prefix", NULL), "${SV_T_PORT}"); /* values are not re-expanded */
    assert_string_equal(sv_cfg_str(r, "log.file", "unset"), ""); /* an empty default is an empty string */
    sv_config_free(cfg);

    /* quoting keeps a substituted value a string, so it cannot be a port */
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: \"${SV_T_PORT}\"\n",
                 "config/environments/dev.yaml:9:11: bus.redis.port: expected integer, got a quoted string \"7000\"");
    setenv("SV_T_PORT", "abc", 1);
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: ${SV_T_PORT}\n",
                 "config/environments/dev.yaml:9:11: bus.redis.port: expected integer, got 'abc'");
    unsetenv("SV_T_PORT");
    unsetenv("SV_T_EMPTY");
    unsetenv("SV_T_HOST");
    unsetenv("SV_T_NESTED");
}

static void test_error_env_vars(void **state)
{
    (void)state;
    unsetenv("BINANCE_API_KEY");
    expect_error(EXCHANGE, "name: bn\ntype: binance\nbinance:\n  api_key: ${BINANCE_API_KEY}\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:4:12: binance.api_key: environment variable 'BINANCE_API_KEY' is not "
                 "set (use ${BINANCE_API_KEY:-default} for a default)");
    expect_error(ENV, ENV_HEAD "log:\n  level: ${SV_T_LEVEL\n",
                 "config/environments/dev.yaml:8:10: log.level: unterminated '${' in '${SV_T_LEVEL' (missing '}')");
    expect_error(ENV, ENV_HEAD "log:\n  level: ${1X}\n",
                 "config/environments/dev.yaml:8:10: log.level: malformed '${1X}': a variable name is letters, "
                 "digits and '_', not starting with a digit");
    expect_error(ENV, ENV_HEAD "log:\n  level: ${}\n",
                 "config/environments/dev.yaml:8:10: log.level: malformed '${}': a variable name is letters, "
                 "digits and '_', not starting with a digit");
    expect_error(ENV, ENV_HEAD "log:\n  level: ${X-info}\n",
                 "config/environments/dev.yaml:8:10: log.level: malformed '${X-info}': write ${NAME} or "
                 "${NAME:-default}");
    expect_error(ENV, ENV_HEAD "log:\n  level: ${X:?info}\n",
                 "config/environments/dev.yaml:8:10: log.level: malformed '${X:?info}': write ${NAME} or "
                 "${NAME:-default}");
}

/* ---- every kind of error, with its exact message ---- */

static void test_error_unknown_key(void **state)
{
    (void)state;
    expect_error(RISK, "name: default\ndefaults:\n  max_ordr_qty: 1\n",
                 "config/risk/default.yaml:3:3: defaults: unknown key 'max_ordr_qty' (did you mean "
                 "'max_order_qty'?)");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                   "    tick_sise: 0.01\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:7:5: symbols.0: unknown key 'tick_sise' (did you mean 'tick_size'?)");
    expect_error(RISK, "symbols:\n  BTCUSDT:\n    max_open_order: 3\n",
                 "config/risk/default.yaml:3:5: symbols.BTCUSDT: unknown key 'max_open_order' (did you mean "
                 "'max_open_orders'?)");
    expect_error(ENV, ENV_HEAD "colour: blue\n",
                 "config/environments/dev.yaml:7:1: unknown key 'colour' (known keys: name, mode, exchange, risk, "
                 "strategies, bus, data, log, api)");
    expect_error(ENV, ENV_HEAD "bus:\n  Backend: redis\n",
                 "config/environments/dev.yaml:8:3: bus: unknown key 'Backend' (did you mean 'backend'?)");
}

static void test_error_type(void **state)
{
    (void)state;
    expect_error(ENV, ENV_HEAD "bus:\n  backend: redis\n  redis:\n    port: abc\n",
                 "config/environments/dev.yaml:10:11: bus.redis.port: expected integer, got 'abc'");
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: 6379.5\n",
                 "config/environments/dev.yaml:9:11: bus.redis.port: expected integer, got '6379.5'");
    expect_error(ENV, ENV_HEAD "bus: [memory]\n",
                 "config/environments/dev.yaml:7:6: bus: expected a map, got a list");
    expect_error(ENV, "name: dev\nmode: paper\nexchange: sim\nrisk: default\nstrategies:\n  sma: 1\n",
                 "config/environments/dev.yaml:6:3: strategies: expected a list, got a map");
    expect_error(ENV, "name: [dev]\n", "config/environments/dev.yaml:1:7: name: expected string, got a list");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                   "    tick_size: \"0.01\"\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:7:16: symbols.0.tick_size: expected number, got a quoted string "
                 "\"0.01\"");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                   "    tick_size: 0x10\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:7:16: symbols.0.tick_size: expected number, got '0x10'");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                   "    tick_size: .inf\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:7:16: symbols.0.tick_size: expected number, got '.inf'");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - BTCUSDT\n",
                 "config/exchanges/sim.yaml:4:5: symbols.0: expected a map, got 'BTCUSDT'");
    expect_error(STRATEGY, STRAT_BASE "enabled: yes\n",
                 "config/strategies/sma.yaml:4:10: enabled: expected true or false, got 'yes'");
    expect_error(STRATEGY, STRAT_BASE "enabled: \"true\"\n",
                 "config/strategies/sma.yaml:4:10: enabled: expected true or false, got a quoted string \"true\"");
    expect_error(STRATEGY, "name:\nfile: x.lua\nsymbols: [BTCUSDT]\n",
                 "config/strategies/sma.yaml:1:6: name: expected string, got an empty value");
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    maxlen: 99999999999999999999\n",
                 "config/environments/dev.yaml:9:13: bus.redis.maxlen: integer out of range, got "
                 "99999999999999999999");
    expect_error(EXCHANGE, EX_HEAD "sim:\n  latency_ms: 1e999\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:4:15: sim.latency_ms: number out of range, got 1e999");
}

static void test_error_range(void **state)
{
    (void)state;
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: 70000\n",
                 "config/environments/dev.yaml:9:11: bus.redis.port: must be between 1 and 65535, got 70000");
    expect_error(ENV, ENV_HEAD "api:\n  port: 0\n",
                 "config/environments/dev.yaml:8:9: api.port: must be between 1 and 65535, got 0");
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    db: 16\n",
                 "config/environments/dev.yaml:9:9: bus.redis.db: must be between 0 and 15, got 16");
    expect_error(ENV, ENV_HEAD "data:\n  speed: 0\n",
                 "config/environments/dev.yaml:8:10: data.speed: must be > 0, got 0");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                   "    tick_size: -1\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:7:16: symbols.0.tick_size: must be > 0, got -1");
    expect_error(EXCHANGE, EX_HEAD EX_SYMBOLS "    min_notional: -0.5\n",
                 "config/exchanges/sim.yaml:9:19: symbols.0.min_notional: must be >= 0, got -0.5");
    expect_error(EXCHANGE, EX_HEAD "sim:\n  participation: 1.5\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:4:18: sim.participation: must be > 0 and <= 1, got 1.5");
    expect_error(EXCHANGE, EX_HEAD "sim:\n  balances:\n    USDT: -10\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:5:11: sim.balances.USDT: must be >= 0, got -10");
    expect_error(RISK, "defaults:\n  max_open_orders: 0\n",
                 "config/risk/default.yaml:2:20: defaults.max_open_orders: must be between 1 and 256, got 0");
    expect_error(EXCHANGE, "name: bn\ntype: binance\nbinance:\n  recv_window_ms: 60001\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:4:19: binance.recv_window_ms: must be between 1 and 60000, got 60001");
}

static void test_error_enum(void **state)
{
    (void)state;
    expect_error(ENV, ENV_HEAD "bus:\n  backend: reddis\n",
                 "config/environments/dev.yaml:8:12: bus.backend: must be one of memory, redis; got 'reddis'");
    expect_error(ENV, "name: dev\nmode: production\n",
                 "config/environments/dev.yaml:2:7: mode: must be one of backtest, paper, live; got 'production'");
    expect_error(EXCHANGE, "name: x\ntype: kraken\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:2:7: type: must be one of sim, binance; got 'kraken'");
    expect_error(ENV, ENV_HEAD "log:\n  level: [info]\n",
                 "config/environments/dev.yaml:8:10: log.level: expected one of debug, info, warn, error, got a list");
}

static void test_error_missing_key(void **state)
{
    (void)state;
    expect_error(EXCHANGE, EX_HEAD, "config/exchanges/sim.yaml:1:1: missing required key 'symbols'");
    expect_error(EXCHANGE, "# the exchange\n\ntype: sim\n" EX_SYMBOLS,
                 "config/exchanges/sim.yaml:3:1: missing required key 'name'");
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    quote: USDT\n    tick_size: 0.01\n"
                                   "    lot_size: 0.00001\n",
                 "config/exchanges/sim.yaml:4:5: symbols.0: missing required key 'base'");
    expect_error(ENV, "name: dev\nmode: paper\nexchange: sim\nstrategies: [sma]\n",
                 "config/environments/dev.yaml:1:1: missing required key 'risk'");
    expect_error(STRATEGY, "name: sma\nsymbols: [BTCUSDT]\n",
                 "config/strategies/sma.yaml:1:1: missing required key 'file'");
}

static void test_error_duplicate_key(void **state)
{
    (void)state;
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: 6379\n    host: h\n    port: 6380\n",
                 "config/environments/dev.yaml:11:5: bus.redis: duplicate key 'port' (first at line 9)");
    expect_error(ENV, "name: dev\nname: other\n",
                 "config/environments/dev.yaml:2:1: duplicate key 'name' (first at line 1)");
    expect_error(STRATEGY, STRAT_BASE "params:\n  fast: 1\n  fast: 2\n",
                 "config/strategies/sma.yaml:6:3: params: duplicate key 'fast' (first at line 5)");
    expect_error(RISK, "symbols:\n  BTCUSDT: {max_order_qty: 1}\n  BTCUSDT: {max_order_qty: 2}\n",
                 "config/risk/default.yaml:3:3: symbols: duplicate key 'BTCUSDT' (first at line 2)");
}

static void test_error_lists(void **state)
{
    (void)state;
    expect_error(ENV, "name: dev\nmode: paper\nexchange: sim\nrisk: default\nstrategies: []\n",
                 "config/environments/dev.yaml:5:13: strategies: must have at least 1 entry");
    expect_error(ENV, "name: dev\nmode: paper\nexchange: sim\nrisk: default\nstrategies:\n",
                 "config/environments/dev.yaml:5:12: strategies: expected a list, got an empty value");
    expect_error(ENV, ENV_HEAD "  - sma\n",
                 "config/environments/dev.yaml:7:5: strategies.1: 'sma' is listed twice (first at line 6)");
    expect_error(EXCHANGE, EX_HEAD EX_SYMBOLS "  - symbol: BTCUSDT\n    base: BTC\n    quote: USDT\n"
                                              "    tick_size: 0.1\n    lot_size: 1\n",
                 "config/exchanges/sim.yaml:9:13: symbols.1.symbol: 'BTCUSDT' is listed twice (first at line 4)");
    expect_error(STRATEGY, "name: sma\nfile: x.lua\nsymbols: [BTCUSDT, ETHUSD]\n",
                 "config/strategies/sma.yaml:3:20: symbols.1: unknown symbol 'ETHUSD' (exchange 'sim' has BTCUSDT)");
    expect_error(RISK, "symbols:\n  ETHUSDT:\n    max_order_qty: 1\n",
                 "config/risk/default.yaml:2:3: symbols: unknown symbol 'ETHUSDT' (exchange 'sim' has BTCUSDT)");
    expect_error(STRATEGY, "name: sma\nfile: x.lua\nsymbols: []\n",
                 "config/strategies/sma.yaml:3:10: symbols: must have at least 1 entry");
}

static void test_error_yaml(void **state)
{
    (void)state;
    expect_error(EXCHANGE, EX_HEAD "symbols:\n  - symbol: BTCUSDT\n    base: BTC: x\n",
                 "config/exchanges/sim.yaml:5:14: YAML syntax error: mapping values are not allowed in this context");
    expect_error(EXCHANGE, EX_HEAD "symbols: [a, b\n",
                 "config/exchanges/sim.yaml:4:1: YAML syntax error: did not find expected ',' or ']' (while "
                 "parsing a flow sequence at line 3, column 10)");
    expect_error(ENV, ENV_HEAD "log:\n  level: &lvl info\n",
                 "config/environments/dev.yaml:8:10: YAML anchors are not supported (&lvl); write the value out "
                 "where it is needed");
    expect_error(ENV, ENV_HEAD "bus: &b\n  backend: memory\n",
                 "config/environments/dev.yaml:7:6: YAML anchors are not supported (&b); write the value out where "
                 "it is needed");
    expect_error(ENV, ENV_HEAD "api:\n  host: *h\n",
                 "config/environments/dev.yaml:8:9: YAML aliases are not supported (*h); write the value out where "
                 "it is needed");
    expect_error(STRATEGY, "name: !!str sma\n",
                 "config/strategies/sma.yaml:1:7: YAML tags are not supported (!!str); write the plain value");
    expect_error(STRATEGY, "", "config/strategies/sma.yaml:1:1: empty document (expected a map of settings)");
    expect_error(STRATEGY, "# nothing here yet\n",
                 "config/strategies/sma.yaml:1:1: empty document (expected a map of settings)");
    expect_error(RISK, "- a\n- b\n", "config/risk/default.yaml:1:1: top level must be a map of settings, got a list");
    expect_error(RISK, "just text\n",
                 "config/risk/default.yaml:1:1: top level must be a map of settings, got a single value");
    expect_error(RISK, RISK_BASE "---\n" RISK_BASE,
                 "config/risk/default.yaml:3:1: only one YAML document per file is supported");
    expect_error(RISK, "? [a]\n: 1\n", "config/risk/default.yaml:1:3: a key must be a single value, not a list");
}

static void test_error_files(void **state)
{
    (void)state;
    expect_error(ENV, "name: dev\nmode: paper\nexchange: nope\nrisk: default\nstrategies: [sma]\n",
                 "config/exchanges/nope.yaml: cannot open: No such file or directory (named by "
                 "config/environments/dev.yaml:3:11)");
    expect_error(ENV, "name: dev\nmode: paper\nexchange: sim\nrisk: default\nstrategies: [sma, gone.yaml]\n",
                 "config/environments/gone.yaml: cannot open: No such file or directory (named by "
                 "config/environments/dev.yaml:5:19)");
    expect_error(ENV, "name: dev\nmode: paper\nexchange: ../exchanges\nrisk: default\nstrategies: [sma]\n",
                 "config/exchanges/../exchanges.yaml: cannot open: No such file or directory (named by "
                 "config/environments/dev.yaml:3:11)");
    /* an error inside a named file is reported in that file */
    expect_error(STRATEGY, STRAT_BASE "colour: red\n",
                 "config/strategies/sma.yaml:4:1: unknown key 'colour' (known keys: name, file, symbols, enabled, "
                 "params, cpu_budget_ms, memory_limit_mb, protect)");

    sv_config_t *cfg = (sv_config_t *)&cfg;
    sv_diag_t d;
    assert_int_equal(sv_config_load("config/environments/missing.yaml", &cfg, &d), SV_E_CONFIG);
    assert_null(cfg);
    assert_string_equal(d.msg, "config/environments/missing.yaml: cannot open: No such file or directory");
    assert_int_equal(sv_config_load("config/environments", &cfg, &d), SV_E_CONFIG);
    assert_string_equal(d.msg, "config/environments: cannot read: Is a directory");
    /* no diag wanted: still an error code, no crash */
    assert_int_equal(sv_config_load("config/environments/missing.yaml", &cfg, NULL), SV_E_CONFIG);
    assert_int_equal(sv_config_load(NULL, &cfg, &d), SV_E_INVAL);
    assert_int_equal(sv_config_load_file(EXCHANGE, "exchanges", &cfg, &d), SV_E_INVAL);
    assert_null(cfg);
    assert_string_equal(d.msg, "config: unknown file kind 'exchanges' (expected environment, exchange, risk or "
                               "strategy)");
    sv_config_free(NULL);
}

/* Errors come out in file order: the first one, not the most serious or the last. */
static void test_first_error_wins(void **state)
{
    (void)state;
    expect_error(ENV, ENV_HEAD "bus:\n  backend: reddis\n  redis:\n    port: abc\n",
                 "config/environments/dev.yaml:8:12: bus.backend: must be one of memory, redis; got 'reddis'");
    expect_error(ENV, ENV_HEAD "bus:\n  redis:\n    port: abc\n  backend: reddis\n",
                 "config/environments/dev.yaml:9:11: bus.redis.port: expected integer, got 'abc'");
    /* the environment is checked whole before the files it names are read */
    expect_error(ENV, "name: dev\nmode: paper\nexchange: nope\nrisk: default\nstrategies: [sma]\nlog: {level: loud}\n",
                 "config/environments/dev.yaml:6:14: log.level: must be one of debug, info, warn, error; got 'loud'");
    /* a missing key is reported once the map's own entries are checked */
    expect_error(EXCHANGE, "type: sim\nsymbols: 3\n",
                 "config/exchanges/sim.yaml:2:10: symbols: expected a list, got '3'");
}

/* A hostile file nested deeper than any schema must fail cleanly, not exhaust the stack. */
static void test_deep_nesting(void **state)
{
    (void)state;
    const size_t depth = 100000;
    const char *head = STRAT_BASE "params:\n  x: ";
    size_t len = strlen(head);
    char *text = malloc(len + 2 * depth + 2);
    assert_non_null(text);
    memcpy(text, head, len);
    memset(text + len, '[', depth);
    memset(text + len + depth, ']', depth);
    memcpy(text + len + 2 * depth, "\n", 2);
    expect_error(STRATEGY, text,
                 "config/strategies/sma.yaml:5:6: params.x: expected a single value (number, string, true or "
                 "false), got a list");
    free(text);
}

/* ---- dump and secrets ---- */

static void test_dump_redacts_secrets(void **state)
{
    (void)state;
    setenv("SV_T_KEY", "key-from-env-123", 1);
    write_file(EXCHANGE, "name: bn\ntype: binance\nbinance:\n  api_key: ${SV_T_KEY}\n  api_secret: \"\"\n" EX_SYMBOLS);
    write_file(ENV, ENV_HEAD "bus:\n  redis:\n    password:\napi:\n  jwt_secret: literal-jwt-secret\n");
    sv_config_t *cfg = load_ok(ENV);
    char *text = dump_to_string(cfg);

    assert_null(strstr(text, "key-from-env-123"));
    assert_null(strstr(text, "literal-jwt-secret"));
    assert_non_null(strstr(text, "\n    api_key: \"***\"\n"));
    assert_non_null(strstr(text, "\n    api_secret: \"\"\n"));
    assert_non_null(strstr(text, "\n    password: \"\"\n"));
    assert_non_null(strstr(text, "\n  jwt_secret: \"***\"\n"));
    /* defaults are marked, included files named, and the whole is YAML other tools can read */
    assert_non_null(strstr(text, "\n    db: 0  # default\n"));
    assert_non_null(strstr(text, "\nexchange:  # config/exchanges/sim.yaml\n"));
    assert_non_null(strstr(text, "\n  -  # config/strategies/sma.yaml\n    name: sma\n"));
    assert_int_equal(yaml_well_formed(text), 1);
    free(text);

    /* the values themselves, for the log's redaction */
    const char *secrets[3] = {NULL, NULL, "untouched"};
    assert_int_equal(sv_config_secrets(cfg, secrets, 3), 2);
    assert_string_equal(secrets[0], "key-from-env-123");
    assert_string_equal(secrets[1], "literal-jwt-secret");
    assert_string_equal(secrets[2], "untouched");
    secrets[0] = secrets[1] = NULL;
    assert_int_equal(sv_config_secrets(cfg, secrets, 1), 2); /* the total, even when it does not fit */
    assert_string_equal(secrets[0], "key-from-env-123");
    assert_null(secrets[1]);
    sv_config_free(cfg);
    unsetenv("SV_T_KEY");
}

static void test_dump_quotes_what_would_change_type(void **state)
{
    (void)state;
    write_file(STRATEGY, STRAT_BASE "params:\n  a: \"10\"\n  b: \"yes\"\n  c: \"x: y\"\n  d: \"\"\n  e: plain\n"
                                    "  f: \"say \\\"hi\\\"\"\n  g: 1.50\n");
    sv_config_t *cfg = load_ok(ENV);
    char *text = dump_to_string(cfg);
    assert_non_null(strstr(text, "\n      a: \"10\"\n"));
    assert_non_null(strstr(text, "\n      b: \"yes\"\n"));
    assert_non_null(strstr(text, "\n      c: \"x: y\"\n"));
    assert_non_null(strstr(text, "\n      d: \"\"\n"));
    assert_non_null(strstr(text, "\n      e: plain\n"));
    assert_non_null(strstr(text, "\n      f: \"say \\\"hi\\\"\"\n"));
    assert_non_null(strstr(text, "\n      g: 1.50\n")); /* numbers keep their text */
    assert_int_equal(yaml_well_formed(text), 1);
    free(text);
    sv_config_free(cfg);
}

/* ---- the reference stays complete ---- */

static int doc_has(const char *doc, const char *path)
{
    char needle[300];
    snprintf(needle, sizeof needle, "`%.290s`", path);
    if (strstr(doc, needle))
        return 1;
    print_error("docs/config.md does not document %s\n", needle);
    return 0;
}

static int undocumented(const char *doc, const sv_cfg_field_t *fields, const char *prefix)
{
    int missing = 0;
    for (const sv_cfg_field_t *f = fields; f->key; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->key);
        missing += !doc_has(doc, path);
        if (f->kind == SV_CFG_K_MAP)
            missing += undocumented(doc, f->fields, path);
        char inner[300];
        if (f->kind == SV_CFG_K_LIST && f->item->kind == SV_CFG_K_MAP) {
            snprintf(inner, sizeof inner, "%s[]", path);
            missing += undocumented(doc, f->item->fields, inner);
        }
        if (f->kind == SV_CFG_K_DICT) {
            snprintf(inner, sizeof inner, "%s.*", path);
            missing += !doc_has(doc, inner);
            if (f->item->kind == SV_CFG_K_MAP)
                missing += undocumented(doc, f->item->fields, inner);
        }
    }
    return missing;
}

static void test_every_key_documented(void **state)
{
    (void)state;
    char path[PATH_MAX + 32], *doc = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/docs/config.md", source_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(getdelim(&doc, &len, '\0', f) > 0, 1);
    fclose(f);
    const char *kinds[] = {"environment", "exchange", "risk", "strategy"};
    int missing = 0;
    for (size_t i = 0; i < 4; i++) {
        const sv_cfg_field_t *root = sv_cfg_schema(kinds[i]);
        assert_non_null(root);
        assert_int_equal(root->kind, SV_CFG_K_MAP);
        missing += undocumented(doc, root->fields, "");
    }
    assert_null(sv_cfg_schema("nope"));
    assert_null(sv_cfg_schema(NULL));
    free(doc);
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    const char *src = argc > 1 ? argv[1] : getenv("SV_SOURCE_DIR");
    if (!src || !*src)
        src = ".";
    if (!realpath(src, source_dir)) {
        fprintf(stderr, "test_config: cannot resolve source dir %s\n", src);
        return 1;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_development),
        cmocka_unit_test(test_sample_backtest_and_testnet),
        cmocka_unit_test(test_sample_files_alone),
        cmocka_unit_test_setup_teardown(test_defaults_filled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_are_typed_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composition_by_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_substitution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_env_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_enum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_missing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_yaml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_error_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_redacts_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_quotes_what_would_change_type, setup, teardown),
        cmocka_unit_test(test_every_key_documented),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
