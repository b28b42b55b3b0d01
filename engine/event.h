/* event: names of event kinds and the wire form of events outside the process.
 *
 * Outside the process (Redis Streams, tools, other languages) an event is a flat list of
 * readable field/value pairs, documented field by field in docs/events.md:
 *   kind trade  seq 42  symbol BTCUSDT  ts_exchange 1704067260000000000 ...  price 42000.5  qty 0.01
 * Every value is text: integers in decimal, timestamps as integer nanoseconds since the epoch,
 * prices, quantities and money as exact decimals (fixed.h, never a float), enums by name
 * (side buy, status filled), and symbols, assets and reason texts by name, never by the
 * process-local interned id. sv_event_decode() gives back exactly the event that was encoded
 * (names are re-interned in the reader's tables), or an error that names the field.
 *
 * Invariants: encoding and decoding allocate nothing (fields live in the caller's
 * sv_event_fields_t); the header flags are not carried (a decoded event is SV_EVF_REMOTE);
 * unknown fields are ignored on decoding so writers may add fields; a missing or malformed
 * known field is an error. */
#ifndef SV_EVENT_H
#define SV_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "intern.h"

enum { SV_EVENT_MAX_FIELDS = 32, SV_EVENT_TEXT_BYTES = 2048 };

/* An encoded event: n pairs; names are static strings, values point into buf. */
typedef struct sv_event_fields {
    uint32_t n;
    const char *name[SV_EVENT_MAX_FIELDS];
    uint8_t name_len[SV_EVENT_MAX_FIELDS];
    const char *value[SV_EVENT_MAX_FIELDS];
    uint16_t value_len[SV_EVENT_MAX_FIELDS];
    size_t used;
    char buf[SV_EVENT_TEXT_BYTES];
} sv_event_fields_t;

/* The tables that turn ids into names and back: symbols and assets share `symbols` (as in the
 * engine), reject reasons and alert texts are in `texts`. */
typedef struct sv_event_names {
    sv_intern_t *symbols;
    sv_intern_t *texts;
} sv_event_names_t;

/* "trade", "quote", "bar", "depth", "signal", "order", "fill", "timer", "alert",
 * "position"; NULL for SV_EV_NONE or an unknown kind. */
const char *sv_event_kind_name(int kind);
/* The kind named by s[0..len) (len < 0: NUL-terminated), or SV_EV_NONE. */
int sv_event_kind_parse(const char *s, long len);
/* The stream an event kind belongs to: "market_data" for trade, quote, bar and depth, else the
 * kind's name; NULL for an unknown kind. */
const char *sv_event_stream_name(int kind);
/* 1 for the market data kinds (trade, quote, bar, depth). */
int sv_event_is_market(int kind);

/* Encodes ev into out (cleared first). Returns 0, or SV_E_INVAL for an unknown kind. */
int sv_event_encode(const sv_event_t *ev, const sv_event_names_t *names, sv_event_fields_t *out);

/* Appends one field to out (for writers that add their own, such as the Redis writer's `src`).
 * Returns 0 or SV_E_FULL. */
int sv_event_fields_add(sv_event_fields_t *out, const char *name, const char *value, size_t len);

/* Decodes n field/value pairs (names[i], values[i] with their lengths) into ev. Symbols,
 * assets and texts are interned into `names` (a full table is an error). Returns 0, or
 * SV_E_PARSE / SV_E_NOTFOUND / SV_E_RANGE / SV_E_FULL with err (NUL-terminated, errlen bytes)
 * naming the field and the reason: "field 'price': not an exact decimal: 'abc'". */
int sv_event_decode(size_t n, const char *const *names, const size_t *name_lens,
                    const char *const *values, const size_t *value_lens, const sv_event_names_t *tables,
                    sv_event_t *ev, char *err, size_t errlen);

/* Names of the enums used in the wire form, for tools and docs: NULL when out of range. */
const char *sv_event_side_name(int side);
const char *sv_event_status_name(int status);

#endif
