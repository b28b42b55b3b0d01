/* test_evbuf: the Redis writer's bounded buffer (engine/evbuf.h): events leave only when
 * acknowledged, in order; a lost connection sends everything in flight again in the original
 * order; out-of-order acknowledgements; and the three overflow policies (block, drop_oldest
 * with its counter, halt). Each event carries its push number in h.seq. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "evbuf.h"

#include <string.h>

#include "error.h"

static sv_event_t ev_n(uint64_t n)
{
    sv_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.h.kind = SV_EV_TRADE;
    ev.h.seq = n;
    ev.u.trade.price = (int64_t)n * 100;
    return ev;
}

static void push_n(sv_evbuf_t *b, uint64_t from, uint64_t to)
{
    for (uint64_t n = from; n <= to; n++) {
        sv_event_t ev = ev_n(n);
        assert_int_equal(sv_evbuf_push(b, &ev), SV_OK);
    }
}

/* the seq of the next event to send (0: none), marking it in flight */
static uint64_t next_seq(sv_evbuf_t *b, uint64_t *pos)
{
    uint64_t p = 0;
    const sv_event_t *ev = sv_evbuf_next(b, &p);
    if (!ev)
        return 0;
    if (pos)
        *pos = p;
    assert_int_equal(ev->u.trade.price, (int64_t)ev->h.seq * 100); /* the copy is intact */
    return ev->h.seq;
}

static void test_fifo_until_acknowledged(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(4, SV_OVERFLOW_BLOCK);
    sv_evbuf_stats_t st;
    push_n(b, 1, 3);
    uint64_t p1 = 0, p2 = 0, p3 = 0;
    assert_int_equal(next_seq(b, &p1), 1);
    assert_int_equal(next_seq(b, &p2), 2);
    assert_int_equal(next_seq(b, &p3), 3);
    assert_int_equal(next_seq(b, NULL), 0);
    assert_int_equal(sv_evbuf_inflight(b), 3);
    assert_int_equal(sv_evbuf_ack(b, p1), 1);
    assert_int_equal(sv_evbuf_ack(b, p1), 0); /* twice: already gone */
    assert_null(sv_evbuf_at(b, p1));
    assert_int_equal(sv_evbuf_at(b, p2)->h.seq, 2);
    assert_int_equal(sv_evbuf_head(b), p2);
    sv_evbuf_stats(b, &st);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.inflight, 2);
    assert_int_equal(st.acked, 1);
    assert_int_equal(st.pushed, 3);
    sv_evbuf_free(b);
}

static void test_out_of_order_acks(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(8, SV_OVERFLOW_BLOCK);
    push_n(b, 1, 4);
    uint64_t p[4] = {0};
    for (int i = 0; i < 4; i++)
        next_seq(b, &p[i]);
    assert_int_equal(sv_evbuf_ack(b, p[2]), 1); /* 3 first: the head stays at 1 */
    assert_int_equal(sv_evbuf_head(b), p[0]);
    assert_int_equal(sv_evbuf_size(b), 4);
    assert_null(sv_evbuf_at(b, p[2]));
    assert_int_equal(sv_evbuf_ack(b, p[1]), 1);
    assert_int_equal(sv_evbuf_head(b), p[0]);
    assert_int_equal(sv_evbuf_ack(b, p[0]), 1); /* now 1, 2 and 3 leave together */
    assert_int_equal(sv_evbuf_head(b), p[3]);
    assert_int_equal(sv_evbuf_size(b), 1);
    assert_int_equal(sv_evbuf_inflight(b), 1);
    sv_evbuf_free(b);
}

static void test_nack_and_rewind_keep_order(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(8, SV_OVERFLOW_BLOCK);
    push_n(b, 1, 6);
    uint64_t p[6] = {0};
    for (int i = 0; i < 4; i++)
        next_seq(b, &p[i]);
    sv_evbuf_ack(b, p[0]);
    /* 3 was redirected: it goes again before 5 */
    assert_int_equal(sv_evbuf_nack(b, p[2]), 1);
    assert_int_equal(sv_evbuf_inflight_at(b, p[2]), 0);
    assert_int_equal(next_seq(b, NULL), 3);
    assert_int_equal(next_seq(b, NULL), 5);
    /* the connection goes: 2, 3, 4, 5 are in flight and go again, in order, then 6 */
    sv_evbuf_rewind(b);
    assert_int_equal(sv_evbuf_inflight(b), 0);
    uint64_t want[] = {2, 3, 4, 5, 6, 0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(next_seq(b, NULL), want[i]);
    /* an acknowledged event is not sent again */
    sv_evbuf_ack(b, p[3]);
    sv_evbuf_rewind(b);
    assert_int_equal(next_seq(b, NULL), 2);
    assert_int_equal(next_seq(b, NULL), 3);
    assert_int_equal(next_seq(b, NULL), 5);
    sv_evbuf_free(b);
}

static void test_block_refuses_until_room(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(3, SV_OVERFLOW_BLOCK);
    sv_evbuf_stats_t st;
    push_n(b, 1, 3);
    sv_event_t ev = ev_n(4);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_E_FULL);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_E_FULL);
    sv_evbuf_stats(b, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.halted, 0);
    uint64_t p = 0;
    next_seq(b, &p);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_E_FULL); /* in flight still holds its slot */
    sv_evbuf_ack(b, p);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_OK);
    assert_int_equal(sv_evbuf_last_slot(b), 0); /* 4th event of a 3-slot ring */
    uint64_t want[] = {2, 3, 4, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(next_seq(b, NULL), want[i]);
    sv_evbuf_free(b);
}

static void test_drop_oldest_counts(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(3, SV_OVERFLOW_DROP_OLDEST);
    sv_evbuf_stats_t st;
    push_n(b, 1, 3);
    uint64_t p1 = 0;
    next_seq(b, &p1); /* 1 is in flight when it is dropped */
    push_n(b, 4, 5);  /* drops 1 and 2 */
    sv_evbuf_stats(b, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.inflight, 0);
    assert_int_equal(st.max_size, 3);
    assert_int_equal(sv_evbuf_ack(b, p1), 0); /* its late reply finds nothing */
    assert_null(sv_evbuf_at(b, p1));
    uint64_t want[] = {3, 4, 5, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(next_seq(b, NULL), want[i]);
    assert_int_equal(sv_evbuf_drop_oldest(b), 1);
    sv_evbuf_stats(b, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.inflight, 2);
    sv_evbuf_free(b);
}

static void test_halt_refuses_forever(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(2, SV_OVERFLOW_HALT);
    sv_evbuf_stats_t st;
    push_n(b, 1, 2);
    sv_event_t ev = ev_n(3);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_E_FULL);
    uint64_t p = 0;
    next_seq(b, &p);
    sv_evbuf_ack(b, p);
    assert_int_equal(sv_evbuf_push(b, &ev), SV_E_STATE); /* room again, but halted */
    sv_evbuf_stats(b, &st);
    assert_int_equal(st.halted, 1);
    assert_int_equal(st.refused, 2);
    assert_int_equal(next_seq(b, NULL), 2); /* what was held is still sent */
    sv_evbuf_free(b);
}

static void test_wraparound(void **state)
{
    (void)state;
    sv_evbuf_t *b = sv_evbuf_new(5, SV_OVERFLOW_BLOCK);
    uint64_t pushed = 0, sent = 0;
    for (int round = 0; round < 1000; round++) {
        while (sv_evbuf_size(b) < 5) {
            sv_event_t ev = ev_n(++pushed);
            assert_int_equal(sv_evbuf_push(b, &ev), SV_OK);
        }
        for (int k = 0; k < 1 + round % 5; k++) {
            uint64_t p = 0;
            uint64_t s = next_seq(b, &p);
            if (!s)
                break;
            assert_int_equal(s, ++sent);
            if ((round + k) % 7 == 0) { /* lost: everything in flight goes again */
                sv_evbuf_rewind(b);
                sent = sv_evbuf_at(b, sv_evbuf_head(b))->h.seq - 1;
                break;
            }
            sv_evbuf_ack(b, p);
        }
    }
    assert_true(pushed > 1000); /* the ring went round hundreds of times */
    assert_null(sv_evbuf_new(0, SV_OVERFLOW_BLOCK));
    assert_null(sv_evbuf_new(4, 7));
    sv_evbuf_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_until_acknowledged),
        cmocka_unit_test(test_out_of_order_acks),
        cmocka_unit_test(test_nack_and_rewind_keep_order),
        cmocka_unit_test(test_block_refuses_until_room),
        cmocka_unit_test(test_drop_oldest_counts),
        cmocka_unit_test(test_halt_refuses_forever),
        cmocka_unit_test(test_wraparound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
