/* tz: IANA zones read from compiled TZif files (RFC 8536, versions 1 to 4) and the POSIX TZ
 * rule in their footer, computed without the C library's time zone machinery.
 *
 * A loaded zone is immutable: a sorted transition table, the local time types it points at,
 * and, for version 2+ files, the footer rule that governs every instant after the last
 * transition. Only the 64-bit data block of a version 2+ file is used (the 32-bit block is
 * skipped), so dates outside 1901..2038 are right. Every count, index and string in a file is
 * checked before it is used; a file that fails a check is refused as a whole. Calendar math is
 * Howard Hinnant's days-from-civil in int64, valid far beyond the range an int64 of
 * nanoseconds can hold. */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define MAX_NAME 255
#define MAX_FILE (1 << 20) /* real zone files are under 4 KiB */
#define MAX_FOOTER 255
#define MAX_TYPES 256      /* transition type indices are one byte */
#define HEADER 44
#define NS 1000000000LL
#define DAY 86400
#define HOUR 3600
/* RFC 8536: a UT offset SHOULD lie in -24:59:59 .. 25:59:59; anything else is refused. */
#define MIN_UTOFF (-89999)
#define MAX_UTOFF 93599

typedef struct ttype {
    int32_t off; /* seconds east of UTC */
    int is_dst;
    char abbr[8];
} ttype_t;

/* A date in a POSIX TZ rule: Jn (1..365, Feb 29 never counted), n (0..365, counted) or Mm.w.d,
 * and the local time of day of the change in seconds (beyond a day or negative in v3). */
typedef struct rdate {
    char kind; /* 'J', 'N', 'M' */
    int n, month, week, wday;
    int32_t secs;
} rdate_t;

typedef struct rule {
    ttype_t std, dst;
    int has_dst;
    rdate_t start, end; /* start: std -> dst, in standard local time; end: in daylight time */
} rule_t;

struct sv_tz {
    char name[MAX_NAME + 1];
    uint32_t ntrans, ntypes;
    int64_t *trans;  /* UTC seconds, strictly ascending */
    uint8_t *idx;    /* type of each transition, < ntypes */
    ttype_t *types;  /* types[0] also rules before the first transition */
    int has_rule;
    rule_t rule;
};

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* ---- the POSIX TZ rule ---- */

/* Day (since the epoch) on which the rule date falls in year y. */
static int64_t rule_day(const rdate_t *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'N')
        return jan1 + r->n;
    int64_t first = days_from_civil(y, r->month, 1);
    int64_t next = r->month == 12 ? days_from_civil(y + 1, 1, 1)
                                  : days_from_civil(y, r->month + 1, 1);
    int wd1 = (int)floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    int64_t day = first + (r->wday - wd1 + 7) % 7 + (int64_t)(r->week - 1) * 7;
    while (day >= next) /* week 5 means the last such weekday */
        day -= 7;
    return day;
}

typedef struct event {
    int64_t at; /* UTC seconds */
    int dst;    /* state from `at` on */
} event_t;

/* The two changes of year y, start then end (in the southern hemisphere the end comes first in
 * time; only the order of equal times depends on this one). */
static void rule_events(const rule_t *r, int64_t y, event_t ev[2])
{
    ev[0] = (event_t){rule_day(&r->start, y) * DAY + r->start.secs - r->std.off, 1};
    ev[1] = (event_t){rule_day(&r->end, y) * DAY + r->end.secs - r->dst.off, 0};
}

/* The changes of the years around t's UTC year, in rule order. Two years either side suffice:
 * a change's time of day moves it at most a week (v3 hours up to 167) plus an offset away from
 * its date. */
#define WINDOW 10
static void rule_window(const rule_t *r, int64_t t, event_t ev[WINDOW])
{
    int64_t y;
    int m, d;
    civil_from_days(floor_div(t, DAY), &y, &m, &d);
    for (int i = 0; i < WINDOW / 2; i++)
        rule_events(r, y - 2 + i, ev + 2 * i);
}

/* The type in force at t: that of the latest change at or before t. On a tie the one later in
 * rule order wins: DST that ends where next year's begins (all-year DST, "EST5EDT,0/0,J365/25")
 * stays DST, and DST that starts and ends at once never happens. */
static const ttype_t *rule_lookup(const rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return &r->std;
    event_t ev[WINDOW];
    rule_window(r, t, ev);
    const event_t *best = NULL;
    for (int i = 0; i < WINDOW; i++)
        if (ev[i].at <= t && (!best || ev[i].at >= best->at))
            best = &ev[i];
    return best && best->dst ? &r->dst : &r->std;
}

/* The first change after t, or INT64_MAX. */
static int64_t rule_next(const rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return INT64_MAX;
    event_t ev[WINDOW];
    rule_window(r, t, ev);
    int64_t next = INT64_MAX;
    for (int i = 0; i < WINDOW; i++)
        if (ev[i].at > t && ev[i].at < next)
            next = ev[i].at;
    return next;
}

/* ---- lookups ---- */

/* Index of the last transition at or before t; the caller has checked trans[0] <= t. */
static uint32_t find_trans(const sv_tz_t *tz, int64_t t)
{
    uint32_t lo = 0, hi = tz->ntrans - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* RFC 8536: type 0 before the first transition (or always, with no transitions and no rule);
 * the footer rule from the last transition on. */
static const ttype_t *lookup(const sv_tz_t *tz, int64_t t)
{
    uint32_t n = tz->ntrans;
    if (n == 0)
        return tz->has_rule ? rule_lookup(&tz->rule, t) : &tz->types[0];
    if (t < tz->trans[0])
        return &tz->types[0];
    if (t >= tz->trans[n - 1] && tz->has_rule)
        return rule_lookup(&tz->rule, t);
    return &tz->types[tz->idx[find_trans(tz, t)]];
}

/* The first instant after t at which the type may change, or INT64_MAX. */
static int64_t next_change(const sv_tz_t *tz, int64_t t)
{
    uint32_t n = tz->ntrans;
    if (n == 0 || t >= tz->trans[n - 1])
        return tz->has_rule ? rule_next(&tz->rule, t) : INT64_MAX;
    if (t < tz->trans[0])
        return tz->trans[0];
    return tz->trans[find_trans(tz, t) + 1];
}

int32_t sv_tz_offset(const sv_tz_t *tz, int64_t utc_ns)
{
    return lookup(tz, floor_div(utc_ns, NS))->off;
}

void sv_tz_to_local(const sv_tz_t *tz, int64_t utc_ns, sv_tz_local_t *out)
{
    int64_t t = floor_div(utc_ns, NS);
    const ttype_t *ty = lookup(tz, t);
    int64_t lt = t + ty->off;
    int64_t days = floor_div(lt, DAY), sod = lt - days * DAY, y;
    civil_from_days(days, &y, &out->month, &out->day);
    out->year = (int)y;
    out->hour = (int)(sod / HOUR);
    out->minute = (int)(sod % HOUR / 60);
    out->second = (int)(sod % 60);
    out->weekday = (int)floor_mod(days + 3, 7); /* 1970-01-01 was a Thursday; 0 = Monday */
    out->utc_offset_s = ty->off;
    out->is_dst = ty->is_dst;
    memcpy(out->abbrev, ty->abbr, sizeof out->abbrev);
}

/* The earliest instant whose local date is that of utc_ns, found by walking the stretches of
 * constant offset over the three days before it: midnight itself, or the end of a gap that
 * swallowed it. */
int64_t sv_tz_day_start(const sv_tz_t *tz, int64_t utc_ns)
{
    int64_t t = floor_div(utc_ns, NS);
    int64_t day = floor_div(t + lookup(tz, t)->off, DAY);
    int64_t u = t - 3 * DAY;
    for (;;) {
        const ttype_t *ty = lookup(tz, u);
        int64_t end = next_change(tz, u);
        if (end > t)
            end = t + 1; /* the stretch holding t holds t's day, so the walk ends there */
        int64_t lo = day * DAY - ty->off, hi = (day + 1) * DAY - ty->off;
        if (lo < u)
            lo = u;
        if (hi > end)
            hi = end;
        if (lo < hi)
            return lo <= INT64_MIN / NS ? INT64_MIN : lo * NS;
        u = end;
    }
}

const char *sv_tz_name(const sv_tz_t *tz) { return tz->name; }

void sv_tz_free(sv_tz_t *tz)
{
    if (tz) {
        free(tz->trans);
        free(tz->idx);
        free(tz->types);
        free(tz);
    }
}

/* ---- the POSIX TZ string ---- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* A decimal number in lo..hi. */
static int parse_num(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    int v = 0;
    if (!is_digit(*p))
        return -1;
    while (is_digit(*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > hi)
            return -1;
    }
    if (v < lo)
        return -1;
    *out = v;
    *pp = p;
    return 0;
}

/* [+|-]hh[:mm[:ss]], hours up to max_h; a sign only where signed_ok. */
static int parse_hms(const char **pp, int max_h, int signed_ok, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-') {
        if (!signed_ok)
            return -1;
        sign = *p++ == '-' ? -1 : 1;
    }
    if (parse_num(&p, 0, max_h, &h))
        return -1;
    if (*p == ':') {
        p++;
        if (parse_num(&p, 0, 59, &m))
            return -1;
        if (*p == ':') {
            p++;
            if (parse_num(&p, 0, 59, &s))
                return -1;
        }
    }
    *out = sign * (h * HOUR + m * 60 + s);
    *pp = p;
    return 0;
}

/* An abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. Kept to 7. */
static int parse_abbr(const char **pp, char out[8])
{
    const char *p = *pp, *start, *end;
    if (*p == '<') {
        start = ++p;
        while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>')
            return -1;
        end = p++;
    } else {
        start = p;
        while (is_alpha(*p))
            p++;
        end = p;
    }
    size_t len = (size_t)(end - start);
    if (len < 3)
        return -1;
    if (len > 7)
        len = 7;
    memcpy(out, start, len);
    out[len] = '\0';
    *pp = p;
    return 0;
}

static int parse_rdate(const char **pp, int v3, rdate_t *r)
{
    const char *p = *pp;
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (parse_num(&p, 1, 365, &r->n))
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (parse_num(&p, 1, 12, &r->month) || *p++ != '.' || parse_num(&p, 1, 5, &r->week) ||
            *p++ != '.' || parse_num(&p, 0, 6, &r->wday))
            return -1;
    } else {
        r->kind = 'N';
        if (parse_num(&p, 0, 365, &r->n))
            return -1;
    }
    r->secs = 2 * HOUR;
    if (*p == '/') {
        p++;
        /* v3 (RFC 8536 3.3.1): the hour may be negative and up to 167 */
        if (parse_hms(&p, v3 ? 167 : 24, v3, &r->secs))
            return -1;
    }
    *pp = p;
    return 0;
}

/* Parses a TZ string such as "EST5EDT,M3.2.0,M11.1.0" or "<+0330>-3:30"; NULL or the reason. */
static const char *parse_posix(const char *s, int v3, rule_t *r)
{
    const char *p = s;
    int32_t west;
    memset(r, 0, sizeof *r);
    if (parse_abbr(&p, r->std.abbr))
        return "bad standard time name";
    if (parse_hms(&p, 24, 1, &west))
        return "bad standard time offset";
    r->std.off = -west; /* POSIX offsets count west of Greenwich */
    if (*p == '\0')
        return NULL;
    if (parse_abbr(&p, r->dst.abbr))
        return "bad daylight time name";
    r->has_dst = 1;
    r->dst.is_dst = 1;
    r->dst.off = r->std.off + HOUR;
    if (*p != '\0' && *p != ',') {
        if (parse_hms(&p, 24, 1, &west))
            return "bad daylight time offset";
        r->dst.off = -west;
    }
    if (*p == '\0')
        p = ",M3.2.0,M11.1.0"; /* tzcode's and glibc's default when the rule is left out */
    if (*p++ != ',' || parse_rdate(&p, v3, &r->start))
        return "bad daylight time start";
    if (*p++ != ',' || parse_rdate(&p, v3, &r->end))
        return "bad daylight time end";
    if (*p != '\0')
        return "trailing text";
    return NULL;
}

/* ---- TZif ---- */

typedef struct hdr {
    int version; /* 1, 2, 3, 4 */
    uint32_t isut, isstd, leap, time, type, chars;
} hdr_t;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

/* Reads a header from p (HEADER bytes available); NULL or the reason. */
static const char *read_header(const uint8_t *p, hdr_t *h)
{
    if (memcmp(p, "TZif", 4) != 0)
        return "not a TZif file (bad magic)";
    if (p[4] == 0)
        h->version = 1;
    else if (p[4] >= '2' && p[4] <= '4')
        h->version = p[4] - '0';
    else
        return "unknown TZif version";
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    return NULL;
}

/* Bytes in the data block after a header, with tsize-byte times (4 in v1, 8 in v2+). */
static uint64_t block_size(const hdr_t *h, uint64_t tsize)
{
    return h->time * tsize + h->time + h->type * 6ull + h->chars + h->leap * (tsize + 4) +
           h->isstd + h->isut;
}

typedef struct load {
    const char *path; /* for messages */
    sv_diag_t *diag;
} load_t;

#define BAD(ld, ...) sv_diag_set((ld)->diag, SV_E_PARSE, __VA_ARGS__)

/* Checks a header's counts against each other and against the bytes left. */
static int check_counts(const load_t *ld, const hdr_t *h, uint64_t tsize, size_t avail)
{
    if (h->type == 0)
        return BAD(ld, "%s: no local time types", ld->path);
    if (h->type > MAX_TYPES)
        return BAD(ld, "%s: %u local time types, at most %d", ld->path, h->type, MAX_TYPES);
    if (h->chars == 0)
        return BAD(ld, "%s: no abbreviation characters", ld->path);
    if (h->isut != 0 && h->isut != h->type)
        return BAD(ld, "%s: %u UT indicators for %u types", ld->path, h->isut, h->type);
    if (h->isstd != 0 && h->isstd != h->type)
        return BAD(ld, "%s: %u standard-time indicators for %u types", ld->path, h->isstd, h->type);
    if (block_size(h, tsize) > avail)
        return BAD(ld, "%s: truncated (%u transitions, %u types, %u abbreviation bytes need %llu "
                   "bytes, %zu left)",
                   ld->path, h->time, h->type, h->chars,
                   (unsigned long long)block_size(h, tsize), avail);
    return 0;
}

/* Parses the data block at p (its size already checked) into tz. */
static int read_block(const load_t *ld, sv_tz_t *tz, const hdr_t *h, int tsize, const uint8_t *p)
{
    tz->ntrans = h->time;
    tz->ntypes = h->type;
    tz->trans = malloc((h->time ? h->time : 1) * sizeof *tz->trans);
    tz->idx = malloc(h->time ? h->time : 1);
    tz->types = calloc(h->type, sizeof *tz->types);
    if (!tz->trans || !tz->idx || !tz->types)
        return sv_diag_set(ld->diag, SV_E_NOMEM, "%s: out of memory", ld->path);

    for (uint32_t i = 0; i < h->time; i++, p += tsize) {
        tz->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return BAD(ld, "%s: transition %u is not after transition %u", ld->path, i, i - 1);
    }
    for (uint32_t i = 0; i < h->time; i++) {
        tz->idx[i] = *p++;
        if (tz->idx[i] >= h->type)
            return BAD(ld, "%s: transition %u names type %u of %u", ld->path, i, tz->idx[i],
                       h->type);
    }
    const uint8_t *tp = p, *chars = p + h->type * 6ull;
    for (uint32_t i = 0; i < h->type; i++, tp += 6) {
        ttype_t *ty = &tz->types[i];
        int32_t off = (int32_t)be32(tp);
        uint8_t isdst = tp[4], ai = tp[5];
        if (off < MIN_UTOFF || off > MAX_UTOFF)
            return BAD(ld, "%s: type %u has UT offset %d s, out of range", ld->path, i, off);
        if (isdst > 1)
            return BAD(ld, "%s: type %u has DST flag %u", ld->path, i, isdst);
        if (ai >= h->chars)
            return BAD(ld, "%s: type %u names abbreviation byte %u of %u", ld->path, i, ai,
                       h->chars);
        const uint8_t *nul = memchr(chars + ai, 0, h->chars - ai);
        if (!nul)
            return BAD(ld, "%s: type %u abbreviation is not NUL-terminated", ld->path, i);
        size_t len = (size_t)(nul - (chars + ai));
        if (len > 7)
            len = 7;
        ty->off = off;
        ty->is_dst = isdst;
        memcpy(ty->abbr, chars + ai, len);
        ty->abbr[len] = '\0';
    }
    p = chars + h->chars + h->leap * (tsize + 4ull);
    for (uint32_t i = 0; i < h->isstd + h->isut; i++)
        if (p[i] > 1)
            return BAD(ld, "%s: standard/UT indicator %u is %u, not 0 or 1", ld->path, i, p[i]);
    return 0;
}

static int parse_tzif(const load_t *ld, sv_tz_t *tz, const uint8_t *buf, size_t len)
{
    hdr_t h;
    const char *why;
    if (len < HEADER)
        return BAD(ld, "%s: truncated header (%zu bytes)", ld->path, len);
    if ((why = read_header(buf, &h)))
        return BAD(ld, "%s: %s", ld->path, why);
    size_t pos = HEADER;
    int tsize = 4;
    if (h.version >= 2) {
        /* skip the 32-bit block for the 64-bit one after it */
        uint64_t skip = block_size(&h, 4);
        if (skip > len - pos || len - pos - skip < HEADER)
            return BAD(ld, "%s: truncated (no version %d data)", ld->path, h.version);
        pos += skip;
        if ((why = read_header(buf + pos, &h)))
            return BAD(ld, "%s: second header: %s", ld->path, why);
        if (h.version < 2)
            return BAD(ld, "%s: second header is version 1", ld->path);
        pos += HEADER;
        tsize = 8;
    }
    int rc = check_counts(ld, &h, (uint64_t)tsize, len - pos);
    if (rc)
        return rc;
    if (h.leap)
        return sv_diag_set(ld->diag, SV_E_UNSUPPORTED,
                           "%s: has leap-second records (a right/ zone); times here are POSIX",
                           ld->path);
    if ((rc = read_block(ld, tz, &h, tsize, buf + pos)))
        return rc;
    pos += block_size(&h, (uint64_t)tsize);
    if (h.version < 2)
        return 0; /* no footer: the last transition's type holds for ever */

    /* footer: "\n" TZ-string "\n" */
    if (pos >= len || buf[pos] != '\n')
        return BAD(ld, "%s: missing TZ string footer", ld->path);
    const uint8_t *fs = buf + pos + 1, *fe = memchr(fs, '\n', len - pos - 1);
    if (!fe)
        return BAD(ld, "%s: unterminated TZ string footer", ld->path);
    size_t flen = (size_t)(fe - fs);
    if (flen > MAX_FOOTER)
        return BAD(ld, "%s: TZ string footer of %zu bytes is too long", ld->path, flen);
    char footer[MAX_FOOTER + 1];
    memcpy(footer, fs, flen);
    footer[flen] = '\0';
    if (memchr(footer, '\0', flen))
        return BAD(ld, "%s: NUL in TZ string footer", ld->path);
    if (flen == 0)
        return 0; /* empty: nothing known after the last transition; keep its type */
    if ((why = parse_posix(footer, h.version >= 3, &tz->rule)))
        return BAD(ld, "%s: TZ string footer \"%s\": %s", ld->path, footer, why);
    tz->has_rule = 1;
    return 0;
}

/* ---- loading ---- */

static int read_file(const char *path, const char *name, uint8_t **out, size_t *len,
                     sv_diag_t *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sv_diag_set(diag, SV_E_NOTFOUND, "%s: unknown time zone (no file %s)", name,
                               path);
        return sv_diag_set(diag, SV_E_IO, "%s: cannot open %s: %s", name, path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) != 0) {
        rc = sv_diag_set(diag, SV_E_IO, "%s: cannot stat %s: %s", name, path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = sv_diag_set(diag, SV_E_NOTFOUND, "%s: unknown time zone (%s is not a file)", name,
                         path);
    } else if (st.st_size > MAX_FILE) {
        rc = sv_diag_set(diag, SV_E_PARSE, "%s: %lld bytes, too large for a zone file", path,
                         (long long)st.st_size);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = sv_diag_set(diag, SV_E_NOMEM, "%s: out of memory", path);
    } else {
        size_t cap = (size_t)st.st_size;
        while (n < cap) {
            ssize_t r = read(fd, buf + n, cap - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = sv_diag_set(diag, SV_E_IO, "%s: read failed: %s", path, strerror(errno));
                break;
            }
            if (r == 0)
                break;
            n += (size_t)r;
        }
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int check_name(const char *name, sv_diag_t *diag)
{
    if (!name)
        return sv_diag_set(diag, SV_E_INVAL, "tz: no zone name");
    size_t len = strlen(name);
    if (len > MAX_NAME)
        return sv_diag_set(diag, SV_E_INVAL, "tz: zone name of %zu bytes is too long", len);
    if (name[0] == '/' || strstr(name, ".."))
        return sv_diag_set(diag, SV_E_INVAL,
                           "%s: zone names may not start with '/' or contain '..'", name);
    for (const char *p = name; *p; p++)
        if (!is_alpha(*p) && !is_digit(*p) && !strchr("/_+-.", *p))
            return sv_diag_set(diag, SV_E_INVAL, "%s: bad character 0x%02x in zone name", name,
                               (unsigned char)*p);
    return 0;
}

static sv_tz_t *new_utc(void)
{
    sv_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz || !(tz->types = calloc(1, sizeof *tz->types))) {
        free(tz);
        return NULL;
    }
    tz->ntypes = 1;
    memcpy(tz->types[0].abbr, "UTC", 4);
    memcpy(tz->name, "UTC", 4);
    return tz;
}

int sv_tz_load_from(const char *dir, const char *name, sv_tz_t **out, sv_diag_t *diag)
{
    *out = NULL;
    int rc = check_name(name, diag);
    if (rc)
        return rc;
    if (name[0] == '\0' || strcmp(name, "UTC") == 0) {
        if (!(*out = new_utc()))
            return sv_diag_set(diag, SV_E_NOMEM, "tz: out of memory");
        return 0;
    }
    if (!dir)
        return sv_diag_set(diag, SV_E_INVAL, "%s: no zoneinfo directory", name);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return sv_diag_set(diag, SV_E_INVAL, "%s: path too long", name);

    uint8_t *buf = NULL;
    size_t len = 0;
    if ((rc = read_file(path, name, &buf, &len, diag)))
        return rc;
    sv_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz) {
        free(buf);
        return sv_diag_set(diag, SV_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(tz->name, name, strlen(name) + 1);
    load_t ld = {path, diag};
    rc = parse_tzif(&ld, tz, buf, len);
    free(buf);
    if (rc) {
        sv_tz_free(tz);
        return rc;
    }
    *out = tz;
    return 0;
}

int sv_tz_load(const char *name, sv_tz_t **out, sv_diag_t *diag)
{
    return sv_tz_load_from(ZONEINFO_DIR, name, out, diag);
}
