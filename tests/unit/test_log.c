/* test_log: line format, level filtering, counts and secret redaction of engine/log.h, and
 * the error names and diagnostic record of engine/error.h. Output is captured with
 * open_memstream. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

typedef struct capture {
    FILE *f;
    char *buf;
    size_t len;
    sv_log_t log;
} capture_t;

static int cap_open(void **state)
{
    capture_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
    sv_log_init(&c->log, c->f, SV_LOG_DEBUG);
    *state = c;
    return 0;
}

static int cap_close(void **state)
{
    capture_t *c = *state;
    fclose(c->f);
    free(c->buf);
    free(c);
    return 0;
}

/* Everything written so far. */
static const char *text(capture_t *c)
{
    fflush(c->f);
    return c->buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ" at the start of line and that it is UTC now (within a
 * generous two minutes: the tests run with a local zone five hours from UTC). Returns the
 * rest of the line. */
static const char *skip_timestamp(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        int ok = shape[i] == 'd' ? line[i] >= '0' && line[i] <= '9' : line[i] == shape[i];
        if (!ok)
            fail_msg("bad timestamp at %zu in \"%.40s\"", i, line);
    }
    struct tm tm = {0};
    tm.tm_year = atoi(line) - 1900;
    tm.tm_mon = atoi(line + 5) - 1;
    tm.tm_mday = atoi(line + 8);
    tm.tm_hour = atoi(line + 11);
    tm.tm_min = atoi(line + 14);
    tm.tm_sec = atoi(line + 17);
    time_t t = timegm(&tm);
    time_t now = time(NULL);
    if (t < now - 120 || t > now + 120)
        fail_msg("timestamp %.24s is not UTC now", line);
    return line + sizeof shape - 1;
}

/* The n-th line (0-based) without its timestamp, copied into out. */
static const char *line_body(capture_t *c, int n, char *out, size_t size)
{
    const char *p = text(c);
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    const char *end = strchr(p, '\n');
    assert_non_null(end);
    const char *body = skip_timestamp(p);
    size_t len = (size_t)(end - body);
    assert_true(len < size);
    memcpy(out, body, len);
    out[len] = '\0';
    return out;
}

static void test_line_format(void **state)
{
    capture_t *c = *state;
    char body[4096];
    sv_log_warn(&c->log, "strategy sma_cross", "disabled: %s:%d: %s", "strategies/x.lua", 12,
                "boom");
    assert_string_equal(line_body(c, 0, body, sizeof body),
                        "WARN  strategy sma_cross: disabled: strategies/x.lua:12: boom");
    sv_log_debug(&c->log, "bus", "queue %u/%u", 3u, 8u);
    sv_log_info(&c->log, "engine", "started");
    sv_log_error(&c->log, "oms", "order %d rejected", 7);
    sv_log_write(&c->log, SV_LOG_INFO, NULL, "no component");
    sv_log_info(&c->log, "x", "%s", "");
    assert_string_equal(line_body(c, 1, body, sizeof body), "DEBUG bus: queue 3/8");
    assert_string_equal(line_body(c, 2, body, sizeof body), "INFO  engine: started");
    assert_string_equal(line_body(c, 3, body, sizeof body), "ERROR oms: order 7 rejected");
    assert_string_equal(line_body(c, 4, body, sizeof body), "INFO  engine: no component");
    assert_string_equal(line_body(c, 5, body, sizeof body), "INFO  x: ");
    assert_int_equal(count_lines(text(c)), 6);
    /* each record is one line: an embedded newline in the message is the caller's business,
     * but the record itself ends with exactly one */
    size_t n = strlen(text(c));
    assert_int_equal(text(c)[n - 1], '\n');
}

static void test_level_filter_and_counts(void **state)
{
    capture_t *c = *state;
    char body[4096];
    c->log.level = SV_LOG_WARN;
    sv_log_debug(&c->log, "t", "d");
    sv_log_info(&c->log, "t", "i");
    sv_log_warn(&c->log, "t", "w");
    sv_log_error(&c->log, "t", "e1");
    sv_log_error(&c->log, "t", "e2");
    sv_log_write(&c->log, SV_LOG_OFF, "t", "off is not a record level");
    sv_log_write(&c->log, 9, "t", "nor is 9");
    assert_int_equal(count_lines(text(c)), 3);
    assert_string_equal(line_body(c, 0, body, sizeof body), "WARN  t: w");
    assert_string_equal(line_body(c, 1, body, sizeof body), "ERROR t: e1");
    assert_string_equal(line_body(c, 2, body, sizeof body), "ERROR t: e2");
    assert_int_equal(c->log.count[SV_LOG_DEBUG], 0);
    assert_int_equal(c->log.count[SV_LOG_INFO], 0);
    assert_int_equal(c->log.count[SV_LOG_WARN], 1);
    assert_int_equal(c->log.count[SV_LOG_ERROR], 2);

    c->log.level = SV_LOG_OFF;
    sv_log_error(&c->log, "t", "silenced");
    assert_int_equal(count_lines(text(c)), 3);
    assert_int_equal(c->log.count[SV_LOG_ERROR], 2);

    c->log.level = SV_LOG_DEBUG;
    sv_log_debug(&c->log, "t", "d2");
    sv_log_write(&c->log, -1, "t", "below debug");
    assert_int_equal(count_lines(text(c)), 4);
    assert_string_equal(line_body(c, 3, body, sizeof body), "DEBUG t: d2");
    assert_int_equal(c->log.count[SV_LOG_DEBUG], 1);
}

static void test_init_and_discard(void **state)
{
    (void)state;
    sv_log_t log;
    memset(&log, 0xff, sizeof log);
    sv_log_init(&log, NULL, SV_LOG_INFO);
    assert_null(log.out);
    assert_int_equal(log.level, SV_LOG_INFO);
    assert_int_equal(log.n_secrets, 0);
    for (int i = 0; i < SV_LOG_OFF; i++)
        assert_int_equal(log.count[i], 0);
    sv_log_error(&log, "t", "discarded");
    assert_int_equal(log.count[SV_LOG_ERROR], 0); /* nothing was written */
    sv_log_error(NULL, "t", "no logger at all");
}

static void test_secret_redaction(void **state)
{
    capture_t *c = *state;
    char body[4096];
    sv_log_add_secret(&c->log, "s3cr3tKEY");
    sv_log_info(&c->log, "exchange", "key=%s&again=%s%s end", "s3cr3tKEY", "s3cr3tKEY",
                "s3cr3tKEY");
    sv_log_info(&c->log, "exchange", "s3cr3tKEY");
    sv_log_info(&c->log, "exchange", "in the format s3cr3tKEY, %d", 1);
    assert_string_equal(line_body(c, 0, body, sizeof body),
                        "INFO  exchange: key=***&again=****** end");
    assert_string_equal(line_body(c, 1, body, sizeof body), "INFO  exchange: ***");
    assert_string_equal(line_body(c, 2, body, sizeof body), "INFO  exchange: in the format ***, 1");
    assert_null(strstr(text(c), "s3cr3tKEY"));
    /* near misses are not secrets */
    sv_log_info(&c->log, "exchange", "s3cr3tKE y3cr3tKEY S3CR3TKEY");
    assert_string_equal(line_body(c, 3, body, sizeof body),
                        "INFO  exchange: s3cr3tKE y3cr3tKEY S3CR3TKEY");
}

static void test_short_secrets_ignored(void **state)
{
    capture_t *c = *state;
    char body[4096];
    sv_log_add_secret(&c->log, "abc");
    sv_log_add_secret(&c->log, "");
    sv_log_add_secret(&c->log, NULL);
    assert_int_equal(c->log.n_secrets, 0);
    sv_log_add_secret(&c->log, "abcd"); /* 4 is enough */
    assert_int_equal(c->log.n_secrets, 1);
    sv_log_info(&c->log, "t", "abc ab abcd abcde");
    assert_string_equal(line_body(c, 0, body, sizeof body), "INFO  t: abc ab *** ***e");
}

/* A secret that contains another registered secret is hidden whole, whatever the order in
 * which they were registered. */
static void test_nested_secrets(void **state)
{
    capture_t *c = *state;
    char body[4096];
    sv_log_add_secret(&c->log, "pass");
    sv_log_add_secret(&c->log, "password123");
    sv_log_add_secret(&c->log, "token");
    sv_log_info(&c->log, "t", "a=password123 b=pass c=tokenpassword123");
    assert_string_equal(line_body(c, 0, body, sizeof body), "INFO  t: a=*** b=*** c=******");
    assert_null(strstr(text(c), "word123"));
}

static void test_many_secrets(void **state)
{
    capture_t *c = *state;
    static char secrets[SV_LOG_MAX_SECRETS][16];
    char msg[1024] = "";
    for (int i = 0; i < SV_LOG_MAX_SECRETS; i++) {
        snprintf(secrets[i], sizeof secrets[i], "sekret-%02d", i);
        sv_log_add_secret(&c->log, secrets[i]);
        strcat(msg, secrets[i]);
        strcat(msg, " ");
    }
    assert_int_equal(c->log.n_secrets, SV_LOG_MAX_SECRETS);
    sv_log_info(&c->log, "t", "%s", msg);
    for (int i = 0; i < SV_LOG_MAX_SECRETS; i++)
        assert_null(strstr(text(c), secrets[i]));
    assert_non_null(strstr(text(c), "t: *** *** ***"));
}

/* The component is part of the line and is redacted like the message. */
static void test_secret_in_component(void **state)
{
    capture_t *c = *state;
    char body[4096];
    sv_log_add_secret(&c->log, "APIKEY42");
    sv_log_info(&c->log, "exchange APIKEY42", "connected");
    assert_string_equal(line_body(c, 0, body, sizeof body), "INFO  exchange ***: connected");
}

/* A message cut at the line limit never ends in the first characters of a secret. */
static void test_secret_at_truncation_boundary(void **state)
{
    capture_t *c = *state;
    static const char secret[] = "SECRETKEY0123456789abcdef";
    sv_log_add_secret(&c->log, secret);
    static char filler[4096];
    memset(filler, 'x', sizeof filler - 1);
    int lines = 0;
    for (int len = 1990; len < 2060; len++) {
        sv_log_info(&c->log, "t", "%.*s%s tail", len, filler, secret);
        lines++;
    }
    const char *out = text(c);
    assert_int_equal(count_lines(out), lines);
    assert_null(strstr(out, "SECR"));
    /* each line is bounded and complete */
    for (const char *p = out; *p;) {
        const char *end = strchr(p, '\n');
        assert_non_null(end);
        assert_true(end - p < 2200);
        p = end + 1;
    }
}

static void test_long_message_truncated_safely(void **state)
{
    capture_t *c = *state;
    char *big = malloc(100000);
    memset(big, 'y', 99999);
    big[99999] = '\0';
    sv_log_info(&c->log, "t", "%s", big);
    sv_log_info(&c->log, "t", "after");
    free(big);
    const char *out = text(c);
    assert_int_equal(count_lines(out), 2);
    const char *nl = strchr(out, '\n');
    assert_true(nl - out > 2000 && nl - out < 2200);
    char body[4096];
    assert_string_equal(line_body(c, 1, body, sizeof body), "INFO  t: after");
}

static void test_level_parse_and_name(void **state)
{
    (void)state;
    assert_int_equal(sv_log_level_parse("debug"), SV_LOG_DEBUG);
    assert_int_equal(sv_log_level_parse("info"), SV_LOG_INFO);
    assert_int_equal(sv_log_level_parse("warn"), SV_LOG_WARN);
    assert_int_equal(sv_log_level_parse("error"), SV_LOG_ERROR);
    assert_int_equal(sv_log_level_parse("off"), SV_LOG_OFF);
    assert_int_equal(sv_log_level_parse("DEBUG"), SV_LOG_DEBUG);
    assert_int_equal(sv_log_level_parse("Info"), SV_LOG_INFO);
    assert_int_equal(sv_log_level_parse("warning"), SV_LOG_WARN);
    assert_int_equal(sv_log_level_parse("WARNING"), SV_LOG_WARN);
    assert_int_equal(sv_log_level_parse(""), -1);
    assert_int_equal(sv_log_level_parse("fatal"), -1);
    assert_int_equal(sv_log_level_parse("inf"), -1);
    assert_int_equal(sv_log_level_parse("debug "), -1);
    assert_int_equal(sv_log_level_parse("?"), -1);
    assert_string_equal(sv_log_level_name(SV_LOG_DEBUG), "DEBUG");
    assert_string_equal(sv_log_level_name(SV_LOG_INFO), "INFO");
    assert_string_equal(sv_log_level_name(SV_LOG_WARN), "WARN");
    assert_string_equal(sv_log_level_name(SV_LOG_ERROR), "ERROR");
    assert_string_equal(sv_log_level_name(SV_LOG_OFF), "OFF");
    assert_string_equal(sv_log_level_name(-1), "?");
    assert_string_equal(sv_log_level_name(5), "?");
    for (int l = SV_LOG_DEBUG; l <= SV_LOG_OFF; l++)
        assert_int_equal(sv_log_level_parse(sv_log_level_name(l)), l);
}

/* error.h */

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
    } want[] = {
        {SV_OK, "ok"},
        {SV_E_NOMEM, "out of memory"},
        {SV_E_INVAL, "invalid argument"},
        {SV_E_NOTFOUND, "not found"},
        {SV_E_FULL, "full"},
        {SV_E_IO, "i/o error"},
        {SV_E_CONFIG, "configuration error"},
        {SV_E_SCRIPT, "script error"},
        {SV_E_STATE, "invalid state"},
        {SV_E_UNSUPPORTED, "unsupported"},
        {SV_E_EXISTS, "already exists"},
        {SV_E_RANGE, "out of range"},
        {SV_E_PARSE, "parse error"},
        {SV_E_DISABLED, "disabled"},
        {SV_E_REJECTED, "rejected"},
        {SV_E_LIMIT, "limit exceeded"},
    };
    enum { N = sizeof want / sizeof want[0] };
    /* the table covers 0 down to the last code, with no gap */
    for (int i = 0; i < (int)N; i++)
        assert_int_equal(want[i].code, -i);
    for (int i = 0; i < (int)N; i++) {
        assert_string_equal(sv_strerror(want[i].code), want[i].name);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(sv_strerror(want[i].code), sv_strerror(want[j].code));
    }
    assert_string_equal(sv_strerror(-(int)N), "unknown error");
    assert_string_equal(sv_strerror(1), "unknown error");
    assert_string_equal(sv_strerror(-1000), "unknown error");
    assert_string_equal(sv_strerror(INT32_MIN), "unknown error");
}

static void test_diag_set_and_clear(void **state)
{
    (void)state;
    sv_diag_t d;
    memset(&d, 'z', sizeof d);
    int rc = sv_diag_set(&d, SV_E_CONFIG, "%s:%d:%d: %s: must be > 0, got %d",
                         "config/risk/default.yaml", 12, 5, "max_order_qty", -1);
    assert_int_equal(rc, SV_E_CONFIG);
    assert_int_equal(d.code, SV_E_CONFIG);
    assert_string_equal(d.msg,
                        "config/risk/default.yaml:12:5: max_order_qty: must be > 0, got -1");
    /* a later set replaces the record */
    assert_int_equal(sv_diag_set(&d, SV_E_PARSE, "x"), SV_E_PARSE);
    assert_int_equal(d.code, SV_E_PARSE);
    assert_string_equal(d.msg, "x");
    /* without a record the code still comes back */
    assert_int_equal(sv_diag_set(NULL, SV_E_SCRIPT, "ignored %d", 1), SV_E_SCRIPT);
    assert_int_equal(sv_diag_set(NULL, SV_OK, "ignored"), SV_OK);
    sv_diag_clear(&d);
    assert_int_equal(d.code, 0);
    assert_string_equal(d.msg, "");
    sv_diag_clear(NULL);
}

static void test_diag_truncates_long_messages(void **state)
{
    (void)state;
    struct {
        sv_diag_t d;
        char guard[64];
    } s;
    memset(&s, 'g', sizeof s);
    char long_text[4000];
    memset(long_text, 'm', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(sv_diag_set(&s.d, SV_E_IO, "%s: %s", "file.csv", long_text), SV_E_IO);
    assert_int_equal(strlen(s.d.msg), sizeof s.d.msg - 1);
    assert_memory_equal(s.d.msg, "file.csv: mmm", 13);
    assert_int_equal(s.d.msg[sizeof s.d.msg - 2], 'm');
    for (size_t i = 0; i < sizeof s.guard; i++)
        assert_int_equal(s.guard[i], 'g');
}

int main(void)
{
    /* a local zone away from UTC, so a timestamp in local time would show */
    setenv("TZ", "XYZ-5", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_level_filter_and_counts, cap_open, cap_close),
        cmocka_unit_test(test_init_and_discard),
        cmocka_unit_test_setup_teardown(test_secret_redaction, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_short_secrets_ignored, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_nested_secrets, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_many_secrets, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_secret_in_component, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_secret_at_truncation_boundary, cap_open, cap_close),
        cmocka_unit_test_setup_teardown(test_long_message_truncated_safely, cap_open, cap_close),
        cmocka_unit_test(test_level_parse_and_name),
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_diag_set_and_clear),
        cmocka_unit_test(test_diag_truncates_long_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
