/* config: loads, validates and resolves the engine's YAML configuration.
 *
 * An environment file (config/environments/<name>.yaml) names an exchange file, a risk file and
 * strategy files; sv_config_load() reads all of them (libyaml), substitutes ${VAR} and
 * ${VAR:-default} from the process environment ($$ is a literal $), checks every file against the
 * schema (the const sv_cfg_field_t tables in config_schema.c), fills defaults, and hands back one
 * tree in which each file reference is replaced by that file's validated map.
 *
 * Invariants of a loaded tree:
 *   - every key is known to the schema, appears once, and has a value of the schema's type and range;
 *   - every key with a default is present; a node remembers its file:line:column;
 *   - every scalar keeps its text after substitution (sv_cfg_raw) beside the parsed value, so a
 *     price can be re-parsed exactly as a decimal.
 * The first problem found fails the load with SV_E_CONFIG and one line in the diag:
 *   config/risk/default.yaml:12:5: defaults.max_order_qty: must be > 0, got -1
 * No global state: each call has its own parser; the only outside input is getenv().
 * The tree is immutable after loading; the sv_config_t owns every node and string. */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct sv_config sv_config_t;     /* a loaded configuration; owns all nodes */
typedef struct sv_cfg_node sv_cfg_node_t; /* one value in it */

typedef enum {
    SV_CFG_NULL,   /* an empty value (`key:` or `~`), or no node at all */
    SV_CFG_STRING, /* also enum values and resolved paths */
    SV_CFG_INT,    /* int64_t */
    SV_CFG_NUMBER, /* double */
    SV_CFG_BOOL,   /* only `true` and `false` */
    SV_CFG_MAP,    /* keys in file order, then defaults in schema order */
    SV_CFG_LIST
} sv_cfg_type_t;

/* ---- loading ---- */

/* Loads the environment file env_path and every file it names. Returns 0 and sets *out (free it
 * with sv_config_free), or SV_E_CONFIG / SV_E_NOMEM / SV_E_INVAL with diag filled and *out NULL. */
int sv_config_load(const char *env_path, sv_config_t **out, sv_diag_t *diag);

/* Loads and validates one file alone as kind "environment", "exchange", "risk" or "strategy"; an
 * environment's file references stay strings. For tests and tools (`silvertine config check`). */
int sv_config_load_file(const char *path, const char *kind, sv_config_t **out, sv_diag_t *diag);

/* Frees cfg and every node and string it handed out. NULL is a no-op. */
void sv_config_free(sv_config_t *cfg);

/* The root map of the loaded file(s). Owned by cfg. */
const sv_cfg_node_t *sv_config_root(const sv_config_t *cfg);

/* Directory against which relative paths in the config were resolved: the parent of the config
 * root, which is the parent of the loaded file's directory ("config/environments/x.yaml" -> ".").
 * Owned by cfg. */
const char *sv_config_project_root(const sv_config_t *cfg);

/* Writes the resolved tree as YAML (defaults filled and marked, each included file named in a
 * comment); secret values print as "***", or "" when empty or unset. Returns 0 or SV_E_IO. */
int sv_config_dump(const sv_config_t *cfg, FILE *out);

/* Stores up to max pointers to the non-empty secret values (API keys, passwords) in out, for the
 * log's redaction; returns how many there are in all (which may exceed max). Owned by cfg. */
size_t sv_config_secrets(const sv_config_t *cfg, const char **out, size_t max);

/* ---- reading the tree ----
 * A path is dot-separated map keys and list indexes: "bus.redis.port", "strategies.0.file".
 * NULL or "" names n itself; a key that itself contains '.' is reached with sv_cfg_at/sv_cfg_key.
 * Every accessor accepts n == NULL and then finds nothing. */

/* The node at path under n, or NULL if there is none. Owned by the config. */
const sv_cfg_node_t *sv_cfg_get(const sv_cfg_node_t *n, const char *path);

/* The node's type; SV_CFG_NULL for a NULL pointer. */
sv_cfg_type_t sv_cfg_type(const sv_cfg_node_t *n);

/* The value at path if it has the asked-for type, else def. sv_cfg_num also converts an integer. */
const char *sv_cfg_str(const sv_cfg_node_t *n, const char *path, const char *def);
int64_t sv_cfg_int(const sv_cfg_node_t *n, const char *path, int64_t def);
double sv_cfg_num(const sv_cfg_node_t *n, const char *path, double def);
int sv_cfg_bool(const sv_cfg_node_t *n, const char *path, int def);

/* A scalar's text after substitution, as written (a path value before resolution, "0.010" with
 * its zero); NULL for a map, a list or a NULL node. Owned by the config. */
const char *sv_cfg_raw(const sv_cfg_node_t *n);

/* Entries of a map or list; 0 for anything else. */
size_t sv_cfg_len(const sv_cfg_node_t *n);

/* The i-th value of a map or list, or NULL past the end. */
const sv_cfg_node_t *sv_cfg_at(const sv_cfg_node_t *n, size_t i);

/* The key of the i-th entry of a map, or NULL. Owned by the config. */
const char *sv_cfg_key(const sv_cfg_node_t *map, size_t i);

/* Writes "file:line:col" of n into buf (a filled-in default reports the map it was added to,
 * followed by " (default)"). Returns 0, SV_E_INVAL for a NULL node, or SV_E_RANGE if truncated. */
int sv_cfg_where(const sv_cfg_node_t *n, char *buf, size_t len);

/* ---- the schema ----
 * Each file kind is described by const tables of field descriptors (config_schema.c). Adding a key
 * is adding a descriptor; the loader, the defaults, the dump and the tests follow from the table. */

typedef enum {
    SV_CFG_K_STRING, /* any scalar, kept as text */
    SV_CFG_K_INT,    /* decimal integer, unquoted */
    SV_CFG_K_NUMBER, /* decimal number (integer, fraction, exponent), unquoted */
    SV_CFG_K_BOOL,   /* true or false, unquoted */
    SV_CFG_K_ENUM,   /* one of .values */
    SV_CFG_K_SCALAR, /* any scalar, typed by its text: bool, int, number, else string */
    SV_CFG_K_MAP,    /* fixed keys, described by .fields */
    SV_CFG_K_DICT,   /* free keys, every value described by .item */
    SV_CFG_K_LIST    /* every entry described by .item */
} sv_cfg_kind_t;

enum {
    SV_CFG_REQUIRED = 1u << 0,
    SV_CFG_SECRET = 1u << 1, /* redacted in dumps, listed by sv_config_secrets() */
    SV_CFG_GE = 1u << 2,     /* value >= .min */
    SV_CFG_GT = 1u << 3,     /* value >  .min */
    SV_CFG_LE = 1u << 4,     /* value <= .max */
    SV_CFG_LT = 1u << 5,     /* value <  .max */
    SV_CFG_FILL = 1u << 6,   /* MAP: when absent, add it with its defaults (see .fill_if_key) */
    SV_CFG_PATH = 1u << 7,   /* STRING: a path relative to the project root, stored resolved */
    SV_CFG_UNIQUE = 1u << 8  /* LIST item, or a key of a LIST's map items: no two entries equal */
};

typedef struct sv_cfg_field sv_cfg_field_t;
struct sv_cfg_field {
    const char *key; /* NULL ends a table of fields; for a root or .item descriptor, only a label */
    sv_cfg_kind_t kind;
    unsigned flags;
    const char *def;             /* default as YAML scalar text ("6379", "memory"); NULL: none */
    double min, max;             /* bounds, used with SV_CFG_GE/GT/LE/LT */
    const char *const *values;   /* ENUM: allowed values, NULL-terminated */
    size_t min_len;              /* LIST, DICT: fewest entries */
    const sv_cfg_field_t *fields; /* MAP: its keys, ended by a NULL key */
    const sv_cfg_field_t *item;   /* LIST, DICT: every entry */
    const char *fill_if_key;     /* SV_CFG_FILL only when sibling fill_if_key ... */
    const char *fill_if_value;   /* ... has this value */
    const char *include_dir;     /* STRING: names a file <config_root>/<include_dir>/<name>.yaml */
    const sv_cfg_field_t *include; /* ... validated as this root descriptor */
};

/* The root descriptor (a MAP) of a file kind: "environment", "exchange", "risk", "strategy";
 * NULL for any other kind. */
const sv_cfg_field_t *sv_cfg_schema(const char *kind);

#endif
