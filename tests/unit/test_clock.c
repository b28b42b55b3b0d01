/* test_clock: simulated and real time, and the deterministic timer heap of engine/clock.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clock.h"

#include <time.h>

#include "error.h"

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pops one timer due at or before now and checks it. */
static void pop_is(sv_clock_t *c, int64_t now, int64_t id, int64_t due, int64_t period,
                   uint64_t cookie)
{
    sv_clock_timer_t t = {-1, -1, -1, 0xdead};
    if (sv_clock_timer_pop_due(c, now, &t) != 1)
        fail_msg("pop_due(%lld): nothing, want timer %lld due %lld", (long long)now,
                 (long long)id, (long long)due);
    if (t.id != id || t.due != due || t.period != period || t.cookie != cookie)
        fail_msg("pop_due(%lld) = {id %lld due %lld period %lld cookie %llu}, want {%lld %lld "
                 "%lld %llu}",
                 (long long)now, (long long)t.id, (long long)t.due, (long long)t.period,
                 (unsigned long long)t.cookie, (long long)id, (long long)due, (long long)period,
                 (unsigned long long)cookie);
}

static void pop_none(sv_clock_t *c, int64_t now)
{
    sv_clock_timer_t t = {-1, -1, -1, 0xdead};
    if (sv_clock_timer_pop_due(c, now, &t) != 0)
        fail_msg("pop_due(%lld) returned timer %lld due %lld, want none", (long long)now,
                 (long long)t.id, (long long)t.due);
}

static void test_simulated_clock(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 4);
    assert_non_null(c);
    assert_int_equal(sv_clock_is_simulated(c), 1);
    assert_int_equal(sv_clock_now(c), 0);
    sv_clock_set(c, 100);
    assert_int_equal(sv_clock_now(c), 100);
    sv_clock_set(c, 50); /* never backwards */
    assert_int_equal(sv_clock_now(c), 100);
    sv_clock_set(c, -1);
    assert_int_equal(sv_clock_now(c), 100);
    sv_clock_set(c, 100);
    assert_int_equal(sv_clock_now(c), 100);
    sv_clock_set(c, 101);
    assert_int_equal(sv_clock_now(c), 101);
    sv_clock_set(c, 1767225600000000000LL); /* 2026-01-01T00:00:00Z */
    assert_int_equal(sv_clock_now(c), 1767225600000000000LL);
    sv_clock_set(c, 1767225599999999999LL);
    assert_int_equal(sv_clock_now(c), 1767225600000000000LL);
    sv_clock_free(c);
}

/* The real clock reads CLOCK_REALTIME: within a generous 5 s of our own reading. */
static void test_real_clock(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(0, 4);
    assert_non_null(c);
    assert_int_equal(sv_clock_is_simulated(c), 0);
    const int64_t bound = 5000000000LL;
    int64_t ref = realtime_ns();
    int64_t now = sv_clock_now(c);
    assert_true(now > ref - bound && now < ref + bound);
    sv_clock_set(c, 0); /* ignored */
    now = sv_clock_now(c);
    ref = realtime_ns();
    assert_true(now > ref - bound && now < ref + bound);
    sv_clock_set(c, INT64_MAX); /* ignored */
    now = sv_clock_now(c);
    ref = realtime_ns();
    assert_true(now > ref - bound && now < ref + bound);
    sv_clock_free(c);
}

static void test_timers_pop_in_due_order(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 8);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX);
    pop_none(c, INT64_MAX);
    assert_int_equal(sv_clock_timer_add(c, 30, 0, 11), 1);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 12), 2);
    assert_int_equal(sv_clock_timer_add(c, 20, 0, 13), 3);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 14), 4); /* ties with 2, created later */
    assert_int_equal(sv_clock_timer_add(c, -5, 0, 15), 5); /* already past */
    assert_int_equal(sv_clock_timer_next(c), -5);
    pop_is(c, 0, 5, -5, 0, 15);
    pop_none(c, 9);
    assert_int_equal(sv_clock_timer_next(c), 10);
    pop_is(c, 10, 2, 10, 0, 12); /* due exactly now */
    pop_is(c, 10, 4, 10, 0, 14);
    pop_none(c, 10);
    pop_is(c, 100, 3, 20, 0, 13);
    pop_is(c, 100, 1, 30, 0, 11);
    pop_none(c, 100);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX);
    sv_clock_free(c);
}

/* 100 timers at the same due time fire in creation order. */
static void test_ties_in_creation_order(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sv_clock_timer_add(c, 5, 0, (uint64_t)i), i + 1);
    for (int i = 0; i < 100; i++)
        pop_is(c, 5, i + 1, 5, 0, (uint64_t)i);
    pop_none(c, INT64_MAX);
    sv_clock_free(c);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Many timers with colliding due times, some cancelled: what remains pops sorted by
 * (due, creation) and nothing else pops. */
static void test_heap_order_with_cancels(void **state)
{
    (void)state;
    enum { N = 500 };
    sv_clock_t *c = sv_clock_new(1, N);
    int64_t due[N + 1];
    int cancelled[N + 1] = {0};
    uint64_t seed = 7;
    for (int i = 1; i <= N; i++) {
        due[i] = (int64_t)(lcg(&seed) % 20);
        assert_int_equal(sv_clock_timer_add(c, due[i], 0, (uint64_t)i), i);
    }
    for (int i = 3; i <= N; i += 3) {
        assert_int_equal(sv_clock_timer_cancel(c, i), SV_OK);
        cancelled[i] = 1;
    }
    int popped = 0;
    int64_t last_due = INT64_MIN, last_id = 0;
    sv_clock_timer_t t;
    while (sv_clock_timer_pop_due(c, 19, &t) == 1) {
        assert_in_range(t.id, 1, N);
        assert_false(cancelled[t.id]);
        assert_int_equal(t.due, due[t.id]);
        assert_int_equal(t.cookie, (uint64_t)t.id);
        if (t.due < last_due || (t.due == last_due && t.id <= last_id))
            fail_msg("timer %lld (due %lld) after %lld (due %lld)", (long long)t.id,
                     (long long)t.due, (long long)last_id, (long long)last_due);
        last_due = t.due;
        last_id = t.id;
        popped++;
    }
    assert_int_equal(popped, N - N / 3);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX);
    sv_clock_free(c);
}

static void test_periodic_rearm(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 4);
    int64_t id = sv_clock_timer_add(c, 10, 10, 99);
    assert_int_equal(id, 1);
    pop_is(c, 35, 1, 10, 10, 99);
    pop_is(c, 35, 1, 20, 10, 99);
    pop_is(c, 35, 1, 30, 10, 99);
    pop_none(c, 35);
    assert_int_equal(sv_clock_timer_next(c), 40);
    pop_is(c, 40, 1, 40, 10, 99);
    assert_int_equal(sv_clock_timer_next(c), 50);
    /* a cancelled periodic timer stops */
    assert_int_equal(sv_clock_timer_cancel(c, 1), SV_OK);
    pop_none(c, 1000);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX);
    sv_clock_free(c);
}

static void test_periodic_interleaves_with_one_shots(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 4);
    assert_int_equal(sv_clock_timer_add(c, 10, 10, 1), 1);
    assert_int_equal(sv_clock_timer_add(c, 25, 0, 2), 2);
    assert_int_equal(sv_clock_timer_add(c, 10, 5, 3), 3);
    pop_is(c, 35, 1, 10, 10, 1);
    pop_is(c, 35, 3, 10, 5, 3);
    pop_is(c, 35, 3, 15, 5, 3);
    pop_is(c, 35, 1, 20, 10, 1);
    pop_is(c, 35, 3, 20, 5, 3);
    pop_is(c, 35, 2, 25, 0, 2);
    pop_is(c, 35, 3, 25, 5, 3);
    pop_is(c, 35, 1, 30, 10, 1);
    pop_is(c, 35, 3, 30, 5, 3);
    pop_is(c, 35, 3, 35, 5, 3);
    pop_none(c, 35);
    assert_int_equal(sv_clock_timer_next(c), 40);
    sv_clock_free(c);
}

/* A re-armed periodic timer queues behind timers already waiting for the same time, as if
 * it were added at the moment it re-arms (libuv orders timers the same way). */
static void test_rearm_ties_behind_waiting_timers(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 4);
    assert_int_equal(sv_clock_timer_add(c, 10, 10, 1), 1);
    assert_int_equal(sv_clock_timer_add(c, 20, 0, 2), 2);
    pop_is(c, 10, 1, 10, 10, 1); /* re-armed for 20, after timer 2 */
    assert_int_equal(sv_clock_timer_add(c, 20, 0, 3), 3);
    pop_is(c, 20, 2, 20, 0, 2);
    pop_is(c, 20, 1, 20, 10, 1);
    pop_is(c, 20, 3, 20, 0, 3);
    pop_none(c, 29);
    sv_clock_free(c);
}

static void test_cancel(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 4);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 0), 1);
    assert_int_equal(sv_clock_timer_add(c, 20, 0, 0), 2);
    assert_int_equal(sv_clock_timer_add(c, 30, 0, 0), 3);
    assert_int_equal(sv_clock_timer_cancel(c, 2), SV_OK);
    assert_int_equal(sv_clock_timer_cancel(c, 2), SV_E_NOTFOUND);
    assert_int_equal(sv_clock_timer_cancel(c, 999), SV_E_NOTFOUND);
    assert_int_equal(sv_clock_timer_cancel(c, 0), SV_E_NOTFOUND);
    assert_int_equal(sv_clock_timer_cancel(c, 1), SV_OK); /* the earliest */
    assert_int_equal(sv_clock_timer_next(c), 30);
    pop_is(c, 100, 3, 30, 0, 0);
    pop_none(c, 100);
    /* a fired one-shot is gone */
    assert_int_equal(sv_clock_timer_cancel(c, 3), SV_E_NOTFOUND);
    sv_clock_free(c);
}

static void test_cancel_cookie(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 8);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 7), 1);
    assert_int_equal(sv_clock_timer_add(c, 20, 0, 8), 2);
    assert_int_equal(sv_clock_timer_add(c, 5, 3, 7), 3);
    assert_int_equal(sv_clock_timer_add(c, 40, 0, 7), 4);
    assert_int_equal(sv_clock_timer_add(c, 30, 0, 9), 5);
    assert_int_equal(sv_clock_timer_add(c, 15, 0, 7), 6);
    assert_int_equal(sv_clock_timer_cancel_cookie(c, 7), 4);
    assert_int_equal(sv_clock_timer_cancel_cookie(c, 7), 0);
    assert_int_equal(sv_clock_timer_cancel_cookie(c, 42), 0);
    assert_int_equal(sv_clock_timer_next(c), 20);
    pop_is(c, 100, 2, 20, 0, 8);
    pop_is(c, 100, 5, 30, 0, 9);
    pop_none(c, 100);
    sv_clock_free(c);
}

static void test_capacity_and_invalid(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 3);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 0), 1);
    assert_int_equal(sv_clock_timer_add(c, 20, 5, 0), 2);
    assert_int_equal(sv_clock_timer_add(c, 30, 0, 0), 3);
    assert_int_equal(sv_clock_timer_add(c, 40, 0, 0), SV_E_FULL);
    assert_int_equal(sv_clock_timer_add(c, 5, -1, 0), SV_E_INVAL);
    /* a fired periodic timer keeps its slot; a fired one-shot frees one */
    pop_is(c, 20, 1, 10, 0, 0);
    pop_is(c, 20, 2, 20, 5, 0);
    int64_t id = sv_clock_timer_add(c, 40, 0, 0);
    assert_true(id > 3);
    assert_int_equal(sv_clock_timer_add(c, 50, 0, 0), SV_E_FULL);
    assert_int_equal(sv_clock_timer_next(c), 25);
    sv_clock_free(c);

    c = sv_clock_new(1, 0);
    assert_non_null(c);
    assert_int_equal(sv_clock_timer_add(c, 10, 0, 0), SV_E_FULL);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX);
    sv_clock_free(c);

    c = sv_clock_new(1, 2);
    assert_int_equal(sv_clock_timer_add(c, 10, -1, 0), SV_E_INVAL);
    assert_int_equal(sv_clock_timer_add(c, 10, INT64_MIN, 0), SV_E_INVAL);
    assert_int_equal(sv_clock_timer_next(c), INT64_MAX); /* nothing was added */
    pop_none(c, INT64_MAX);
    sv_clock_free(c);
}

/* Timers work the same on a real clock: the caller passes now. */
static void test_timers_on_real_clock(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(0, 2);
    int64_t now = sv_clock_now(c);
    assert_int_equal(sv_clock_timer_add(c, now + 1000000000, 0, 1), 1);
    pop_none(c, now);
    pop_is(c, now + 1000000000, 1, now + 1000000000, 0, 1);
    sv_clock_free(c);
}

/* A timer can only be cancelled by the owner named by its cookie. */
static void test_cancel_owned(void **state)
{
    (void)state;
    sv_clock_t *c = sv_clock_new(1, 8);
    int64_t a = sv_clock_timer_add(c, 10, 0, 1), b = sv_clock_timer_add(c, 20, 0, 2);
    assert_int_equal(sv_clock_timer_cancel_owned(c, a, 2), SV_E_NOTFOUND);
    assert_int_equal(sv_clock_timer_cancel_owned(c, 999, 1), SV_E_NOTFOUND);
    assert_int_equal(sv_clock_timer_cancel_owned(c, a, 1), SV_OK);
    sv_clock_timer_t t;
    assert_int_equal(sv_clock_timer_pop_due(c, 100, &t), 1);
    assert_int_equal(t.id, b);
    assert_int_equal(sv_clock_timer_pop_due(c, 100, &t), 0);
    sv_clock_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_owned),
        cmocka_unit_test(test_simulated_clock),
        cmocka_unit_test(test_real_clock),
        cmocka_unit_test(test_timers_pop_in_due_order),
        cmocka_unit_test(test_ties_in_creation_order),
        cmocka_unit_test(test_heap_order_with_cancels),
        cmocka_unit_test(test_periodic_rearm),
        cmocka_unit_test(test_periodic_interleaves_with_one_shots),
        cmocka_unit_test(test_rearm_ties_behind_waiting_timers),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_cookie),
        cmocka_unit_test(test_capacity_and_invalid),
        cmocka_unit_test(test_timers_on_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
