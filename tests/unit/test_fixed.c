/* test_fixed: exact decimal parsing, formatting, double conversion and 128-bit arithmetic
 * of engine/fixed.h, with exact unit values (1 unit = 1e-8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fixed.h"

#include <math.h>
#include <string.h>

#include "error.h"

/* Sentinel written before each call so a result that was never stored cannot pass. */
#define SENTINEL ((sv_fixed_t)0x5a5a5a5a5a5a5a5aLL)

#define PARSE_IS(fn, s, want)                                                                  \
    do {                                                                                       \
        sv_fixed_t v_ = SENTINEL;                                                              \
        int rc_ = fn((s), -1, &v_);                                                            \
        if (rc_ != SV_OK || v_ != (sv_fixed_t)(want))                                          \
            fail_msg("%s(\"%s\"): rc %d value %lld, want 0 and %lld", #fn, (s), rc_,         \
                     (long long)v_, (long long)(want));                                        \
    } while (0)

#define PARSE_ERR(fn, s, err)                                                                  \
    do {                                                                                       \
        sv_fixed_t v_ = SENTINEL;                                                              \
        int rc_ = fn((s), -1, &v_);                                                            \
        if (rc_ != (err))                                                                      \
            fail_msg("%s(\"%s\"): rc %d (%s), want %d (%s)", #fn, (s), rc_, sv_strerror(rc_),  \
                     (err), sv_strerror(err));                                                 \
    } while (0)

/* OP_IS / OP_ERR: `call` stores its result in r_, which the macro declares. */
#define OP_IS(call, want)                                                                      \
    do {                                                                                       \
        sv_fixed_t r_ = SENTINEL;                                                              \
        int rc_ = call;                                                                        \
        if (rc_ != SV_OK || r_ != (sv_fixed_t)(want))                                          \
            fail_msg("%s: rc %d value %lld, want 0 and %lld", #call, rc_, (long long)r_,       \
                     (long long)(want));                                                       \
    } while (0)

#define OP_ERR(call, err)                                                                      \
    do {                                                                                       \
        sv_fixed_t r_ = SENTINEL;                                                              \
        int rc_ = call;                                                                        \
        if (rc_ != (err))                                                                      \
            fail_msg("%s: rc %d value %lld, want rc %d", #call, rc_, (long long)r_, (err));    \
    } while (0)

static void test_parse_exact(void **state)
{
    (void)state;
    PARSE_IS(sv_fixed_parse, "0", 0);
    PARSE_IS(sv_fixed_parse, "1", 100000000);
    PARSE_IS(sv_fixed_parse, "0.1", 10000000);
    PARSE_IS(sv_fixed_parse, "0.3", 30000000);
    PARSE_IS(sv_fixed_parse, "0.00000001", 1);
    PARSE_IS(sv_fixed_parse, "-0.00000001", -1);
    PARSE_IS(sv_fixed_parse, "123456789.12345678", 12345678912345678LL);
    PARSE_IS(sv_fixed_parse, "-123456789.12345678", -12345678912345678LL);
    PARSE_IS(sv_fixed_parse, "100.5", 10050000000LL);
    PARSE_IS(sv_fixed_parse, "-3", -300000000);
    PARSE_IS(sv_fixed_parse, "50000.12345678", 5000012345678LL);
    /* leading '+', leading zeros, "-0" */
    PARSE_IS(sv_fixed_parse, "+1.5", 150000000);
    PARSE_IS(sv_fixed_parse, "+0", 0);
    PARSE_IS(sv_fixed_parse, "007.50", 750000000);
    PARSE_IS(sv_fixed_parse, "-0", 0);
    PARSE_IS(sv_fixed_parse, "-0.0", 0);
    /* the forms fixed.c accepts: a dot with digits on one side only */
    PARSE_IS(sv_fixed_parse, "1.", 100000000);
    PARSE_IS(sv_fixed_parse, "-1.", -100000000);
    PARSE_IS(sv_fixed_parse, ".5", 50000000);
    PARSE_IS(sv_fixed_parse, "-.5", -50000000);
    PARSE_IS(sv_fixed_parse, "+.5", 50000000);
    /* zeros beyond the 8th decimal are not precision and are accepted */
    PARSE_IS(sv_fixed_parse, "1.00000000000", 100000000);
    PARSE_IS(sv_fixed_parse, "0.000000010", 1);
    PARSE_IS(sv_fixed_parse, "-2.500000000000000000000", -250000000);
}

static void test_parse_len_limited(void **state)
{
    (void)state;
    sv_fixed_t v = SENTINEL;
    assert_int_equal(sv_fixed_parse("1.25xyz", 4, &v), SV_OK);
    assert_int_equal(v, 125000000);
    assert_int_equal(sv_fixed_parse("12345", 2, &v), SV_OK);
    assert_int_equal(v, 1200000000);
    /* only the first len bytes are read: the 9th decimal beyond len does not matter */
    assert_int_equal(sv_fixed_parse("0.123456789", 10, &v), SV_OK);
    assert_int_equal(v, 12345678);
    assert_int_equal(sv_fixed_parse("-7,", 2, &v), SV_OK);
    assert_int_equal(v, -700000000);
    /* a buffer that is not NUL-terminated */
    const char buf[4] = {'9', '.', '7', '5'};
    assert_int_equal(sv_fixed_parse(buf, 4, &v), SV_OK);
    assert_int_equal(v, 975000000);
    assert_int_equal(sv_fixed_parse("1", 0, &v), SV_E_PARSE);
    assert_int_equal(sv_fixed_parse("-1", 1, &v), SV_E_PARSE);
    assert_int_equal(sv_fixed_parse_round("0.123456789", 11, &v), SV_OK);
    assert_int_equal(v, 12345679);
    assert_int_equal(sv_fixed_parse_round("0.123456789", 10, &v), SV_OK);
    assert_int_equal(v, 12345678);
}

static void test_parse_refuses_extra_decimals(void **state)
{
    (void)state;
    PARSE_ERR(sv_fixed_parse, "0.000000001", SV_E_PARSE);
    PARSE_ERR(sv_fixed_parse, "0.000000005", SV_E_PARSE);
    PARSE_ERR(sv_fixed_parse, "1.123456789", SV_E_PARSE);
    PARSE_ERR(sv_fixed_parse, "-1.000000001", SV_E_PARSE);
    PARSE_ERR(sv_fixed_parse, "0.0000000001", SV_E_PARSE);  /* 9th is 0, 10th is not */
    PARSE_ERR(sv_fixed_parse, "0.12345678000001", SV_E_PARSE);
}

static void test_parse_round_half_away_from_zero(void **state)
{
    (void)state;
    /* exact inputs parse as with sv_fixed_parse */
    PARSE_IS(sv_fixed_parse_round, "0.1", 10000000);
    PARSE_IS(sv_fixed_parse_round, "-123456789.12345678", -12345678912345678LL);
    PARSE_IS(sv_fixed_parse_round, "1.00000000000", 100000000);
    /* the first dropped digit decides */
    PARSE_IS(sv_fixed_parse_round, "0.000000005", 1);
    PARSE_IS(sv_fixed_parse_round, "0.0000000050", 1);
    PARSE_IS(sv_fixed_parse_round, "0.000000004", 0);
    PARSE_IS(sv_fixed_parse_round, "0.0000000049999999", 0);
    PARSE_IS(sv_fixed_parse_round, "0.00000000999", 1);
    PARSE_IS(sv_fixed_parse_round, "0.0000000001", 0);
    PARSE_IS(sv_fixed_parse_round, "0.0000000009", 0);
    PARSE_IS(sv_fixed_parse_round, "0.123456785", 12345679);
    PARSE_IS(sv_fixed_parse_round, "0.1234567850000", 12345679);
    PARSE_IS(sv_fixed_parse_round, "0.123456784999999", 12345678);
    PARSE_IS(sv_fixed_parse_round, "1.999999995", 200000000);
    PARSE_IS(sv_fixed_parse_round, "9.999999999999", 1000000000);
    /* negatives round away from zero too */
    PARSE_IS(sv_fixed_parse_round, "-0.000000005", -1);
    PARSE_IS(sv_fixed_parse_round, "-0.000000004", 0);
    PARSE_IS(sv_fixed_parse_round, "-0.123456785", -12345679);
    PARSE_IS(sv_fixed_parse_round, "-0.123456784999999", -12345678);
    PARSE_IS(sv_fixed_parse_round, "-1.999999995", -200000000);
    PARSE_IS(sv_fixed_parse_round, "-.000000015", -2);
    /* rounding can overflow */
    PARSE_IS(sv_fixed_parse_round, "92233720368.547758074", INT64_MAX);
    PARSE_ERR(sv_fixed_parse_round, "92233720368.547758075", SV_E_RANGE);
}

static void test_parse_garbage(void **state)
{
    (void)state;
    static const char *bad[] = {"",     "-",     "+",    ".",     "-.",    "+.",   "1e5",
                                "1E5",  "1e-3",  "1.2.3", " 1",   "1 ",    "\t1",  "--1",
                                "+-1",  "-+1",   "1,5",  "0x10",  "abc",   "1-",   "nan",
                                "inf",  "1_000", "1..2", "..5",   "1.5.",  "- 1",  "1.-5",
                                "1.+5", "\xd9\xa3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PARSE_ERR(sv_fixed_parse, bad[i], SV_E_PARSE);
        PARSE_ERR(sv_fixed_parse_round, bad[i], SV_E_PARSE);
    }
}

static void test_parse_range(void **state)
{
    (void)state;
    PARSE_IS(sv_fixed_parse, "92233720368.54775807", INT64_MAX);
    PARSE_IS(sv_fixed_parse, "-92233720368.54775807", -INT64_MAX);
    /* INT64_MIN is representable and is what sv_fixed_format prints for it */
    PARSE_IS(sv_fixed_parse, "-92233720368.54775808", INT64_MIN);
    PARSE_ERR(sv_fixed_parse, "92233720368.54775808", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "-92233720368.54775809", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "92233720369", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "100000000000", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "-100000000000", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "9223372036854775807", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse, "99999999999999999999999999999999999999999", SV_E_RANGE);
    PARSE_ERR(sv_fixed_parse_round, "92233720369", SV_E_RANGE);
    /* leading zeros do not count toward overflow */
    PARSE_IS(sv_fixed_parse, "0000000000000000000000000000000000001", 100000000);
}

static void format_is(sv_fixed_t v, const char *want)
{
    char buf[24];
    memset(buf, '#', sizeof buf);
    int n = sv_fixed_format(v, buf, sizeof buf);
    if (strcmp(buf, want) != 0 || n != (int)strlen(want))
        fail_msg("format(%lld) = \"%s\" (%d), want \"%s\"", (long long)v, buf, n, want);
}

static void test_format_values(void **state)
{
    (void)state;
    format_is(0, "0");
    format_is(1, "0.00000001");
    format_is(-1, "-0.00000001");
    format_is(10000000, "0.1");
    format_is(1000000, "0.01");
    format_is(-300000000, "-3");
    format_is(10050000000LL, "100.5");
    format_is(123450000, "1.2345");
    format_is(-150000000, "-1.5");
    format_is(-50000000, "-0.5");
    format_is(10000000000LL, "100");
    format_is(100000001, "1.00000001");
    format_is(INT64_MAX, "92233720368.54775807");
    format_is(INT64_MIN, "-92233720368.54775808");
    format_is(-INT64_MAX, "-92233720368.54775807");
}

static void test_format_round_trips(void **state)
{
    (void)state;
    static const char *canon[] = {"0",
                                  "1",
                                  "-1",
                                  "0.1",
                                  "0.01",
                                  "0.00000001",
                                  "-0.00000001",
                                  "100.5",
                                  "-3",
                                  "0.5",
                                  "-0.5",
                                  "42.00000001",
                                  "99999.99999999",
                                  "1000000",
                                  "123456789.12345678",
                                  "-123456789.12345678",
                                  "92233720368.54775807",
                                  "-92233720368.54775807",
                                  "-92233720368.54775808",
                                  "0.10000001",
                                  "10.0101"};
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        sv_fixed_t v = SENTINEL;
        if (sv_fixed_parse(canon[i], -1, &v) != SV_OK)
            fail_msg("parse(\"%s\") failed", canon[i]);
        format_is(v, canon[i]);
    }
    /* non-canonical spellings format to the canonical one */
    static const char *pairs[][2] = {{"+1.50", "1.5"}, {"007", "7"},       {"-0", "0"},
                                     {".5", "0.5"},    {"1.", "1"},        {"-.25", "-0.25"},
                                     {"3.000", "3"},   {"0.0000000100", "0.00000001"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        sv_fixed_t v = SENTINEL;
        if (sv_fixed_parse(pairs[i][0], -1, &v) != SV_OK)
            fail_msg("parse(\"%s\") failed", pairs[i][0]);
        format_is(v, pairs[i][1]);
    }
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s;
}

/* Every int64 value survives format -> parse unchanged. */
static void test_format_parse_sweep(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (int i = 0; i < 20000; i++) {
        uint64_t r = lcg(&seed);
        sv_fixed_t v;
        switch (i % 4) {
        case 0: v = (sv_fixed_t)r; break;                            /* anywhere */
        case 1: v = (sv_fixed_t)(r >> (1 + r % 63)); break;          /* any magnitude */
        case 2: v = -(sv_fixed_t)((r >> 1) % 100000000000LL); break; /* negatives < 1000 */
        default: v = (sv_fixed_t)(r % 1000) * 1000000 - 500000000; break; /* trailing zeros */
        }
        if (i % 4 == 1 && (r & 1))
            v = -v;
        char buf[24];
        sv_fixed_format(v, buf, sizeof buf);
        sv_fixed_t back = SENTINEL;
        int rc = sv_fixed_parse(buf, -1, &back);
        if (rc != SV_OK || back != v)
            fail_msg("%lld -> \"%s\" -> rc %d, %lld", (long long)v, buf, rc, (long long)back);
        size_t n = strlen(buf);
        if (strchr(buf, '.') && (buf[n - 1] == '0' || buf[n - 1] == '.'))
            fail_msg("\"%s\" has trailing zeros", buf);
    }
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, '#', sizeof buf);
    sv_fixed_format(INT64_MIN, buf, sizeof buf);
    assert_string_equal(buf, "-922337");
    char one[1] = {'#'};
    sv_fixed_format(12345, one, sizeof one);
    assert_int_equal(one[0], '\0');
}

static void test_from_double(void **state)
{
    (void)state;
    OP_IS(sv_fixed_from_double(0.1 + 0.2, &r_), 30000000);
    OP_IS(sv_fixed_from_double(0.1, &r_), 10000000);
    OP_IS(sv_fixed_from_double(-0.1, &r_), -10000000);
    OP_IS(sv_fixed_from_double(1.0 - 0.9, &r_), 10000000);
    OP_IS(sv_fixed_from_double(1.005, &r_), 100500000);
    OP_IS(sv_fixed_from_double(2.675, &r_), 267500000);
    OP_IS(sv_fixed_from_double(123.456, &r_), 12345600000LL);
    OP_IS(sv_fixed_from_double(-0.12345678, &r_), -12345678);
    OP_IS(sv_fixed_from_double(1.23456789012, &r_), 123456789);
    OP_IS(sv_fixed_from_double(3.999999999, &r_), 400000000);
    OP_IS(sv_fixed_from_double(-3.999999999, &r_), -400000000);
    OP_IS(sv_fixed_from_double(1e-9, &r_), 0);
    OP_IS(sv_fixed_from_double(-1e-9, &r_), 0);
    OP_IS(sv_fixed_from_double(0.0, &r_), 0);
    OP_IS(sv_fixed_from_double(-0.0, &r_), 0);
    OP_IS(sv_fixed_from_double(9.1e10, &r_), 9100000000000000000LL);
    OP_IS(sv_fixed_from_double(-9.1e10, &r_), -9100000000000000000LL);
    OP_ERR(sv_fixed_from_double(1e11, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(-1e11, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(1e300, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(NAN, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(-NAN, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(INFINITY, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_from_double(-INFINITY, &r_), SV_E_RANGE);
}

static void test_to_double(void **state)
{
    (void)state;
    assert_true(sv_fixed_to_double(150000000) == 1.5);
    assert_true(sv_fixed_to_double(-1) == -1e-8);
    assert_true(sv_fixed_to_double(0) == 0.0);
    assert_true(sv_fixed_to_double(10000000) == 0.1);
    sv_fixed_t v = SENTINEL;
    assert_int_equal(sv_fixed_from_double(sv_fixed_to_double(123456789012345LL), &v), SV_OK);
    assert_int_equal(v, 123456789012345LL);
}

static void test_mul(void **state)
{
    (void)state;
    OP_IS(sv_fixed_mul(150000000, 200000000, &r_), 300000000);           /* 1.5 * 2 */
    OP_IS(sv_fixed_mul(5000012345678LL, 100000, &r_), 5000012346LL);     /* 50000.12345678 * 0.001 */
    OP_IS(sv_fixed_mul(-5000012345678LL, 100000, &r_), -5000012346LL);
    OP_IS(sv_fixed_mul(0, INT64_MAX, &r_), 0);
    /* results of exactly half a unit round away from zero */
    OP_IS(sv_fixed_mul(1, 50000000, &r_), 1);
    OP_IS(sv_fixed_mul(-1, 50000000, &r_), -1);
    OP_IS(sv_fixed_mul(1, -50000000, &r_), -1);
    OP_IS(sv_fixed_mul(-1, -50000000, &r_), 1);
    OP_IS(sv_fixed_mul(15, 10000000, &r_), 2);   /* 1.5 units */
    OP_IS(sv_fixed_mul(-25, 10000000, &r_), -3); /* -2.5 units */
    OP_IS(sv_fixed_mul(1, 49999999, &r_), 0);
    OP_IS(sv_fixed_mul(-1, 49999999, &r_), 0);
    OP_IS(sv_fixed_mul(1, 50000001, &r_), 1);
    OP_IS(sv_fixed_mul(-1, 149999999, &r_), -1);
    /* the product only fits through the 128-bit intermediate */
    OP_IS(sv_fixed_mul(3000000000000000000LL, 300000000, &r_), 9000000000000000000LL);
    OP_IS(sv_fixed_mul(INT64_MAX, SV_FIXED_ONE, &r_), INT64_MAX);
    OP_IS(sv_fixed_mul(INT64_MIN, SV_FIXED_ONE, &r_), INT64_MIN);
    OP_IS(sv_fixed_mul(INT64_MAX, -SV_FIXED_ONE, &r_), -INT64_MAX);
    OP_ERR(sv_fixed_mul(INT64_MIN, -SV_FIXED_ONE, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_mul(INT64_MAX, 2 * SV_FIXED_ONE, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_mul(100000000000000LL, 100000000000000LL, &r_), SV_E_RANGE); /* 1e6 * 1e6 */
    OP_ERR(sv_fixed_mul(INT64_MIN, INT64_MIN, &r_), SV_E_RANGE);
}

static void test_div(void **state)
{
    (void)state;
    OP_IS(sv_fixed_div(100000000, 300000000, &r_), 33333333);  /* 1/3 */
    OP_IS(sv_fixed_div(200000000, 300000000, &r_), 66666667);  /* 2/3 */
    OP_IS(sv_fixed_div(-200000000, 300000000, &r_), -66666667);
    OP_IS(sv_fixed_div(200000000, -300000000, &r_), -66666667);
    OP_IS(sv_fixed_div(-200000000, -300000000, &r_), 66666667);
    OP_IS(sv_fixed_div(300000000, 150000000, &r_), 200000000); /* 3 / 1.5 */
    /* half a unit rounds away from zero */
    OP_IS(sv_fixed_div(1, 200000000, &r_), 1);
    OP_IS(sv_fixed_div(-1, 200000000, &r_), -1);
    OP_IS(sv_fixed_div(1, -200000000, &r_), -1);
    OP_IS(sv_fixed_div(-1, -200000000, &r_), 1);
    OP_IS(sv_fixed_div(3, 200000000, &r_), 2);
    OP_IS(sv_fixed_div(1, 200000001, &r_), 0);
    OP_IS(sv_fixed_div(-1, 200000001, &r_), 0);
    OP_IS(sv_fixed_div(SV_FIXED_ONE, 1, &r_), 10000000000000000LL); /* 1 / 1e-8 */
    OP_IS(sv_fixed_div(INT64_MIN, SV_FIXED_ONE, &r_), INT64_MIN);
    OP_ERR(sv_fixed_div(INT64_MIN, -SV_FIXED_ONE, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_div(INT64_MAX, 50000000, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_div(INT64_MAX, 1, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_div(SV_FIXED_ONE, 0, &r_), SV_E_INVAL);
    OP_ERR(sv_fixed_div(0, 0, &r_), SV_E_INVAL);
    OP_ERR(sv_fixed_div(INT64_MIN, 0, &r_), SV_E_INVAL);
}

static void test_muldiv(void **state)
{
    (void)state;
    OP_IS(sv_fixed_muldiv(100, 1, 3, &r_), 33);
    OP_IS(sv_fixed_muldiv(200, 1, 3, &r_), 67);
    OP_IS(sv_fixed_muldiv(-200, 1, 3, &r_), -67);
    OP_IS(sv_fixed_muldiv(200, -1, 3, &r_), -67);
    OP_IS(sv_fixed_muldiv(200, 1, -3, &r_), -67);
    OP_IS(sv_fixed_muldiv(-200, -1, -3, &r_), -67);
    OP_IS(sv_fixed_muldiv(-200, 1, -3, &r_), 67);
    OP_IS(sv_fixed_muldiv(1, 1, 2, &r_), 1);
    OP_IS(sv_fixed_muldiv(-1, 1, 2, &r_), -1);
    OP_IS(sv_fixed_muldiv(1, -1, 2, &r_), -1);
    OP_IS(sv_fixed_muldiv(1, 1, -2, &r_), -1);
    OP_IS(sv_fixed_muldiv(5, 1, 10, &r_), 1);
    OP_IS(sv_fixed_muldiv(4, 1, 10, &r_), 0);
    OP_IS(sv_fixed_muldiv(-15, 1, 10, &r_), -2);
    OP_IS(sv_fixed_muldiv(-14, 1, 10, &r_), -1);
    /* average price: notional 100.00000001 over qty 3 */
    OP_IS(sv_fixed_muldiv(10000000001LL, SV_FIXED_SCALE, 300000000, &r_), 3333333334LL);
    /* pro-rata fee: 0.1 fee * 1/3 */
    OP_IS(sv_fixed_muldiv(10000000, 1, 3, &r_), 3333333);
    /* the intermediate is 128-bit */
    OP_IS(sv_fixed_muldiv(INT64_MAX, INT64_MAX, INT64_MAX, &r_), INT64_MAX);
    OP_IS(sv_fixed_muldiv(INT64_MIN, INT64_MAX, INT64_MAX, &r_), INT64_MIN);
    OP_IS(sv_fixed_muldiv(INT64_MAX, INT64_MAX, INT64_MIN, &r_), INT64_MIN + 2);
    OP_IS(sv_fixed_muldiv(INT64_MIN, 1, 1, &r_), INT64_MIN);
    OP_IS(sv_fixed_muldiv(INT64_MIN, INT64_MIN, INT64_MIN, &r_), INT64_MIN);
    OP_ERR(sv_fixed_muldiv(INT64_MIN, 1, -1, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_muldiv(INT64_MIN, -1, 1, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_muldiv(INT64_MAX, 3, 2, &r_), SV_E_RANGE);
    OP_ERR(sv_fixed_muldiv(1, 1, 0, &r_), SV_E_INVAL);
    OP_ERR(sv_fixed_muldiv(0, 0, 0, &r_), SV_E_INVAL);
}

#define STEP_IS(call, want)                                                                    \
    do {                                                                                       \
        sv_fixed_t r_ = call;                                                                  \
        if (r_ != (sv_fixed_t)(want))                                                          \
            fail_msg("%s = %lld, want %lld", #call, (long long)r_, (long long)(want));          \
    } while (0)

static void test_floor_step(void **state)
{
    (void)state;
    STEP_IS(sv_fixed_floor_step(123456789, 1000000), 123000000);   /* 1.23456789 @ 0.01 */
    STEP_IS(sv_fixed_floor_step(123999999, 1000000), 123000000);
    STEP_IS(sv_fixed_floor_step(123000000, 1000000), 123000000);
    STEP_IS(sv_fixed_floor_step(-123456789, 1000000), -123000000); /* toward zero */
    STEP_IS(sv_fixed_floor_step(-123999999, 1000000), -123000000);
    STEP_IS(sv_fixed_floor_step(999, 1000), 0);
    STEP_IS(sv_fixed_floor_step(-999, 1000), 0);
    STEP_IS(sv_fixed_floor_step(1234, 1), 1234);
    STEP_IS(sv_fixed_floor_step(125000000, 50000000), 100000000);  /* 1.25 @ 0.5 */
    STEP_IS(sv_fixed_floor_step(INT64_MAX, 100000000), 9223372036800000000LL);
    STEP_IS(sv_fixed_floor_step(INT64_MIN, 100000000), -9223372036800000000LL);
    STEP_IS(sv_fixed_floor_step(INT64_MAX, INT64_MAX), INT64_MAX);
}

static void test_round_step(void **state)
{
    (void)state;
    STEP_IS(sv_fixed_round_step(123456789, 1000000), 123000000);
    STEP_IS(sv_fixed_round_step(123499999, 1000000), 123000000);
    STEP_IS(sv_fixed_round_step(123500000, 1000000), 124000000);   /* half: away from zero */
    STEP_IS(sv_fixed_round_step(123500001, 1000000), 124000000);
    STEP_IS(sv_fixed_round_step(124000000, 1000000), 124000000);
    STEP_IS(sv_fixed_round_step(-123499999, 1000000), -123000000);
    STEP_IS(sv_fixed_round_step(-123500000, 1000000), -124000000);
    STEP_IS(sv_fixed_round_step(-123500001, 1000000), -124000000);
    STEP_IS(sv_fixed_round_step(5, 10), 10);
    STEP_IS(sv_fixed_round_step(-5, 10), -10);
    STEP_IS(sv_fixed_round_step(4, 10), 0);
    STEP_IS(sv_fixed_round_step(-4, 10), 0);
    STEP_IS(sv_fixed_round_step(1, 3), 0);  /* 1/3 of a step */
    STEP_IS(sv_fixed_round_step(2, 3), 3);  /* 2/3 of a step */
    STEP_IS(sv_fixed_round_step(-2, 3), -3);
    STEP_IS(sv_fixed_round_step(987654321, 1), 987654321);
    STEP_IS(sv_fixed_round_step(137500000, 25000000), 150000000); /* 1.375 @ 0.25 */
    /* steps beyond 2^62 units: twice the remainder does not fit in int64 */
    STEP_IS(sv_fixed_round_step(4611686018427387903LL, INT64_MAX), 0);
    STEP_IS(sv_fixed_round_step(4611686018427387904LL, INT64_MAX), INT64_MAX);
    STEP_IS(sv_fixed_round_step(INT64_MAX - 1, INT64_MAX), INT64_MAX);
    STEP_IS(sv_fixed_round_step(-(INT64_MAX - 1), INT64_MAX), -INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_exact),
        cmocka_unit_test(test_parse_len_limited),
        cmocka_unit_test(test_parse_refuses_extra_decimals),
        cmocka_unit_test(test_parse_round_half_away_from_zero),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_range),
        cmocka_unit_test(test_format_values),
        cmocka_unit_test(test_format_round_trips),
        cmocka_unit_test(test_format_parse_sweep),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_from_double),
        cmocka_unit_test(test_to_double),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_div),
        cmocka_unit_test(test_muldiv),
        cmocka_unit_test(test_floor_step),
        cmocka_unit_test(test_round_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
