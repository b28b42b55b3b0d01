/* tz: IANA time zones from the system's compiled zoneinfo (TZif files under
 * /usr/share/zoneinfo, Debian's tzdata), without touching the process's TZ or calling
 * localtime(): several zones can be used at once and nothing global changes.
 *
 * Used by the risk engine for trading hours in a named zone, across daylight-saving changes. */
#ifndef SV_TZ_H
#define SV_TZ_H

#include <stdint.h>

#include "error.h"

typedef struct sv_tz sv_tz_t;

/* Local calendar time. */
typedef struct sv_tz_local {
    int year, month, day;    /* month 1..12, day 1..31 */
    int hour, minute, second;
    int weekday;             /* 0 = Monday .. 6 = Sunday */
    int32_t utc_offset_s;    /* local = UTC + offset */
    int is_dst;
    char abbrev[8];          /* "EST", "EDT", "UTC" */
} sv_tz_local_t;

/* Loads a zone by IANA name ("America/New_York", "UTC", "Europe/London"). Returns 0 or
 * SV_E_NOTFOUND / SV_E_PARSE with diag naming the zone and the reason. "" and "UTC" need no
 * file. Names with ".." or a leading '/' are refused (SV_E_INVAL). */
int sv_tz_load(const char *name, sv_tz_t **out, sv_diag_t *diag);
/* Same, from another zoneinfo directory (tests). */
int sv_tz_load_from(const char *dir, const char *name, sv_tz_t **out, sv_diag_t *diag);
void sv_tz_free(sv_tz_t *tz);

/* UTC offset in seconds at the instant utc_ns (ns since the epoch). Beyond the last
 * transition the zone's POSIX TZ rule (the TZif footer) is applied, so future dates get
 * daylight saving right. */
int32_t sv_tz_offset(const sv_tz_t *tz, int64_t utc_ns);

/* Local calendar time at utc_ns. */
void sv_tz_to_local(const sv_tz_t *tz, int64_t utc_ns, sv_tz_local_t *out);

/* The UTC instant (ns) of local midnight starting the local day that contains utc_ns. */
int64_t sv_tz_day_start(const sv_tz_t *tz, int64_t utc_ns);

const char *sv_tz_name(const sv_tz_t *tz);

#endif
