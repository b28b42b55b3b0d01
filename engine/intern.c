/* intern: open-addressing hash table (FNV-1a, linear probing) over a text arena. */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

struct sv_intern {
    uint32_t max, count, nslots; /* nslots: power of two >= 2 * max */
    uint32_t *slots;             /* id or 0 */
    uint32_t *offset;            /* offset[id] into text */
    char *text;
    size_t text_cap, text_used;
};

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

sv_intern_t *sv_intern_new(uint32_t max_entries, size_t text_bytes)
{
    sv_intern_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max_entries;
    t->nslots = 16;
    while (t->nslots < 2 * max_entries)
        t->nslots <<= 1;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    t->offset = calloc((size_t)max_entries + 1, sizeof *t->offset);
    t->text_cap = text_bytes + 1;
    t->text = calloc(1, t->text_cap);
    if (!t->slots || !t->offset || !t->text) {
        sv_intern_free(t);
        return NULL;
    }
    t->text_used = 1; /* offset 0 is "" */
    return t;
}

void sv_intern_free(sv_intern_t *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->offset);
    free(t->text);
    free(t);
}

static uint32_t *probe(const sv_intern_t *t, const char *s, size_t n)
{
    uint32_t mask = t->nslots - 1, i = hash(s, n) & mask;
    for (;;) {
        uint32_t id = t->slots[i];
        if (id == 0)
            return &t->slots[i];
        const char *name = t->text + t->offset[id];
        if (strncmp(name, s, n) == 0 && name[n] == '\0')
            return &t->slots[i];
        i = (i + 1) & mask;
    }
}

uint32_t sv_intern_find(const sv_intern_t *t, const char *s, long len)
{
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    if (n == 0)
        return 0;
    return *probe(t, s, n);
}

uint32_t sv_intern_add(sv_intern_t *t, const char *s, long len)
{
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    if (n == 0)
        return 0;
    uint32_t *slot = probe(t, s, n);
    if (*slot)
        return *slot;
    if (t->count >= t->max || t->text_used + n + 1 > t->text_cap)
        return 0;
    uint32_t id = ++t->count;
    t->offset[id] = (uint32_t)t->text_used;
    memcpy(t->text + t->text_used, s, n);
    t->text[t->text_used + n] = '\0';
    t->text_used += n + 1;
    *slot = id;
    return id;
}

const char *sv_intern_name(const sv_intern_t *t, uint32_t id)
{
    if (id == 0 || id > t->count)
        return "";
    return t->text + t->offset[id];
}

uint32_t sv_intern_count(const sv_intern_t *t) { return t->count; }
