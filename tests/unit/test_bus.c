/* test_bus: fan-out, kind masks, unsubscribe, sequence stamping, run-to-completion queueing
 * of re-entrant publishes, hold/release, the bounded ring and the mirroring backend of
 * engine/bus.h. Every test records the global delivery order and asserts it exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus.h"

#include <string.h>

#include "error.h"

/* One delivery as a subscriber (or the backend, 'X') saw it. The event's tag travels in
 * u.alert.value whatever its kind. */
typedef struct rec {
    char who;
    uint16_t kind;
    uint64_t seq;
    int64_t tag;
    int64_t ts_engine;
} rec_t;

enum { MAX_RECS = 4096 };
static rec_t recs[MAX_RECS];
static int n_recs;
static int depth, max_depth; /* handler nesting: must never exceed 1 */

typedef struct sub sub_t;
typedef void (*action_fn)(sub_t *s, const sv_event_t *ev);

struct sub {
    char who;
    sv_bus_t *bus;
    int id;
    action_fn action; /* runs after the delivery is recorded */
    int other;        /* an id the action uses */
    int64_t arg;
};

static int reset(void **state)
{
    (void)state;
    n_recs = 0;
    depth = max_depth = 0;
    return 0;
}

static void record(char who, const sv_event_t *ev)
{
    assert_true(n_recs < MAX_RECS);
    recs[n_recs++] = (rec_t){who, ev->h.kind, ev->h.seq, ev->u.alert.value, ev->h.ts_engine};
}

static void on_event(void *ud, const sv_event_t *ev)
{
    sub_t *s = ud;
    if (++depth > max_depth)
        max_depth = depth;
    record(s->who, ev);
    if (s->action)
        s->action(s, ev);
    depth--;
}

static sv_event_t mk(uint16_t kind, int64_t tag)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = kind;
    ev.u.alert.value = tag;
    return ev;
}

static int subscribe(sv_bus_t *bus, sub_t *s, char who, uint32_t mask)
{
    s->who = who;
    s->bus = bus;
    s->id = sv_bus_subscribe(bus, mask, on_event, s);
    assert_true(s->id > 0);
    return s->id;
}

static int publish(sv_bus_t *bus, uint16_t kind, int64_t tag)
{
    sv_event_t ev = mk(kind, tag);
    return sv_bus_publish(bus, &ev);
}

/* Compares the recorded deliveries with "who:tag" pairs, e.g. {"A1", "B1"}. */
static void expect_order(const char *const *want, int n)
{
    if (n_recs != n) {
        for (int i = 0; i < n_recs; i++)
            print_message("  got %c tag %lld seq %llu\n", recs[i].who, (long long)recs[i].tag,
                          (unsigned long long)recs[i].seq);
        fail_msg("%d deliveries, want %d", n_recs, n);
    }
    for (int i = 0; i < n; i++) {
        char who = want[i][0];
        long long tag = 0;
        for (const char *p = want[i] + 1; *p; p++)
            tag = tag * 10 + (*p - '0');
        if (recs[i].who != who || recs[i].tag != tag)
            fail_msg("delivery %d: %c%lld, want %s", i, recs[i].who, (long long)recs[i].tag,
                     want[i]);
    }
}
#define EXPECT_ORDER(...)                                                                      \
    do {                                                                                       \
        static const char *const want_[] = {__VA_ARGS__};                                      \
        expect_order(want_, (int)(sizeof want_ / sizeof want_[0]));                            \
    } while (0)

static void test_fanout_in_subscription_order(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    assert_non_null(bus);
    sub_t a = {0}, b = {0}, c = {0};
    int ia = subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    int ib = subscribe(bus, &b, 'B', SV_BUS_MASK(SV_EV_TRADE));
    int ic = subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    assert_true(ia != ib && ib != ic && ia != ic);
    assert_int_equal(publish(bus, SV_EV_TRADE, 1), SV_OK);
    assert_int_equal(publish(bus, SV_EV_QUOTE, 2), SV_OK);
    EXPECT_ORDER("A1", "B1", "C1", "A2", "C2");
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.published, 2);
    assert_int_equal(st.delivered, 5);
    assert_int_equal(st.queue_full, 0);
    assert_int_equal(st.backend_errors, 0);
    assert_int_equal(st.max_queue, 0);
    sv_bus_free(bus);
}

static void test_kind_masks(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t m = {0}, s = {0}, f = {0}, z = {0};
    subscribe(bus, &m, 'M', SV_BUS_MASK_MARKET);
    subscribe(bus, &s, 'S', SV_BUS_MASK(SV_EV_SIGNAL) | SV_BUS_MASK(SV_EV_FILL));
    subscribe(bus, &f, 'F', SV_BUS_MASK(SV_EV_POSITION));
    subscribe(bus, &z, 'Z', 0);
    for (uint16_t k = SV_EV_TRADE; k < SV_EV_KIND_COUNT; k++)
        assert_int_equal(publish(bus, k, k), SV_OK);
    EXPECT_ORDER("M1", "M2", "M3", "M4", "S5", "S7", "F10");
    sv_bus_free(bus);
}

static void test_bad_kind(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    assert_int_equal(publish(bus, SV_EV_NONE, 1), SV_E_INVAL);
    assert_int_equal(publish(bus, SV_EV_KIND_COUNT, 2), SV_E_INVAL);
    assert_int_equal(publish(bus, 31, 3), SV_E_INVAL);
    assert_int_equal(publish(bus, 0xffff, 4), SV_E_INVAL);
    assert_int_equal(n_recs, 0);
    assert_int_equal(sv_bus_next_seq(bus), 1);
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.delivered, 0);
    sv_bus_free(bus);
}

static int64_t fake_now(void *ud)
{
    int64_t *t = ud;
    *t += 1000;
    return *t;
}

static void test_seq_and_ts_engine_stamped(void **state)
{
    (void)state;
    int64_t t = 5000;
    sv_bus_t *bus = sv_bus_new(8, 8, fake_now, &t);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    assert_int_equal(sv_bus_next_seq(bus), 1);
    sv_event_t ev = mk(SV_EV_TRADE, 1);
    ev.h.symbol = 42;
    ev.h.flags = SV_EVF_REPLAY;
    ev.h.ts_exchange = 111;
    ev.h.ts_receive = 222;
    ev.h.ts_engine = 333;
    ev.h.seq = 999;
    assert_int_equal(sv_bus_publish(bus, &ev), SV_OK);
    assert_int_equal(ev.h.seq, 1);
    assert_int_equal(ev.h.ts_engine, 6000);
    assert_int_equal(ev.h.symbol, 42);
    assert_int_equal(ev.h.flags, SV_EVF_REPLAY);
    assert_int_equal(ev.h.ts_exchange, 111);
    assert_int_equal(ev.h.ts_receive, 222);
    assert_int_equal(ev.u.alert.value, 1);
    sv_event_t ev2 = mk(SV_EV_QUOTE, 2);
    assert_int_equal(sv_bus_publish(bus, &ev2), SV_OK);
    assert_int_equal(ev2.h.seq, 2);
    assert_int_equal(ev2.h.ts_engine, 7000);
    assert_int_equal(sv_bus_next_seq(bus), 3);
    /* subscribers see the stamped header */
    assert_int_equal(n_recs, 2);
    assert_int_equal(recs[0].seq, 1);
    assert_int_equal(recs[0].ts_engine, 6000);
    assert_int_equal(recs[1].seq, 2);
    assert_int_equal(recs[1].ts_engine, 7000);
    sv_bus_free(bus);

    /* without a now callback ts_engine is left as published */
    bus = sv_bus_new(8, 8, NULL, NULL);
    sv_event_t ev3 = mk(SV_EV_BAR, 3);
    ev3.h.ts_engine = 777;
    assert_int_equal(sv_bus_publish(bus, &ev3), SV_OK);
    assert_int_equal(ev3.h.seq, 1);
    assert_int_equal(ev3.h.ts_engine, 777);
    sv_bus_free(bus);
}

static void test_subscribe_limits(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 2, NULL, NULL);
    sub_t a = {0}, b = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    assert_int_equal(sv_bus_subscribe(bus, SV_BUS_MASK_ALL, on_event, &a), SV_E_FULL);
    assert_int_equal(sv_bus_subscribe(bus, SV_BUS_MASK_ALL, NULL, &a), SV_E_INVAL);
    sv_bus_free(bus);
}

static void test_unsubscribe(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0}, b = {0}, c = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    publish(bus, SV_EV_TRADE, 1);
    assert_int_equal(sv_bus_unsubscribe(bus, b.id), SV_OK);
    assert_int_equal(sv_bus_unsubscribe(bus, b.id), SV_E_NOTFOUND);
    assert_int_equal(sv_bus_unsubscribe(bus, 12345), SV_E_NOTFOUND);
    publish(bus, SV_EV_TRADE, 2);
    publish(bus, SV_EV_SIGNAL, 3);
    EXPECT_ORDER("A1", "B1", "C1", "A2", "C2", "A3", "C3");
    sv_bus_free(bus);
}

static void unsub_other(sub_t *s, const sv_event_t *ev)
{
    (void)ev;
    if (s->other) {
        assert_int_equal(sv_bus_unsubscribe(s->bus, s->other), SV_OK);
        s->other = 0;
    }
}

/* A subscriber removed during a delivery gets nothing further, and every other subscriber
 * still gets the event, whichever of them does the removing. */
static void test_unsubscribe_during_delivery(void **state)
{
    (void)state;
    /* A removes B, which comes later */
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0}, b = {0}, c = {0}, d = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    subscribe(bus, &d, 'D', SV_BUS_MASK_ALL);
    a.action = unsub_other;
    a.other = b.id;
    publish(bus, SV_EV_TRADE, 1);
    publish(bus, SV_EV_TRADE, 2);
    EXPECT_ORDER("A1", "C1", "D1", "A2", "C2", "D2");
    sv_bus_free(bus);

    /* B removes A, which has already seen the event */
    reset(NULL);
    bus = sv_bus_new(8, 8, NULL, NULL);
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    subscribe(bus, &d, 'D', SV_BUS_MASK_ALL);
    a.action = NULL;
    b.action = unsub_other;
    b.other = a.id;
    publish(bus, SV_EV_TRADE, 1);
    publish(bus, SV_EV_TRADE, 2);
    EXPECT_ORDER("A1", "B1", "C1", "D1", "B2", "C2", "D2");
    sv_bus_free(bus);

    /* A removes itself (a one-shot subscriber) */
    reset(NULL);
    bus = sv_bus_new(8, 8, NULL, NULL);
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    b.action = NULL;
    a.action = unsub_other;
    a.other = a.id;
    publish(bus, SV_EV_TRADE, 1);
    publish(bus, SV_EV_TRADE, 2);
    EXPECT_ORDER("A1", "B1", "C1", "B2", "C2");
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.delivered, 5);
    sv_bus_free(bus);
}

/* A removes B while B has queued events pending: B never sees them. */
static void pub_then_unsub(sub_t *s, const sv_event_t *ev)
{
    if (ev->h.kind == SV_EV_TRADE) {
        assert_int_equal(publish(s->bus, SV_EV_SIGNAL, 10 + ev->u.alert.value), SV_OK);
        unsub_other(s, ev);
    }
}

static void test_unsubscribe_drops_queued_deliveries(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0}, b = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK_ALL);
    a.action = pub_then_unsub;
    a.other = b.id;
    publish(bus, SV_EV_TRADE, 1);
    EXPECT_ORDER("A1", "A11");
    sv_bus_free(bus);
}

/* A publishes two signals and B one while the trade is being delivered; C sees all. */
static void a_publishes_two(sub_t *s, const sv_event_t *ev)
{
    if (ev->h.kind != SV_EV_TRADE)
        return;
    sv_event_t s1 = mk(SV_EV_SIGNAL, 11), s2 = mk(SV_EV_SIGNAL, 12);
    assert_int_equal(sv_bus_publish(s->bus, &s1), SV_OK);
    assert_int_equal(sv_bus_publish(s->bus, &s2), SV_OK);
    /* stamped into our structs: the next numbers after the event being delivered */
    assert_int_equal(s1.h.seq, ev->h.seq + 1);
    assert_int_equal(s2.h.seq, ev->h.seq + 2);
}

static void b_publishes_one(sub_t *s, const sv_event_t *ev)
{
    if (ev->h.kind == SV_EV_TRADE) {
        sv_event_t s3 = mk(SV_EV_SIGNAL, 13);
        assert_int_equal(sv_bus_publish(s->bus, &s3), SV_OK);
        assert_int_equal(s3.h.seq, 4);
    } else if (ev->h.kind == SV_EV_SIGNAL && ev->u.alert.value == 11) {
        /* published from a queued delivery: goes after everything already queued */
        assert_int_equal(publish(s->bus, SV_EV_ORDER, 21), SV_OK);
    }
}

static void test_reentrant_publish_order(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0}, b = {0}, c = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK(SV_EV_TRADE));
    subscribe(bus, &b, 'B', SV_BUS_MASK(SV_EV_TRADE) | SV_BUS_MASK(SV_EV_SIGNAL));
    subscribe(bus, &c, 'C', SV_BUS_MASK_ALL);
    a.action = a_publishes_two;
    b.action = b_publishes_one;
    assert_int_equal(publish(bus, SV_EV_TRADE, 1), SV_OK);
    /* the whole cascade is delivered before the outer publish returns */
    EXPECT_ORDER("A1", "B1", "C1", "B11", "C11", "B12", "C12", "B13", "C13", "C21");
    for (int i = 1; i < n_recs; i++)
        assert_true(recs[i].seq >= recs[i - 1].seq);
    assert_int_equal(recs[0].seq, 1);
    assert_int_equal(recs[3].seq, 2);
    assert_int_equal(recs[5].seq, 3);
    assert_int_equal(recs[7].seq, 4);
    assert_int_equal(recs[9].seq, 5);
    assert_int_equal(max_depth, 1); /* no handler was re-entered */
    assert_int_equal(sv_bus_next_seq(bus), 6);
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.published, 5);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.max_queue, 4); /* S11 (being delivered), S12, S13, O21 */
    sv_bus_free(bus);
}

static void test_hold_release_nesting(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    sv_bus_hold(bus);
    sv_event_t e1 = mk(SV_EV_TRADE, 1);
    assert_int_equal(sv_bus_publish(bus, &e1), SV_OK);
    assert_int_equal(e1.h.seq, 1); /* stamped when queued */
    sv_bus_hold(bus);
    assert_int_equal(publish(bus, SV_EV_QUOTE, 2), SV_OK);
    sv_bus_release(bus);
    assert_int_equal(n_recs, 0); /* the outer scope is still open */
    assert_int_equal(publish(bus, SV_EV_BAR, 3), SV_OK);
    assert_int_equal(n_recs, 0);
    sv_bus_release(bus);
    EXPECT_ORDER("A1", "A2", "A3");
    assert_int_equal(recs[2].seq, 3);
    /* after the scope, publishes are delivered at once; a stray release is harmless */
    sv_bus_release(bus);
    assert_int_equal(publish(bus, SV_EV_TRADE, 4), SV_OK);
    EXPECT_ORDER("A1", "A2", "A3", "A4");
    sv_bus_free(bus);
}

/* Events published by a handler during the release drain go after the held ones. */
static void chain_once(sub_t *s, const sv_event_t *ev)
{
    if (ev->u.alert.value == 1)
        assert_int_equal(publish(s->bus, SV_EV_SIGNAL, 9), SV_OK);
}

static void test_release_drain_with_nested_publish(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    a.action = chain_once;
    sv_bus_hold(bus);
    publish(bus, SV_EV_TRADE, 1);
    publish(bus, SV_EV_TRADE, 2);
    sv_bus_release(bus);
    EXPECT_ORDER("A1", "A2", "A9");
    assert_int_equal(max_depth, 1);
    sv_bus_free(bus);
}

/* A handler tries to publish four events into a ring of two. */
static void publish_four(sub_t *s, const sv_event_t *ev)
{
    if (ev->h.kind != SV_EV_TRADE)
        return;
    int rc[4];
    for (int i = 0; i < 4; i++)
        rc[i] = publish(s->bus, SV_EV_SIGNAL, 11 + i);
    assert_int_equal(rc[0], SV_OK);
    assert_int_equal(rc[1], SV_OK);
    assert_int_equal(rc[2], SV_E_FULL);
    assert_int_equal(rc[3], SV_E_FULL);
}

static void test_ring_full(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(2, 8, NULL, NULL);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    a.action = publish_four;
    assert_int_equal(publish(bus, SV_EV_TRADE, 1), SV_OK);
    EXPECT_ORDER("A1", "A11", "A12");
    assert_int_equal(recs[1].seq, 2);
    assert_int_equal(recs[2].seq, 3);
    assert_int_equal(sv_bus_next_seq(bus), 4); /* refused events take no number */
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.published, 3);
    assert_int_equal(st.queue_full, 2);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.max_queue, 2);
    sv_bus_free(bus);

    /* the same under a hold */
    reset(NULL);
    bus = sv_bus_new(3, 8, NULL, NULL);
    a.action = NULL;
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    sv_bus_hold(bus);
    assert_int_equal(publish(bus, SV_EV_TRADE, 1), SV_OK);
    assert_int_equal(publish(bus, SV_EV_TRADE, 2), SV_OK);
    assert_int_equal(publish(bus, SV_EV_TRADE, 3), SV_OK);
    assert_int_equal(publish(bus, SV_EV_TRADE, 4), SV_E_FULL);
    sv_bus_release(bus);
    EXPECT_ORDER("A1", "A2", "A3");
    sv_bus_stats(bus, &st);
    assert_int_equal(st.queue_full, 1);
    assert_int_equal(st.published, 3);
    /* the ring is empty again */
    assert_int_equal(publish(bus, SV_EV_TRADE, 5), SV_OK);
    EXPECT_ORDER("A1", "A2", "A3", "A5");
    sv_bus_free(bus);
}

/* Capacity 4 and handlers that publish 0..3 events per delivery, so the ring keeps running
 * full across its wrap-around. Every accepted event is delivered exactly once, in the order
 * it was accepted, with its payload intact. */
static int64_t accepted[MAX_RECS];
static int n_accepted, n_refused;
static int64_t next_tag;

static void publish_some(sub_t *s, const sv_event_t *ev)
{
    int k = (int)(ev->u.alert.value % 4);
    for (int i = 0; i < k && next_tag < 400; i++) {
        sv_event_t e = mk(SV_EV_SIGNAL, next_tag);
        e.u.alert.source = (uint32_t)(next_tag * 7);
        e.u.alert.code = (uint32_t)next_tag ^ 0xabcdu;
        int rc = sv_bus_publish(s->bus, &e);
        if (rc == SV_OK) {
            assert_true(n_accepted < MAX_RECS);
            accepted[n_accepted++] = next_tag;
        } else {
            assert_int_equal(rc, SV_E_FULL);
            n_refused++;
        }
        next_tag++;
    }
}

static void check_payload(sub_t *s, const sv_event_t *ev)
{
    if (ev->u.alert.source != (uint32_t)(ev->u.alert.value * 7) ||
        ev->u.alert.code != ((uint32_t)ev->u.alert.value ^ 0xabcdu))
        fail_msg("event %lld: payload overwritten", (long long)ev->u.alert.value);
    publish_some(s, ev);
}

static void test_ring_wraparound_under_pressure(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(4, 8, NULL, NULL);
    sub_t a = {0}, b = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    subscribe(bus, &b, 'B', SV_BUS_MASK(SV_EV_SIGNAL));
    a.action = check_payload;
    b.action = check_payload;
    n_accepted = n_refused = 0;
    next_tag = 100;
    sv_event_t first = mk(SV_EV_TRADE, 3);
    first.u.alert.source = 21;
    first.u.alert.code = 3u ^ 0xabcdu;
    assert_int_equal(sv_bus_publish(bus, &first), SV_OK);
    assert_int_equal(next_tag, 400); /* the cascade ran until the generator stopped */
    assert_true(n_refused > 0);
    assert_true(n_accepted > 50);
    /* the trade went to A only; every accepted signal went to A then B, in order */
    assert_int_equal(n_recs, 1 + 2 * n_accepted);
    assert_int_equal(recs[0].who, 'A');
    assert_int_equal(recs[0].tag, 3);
    for (int i = 0; i < n_accepted; i++) {
        const rec_t *ra = &recs[1 + 2 * i], *rb = &recs[2 + 2 * i];
        if (ra->who != 'A' || rb->who != 'B' || ra->tag != accepted[i] || rb->tag != accepted[i])
            fail_msg("delivery %d: %c%lld %c%lld, want A%lld B%lld", i, ra->who,
                     (long long)ra->tag, rb->who, (long long)rb->tag, (long long)accepted[i],
                     (long long)accepted[i]);
        assert_int_equal(ra->seq, (uint64_t)i + 2);
        assert_int_equal(rb->seq, (uint64_t)i + 2);
    }
    assert_int_equal(max_depth, 1);
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.published, (uint64_t)n_accepted + 1);
    assert_int_equal(st.queue_full, (uint64_t)n_refused);
    assert_int_equal(st.max_queue, 4);
    assert_int_equal(sv_bus_next_seq(bus), (uint64_t)n_accepted + 2);
    sv_bus_free(bus);
}

/* A recording backend. */
typedef struct backend_state {
    int rc;        /* what publish returns */
    int destroyed; /* destroy() calls */
    char who;
} backend_state_t;

static int backend_publish(void *self, const sv_event_t *ev)
{
    backend_state_t *b = self;
    if (++depth > max_depth)
        max_depth = depth;
    record(b->who, ev);
    depth--;
    return b->rc;
}

static void backend_destroy(void *self) { ((backend_state_t *)self)->destroyed++; }

static void test_backend_default_name(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    assert_string_equal(sv_bus_backend_name(bus), "memory");
    sv_bus_free(bus);
}

static void test_backend_sees_events_after_subscribers(void **state)
{
    (void)state;
    backend_state_t bs = {SV_OK, 0, 'X'};
    sv_bus_backend_t be = {"test", backend_publish, backend_destroy, &bs};
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0}, b = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK(SV_EV_TRADE));
    subscribe(bus, &b, 'B', SV_BUS_MASK(SV_EV_TRADE) | SV_BUS_MASK(SV_EV_SIGNAL));
    a.action = a_publishes_two;
    assert_int_equal(sv_bus_attach(bus, &be), SV_OK);
    assert_string_equal(sv_bus_backend_name(bus), "test");

    publish(bus, SV_EV_TRADE, 1);
    EXPECT_ORDER("A1", "B1", "X1", "B11", "X11", "B12", "X12");

    /* an event no subscriber wants is still mirrored */
    reset(NULL);
    publish(bus, SV_EV_POSITION, 5);
    EXPECT_ORDER("X5");

    /* remote events are delivered locally but never mirrored back */
    reset(NULL);
    sv_event_t remote = mk(SV_EV_TRADE, 6);
    remote.h.flags = SV_EVF_REMOTE | SV_EVF_REPLAY;
    assert_int_equal(sv_bus_publish(bus, &remote), SV_OK);
    EXPECT_ORDER("A6", "B6", "B11", "X11", "B12", "X12");
    assert_int_equal(max_depth, 1);
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.backend_errors, 0);

    /* a second backend is refused and left to its owner */
    backend_state_t bs2 = {SV_OK, 0, 'Y'};
    sv_bus_backend_t be2 = {"other", backend_publish, backend_destroy, &bs2};
    assert_int_equal(sv_bus_attach(bus, &be2), SV_E_EXISTS);
    assert_string_equal(sv_bus_backend_name(bus), "test");
    reset(NULL);
    publish(bus, SV_EV_POSITION, 7);
    EXPECT_ORDER("X7");

    /* the bus owns the attached backend and destroys it once */
    sv_bus_free(bus);
    assert_int_equal(bs.destroyed, 1);
    assert_int_equal(bs2.destroyed, 0);
}

static void test_backend_errors_counted(void **state)
{
    (void)state;
    backend_state_t bs = {SV_E_IO, 0, 'X'};
    sv_bus_backend_t be = {"failing", backend_publish, backend_destroy, &bs};
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sub_t a = {0};
    subscribe(bus, &a, 'A', SV_BUS_MASK_ALL);
    assert_int_equal(sv_bus_attach(bus, &be), SV_OK);
    assert_int_equal(publish(bus, SV_EV_TRADE, 1), SV_OK); /* local delivery is unaffected */
    assert_int_equal(publish(bus, SV_EV_QUOTE, 2), SV_OK);
    bs.rc = SV_OK;
    assert_int_equal(publish(bus, SV_EV_QUOTE, 3), SV_OK);
    bs.rc = SV_E_FULL;
    sv_event_t remote = mk(SV_EV_TRADE, 4);
    remote.h.flags = SV_EVF_REMOTE;
    assert_int_equal(sv_bus_publish(bus, &remote), SV_OK); /* not mirrored: no error */
    EXPECT_ORDER("A1", "X1", "A2", "X2", "A3", "X3", "A4");
    sv_bus_stats_t st;
    sv_bus_stats(bus, &st);
    assert_int_equal(st.backend_errors, 2);
    assert_int_equal(st.published, 4);
    assert_int_equal(st.delivered, 4);
    sv_bus_free(bus);
    assert_int_equal(bs.destroyed, 1);
}

static void test_attach_invalid(void **state)
{
    (void)state;
    sv_bus_t *bus = sv_bus_new(8, 8, NULL, NULL);
    sv_bus_backend_t none = {"none", NULL, NULL, NULL};
    assert_int_equal(sv_bus_attach(bus, &none), SV_E_INVAL);
    assert_int_equal(sv_bus_attach(bus, NULL), SV_E_INVAL);
    assert_string_equal(sv_bus_backend_name(bus), "memory");
    /* a backend without destroy() is fine */
    backend_state_t bs = {SV_OK, 0, 'X'};
    sv_bus_backend_t be = {"nodestroy", backend_publish, NULL, &bs};
    assert_int_equal(sv_bus_attach(bus, &be), SV_OK);
    assert_string_equal(sv_bus_backend_name(bus), "nodestroy");
    sv_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fanout_in_subscription_order, reset),
        cmocka_unit_test_setup(test_kind_masks, reset),
        cmocka_unit_test_setup(test_bad_kind, reset),
        cmocka_unit_test_setup(test_seq_and_ts_engine_stamped, reset),
        cmocka_unit_test_setup(test_subscribe_limits, reset),
        cmocka_unit_test_setup(test_unsubscribe, reset),
        cmocka_unit_test_setup(test_unsubscribe_during_delivery, reset),
        cmocka_unit_test_setup(test_unsubscribe_drops_queued_deliveries, reset),
        cmocka_unit_test_setup(test_reentrant_publish_order, reset),
        cmocka_unit_test_setup(test_hold_release_nesting, reset),
        cmocka_unit_test_setup(test_release_drain_with_nested_publish, reset),
        cmocka_unit_test_setup(test_ring_full, reset),
        cmocka_unit_test_setup(test_ring_wraparound_under_pressure, reset),
        cmocka_unit_test_setup(test_backend_default_name, reset),
        cmocka_unit_test_setup(test_backend_sees_events_after_subscribers, reset),
        cmocka_unit_test_setup(test_backend_errors_counted, reset),
        cmocka_unit_test_setup(test_attach_invalid, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
