/* test_tz: engine/tz.h against exact instants around real DST changes, footer rules far past the
 * last transition, TZif files built here (every version and rule form, and broken ones), and
 * glibc's own localtime_r over thousands of instants in many zones (the test may touch TZ; the
 * module never does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#define NS 1000000000LL
#define HOUR_S 3600

/* ---- helpers ---- */

/* ns since the epoch of a UTC date and time (timegm is independent of the module). */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * NS;
}

static sv_tz_t *load(const char *name)
{
    sv_diag_t d = {0};
    sv_tz_t *tz = (sv_tz_t *)0x1;
    int rc = sv_tz_load(name, &tz, &d);
    if (rc != 0 || !tz)
        fail_msg("sv_tz_load(%s) = %d (%s)", name, rc, d.msg);
    return tz;
}

/* to_local at ns must give exactly these fields, and sv_tz_offset the same offset. */
static void local_is(const sv_tz_t *tz, int64_t ns, int y, int mo, int d, int h, int mi, int s,
                     int wd, int32_t off, int dst, const char *abbr)
{
    sv_tz_local_t l;
    memset(&l, 0x55, sizeof l);
    sv_tz_to_local(tz, ns, &l);
    if (l.year != y || l.month != mo || l.day != d || l.hour != h || l.minute != mi ||
        l.second != s || l.weekday != wd || l.utc_offset_s != off || l.is_dst != dst ||
        strcmp(l.abbrev, abbr) != 0)
        fail_msg("%s at %lld: %04d-%02d-%02d %02d:%02d:%02d wd %d off %d dst %d %.8s; want "
                 "%04d-%02d-%02d %02d:%02d:%02d wd %d off %d dst %d %s",
                 sv_tz_name(tz), (long long)ns, l.year, l.month, l.day, l.hour, l.minute,
                 l.second, l.weekday, l.utc_offset_s, l.is_dst, l.abbrev, y, mo, d, h, mi, s, wd,
                 off, dst, abbr);
    if (sv_tz_offset(tz, ns) != off)
        fail_msg("%s: sv_tz_offset(%lld) = %d, want %d", sv_tz_name(tz), (long long)ns,
                 sv_tz_offset(tz, ns), off);
}

static void day_start_is(const sv_tz_t *tz, int64_t ns, int64_t want)
{
    int64_t got = sv_tz_day_start(tz, ns);
    if (got != want)
        fail_msg("%s: day_start(%lld) = %lld, want %lld (off by %lld s)", sv_tz_name(tz),
                 (long long)ns, (long long)got, (long long)want, (long long)((got - want) / NS));
}

/* ---- TZif files built in a temp dir ---- */

typedef struct ttype_spec {
    int32_t off;
    uint8_t isdst, ai;
} ttype_spec_t;

typedef struct spec {
    char version; /* 0, '2', '3' */
    uint32_t ntrans;
    const int64_t *trans;
    const uint8_t *idx;
    uint32_t ntypes;
    const ttype_spec_t *types;
    const char *chars; /* abbreviations, NULs included */
    uint32_t nchars;
    const char *footer; /* v2+: the TZ string */
} spec_t;

typedef struct buf {
    uint8_t b[8192];
    size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    if (n == 0)
        return;
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put32(buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static void put64(buf_t *b, int64_t v)
{
    put32(b, (uint32_t)((uint64_t)v >> 32));
    put32(b, (uint32_t)v);
}

static void put_header(buf_t *b, char version, uint32_t ntrans, uint32_t ntypes, uint32_t nchars)
{
    uint8_t pad[15] = {0};
    put(b, "TZif", 4);
    put(b, &version, 1);
    put(b, pad, 15);
    put32(b, 0); /* isutcnt */
    put32(b, 0); /* isstdcnt */
    put32(b, 0); /* leapcnt */
    put32(b, ntrans);
    put32(b, ntypes);
    put32(b, nchars);
}

static void put_block(buf_t *b, const spec_t *s, int tsize)
{
    for (uint32_t i = 0; i < s->ntrans; i++)
        tsize == 8 ? put64(b, s->trans[i]) : put32(b, (uint32_t)(int32_t)s->trans[i]);
    put(b, s->idx, s->ntrans);
    for (uint32_t i = 0; i < s->ntypes; i++) {
        put32(b, (uint32_t)s->types[i].off);
        put(b, &s->types[i].isdst, 1);
        put(b, &s->types[i].ai, 1);
    }
    put(b, s->chars, s->nchars);
}

/* A v1 file holds the data once; a v2+ file a minimal 32-bit block, then the data, then the
 * footer, as zic -b slim writes them. */
static void build(const spec_t *s, buf_t *b)
{
    b->n = 0;
    if (s->version == 0) {
        put_header(b, 0, s->ntrans, s->ntypes, s->nchars);
        put_block(b, s, 4);
        return;
    }
    static const ttype_spec_t t0 = {0, 0, 0};
    spec_t v1 = {0, 0, NULL, NULL, 1, &t0, "", 1, NULL};
    put_header(b, s->version, 0, 1, 1);
    put_block(b, &v1, 4);
    put_header(b, s->version, s->ntrans, s->ntypes, s->nchars);
    put_block(b, s, 8);
    put(b, "\n", 1);
    put(b, s->footer, strlen(s->footer));
    put(b, "\n", 1);
}

typedef struct tmp {
    char dir[64];
} tmp_t;

static int tmp_setup(void **state)
{
    tmp_t *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    strcpy(t->dir, "/tmp/test_tz.XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_t *t = *state;
    rmdir(t->dir);
    free(t);
    return 0;
}

/* Writes bytes as zone `name` in dir and loads it with sv_tz_load_from; the file is removed. */
static int load_bytes(const char *dir, const char *name, const void *p, size_t n, sv_tz_t **out,
                      sv_diag_t *d)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    memset(d, 0, sizeof *d);
    int rc = sv_tz_load_from(dir, name, out, d);
    unlink(path);
    return rc;
}

static sv_tz_t *load_spec(const char *dir, const spec_t *s)
{
    buf_t b;
    sv_diag_t d;
    sv_tz_t *tz = NULL;
    build(s, &b);
    int rc = load_bytes(dir, "built", b.b, b.n, &tz, &d);
    if (rc != 0)
        fail_msg("loading a built zone (footer %s): %d %s", s->footer ? s->footer : "-", rc,
                 d.msg);
    return tz;
}

/* The bytes must be refused with SV_E_PARSE and exactly "<dir>/bad: <reason>". */
static void parse_fails(const char *dir, const void *p, size_t n, const char *reason)
{
    sv_diag_t d;
    sv_tz_t *tz = (sv_tz_t *)0x1;
    int rc = load_bytes(dir, "bad", p, n, &tz, &d);
    char want[512];
    snprintf(want, sizeof want, "%s/bad: %s", dir, reason);
    if (rc != SV_E_PARSE || tz != NULL || d.code != SV_E_PARSE || strcmp(d.msg, want) != 0)
        fail_msg("rc %d tz %p msg \"%s\"; want SV_E_PARSE \"%s\"", rc, (void *)tz, d.msg, want);
}

static void spec_fails(const char *dir, const spec_t *s, const char *reason)
{
    buf_t b;
    build(s, &b);
    parse_fails(dir, b.b, b.n, reason);
}

static size_t read_system(const char *name, uint8_t *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

/* ---- UTC ---- */

static void test_utc(void **state)
{
    (void)state;
    sv_tz_t *a = load("UTC"), *b = load("");
    assert_string_equal(sv_tz_name(a), "UTC");
    assert_string_equal(sv_tz_name(b), "UTC");
    sv_tz_t *zs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        local_is(zs[i], utc(2024, 3, 10, 6, 59, 59), 2024, 3, 10, 6, 59, 59, 6, 0, 0, "UTC");
        local_is(zs[i], 0, 1970, 1, 1, 0, 0, 0, 3, 0, 0, "UTC");
        local_is(zs[i], -1, 1969, 12, 31, 23, 59, 59, 2, 0, 0, "UTC");
        local_is(zs[i], utc(1900, 1, 1, 0, 0, 0), 1900, 1, 1, 0, 0, 0, 0, 0, 0, "UTC");
        local_is(zs[i], utc(2200, 12, 31, 23, 59, 59), 2200, 12, 31, 23, 59, 59, 2, 0, 0, "UTC");
        local_is(zs[i], utc(2000, 2, 29, 12, 0, 0), 2000, 2, 29, 12, 0, 0, 1, 0, 0, "UTC");
        day_start_is(zs[i], utc(2024, 3, 10, 6, 59, 59) + 123456789, utc(2024, 3, 10, 0, 0, 0));
        day_start_is(zs[i], -1, -86400 * NS);
        day_start_is(zs[i], 0, 0);
    }
    sv_tz_free(a);
    sv_tz_free(b);
    sv_tz_free(NULL);
}

/* Every day 1900..2200 at noon in UTC, against glibc's gmtime_r: the calendar math. */
static void test_calendar_1900_2200(void **state)
{
    (void)state;
    sv_tz_t *tz = load("UTC");
    for (int64_t t = utc(1900, 1, 1, 12, 0, 0) / NS; t < utc(2201, 1, 1, 0, 0, 0) / NS;
         t += 86400) {
        time_t tt = (time_t)t;
        struct tm g;
        assert_non_null(gmtime_r(&tt, &g));
        local_is(tz, t * NS + 999999999, g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, 12, 0, 0,
                 (g.tm_wday + 6) % 7, 0, 0, "UTC");
        day_start_is(tz, t * NS, (t - 12 * HOUR_S) * NS);
    }
    sv_tz_free(tz);
}

/* ---- real zones at exact instants ---- */

static void test_new_york_2024(void **state)
{
    (void)state;
    sv_tz_t *tz = load("America/New_York");
    assert_string_equal(sv_tz_name(tz), "America/New_York");
    local_is(tz, utc(2024, 3, 10, 6, 59, 59), 2024, 3, 10, 1, 59, 59, 6, -18000, 0, "EST");
    local_is(tz, utc(2024, 3, 10, 7, 0, 0) - 1, 2024, 3, 10, 1, 59, 59, 6, -18000, 0, "EST");
    local_is(tz, utc(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 3, 0, 0, 6, -14400, 1, "EDT");
    local_is(tz, utc(2024, 11, 3, 5, 59, 59), 2024, 11, 3, 1, 59, 59, 6, -14400, 1, "EDT");
    local_is(tz, utc(2024, 11, 3, 6, 0, 0), 2024, 11, 3, 1, 0, 0, 6, -18000, 0, "EST");
    local_is(tz, utc(2024, 7, 4, 16, 0, 0), 2024, 7, 4, 12, 0, 0, 3, -14400, 1, "EDT");
    local_is(tz, utc(2024, 1, 1, 4, 59, 59), 2023, 12, 31, 23, 59, 59, 6, -18000, 0, "EST");
    /* 1883-11-18 17:00 LMT (-4:56:02) is the first transition; before it, local mean time */
    local_is(tz, utc(1883, 11, 18, 16, 0, 0), 1883, 11, 18, 11, 3, 58, 6, -17762, 0, "LMT");
    local_is(tz, utc(1900, 1, 1, 5, 0, 0), 1900, 1, 1, 0, 0, 0, 0, -18000, 0, "EST");
    sv_tz_free(tz);
}

/* Past the last transition in the file (2037) only the footer "EST5EDT,M3.2.0,M11.1.0" knows. */
static void test_footer_rules_far_future(void **state)
{
    (void)state;
    sv_tz_t *ny = load("America/New_York");
    local_is(ny, utc(2150, 7, 1, 12, 0, 0), 2150, 7, 1, 8, 0, 0, 2, -14400, 1, "EDT");
    local_is(ny, utc(2150, 1, 15, 12, 0, 0), 2150, 1, 15, 7, 0, 0, 3, -18000, 0, "EST");
    local_is(ny, utc(2150, 3, 8, 7, 0, 0) - 1, 2150, 3, 8, 1, 59, 59, 6, -18000, 0, "EST");
    local_is(ny, utc(2150, 3, 8, 7, 0, 0), 2150, 3, 8, 3, 0, 0, 6, -14400, 1, "EDT");
    local_is(ny, utc(2150, 11, 1, 6, 0, 0) - 1, 2150, 11, 1, 1, 59, 59, 6, -14400, 1, "EDT");
    local_is(ny, utc(2150, 11, 1, 6, 0, 0), 2150, 11, 1, 1, 0, 0, 6, -18000, 0, "EST");
    day_start_is(ny, utc(2150, 3, 8, 20, 0, 0), utc(2150, 3, 8, 5, 0, 0));
    day_start_is(ny, utc(2150, 11, 1, 20, 0, 0), utc(2150, 11, 1, 4, 0, 0));
    sv_tz_free(ny);

    /* "GMT0BST,M3.5.0/1,M10.5.0" */
    sv_tz_t *lon = load("Europe/London");
    local_is(lon, utc(2150, 3, 29, 1, 0, 0) - 1, 2150, 3, 29, 0, 59, 59, 6, 0, 0, "GMT");
    local_is(lon, utc(2150, 3, 29, 1, 0, 0), 2150, 3, 29, 2, 0, 0, 6, 3600, 1, "BST");
    local_is(lon, utc(2150, 10, 25, 1, 0, 0) - 1, 2150, 10, 25, 1, 59, 59, 6, 3600, 1, "BST");
    local_is(lon, utc(2150, 10, 25, 1, 0, 0), 2150, 10, 25, 1, 0, 0, 6, 0, 0, "GMT");
    sv_tz_free(lon);

    /* "<+0330>-3:30": a quoted name and a minutes offset, no DST */
    sv_tz_t *teh = load("Asia/Tehran");
    local_is(teh, utc(2150, 6, 1, 0, 0, 0), 2150, 6, 1, 3, 30, 0, 0, 12600, 0, "+0330");
    sv_tz_free(teh);

    /* v3 "IST-2IDT,M3.4.4/26,M10.5.0": Thursday of the 4th week at 26:00, i.e. Friday 02:00 */
    sv_tz_t *jer = load("Asia/Jerusalem");
    local_is(jer, utc(2150, 3, 27, 0, 0, 0) - 1, 2150, 3, 27, 1, 59, 59, 4, 7200, 0, "IST");
    local_is(jer, utc(2150, 3, 27, 0, 0, 0), 2150, 3, 27, 3, 0, 0, 4, 10800, 1, "IDT");
    local_is(jer, utc(2150, 10, 24, 23, 0, 0) - 1, 2150, 10, 25, 1, 59, 59, 6, 10800, 1, "IDT");
    local_is(jer, utc(2150, 10, 24, 23, 0, 0), 2150, 10, 25, 1, 0, 0, 6, 7200, 0, "IST");
    sv_tz_free(jer);

    /* v3 "<-02>2<-01>,M3.5.0/-1,M10.5.0/0": a negative hour moves the change to Saturday */
    sv_tz_t *nuuk = load("America/Nuuk");
    local_is(nuuk, utc(2150, 3, 29, 1, 0, 0) - 1, 2150, 3, 28, 22, 59, 59, 5, -7200, 0, "-02");
    local_is(nuuk, utc(2150, 3, 29, 1, 0, 0), 2150, 3, 29, 0, 0, 0, 6, -3600, 1, "-01");
    local_is(nuuk, utc(2150, 10, 25, 1, 0, 0) - 1, 2150, 10, 24, 23, 59, 59, 5, -3600, 1, "-01");
    local_is(nuuk, utc(2150, 10, 25, 1, 0, 0), 2150, 10, 24, 23, 0, 0, 5, -7200, 0, "-02");
    sv_tz_free(nuuk);
}

static void test_london_2024(void **state)
{
    (void)state;
    sv_tz_t *tz = load("Europe/London");
    local_is(tz, utc(2024, 3, 31, 0, 59, 59), 2024, 3, 31, 0, 59, 59, 6, 0, 0, "GMT");
    local_is(tz, utc(2024, 3, 31, 1, 0, 0), 2024, 3, 31, 2, 0, 0, 6, 3600, 1, "BST");
    local_is(tz, utc(2024, 10, 27, 0, 59, 59), 2024, 10, 27, 1, 59, 59, 6, 3600, 1, "BST");
    local_is(tz, utc(2024, 10, 27, 1, 0, 0), 2024, 10, 27, 1, 0, 0, 6, 0, 0, "GMT");
    /* British Standard Time: +1 all year, 1968-10-27 .. 1971-10-31 */
    local_is(tz, utc(1970, 1, 1, 0, 0, 0), 1970, 1, 1, 1, 0, 0, 3, 3600, 0, "BST");
    day_start_is(tz, utc(2024, 7, 1, 12, 0, 0), utc(2024, 6, 30, 23, 0, 0));
    day_start_is(tz, utc(2024, 1, 1, 12, 0, 0), utc(2024, 1, 1, 0, 0, 0));
    sv_tz_free(tz);
}

static void test_kolkata(void **state)
{
    (void)state;
    sv_tz_t *tz = load("Asia/Kolkata");
    local_is(tz, utc(2024, 1, 1, 0, 0, 0), 2024, 1, 1, 5, 30, 0, 0, 19800, 0, "IST");
    local_is(tz, utc(2024, 6, 30, 18, 29, 59), 2024, 6, 30, 23, 59, 59, 6, 19800, 0, "IST");
    local_is(tz, utc(2024, 6, 30, 18, 30, 0), 2024, 7, 1, 0, 0, 0, 0, 19800, 0, "IST");
    local_is(tz, utc(2190, 6, 30, 18, 30, 0), 2190, 7, 1, 0, 0, 0, 3, 19800, 0, "IST");
    day_start_is(tz, utc(2024, 7, 1, 12, 0, 0), utc(2024, 6, 30, 18, 30, 0));
    day_start_is(tz, utc(2024, 6, 30, 18, 30, 0), utc(2024, 6, 30, 18, 30, 0));
    day_start_is(tz, utc(2024, 6, 30, 18, 30, 0) - 1, utc(2024, 6, 29, 18, 30, 0));
    sv_tz_free(tz);
}

/* Lord Howe Island moves its clocks by 30 minutes: +10:30 standard, +11 in summer. */
static void test_lord_howe(void **state)
{
    (void)state;
    sv_tz_t *tz = load("Australia/Lord_Howe");
    local_is(tz, utc(2024, 4, 6, 15, 0, 0) - 1, 2024, 4, 7, 1, 59, 59, 6, 39600, 1, "+11");
    local_is(tz, utc(2024, 4, 6, 15, 0, 0), 2024, 4, 7, 1, 30, 0, 6, 37800, 0, "+1030");
    local_is(tz, utc(2024, 10, 5, 15, 30, 0) - 1, 2024, 10, 6, 1, 59, 59, 6, 37800, 0, "+1030");
    local_is(tz, utc(2024, 10, 5, 15, 30, 0), 2024, 10, 6, 2, 30, 0, 6, 39600, 1, "+11");
    day_start_is(tz, utc(2024, 10, 6, 6, 0, 0), utc(2024, 10, 5, 13, 30, 0));
    day_start_is(tz, utc(2024, 4, 7, 6, 0, 0), utc(2024, 4, 6, 13, 0, 0));
    /* the footer "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0" */
    local_is(tz, utc(2160, 1, 1, 0, 0, 0), 2160, 1, 1, 11, 0, 0, 1, 39600, 1, "+11");
    local_is(tz, utc(2160, 7, 1, 0, 0, 0), 2160, 7, 1, 10, 30, 0, 1, 37800, 0, "+1030");
    sv_tz_free(tz);
}

/* Southern hemisphere: DST spans the new year. */
static void test_sydney(void **state)
{
    (void)state;
    sv_tz_t *tz = load("Australia/Sydney");
    local_is(tz, utc(2024, 4, 6, 16, 0, 0) - 1, 2024, 4, 7, 2, 59, 59, 6, 39600, 1, "AEDT");
    local_is(tz, utc(2024, 4, 6, 16, 0, 0), 2024, 4, 7, 2, 0, 0, 6, 36000, 0, "AEST");
    local_is(tz, utc(2024, 10, 5, 16, 0, 0) - 1, 2024, 10, 6, 1, 59, 59, 6, 36000, 0, "AEST");
    local_is(tz, utc(2024, 10, 5, 16, 0, 0), 2024, 10, 6, 3, 0, 0, 6, 39600, 1, "AEDT");
    local_is(tz, utc(2024, 12, 31, 13, 0, 0), 2025, 1, 1, 0, 0, 0, 2, 39600, 1, "AEDT");
    local_is(tz, utc(2100, 1, 15, 0, 0, 0), 2100, 1, 15, 11, 0, 0, 4, 39600, 1, "AEDT");
    local_is(tz, utc(2100, 7, 15, 0, 0, 0), 2100, 7, 15, 10, 0, 0, 3, 36000, 0, "AEST");
    local_is(tz, utc(2150, 4, 4, 16, 0, 0) - 1, 2150, 4, 5, 2, 59, 59, 6, 39600, 1, "AEDT");
    local_is(tz, utc(2150, 4, 4, 16, 0, 0), 2150, 4, 5, 2, 0, 0, 6, 36000, 0, "AEST");
    local_is(tz, utc(2150, 10, 3, 16, 0, 0), 2150, 10, 4, 3, 0, 0, 6, 39600, 1, "AEDT");
    day_start_is(tz, utc(2024, 10, 6, 5, 0, 0), utc(2024, 10, 5, 14, 0, 0));
    day_start_is(tz, utc(2024, 4, 7, 5, 0, 0), utc(2024, 4, 6, 13, 0, 0));
    day_start_is(tz, utc(2150, 1, 1, 5, 0, 0), utc(2149, 12, 31, 13, 0, 0));
    sv_tz_free(tz);
}

/* ---- the start of a local day ---- */

static void test_day_start_dst_days(void **state)
{
    (void)state;
    sv_tz_t *ny = load("America/New_York");
    /* 2024-03-10, 23 hours: midnight is EST */
    int64_t mar = utc(2024, 3, 10, 5, 0, 0);
    day_start_is(ny, mar, mar);
    day_start_is(ny, utc(2024, 3, 10, 6, 59, 59), mar);
    day_start_is(ny, utc(2024, 3, 10, 7, 0, 0), mar);
    day_start_is(ny, utc(2024, 3, 11, 4, 0, 0) - 1, mar);
    day_start_is(ny, utc(2024, 3, 11, 4, 0, 0), utc(2024, 3, 11, 4, 0, 0));
    day_start_is(ny, mar - 1, utc(2024, 3, 9, 5, 0, 0));
    /* 2024-11-03, 25 hours: midnight is EDT; 01:xx happens twice */
    int64_t nov = utc(2024, 11, 3, 4, 0, 0);
    day_start_is(ny, nov, nov);
    day_start_is(ny, utc(2024, 11, 3, 5, 30, 0), nov);
    day_start_is(ny, utc(2024, 11, 3, 6, 30, 0), nov);
    day_start_is(ny, utc(2024, 11, 4, 5, 0, 0) - 1, nov);
    day_start_is(ny, utc(2024, 11, 4, 5, 0, 0), utc(2024, 11, 4, 5, 0, 0));
    sv_tz_free(ny);

    /* Santiago springs forward at 24:00: 2024-09-08 has no midnight and starts at 01:00 -03 */
    sv_tz_t *scl = load("America/Santiago");
    local_is(scl, utc(2024, 9, 8, 4, 0, 0) - 1, 2024, 9, 7, 23, 59, 59, 5, -14400, 0, "-04");
    local_is(scl, utc(2024, 9, 8, 4, 0, 0), 2024, 9, 8, 1, 0, 0, 6, -10800, 1, "-03");
    day_start_is(scl, utc(2024, 9, 8, 4, 0, 0), utc(2024, 9, 8, 4, 0, 0));
    day_start_is(scl, utc(2024, 9, 8, 15, 0, 0), utc(2024, 9, 8, 4, 0, 0));
    day_start_is(scl, utc(2024, 9, 8, 4, 0, 0) - 1, utc(2024, 9, 7, 4, 0, 0));
    sv_tz_free(scl);

    /* Beirut changes at 00:00: 2024-03-31 starts at 01:00 EEST; on 2024-10-27 00:00 EEST
     * becomes 23:00 EET, so 2024-10-26 lasts 25 hours and 10-27 starts at 00:00 EET */
    sv_tz_t *bey = load("Asia/Beirut");
    local_is(bey, utc(2024, 3, 30, 22, 0, 0), 2024, 3, 31, 1, 0, 0, 6, 10800, 1, "EEST");
    day_start_is(bey, utc(2024, 3, 31, 12, 0, 0), utc(2024, 3, 30, 22, 0, 0));
    day_start_is(bey, utc(2024, 3, 30, 22, 0, 0) - 1, utc(2024, 3, 29, 22, 0, 0));
    local_is(bey, utc(2024, 10, 26, 21, 0, 0) - 1, 2024, 10, 26, 23, 59, 59, 5, 10800, 1,
             "EEST");
    local_is(bey, utc(2024, 10, 26, 21, 0, 0), 2024, 10, 26, 23, 0, 0, 5, 7200, 0, "EET");
    day_start_is(bey, utc(2024, 10, 26, 21, 30, 0), utc(2024, 10, 25, 21, 0, 0));
    day_start_is(bey, utc(2024, 10, 26, 22, 0, 0), utc(2024, 10, 26, 22, 0, 0));
    day_start_is(bey, utc(2024, 10, 26, 22, 30, 0), utc(2024, 10, 26, 22, 0, 0));
    sv_tz_free(bey);
}

/* ---- TZif files built here: versions and rule forms ---- */

static void test_built_v1_no_footer(void **state)
{
    tmp_t *t = *state;
    static const int64_t trans[] = {1000000000};
    static const uint8_t idx[] = {1};
    static const ttype_spec_t types[] = {{3600, 0, 0}, {7200, 1, 4}};
    spec_t s = {0, 1, trans, idx, 2, types, "AAA\0BBB", 8, NULL};
    sv_tz_t *tz = load_spec(t->dir, &s);
    assert_string_equal(sv_tz_name(tz), "built");
    local_is(tz, 1000000000 * NS - 1, 2001, 9, 9, 2, 46, 39, 6, 3600, 0, "AAA");
    local_is(tz, 1000000000 * NS, 2001, 9, 9, 3, 46, 40, 6, 7200, 1, "BBB");
    /* no footer: the last type holds for ever */
    local_is(tz, utc(2150, 1, 1, 0, 0, 0), 2150, 1, 1, 2, 0, 0, 3, 7200, 1, "BBB");
    sv_tz_free(tz);

    /* v2 with an empty footer: the same */
    s.version = '2';
    s.footer = "";
    tz = load_spec(t->dir, &s);
    local_is(tz, utc(2150, 1, 1, 0, 0, 0), 2150, 1, 1, 2, 0, 0, 3, 7200, 1, "BBB");
    local_is(tz, utc(1900, 1, 1, 0, 0, 0), 1900, 1, 1, 1, 0, 0, 0, 3600, 0, "AAA");
    sv_tz_free(tz);
}

/* No transitions: the footer rules all time (RFC 8536 3.2). */
static void test_built_julian_and_zero_based_days(void **state)
{
    tmp_t *t = *state;
    static const ttype_spec_t types[] = {{-10800, 0, 0}};
    /* J60 is Mar 1 in every year (Feb 29 never counts); 300 counts Feb 29, so it is Oct 27 in
     * 2024 and Oct 28 in 2023 */
    spec_t s = {'2', 0, NULL, NULL, 1, types, "AAA", 4, "AAA3BBB,J60/2,300/3"};
    sv_tz_t *tz = load_spec(t->dir, &s);
    local_is(tz, utc(2024, 3, 1, 5, 0, 0) - 1, 2024, 3, 1, 1, 59, 59, 4, -10800, 0, "AAA");
    local_is(tz, utc(2024, 3, 1, 5, 0, 0), 2024, 3, 1, 3, 0, 0, 4, -7200, 1, "BBB");
    local_is(tz, utc(2024, 10, 27, 5, 0, 0) - 1, 2024, 10, 27, 2, 59, 59, 6, -7200, 1, "BBB");
    local_is(tz, utc(2024, 10, 27, 5, 0, 0), 2024, 10, 27, 2, 0, 0, 6, -10800, 0, "AAA");
    local_is(tz, utc(2023, 3, 1, 5, 0, 0), 2023, 3, 1, 3, 0, 0, 2, -7200, 1, "BBB");
    local_is(tz, utc(2023, 10, 28, 5, 0, 0) - 1, 2023, 10, 28, 2, 59, 59, 5, -7200, 1, "BBB");
    local_is(tz, utc(2023, 10, 28, 5, 0, 0), 2023, 10, 28, 2, 0, 0, 5, -10800, 0, "AAA");
    local_is(tz, utc(1950, 7, 1, 0, 0, 0), 1950, 6, 30, 22, 0, 0, 4, -7200, 1, "BBB");
    sv_tz_free(tz);

    /* a rule without a daylight offset is one hour ahead, and one without dates is the US rule */
    s.footer = "AAA3BBB";
    tz = load_spec(t->dir, &s);
    local_is(tz, utc(2024, 3, 10, 5, 0, 0) - 1, 2024, 3, 10, 1, 59, 59, 6, -10800, 0, "AAA");
    local_is(tz, utc(2024, 3, 10, 5, 0, 0), 2024, 3, 10, 3, 0, 0, 6, -7200, 1, "BBB");
    sv_tz_free(tz);

    /* an explicit daylight offset, with seconds */
    s.footer = "<-0230>2:30<-01>1:00:00,M3.5.0,M10.5.0/3:00:30";
    tz = load_spec(t->dir, &s);
    local_is(tz, utc(2024, 7, 1, 0, 0, 0), 2024, 6, 30, 23, 0, 0, 6, -3600, 1, "-01");
    local_is(tz, utc(2024, 10, 27, 4, 0, 30) - 1, 2024, 10, 27, 3, 0, 29, 6, -3600, 1, "-01");
    local_is(tz, utc(2024, 10, 27, 4, 0, 30), 2024, 10, 27, 1, 30, 30, 6, -9000, 0, "-0230");
    sv_tz_free(tz);
}

/* v3: "EST5EDT,0/0,J365/25" is daylight time all year; the end (Dec 31 25:00 EDT) meets the next
 * start (Jan 1 00:00 EST), and it stays daylight time across the new year. */
static void test_built_v3_all_year_dst(void **state)
{
    tmp_t *t = *state;
    static const ttype_spec_t types[] = {{-14400, 1, 0}};
    spec_t s = {'3', 0, NULL, NULL, 1, types, "EDT", 4, "EST5EDT,0/0,J365/25"};
    sv_tz_t *tz = load_spec(t->dir, &s);
    local_is(tz, utc(2030, 1, 1, 2, 0, 0), 2029, 12, 31, 22, 0, 0, 0, -14400, 1, "EDT");
    local_is(tz, utc(2030, 1, 1, 5, 0, 0), 2030, 1, 1, 1, 0, 0, 1, -14400, 1, "EDT");
    local_is(tz, utc(2030, 1, 1, 5, 0, 0) - 1, 2030, 1, 1, 0, 59, 59, 1, -14400, 1, "EDT");
    local_is(tz, utc(2030, 6, 1, 0, 0, 0), 2030, 5, 31, 20, 0, 0, 4, -14400, 1, "EDT");
    local_is(tz, utc(2032, 12, 31, 23, 0, 0), 2032, 12, 31, 19, 0, 0, 4, -14400, 1, "EDT");
    local_is(tz, utc(2033, 1, 1, 4, 30, 0), 2033, 1, 1, 0, 30, 0, 5, -14400, 1, "EDT");
    day_start_is(tz, utc(2033, 1, 1, 12, 0, 0), utc(2033, 1, 1, 4, 0, 0));
    sv_tz_free(tz);

    /* the v3 forms are refused in a v2 file */
    s.version = '2';
    spec_fails(t->dir, &s, "TZ string footer \"EST5EDT,0/0,J365/25\": bad daylight time end");
    s.footer = "<-02>2<-01>,M3.5.0/-1,M10.5.0/0";
    spec_fails(t->dir, &s,
               "TZ string footer \"<-02>2<-01>,M3.5.0/-1,M10.5.0/0\": bad daylight time start");
}

/* ---- errors ---- */

static void test_bad_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int rc;
        const char *msg;
    } cases[] = {
        {"Mars/Olympus", SV_E_NOTFOUND,
         "Mars/Olympus: unknown time zone (no file /usr/share/zoneinfo/Mars/Olympus)"},
        {"America/New_York/x", SV_E_NOTFOUND,
         "America/New_York/x: unknown time zone (no file /usr/share/zoneinfo/America/New_York/x)"},
        {"America", SV_E_NOTFOUND,
         "America: unknown time zone (/usr/share/zoneinfo/America is not a file)"},
        {"../etc/passwd", SV_E_INVAL,
         "../etc/passwd: zone names may not start with '/' or contain '..'"},
        {"America/../../etc/passwd", SV_E_INVAL,
         "America/../../etc/passwd: zone names may not start with '/' or contain '..'"},
        {"/etc/passwd", SV_E_INVAL,
         "/etc/passwd: zone names may not start with '/' or contain '..'"},
        {"New York", SV_E_INVAL, "New York: bad character 0x20 in zone name"},
        {"utc", SV_E_NOTFOUND, "utc: unknown time zone (no file /usr/share/zoneinfo/utc)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sv_diag_t d = {0};
        sv_tz_t *tz = (sv_tz_t *)0x1;
        int rc = sv_tz_load(cases[i].name, &tz, &d);
        if (rc != cases[i].rc || tz != NULL || d.code != rc || strcmp(d.msg, cases[i].msg) != 0)
            fail_msg("%s: rc %d (%s) \"%s\", want %d \"%s\"", cases[i].name, rc, sv_strerror(rc),
                     d.msg, cases[i].rc, cases[i].msg);
    }
    sv_diag_t d = {0};
    sv_tz_t *tz;
    assert_int_equal(sv_tz_load(NULL, &tz, &d), SV_E_INVAL);
    assert_null(tz);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(sv_tz_load(longname, &tz, &d), SV_E_INVAL);
    assert_string_equal(d.msg, "tz: zone name of 299 bytes is too long");

    /* a right/ zone counts leap seconds in its times; the engine's times are POSIX */
    if (access("/usr/share/zoneinfo/right/America/New_York", R_OK) == 0) {
        assert_int_equal(sv_tz_load("right/America/New_York", &tz, &d), SV_E_UNSUPPORTED);
        assert_null(tz);
        assert_string_equal(d.msg, "/usr/share/zoneinfo/right/America/New_York: has leap-second "
                                   "records (a right/ zone); times here are POSIX");
    }
}

static void test_garbage_and_truncated_files(void **state)
{
    tmp_t *t = *state;
    parse_fails(t->dir, "", 0, "truncated header (0 bytes)");
    static const char garbage[] = "this is not a zone file, it is just some text long enough";
    parse_fails(t->dir, garbage, sizeof garbage, "not a TZif file (bad magic)");

    uint8_t ny[8192];
    size_t n = read_system("America/New_York", ny, sizeof ny);
    sv_diag_t d;
    sv_tz_t *tz;
    assert_int_equal(load_bytes(t->dir, "whole", ny, n, &tz, &d), 0);
    local_is(tz, utc(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 3, 0, 0, 6, -14400, 1, "EDT");
    sv_tz_free(tz);

    /* every truncation is refused, each with the file's path */
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/bad: ", t->dir);
    for (size_t len = 0; len < n; len++) {
        tz = (sv_tz_t *)0x1;
        int rc = load_bytes(t->dir, "bad", ny, len, &tz, &d);
        if (rc != SV_E_PARSE || tz != NULL || strncmp(d.msg, prefix, strlen(prefix)) != 0)
            fail_msg("New_York cut to %zu bytes: rc %d \"%s\"", len, rc, d.msg);
    }
    parse_fails(t->dir, ny, 43, "truncated header (43 bytes)");
    parse_fails(t->dir, ny, 100, "truncated (no version 2 data)");
    parse_fails(t->dir, ny, n - 1, "unterminated TZ string footer");

    uint8_t bad[8192];
    memcpy(bad, ny, n);
    bad[4] = '9';
    parse_fails(t->dir, bad, n, "unknown TZif version");
}

static void test_malformed_built_files(void **state)
{
    tmp_t *t = *state;
    const char *dir = t->dir;
    static const int64_t trans[] = {100, 200, 300};
    static const uint8_t idx[] = {1, 0, 1};
    static const ttype_spec_t types[] = {{3600, 0, 0}, {7200, 1, 4}};
    static const char chars[] = "AAA\0BBB";
    const spec_t good = {'2', 3, trans, idx, 2, types, chars, 8, "AAA-1"};
    sv_tz_t *tz = load_spec(dir, &good);
    sv_tz_free(tz);

    spec_t s = good;
    static const int64_t unsorted[] = {100, 300, 300};
    s.trans = unsorted;
    spec_fails(dir, &s, "transition 2 is not after transition 1");

    s = good;
    static const uint8_t bad_idx[] = {1, 2, 0};
    s.idx = bad_idx;
    spec_fails(dir, &s, "transition 1 names type 2 of 2");

    s = good;
    static const ttype_spec_t bad_ai[] = {{3600, 0, 0}, {7200, 1, 8}};
    s.types = bad_ai;
    spec_fails(dir, &s, "type 1 names abbreviation byte 8 of 8");

    s = good;
    s.chars = "AAA\0BBBB";
    spec_fails(dir, &s, "type 1 abbreviation is not NUL-terminated");

    s = good;
    static const ttype_spec_t bad_off[] = {{3600, 0, 0}, {93600, 1, 4}};
    s.types = bad_off;
    spec_fails(dir, &s, "type 1 has UT offset 93600 s, out of range");

    s = good;
    static const ttype_spec_t bad_dst[] = {{3600, 2, 0}, {7200, 1, 4}};
    s.types = bad_dst;
    spec_fails(dir, &s, "type 0 has DST flag 2");

    s = good;
    s.ntrans = 0;
    s.ntypes = 0;
    spec_fails(dir, &s, "no local time types");

    s = good;
    s.ntrans = 0;
    s.ntypes = 1;
    s.nchars = 0;
    spec_fails(dir, &s, "no abbreviation characters");

    static const struct {
        const char *footer, *why;
    } footers[] = {
        {"EST5EDT,M13.1.0,M11.1.0", "bad daylight time start"},
        {"EST5EDT,M3.6.0,M11.1.0", "bad daylight time start"},
        {"EST5EDT,M3.2.7,M11.1.0", "bad daylight time start"},
        {"EST5EDT,M3.2.0", "bad daylight time end"},
        {"EST5EDT,J0,J365", "bad daylight time start"},
        {"EST5EDT,0,366", "bad daylight time end"},
        {"EST5EDT,M3.2.0/25,M11.1.0", "bad daylight time start"},
        {"EST5EDT,M3.2.0,M11.1.0,", "trailing text"},
        {"EST5EDT,M3.2.0,M11.1.0/2:60", "bad daylight time end"},
        {"EST5 EDT", "bad daylight time name"},
        {"EST", "bad standard time offset"},
        {"EST25", "bad standard time offset"},
        {"ES5", "bad standard time name"},
        {"<E+>5", "bad standard time name"},
        {"<EST5", "bad standard time name"},
        {"5", "bad standard time name"},
        {"EST5ED", "bad daylight time name"},
        {"EST5EDT-", "bad daylight time offset"},
    };
    for (size_t i = 0; i < sizeof footers / sizeof footers[0]; i++) {
        char why[256];
        s = good;
        s.footer = footers[i].footer;
        snprintf(why, sizeof why, "TZ string footer \"%s\": %s", footers[i].footer, footers[i].why);
        spec_fails(dir, &s, why);
    }

    /* a header whose counts overrun the file: the size check must not overflow */
    buf_t b;
    build(&good, &b);
    size_t v2; /* the second header */
    for (v2 = 4; v2 < b.n - 4; v2++)
        if (memcmp(b.b + v2, "TZif", 4) == 0)
            break;
    assert_true(v2 < b.n - 4);
    memset(b.b + v2 + 32, 0xff, 4); /* timecnt = 2^32 - 1 */
    char why[256];
    snprintf(why, sizeof why,
             "truncated (4294967295 transitions, 2 types, 8 abbreviation bytes need 38654705675 "
             "bytes, %zu left)",
             b.n - v2 - 44);
    parse_fails(dir, b.b, b.n, why);
    build(&good, &b);
    memset(b.b + 20, 0xff, 24); /* every v1 count 2^32 - 1 */
    parse_fails(dir, b.b, b.n, "truncated (no version 2 data)");
    build(&good, &b);
    b.b[v2 + 4] = 0;
    parse_fails(dir, b.b, b.n, "second header is version 1");
    build(&good, &b);
    b.b[v2] = 'X';
    parse_fails(dir, b.b, b.n, "second header: not a TZif file (bad magic)");
    build(&good, &b);
    b.b[b.n - strlen("AAA-1") - 2] = 'x';
    parse_fails(dir, b.b, b.n, "missing TZ string footer");
    build(&good, &b);
    b.b[b.n - 3] = '\0';
    parse_fails(dir, b.b, b.n, "NUL in TZ string footer");
}

/* Random corruption of a real file: refused or loaded, never a crash or a wild read (this is
 * what the sanitizer build is for), and a loaded zone still answers sanely. */
static void test_mutated_files(void **state)
{
    tmp_t *t = *state;
    uint8_t ny[8192], m[8192];
    size_t n = read_system("America/New_York", ny, sizeof ny);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int loaded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(m, ny, n);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* half the time hit the headers, where a byte changes the most */
            size_t at = (x >> 8) % 2 ? (x >> 16) % n : (x >> 16) % 44 + (iter % 3 ? 0 : 1300);
            m[at % n] = (uint8_t)(x >> 40);
        }
        sv_diag_t d;
        sv_tz_t *tz = NULL;
        int rc = load_bytes(t->dir, "mutant", m, n, &tz, &d);
        if (rc != 0) {
            if (rc != SV_E_PARSE && rc != SV_E_UNSUPPORTED)
                fail_msg("mutant %d: rc %d %s", iter, rc, d.msg);
            assert_null(tz);
            continue;
        }
        loaded++;
        for (int64_t ns = utc(1850, 1, 1, 0, 0, 0); ns < utc(2250, 1, 1, 0, 0, 0);
             ns += 86400LL * 3653 * NS / 10) {
            sv_tz_local_t l;
            sv_tz_to_local(tz, ns, &l);
            assert_true(l.utc_offset_s >= -89999 && l.utc_offset_s <= 93599);
            assert_true(l.month >= 1 && l.month <= 12 && l.day >= 1 && l.day <= 31);
            assert_true(l.weekday >= 0 && l.weekday <= 6 && l.is_dst >= 0 && l.is_dst <= 1);
            assert_true(memchr(l.abbrev, '\0', sizeof l.abbrev) != NULL);
            int64_t ds = sv_tz_day_start(tz, ns);
            assert_true(ds <= ns && ns - ds < (3 * 86400 + 1) * NS);
        }
        sv_tz_free(tz);
    }
    assert_true(loaded > 0);
}

/* ---- against glibc ---- */

static const char *const glibc_zones[] = {
    "UTC",              "America/New_York",   "America/Chicago",    "America/Los_Angeles",
    "America/St_Johns", "America/Sao_Paulo",  "America/Santiago",   "America/Nuuk",
    "America/Havana",   "Europe/London",      "Europe/Dublin",      "Europe/Berlin",
    "Europe/Moscow",    "Africa/Casablanca",  "Asia/Kolkata",       "Asia/Tehran",
    "Asia/Jerusalem",   "Asia/Beirut",        "Asia/Kathmandu",     "Asia/Tokyo",
    "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland",  "Pacific/Chatham",
    "Pacific/Apia",     "Pacific/Kiritimati",
};

static void same_as_glibc(const sv_tz_t *tz, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm g;
    assert_non_null(localtime_r(&tt, &g));
    sv_tz_local_t l;
    sv_tz_to_local(tz, t * NS + 500000000, &l);
    if (l.year != g.tm_year + 1900 || l.month != g.tm_mon + 1 || l.day != g.tm_mday ||
        l.hour != g.tm_hour || l.minute != g.tm_min || l.second != g.tm_sec ||
        l.weekday != (g.tm_wday + 6) % 7 || l.utc_offset_s != g.tm_gmtoff ||
        l.is_dst != (g.tm_isdst > 0) || strcmp(l.abbrev, g.tm_zone) != 0)
        fail_msg("%s at %lld: ours %04d-%02d-%02d %02d:%02d:%02d wd %d off %d dst %d %s; glibc "
                 "%04d-%02d-%02d %02d:%02d:%02d wd %d off %ld dst %d %s",
                 sv_tz_name(tz), (long long)t, l.year, l.month, l.day, l.hour, l.minute,
                 l.second, l.weekday, l.utc_offset_s, l.is_dst, l.abbrev, g.tm_year + 1900,
                 g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, (g.tm_wday + 6) % 7,
                 g.tm_gmtoff, g.tm_isdst, g.tm_zone);
}

/* Random instants, and both sides of every change found by a daily scan (bisected to the
 * second), in each zone: offset, DST flag, abbreviation and every local field as glibc has
 * them. 1970..2037 is table data; 2038..2200 is the footer rule in both. */
static void test_against_glibc(void **state)
{
    (void)state;
    const char *saved = getenv("TZ");
    char *saved_tz = saved ? strdup(saved) : NULL;
    uint64_t x = 0x2545f4914f6cdd1dull;
    long compared = 0;
    for (size_t z = 0; z < sizeof glibc_zones / sizeof glibc_zones[0]; z++) {
        sv_tz_t *tz = load(glibc_zones[z]);
        assert_int_equal(setenv("TZ", glibc_zones[z], 1), 0);
        tzset();
        int64_t lo = utc(1970, 1, 1, 0, 0, 0) / NS, mid = utc(2038, 1, 1, 0, 0, 0) / NS,
                hi = utc(2200, 12, 31, 0, 0, 0) / NS;
        for (int i = 0; i < 2500; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            same_as_glibc(tz, lo + (int64_t)(x % (uint64_t)(mid - lo)));
            compared++;
        }
        for (int i = 0; i < 500; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            same_as_glibc(tz, mid + (int64_t)(x % (uint64_t)(hi - mid)));
            compared++;
        }
        int32_t prev = sv_tz_offset(tz, lo * NS);
        for (int64_t t = lo + 86400; t < utc(2060, 1, 1, 0, 0, 0) / NS; t += 86400) {
            int32_t off = sv_tz_offset(tz, t * NS);
            if (off == prev)
                continue;
            int64_t a = t - 86400, b = t; /* offset(a) == prev, offset(b) != prev */
            while (b - a > 1) {
                int64_t m = a + (b - a) / 2;
                if (sv_tz_offset(tz, m * NS) == prev)
                    a = m;
                else
                    b = m;
            }
            same_as_glibc(tz, a);
            same_as_glibc(tz, b);
            compared += 2;
            prev = off;
        }
        sv_tz_free(tz);
    }
    if (saved_tz)
        setenv("TZ", saved_tz, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved_tz);
    assert_true(compared > 70000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc),
        cmocka_unit_test(test_calendar_1900_2200),
        cmocka_unit_test(test_new_york_2024),
        cmocka_unit_test(test_footer_rules_far_future),
        cmocka_unit_test(test_london_2024),
        cmocka_unit_test(test_kolkata),
        cmocka_unit_test(test_lord_howe),
        cmocka_unit_test(test_sydney),
        cmocka_unit_test(test_day_start_dst_days),
        cmocka_unit_test(test_built_v1_no_footer),
        cmocka_unit_test(test_built_julian_and_zero_based_days),
        cmocka_unit_test(test_built_v3_all_year_dst),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_garbage_and_truncated_files),
        cmocka_unit_test(test_malformed_built_files),
        cmocka_unit_test(test_mutated_files),
        cmocka_unit_test(test_against_glibc),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
