/* gen_data: writes realistic synthetic market data in Binance's public CSV layouts.
 *
 * Prices follow a random walk whose volatility clusters (GARCH(1,1) on one-minute returns),
 * with volume that rises with volatility. Each minute is walked in sub-steps so that a bar's
 * open/high/low/close are consistent, and trades (Poisson arrivals, log-normal sizes) are
 * drawn from the same path. Deterministic: the same seed gives the same bytes.
 *
 *   gen_data --format klines --symbol BTCUSDT --minutes 10080 --out BTCUSDT-1m.csv
 *   gen_data --format trades --symbol ETHUSDT --trades 10000000 --out ETHUSDT-trades.csv */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rng {
    uint64_t s;
} rng_t;

static double uniform(rng_t *r) /* xorshift64*, (0,1) */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return ((double)((r->s * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(rng_t *r)
{
    return sqrt(-2.0 * log(uniform(r))) * cos(6.283185307179586 * uniform(r));
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gen_data [--format klines|trades] [--symbol SYM] [--out FILE]\n"
            "                [--minutes N] [--trades N] [--start-ms MS] [--price P] [--seed S]\n"
            "                [--tick T] [--lot L] [--vol V] [--header]\n"
            "  klines: N one-minute bars (default 10080 = one week)\n"
            "  trades: N trades (default 1000000), about --rate per minute (default 600)\n");
}

int main(int argc, char **argv)
{
    const char *format = "klines", *out = NULL;
    long long minutes = 10080, ntrades = 1000000, start_ms = 1704067200000LL; /* 2024-01-01 */
    double p = 42000.0, tick = 0.01, lot = 0.00001, vol = 0.0008, rate = 600;
    uint64_t seed = 42;
    int header = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--header")) {
            header = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "gen_data: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--symbol")) (void)v; /* the symbol is in the file name, not the rows */
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--minutes")) minutes = atoll(v);
        else if (!strcmp(a, "--trades")) ntrades = atoll(v);
        else if (!strcmp(a, "--start-ms")) start_ms = atoll(v);
        else if (!strcmp(a, "--price")) p = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tick")) tick = atof(v);
        else if (!strcmp(a, "--lot")) lot = atof(v);
        else if (!strcmp(a, "--vol")) vol = atof(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else {
            fprintf(stderr, "gen_data: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    int klines = !strcmp(format, "klines");
    if (!klines && strcmp(format, "trades")) {
        fprintf(stderr, "gen_data: --format must be klines or trades\n");
        return 2;
    }
    if (minutes <= 0 || ntrades <= 0 || p <= 0 || tick <= 0 || lot <= 0 || vol <= 0 || rate <= 0) {
        fprintf(stderr, "gen_data: counts, price, tick, lot, vol and rate must be > 0\n");
        return 2;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        return 1;
    }
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    rng_t r = {seed * 0x9E3779B97F4A7C15ULL + 1};
    /* GARCH(1,1) per minute: long-run sigma = vol */
    const double alpha = 0.08, beta = 0.90, omega = vol * vol * (1 - alpha - beta);
    double s2 = vol * vol, last_r = 0;
    const int steps = 30;
    long long trade_id = 1, t_ms = start_ms, made = 0;
    int pdig = 0, qdig = 0;
    for (double t = tick; t < 1 - 1e-12 && pdig < 8; t *= 10) pdig++;
    for (double t = lot; t < 1 - 1e-12 && qdig < 8; t *= 10) qdig++;
    if (header)
        fprintf(f, klines ? "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                            "taker_buy_volume,taker_buy_quote_volume,ignore\n"
                          : "id,price,qty,quote_qty,time,is_buyer_maker\n");
    for (long long m = 0; klines ? m < minutes : made < ntrades; m++) {
        s2 = omega + alpha * last_r * last_r + beta * s2;
        double sigma = sqrt(s2), open = p, hi = p, lo = p, v = 0, qv = 0, tb = 0, tbq = 0;
        double sub = sigma / sqrt(steps);
        long long count = 0;
        double intensity = rate * (0.5 + sigma / vol) / 1.5; /* busier when volatile */
        for (int k = 0; k < steps; k++) {
            p *= exp(sub * normal(&r) - 0.5 * sub * sub);
            p = fmax(tick, round(p / tick) * tick);
            if (p > hi) hi = p;
            if (p < lo) lo = p;
            /* trades in this sub-step */
            double lam = intensity / steps, u = uniform(&r), acc = exp(-lam), cdf = acc;
            int n = 0;
            while (u > cdf && n < 1000) { n++; acc *= lam / n; cdf += acc; }
            for (int j = 0; j < n && (klines || made < ntrades); j++) {
                double q = fmax(lot, round(exp(normal(&r) * 1.2 - 6.0) / lot) * lot);
                int maker = uniform(&r) < 0.5;
                v += q; qv += q * p; count++;
                if (!maker) { tb += q; tbq += q * p; }
                if (!klines) {
                    long long ts = t_ms + (long long)((k + (j + 0.5) / n) * 60000.0 / steps);
                    fprintf(f, "%lld,%.*f,%.*f,%.8f,%lld,%s\n", trade_id++, pdig, p, qdig, q, q * p, ts,
                            maker ? "true" : "false");
                    made++;
                }
            }
        }
        last_r = log(p / open);
        if (klines)
            fprintf(f, "%lld,%.*f,%.*f,%.*f,%.*f,%.*f,%lld,%.8f,%lld,%.*f,%.8f,0\n", t_ms, pdig, open,
                    pdig, hi, pdig, lo, pdig, p, qdig, v, t_ms + 59999, qv, count, qdig, tb, tbq);
        t_ms += 60000;
    }
    if (f != stdout && fclose(f) != 0) {
        perror(out);
        return 1;
    }
    return 0;
}
