/* script: LuaJIT states with an accounting allocator, embedded privileged modules, the ABI
 * cdef and text-only loading into a sandbox environment; the CPU watchdog (see script.h). */
#define _POSIX_C_SOURCE 200809L
#include "script.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embedded.h"

struct sv_script {
    lua_State *L;
    char name[128];
    size_t mem, peak, limit;
    uint64_t allocs;
    int limit_hit;
    int capped; /* the cap applies: while script code runs or compiles, not during the host's
                 * own bookkeeping (a GC step there that could not allocate would be an
                 * unprotected error: LuaJIT's panic, the end of the process) */
    /* CPU guard, calling thread's side */
    int depth;           /* sv_script_pcall nesting: only the outermost call is a "call" */
    uint64_t seq;        /* the calling thread's copy of call_seq */
    pthread_t owner;     /* the thread whose CPU clock cpu_clock is */
    int has_owner;
    int stopped;         /* the hook raised the stop in the current call */
    uint64_t stops;
    char stop_msg[256];
    sv_watchdog_t *wd;
    /* shared with the watchdog */
    _Atomic uint64_t call_seq;  /* odd while a call runs */
    _Atomic int64_t budget_ns;  /* 0: none */
    _Atomic int cpu_clock;      /* clockid_t of owner's CPU time; -1: none yet */
    _Atomic uint64_t stop_seq;  /* the call the hook was armed for */
    _Atomic int armed;
    /* watchdog-private, under its mutex */
    sv_script_t *w_next;
    uint64_t w_seq;  /* the call first seen at w_first (thread CPU ns); 0: none */
    int64_t w_first;
};

struct sv_watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, quit;
    sv_script_t *head;
};

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sv_script_t *s = ud;
    if (nsize == 0) {
        free(ptr);
        s->mem -= ptr ? osize : 0;
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (s->limit && s->capped && nsize > old && s->mem - old + nsize > s->limit) {
        s->limit_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    s->mem = s->mem - old + nsize;
    if (s->mem > s->peak)
        s->peak = s->mem;
    s->allocs++;
    return p;
}

static int preload_embedded(lua_State *L)
{
    /* upvalue 1: index into sv_embedded_lua */
    size_t i = (size_t)lua_tointeger(L, lua_upvalueindex(1));
    const sv_embedded_file_t *f = &sv_embedded_lua[i];
    char chunk[160];
    snprintf(chunk, sizeof chunk, "=[engine %s]", f->module);
    if (luaL_loadbuffer(L, f->text, f->len, chunk) != 0)
        return lua_error(L);
    lua_call(L, 0, 1);
    return 1;
}

static int setup(lua_State *L)
{
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (size_t i = 0; i < sv_embedded_lua_count; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, preload_embedded, 1);
        lua_setfield(L, -2, sv_embedded_lua[i].module);
    }
    lua_pop(L, 1);
    /* the engine's modules come from the library only, never from files a script could plant */
    lua_pushstring(L, "");
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    /* declare the ABI once per state */
    lua_getglobal(L, "require");
    lua_pushstring(L, "silvertine.abi");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "declare");
    lua_pushstring(L, sv_embedded_cdef);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 0;
}

int sv_script_new(const char *name, size_t mem_limit, sv_script_t **out, sv_diag_t *diag)
{
    sv_script_t *s = calloc(1, sizeof *s);
    if (!s)
        return sv_diag_set(diag, SV_E_NOMEM, "%s: out of memory", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->L = lua_newstate(alloc, s);
    if (!s->L) {
        free(s);
        return sv_diag_set(diag, SV_E_NOMEM, "%s: cannot create a Lua state", name);
    }
    lua_pushcfunction(s->L, setup);
    if (lua_pcall(s->L, 0, 0, 0) != 0) {
        sv_diag_set(diag, SV_E_SCRIPT, "%s: engine Lua setup failed: %s", name,
                    lua_tostring(s->L, -1) ? lua_tostring(s->L, -1) : "?");
        sv_script_free(s);
        return SV_E_SCRIPT;
    }
    /* the cap applies to the script, not to the engine's own setup */
    s->limit = mem_limit;
    atomic_init(&s->cpu_clock, -1);
    *out = s;
    return SV_OK;
}

void sv_script_free(sv_script_t *s)
{
    if (!s)
        return;
    if (s->wd)
        sv_watchdog_remove(s->wd, s);
    if (s->L)
        lua_close(s->L);
    free(s);
}

lua_State *sv_script_lua(sv_script_t *s) { return s->L; }

const char *sv_script_name(const sv_script_t *s) { return s->name; }

static void describe_error(sv_script_t *s, sv_diag_t *diag, int code)
{
    lua_State *L = s->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (msg)
        sv_diag_set(diag, code, "%s", msg);
    else
        sv_diag_set(diag, code, "%s: error object is a %s value, not a string", s->name,
                    luaL_typename(L, -1));
    lua_pop(L, 1);
}

/* After the cap was hit: names it in the message, and collects what the failed call left
 * behind. LuaJIT has no emergency collection, so without this the garbage stays counted
 * against the cap and the next small allocation of the same state fails too. */
static void after_limit(sv_script_t *s, sv_diag_t *diag)
{
    if (diag) {
        size_t n = strlen(diag->msg);
        snprintf(diag->msg + n, sizeof diag->msg - n, " (memory limit %zu bytes)", s->limit);
    }
    lua_gc(s->L, LUA_GCCOLLECT, 0);
}

/* ---- CPU guard ------------------------------------------------------------------------- */

static void lock(sv_script_t *s)
{
    if (s->wd)
        pthread_mutex_lock(&s->wd->mu);
}

static void unlock(sv_script_t *s)
{
    if (s->wd)
        pthread_mutex_unlock(&s->wd->mu);
}

/* Clears the hook unless it was armed for the call running now. Calling thread only. */
static void disarm(sv_script_t *s, int keep_current)
{
    lock(s);
    if (!keep_current || atomic_load(&s->stop_seq) != s->seq || !(s->seq & 1)) {
        lua_sethook(s->L, NULL, 0, 0);
        atomic_store(&s->armed, 0);
    }
    unlock(s);
}

/* The count hook, on the calling thread, at every instruction once armed. It raises only in
 * the call it was armed for: an arm that arrives after its call ended is dropped here. */
static void cpu_hook(lua_State *L, lua_Debug *ar)
{
    void *ud;
    lua_getallocf(L, &ud);
    sv_script_t *s = ud;
    if (atomic_load(&s->stop_seq) != s->seq || !(s->seq & 1)) {
        disarm(s, 1);
        return;
    }
    if (!s->stopped) {
        s->stopped = 1;
        s->stops++;
        double ms = (double)atomic_load(&s->budget_ns) / 1e6;
        char where[200] = "";
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
            snprintf(where, sizeof where, "%s:%d: ", ar->short_src, ar->currentline);
        snprintf(s->stop_msg, sizeof s->stop_msg, "%sCPU budget of %g ms exceeded", where, ms);
    }
    /* (should this push fail under the memory cap, the memory error unwinds instead: the
     * reason sv_script_pcall reports is stop_msg all the same) */
    lua_pushstring(L, s->stop_msg);
    lua_error(L);
}

static void set_owner(sv_script_t *s, pthread_t self)
{
    clockid_t c;
    s->owner = self;
    s->has_owner = 1;
    atomic_store(&s->cpu_clock, pthread_getcpuclockid(self, &c) == 0 ? (int)c : -1);
}

/* Entering and leaving the outermost call: two relaxed stores and a load, no clock, no lock. */
static void enter(sv_script_t *s)
{
    pthread_t self = pthread_self();
    if (__builtin_expect(!s->has_owner || !pthread_equal(self, s->owner), 0))
        set_owner(s, self);
    s->stopped = 0;
    atomic_store_explicit(&s->call_seq, ++s->seq, memory_order_relaxed);
}

/* Returns 1 when the budget stopped the call. */
static int leave(sv_script_t *s, int rc)
{
    atomic_store_explicit(&s->call_seq, ++s->seq, memory_order_relaxed);
    if (__builtin_expect(!atomic_load_explicit(&s->armed, memory_order_relaxed), 1) && !s->stopped)
        return 0;
    int stopped = s->stopped;
    if (!stopped && atomic_load(&s->stop_seq) == s->seq - 1) {
        /* armed for this call, but it raised and unwound inside a C function before the hook
         * ran (the string matcher stops once the hook is armed): the place is the error's */
        const char *e = rc && lua_type(s->L, -1) == LUA_TSTRING ? lua_tostring(s->L, -1) : "";
        const char *colon = strstr(e, ": ");
        int n = colon && colon - e < 200 ? (int)(colon - e) + 2 : 0;
        snprintf(s->stop_msg, sizeof s->stop_msg, "%.*sCPU budget of %g ms exceeded", n, e,
                 (double)atomic_load(&s->budget_ns) / 1e6);
        s->stops++;
        stopped = 1;
    }
    disarm(s, 0);
    s->stopped = 0;
    return stopped;
}

int sv_script_pcall(sv_script_t *s, int nargs, int nresults, sv_diag_t *diag)
{
    s->limit_hit = 0;
    int base = lua_gettop(s->L) - nargs - 1;
    int outer = s->depth++ == 0;
    if (outer)
        enter(s);
    s->capped = 1;
    int rc = lua_pcall(s->L, nargs, nresults, 0);
    if (outer)
        s->capped = 0;
    int stopped = outer ? leave(s, rc) : 0;
    s->depth--;
    if (stopped) {
        /* whatever the call returned or raised last, the reason is the stop (a script's pcall
         * may have caught the first raise and the call may even have returned normally) */
        lua_settop(s->L, base);
        sv_diag_set(diag, SV_E_LIMIT, "%s", s->stop_msg);
        return SV_E_LIMIT;
    }
    if (rc == 0)
        return SV_OK;
    int code = (rc == LUA_ERRMEM || s->limit_hit) ? SV_E_LIMIT : SV_E_SCRIPT;
    describe_error(s, diag, code);
    if (code == SV_E_LIMIT)
        after_limit(s, diag);
    return code;
}

void sv_script_set_cpu_budget(sv_script_t *s, double ms)
{
    int64_t ns = ms > 0 ? (int64_t)(ms * 1e6) : 0;
    if (ns == atomic_load(&s->budget_ns))
        return;
    atomic_store(&s->budget_ns, ns);
    if (s->wd) { /* the watchdog's period follows the smallest budget */
        pthread_mutex_lock(&s->wd->mu);
        pthread_cond_signal(&s->wd->cv);
        pthread_mutex_unlock(&s->wd->mu);
    }
}

double sv_script_cpu_budget(const sv_script_t *s) { return (double)atomic_load(&s->budget_ns) / 1e6; }

int sv_script_guard_stops_jit(void)
{
#ifdef SV_LUAJIT_CHECKHOOK
    return 1;
#else
    return 0;
#endif
}

/* ---- watchdog ---------------------------------------------------------------------------- */

enum { MIN_PERIOD_NS = 250000, MIN_WAIT_NS = 20000 };

static int64_t thread_cpu_ns(const sv_script_t *s)
{
    int c = atomic_load(&s->cpu_clock);
    struct timespec ts;
    if (c == -1 || clock_gettime((clockid_t)c, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Watchdog thread, mutex held. Arms the hook on s for call `seq`. A re-arm (the call is still
 * running a tick later) first clears the hook so that LuaJIT rebuilds its whole dispatch
 * table, in case the first arm raced with the JIT changing it on the calling thread. */
static void arm(sv_script_t *s, uint64_t seq)
{
    int again = atomic_load(&s->armed) && atomic_load(&s->stop_seq) == seq;
    atomic_store(&s->stop_seq, seq);
    atomic_store(&s->armed, 1);
    if (again)
        lua_sethook(s->L, NULL, 0, 0);
    lua_sethook(s->L, cpu_hook, LUA_MASKCOUNT, 1);
}

/* One look at every watched script, mutex held. Returns the period until the next look (ns),
 * or 0 when no script has a budget. */
static int64_t scan(sv_watchdog_t *w)
{
    int64_t period = 0;
    for (sv_script_t *s = w->head; s; s = s->w_next) {
        int64_t budget = atomic_load(&s->budget_ns);
        if (budget <= 0) {
            s->w_seq = 0;
            continue;
        }
        /* a call is first seen up to one period after it started; from then on the watchdog
         * wakes when its budget is due, so it is stopped after between 1 and 1.25 budgets of
         * CPU time, plus wake-up latency (a shorter period costs the other core more wake-ups) */
        int64_t p = budget / 4 > MIN_PERIOD_NS ? budget / 4 : MIN_PERIOD_NS;
        uint64_t seq = atomic_load_explicit(&s->call_seq, memory_order_relaxed);
        int64_t cpu = seq & 1 ? thread_cpu_ns(s) : -1;
        if (cpu < 0) {
            s->w_seq = 0;
        } else if (seq != s->w_seq) { /* a call seen for the first time: it started before now */
            s->w_seq = seq;
            s->w_first = cpu;
        } else if (cpu - s->w_first >= budget) {
            arm(s, seq);
        } else if (budget - (cpu - s->w_first) < p) {
            /* due before the next tick; the calling thread's CPU time runs no faster than the
             * clock, so waking then is never too early to see it due (or at worst early) */
            p = budget - (cpu - s->w_first) > MIN_WAIT_NS ? budget - (cpu - s->w_first) : MIN_WAIT_NS;
        }
        if (!period || p < period)
            period = p;
    }
    return period;
}

static void *watch(void *arg)
{
    sv_watchdog_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        int64_t period = scan(w);
        if (!period) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += period % 1000000000;
        ts.tv_sec += period / 1000000000 + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sv_watchdog_t *sv_watchdog_new(void)
{
    sv_watchdog_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0 || pthread_mutex_init(&w->mu, NULL) != 0) {
        if (rc == 0)
            pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void sv_watchdog_free(sv_watchdog_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->head) { /* scripts still watched: forget them (their owner frees them) */
        w->head->wd = NULL;
        w->head = w->head->w_next;
    }
    w->quit = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int sv_watchdog_add(sv_watchdog_t *w, sv_script_t *s)
{
    if (s->wd)
        return SV_E_EXISTS;
    pthread_mutex_lock(&w->mu);
    if (!w->started) {
        /* the thread takes no signals: they stay with the engine's threads */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&w->thread, NULL, watch, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            pthread_mutex_unlock(&w->mu);
            return SV_E_NOMEM;
        }
        w->started = 1;
        /* on a busy machine a runaway script keeps its core while the watchdog waits for one:
         * a real-time priority, where the system grants it (root), makes it wake on time. It
         * sleeps between short scans, so it takes next to nothing from anyone. */
        struct sched_param sp = {.sched_priority = 1};
        pthread_setschedparam(w->thread, SCHED_FIFO, &sp);
    }
    s->wd = w;
    s->w_seq = 0;
    s->w_next = w->head;
    w->head = s;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return SV_OK;
}

void sv_watchdog_remove(sv_watchdog_t *w, sv_script_t *s)
{
    pthread_mutex_lock(&w->mu);
    for (sv_script_t **p = &w->head; *p; p = &(*p)->w_next)
        if (*p == s) {
            *p = s->w_next;
            break;
        }
    if (atomic_load(&s->armed)) {
        lua_sethook(s->L, NULL, 0, 0);
        atomic_store(&s->armed, 0);
    }
    s->wd = NULL;
    s->w_next = NULL;
    pthread_mutex_unlock(&w->mu);
}

int sv_script_load_string(sv_script_t *s, const char *src, size_t len, const char *chunkname,
                          sv_diag_t *diag)
{
    lua_State *L = s->L;
    int top = lua_gettop(L);
    if (len >= 1 && src[0] == '\033')
        return sv_diag_set(diag, SV_E_SCRIPT, "%s: precompiled bytecode is not accepted",
                           chunkname + (chunkname[0] == '@'));
    /* env = require("silvertine.sandbox").env() */
    lua_getglobal(L, "require");
    lua_pushstring(L, "silvertine.sandbox");
    if (sv_script_pcall(s, 1, 1, diag) != 0)
        return diag->code;
    lua_getfield(L, -1, "env");
    lua_remove(L, -2);
    if (sv_script_pcall(s, 0, 1, diag) != 0)
        return diag->code;
    s->capped = 1;
    int rc = luaL_loadbuffer(L, src, len, chunkname);
    s->capped = 0;
    if (rc != 0) {
        int code = rc == LUA_ERRMEM ? SV_E_LIMIT : SV_E_SCRIPT;
        describe_error(s, diag, code);
        lua_settop(L, top);
        if (code == SV_E_LIMIT)
            after_limit(s, diag);
        return code;
    }
    lua_pushvalue(L, -2);
    lua_setfenv(L, -2);
    if ((rc = sv_script_pcall(s, 0, 1, diag)) != 0) {
        lua_settop(L, top);
        return rc;
    }
    if (!lua_istable(L, -1)) {
        sv_diag_set(diag, SV_E_SCRIPT, "%s: the script must return a table of handlers, got %s",
                    chunkname + (chunkname[0] == '@'), luaL_typename(L, -1));
        lua_settop(L, top);
        return SV_E_SCRIPT;
    }
    return SV_OK;
}

int sv_script_load_file(sv_script_t *s, const char *path, sv_diag_t *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sv_diag_set(diag, SV_E_NOTFOUND, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return sv_diag_set(diag, SV_E_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return sv_diag_set(diag, SV_E_IO, "%s: read error", path);
    }
    char chunk[1100];
    snprintf(chunk, sizeof chunk, "@%s", path);
    int rc = sv_script_load_string(s, buf, len, chunk, diag);
    free(buf);
    return rc;
}

void sv_script_stats(const sv_script_t *s, sv_script_stats_t *out)
{
    out->mem_bytes = s->mem;
    out->mem_peak = s->peak;
    out->allocs = s->allocs;
    out->mem_limit = s->limit;
    out->calls = s->seq / 2;
    out->cpu_stops = s->stops;
}

void sv_script_push_params(lua_State *L, const sv_param_t *params, uint32_t n)
{
    lua_createtable(L, 0, (int)n);
    for (uint32_t i = 0; i < n; i++) {
        const sv_param_t *p = &params[i];
        if (!p->key)
            continue;
        switch (p->type) {
        case SV_PARAM_STRING: lua_pushstring(L, p->string ? p->string : ""); break;
        case SV_PARAM_BOOL: lua_pushboolean(L, p->boolean); break;
        default: lua_pushnumber(L, p->number); break;
        }
        lua_setfield(L, -2, p->key);
    }
}

void sv_params_free(sv_param_t *p, uint32_t n)
{
    for (uint32_t i = 0; p && i < n; i++) {
        free((char *)p[i].key);
        free((char *)p[i].string);
    }
    free(p);
}

sv_param_t *sv_params_dup(const sv_param_t *params, uint32_t n)
{
    sv_param_t *p = calloc(n + 1, sizeof *p);
    if (!p)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = params[i];
        p[i].key = params[i].key ? strdup(params[i].key) : NULL;
        p[i].string = params[i].string ? strdup(params[i].string) : NULL;
        if ((params[i].key && !p[i].key) || (params[i].string && !p[i].string)) {
            sv_params_free(p, i + 1);
            return NULL;
        }
    }
    return p;
}
