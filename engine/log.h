/* log: one structured line per record, secrets redacted.
 *
 *   2026-11-24T13:05:00.123Z WARN  strategy sma_cross: disabled: strategies/x.lua:12: boom
 *
 * A logger is a value the engine owns (no global logger). Registered secrets (API keys,
 * passwords, JWT secrets from the config) are replaced by "***" in every line, whatever
 * the caller formatted. Logging is off the per-event hot path by design: callers log
 * state changes, not events. */
#ifndef SV_LOG_H
#define SV_LOG_H

#include <stdio.h>

typedef enum sv_log_level { SV_LOG_DEBUG = 0, SV_LOG_INFO = 1, SV_LOG_WARN = 2, SV_LOG_ERROR = 3, SV_LOG_OFF = 4 } sv_log_level_t;

enum { SV_LOG_MAX_SECRETS = 16 };

typedef struct sv_log {
    FILE *out;       /* not owned; NULL = discard */
    int level;       /* records below it are dropped */
    const char *secrets[SV_LOG_MAX_SECRETS];
    int n_secrets;
    unsigned long count[SV_LOG_OFF]; /* records written per level */
} sv_log_t;

/* Initialises a logger writing to out at level. */
void sv_log_init(sv_log_t *log, FILE *out, int level);
/* Registers a secret to redact (the string must outlive the logger; ones shorter than 4
 * characters are ignored). */
void sv_log_add_secret(sv_log_t *log, const char *secret);
/* Parses "debug"|"info"|"warn"|"error"|"off"; returns the level or -1. */
int sv_log_level_parse(const char *s);
const char *sv_log_level_name(int level);

/* Writes one record: level, component ("strategy sma_cross") and the formatted message. */
void sv_log_write(sv_log_t *log, int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define sv_log_debug(l, c, ...) sv_log_write((l), SV_LOG_DEBUG, (c), __VA_ARGS__)
#define sv_log_info(l, c, ...) sv_log_write((l), SV_LOG_INFO, (c), __VA_ARGS__)
#define sv_log_warn(l, c, ...) sv_log_write((l), SV_LOG_WARN, (c), __VA_ARGS__)
#define sv_log_error(l, c, ...) sv_log_write((l), SV_LOG_ERROR, (c), __VA_ARGS__)

#endif
