/* intern: a bounded string table mapping strings to small dense ids (1..n) and back.
 *
 * Symbols, assets and reason texts travel in events as uint32 ids; this table owns their
 * text. Capacity is fixed at creation so interning never reallocates behind a caller's back
 * and a pointer returned by sv_intern_name() stays valid until sv_intern_free(). Id 0 is
 * "none" and maps to "". */
#ifndef SV_INTERN_H
#define SV_INTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sv_intern sv_intern_t;

/* Creates a table for up to max_entries strings and text_bytes bytes of text. NULL on ENOMEM. */
sv_intern_t *sv_intern_new(uint32_t max_entries, size_t text_bytes);
void sv_intern_free(sv_intern_t *t);

/* Returns the id of s (len < 0: NUL-terminated), adding it if new; 0 when the table is full
 * or s is empty. */
uint32_t sv_intern_add(sv_intern_t *t, const char *s, long len);

/* Returns the id of s or 0 if s was never added. */
uint32_t sv_intern_find(const sv_intern_t *t, const char *s, long len);

/* Returns the text of id ("" for 0 or an unknown id). */
const char *sv_intern_name(const sv_intern_t *t, uint32_t id);

/* Number of strings held. */
uint32_t sv_intern_count(const sv_intern_t *t);

#endif
