/* fixed: exact decimal parsing, formatting and 128-bit fixed-point arithmetic. */
#include "fixed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

typedef __int128 i128;

static int round_div(i128 num, i128 den, sv_fixed_t *out)
{
    if (den == 0)
        return SV_E_INVAL;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 q = num / den, r = num % den;
    if (r < 0)
        r = -r;
    if (2 * r >= den)
        q += num < 0 ? -1 : 1;
    if (q > INT64_MAX || q < INT64_MIN)
        return SV_E_RANGE;
    *out = (sv_fixed_t)q;
    return SV_OK;
}

static int parse(const char *s, long len, int round, sv_fixed_t *out)
{
    size_t n = len < 0 ? strlen(s) : (size_t)len, i = 0;
    int neg = 0, digits = 0, frac = 0, round_up = 0;
    i128 v = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        v = v * 10 + (s[i] - '0');
        if (v > (i128)INT64_MAX)
            return SV_E_RANGE;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (frac < SV_FIXED_DIGITS) {
                v = v * 10 + (s[i] - '0');
                frac++;
            } else if (s[i] != '0') {
                if (!round)
                    return SV_E_PARSE;
                if (frac == SV_FIXED_DIGITS && round_up == 0)
                    round_up = s[i] >= '5' ? 1 : -1;
                frac = SV_FIXED_DIGITS + 1;
            } else if (frac == SV_FIXED_DIGITS && round) {
                round_up = -1; /* first dropped digit is 0: round down */
                frac = SV_FIXED_DIGITS + 1;
            }
        }
    }
    if (digits == 0 || i != n)
        return SV_E_PARSE;
    for (int f = frac > SV_FIXED_DIGITS ? SV_FIXED_DIGITS : frac; f < SV_FIXED_DIGITS; f++)
        v *= 10;
    if (round_up > 0)
        v += 1;
    if (v > (i128)INT64_MAX + neg) /* -INT64_MIN is one more than INT64_MAX */
        return SV_E_RANGE;
    *out = (sv_fixed_t)(neg ? -v : v);
    return SV_OK;
}

int sv_fixed_parse(const char *s, long len, sv_fixed_t *out) { return parse(s, len, 0, out); }

int sv_fixed_parse_round(const char *s, long len, sv_fixed_t *out) { return parse(s, len, 1, out); }

int sv_fixed_format(sv_fixed_t v, char *buf, size_t len)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = a / SV_FIXED_SCALE, fp = a % SV_FIXED_SCALE;
    int n;
    if (fp == 0) {
        n = snprintf(buf, len, "%s%llu", v < 0 ? "-" : "", (unsigned long long)ip);
    } else {
        char f[16];
        snprintf(f, sizeof f, "%08llu", (unsigned long long)fp);
        for (int k = 7; k > 0 && f[k] == '0'; k--)
            f[k] = '\0';
        n = snprintf(buf, len, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)ip, f);
    }
    return n;
}

int sv_fixed_from_double(double d, sv_fixed_t *out)
{
    if (!isfinite(d))
        return SV_E_RANGE;
    double x = d * (double)SV_FIXED_SCALE;
    if (!(x < 9.2e18 && x > -9.2e18))
        return SV_E_RANGE;
    *out = (sv_fixed_t)llround(x);
    return SV_OK;
}

int sv_fixed_mul(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out)
{
    return round_div((i128)a * b, SV_FIXED_SCALE, out);
}

int sv_fixed_div(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out)
{
    return round_div((i128)a * SV_FIXED_SCALE, b, out);
}

int sv_fixed_muldiv(sv_fixed_t a, int64_t num, int64_t den, sv_fixed_t *out)
{
    return round_div((i128)a * num, den, out);
}

sv_fixed_t sv_fixed_floor_step(sv_fixed_t v, sv_fixed_t step)
{
    if (step <= 0)
        return v;
    return v - v % step;
}

sv_fixed_t sv_fixed_round_step(sv_fixed_t v, sv_fixed_t step)
{
    if (step <= 0)
        return v;
    sv_fixed_t r = v % step, base = v - r;
    if (r < 0)
        r = -r;
    if (r >= step - r) /* 2 * r >= step without overflowing for step > 2^62 */
        base += v < 0 ? -step : step;
    return base;
}
