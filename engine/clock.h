/* clock: the engine's notion of now, real or simulated, and its timers.
 *
 * A real clock reads CLOCK_REALTIME; a simulated clock only moves when the engine sets it
 * (from the data being replayed) and never moves backwards. Timers live in a fixed-capacity
 * binary heap ordered by due time, then by insertion order (a re-armed periodic timer queues
 * behind timers already waiting for the same time, as in libuv), so firing is deterministic.
 * The clock does not call anyone: the engine asks for due timers and publishes them. */
#ifndef SV_CLOCK_H
#define SV_CLOCK_H

#include <stdint.h>

typedef struct sv_clock sv_clock_t;

typedef struct sv_clock_timer {
    int64_t id;        /* > 0 */
    int64_t due;       /* ns */
    int64_t period;    /* ns; 0 = one-shot */
    uint64_t cookie;   /* owner's data (e.g. strategy id) */
} sv_clock_timer_t;

/* Creates a clock (simulated != 0: starts at 0 and moves with sv_clock_set) holding up to
 * max_timers timers. NULL on ENOMEM. */
sv_clock_t *sv_clock_new(int simulated, uint32_t max_timers);
void sv_clock_free(sv_clock_t *c);

/* Current time in ns since the epoch. */
int64_t sv_clock_now(const sv_clock_t *c);

/* Simulated clocks: moves to ns if it is later than now; real clocks ignore it. */
void sv_clock_set(sv_clock_t *c, int64_t ns);

int sv_clock_is_simulated(const sv_clock_t *c);

/* Adds a timer due at `due` ns, repeating every `period` ns when period > 0. Returns the
 * timer id (> 0), SV_E_FULL or SV_E_INVAL. */
int64_t sv_clock_timer_add(sv_clock_t *c, int64_t due, int64_t period, uint64_t cookie);

/* Cancels a timer. 0 or SV_E_NOTFOUND. */
int sv_clock_timer_cancel(sv_clock_t *c, int64_t id);

/* Cancels a timer only if its cookie is `cookie` (its owner's). 0 or SV_E_NOTFOUND. */
int sv_clock_timer_cancel_owned(sv_clock_t *c, int64_t id, uint64_t cookie);

/* Cancels every timer whose cookie equals `cookie`; returns how many. */
int sv_clock_timer_cancel_cookie(sv_clock_t *c, uint64_t cookie);

/* If a timer is due at or before `now`, removes it (re-arming a periodic one), copies it to
 * *out and returns 1; else returns 0. Call until 0 to fire everything due, in order. */
int sv_clock_timer_pop_due(sv_clock_t *c, int64_t now, sv_clock_timer_t *out);

/* Due time of the earliest timer, or INT64_MAX when none. */
int64_t sv_clock_timer_next(const sv_clock_t *c);

#endif
