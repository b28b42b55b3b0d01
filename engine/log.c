/* log: formatted, redacted log lines. */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void sv_log_init(sv_log_t *log, FILE *out, int level)
{
    memset(log, 0, sizeof *log);
    log->out = out;
    log->level = level;
}

void sv_log_add_secret(sv_log_t *log, const char *secret)
{
    /* shorter secrets would make "***" grow the line and match ordinary text */
    if (secret && strlen(secret) >= 4 && log->n_secrets < SV_LOG_MAX_SECRETS)
        log->secrets[log->n_secrets++] = secret;
}

int sv_log_level_parse(const char *s)
{
    for (int i = 0; i <= SV_LOG_OFF; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return strcasecmp(s, "warning") == 0 ? SV_LOG_WARN : -1;
}

const char *sv_log_level_name(int level)
{
    return level >= 0 && level <= SV_LOG_OFF ? names[level] : "?";
}

static void redact(const sv_log_t *log, char *msg)
{
    for (int i = 0; i < log->n_secrets; i++) {
        size_t n = strlen(log->secrets[i]);
        char *p = msg;
        while ((p = strstr(p, log->secrets[i])) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, strlen(p + n) + 1);
            p += 3;
        }
    }
}

void sv_log_write(sv_log_t *log, int level, const char *component, const char *fmt, ...)
{
    if (!log || !log->out || level < log->level || level >= SV_LOG_OFF)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    redact(log, msg);
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(log->out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], component ? component : "engine", msg);
    fflush(log->out);
    log->count[level]++;
}
