/* script: LuaJIT states with an accounting allocator, embedded privileged modules, the ABI
 * cdef and text-only loading into a sandbox environment. */
#define _POSIX_C_SOURCE 200809L
#include "script.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

struct sv_script {
    lua_State *L;
    char name[128];
    size_t mem, peak, limit;
    uint64_t allocs;
    int limit_hit;
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
    if (s->limit && nsize > old && s->mem - old + nsize > s->limit) {
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
    *out = s;
    return SV_OK;
}

void sv_script_free(sv_script_t *s)
{
    if (!s)
        return;
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

int sv_script_pcall(sv_script_t *s, int nargs, int nresults, sv_diag_t *diag)
{
    s->limit_hit = 0;
    int rc = lua_pcall(s->L, nargs, nresults, 0);
    if (rc == 0)
        return SV_OK;
    int code = (rc == LUA_ERRMEM || s->limit_hit) ? SV_E_LIMIT : SV_E_SCRIPT;
    describe_error(s, diag, code);
    if (code == SV_E_LIMIT)
        after_limit(s, diag);
    return code;
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
    int rc = luaL_loadbuffer(L, src, len, chunkname);
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
}
