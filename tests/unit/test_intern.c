/* test_intern: the bounded string table of engine/intern.h: dense ids from 1, lookups,
 * length-limited keys, both capacity limits and a large table with hash collisions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "intern.h"

#include <stdio.h>
#include <string.h>

static void test_ids_dense_and_stable(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 256);
    assert_non_null(t);
    assert_int_equal(sv_intern_count(t), 0);
    assert_int_equal(sv_intern_add(t, "BTCUSDT", -1), 1);
    assert_int_equal(sv_intern_add(t, "ETHUSDT", -1), 2);
    assert_int_equal(sv_intern_add(t, "BTCUSDT", -1), 1);
    assert_int_equal(sv_intern_add(t, "BTC", -1), 3); /* a prefix is another string */
    assert_int_equal(sv_intern_add(t, "btcusdt", -1), 4);
    assert_int_equal(sv_intern_add(t, "ETHUSDT", -1), 2);
    assert_int_equal(sv_intern_count(t), 4);
    assert_string_equal(sv_intern_name(t, 1), "BTCUSDT");
    assert_string_equal(sv_intern_name(t, 2), "ETHUSDT");
    assert_string_equal(sv_intern_name(t, 3), "BTC");
    assert_string_equal(sv_intern_name(t, 4), "btcusdt");
    sv_intern_free(t);
}

static void test_find_does_not_add(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 256);
    assert_int_equal(sv_intern_find(t, "SOLUSDT", -1), 0);
    assert_int_equal(sv_intern_count(t), 0);
    assert_int_equal(sv_intern_add(t, "SOLUSDT", -1), 1);
    assert_int_equal(sv_intern_find(t, "SOLUSDT", -1), 1);
    assert_int_equal(sv_intern_find(t, "SOL", -1), 0);
    assert_int_equal(sv_intern_find(t, "SOLUSDTX", -1), 0);
    assert_int_equal(sv_intern_count(t), 1);
    /* the next add still gets the next dense id */
    assert_int_equal(sv_intern_add(t, "SOL", -1), 2);
    sv_intern_free(t);
}

static void test_len_limited(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 256);
    assert_int_equal(sv_intern_add(t, "BTCUSDT:binance", 7), 1);
    assert_string_equal(sv_intern_name(t, 1), "BTCUSDT");
    assert_int_equal(sv_intern_find(t, "BTCUSDT", -1), 1);
    assert_int_equal(sv_intern_find(t, "BTCUSDTETH", 7), 1);
    assert_int_equal(sv_intern_add(t, "BTCUSDT", -1), 1);
    assert_int_equal(sv_intern_add(t, "ABC", 2), 2);
    assert_string_equal(sv_intern_name(t, 2), "AB");
    assert_int_equal(sv_intern_find(t, "AB", -1), 2);
    assert_int_equal(sv_intern_find(t, "ABC", -1), 0);
    assert_int_equal(sv_intern_find(t, "A", -1), 0);
    /* a key that is not NUL-terminated */
    const char raw[3] = {'X', 'Y', 'Z'};
    assert_int_equal(sv_intern_add(t, raw, 3), 3);
    assert_string_equal(sv_intern_name(t, 3), "XYZ");
    assert_int_equal(sv_intern_find(t, raw, 3), 3);
    assert_int_equal(sv_intern_find(t, raw, 2), 0);
    assert_int_equal(sv_intern_count(t), 3);
    sv_intern_free(t);
}

static void test_empty_string(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 256);
    assert_int_equal(sv_intern_add(t, "", -1), 0);
    assert_int_equal(sv_intern_add(t, "abc", 0), 0);
    assert_int_equal(sv_intern_find(t, "", -1), 0);
    assert_int_equal(sv_intern_count(t), 0);
    assert_int_equal(sv_intern_add(t, "abc", -1), 1);
    assert_int_equal(sv_intern_find(t, "abc", 0), 0);
    sv_intern_free(t);
}

static void test_name_of_zero_and_unknown(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 256);
    assert_string_equal(sv_intern_name(t, 0), "");
    assert_string_equal(sv_intern_name(t, 1), "");
    assert_int_equal(sv_intern_add(t, "x1", -1), 1);
    assert_string_equal(sv_intern_name(t, 0), "");
    assert_string_equal(sv_intern_name(t, 2), "");
    assert_string_equal(sv_intern_name(t, 9), ""); /* beyond max_entries */
    assert_string_equal(sv_intern_name(t, UINT32_MAX), "");
    sv_intern_free(t);
}

static void test_entry_capacity(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(3, 1000);
    assert_int_equal(sv_intern_add(t, "a", -1), 1);
    assert_int_equal(sv_intern_add(t, "b", -1), 2);
    assert_int_equal(sv_intern_add(t, "c", -1), 3);
    assert_int_equal(sv_intern_add(t, "d", -1), 0);
    assert_int_equal(sv_intern_count(t), 3);
    assert_int_equal(sv_intern_find(t, "d", -1), 0);
    assert_string_equal(sv_intern_name(t, 4), "");
    /* a full table still answers for what it holds */
    assert_int_equal(sv_intern_add(t, "a", -1), 1);
    assert_int_equal(sv_intern_add(t, "c", -1), 3);
    assert_string_equal(sv_intern_name(t, 3), "c");
    sv_intern_free(t);

    sv_intern_t *none = sv_intern_new(0, 1000);
    assert_non_null(none);
    assert_int_equal(sv_intern_add(none, "a", -1), 0);
    assert_int_equal(sv_intern_find(none, "a", -1), 0);
    assert_int_equal(sv_intern_count(none), 0);
    sv_intern_free(none);
}

/* text_bytes counts each string with its terminating NUL. */
static void test_text_capacity(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(100, 10);
    assert_int_equal(sv_intern_add(t, "abcd", -1), 1); /* 5 bytes */
    assert_int_equal(sv_intern_add(t, "efgh", -1), 2); /* 10 bytes: exactly full */
    assert_int_equal(sv_intern_add(t, "i", -1), 0);
    assert_int_equal(sv_intern_count(t), 2);
    assert_int_equal(sv_intern_add(t, "abcd", -1), 1);
    assert_string_equal(sv_intern_name(t, 1), "abcd");
    assert_string_equal(sv_intern_name(t, 2), "efgh");
    sv_intern_free(t);

    /* a refused long string leaves room for a shorter one, and ids stay dense */
    t = sv_intern_new(100, 12);
    assert_int_equal(sv_intern_add(t, "abcdefgh", -1), 1); /* 9 bytes */
    assert_int_equal(sv_intern_add(t, "xyz", -1), 0);      /* would need 13 */
    assert_int_equal(sv_intern_add(t, "xy", -1), 2);       /* 12 */
    assert_int_equal(sv_intern_find(t, "xyz", -1), 0);
    assert_string_equal(sv_intern_name(t, 2), "xy");
    assert_int_equal(sv_intern_count(t), 2);
    sv_intern_free(t);
}

static void test_names_stay_valid(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(2000, 2000 * 12);
    uint32_t id = sv_intern_add(t, "first", -1);
    const char *p = sv_intern_name(t, id);
    char buf[32];
    for (int i = 0; i < 1999; i++) {
        snprintf(buf, sizeof buf, "name-%d", i);
        assert_int_equal(sv_intern_add(t, buf, -1), (uint32_t)i + 2);
    }
    assert_ptr_equal(sv_intern_name(t, id), p);
    assert_string_equal(p, "first");
    sv_intern_free(t);
}

/* 10,000 names in a table sized for exactly that many: linear probing resolves the hash
 * collisions, every name keeps its id and the table is then full. */
static void test_many_names_round_trip(void **state)
{
    (void)state;
    enum { N = 10000 };
    sv_intern_t *t = sv_intern_new(N, (size_t)N * 16);
    char buf[32];
    for (uint32_t i = 0; i < N; i++) {
        /* similar names differing in a few characters, some of them prefixes of others */
        snprintf(buf, sizeof buf, i % 3 ? "SYM%u" : "S%uUSDT", i);
        uint32_t id = sv_intern_add(t, buf, -1);
        if (id != i + 1)
            fail_msg("add(%s) = %u, want %u", buf, id, i + 1);
    }
    assert_int_equal(sv_intern_count(t), N);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, i % 3 ? "SYM%u" : "S%uUSDT", i);
        if (sv_intern_find(t, buf, -1) != i + 1 || sv_intern_add(t, buf, -1) != i + 1)
            fail_msg("find/add(%s) != %u", buf, i + 1);
        if (strcmp(sv_intern_name(t, i + 1), buf) != 0)
            fail_msg("name(%u) = %s, want %s", i + 1, sv_intern_name(t, i + 1), buf);
    }
    /* absent keys terminate their probe and are not found */
    for (uint32_t i = N; i < 2 * N; i++) {
        snprintf(buf, sizeof buf, "SYM%u", i);
        if (sv_intern_find(t, buf, -1) != 0)
            fail_msg("find(%s) found something", buf);
    }
    assert_int_equal(sv_intern_add(t, "one-more", -1), 0);
    assert_int_equal(sv_intern_count(t), N);
    sv_intern_free(t);
}

/* A small table (16 slots) queried for many absent keys: probing always ends. */
static void test_small_table_absent_keys(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(4, 64);
    assert_int_equal(sv_intern_add(t, "w", -1), 1);
    assert_int_equal(sv_intern_add(t, "x", -1), 2);
    assert_int_equal(sv_intern_add(t, "y", -1), 3);
    assert_int_equal(sv_intern_add(t, "z", -1), 4);
    char buf[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        if (sv_intern_find(t, buf, -1) != 0 || sv_intern_add(t, buf, -1) != 0)
            fail_msg("%s should be absent and refused", buf);
    }
    assert_int_equal(sv_intern_find(t, "z", -1), 4);
    assert_int_equal(sv_intern_count(t), 4);
    sv_intern_free(t);
}

/* Proper prefixes of stored names are other strings, even when their probe passes through
 * the stored name's slot (8 of 16 slots taken: such probes are certain among 300 keys). */
static void test_prefixes_are_distinct(void **state)
{
    (void)state;
    sv_intern_t *t = sv_intern_new(8, 1024);
    char names[8][48];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "instrument-%d-perpetual-usdt-margined", i);
        assert_int_equal(sv_intern_add(t, names[i], -1), (uint32_t)i + 1);
    }
    for (int i = 0; i < 8; i++) {
        long n = (long)strlen(names[i]);
        for (long len = 1; len < n; len++) {
            if (sv_intern_find(t, names[i], len) != 0)
                fail_msg("prefix \"%.*s\" found", (int)len, names[i]);
            if (sv_intern_add(t, names[i], len) != 0)
                fail_msg("prefix \"%.*s\" added to a full table", (int)len, names[i]);
        }
        assert_int_equal(sv_intern_find(t, names[i], n), (uint32_t)i + 1);
    }
    sv_intern_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_dense_and_stable),
        cmocka_unit_test(test_find_does_not_add),
        cmocka_unit_test(test_len_limited),
        cmocka_unit_test(test_empty_string),
        cmocka_unit_test(test_name_of_zero_and_unknown),
        cmocka_unit_test(test_entry_capacity),
        cmocka_unit_test(test_text_capacity),
        cmocka_unit_test(test_names_stay_valid),
        cmocka_unit_test(test_many_names_round_trip),
        cmocka_unit_test(test_small_table_absent_keys),
        cmocka_unit_test(test_prefixes_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
