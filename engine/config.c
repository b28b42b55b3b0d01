/* config: YAML configuration loading, ${VAR} substitution, schema validation and composition.
 *
 * Three passes per file, so each stays simple:
 *   1. parse: libyaml events become an untyped tree of maps, lists and scalar texts, each node
 *      with its file:line:column (aliases, anchors and tags are refused here);
 *   2. check: the tree is walked beside the schema (config_schema.c): substitution, typing, ranges,
 *      unknown / duplicate / missing keys, defaults. Errors come out in file order;
 *   3. resolve: (sv_config_load only) each file reference is replaced by the checked tree of the
 *      file it names, and cross-file rules (known symbols) are checked.
 * Every node and string lives in one arena owned by the sv_config_t, so an error at any depth
 * frees everything with one call. Recursion follows the schema's depth, never the input's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l, newlocale */
#endif

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk_t;

struct sv_config {
    blk_t *mem;
    sv_cfg_node_t *root;
    const char *config_root;  /* the directory holding environments/, exchanges/, ... */
    const char *project_root; /* its parent: strategy scripts and data files are named from here */
};

struct sv_cfg_node {
    sv_cfg_type_t type; /* while parsing, every non-null scalar is SV_CFG_STRING */
    unsigned char quoted;     /* written quoted (or as a block scalar): never a number or bool */
    unsigned char secret;     /* redacted in dumps */
    unsigned char is_default; /* filled in from the schema */
    const char *file;
    int line, col;
    const char *key; /* key in the parent map; NULL in a list or at the top */
    int key_line, key_col;
    char *raw;       /* scalar text; after checking, with ${VAR} substituted */
    const char *str; /* SV_CFG_STRING: raw, or the resolved path */
    int64_t i;
    double d;
    int b;
    sv_cfg_node_t **items;
    size_t n, cap;
    /* parse only: the container being filled and the key waiting for its value */
    sv_cfg_node_t *parent;
    const char *pending_key;
    int pk_line, pk_col;
};

/* One load in progress. */
typedef struct {
    sv_config_t *cfg;
    sv_diag_t *diag;
    int compose;      /* resolve file references (sv_config_load) or leave them strings */
    locale_t cloc;    /* numbers are read with '.' whatever the process locale says */
} ld_t;

/* A key path, built on the C stack while checking and printed only when reporting an error. */
typedef struct seg {
    const struct seg *up;
    const char *key; /* NULL: a list index */
    size_t idx;
} seg_t;

/* ---- arena ---- */

static void *alloc(sv_config_t *c, size_t n)
{
    blk_t *b = calloc(1, sizeof *b + n);
    if (!b)
        return NULL;
    b->next = c->mem;
    c->mem = b;
    return b->data;
}

static char *dupn(sv_config_t *c, const char *s, size_t n)
{
    char *p = alloc(c, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *sdup(sv_config_t *c, const char *s)
{
    return dupn(c, s, strlen(s));
}

static char *cat3(sv_config_t *c, const char *a, const char *b, const char *d)
{
    size_t la = strlen(a), lb = strlen(b), ld = strlen(d);
    char *p = alloc(c, la + lb + ld + 1);
    if (p) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb);
        memcpy(p + la + lb, d, ld + 1);
    }
    return p;
}

static sv_cfg_node_t *node_new(sv_config_t *c, sv_cfg_type_t type, const char *file, int line, int col)
{
    sv_cfg_node_t *n = alloc(c, sizeof *n);
    if (n) {
        n->type = type;
        n->file = file;
        n->line = line;
        n->col = col;
    }
    return n;
}

/* The old array stays in the arena until the config is freed: configs are small and this keeps
 * every node pointer valid without a second allocator. */
static int append(sv_config_t *c, sv_cfg_node_t *parent, sv_cfg_node_t *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        sv_cfg_node_t **items = alloc(c, cap * sizeof *items);
        if (!items)
            return SV_E_NOMEM;
        if (parent->n)
            memcpy(items, parent->items, parent->n * sizeof *items);
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

/* ---- a growable string, for substitution and messages ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* ---- paths ---- */

static int is_abs(const char *p)
{
    return p[0] == '/';
}

/* The directory part of a file path: "a/b/c.yaml" -> "a/b", "c.yaml" -> ".", "/c.yaml" -> "/". */
static char *dir_of(sv_config_t *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sdup(c, ".");
    if (slash == path)
        return sdup(c, "/");
    return dupn(c, path, (size_t)(slash - path));
}

/* The parent of a directory, lexically, keeping relative paths relative. */
static char *parent_of(sv_config_t *c, const char *dir)
{
    const char *slash = strrchr(dir, '/');
    const char *last = slash ? slash + 1 : dir;
    if (strcmp(dir, "/") == 0)
        return sdup(c, "/");
    if (strcmp(last, ".") == 0 && !slash)
        return sdup(c, "..");
    if (strcmp(last, "..") == 0)
        return cat3(c, dir, "/..", "");
    return dir_of(c, dir);
}

static char *join(sv_config_t *c, const char *dir, const char *name)
{
    size_t l = strlen(dir);
    if (is_abs(name) || strcmp(dir, ".") == 0)
        return sdup(c, name);
    return cat3(c, dir, (l && dir[l - 1] == '/') ? "" : "/", name);
}

/* ---- errors ---- */

static size_t put_path(char *buf, size_t len, size_t at, const seg_t *p)
{
    if (!p)
        return at;
    at = put_path(buf, len, at, p->up);
    if (at >= len)
        return at;
    int w = p->key ? snprintf(buf + at, len - at, "%s%s", at ? "." : "", p->key)
                   : snprintf(buf + at, len - at, "%s%zu", at ? "." : "", p->idx);
    return w < 0 ? len : at + (size_t)w;
}

/* Reports "file:line:col: path: reason" (the path part only when there is one). */
__attribute__((format(printf, 6, 7))) static int fail(ld_t *L, const char *file, int line, int col,
                                                      const seg_t *path, const char *fmt, ...)
{
    char where[256] = "", reason[768];
    va_list ap;
    put_path(where, sizeof where, 0, path);
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return sv_diag_set(L->diag, SV_E_CONFIG, "%s:%d:%d: %s%s%s", file, line, col, where, *where ? ": " : "",
                       reason);
}

#define FAIL_AT(L, n, path, ...) fail((L), (n)->file, (n)->line, (n)->col, (path), __VA_ARGS__)
#define FAIL_KEY(L, n, path, ...) fail((L), (n)->file, (n)->key_line, (n)->key_col, (path), __VA_ARGS__)

static int nomem(ld_t *L)
{
    return sv_diag_set(L->diag, SV_E_NOMEM, "out of memory while loading the configuration");
}

/* A value quoted for a message, cut short so one line stays one line. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t n = strcspn(s, "\n");
    if (n > 60)
        n = 60;
    snprintf(buf, len, "%.*s%s", (int)n, s, s[n] ? "..." : "");
    return buf;
}

/* ---- reading and parsing a file ---- */

static int read_all(ld_t *L, const char *path, const char *named_by, char **out, size_t *outlen)
{
    char by[300] = "";
    if (named_by)
        snprintf(by, sizeof by, " (named by %s)", named_by);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sv_diag_set(L->diag, SV_E_CONFIG, "%s: cannot open: %s%s", path, strerror(errno), by);
    sbuf_t b = {0};
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_put(&b, chunk, got);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        free(b.p);
        return sv_diag_set(L->diag, SV_E_CONFIG, "%s: cannot read: %s%s", path, strerror(err), by);
    }
    if (b.oom) {
        free(b.p);
        return nomem(L);
    }
    *out = b.p; /* NULL for an empty file */
    *outlen = b.n;
    return 0;
}

static int syntax_error(ld_t *L, const char *file, const yaml_parser_t *p, const char *buf)
{
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(L);
    if (p->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset, not a mark */
        int line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && buf && buf[i]; i++, col++)
            if (buf[i] == '\n')
                line++, col = 0;
        return fail(L, file, line, col, NULL, "YAML syntax error: %s", p->problem ? p->problem : "unreadable input");
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        return fail(L, file, line, col, NULL, "YAML syntax error: %s (%s at line %d, column %d)", problem,
                    p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return fail(L, file, line, col, NULL, "YAML syntax error: %s", problem);
}

static int is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Puts node into the container being built (or makes it the root). */
static int attach(ld_t *L, sv_cfg_node_t *node, sv_cfg_node_t **root, sv_cfg_node_t **cur)
{
    sv_cfg_node_t *c = *cur;
    if (!c) {
        *root = node;
        return 0;
    }
    node->parent = c;
    if (c->type == SV_CFG_MAP) {
        if (!c->pending_key) {
            if (node->type == SV_CFG_MAP || node->type == SV_CFG_LIST)
                return FAIL_AT(L, node, NULL, "a key must be a single value, not a %s",
                               node->type == SV_CFG_MAP ? "map" : "list");
            c->pending_key = node->raw;
            c->pk_line = node->line;
            c->pk_col = node->col;
            return 0;
        }
        node->key = c->pending_key;
        node->key_line = c->pk_line;
        node->key_col = c->pk_col;
        c->pending_key = NULL;
    }
    return append(L->cfg, c, node) ? nomem(L) : 0;
}

static int refuse_anchor_tag(ld_t *L, const char *file, const yaml_mark_t *m, const yaml_char_t *anchor,
                             const yaml_char_t *tag)
{
    int line = (int)m->line + 1, col = (int)m->column + 1;
    if (anchor)
        return fail(L, file, line, col, NULL,
                    "YAML anchors are not supported (&%s); write the value out where it is needed",
                    (const char *)anchor);
    if (tag) {
        /* libyaml hands back "!!str" expanded; show it as it was most likely written */
        const char *t = (const char *)tag, *std = "tag:yaml.org,2002:";
        int is_std = strncmp(t, std, strlen(std)) == 0;
        return fail(L, file, line, col, NULL, "YAML tags are not supported (%s%s); write the plain value",
                    is_std ? "!!" : "", is_std ? t + strlen(std) : t);
    }
    return 0;
}

static int on_event(ld_t *L, const char *file, const yaml_event_t *ev, sv_cfg_node_t **root,
                    sv_cfg_node_t **cur, int *docs)
{
    const yaml_mark_t *m = &ev->start_mark;
    int line = (int)m->line + 1, col = (int)m->column + 1;
    sv_cfg_node_t *n;
    int rc;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return fail(L, file, line, col, NULL, "only one YAML document per file is supported");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail(L, file, line, col, NULL,
                    "YAML aliases are not supported (*%s); write the value out where it is needed",
                    (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if ((rc = refuse_anchor_tag(L, file, m, ev->data.scalar.anchor, ev->data.scalar.tag)))
            return rc;
        if (memchr(v, '\0', len))
            return fail(L, file, line, col, NULL, "a value may not contain a NUL character");
        int quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n = node_new(L->cfg, !quoted && is_null_text(v) ? SV_CFG_NULL : SV_CFG_STRING, file, line, col);
        if (!n || !(n->raw = dupn(L->cfg, v, len)))
            return nomem(L);
        n->quoted = (unsigned char)quoted;
        return attach(L, n, root, cur);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        if ((rc = refuse_anchor_tag(L, file, m, map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor,
                                    map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag)))
            return rc;
        if (!(n = node_new(L->cfg, map ? SV_CFG_MAP : SV_CFG_LIST, file, line, col)))
            return nomem(L);
        if ((rc = attach(L, n, root, cur)))
            return rc;
        *cur = n;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (*cur) /* libyaml pairs every end with a start; this only guards against a parser bug */
            *cur = (*cur)->parent;
        return 0;
    default:
        return 0;
    }
}

/* Parses buf into an untyped tree; *out is NULL for a file with no document. */
static int parse(ld_t *L, const char *file, const char *buf, size_t len, sv_cfg_node_t **out)
{
    yaml_parser_t p;
    yaml_event_t ev;
    sv_cfg_node_t *root = NULL, *cur = NULL;
    int docs = 0, rc = 0, done = 0;

    if (!yaml_parser_initialize(&p))
        return nomem(L);
    yaml_parser_set_input_string(&p, (const unsigned char *)(buf ? buf : ""), len);
    while (!done && !rc) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(L, file, &p, buf);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(L, file, &ev, &root, &cur, &docs);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    *out = root;
    return rc;
}

/* ---- ${VAR} substitution ---- */

static int is_name_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static int is_name_char(char ch)
{
    return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

/* Replaces ${VAR} and ${VAR:-default} in n->raw from the environment and $$ by $. A '$' before
 * anything else is kept, so prices and passwords with a lone '$' need no escaping. */
static int subst(ld_t *L, sv_cfg_node_t *n, const seg_t *path)
{
    const char *s = n->raw;
    if (!strchr(s, '$'))
        return 0;

    sbuf_t b = {0};
    char show[128];
    int rc = 0;
    while (*s && !rc) {
        const char *dollar = strchr(s, '$');
        if (!dollar) {
            sb_puts(&b, s);
            break;
        }
        sb_put(&b, s, (size_t)(dollar - s));
        if (dollar[1] == '$') {
            sb_put(&b, "$", 1);
            s = dollar + 2;
            continue;
        }
        if (dollar[1] != '{') {
            sb_put(&b, "$", 1);
            s = dollar + 1;
            continue;
        }
        const char *name = dollar + 2, *end = name, *close = strchr(name, '}');
        if (!close) {
            rc = FAIL_AT(L, n, path, "unterminated '${' in '%s' (missing '}')", shown(dollar, show, sizeof show));
            break;
        }
        snprintf(show, sizeof show, "%.*s", (int)(close - dollar + 1 > 100 ? 100 : close - dollar + 1), dollar);
        while (is_name_char(*end))
            end++;
        if (end == name || !is_name_start(*name)) {
            rc = FAIL_AT(L, n, path,
                         "malformed '%s': a variable name is letters, digits and '_', not starting with a digit",
                         show);
            break;
        }
        const char *def = NULL;
        if (end[0] == ':' && end[1] == '-')
            def = end + 2;
        else if (end != close) {
            rc = FAIL_AT(L, n, path, "malformed '%s': write ${NAME} or ${NAME:-default}", show);
            break;
        }
        char *var = strndup(name, (size_t)(end - name));
        if (!var) {
            rc = nomem(L);
            break;
        }
        const char *val = getenv(var);
        if (def && (!val || !*val))
            sb_put(&b, def, (size_t)(close - def));
        else if (val)
            sb_puts(&b, val);
        else
            rc = FAIL_AT(L, n, path, "environment variable '%s' is not set (use ${%s:-default} for a default)", var,
                         var);
        free(var);
        s = close + 1;
    }
    if (!rc && b.oom)
        rc = nomem(L);
    if (!rc) {
        char *v = sdup(L->cfg, b.p ? b.p : "");
        if (!v)
            rc = nomem(L);
        else
            n->raw = v;
    }
    free(b.p);
    return rc;
}

/* ---- typing scalars ---- */

/* [-+]?[0-9]+ */
static int is_int_text(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* [-+]? ( digits [. digits?] | . digits ) ( [eE] [-+]? digits )? : no hex, inf or nan. */
static int is_num_text(const char *s)
{
    int digits = 0;
    if (*s == '+' || *s == '-')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return !*s;
}

static int parse_int(const char *s, int64_t *out)
{
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_num(ld_t *L, const char *s, double *out)
{
    double v = strtod_l(s, NULL, L->cloc);
    if (isinf(v))
        return -1;
    *out = v;
    return 0;
}

static void expected(const sv_cfg_field_t *f, char *buf, size_t len)
{
    switch (f->kind) {
    case SV_CFG_K_STRING: snprintf(buf, len, "string"); break;
    case SV_CFG_K_INT: snprintf(buf, len, "integer"); break;
    case SV_CFG_K_NUMBER: snprintf(buf, len, "number"); break;
    case SV_CFG_K_BOOL: snprintf(buf, len, "true or false"); break;
    case SV_CFG_K_SCALAR: snprintf(buf, len, "a single value (number, string, true or false)"); break;
    case SV_CFG_K_MAP:
    case SV_CFG_K_DICT: snprintf(buf, len, "a map"); break;
    case SV_CFG_K_LIST: snprintf(buf, len, "a list"); break;
    case SV_CFG_K_ENUM: {
        size_t at = (size_t)snprintf(buf, len, "one of");
        for (size_t i = 0; f->values[i] && at < len; i++)
            at += (size_t)snprintf(buf + at, len - at, "%s %s", i ? "," : "", f->values[i]);
        break;
    }
    }
}

static int type_fail(ld_t *L, const sv_cfg_field_t *f, const sv_cfg_node_t *n, const seg_t *path)
{
    char want[256], got[160], show[80];
    expected(f, want, sizeof want);
    if (n->type == SV_CFG_MAP)
        snprintf(got, sizeof got, "a map");
    else if (n->type == SV_CFG_LIST)
        snprintf(got, sizeof got, "a list");
    else if (n->type == SV_CFG_NULL)
        snprintf(got, sizeof got, "an empty value");
    else if (n->quoted)
        snprintf(got, sizeof got, "a quoted string \"%s\"", shown(n->raw, show, sizeof show));
    else
        snprintf(got, sizeof got, "'%s'", shown(n->raw, show, sizeof show));
    return FAIL_AT(L, n, path, "expected %s, got %s", want, got);
}

static int range_check(ld_t *L, const sv_cfg_field_t *f, const sv_cfg_node_t *n, double v, const seg_t *path)
{
    unsigned fl = f->flags;
    int lo_ok = !(fl & SV_CFG_GE) || v >= f->min, hi_ok = !(fl & SV_CFG_LE) || v <= f->max;
    lo_ok = lo_ok && (!(fl & SV_CFG_GT) || v > f->min);
    hi_ok = hi_ok && (!(fl & SV_CFG_LT) || v < f->max);
    if (lo_ok && hi_ok)
        return 0;

    char lo[64] = "", hi[64] = "";
    int has_lo = (fl & (SV_CFG_GE | SV_CFG_GT)) != 0, has_hi = (fl & (SV_CFG_LE | SV_CFG_LT)) != 0;
    if ((fl & SV_CFG_GE) && (fl & SV_CFG_LE))
        return FAIL_AT(L, n, path, "must be between %.15g and %.15g, got %s", f->min, f->max, n->raw);
    if (has_lo)
        snprintf(lo, sizeof lo, "%s %.15g", (fl & SV_CFG_GT) ? ">" : ">=", f->min);
    if (has_hi)
        snprintf(hi, sizeof hi, "%s %.15g", (fl & SV_CFG_LT) ? "<" : "<=", f->max);
    return FAIL_AT(L, n, path, "must be %s%s%s, got %s", lo, has_lo && has_hi ? " and " : "", hi, n->raw);
}

static int check(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t **np, const seg_t *path);

static int check_scalar(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t *n, const seg_t *path)
{
    int rc;
    char show[80];

    /* defaults are schema text: a '$' there is meant literally */
    if (!n->is_default && (rc = subst(L, n, path)))
        return rc;
    const char *s = n->raw;

    switch (f->kind) {
    case SV_CFG_K_STRING:
        n->type = SV_CFG_STRING;
        n->str = s;
        if ((f->flags & SV_CFG_PATH) && *s && !(n->str = join(L->cfg, L->cfg->project_root, s)))
            return nomem(L);
        return 0;
    case SV_CFG_K_ENUM: {
        for (size_t i = 0; f->values[i]; i++)
            if (strcmp(s, f->values[i]) == 0) {
                n->type = SV_CFG_STRING;
                n->str = s;
                return 0;
            }
        char want[256];
        expected(f, want, sizeof want);
        return FAIL_AT(L, n, path, "must be %s; got '%s'", want, shown(s, show, sizeof show));
    }
    case SV_CFG_K_INT:
        if (n->quoted || !is_int_text(s))
            return type_fail(L, f, n, path);
        if (parse_int(s, &n->i))
            return FAIL_AT(L, n, path, "integer out of range, got %s", shown(s, show, sizeof show));
        n->type = SV_CFG_INT;
        n->d = (double)n->i;
        return range_check(L, f, n, n->d, path);
    case SV_CFG_K_NUMBER:
        if (n->quoted || !is_num_text(s))
            return type_fail(L, f, n, path);
        if (parse_num(L, s, &n->d))
            return FAIL_AT(L, n, path, "number out of range, got %s", shown(s, show, sizeof show));
        n->type = SV_CFG_NUMBER;
        return range_check(L, f, n, n->d, path);
    case SV_CFG_K_BOOL:
        if (n->quoted || (strcmp(s, "true") != 0 && strcmp(s, "false") != 0))
            return type_fail(L, f, n, path);
        n->type = SV_CFG_BOOL;
        n->b = s[0] == 't';
        return 0;
    case SV_CFG_K_SCALAR:
        n->type = SV_CFG_STRING;
        n->str = s;
        if (n->quoted)
            return 0;
        if (!strcmp(s, "true") || !strcmp(s, "false")) {
            n->type = SV_CFG_BOOL;
            n->b = s[0] == 't';
        } else if (is_int_text(s) && parse_int(s, &n->i) == 0) {
            n->type = SV_CFG_INT;
            n->d = (double)n->i;
        } else if (is_num_text(s)) {
            if (parse_num(L, s, &n->d))
                return FAIL_AT(L, n, path, "number out of range, got %s", shown(s, show, sizeof show));
            n->type = SV_CFG_NUMBER;
        }
        return 0;
    default:
        return type_fail(L, f, n, path);
    }
}

/* ---- checking maps and lists ---- */

static const sv_cfg_field_t *find_field(const sv_cfg_field_t *fields, const char *key)
{
    for (; fields->key; fields++)
        if (strcmp(fields->key, key) == 0)
            return fields;
    return NULL;
}

static sv_cfg_node_t *child(const sv_cfg_node_t *map, const char *key, size_t len)
{
    for (size_t i = 0; i < map->n; i++)
        if (strlen(map->items[i]->key) == len && memcmp(map->items[i]->key, key, len) == 0)
            return map->items[i];
    return NULL;
}

static sv_cfg_node_t *member(const sv_cfg_node_t *map, const char *key)
{
    return map && map->type == SV_CFG_MAP ? child(map, key, strlen(key)) : NULL;
}

/* Levenshtein distance, or a large number when the lengths alone rule out a suggestion. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[128];
    if (la >= sizeof row / sizeof row[0] || lb >= sizeof row / sizeof row[0] || (la > lb ? la - lb : lb - la) > 3)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_key(ld_t *L, const sv_cfg_field_t *f, const sv_cfg_node_t *e, const seg_t *path)
{
    const char *best = NULL;
    size_t best_d = 4;
    char show[80];
    for (const sv_cfg_field_t *k = f->fields; k->key; k++) {
        size_t d = distance(e->key, k->key);
        if (d < best_d && d < strlen(k->key)) {
            best = k->key;
            best_d = d;
        }
    }
    if (best)
        return FAIL_KEY(L, e, path, "unknown key '%s' (did you mean '%s'?)", shown(e->key, show, sizeof show), best);

    char known[512];
    size_t at = 0;
    known[0] = '\0';
    for (const sv_cfg_field_t *k = f->fields; k->key && at < sizeof known; k++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", at ? ", " : "", k->key);
    return FAIL_KEY(L, e, path, "unknown key '%s' (known keys: %s)", shown(e->key, show, sizeof show), known);
}

static int duplicate_key(ld_t *L, const sv_cfg_node_t *map, size_t i, const seg_t *path)
{
    const sv_cfg_node_t *e = map->items[i];
    char show[80];
    for (size_t j = 0; j < i; j++)
        if (strcmp(map->items[j]->key, e->key) == 0)
            return FAIL_KEY(L, e, path, "duplicate key '%s' (first at line %d)", shown(e->key, show, sizeof show),
                            map->items[j]->key_line);
    return 0;
}

/* A node holding fd's default (or, for a map, an empty map to fill), placed at the map it joins. */
static sv_cfg_node_t *implied(ld_t *L, const sv_cfg_node_t *map, const sv_cfg_field_t *fd)
{
    sv_cfg_node_t *n = node_new(L->cfg, fd->def ? SV_CFG_STRING : SV_CFG_MAP, map->file, map->line, map->col);
    if (!n)
        return NULL;
    n->key = fd->key;
    n->key_line = map->line;
    n->key_col = map->col;
    n->is_default = 1;
    if (fd->def && !(n->raw = sdup(L->cfg, fd->def)))
        return NULL;
    return n;
}

static int wants_fill(const sv_cfg_node_t *map, const sv_cfg_field_t *fd)
{
    if (fd->kind != SV_CFG_K_MAP || !(fd->flags & SV_CFG_FILL))
        return 0;
    if (!fd->fill_if_key)
        return 1;
    const sv_cfg_node_t *cond = member(map, fd->fill_if_key);
    return cond && cond->type == SV_CFG_STRING && strcmp(cond->str, fd->fill_if_value) == 0;
}

static int check_map(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t *n, const seg_t *path)
{
    int rc;
    for (size_t i = 0; i < n->n; i++) {
        sv_cfg_node_t *e = n->items[i];
        const sv_cfg_field_t *fd;
        if ((rc = duplicate_key(L, n, i, path)))
            return rc;
        if (!(fd = find_field(f->fields, e->key)))
            return unknown_key(L, f, e, path);
        seg_t s = {path, fd->key, 0};
        if ((rc = check(L, fd, &n->items[i], &s)))
            return rc;
    }
    for (const sv_cfg_field_t *fd = f->fields; fd->key; fd++)
        if ((fd->flags & SV_CFG_REQUIRED) && !member(n, fd->key))
            return FAIL_AT(L, n, path, "missing required key '%s'", fd->key);
    /* Defaults first, then filled maps, so a fill condition can read a defaulted sibling. */
    for (int pass = 0; pass < 2; pass++)
        for (const sv_cfg_field_t *fd = f->fields; fd->key; fd++) {
            if (member(n, fd->key) || !(pass == 0 ? fd->def != NULL : wants_fill(n, fd)))
                continue;
            sv_cfg_node_t *d = implied(L, n, fd);
            seg_t s = {path, fd->key, 0};
            if (!d || append(L->cfg, n, d))
                return nomem(L);
            if ((rc = check(L, fd, &n->items[n->n - 1], &s)))
                return rc;
        }
    return 0;
}

static int check_dict(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t *n, const seg_t *path)
{
    for (size_t i = 0; i < n->n; i++) {
        seg_t s = {path, n->items[i]->key, 0};
        int rc;
        if ((rc = duplicate_key(L, n, i, path)) || (rc = check(L, f->item, &n->items[i], &s)))
            return rc;
    }
    if (n->n < f->min_len)
        return FAIL_AT(L, n, path, "must have at least %zu entr%s", f->min_len, f->min_len == 1 ? "y" : "ies");
    return 0;
}

/* Two entries of a list with equal text, where the schema says they must differ. */
static int unique(ld_t *L, const sv_cfg_node_t *list, const char *key, const seg_t *path)
{
    char show[80];
    for (size_t i = 1; i < list->n; i++) {
        const sv_cfg_node_t *a = key ? member(list->items[i], key) : list->items[i];
        if (!a || !a->raw)
            continue;
        for (size_t j = 0; j < i; j++) {
            const sv_cfg_node_t *b = key ? member(list->items[j], key) : list->items[j];
            if (b && b->raw && strcmp(a->raw, b->raw) == 0) {
                seg_t at = {path, NULL, i}, k = {&at, key, 0};
                return FAIL_AT(L, a, key ? &k : &at, "'%s' is listed twice (first at line %d)",
                               shown(a->raw, show, sizeof show), b->line);
            }
        }
    }
    return 0;
}

static int check_list(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t *n, const seg_t *path)
{
    int rc;
    if (n->n < f->min_len)
        return FAIL_AT(L, n, path, "must have at least %zu entr%s", f->min_len, f->min_len == 1 ? "y" : "ies");
    for (size_t i = 0; i < n->n; i++) {
        seg_t s = {path, NULL, i};
        if ((rc = check(L, f->item, &n->items[i], &s)))
            return rc;
    }
    if (f->item->flags & SV_CFG_UNIQUE)
        return unique(L, n, NULL, path);
    if (f->item->kind == SV_CFG_K_MAP)
        for (const sv_cfg_field_t *fd = f->item->fields; fd->key; fd++)
            if ((fd->flags & SV_CFG_UNIQUE) && (rc = unique(L, n, fd->key, path)))
                return rc;
    return 0;
}

static int check(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t **np, const seg_t *path)
{
    sv_cfg_node_t *n = *np;
    if (f->flags & SV_CFG_SECRET)
        n->secret = 1;

    if (n->type == SV_CFG_NULL) {
        if (f->flags & SV_CFG_REQUIRED)
            return type_fail(L, f, n, path);
        if (f->def) {
            /* `key:` with nothing after it asks for the default */
            if (!(n->raw = sdup(L->cfg, f->def)))
                return nomem(L);
            n->type = SV_CFG_STRING;
            n->is_default = 1;
        } else if (f->kind == SV_CFG_K_MAP || f->kind == SV_CFG_K_DICT) {
            n->type = SV_CFG_MAP;
        } else if (f->kind == SV_CFG_K_LIST) {
            n->type = SV_CFG_LIST;
        } else {
            return 0; /* an optional value left empty */
        }
    }

    switch (f->kind) {
    case SV_CFG_K_MAP:
        return n->type == SV_CFG_MAP ? check_map(L, f, n, path) : type_fail(L, f, n, path);
    case SV_CFG_K_DICT:
        return n->type == SV_CFG_MAP ? check_dict(L, f, n, path) : type_fail(L, f, n, path);
    case SV_CFG_K_LIST:
        return n->type == SV_CFG_LIST ? check_list(L, f, n, path) : type_fail(L, f, n, path);
    default:
        return n->type == SV_CFG_STRING ? check_scalar(L, f, n, path) : type_fail(L, f, n, path);
    }
}

/* ---- loading a file, and composing the environment ---- */

static int load_tree(ld_t *L, const char *path, const char *named_by, const sv_cfg_field_t *schema,
                     sv_cfg_node_t **out);

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Replaces the reference *np by the checked tree of the file it names. */
static int include(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t **np)
{
    sv_cfg_node_t *ref = *np, *sub;
    sv_config_t *c = L->cfg;
    const char *name = ref->str;
    char *path, by[256];

    if (ends_with(name, ".yaml") || ends_with(name, ".yml")) {
        char *dir = dir_of(c, ref->file);
        path = dir ? join(c, dir, name) : NULL;
    } else {
        char *dir = join(c, c->config_root, f->include_dir);
        path = dir ? cat3(c, dir, "/", name) : NULL;
        path = path ? cat3(c, path, ".yaml", "") : NULL;
    }
    if (!path)
        return nomem(L);
    snprintf(by, sizeof by, "%s:%d:%d", ref->file, ref->line, ref->col);
    int rc = load_tree(L, path, by, f->include, &sub);
    if (rc)
        return rc;
    sub->key = ref->key;
    sub->key_line = ref->key_line;
    sub->key_col = ref->key_col;
    *np = sub;
    return 0;
}

/* Walks a checked tree beside its schema and loads every file reference in it. */
static int resolve(ld_t *L, const sv_cfg_field_t *f, sv_cfg_node_t **np)
{
    sv_cfg_node_t *n = *np;
    int rc;
    switch (f->kind) {
    case SV_CFG_K_MAP:
        for (size_t i = 0; i < n->n; i++)
            if ((rc = resolve(L, find_field(f->fields, n->items[i]->key), &n->items[i])))
                return rc;
        return 0;
    case SV_CFG_K_LIST:
    case SV_CFG_K_DICT:
        for (size_t i = 0; i < n->n; i++)
            if ((rc = resolve(L, f->item, &n->items[i])))
                return rc;
        return 0;
    default:
        return f->include && n->type == SV_CFG_STRING ? include(L, f, np) : 0;
    }
}

static int load_tree(ld_t *L, const char *path, const char *named_by, const sv_cfg_field_t *schema,
                     sv_cfg_node_t **out)
{
    char *buf = NULL;
    size_t len = 0;
    sv_cfg_node_t *root = NULL;
    const char *file = sdup(L->cfg, path);
    if (!file)
        return nomem(L);
    int rc = read_all(L, path, named_by, &buf, &len);
    if (!rc)
        rc = parse(L, file, buf, len, &root);
    free(buf);
    if (rc)
        return rc;
    if (!root || root->type == SV_CFG_NULL)
        return root ? FAIL_AT(L, root, NULL, "empty document (expected a map of settings)")
                    : fail(L, file, 1, 1, NULL, "empty document (expected a map of settings)");
    if (root->type != SV_CFG_MAP)
        return FAIL_AT(L, root, NULL, "top level must be a map of settings, got %s",
                       root->type == SV_CFG_LIST ? "a list" : "a single value");
    if ((rc = check(L, schema, &root, NULL)))
        return rc;
    if (L->compose && (rc = resolve(L, schema, &root)))
        return rc;
    *out = root;
    return 0;
}

static int has_symbol(const sv_cfg_node_t *symbols, const char *name)
{
    for (size_t i = 0; i < sv_cfg_len(symbols); i++)
        if (strcmp(sv_cfg_str(symbols->items[i], "symbol", ""), name) == 0)
            return 1;
    return 0;
}

static int unknown_symbol(ld_t *L, const sv_cfg_node_t *at, int at_key, const seg_t *path, const char *name,
                          const sv_cfg_node_t *exchange)
{
    const sv_cfg_node_t *symbols = sv_cfg_get(exchange, "symbols");
    char list[400], show[80];
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; i < sv_cfg_len(symbols) && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                              sv_cfg_str(symbols->items[i], "symbol", ""));
    shown(name, show, sizeof show);
    const char *ex = sv_cfg_str(exchange, "name", "?");
    if (at_key)
        return FAIL_KEY(L, at, path, "unknown symbol '%s' (exchange '%s' has %s)", show, ex, list);
    return FAIL_AT(L, at, path, "unknown symbol '%s' (exchange '%s' has %s)", show, ex, list);
}

/* Rules that span files: strategies and risk limits may only name symbols the exchange trades,
 * because a misspelt symbol would otherwise never trade or never be limited, silently. */
static int check_symbols(ld_t *L, const sv_cfg_node_t *root)
{
    const sv_cfg_node_t *exchange = sv_cfg_get(root, "exchange"), *symbols = sv_cfg_get(exchange, "symbols");
    const sv_cfg_node_t *strategies = sv_cfg_get(root, "strategies");
    int rc;

    for (size_t s = 0; s < sv_cfg_len(strategies); s++) {
        const sv_cfg_node_t *list = sv_cfg_get(strategies->items[s], "symbols");
        seg_t top = {NULL, "symbols", 0};
        for (size_t i = 0; i < sv_cfg_len(list); i++) {
            seg_t at = {&top, NULL, i};
            const sv_cfg_node_t *sym = list->items[i];
            if (!has_symbol(symbols, sym->str) && (rc = unknown_symbol(L, sym, 0, &at, sym->str, exchange)))
                return rc;
        }
    }
    const sv_cfg_node_t *limits = sv_cfg_get(root, "risk.symbols");
    seg_t top = {NULL, "symbols", 0};
    for (size_t i = 0; i < sv_cfg_len(limits); i++) {
        const sv_cfg_node_t *e = limits->items[i];
        if (!has_symbol(symbols, e->key) && (rc = unknown_symbol(L, e, 1, &top, e->key, exchange)))
            return rc;
    }
    return 0;
}

static int load(const char *path, const sv_cfg_field_t *schema, int compose, sv_config_t **out, sv_diag_t *diag)
{
    if (!path || !out)
        return sv_diag_set(diag, SV_E_INVAL, "config: no file to load");

    sv_config_t *c = calloc(1, sizeof *c);
    ld_t L = {.cfg = c, .diag = diag, .compose = compose};
    if (!c)
        return sv_diag_set(diag, SV_E_NOMEM, "out of memory while loading the configuration");
    L.cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    char *dir = dir_of(c, path);
    char *config_root = dir ? parent_of(c, dir) : NULL;
    c->config_root = config_root;
    c->project_root = config_root ? parent_of(c, config_root) : NULL;

    int rc = !L.cloc || !c->project_root ? nomem(&L) : load_tree(&L, path, NULL, schema, &c->root);
    if (!rc && compose)
        rc = check_symbols(&L, c->root);
    if (L.cloc)
        freelocale(L.cloc);
    if (rc) {
        sv_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sv_config_load(const char *env_path, sv_config_t **out, sv_diag_t *diag)
{
    sv_diag_clear(diag);
    if (out)
        *out = NULL;
    return load(env_path, sv_cfg_schema("environment"), 1, out, diag);
}

int sv_config_load_file(const char *path, const char *kind, sv_config_t **out, sv_diag_t *diag)
{
    const sv_cfg_field_t *schema = sv_cfg_schema(kind);
    sv_diag_clear(diag);
    if (out)
        *out = NULL;
    if (!schema)
        return sv_diag_set(diag, SV_E_INVAL,
                           "config: unknown file kind '%s' (expected environment, exchange, risk or strategy)",
                           kind ? kind : "(null)");
    return load(path, schema, 0, out, diag);
}

void sv_config_free(sv_config_t *cfg)
{
    if (!cfg)
        return;
    for (blk_t *b = cfg->mem, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(cfg);
}

const sv_cfg_node_t *sv_config_root(const sv_config_t *cfg)
{
    return cfg ? cfg->root : NULL;
}

const char *sv_config_project_root(const sv_config_t *cfg)
{
    return cfg ? cfg->project_root : NULL;
}

/* ---- reading the tree ---- */

const sv_cfg_node_t *sv_cfg_get(const sv_cfg_node_t *n, const char *path)
{
    if (!n || !path || !*path)
        return n;
    for (const char *p = path; n; p++) {
        size_t len = strcspn(p, ".");
        if (n->type == SV_CFG_MAP) {
            n = child(n, p, len);
        } else if (n->type == SV_CFG_LIST && len > 0 && strspn(p, "0123456789") >= len) {
            size_t idx = 0;
            for (size_t i = 0; i < len && idx <= n->n; i++)
                idx = idx * 10 + (size_t)(p[i] - '0');
            n = idx < n->n ? n->items[idx] : NULL;
        } else {
            n = NULL;
        }
        p += len;
        if (!*p)
            break;
    }
    return n;
}

sv_cfg_type_t sv_cfg_type(const sv_cfg_node_t *n)
{
    return n ? n->type : SV_CFG_NULL;
}

const char *sv_cfg_str(const sv_cfg_node_t *n, const char *path, const char *def)
{
    n = sv_cfg_get(n, path);
    return n && n->type == SV_CFG_STRING ? n->str : def;
}

int64_t sv_cfg_int(const sv_cfg_node_t *n, const char *path, int64_t def)
{
    n = sv_cfg_get(n, path);
    return n && n->type == SV_CFG_INT ? n->i : def;
}

double sv_cfg_num(const sv_cfg_node_t *n, const char *path, double def)
{
    n = sv_cfg_get(n, path);
    return n && (n->type == SV_CFG_NUMBER || n->type == SV_CFG_INT) ? n->d : def;
}

int sv_cfg_bool(const sv_cfg_node_t *n, const char *path, int def)
{
    n = sv_cfg_get(n, path);
    return n && n->type == SV_CFG_BOOL ? n->b : def;
}

const char *sv_cfg_raw(const sv_cfg_node_t *n)
{
    return n && n->type != SV_CFG_MAP && n->type != SV_CFG_LIST ? n->raw : NULL;
}

size_t sv_cfg_len(const sv_cfg_node_t *n)
{
    return n && (n->type == SV_CFG_MAP || n->type == SV_CFG_LIST) ? n->n : 0;
}

const sv_cfg_node_t *sv_cfg_at(const sv_cfg_node_t *n, size_t i)
{
    return i < sv_cfg_len(n) ? n->items[i] : NULL;
}

const char *sv_cfg_key(const sv_cfg_node_t *map, size_t i)
{
    return map && map->type == SV_CFG_MAP && i < map->n ? map->items[i]->key : NULL;
}

int sv_cfg_where(const sv_cfg_node_t *n, char *buf, size_t len)
{
    if (!n || !buf || !len)
        return SV_E_INVAL;
    int w = snprintf(buf, len, "%s:%d:%d%s", n->file, n->line, n->col, n->is_default ? " (default)" : "");
    return w < 0 || (size_t)w >= len ? SV_E_RANGE : 0;
}

/* ---- dump and secrets ---- */

/* Plain text a YAML reader would take back as this same string (not a number, bool or null,
 * including YAML 1.1's yes/no/on/off); anything else is written double-quoted. */
static int plain_ok(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", NULL};
    if (!*s || is_int_text(s) || is_num_text(s) || strchr("-.@", s[0]))
        return 0;
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 0;
    for (const char *p = s; *p; p++)
        if (!is_name_char(*p) && !strchr("./-@+", *p))
            return 0;
    return 1;
}

static void put_str(FILE *o, const char *s)
{
    if (plain_ok(s)) {
        fputs(s, o);
        return;
    }
    fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(o, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", o);
        else if (*p == '\t')
            fputs("\\t", o);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(o, "\\x%02x", *p);
        else
            fputc(*p, o);
    }
    fputc('"', o);
}

static void put_scalar(FILE *o, const sv_cfg_node_t *n)
{
    if (n->secret)
        fputs(n->type == SV_CFG_STRING && *n->str ? "\"***\"" : "\"\"", o);
    else if (n->type == SV_CFG_NULL)
        fputs("~", o);
    else if (n->type == SV_CFG_STRING)
        put_str(o, n->str);
    else
        fputs(n->raw, o);
}

static void dump_node(FILE *o, const sv_cfg_node_t *n, const char *from, int indent);

/* Writes a map's entries, the first one on the current line when inline (after "- "). */
static void dump_entries(FILE *o, const sv_cfg_node_t *map, int indent, int inline_first)
{
    for (size_t i = 0; i < map->n; i++) {
        const sv_cfg_node_t *e = map->items[i];
        if (i || !inline_first)
            fprintf(o, "%*s", indent, "");
        put_str(o, e->key);
        fputc(':', o);
        dump_node(o, e, map->file, indent);
    }
}

/* Writes n as the value after "key:" (or "-"), ending the line; nested entries go at indent+2. */
static void dump_node(FILE *o, const sv_cfg_node_t *n, const char *from, int indent)
{
    int other_file = strcmp(n->file, from) != 0;
    if (n->type == SV_CFG_MAP || n->type == SV_CFG_LIST) {
        if (!n->n) {
            fputs(n->type == SV_CFG_MAP ? " {}\n" : " []\n", o);
            return;
        }
        if (other_file)
            fprintf(o, "  # %s", n->file);
        fputc('\n', o);
        if (n->type == SV_CFG_MAP) {
            dump_entries(o, n, indent + 2, 0);
            return;
        }
        for (size_t i = 0; i < n->n; i++) {
            const sv_cfg_node_t *e = n->items[i];
            fprintf(o, "%*s-", indent + 2, "");
            if (e->type == SV_CFG_MAP && e->n && strcmp(e->file, n->file) == 0) {
                fputc(' ', o);
                dump_entries(o, e, indent + 4, 1);
            } else {
                dump_node(o, e, n->file, indent + 2);
            }
        }
        return;
    }
    fputc(' ', o);
    put_scalar(o, n);
    fputs(n->is_default ? "  # default\n" : "\n", o);
}

int sv_config_dump(const sv_config_t *cfg, FILE *out)
{
    if (!cfg || !cfg->root || !out)
        return SV_E_INVAL;
    fprintf(out, "# %s, resolved\n", cfg->root->file);
    dump_entries(out, cfg->root, 0, 0);
    return ferror(out) ? SV_E_IO : 0;
}

static size_t secrets(const sv_cfg_node_t *n, const char **out, size_t max, size_t count)
{
    if (n->secret && n->type == SV_CFG_STRING && *n->str) {
        if (count < max)
            out[count] = n->str;
        count++;
    }
    for (size_t i = 0; i < sv_cfg_len(n); i++)
        count = secrets(n->items[i], out, max, count);
    return count;
}

size_t sv_config_secrets(const sv_config_t *cfg, const char **out, size_t max)
{
    return cfg && cfg->root ? secrets(cfg->root, out, max, 0) : 0;
}
