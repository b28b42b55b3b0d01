/* fixed: exact decimal fixed point (sv_fixed_t, 1 unit = 1e-8) for prices, quantities and money.
 *
 * Parsing is exact: "0.1" is 10000000 units, never a binary float. Arithmetic that can
 * overflow int64 (price * qty) goes through 128-bit intermediates and rounds half away from
 * zero. Conversions from double round to the nearest unit and refuse non-finite values. */
#ifndef SV_FIXED_H
#define SV_FIXED_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define SV_FIXED_ONE ((sv_fixed_t)SV_FIXED_SCALE)
#define SV_FIXED_MAX INT64_MAX

/* Parses a decimal text ("123", "-0.00012", "1e-3" is refused: no exponents) of at most
 * len bytes (len < 0: NUL-terminated). Returns 0 or SV_E_PARSE (not a number, more than 8
 * decimals that are not zeros) or SV_E_RANGE (overflow). */
int sv_fixed_parse(const char *s, long len, sv_fixed_t *out);

/* Like sv_fixed_parse but rounds extra decimals half away from zero instead of refusing. */
int sv_fixed_parse_round(const char *s, long len, sv_fixed_t *out);

/* Formats v with up to 8 decimals, trailing zeros removed ("0.01", "-3", "100.5").
 * Returns the length written (always NUL-terminated; buf needs 24 bytes). */
int sv_fixed_format(sv_fixed_t v, char *buf, size_t len);

/* Rounds a double to the nearest unit. Returns 0, or SV_E_RANGE for NaN/Inf/overflow. */
int sv_fixed_from_double(double d, sv_fixed_t *out);

/* v as a double (exact for |v| < 2^53 units). */
static inline double sv_fixed_to_double(sv_fixed_t v) { return (double)v / (double)SV_FIXED_SCALE; }

/* a * b in fixed point (e.g. price * qty = notional), rounded half away from zero.
 * Returns 0 or SV_E_RANGE when the result does not fit. */
int sv_fixed_mul(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out);

/* a / b in fixed point, rounded half away from zero. SV_E_INVAL when b == 0. */
int sv_fixed_div(sv_fixed_t a, sv_fixed_t b, sv_fixed_t *out);

/* a * num / den with a 128-bit intermediate, rounded half away from zero (for
 * average prices and pro-rata fees). SV_E_INVAL when den == 0, SV_E_RANGE on overflow. */
int sv_fixed_muldiv(sv_fixed_t a, int64_t num, int64_t den, sv_fixed_t *out);

/* Rounds v down (toward zero) / to nearest to a multiple of step (> 0). */
sv_fixed_t sv_fixed_floor_step(sv_fixed_t v, sv_fixed_t step);
sv_fixed_t sv_fixed_round_step(sv_fixed_t v, sv_fixed_t step);

#endif
