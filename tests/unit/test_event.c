/* test_event: the wire form of events (engine/event.h): every kind round-trips exactly, values
 * are written as documented in docs/events.md (decimals, names, ns timestamps), and every way
 * an entry can be wrong gives an error naming the field. Also the Redis helpers that do not
 * need a server: key slots and stream ids from times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_redis.h"
#include "error.h"
#include "fixed.h"
#include "redis_client.h"
#include "redis_source.h"

static sv_intern_t *syms, *texts;
static sv_event_names_t names;

static int setup(void **state)
{
    (void)state;
    syms = sv_intern_new(64, 4096);
    texts = sv_intern_new(64, 4096);
    names = (sv_event_names_t){syms, texts};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sv_intern_free(syms);
    sv_intern_free(texts);
    return 0;
}

/* the value of field `name` in f, NUL-terminated in a static buffer; NULL if absent */
static const char *field(const sv_event_fields_t *f, const char *name)
{
    static char buf[SV_EVENT_TEXT_BYTES];
    for (uint32_t i = 0; i < f->n; i++) {
        if (!strcmp(f->name[i], name)) {
            memcpy(buf, f->value[i], f->value_len[i]);
            buf[f->value_len[i]] = '\0';
            return buf;
        }
    }
    return NULL;
}

static int decode_fields(const sv_event_fields_t *f, const sv_event_names_t *nm, sv_event_t *ev, char *err)
{
    size_t nl[SV_EVENT_MAX_FIELDS], vl[SV_EVENT_MAX_FIELDS];
    for (uint32_t i = 0; i < f->n; i++) {
        nl[i] = f->name_len[i];
        vl[i] = f->value_len[i];
    }
    return sv_event_decode(f->n, f->name, nl, f->value, vl, nm, ev, err, 256);
}

/* an event of every kind, with values in every corner */
static void make(int kind, int v, sv_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->h.kind = (uint16_t)kind;
    ev->h.seq = UINT64_MAX - (uint64_t)v;
    ev->h.symbol = sv_intern_add(syms, v ? "ETHUSDT" : "BTCUSDT", -1);
    ev->h.ts_exchange = v ? INT64_MIN : 1704067260000000000LL;
    ev->h.ts_receive = v ? -1 : 1704067260000123456LL;
    ev->h.ts_engine = INT64_MAX;
    int64_t big = v ? INT64_MIN : INT64_MAX;
    switch (kind) {
    case SV_EV_TRADE:
        ev->u.trade = (sv_trade_t){.price = 4200050000000LL, .qty = 1, .trade_id = UINT64_MAX, .aggressor = v ? 5 : -1};
        break;
    case SV_EV_QUOTE:
        ev->u.quote = (sv_quote_t){.bid_price = -1, .bid_qty = big, .ask_price = 0, .ask_qty = 123456789};
        break;
    case SV_EV_BAR:
        ev->u.bar = (sv_bar_t){.open = 1, .high = big, .low = v ? INT64_MAX : INT64_MIN, .close = 4200000000000LL,
                               .volume = 100000000, .quote_volume = 5, .start = -7, .interval_s = UINT32_MAX,
                               .trades = 0};
        break;
    case SV_EV_DEPTH:
        ev->u.depth.n_bids = v ? 0 : 2;
        ev->u.depth.n_asks = v ? 5 : 3;
        ev->u.depth.depth_flags = v ? 0xff : SV_DEPTH_SNAPSHOT | SV_DEPTH_LAST;
        for (int i = 0; i < 5; i++)
            ev->u.depth.levels[i] = (sv_level_t){.price = 4200000000000LL + i, .qty = i == 2 ? 0 : v ? big + i : big - i};
        break;
    case SV_EV_SIGNAL:
        ev->u.signal = (sv_signal_t){.signal_id = 9, .qty = 1000000, .price = 0, .stop_price = big, .strategy = 3,
                                     .side = SV_SIDE_SELL, .type = v ? 200 : SV_ORDER_STOP_LIMIT,
                                     .tif = SV_TIF_FOK, .order_flags = v ? 0xfc : 3, .replace_id = 77};
        memcpy(ev->u.signal.tag, v ? "exactly16bytes!!" : "dip", v ? 16 : 3);
        break;
    case SV_EV_ORDER:
        ev->u.order = (sv_order_t){.client_id = 1, .exchange_id = UINT64_MAX, .price = 1, .qty = 2,
                                   .stop_price = 3, .filled_qty = 4, .avg_price = big, .strategy = UINT32_MAX,
                                   .reason = sv_intern_add(texts, "min notional: 5 USDT, got 4.2 — ünïcode", -1),
                                   .signal_id = 8, .side = SV_SIDE_BUY, .type = SV_ORDER_LIMIT, .tif = SV_TIF_IOC,
                                   .order_flags = SV_ORDER_FLAG_POST_ONLY, .status = v ? 99 : SV_OS_PENDING_REPLACE};
        break;
    case SV_EV_FILL:
        ev->u.fill = (sv_fill_t){.client_id = 5, .trade_id = 6, .price = 4200000000001LL, .qty = 1, .fee = -12,
                                 .fee_asset = sv_intern_add(syms, "BNB", -1), .strategy = 2, .side = SV_SIDE_SELL,
                                 .liquidity = SV_LIQ_MAKER};
        break;
    case SV_EV_TIMER:
        ev->h.symbol = 0;
        ev->u.timer = (sv_timer_t){.timer_id = 1ULL << 63, .strategy = 1};
        break;
    case SV_EV_ALERT:
        ev->u.alert = (sv_alert_t){.code = v ? 1000 : SV_ALERT_RISK, .source = 4,
                                   .text = sv_intern_add(texts, "daily loss 5% hit", -1), .value = big};
        break;
    case SV_EV_POSITION:
        ev->u.position = (sv_position_update_t){.qty = -2500000, .avg_price = 4200000000000LL,
                                                .realized_pnl = big, .strategy = 9};
        break;
    }
}

static void test_every_kind_round_trips_exactly(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        for (int k = 1; k < SV_EV_KIND_COUNT; k++) {
            sv_event_t ev, back;
            sv_event_fields_t f;
            char err[256];
            make(k, v, &ev);
            assert_int_equal(sv_event_encode(&ev, &names, &f), SV_OK);
            assert_int_equal(decode_fields(&f, &names, &back, err), SV_OK);
            ev.h.flags = SV_EVF_REMOTE;
            if (memcmp(&ev, &back, sizeof ev) != 0)
                fail_msg("%s (variant %d) did not round-trip", sv_event_kind_name(k), v);
        }
    }
}

static void test_names_travel_not_ids(void **state)
{
    (void)state;
    sv_event_t ev, back;
    sv_event_fields_t f;
    char err[256];
    make(SV_EV_FILL, 0, &ev);
    assert_int_equal(sv_event_encode(&ev, &names, &f), SV_OK);
    assert_string_equal(field(&f, "symbol"), "BTCUSDT");
    assert_string_equal(field(&f, "fee_asset"), "BNB");
    /* a reader with its own tables, where the ids differ */
    sv_intern_t *s2 = sv_intern_new(64, 4096), *t2 = sv_intern_new(64, 4096);
    sv_intern_add(s2, "USDT", -1);
    sv_intern_add(s2, "XRPUSDT", -1);
    sv_event_names_t n2 = {s2, t2};
    assert_int_equal(decode_fields(&f, &n2, &back, err), SV_OK);
    assert_string_equal(sv_intern_name(s2, back.h.symbol), "BTCUSDT");
    assert_string_equal(sv_intern_name(s2, back.u.fill.fee_asset), "BNB");
    assert_int_not_equal(back.h.symbol, ev.h.symbol);
    sv_intern_free(s2);
    sv_intern_free(t2);
}

static void test_field_text(void **state)
{
    (void)state;
    sv_event_t ev;
    sv_event_fields_t f;
    make(SV_EV_ORDER, 0, &ev);
    assert_int_equal(sv_event_encode(&ev, &names, &f), SV_OK);
    const char *want[][2] = {
        {"kind", "order"}, {"seq", "18446744073709551615"}, {"symbol", "BTCUSDT"},
        {"ts_exchange", "1704067260000000000"}, {"ts_receive", "1704067260000123456"},
        {"ts_engine", "9223372036854775807"}, {"client_id", "1"}, {"exchange_id", "18446744073709551615"},
        {"strategy", "4294967295"}, {"signal_id", "8"}, {"status", "pending_replace"}, {"side", "buy"},
        {"type", "limit"}, {"tif", "ioc"}, {"order_flags", "post_only"}, {"price", "0.00000001"},
        {"qty", "0.00000002"}, {"stop_price", "0.00000003"}, {"filled_qty", "0.00000004"},
        {"avg_price", "92233720368.54775807"}, {"reason", "min notional: 5 USDT, got 4.2 — ünïcode"}};
    assert_int_equal(f.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < f.n; i++) {
        assert_string_equal(f.name[i], want[i][0]); /* in the documented order */
        assert_string_equal(field(&f, want[i][0]), want[i][1]);
    }
    make(SV_EV_DEPTH, 0, &ev);
    sv_event_encode(&ev, &names, &f);
    assert_string_equal(field(&f, "bids"), "42000:92233720368.54775807 42000.00000001:92233720368.54775806");
    assert_string_equal(field(&f, "asks"), "42000.00000002:0 42000.00000003:92233720368.54775804 "
                                           "42000.00000004:92233720368.54775803");
    assert_string_equal(field(&f, "depth_flags"), "snapshot,last");
    make(SV_EV_DEPTH, 1, &ev);
    sv_event_encode(&ev, &names, &f);
    assert_string_equal(field(&f, "bids"), "");
    assert_string_equal(field(&f, "depth_flags"), "snapshot,last,252"); /* unnamed bits as a number */
    make(SV_EV_SIGNAL, 1, &ev);
    sv_event_encode(&ev, &names, &f);
    assert_string_equal(field(&f, "type"), "200"); /* an enum value without a name: its number */
    assert_string_equal(field(&f, "tag"), "exactly16bytes!!");
    assert_string_equal(field(&f, "side"), "sell");
    assert_string_equal(field(&f, "stop_price"), "-92233720368.54775808");
    make(SV_EV_TIMER, 0, &ev);
    sv_event_encode(&ev, &names, &f);
    assert_string_equal(field(&f, "symbol"), "");
}

static void test_decimals_match_fixed_format(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sv_event_t ev;
        sv_event_fields_t f;
        make(SV_EV_TRADE, 0, &ev);
        int64_t v = (int64_t)x >> (i % 60); /* every magnitude */
        if (i % 7 == 0)
            v = v / 100000000 * 100000000; /* whole numbers */
        ev.u.trade.price = v;
        sv_event_encode(&ev, &names, &f);
        char want[32];
        sv_fixed_format(v, want, sizeof want);
        assert_string_equal(field(&f, "price"), want);
    }
}

/* decodes the pairs given as "name=value" strings */
static int decode_pairs(const char *const *pairs, size_t n, sv_event_t *ev, char *err)
{
    const char *nm[40], *val[40];
    size_t nl[40], vl[40];
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');
        nm[i] = pairs[i];
        nl[i] = (size_t)(eq - pairs[i]);
        val[i] = eq + 1;
        vl[i] = strlen(eq + 1);
    }
    return sv_event_decode(n, nm, nl, val, vl, &names, ev, err, 256);
}

#define BAR_FIELDS(close)                                                                                     \
    "kind=bar", "seq=1", "symbol=BTCUSDT", "ts_exchange=1", "ts_receive=2", "ts_engine=3", "open=1", "high=2", \
        "low=0.5", close, "volume=1", "quote_volume=0", "start=0", "interval_s=60", "trades=1"

static void test_decode_errors_name_the_field(void **state)
{
    (void)state;
    sv_event_t ev;
    char err[256];
    const char *ok[] = {BAR_FIELDS("close=1.5")};
    assert_int_equal(decode_pairs(ok, 15, &ev, err), SV_OK);
    assert_int_equal(ev.u.bar.close, 150000000);
    assert_int_equal(ev.h.flags, SV_EVF_REMOTE);

    struct { const char *pairs[16]; size_t n; int code; const char *msg; } cases[] = {
        {{"hello=world"}, 1, SV_E_NOTFOUND, "field 'kind': missing (not an event written by Silvertine?)"},
        {{"kind=bogus"}, 1, SV_E_PARSE, "field 'kind': unknown event kind: 'bogus'"},
        {{BAR_FIELDS("close=abc")}, 15, SV_E_PARSE, "field 'close': not an exact decimal with at most 8 decimals: 'abc'"},
        {{BAR_FIELDS("close=1.123456789")}, 15, SV_E_PARSE,
         "field 'close': not an exact decimal with at most 8 decimals: '1.123456789'"},
        {{BAR_FIELDS("close=99999999999999")}, 15, SV_E_PARSE,
         "field 'close': not an exact decimal with at most 8 decimals: '99999999999999'"},
        {{BAR_FIELDS("close=1e3")}, 15, SV_E_PARSE, "field 'close': not an exact decimal with at most 8 decimals: '1e3'"},
        {{BAR_FIELDS("nope=1")}, 15, SV_E_NOTFOUND, "field 'close': missing"},
        {{"kind=bar", "seq=-1"}, 2, SV_E_PARSE, "field 'seq': not a decimal integer: '-1'"},
        {{"kind=bar", "seq=18446744073709551616"}, 2, SV_E_RANGE, "field 'seq': out of range: '18446744073709551616'"},
        {{"kind=bar", "seq=1", "symbol=BTCUSDT", "ts_exchange=9223372036854775808"}, 4, SV_E_RANGE,
         "field 'ts_exchange': out of range: '9223372036854775808'"},
        {{"kind=bar", "seq=1", "symbol=BTCUSDT", "ts_exchange=", "ts_receive=2"}, 5, SV_E_PARSE,
         "field 'ts_exchange': not a decimal integer: ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = decode_pairs(cases[i].pairs, cases[i].n, &ev, err);
        if (rc != cases[i].code || strcmp(err, cases[i].msg))
            fail_msg("case %zu: got %d '%s', expected %d '%s'", i, rc, err, cases[i].code, cases[i].msg);
    }
}

static void test_decode_errors_in_enums_and_lists(void **state)
{
    (void)state;
    sv_event_t ev;
    sv_event_fields_t f;
    char err[256];
    const char *hdr[] = {"seq", "symbol", "ts_exchange", "ts_receive", "ts_engine"};
    struct { int kind; const char *field, *value; int code; const char *msg; } cases[] = {
        {SV_EV_ORDER, "side", "up", SV_E_PARSE, "field 'side': expected one of sell, none, buy: 'up'"},
        {SV_EV_ORDER, "side", "200", SV_E_PARSE, "field 'side': expected one of sell, none, buy: '200'"},
        {SV_EV_ORDER, "status", "done", SV_E_PARSE,
         "field 'status': expected one of new, pending, acknowledged, partially_filled, filled, canceled, rejected, "
         "expired, pending_cancel, pending_replace: 'done'"},
        {SV_EV_ORDER, "order_flags", "post_only,", SV_E_PARSE,
         "field 'order_flags': expected names separated by ',' (or nothing): 'post_only,'"},
        {SV_EV_ORDER, "order_flags", "fast", SV_E_PARSE,
         "field 'order_flags': expected names separated by ',' (or nothing): 'fast'"},
        {SV_EV_SIGNAL, "tag", "seventeen bytes!!", SV_E_RANGE, "field 'tag': longer than 16 bytes: 'seventeen bytes!!'"},
        {SV_EV_DEPTH, "bids", "1:1 2:2 3:3", SV_E_RANGE, "field 'asks': more than 5 depth levels in all: '4:4 5:5 6:6'"},
        {SV_EV_DEPTH, "bids", "1:1 2", SV_E_PARSE, "field 'bids': expected levels 'price:qty' separated by spaces: '1:1 2'"},
        {SV_EV_DEPTH, "bids", "1:1 ", SV_E_PARSE, "field 'bids': expected levels 'price:qty' separated by spaces: '1:1 '"},
        {SV_EV_BAR, "interval_s", "4294967296", SV_E_RANGE, "field 'interval_s': out of range: '4294967296'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make(cases[i].kind, 0, &ev);
        if (cases[i].kind == SV_EV_DEPTH) {
            ev.u.depth.n_bids = 3;
            ev.u.depth.n_asks = 2;
        }
        sv_event_encode(&ev, &names, &f);
        if (cases[i].kind == SV_EV_DEPTH && !strcmp(cases[i].value, "1:1 2:2 3:3"))
            for (uint32_t k = 0; k < f.n; k++)
                if (!strcmp(f.name[k], "asks"))
                    f.value[k] = "4:4 5:5 6:6", f.value_len[k] = 11;
        for (uint32_t k = 0; k < f.n; k++)
            if (!strcmp(f.name[k], cases[i].field))
                f.value[k] = cases[i].value, f.value_len[k] = (uint16_t)strlen(cases[i].value);
        int rc = decode_fields(&f, &names, &ev, err);
        if (rc != cases[i].code || strcmp(err, cases[i].msg))
            fail_msg("case %zu: got %d '%s', expected %d '%s'", i, rc, err, cases[i].code, cases[i].msg);
    }
    (void)hdr;
    /* a NUL inside a name */
    make(SV_EV_TRADE, 0, &ev);
    sv_event_encode(&ev, &names, &f);
    for (uint32_t k = 0; k < f.n; k++)
        if (!strcmp(f.name[k], "symbol"))
            f.value[k] = "BTC\0USDT", f.value_len[k] = 8;
    assert_int_equal(decode_fields(&f, &names, &ev, err), SV_E_PARSE);
    assert_string_equal(err, "field 'symbol': contains a NUL byte");
}

static void test_fields_in_any_order_extra_ignored(void **state)
{
    (void)state;
    sv_event_t ev, back;
    sv_event_fields_t f;
    char err[256];
    make(SV_EV_POSITION, 0, &ev);
    sv_event_encode(&ev, &names, &f);
    assert_int_equal(sv_event_fields_add(&f, "src", "host/1/2", 8), SV_OK);
    assert_int_equal(sv_event_fields_add(&f, "note", "from a newer writer", 19), SV_OK);
    /* reverse the pairs */
    for (uint32_t i = 0, j = f.n - 1; i < j; i++, j--) {
        const char *tn = f.name[i], *tv = f.value[i];
        uint8_t tnl = f.name_len[i];
        uint16_t tvl = f.value_len[i];
        f.name[i] = f.name[j], f.value[i] = f.value[j], f.name_len[i] = f.name_len[j], f.value_len[i] = f.value_len[j];
        f.name[j] = tn, f.value[j] = tv, f.name_len[j] = tnl, f.value_len[j] = tvl;
    }
    assert_int_equal(decode_fields(&f, &names, &back, err), SV_OK);
    ev.h.flags = SV_EVF_REMOTE;
    assert_memory_equal(&ev, &back, sizeof ev);
    while (sv_event_fields_add(&f, "pad", "x", 1) == SV_OK)
        ;
    assert_int_equal(f.n, SV_EVENT_MAX_FIELDS);
}

static void test_kinds_and_streams(void **state)
{
    (void)state;
    const char *want[] = {NULL, "trade", "quote", "bar", "depth", "signal", "order", "fill", "timer", "alert", "position"};
    for (int k = 1; k < SV_EV_KIND_COUNT; k++) {
        assert_string_equal(sv_event_kind_name(k), want[k]);
        assert_int_equal(sv_event_kind_parse(want[k], -1), k);
        assert_string_equal(sv_event_stream_name(k), k <= SV_EV_DEPTH ? "market_data" : want[k]);
        assert_int_equal(sv_event_is_market(k), k <= SV_EV_DEPTH);
        assert_string_equal(sv_redis_stream_name(sv_redis_stream_of(k)), sv_event_stream_name(k));
    }
    assert_null(sv_event_kind_name(0));
    assert_null(sv_event_kind_name(SV_EV_KIND_COUNT));
    assert_int_equal(sv_event_kind_parse("trades", -1), SV_EV_NONE);
    sv_event_t ev;
    sv_event_fields_t f;
    memset(&ev, 0, sizeof ev);
    assert_int_equal(sv_event_encode(&ev, &names, &f), SV_E_INVAL);
    char key[64];
    assert_int_equal(sv_redis_stream_key("silvertine", 0, key, sizeof key), 24);
    assert_string_equal(key, "{silvertine}:market_data");
    assert_int_equal(sv_redis_stream_key("silvertine", 3, key, 8), SV_E_RANGE);
}

static void test_redis_key_slots(void **state)
{
    (void)state;
    /* the values redis-server 7.0's CLUSTER KEYSLOT gives */
    struct { const char *key; uint32_t slot; } cases[] = {
        {"foo", 12182}, {"somekey", 11058}, {"{user1000}.following", 3443}, {"{silvertine}:market_data", 12728},
        {"{silvertine}:fill", 12728}, {"a{}b", 13694}, {"{}x", 10595}, {"{a", 10276}, {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(sv_redis_key_slot(cases[i].key, strlen(cases[i].key)), cases[i].slot);
}

static void test_redis_ids_and_times(void **state)
{
    (void)state;
    char id[48];
    struct { const char *in, *out; } ok[] = {
        {"-", "-"}, {"+", "+"}, {"1704067200000-5", "1704067200000-5"}, {"1704067200000", "1704067200000"},
        {"2024-01-01", "1704067200000"}, {"2024-01-01T00:01", "1704067260000"}, {"2024-01-01T00:01:30Z", "1704067290000"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(sv_redis_parse_id(ok[i].in, id, sizeof id), SV_OK);
        assert_string_equal(id, ok[i].out);
    }
    const char *bad[] = {"", "yesterday", "12-", "-5", "1-2-3", "2024-13-01", "2024-01-01T25:00", "$", "12a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sv_redis_parse_id(bad[i], id, sizeof id) != SV_E_PARSE)
            fail_msg("'%s' was accepted as '%s'", bad[i], id);
    assert_true(sv_redis_transient_error("LOADING Redis is loading the dataset in memory", 46));
    assert_true(sv_redis_transient_error("TRYAGAIN", 8));
    assert_false(sv_redis_transient_error("WRONGTYPE Operation against a key", 33));
    assert_false(sv_redis_transient_error("LOADINGX", 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips_exactly),
        cmocka_unit_test(test_names_travel_not_ids),
        cmocka_unit_test(test_field_text),
        cmocka_unit_test(test_decimals_match_fixed_format),
        cmocka_unit_test(test_decode_errors_name_the_field),
        cmocka_unit_test(test_decode_errors_in_enums_and_lists),
        cmocka_unit_test(test_fields_in_any_order_extra_ignored),
        cmocka_unit_test(test_kinds_and_streams),
        cmocka_unit_test(test_redis_key_slots),
        cmocka_unit_test(test_redis_ids_and_times),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
