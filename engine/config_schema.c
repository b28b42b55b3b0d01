/* config_schema: what each configuration file may contain, as const tables of field descriptors.
 *
 * This is the one place where keys, types, defaults and ranges are written down; config.c only
 * interprets these tables. To add a key, add a descriptor here and a row to docs/config.md (the
 * unit test checks that every key here is documented there). */
#include "config.h"

#include <string.h>

/* ---- environment: config/environments/<name>.yaml ---- */

static const char *const modes[] = {"backtest", "paper", "live", NULL};
static const char *const bus_backends[] = {"memory", "redis", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const redis_overflow[] = {"block", "drop_oldest", "halt", NULL};
static const char *const redis_on_down[] = {"fail", "wait", NULL};
static const char *const data_sources[] = {"files", "redis", NULL};

/* more cluster seeds, "host:port"; bus_redis.c checks the form */
static const sv_cfg_field_t redis_node = {.key = "nodes[]", .kind = SV_CFG_K_STRING, .flags = SV_CFG_UNIQUE};

static const sv_cfg_field_t redis_fields[] = {
    {.key = "host", .kind = SV_CFG_K_STRING, .def = "127.0.0.1"},
    {.key = "port", .kind = SV_CFG_K_INT, .def = "6379", .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 65535},
    {.key = "password", .kind = SV_CFG_K_STRING, .flags = SV_CFG_SECRET},
    {.key = "db", .kind = SV_CFG_K_INT, .def = "0", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 15},
    {.key = "prefix", .kind = SV_CFG_K_STRING, .def = "silvertine"},
    {.key = "maxlen", .kind = SV_CFG_K_INT, .def = "1000000", .flags = SV_CFG_GE, .min = 0},
    {.key = "buffer", .kind = SV_CFG_K_INT, .def = "65536", .flags = SV_CFG_GE | SV_CFG_LE, .min = 16, .max = 16777216},
    {.key = "overflow", .kind = SV_CFG_K_ENUM, .values = redis_overflow, .def = "block"},
    {.key = "on_down", .kind = SV_CFG_K_ENUM, .values = redis_on_down, .def = "fail"},
    {.key = "timeout_ms", .kind = SV_CFG_K_INT, .def = "5000", .flags = SV_CFG_GE | SV_CFG_LE, .min = 100, .max = 600000},
    {.key = "backoff_ms", .kind = SV_CFG_K_INT, .def = "100", .flags = SV_CFG_GE | SV_CFG_LE, .min = 10, .max = 600000},
    {.key = "backoff_max_ms", .kind = SV_CFG_K_INT, .def = "5000", .flags = SV_CFG_GE | SV_CFG_LE, .min = 10, .max = 600000},
    {.key = "pipeline", .kind = SV_CFG_K_INT, .def = "1024", .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 65536},
    {.key = "drain_ms", .kind = SV_CFG_K_INT, .def = "5000", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 600000},
    {.key = "cluster", .kind = SV_CFG_K_BOOL, .def = "false"},
    {.key = "nodes", .kind = SV_CFG_K_LIST, .item = &redis_node},
    {.key = "group", .kind = SV_CFG_K_STRING, .def = "silvertine"},
    {.key = "consumer", .kind = SV_CFG_K_STRING},
    {.key = "group_start", .kind = SV_CFG_K_STRING, .def = "$"},
    {.key = "claim_idle_ms", .kind = SV_CFG_K_INT, .def = "30000", .flags = SV_CFG_GE | SV_CFG_LE, .min = 100, .max = 86400000},
    {.key = "batch", .kind = SV_CFG_K_INT, .def = "256", .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 1000},
    {0}};

static const sv_cfg_field_t bus_fields[] = {
    {.key = "backend", .kind = SV_CFG_K_ENUM, .values = bus_backends, .def = "memory"},
    {.key = "redis", .kind = SV_CFG_K_MAP, .fields = redis_fields, .flags = SV_CFG_FILL},
    {0}};

/* "[SYMBOL=]path", relative to the project root: the session resolves them (replay.h), so the
 * loader keeps the text as written. */
static const sv_cfg_field_t data_file = {.key = "files[]", .kind = SV_CFG_K_STRING};

static const sv_cfg_field_t data_fields[] = {
    {.key = "source", .kind = SV_CFG_K_ENUM, .values = data_sources, .def = "files"},
    {.key = "files", .kind = SV_CFG_K_LIST, .item = &data_file},
    {.key = "from", .kind = SV_CFG_K_STRING},
    {.key = "to", .kind = SV_CFG_K_STRING},
    {.key = "speed", .kind = SV_CFG_K_NUMBER, .def = "1.0", .flags = SV_CFG_GT, .min = 0},
    {0}};

static const sv_cfg_field_t log_fields[] = {
    {.key = "level", .kind = SV_CFG_K_ENUM, .values = log_levels, .def = "info"},
    {.key = "file", .kind = SV_CFG_K_STRING},
    {0}};

static const sv_cfg_field_t api_fields[] = {
    {.key = "enabled", .kind = SV_CFG_K_BOOL, .def = "false"},
    {.key = "host", .kind = SV_CFG_K_STRING, .def = "127.0.0.1"},
    {.key = "port", .kind = SV_CFG_K_INT, .def = "8080", .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 65535},
    {.key = "jwt_secret", .kind = SV_CFG_K_STRING, .flags = SV_CFG_SECRET},
    {0}};

/* Forward declarations: the environment names the other kinds' root descriptors. */
static const sv_cfg_field_t exchange_schema, risk_schema, strategy_schema;

static const sv_cfg_field_t strategy_ref = {
    .key = "strategies[]", .kind = SV_CFG_K_STRING, .flags = SV_CFG_UNIQUE,
    .include_dir = "strategies", .include = &strategy_schema};

static const sv_cfg_field_t environment_fields[] = {
    {.key = "name", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "mode", .kind = SV_CFG_K_ENUM, .values = modes, .flags = SV_CFG_REQUIRED},
    {.key = "exchange", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED,
     .include_dir = "exchanges", .include = &exchange_schema},
    {.key = "risk", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED,
     .include_dir = "risk", .include = &risk_schema},
    {.key = "strategies", .kind = SV_CFG_K_LIST, .flags = SV_CFG_REQUIRED, .min_len = 1, .item = &strategy_ref},
    {.key = "bus", .kind = SV_CFG_K_MAP, .fields = bus_fields, .flags = SV_CFG_FILL},
    {.key = "data", .kind = SV_CFG_K_MAP, .fields = data_fields, .flags = SV_CFG_FILL},
    {.key = "log", .kind = SV_CFG_K_MAP, .fields = log_fields, .flags = SV_CFG_FILL},
    {.key = "api", .kind = SV_CFG_K_MAP, .fields = api_fields, .flags = SV_CFG_FILL},
    {0}};

static const sv_cfg_field_t environment_schema = {
    .key = "environment", .kind = SV_CFG_K_MAP, .fields = environment_fields};

/* ---- exchange: config/exchanges/<name>.yaml ---- */

static const char *const exchange_types[] = {"sim", "binance", NULL};

static const sv_cfg_field_t balance = {
    .key = "balances.*", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GE, .min = 0};

static const sv_cfg_field_t sim_fields[] = {
    {.key = "maker_fee_bps", .kind = SV_CFG_K_NUMBER, .def = "10", .flags = SV_CFG_GE, .min = 0},
    {.key = "taker_fee_bps", .kind = SV_CFG_K_NUMBER, .def = "10", .flags = SV_CFG_GE, .min = 0},
    {.key = "latency_ms", .kind = SV_CFG_K_NUMBER, .def = "0", .flags = SV_CFG_GE, .min = 0},
    {.key = "slippage_bps", .kind = SV_CFG_K_NUMBER, .def = "0", .flags = SV_CFG_GE, .min = 0},
    {.key = "participation", .kind = SV_CFG_K_NUMBER, .def = "1", .flags = SV_CFG_GT | SV_CFG_LE, .min = 0, .max = 1},
    {.key = "queue_position", .kind = SV_CFG_K_BOOL, .def = "false"},
    {.key = "balances", .kind = SV_CFG_K_DICT, .item = &balance},
    {0}};

static const sv_cfg_field_t binance_fields[] = {
    {.key = "api_key", .kind = SV_CFG_K_STRING, .flags = SV_CFG_SECRET},
    {.key = "api_secret", .kind = SV_CFG_K_STRING, .flags = SV_CFG_SECRET},
    {.key = "rest_url", .kind = SV_CFG_K_STRING, .def = "https://testnet.binance.vision"},
    {.key = "ws_url", .kind = SV_CFG_K_STRING, .def = "wss://stream.testnet.binance.vision"},
    {.key = "recv_window_ms", .kind = SV_CFG_K_INT, .def = "5000",
     .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 60000},
    {0}};

static const sv_cfg_field_t symbol_fields[] = {
    {.key = "symbol", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED | SV_CFG_UNIQUE},
    {.key = "base", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "quote", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "tick_size", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_REQUIRED | SV_CFG_GT, .min = 0},
    {.key = "lot_size", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_REQUIRED | SV_CFG_GT, .min = 0},
    {.key = "min_notional", .kind = SV_CFG_K_NUMBER, .def = "0", .flags = SV_CFG_GE, .min = 0},
    {0}};

static const sv_cfg_field_t symbol = {.key = "symbols[]", .kind = SV_CFG_K_MAP, .fields = symbol_fields};

/* The adapter section matching `type` is filled with its defaults; the other one is left out. */
static const sv_cfg_field_t exchange_fields[] = {
    {.key = "name", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "type", .kind = SV_CFG_K_ENUM, .values = exchange_types, .flags = SV_CFG_REQUIRED},
    {.key = "sim", .kind = SV_CFG_K_MAP, .fields = sim_fields, .flags = SV_CFG_FILL,
     .fill_if_key = "type", .fill_if_value = "sim"},
    {.key = "binance", .kind = SV_CFG_K_MAP, .fields = binance_fields, .flags = SV_CFG_FILL,
     .fill_if_key = "type", .fill_if_value = "binance"},
    {.key = "symbols", .kind = SV_CFG_K_LIST, .flags = SV_CFG_REQUIRED, .min_len = 1, .item = &symbol},
    {0}};

static const sv_cfg_field_t exchange_schema = {.key = "exchange", .kind = SV_CFG_K_MAP, .fields = exchange_fields};

/* ---- risk: config/risk/<name>.yaml ---- */

static const char *const risk_actions[] = {"alert", "reduce", "block", "flatten_halt", NULL};
static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static const sv_cfg_field_t limits_fields[] = {
    {.key = "max_order_qty", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "max_order_notional", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "max_position_qty", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "max_position_notional", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "max_open_orders", .kind = SV_CFG_K_INT, .flags = SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 256},
    {.key = "price_band_bps", .kind = SV_CFG_K_INT, .flags = SV_CFG_GT, .min = 0},
    {.key = "min_price", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "max_price", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "duplicate_window_ms", .kind = SV_CFG_K_INT, .flags = SV_CFG_GT, .min = 0},
    {0}};

static const sv_cfg_field_t symbol_limits = {.key = "symbols.*", .kind = SV_CFG_K_MAP, .fields = limits_fields};

static const sv_cfg_field_t rate_fields[] = {
    {.key = "per_second", .kind = SV_CFG_K_INT, .flags = SV_CFG_GT, .min = 0},
    {.key = "per_minute", .kind = SV_CFG_K_INT, .flags = SV_CFG_GT, .min = 0},
    {0}};

static const sv_cfg_field_t allowed_symbol = {.key = "allowed_symbols[]", .kind = SV_CFG_K_STRING, .flags = SV_CFG_UNIQUE};

static const sv_cfg_field_t account_fields[] = {
    {.key = "max_gross_exposure", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0},
    {.key = "rate_limit", .kind = SV_CFG_K_MAP, .fields = rate_fields},
    {.key = "self_trade_prevention", .kind = SV_CFG_K_BOOL, .def = "true"},
    {.key = "allowed_symbols", .kind = SV_CFG_K_LIST, .min_len = 1, .item = &allowed_symbol},
    {0}};

static const sv_cfg_field_t trading_day = {.key = "days[]", .kind = SV_CFG_K_ENUM, .values = weekdays, .flags = SV_CFG_UNIQUE};

static const sv_cfg_field_t hours_fields[] = {
    {.key = "start", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "end", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "days", .kind = SV_CFG_K_LIST, .min_len = 1, .item = &trading_day},
    {.key = "no_trade_after_open_min", .kind = SV_CFG_K_INT, .def = "0", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 1440},
    {.key = "no_trade_before_close_min", .kind = SV_CFG_K_INT, .def = "0", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 1440},
    {0}};

static const sv_cfg_field_t loss_fields[] = {
    {.key = "limit", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_REQUIRED | SV_CFG_GT, .min = 0},
    {.key = "action", .kind = SV_CFG_K_ENUM, .values = risk_actions, .flags = SV_CFG_REQUIRED},
    {.key = "factor", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 1},
    {0}};

static const sv_cfg_field_t tier_fields[] = {
    {.key = "at_pct", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_REQUIRED | SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 100},
    {.key = "action", .kind = SV_CFG_K_ENUM, .values = risk_actions, .flags = SV_CFG_REQUIRED},
    {.key = "factor", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 1},
    {0}};

static const sv_cfg_field_t tier = {.key = "drawdown[]", .kind = SV_CFG_K_MAP, .fields = tier_fields};

static const sv_cfg_field_t breaker_fields[] = {
    {.key = "loss_pct", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_REQUIRED | SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 100},
    {.key = "window_min", .kind = SV_CFG_K_INT, .flags = SV_CFG_REQUIRED | SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 10080},
    {.key = "action", .kind = SV_CFG_K_ENUM, .values = risk_actions, .flags = SV_CFG_REQUIRED},
    {.key = "factor", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 1},
    {0}};

static const sv_cfg_field_t count_fields[] = {
    {.key = "count", .kind = SV_CFG_K_INT, .flags = SV_CFG_REQUIRED | SV_CFG_GE | SV_CFG_LE, .min = 1, .max = 1000000},
    {.key = "action", .kind = SV_CFG_K_ENUM, .values = risk_actions, .flags = SV_CFG_REQUIRED},
    {.key = "factor", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 1},
    {0}};

static const sv_cfg_field_t monitor_fields[] = {
    {.key = "interval_ms", .kind = SV_CFG_K_INT, .def = "1000", .flags = SV_CFG_GE, .min = 0},
    {.key = "daily_loss", .kind = SV_CFG_K_MAP, .fields = loss_fields},
    {.key = "weekly_loss", .kind = SV_CFG_K_MAP, .fields = loss_fields},
    {.key = "monthly_loss", .kind = SV_CFG_K_MAP, .fields = loss_fields},
    {.key = "drawdown", .kind = SV_CFG_K_LIST, .min_len = 1, .item = &tier},
    {.key = "circuit_breaker", .kind = SV_CFG_K_MAP, .fields = breaker_fields},
    {.key = "consecutive_losses", .kind = SV_CFG_K_MAP, .fields = count_fields},
    {.key = "trades_per_hour", .kind = SV_CFG_K_MAP, .fields = count_fields},
    {.key = "trades_per_day", .kind = SV_CFG_K_MAP, .fields = count_fields},
    {0}};

static const sv_cfg_field_t kill_fields[] = {
    {.key = "file", .kind = SV_CFG_K_STRING, .def = "var/kill_switch", .flags = SV_CFG_PATH},
    {0}};

static const sv_cfg_field_t rule_param = {.key = "params.*", .kind = SV_CFG_K_SCALAR};

static const sv_cfg_field_t rule_fields[] = {
    {.key = "name", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED | SV_CFG_UNIQUE},
    {.key = "file", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED | SV_CFG_PATH},
    {.key = "params", .kind = SV_CFG_K_DICT, .item = &rule_param},
    {0}};

static const sv_cfg_field_t rule_item = {.key = "rules[]", .kind = SV_CFG_K_MAP, .fields = rule_fields};

static const sv_cfg_field_t risk_fields[] = {
    {.key = "name", .kind = SV_CFG_K_STRING},
    {.key = "timezone", .kind = SV_CFG_K_STRING, .def = "UTC"},
    {.key = "defaults", .kind = SV_CFG_K_MAP, .fields = limits_fields},
    {.key = "symbols", .kind = SV_CFG_K_DICT, .item = &symbol_limits},
    {.key = "account", .kind = SV_CFG_K_MAP, .fields = account_fields, .flags = SV_CFG_FILL},
    {.key = "trading_hours", .kind = SV_CFG_K_MAP, .fields = hours_fields},
    {.key = "monitors", .kind = SV_CFG_K_MAP, .fields = monitor_fields, .flags = SV_CFG_FILL},
    {.key = "kill_switch", .kind = SV_CFG_K_MAP, .fields = kill_fields, .flags = SV_CFG_FILL},
    {.key = "rules", .kind = SV_CFG_K_LIST, .item = &rule_item},
    {0}};

static const sv_cfg_field_t risk_schema = {.key = "risk", .kind = SV_CFG_K_MAP, .fields = risk_fields};

/* ---- strategy: config/strategies/<name>.yaml ---- */

static const sv_cfg_field_t strategy_symbol = {.key = "symbols[]", .kind = SV_CFG_K_STRING, .flags = SV_CFG_UNIQUE};
static const sv_cfg_field_t param = {.key = "params.*", .kind = SV_CFG_K_SCALAR};

/* protective orders for every position the strategy opens (protect.h); the engine also checks
 * that there are at most 4 levels, no more fractions than levels, and fractions adding up to <= 1 */
static const sv_cfg_field_t tp_pct = {.key = "take_profit_pct[]", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT, .min = 0};
static const sv_cfg_field_t tp_fraction = {
    .key = "take_profit_fraction[]", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 1};

static const sv_cfg_field_t protect_fields[] = {
    {.key = "stop_loss_pct", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 100},
    {.key = "trailing_pct", .kind = SV_CFG_K_NUMBER, .flags = SV_CFG_GT | SV_CFG_LT, .min = 0, .max = 100},
    {.key = "take_profit_pct", .kind = SV_CFG_K_LIST, .min_len = 1, .item = &tp_pct},
    {.key = "take_profit_fraction", .kind = SV_CFG_K_LIST, .min_len = 1, .item = &tp_fraction},
    {0}};

static const sv_cfg_field_t strategy_fields[] = {
    {.key = "name", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED},
    {.key = "file", .kind = SV_CFG_K_STRING, .flags = SV_CFG_REQUIRED | SV_CFG_PATH},
    {.key = "symbols", .kind = SV_CFG_K_LIST, .flags = SV_CFG_REQUIRED, .min_len = 1, .item = &strategy_symbol},
    {.key = "enabled", .kind = SV_CFG_K_BOOL, .def = "true"},
    {.key = "params", .kind = SV_CFG_K_DICT, .item = &param},
    /* defaults: SV_STRATEGY_CPU_BUDGET_MS and SV_STRATEGY_MEMORY_LIMIT_MB (strategy.h); 0 = no limit */
    {.key = "cpu_budget_ms", .kind = SV_CFG_K_NUMBER, .def = "5", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 60000},
    {.key = "memory_limit_mb", .kind = SV_CFG_K_NUMBER, .def = "64", .flags = SV_CFG_GE | SV_CFG_LE, .min = 0, .max = 65536},
    {.key = "protect", .kind = SV_CFG_K_MAP, .fields = protect_fields},
    {0}};

static const sv_cfg_field_t strategy_schema = {.key = "strategy", .kind = SV_CFG_K_MAP, .fields = strategy_fields};

const sv_cfg_field_t *sv_cfg_schema(const char *kind)
{
    static const sv_cfg_field_t *const all[] = {
        &environment_schema, &exchange_schema, &risk_schema, &strategy_schema};
    if (!kind)
        return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->key, kind) == 0)
            return all[i];
    return NULL;
}
