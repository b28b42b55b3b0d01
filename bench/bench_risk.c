/* bench_risk: the cost of the pre-trade checks.
 *   risk_check_ns      sv_risk_check of an approved signal with 10 C rules enabled
 *                      (max order qty/notional, max position qty/notional, price band,
 *                      min/max price, max open orders, gross exposure, duplicate guard,
 *                      self-trade prevention)
 *   risk_check_lua_ns  the same plus one custom Lua rule (rules.h) reading the order */
#include "bench_common.h"

#include "fixed.h"
#include "intern.h"
#include "log.h"
#include "risk.h"
#include "rules.h"

static int64_t clock_ns;
static void position(void *ud, uint32_t st, uint32_t sym, sv_fixed_t *q, sv_fixed_t *m, sv_fixed_t *n)
{
    (void)ud, (void)st, (void)sym;
    *q = 5 * SV_FIXED_ONE / 100; /* 0.05 long */
    *m = 42000 * SV_FIXED_ONE;
    *n = 0;
}
static int64_t now(void *ud) { (void)ud; return clock_ns; }
static void rule_position(void *ud, uint32_t sym, sv_fixed_t *q, sv_fixed_t *a)
{
    (void)ud, (void)sym;
    *q = 0;
    *a = 0;
}

static sv_risk_t *make(void)
{
    sv_risk_config_t c;
    memset(&c, 0, sizeof c);
    c.defaults.max_order_qty = SV_FIXED_ONE;
    c.defaults.max_order_notional = 100000 * SV_FIXED_ONE;
    c.defaults.max_position_qty = 10 * SV_FIXED_ONE;
    c.defaults.max_position_notional = 500000 * SV_FIXED_ONE;
    c.defaults.price_band_bps = 500;
    c.defaults.min_price = SV_FIXED_ONE;
    c.defaults.max_price = 1000000 * SV_FIXED_ONE;
    c.defaults.max_open_orders = 50;
    c.defaults.duplicate_window_ns = 1; /* on, but every bench order is 1 ms apart */
    c.max_gross_exposure = 1000000 * SV_FIXED_ONE;
    c.self_trade_prevention = 1;
    sv_risk_env_t env = {.position = position, .now = now};
    return sv_risk_new(&c, &env, 16);
}

static void signal(sv_event_t *ev, long i)
{
    memset(ev, 0, sizeof *ev);
    ev->h.kind = SV_EV_SIGNAL;
    ev->h.symbol = 1;
    ev->u.signal.side = SV_SIDE_BUY;
    ev->u.signal.type = SV_ORDER_LIMIT;
    ev->u.signal.qty = SV_FIXED_ONE / 100;
    ev->u.signal.price = (41990 + i % 10) * SV_FIXED_ONE;
    ev->u.signal.strategy = 1;
}

static double run(sv_risk_t *r, long n)
{
    sv_event_t ev, last;
    memset(&last, 0, sizeof last);
    last.h.kind = SV_EV_TRADE;
    last.h.symbol = 1;
    last.u.trade.price = 42000 * SV_FIXED_ONE;
    last.u.trade.qty = SV_FIXED_ONE;
    sv_risk_on_event(r, &last);
    char reason[256];
    int64_t total = 0;
    for (long i = 0; i < n; i++) {
        signal(&ev, i);
        clock_ns += 1000000;
        int64_t t0 = bench_now_ns();
        int rc = sv_risk_check(r, &ev, reason, sizeof reason);
        total += bench_now_ns() - t0;
        if (rc != 0) {
            fprintf(stderr, "bench_risk: unexpected rejection: %s\n", reason);
            exit(1);
        }
    }
    return (double)total / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    /* the timer reads are part of each sample: measure their cost and subtract it */
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        (void)bench_now_ns();
    double clock_cost = (double)(bench_now_ns() - t0) / (double)n;

    sv_risk_t *r = make();
    run(r, 100000);
    double c_ns = run(r, n) - clock_cost;
    bench_report("risk_check_ns", c_ns, "ns/check (10 C rules)");

    char path[] = "/tmp/sv_bench_rule_XXXXXX.lua";
    int fd = mkstemps(path, 4);
    const char *src = "local R = { params = { max_qty = 5 } }\n"
                      "function R.check(ctx, order)\n"
                      "  if order.qty > R.params.max_qty then return false, 'too big' end\n"
                      "  return true\nend\nreturn R\n";
    if (fd < 0 || write(fd, src, strlen(src)) != (ssize_t)strlen(src)) {
        perror(path);
        return 1;
    }
    close(fd);
    sv_intern_t *syms = sv_intern_new(16, 1024);
    sv_intern_add(syms, "BTCUSDT", -1);
    sv_log_t log;
    sv_log_init(&log, stderr, SV_LOG_WARN);
    sv_rules_env_t env = {.position = rule_position, .now = now};
    sv_rules_t *rules = sv_rules_new(&env, syms, &log, 16, 0);
    sv_diag_t d;
    int id = sv_rules_load(rules, "max_qty", path, NULL, 0, &d);
    remove(path);
    if (id < 0) {
        fprintf(stderr, "bench_risk: %s\n", d.msg);
        return 1;
    }
    sv_risk_add_rule(r, "max_qty", sv_rules_check, sv_rules_hook(rules, id));
    run(r, 100000);
    double lua_ns = run(r, n) - clock_cost;
    bench_report("risk_check_lua_ns", lua_ns, "ns/check (10 C rules + 1 Lua rule)");
    sv_rules_free(rules);
    sv_intern_free(syms);
    sv_risk_free(r);
    return 0;
}
