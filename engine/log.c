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
    if (!secret || strlen(secret) < 4 || log->n_secrets >= SV_LOG_MAX_SECRETS)
        return;
    /* longest first: a secret containing another must be replaced before the shorter one
     * cuts it into pieces that would stay visible */
    int i = log->n_secrets++;
    for (; i > 0 && strlen(log->secrets[i - 1]) < strlen(secret); i--)
        log->secrets[i] = log->secrets[i - 1];
    log->secrets[i] = secret;
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

/* msg was cut at the buffer's end: drop a tail that is the start of a secret. */
static void trim_partial(const sv_log_t *log, char *msg)
{
    size_t len = strlen(msg);
    for (int i = 0; i < log->n_secrets; i++) {
        size_t n = strlen(log->secrets[i]);
        for (size_t k = n - 1 < len ? n - 1 : len; k > 0; k--) {
            if (strncmp(msg + len - k, log->secrets[i], k) == 0) {
                msg[len -= k] = '\0';
                i = -1; /* the shorter text may end in the start of another secret */
                break;
            }
        }
    }
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
    /* the component is redacted with the message: a secret must not appear anywhere */
    char msg[2048];
    int off = snprintf(msg, sizeof msg, "%s: ", component ? component : "engine");
    int cut = off < 0 || (size_t)off >= sizeof msg;
    if (!cut) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg + off, sizeof msg - (size_t)off, fmt, ap);
        va_end(ap);
        cut = n < 0 || (size_t)n >= sizeof msg - (size_t)off;
    }
    redact(log, msg);
    if (cut)
        trim_partial(log, msg);
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(log->out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], msg);
    fflush(log->out);
    log->count[level]++;
}
