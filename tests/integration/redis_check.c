/* redis_check: a helper of the Redis integration tests (tests/integration/redis*.sh).
 *
 *   redis_check roundtrip -p PORT [-h HOST] [--prefix P] [--password X] [--cluster] [--node H:P]
 *                         [-n ROUNDS] [--expect FILE]
 *
 * Publishes ROUNDS events of every kind (values chosen to reach the corners: negative and
 * extreme fixed-point values, 64-bit ids, unknown enum values, full tags, depth levels,
 * texts with spaces and UTF-8) through an engine's bus with the redis backend, waits until
 * Redis has acknowledged all of them, reads every stream back with the project's reader
 * (XRANGE through redis_source.h) and compares each decoded event with the published one,
 * byte for byte. Prints "roundtrip ok: N events, K kinds, exact" or the first difference and
 * exits 1. --expect writes, per published event, one JSON line {"stream": ..., "fields":
 * {...}} with the fields the engine wrote, for a client we did not write to check
 * (tests/integration/redis_read.py). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_redis.h"
#include "engine.h"
#include "event.h"
#include "redis_source.h"

typedef struct check {
    sv_event_t *sent;
    uint32_t n_sent;
    uint8_t *seen;
    uint32_t matched, bad;
    int stream;
} check_t;

static int64_t now_ns(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static sv_fixed_t fx(int64_t units) { return (sv_fixed_t)units; }

static void make(sv_engine_t *e, int kind, uint32_t i, sv_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->h.kind = (uint16_t)kind;
    ev->h.symbol = sv_engine_symbol(e, i % 3 == 0 ? "BTCUSDT" : i % 3 == 1 ? "ETH-USD" : "DOGE_ÜSD");
    ev->h.ts_exchange = 1704067200000000000LL + (int64_t)i * 60000000000LL + kind;
    ev->h.ts_receive = ev->h.ts_exchange + 1234567;
    int64_t big = i % 2 ? INT64_MAX : INT64_MIN;
    sv_intern_t *texts = sv_engine_texts(e);
    switch (kind) {
    case SV_EV_TRADE:
        ev->u.trade.price = fx(4200012345678LL + i);
        ev->u.trade.qty = fx(1 + i);
        ev->u.trade.trade_id = UINT64_MAX - i;
        ev->u.trade.aggressor = (int8_t)(i % 4 == 3 ? 7 : (int)(i % 3) - 1);
        break;
    case SV_EV_QUOTE:
        ev->u.quote.bid_price = fx(-5 - (int64_t)i);
        ev->u.quote.bid_qty = big;
        ev->u.quote.ask_price = fx(100000000);
        ev->u.quote.ask_qty = 0;
        break;
    case SV_EV_BAR:
        ev->u.bar.open = fx(4200000000000LL);
        ev->u.bar.high = fx(4210000000001LL);
        ev->u.bar.low = fx(4190000000000LL - i);
        ev->u.bar.close = fx(4205050505050LL);
        ev->u.bar.volume = fx(123456789);
        ev->u.bar.quote_volume = big;
        ev->u.bar.start = ev->h.ts_exchange - 60000000000LL;
        ev->u.bar.interval_s = 60 + i;
        ev->u.bar.trades = UINT32_MAX - i;
        break;
    case SV_EV_DEPTH: {
        sv_depth_t *d = &ev->u.depth;
        d->n_bids = (uint8_t)(i % 3);
        d->n_asks = (uint8_t)(i % 4 > 3u - d->n_bids ? 3u - d->n_bids : i % 4);
        for (int k = 0; k < d->n_bids + d->n_asks; k++) {
            d->levels[k].price = fx(4200000000000LL + k * 1000000);
            d->levels[k].qty = fx(k == 1 ? 0 : 12345678 * (k + 1));
        }
        d->depth_flags = (uint8_t)(i % 4 == 3 ? 0x83 : i % 4);
        break;
    }
    case SV_EV_SIGNAL:
        ev->u.signal.signal_id = 1000 + i;
        ev->u.signal.qty = fx(1000000);
        ev->u.signal.price = i % 2 ? fx(4200000000000LL) : 0;
        ev->u.signal.stop_price = fx(4100000000000LL);
        ev->u.signal.strategy = 1 + i % 3;
        ev->u.signal.side = (int8_t)(i % 2 ? 1 : -1);
        ev->u.signal.type = (uint8_t)(i % 5); /* 4 has no name */
        ev->u.signal.tif = (uint8_t)(i % 3);
        ev->u.signal.order_flags = (uint8_t)(i % 4);
        ev->u.signal.replace_id = i % 2 ? 77 : 0;
        if (i % 3 == 0)
            memcpy(ev->u.signal.tag, "sixteen-chars-ok", 16);
        else
            snprintf(ev->u.signal.tag, sizeof ev->u.signal.tag, "tag %u", i);
        break;
    case SV_EV_ORDER:
        ev->u.order.client_id = 1 + i;
        ev->u.order.exchange_id = i % 2 ? 0 : 9000000000000000000ULL + i;
        ev->u.order.price = fx(4200000000000LL);
        ev->u.order.qty = fx(1000000);
        ev->u.order.stop_price = 0;
        ev->u.order.filled_qty = fx(500000);
        ev->u.order.avg_price = fx(4200033333333LL);
        ev->u.order.strategy = 2;
        ev->u.order.reason = i % 2 ? sv_intern_add(texts, "insufficient balance: need 42.5 USDT — ünïcode", -1) : 0;
        ev->u.order.signal_id = 1000 + i;
        ev->u.order.side = (int8_t)(i % 2 ? 1 : -1);
        ev->u.order.type = (uint8_t)(i % 4);
        ev->u.order.tif = (uint8_t)(i % 3);
        ev->u.order.order_flags = (uint8_t)(i % 4 == 3 ? 0x42 : i % 4);
        ev->u.order.status = (uint8_t)(i % 11); /* 10 has no name */
        break;
    case SV_EV_FILL:
        ev->u.fill.client_id = 1 + i;
        ev->u.fill.trade_id = 5000 + i;
        ev->u.fill.price = fx(4200012345678LL);
        ev->u.fill.qty = fx(1);
        ev->u.fill.fee = fx(-123); /* a maker rebate */
        ev->u.fill.fee_asset = sv_engine_symbol(e, i % 2 ? "USDT" : "BNB");
        ev->u.fill.strategy = 3;
        ev->u.fill.side = (int8_t)(i % 2 ? 1 : -1);
        ev->u.fill.liquidity = (uint8_t)(i % 3);
        break;
    case SV_EV_TIMER:
        ev->h.symbol = 0;
        ev->u.timer.timer_id = 1ULL << 40 | i;
        ev->u.timer.strategy = 1;
        break;
    case SV_EV_ALERT:
        ev->u.alert.code = i % 8; /* 7 has no name */
        ev->u.alert.source = i;
        ev->u.alert.text = sv_intern_add(texts, i % 2 ? "script sma_cross disabled: x.lua:12: boom" : "data gap", -1);
        ev->u.alert.value = big;
        break;
    case SV_EV_POSITION:
        ev->u.position.qty = fx(-2500000);
        ev->u.position.avg_price = fx(4200000000001LL);
        ev->u.position.realized_pnl = i % 2 ? fx(-99999999999LL) : fx(1);
        ev->u.position.strategy = 1 + i;
        break;
    }
}

static int on_event(void *ud, sv_event_t *ev, const char *id)
{
    check_t *c = ud;
    /* the bus numbers events from 1, and everything published is in sent[] in order */
    uint64_t k = ev->h.seq - 1;
    if (ev->h.seq >= 1 && k < c->n_sent) {
        sv_event_t want = c->sent[k];
        want.h.flags = SV_EVF_REMOTE | SV_EVF_REPLAY;
        if (c->seen[k]++) {
            fprintf(stderr, "redis_check: %s: seq %llu read twice\n", id, (unsigned long long)ev->h.seq);
            c->bad++;
        } else if (memcmp(&want, ev, sizeof want) != 0) {
            const uint8_t *a = (const uint8_t *)&want, *b = (const uint8_t *)ev;
            size_t off = 0;
            while (a[off] == b[off])
                off++;
            fprintf(stderr, "redis_check: %s: %s seq %llu differs from what was published at byte %zu\n", id,
                    sv_event_kind_name(ev->h.kind), (unsigned long long)ev->h.seq, off);
            c->bad++;
        } else {
            c->matched++;
        }
        return 0;
    }
    fprintf(stderr, "redis_check: %s: seq %llu was never published\n", id, (unsigned long long)ev->h.seq);
    c->bad++;
    return 0;
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static int usage(void)
{
    fprintf(stderr, "usage: redis_check roundtrip -p PORT [-h HOST] [--prefix P] [--password X] [--cluster] "
                    "[--node H:P] [-n ROUNDS] [--expect FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "roundtrip"))
        return usage();
    sv_redis_options_t ro;
    sv_redis_options_default(&ro);
    ro.prefix = "rt";
    ro.drain_ms = 10000;
    uint32_t rounds = 12;
    const char *expect = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cluster")) {
            ro.cluster = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "-p"))
            ro.port = atoi(v);
        else if (!strcmp(a, "-h"))
            ro.host = v;
        else if (!strcmp(a, "--prefix"))
            ro.prefix = v;
        else if (!strcmp(a, "--password"))
            ro.password = v;
        else if (!strcmp(a, "--node") && ro.n_nodes < SV_REDIS_MAX_NODES - 1)
            ro.nodes[ro.n_nodes++] = v;
        else if (!strcmp(a, "-n"))
            rounds = (uint32_t)atoi(v);
        else if (!strcmp(a, "--expect"))
            expect = v;
        else
            return usage();
    }
    sv_engine_options_t eo = {.simulated = 0, .log_out = stderr, .log_level = SV_LOG_WARN};
    sv_diag_t d;
    sv_diag_clear(&d);
    /* a bus of its own: the engine's would hand the signals to its OMS and the fills to its
     * portfolio, which would publish more */
    sv_engine_t *e = sv_engine_new(&eo, &d);
    sv_bus_t *bus = e ? sv_bus_new(1024, 4, now_ns, NULL) : NULL;
    sv_event_names_t names = {e ? sv_engine_symbols(e) : NULL, e ? sv_engine_texts(e) : NULL};
    sv_bus_redis_t *w = NULL;
    if (!bus || sv_bus_redis_new(&ro, sv_engine_loop(e), sv_engine_log(e), &names, &w, &d) != 0) {
        fprintf(stderr, "redis_check: %s\n", d.msg);
        sv_bus_free(bus);
        sv_engine_free(e);
        return 1;
    }
    sv_bus_backend_t be = sv_bus_redis_backend(w);
    sv_bus_attach(bus, &be);
    uint32_t n = rounds * (SV_EV_KIND_COUNT - 1);
    check_t c = {.sent = calloc(n, sizeof(sv_event_t)), .seen = calloc(n, 1)};
    FILE *ex = expect ? fopen(expect, "w") : NULL;
    for (uint32_t i = 0; i < rounds; i++) {
        for (int k = 1; k < SV_EV_KIND_COUNT; k++) {
            sv_event_t ev;
            make(e, k, i, &ev);
            if (sv_bus_publish(bus, &ev) != 0) {
                fprintf(stderr, "redis_check: publish failed\n");
                return 1;
            }
            c.sent[c.n_sent++] = ev;
            if (ex) {
                sv_event_fields_t f;
                sv_event_encode(&ev, &names, &f);
                fprintf(ex, "{\"stream\": \"%s\", \"fields\": {", sv_event_stream_name(k));
                for (uint32_t j = 0; j < f.n; j++) {
                    fprintf(ex, "%s\"%s\": ", j ? ", " : "", f.name[j]);
                    json_str(ex, f.value[j], f.value_len[j]);
                }
                fprintf(ex, "}}\n");
            }
        }
    }
    if (ex)
        fclose(ex);
    if (sv_bus_redis_drain(w, 20000) != 0) {
        fprintf(stderr, "redis_check: events still buffered after 20 s\n");
        return 1;
    }
    sv_bus_redis_stats_t ws;
    sv_bus_redis_stats(w, &ws);
    for (int s = 0; s < SV_REDIS_STREAMS; s++) {
        sv_redis_source_options_t so = {.mode = SV_REDIS_READ_RANGE, .stream = s, .on_event = on_event, .ud = &c};
        sv_redis_source_t *src;
        if (sv_redis_source_open(e, &ro, &so, &src, &d) != 0 || sv_redis_source_run(src, &d) != 0) {
            fprintf(stderr, "redis_check: %s\n", d.msg);
            return 1;
        }
        sv_redis_source_stats_t st;
        sv_redis_source_stats(src, &st);
        if (st.skipped) {
            fprintf(stderr, "redis_check: %llu entries skipped in stream %s\n", (unsigned long long)st.skipped,
                    sv_redis_stream_name(s));
            c.bad++;
        }
        sv_redis_source_close(src);
    }
    uint32_t missing = 0;
    for (uint32_t k = 0; k < c.n_sent; k++)
        missing += !c.seen[k];
    int ok = !c.bad && !missing && c.matched == n && ws.written == n;
    if (ok)
        printf("roundtrip ok: %u events, %d kinds, exact (written %llu, moved %llu)\n", n, SV_EV_KIND_COUNT - 1,
               (unsigned long long)ws.written, (unsigned long long)ws.moved);
    else
        printf("roundtrip FAILED: %u published, %llu written, %u read back exactly, %u missing, %u bad\n", n,
               (unsigned long long)ws.written, c.matched, missing, c.bad);
    free(c.sent);
    free(c.seen);
    sv_bus_free(bus);
    sv_engine_free(e);
    return ok ? 0 : 1;
}
