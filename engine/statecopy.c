/* statecopy: serialize out of one Lua state, rebuild in another (see statecopy.h). */
#include "statecopy.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { T_NIL, T_FALSE, T_TRUE, T_NUM, T_STR, T_TABLE, T_REF, T_END, T_MT };
enum { MAX_DEPTH = 100, MAX_TABLES = 1000000, MAX_BYTES = 256 << 20 };

typedef struct buf {
    unsigned char *p;
    size_t len, cap, pos;
    const void **seen; /* tables already written, by index */
    size_t n_seen, cap_seen;
    size_t dropped;
    int err;           /* SV_E_* */
    const char *why;
} buf_t;

static void put(buf_t *b, const void *data, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > MAX_BYTES) {
        b->err = SV_E_LIMIT;
        b->why = "ctx.state is too large to carry over (256 MiB)";
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->err = SV_E_NOMEM;
            b->why = "out of memory";
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_tag(buf_t *b, unsigned char t) { put(b, &t, 1); }

static void put_size(buf_t *b, size_t v) { put(b, &v, sizeof v); }

static long seen_index(buf_t *b, const void *t)
{
    for (size_t i = 0; i < b->n_seen; i++)
        if (b->seen[i] == t)
            return (long)i;
    return -1;
}

static void write_value(lua_State *L, int idx, buf_t *b, int depth);

static void write_table(lua_State *L, int idx, buf_t *b, int depth)
{
    const void *t = lua_topointer(L, idx);
    long k = seen_index(b, t);
    if (k >= 0) {
        put_tag(b, T_REF);
        put_size(b, (size_t)k);
        return;
    }
    if (depth > MAX_DEPTH || b->n_seen >= MAX_TABLES) {
        b->err = SV_E_LIMIT;
        b->why = depth > MAX_DEPTH ? "ctx.state is nested too deeply to carry over" : "ctx.state has too many tables";
        return;
    }
    if (b->n_seen == b->cap_seen) {
        size_t cap = b->cap_seen ? b->cap_seen * 2 : 64;
        const void **s = realloc(b->seen, cap * sizeof *s);
        if (!s) {
            b->err = SV_E_NOMEM;
            b->why = "out of memory";
            return;
        }
        b->seen = s;
        b->cap_seen = cap;
    }
    b->seen[b->n_seen++] = t;
    put_tag(b, T_TABLE);
    luaL_checkstack(L, 4, "ctx.state copy");
    lua_pushnil(L);
    while (!b->err && lua_next(L, idx)) {
        int kt = lua_type(L, -2), vt = lua_type(L, -1);
        int ok_k = kt == LUA_TSTRING || kt == LUA_TNUMBER || kt == LUA_TBOOLEAN || kt == LUA_TTABLE;
        int ok_v = vt == LUA_TSTRING || vt == LUA_TNUMBER || vt == LUA_TBOOLEAN || vt == LUA_TTABLE;
        if (ok_k && ok_v) {
            write_value(L, lua_gettop(L) - 1, b, depth + 1);
            write_value(L, lua_gettop(L), b, depth + 1);
        } else {
            b->dropped++;
        }
        lua_pop(L, 1);
    }
    /* an indicator's metatable: re-attached by name on the other side */
    if (!b->err && lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__metatable");
        size_t n;
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (name && n > 14 && strncmp(name, "silvertine.ta.", 14) == 0) {
            put_tag(b, T_MT);
            put_size(b, n);
            put(b, name, n);
        } else {
            b->dropped++;
        }
        lua_pop(L, 2);
    }
    put_tag(b, T_END);
}

static void write_value(lua_State *L, int idx, buf_t *b, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: put_tag(b, lua_toboolean(L, idx) ? T_TRUE : T_FALSE); break;
    case LUA_TNUMBER: {
        lua_Number v = lua_tonumber(L, idx);
        put_tag(b, T_NUM);
        put(b, &v, sizeof v);
        break;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_tag(b, T_STR);
        put_size(b, n);
        put(b, s, n);
        break;
    }
    case LUA_TTABLE: write_table(L, idx, b, depth); break;
    case LUA_TNIL: put_tag(b, T_NIL); break;
    default:
        b->dropped++;
        put_tag(b, T_NIL);
        break;
    }
}

typedef struct job {
    buf_t *b;
    int ref;           /* registry reference of the table holding the value */
    const char *field; /* the value's key in it */
    size_t tables;
} job_t;

static int serialize(lua_State *L)
{
    job_t *j = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
    lua_getfield(L, -1, j->field);
    write_value(L, lua_gettop(L), j->b, 0);
    return 0;
}

static int get(buf_t *b, void *out, size_t n)
{
    if (b->pos + n > b->len)
        return -1;
    memcpy(out, b->p + b->pos, n);
    b->pos += n;
    return 0;
}

/* Rebuilds one value onto the stack; the made-tables list lives at stack index `made`. */
static void read_value(lua_State *L, buf_t *b, int made, size_t *n_made)
{
    unsigned char t = 0;
    size_t n = 0;
    luaL_checkstack(L, 4, "ctx.state copy");
    if (get(b, &t, 1) != 0)
        luaL_error(L, "ctx.state copy: truncated");
    switch (t) {
    case T_NIL: lua_pushnil(L); break;
    case T_FALSE: lua_pushboolean(L, 0); break;
    case T_TRUE: lua_pushboolean(L, 1); break;
    case T_NUM: {
        lua_Number v;
        if (get(b, &v, sizeof v) != 0)
            luaL_error(L, "ctx.state copy: truncated");
        lua_pushnumber(L, v);
        break;
    }
    case T_STR:
        if (get(b, &n, sizeof n) != 0 || b->pos + n > b->len)
            luaL_error(L, "ctx.state copy: truncated");
        lua_pushlstring(L, (const char *)b->p + b->pos, n);
        b->pos += n;
        break;
    case T_REF:
        if (get(b, &n, sizeof n) != 0 || n >= *n_made)
            luaL_error(L, "ctx.state copy: bad reference");
        lua_rawgeti(L, made, (int)n + 1);
        break;
    case T_TABLE: {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawseti(L, made, (int)++*n_made);
        int tbl = lua_gettop(L);
        for (;;) {
            unsigned char next;
            if (b->pos >= b->len)
                luaL_error(L, "ctx.state copy: truncated");
            next = b->p[b->pos];
            if (next == T_END) {
                b->pos++;
                break;
            }
            if (next == T_MT) {
                b->pos++;
                if (get(b, &n, sizeof n) != 0 || b->pos + n > b->len)
                    luaL_error(L, "ctx.state copy: truncated");
                /* require("silvertine.ta")._metatables[name] */
                lua_getglobal(L, "require");
                lua_pushstring(L, "silvertine.ta");
                lua_call(L, 1, 1);
                lua_getfield(L, -1, "_metatables");
                lua_pushlstring(L, (const char *)b->p + b->pos, n);
                b->pos += n;
                lua_rawget(L, -2);
                if (lua_istable(L, -1)) {
                    lua_pushvalue(L, -1);
                    lua_setmetatable(L, tbl);
                }
                lua_pop(L, 3);
                continue;
            }
            read_value(L, b, made, n_made); /* key */
            read_value(L, b, made, n_made); /* value */
            if (lua_isnil(L, -2) || lua_isnil(L, -1))
                lua_pop(L, 2);
            else
                lua_rawset(L, tbl);
        }
        break;
    }
    default: luaL_error(L, "ctx.state copy: bad tag %d", t);
    }
}

static int deserialize(lua_State *L)
{
    job_t *j = lua_touserdata(L, 1);
    lua_newtable(L); /* made */
    int made = lua_gettop(L);
    size_t n_made = 0;
    read_value(L, j->b, made, &n_made);
    j->tables = n_made;
    /* park the result in the registry: lua_cpcall returns nothing */
    lua_setfield(L, LUA_REGISTRYINDEX, "silvertine.statecopy");
    return 0;
}

int sv_statecopy(lua_State *from, int ref, const char *field, lua_State *to, sv_statecopy_stats_t *st,
                 sv_diag_t *d)
{
    buf_t b;
    memset(&b, 0, sizeof b);
    /* a protected call runs in a frame of its own: the value is found through the registry */
    job_t j = {.b = &b, .ref = ref, .field = field};
    int rc = lua_cpcall(from, serialize, &j);
    if (rc != 0) {
        sv_diag_set(d, rc == LUA_ERRMEM ? SV_E_LIMIT : SV_E_SCRIPT, "ctx.state copy (old state): %s",
                    lua_tostring(from, -1) ? lua_tostring(from, -1) : "error");
        lua_pop(from, 1);
        rc = d->code;
    } else if (b.err) {
        rc = sv_diag_set(d, b.err, "ctx.state copy: %s", b.why);
    } else if ((rc = lua_cpcall(to, deserialize, &j)) != 0) {
        sv_diag_set(d, rc == LUA_ERRMEM ? SV_E_LIMIT : SV_E_SCRIPT, "ctx.state copy (new state): %s",
                    lua_tostring(to, -1) ? lua_tostring(to, -1) : "error");
        lua_pop(to, 1);
        rc = d->code;
    } else {
        lua_getfield(to, LUA_REGISTRYINDEX, "silvertine.statecopy");
        lua_pushnil(to);
        lua_setfield(to, LUA_REGISTRYINDEX, "silvertine.statecopy");
        rc = SV_OK;
    }
    if (st) {
        st->tables = j.tables;
        st->dropped = b.dropped;
        st->bytes = b.len;
    }
    free(b.p);
    free(b.seen);
    return rc;
}
