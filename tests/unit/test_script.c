/* test_script: engine/script.h, the LuaJIT host. Loading a file that returns a table (left on
 * the stack above its environment), the exact messages for a syntax error, a runtime error
 * during load, a non-table return, bytecode and a missing file; sv_script_pcall with a
 * non-string error object; the per-state memory cap (SV_E_LIMIT, "not enough memory (memory
 * limit N bytes)", the state usable afterwards); the allocator's counters; and the sandbox,
 * checked from inside a script that reports what it can reach. Files live in a mkdtemp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpfiles.h"

#include "script.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static int group_setup(void **state)
{
    (void)state;
    return tmp_setup("sv_script");
}

static int group_teardown(void **state)
{
    (void)state;
    return tmp_teardown();
}

static const char *write_bytes(const char *name, const char *data, size_t len) { return tmp_write(name, data, len); }

static const char *write_file(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static sv_script_t *new_script(const char *name, size_t limit)
{
    sv_script_t *s = NULL;
    sv_diag_t d;
    int rc = sv_script_new(name, limit, &s, &d);
    if (rc != 0)
        fail_msg("sv_script_new: %d %s", rc, d.msg);
    assert_non_null(s);
    return s;
}

/* Loads `src` from a file called `name`; expects failure with `code` and "<path><suffix>". */
static void expect_load_error(const char *name, const char *src, int code, const char *suffix)
{
    sv_script_t *s = new_script("t", 0);
    lua_State *L = sv_script_lua(s);
    const char *path = write_file(name, src);
    char want[1200];
    snprintf(want, sizeof want, "%s%s", path, suffix);
    sv_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(sv_script_load_file(s, path, &d), code);
    assert_int_equal(d.code, code);
    assert_string_equal(d.msg, want);
    assert_int_equal(lua_gettop(L), 0); /* nothing left behind */
    sv_script_free(s);
}

/* ---- loading ----------------------------------------------------------------------------------- */

static void test_load_file_returns_table(void **state)
{
    (void)state;
    sv_script_t *s = new_script("answer", 0);
    assert_string_equal(sv_script_name(s), "answer");
    lua_State *L = sv_script_lua(s);
    const char *path = write_file("answer.lua",
                                  "local M = { answer = 42, name = 'deep thought' }\n"
                                  "function M.twice(n) return 2 * n end\n"
                                  "greeting = 'hello'\n" /* a global lands in the script's env */
                                  "return M\n");
    sv_diag_t d;
    assert_int_equal(sv_script_load_file(s, path, &d), 0);
    assert_int_equal(lua_gettop(L), 2); /* env, module */
    assert_true(lua_istable(L, 1));
    assert_true(lua_istable(L, 2));
    lua_getfield(L, 2, "answer");
    assert_int_equal(lua_tointeger(L, -1), 42);
    lua_pop(L, 1);
    lua_getfield(L, 2, "name");
    assert_string_equal(lua_tostring(L, -1), "deep thought");
    lua_pop(L, 1);
    lua_getfield(L, 1, "greeting");
    assert_string_equal(lua_tostring(L, -1), "hello");
    lua_pop(L, 1);
    lua_getglobal(L, "greeting"); /* not in the state's real globals */
    assert_true(lua_isnil(L, -1));
    lua_pop(L, 1);
    /* the module's functions run through sv_script_pcall */
    lua_getfield(L, 2, "twice");
    lua_pushinteger(L, 21);
    assert_int_equal(sv_script_pcall(s, 1, 1, &d), 0);
    assert_int_equal(lua_tointeger(L, -1), 42);
    lua_settop(L, 0);
    sv_script_free(s);
}

static void test_load_string_names_its_chunk(void **state)
{
    (void)state;
    sv_script_t *s = new_script("t", 0);
    lua_State *L = sv_script_lua(s);
    static const char ok[] = "return { 1, 2, 3 }";
    sv_diag_t d;
    assert_int_equal(sv_script_load_string(s, ok, strlen(ok), "@strategies/x.lua", &d), 0);
    assert_int_equal(lua_objlen(L, -1), 3);
    lua_settop(L, 0);
    static const char bad[] = "local a = 1\nerror('no luck')\nreturn {}";
    assert_int_equal(sv_script_load_string(s, bad, strlen(bad), "@strategies/x.lua", &d), SV_E_SCRIPT);
    assert_string_equal(d.msg, "strategies/x.lua:2: no luck");
    assert_int_equal(lua_gettop(L), 0);
    static const char num[] = "return 7";
    assert_int_equal(sv_script_load_string(s, num, strlen(num), "@strategies/x.lua", &d), SV_E_SCRIPT);
    assert_string_equal(d.msg, "strategies/x.lua: the script must return a table of handlers, got number");
    sv_script_free(s);
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_load_error("syntax.lua", "local x = 1\nlocal y = = 2\nreturn {}\n", SV_E_SCRIPT,
                      ":2: unexpected symbol near '='");
    expect_load_error("unclosed.lua", "return {\n  a = 1\n", SV_E_SCRIPT,
                      ":3: '}' expected (to close '{' at line 1) near '<eof>'");
}

static void test_runtime_error_during_load(void **state)
{
    (void)state;
    expect_load_error("index.lua", "local t = {}\nlocal u = nil\nreturn u.x\n", SV_E_SCRIPT,
                      ":3: attempt to index local 'u' (a nil value)");
    expect_load_error("raise.lua", "local x = 1\n\nerror('bad config: ' .. x)\nreturn {}\n", SV_E_SCRIPT,
                      ":3: bad config: 1");
    /* calling what the sandbox took away is a runtime error too */
    expect_load_error("io.lua", "local f = io.open('/etc/passwd')\nreturn {}\n", SV_E_SCRIPT,
                      ":1: attempt to index global 'io' (a nil value)");
}

static void test_non_table_return(void **state)
{
    (void)state;
    expect_load_error("number.lua", "return 42\n", SV_E_SCRIPT,
                      ": the script must return a table of handlers, got number");
    expect_load_error("nothing.lua", "local x = 1\n", SV_E_SCRIPT,
                      ": the script must return a table of handlers, got nil");
    expect_load_error("string.lua", "return 'on_bar'\n", SV_E_SCRIPT,
                      ": the script must return a table of handlers, got string");
    expect_load_error("function.lua", "return function() end\n", SV_E_SCRIPT,
                      ": the script must return a table of handlers, got function");
}

static void test_bytecode_refused(void **state)
{
    (void)state;
    /* real LuaJIT bytecode, made by the state's privileged (non-sandboxed) globals */
    sv_script_t *s = new_script("t", 0);
    lua_State *L = sv_script_lua(s);
    assert_int_equal(luaL_dostring(L, "return string.dump(function() return {} end)"), 0);
    size_t len;
    const char *bc = lua_tolstring(L, -1, &len);
    assert_true(len > 4);
    assert_int_equal(bc[0], '\033');
    const char *path = write_bytes("compiled.lua", bc, len);
    lua_settop(L, 0);
    sv_script_free(s);
    expect_load_error("compiled2.lua", "\033LJ\002 anything", SV_E_SCRIPT,
                      ": precompiled bytecode is not accepted");

    s = new_script("t", 0);
    sv_diag_t d;
    char want[1200];
    snprintf(want, sizeof want, "%s: precompiled bytecode is not accepted", path);
    assert_int_equal(sv_script_load_file(s, path, &d), SV_E_SCRIPT);
    assert_string_equal(d.msg, want);
    assert_int_equal(lua_gettop(sv_script_lua(s)), 0);
    sv_script_free(s);
}

static void test_missing_file(void **state)
{
    (void)state;
    sv_script_t *s = new_script("t", 0);
    char path[600], want[1200];
    snprintf(path, sizeof path, "%s/nope.lua", dir);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    sv_diag_t d;
    assert_int_equal(sv_script_load_file(s, path, &d), SV_E_NOTFOUND);
    assert_int_equal(d.code, SV_E_NOTFOUND);
    assert_string_equal(d.msg, want);
    sv_script_free(s);
}

/* ---- pcall ------------------------------------------------------------------------------------- */

static void test_pcall_non_string_error(void **state)
{
    (void)state;
    sv_script_t *s = new_script("rules", 0);
    lua_State *L = sv_script_lua(s);
    static const struct {
        const char *code;
        const char *msg;
    } cases[] = {
        {"error({})", "rules: error object is a table value, not a string"},
        {"error(nil)", "rules: error object is a nil value, not a string"},
        {"error(true)", "rules: error object is a boolean value, not a string"},
        {"error(function() end)", "rules: error object is a function value, not a string"},
        {"error('plain', 0)", "plain"},
        {"local t = nil; return t[1]", "[string \"local t = nil; return t[1]\"]:1: attempt to index local 't' (a nil value)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lua_pushinteger(L, 99); /* below the call: must survive */
        assert_int_equal(luaL_loadstring(L, cases[i].code), 0);
        sv_diag_t d;
        assert_int_equal(sv_script_pcall(s, 0, 0, &d), SV_E_SCRIPT);
        assert_int_equal(d.code, SV_E_SCRIPT);
        assert_string_equal(d.msg, cases[i].msg);
        assert_int_equal(lua_gettop(L), 1); /* the error object was popped */
        assert_int_equal(lua_tointeger(L, 1), 99);
        lua_settop(L, 0);
    }
    /* a table error object with __tostring is still not called */
    assert_int_equal(luaL_loadstring(L, "called = false\n"
                                        "error(setmetatable({}, {__tostring = function() called = true return 'x' end}))"),
                     0);
    sv_diag_t d;
    assert_int_equal(sv_script_pcall(s, 0, 0, &d), SV_E_SCRIPT);
    assert_string_equal(d.msg, "rules: error object is a table value, not a string");
    lua_getglobal(L, "called");
    assert_true(lua_isboolean(L, -1));
    assert_false(lua_toboolean(L, -1));
    lua_settop(L, 0);
    sv_script_free(s);
}

/* ---- memory ------------------------------------------------------------------------------------ */

static void test_memory_cap(void **state)
{
    (void)state;
    const size_t limit = 8u << 20;
    sv_script_t *s = new_script("greedy", limit);
    lua_State *L = sv_script_lua(s);
    sv_script_stats_t st;
    sv_script_stats(s, &st);
    assert_int_equal(st.mem_limit, limit);
    assert_true(st.mem_bytes < limit);

    /* at load */
    const char *path = write_file("greedy.lua",
                                  "local t = {}\nfor i = 1, 1e8 do t[i] = i end\nreturn t\n");
    sv_diag_t d;
    char want[128];
    snprintf(want, sizeof want, "not enough memory (memory limit %zu bytes)", limit);
    assert_int_equal(sv_script_load_file(s, path, &d), SV_E_LIMIT);
    assert_int_equal(d.code, SV_E_LIMIT);
    assert_string_equal(d.msg, want);
    assert_int_equal(lua_gettop(L), 0);
    sv_script_stats(s, &st);
    assert_true(st.mem_peak <= limit);
    assert_true(st.mem_bytes <= limit);

    /* the same state still loads and runs small scripts */
    static const char small[] = "local t = {}\nfor i = 1, 100 do t[i] = i end\nreturn { sum = 5050, n = #t }";
    assert_int_equal(sv_script_load_string(s, small, strlen(small), "@small.lua", &d), 0);
    lua_getfield(L, -1, "n");
    assert_int_equal(lua_tointeger(L, -1), 100);
    lua_settop(L, 0);

    /* in a call: strings this time */
    assert_int_equal(luaL_loadstring(L, "local t = {}\n"
                                        "for i = 1, 1e7 do t[#t + 1] = string.rep('x', 100) .. i end\n"
                                        "return #t"),
                     0);
    assert_int_equal(sv_script_pcall(s, 0, 1, &d), SV_E_LIMIT);
    assert_string_equal(d.msg, want);
    assert_int_equal(lua_gettop(L), 0);
    assert_int_equal(luaL_loadstring(L, "local s = 0 for i = 1, 100 do s = s + i end return s"), 0);
    assert_int_equal(sv_script_pcall(s, 0, 1, &d), 0);
    assert_int_equal(lua_tointeger(L, -1), 5050);
    lua_settop(L, 0);
    sv_script_stats(s, &st);
    assert_true(st.mem_peak <= limit);
    sv_script_free(s);
}

static void test_memory_cap_while_compiling(void **state)
{
    (void)state;
    /* a cap 512 KiB above what a fresh state uses: room for the sandbox, not for compiling a
     * 2 MiB string literal */
    sv_script_t *probe = new_script("probe", 0);
    sv_script_stats_t st;
    sv_script_stats(probe, &st);
    sv_script_free(probe);
    const size_t limit = st.mem_bytes + (512u << 10);
    sv_script_t *s = new_script("compile", limit);
    lua_State *L = sv_script_lua(s);
    size_t big = 2u << 20;
    char *src = malloc(big + 64);
    assert_non_null(src);
    int off = snprintf(src, 64, "return { s = [[");
    memset(src + off, 'x', big);
    strcpy(src + off + big, "]] }");
    sv_diag_t d;
    char want[128];
    snprintf(want, sizeof want, "not enough memory (memory limit %zu bytes)", limit);
    assert_int_equal(sv_script_load_string(s, src, strlen(src), "@big.lua", &d), SV_E_LIMIT);
    assert_int_equal(d.code, SV_E_LIMIT);
    assert_string_equal(d.msg, want);
    assert_int_equal(lua_gettop(L), 0);
    free(src);
    static const char small[] = "return { ok = true }";
    assert_int_equal(sv_script_load_string(s, small, strlen(small), "@small.lua", &d), 0);
    lua_getfield(L, -1, "ok");
    assert_true(lua_toboolean(L, -1));
    lua_settop(L, 0);
    sv_script_free(s);
}

/* Allocations inside compiled traces (TNEW/TDUP) that hit the cap raise the memory error from
 * the trace: with the stale frame of LuaJIT before upstream's fix, that crashed the process. */
static void test_memory_cap_inside_compiled_code(void **state)
{
    (void)state;
    const size_t limit = 8u << 20;
    sv_script_t *s = new_script("traced", limit);
    lua_State *L = sv_script_lua(s);
    static const char *const bombs[] = {
        "local t = {}\nfor i = 1, 1e7 do t[i] = { i, i } end",
        "local t = {}\nfor i = 1, 1e7 do t[i] = { a = i, b = { i } } end",
        "local t = {}\nfor i = 1, 1e7 do t[#t + 1] = 'x' .. i end",
        "local t = {}\nfor i = 1, 1e7 do t[i] = function() return i end end",
    };
    char want[128];
    snprintf(want, sizeof want, "not enough memory (memory limit %zu bytes)", limit);
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        sv_diag_t d;
        assert_int_equal(luaL_loadstring(L, bombs[i]), 0);
        assert_int_equal(sv_script_pcall(s, 0, 0, &d), SV_E_LIMIT);
        assert_string_equal(d.msg, want);
        assert_int_equal(lua_gettop(L), 0);
    }
    sv_script_free(s);
}

static void test_uncapped_state_is_not_limited(void **state)
{
    (void)state;
    sv_script_t *s = new_script("free", 0);
    lua_State *L = sv_script_lua(s);
    /* 16 MiB of strings: twice what the capped test allows */
    assert_int_equal(luaL_loadstring(L, "local t = {}\n"
                                        "for i = 1, 16 do t[i] = string.rep(string.char(64 + i), 1048576) end\n"
                                        "return #t"),
                     0);
    sv_diag_t d;
    assert_int_equal(sv_script_pcall(s, 0, 1, &d), 0);
    assert_int_equal(lua_tointeger(L, -1), 16);
    lua_settop(L, 0);
    sv_script_stats_t st;
    sv_script_stats(s, &st);
    assert_int_equal(st.mem_limit, 0);
    assert_true(st.mem_peak > (16u << 20));
    sv_script_free(s);
}

static void test_stats(void **state)
{
    (void)state;
    sv_script_t *s = new_script("stats", 0);
    lua_State *L = sv_script_lua(s);
    sv_script_stats_t a, b;
    sv_script_stats(s, &a);
    assert_true(a.mem_bytes > 0);
    assert_true(a.allocs > 0);
    assert_true(a.mem_peak >= a.mem_bytes);
    assert_int_equal(a.mem_limit, 0);
    /* a table of 10,000 strings: about as many allocations, and held memory grows */
    assert_int_equal(luaL_loadstring(L, "keep = {}\nfor i = 1, 10000 do keep[i] = 'v' .. i end"), 0);
    sv_diag_t d;
    assert_int_equal(sv_script_pcall(s, 0, 0, &d), 0);
    sv_script_stats(s, &b);
    assert_true(b.allocs >= a.allocs + 10000);
    assert_true(b.mem_bytes > a.mem_bytes + 10000 * 16);
    assert_true(b.mem_peak >= b.mem_bytes);
    /* dropping it and collecting gives memory back */
    assert_int_equal(luaL_dostring(L, "keep = nil collectgarbage('collect')"), 0);
    sv_script_stats_t c;
    sv_script_stats(s, &c);
    assert_true(c.mem_bytes < b.mem_bytes);
    assert_true(c.mem_peak >= b.mem_peak); /* a peak never goes down */
    assert_true(c.allocs >= b.allocs);
    sv_script_free(s);
}

/* ---- the sandbox ------------------------------------------------------------------------------- */

static const char SANDBOX_PROBE[] =
    "local ok_ffi, ffi_err = pcall(require, 'ffi')\n"
    "local ok_jit = pcall(require, 'jit')\n"
    "local ok_io = pcall(require, 'io')\n"
    "local ok_ta, ta = pcall(require, 'silvertine.ta')\n"
    "local ok_gc = pcall(collectgarbage, 'collect')\n"
    "string.format = nil -- a copy: must not leak into another script\n"
    "return {\n"
    "  no_io = io == nil,\n"
    "  no_os_execute = os.execute == nil,\n"
    "  no_os_exit = os.exit == nil,\n"
    "  no_os_getenv = os.getenv == nil,\n"
    "  no_os_remove = os.remove == nil,\n"
    "  has_os_time = type(os.time) == 'function',\n"
    "  has_os_clock = type(os.clock) == 'function',\n"
    "  has_os_date = type(os.date) == 'function',\n"
    "  no_debug = debug == nil,\n"
    "  no_ffi = ffi == nil,\n"
    "  no_jit = jit == nil,\n"
    "  no_package = package == nil,\n"
    "  no_load = load == nil,\n"
    "  no_loadstring = loadstring == nil,\n"
    "  no_loadfile = loadfile == nil,\n"
    "  no_dofile = dofile == nil,\n"
    "  no_setfenv = setfenv == nil,\n"
    "  no_getfenv = getfenv == nil,\n"
    "  no_newproxy = newproxy == nil,\n"
    "  no_string_dump = string.dump == nil,\n"
    "  require_ffi_refused = not ok_ffi,\n"
    "  require_ffi_message = ffi_err == \"require 'ffi' is not allowed in a script (allowed: silvertine.ta)\",\n"
    "  require_jit_refused = not ok_jit,\n"
    "  require_io_refused = not ok_io,\n"
    "  require_ta_allowed = ok_ta and type(ta) == 'table',\n"
    "  gc_collect_refused = not ok_gc,\n"
    "  string_metatable_locked = getmetatable('') == false,\n"
    "  has_math = type(math.floor) == 'function',\n"
    "  has_table_insert = type(table.insert) == 'function',\n"
    "  has_pcall = type(pcall) == 'function',\n"
    "  g_is_env = _G.no_such_global == nil and _G.pairs == pairs,\n"
    "}\n";

static const char *const PROBE_KEYS[] = {
    "no_io", "no_os_execute", "no_os_exit", "no_os_getenv", "no_os_remove", "has_os_time",
    "has_os_clock", "has_os_date", "no_debug", "no_ffi", "no_jit", "no_package", "no_load",
    "no_loadstring", "no_loadfile", "no_dofile", "no_setfenv", "no_getfenv", "no_newproxy",
    "no_string_dump", "require_ffi_refused", "require_ffi_message", "require_jit_refused",
    "require_io_refused", "require_ta_allowed", "gc_collect_refused", "string_metatable_locked",
    "has_math", "has_table_insert", "has_pcall", "g_is_env",
};

static void test_sandbox_env(void **state)
{
    (void)state;
    sv_script_t *s = new_script("probe", 0);
    lua_State *L = sv_script_lua(s);
    const char *path = write_file("probe.lua", SANDBOX_PROBE);
    sv_diag_t d;
    int rc = sv_script_load_file(s, path, &d);
    if (rc != 0)
        fail_msg("probe: %d %s", rc, d.msg);
    size_t n_keys = sizeof PROBE_KEYS / sizeof PROBE_KEYS[0];
    for (size_t i = 0; i < n_keys; i++) {
        lua_getfield(L, -1, PROBE_KEYS[i]);
        if (!lua_isboolean(L, -1) || !lua_toboolean(L, -1))
            fail_msg("sandbox probe: %s is %s", PROBE_KEYS[i],
                     lua_isboolean(L, -1) ? "false" : luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    /* every key the probe returns is checked above */
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    assert_int_equal(n, n_keys);
    lua_settop(L, 0);

    /* a second script in the same state gets a fresh copy of the libraries */
    static const char second[] = "return { fmt = type(string.format) }";
    assert_int_equal(sv_script_load_string(s, second, strlen(second), "@second.lua", &d), 0);
    lua_getfield(L, -1, "fmt");
    assert_string_equal(lua_tostring(L, -1), "function");
    lua_settop(L, 0);
    /* and the engine's own globals were not touched either */
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    assert_true(lua_isfunction(L, -1));
    lua_settop(L, 0);
    sv_script_free(s);
}

/* ---- CPU budget ----------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs `code` as a script file named spin.lua under a 20 ms budget; expects the stop, at
 * spin.lua:line (line 0: any line of the file), and the state usable afterwards. */
static void expect_stopped(sv_watchdog_t *w, const char *code, int line)
{
    sv_script_t *s = new_script("spin", 0);
    lua_State *L = sv_script_lua(s);
    sv_script_set_cpu_budget(s, 20);
    assert_int_equal(sv_watchdog_add(w, s), 0);
    sv_diag_t d;
    int64_t t0 = now_ms();
    int rc = sv_script_load_string(s, code, strlen(code), "@spin.lua", &d);
    int64_t took = now_ms() - t0;
    if (rc != SV_E_LIMIT)
        fail_msg("%s: expected the CPU stop, got %d %s", code, rc, rc ? d.msg : "");
    int at = 0, end = 0;
    if (sscanf(d.msg, "spin.lua:%d: CPU budget of 20 ms exceeded%n", &at, &end) != 1 || d.msg[end] != 0 ||
        (line && at != line))
        fail_msg("%s: unexpected message '%s' (want line %d)", code, d.msg, line);
    assert_int_equal(lua_gettop(L), 0);
    /* a generous bound: the measured figure (within 1.5 budgets) is in bench_dispatch */
    if (took > 2000)
        fail_msg("%s: stopped after %lld ms", code, (long long)took);
    /* the hook is gone: the state runs the next call to its end */
    static const char ok[] = "local n = 0 for i = 1, 1000 do n = n + i end return { n = n }";
    assert_int_equal(sv_script_load_string(s, ok, strlen(ok), "@ok.lua", &d), 0);
    lua_getfield(L, -1, "n");
    assert_int_equal(lua_tointeger(L, -1), 500500);
    lua_settop(L, 0);
    sv_script_stats_t st;
    sv_script_stats(s, &st);
    assert_int_equal(st.cpu_stops, 1);
    sv_script_free(s); /* leaves the watchdog itself */
}

static void test_cpu_budget_stops_runaway_calls(void **state)
{
    (void)state;
    sv_watchdog_t *w = sv_watchdog_new();
    assert_non_null(w);
    /* interpreted: a loop the JIT refuses (it creates a closure per iteration) */
    expect_stopped(w, "local n = 0\nwhile true do local f = function() return n end; n = n + 1 end\nreturn {}", 2);
    sv_watchdog_free(w);
}

static void test_cpu_budget_cannot_be_swallowed(void **state)
{
    (void)state;
    if (!sv_script_guard_stops_jit())
        skip(); /* these loops get compiled: a stock LuaJIT cannot stop them */
    sv_watchdog_t *w = sv_watchdog_new();
    /* a script's own pcall, xpcall handler or coroutine cannot keep it alive */
    expect_stopped(w, "local function spin() while true do end end\nwhile true do pcall(spin) end\n", 0);
    /* ... nor a pcall whose return ends the call: it is still reported as stopped */
    expect_stopped(w, "return pcall(function()\n  local x = 0 repeat x = x + 1 until false\nend)\n", 2);
    expect_stopped(w, "xpcall(function() error('x') end,\n function() while true do end end)\nreturn {}", 2);
    expect_stopped(w, "local co = coroutine.wrap(function()\nwhile true do coroutine.yield() end end)\n"
                      "while true do co() end", 0);
    expect_stopped(w, "while true do\n coroutine.resume(coroutine.create(function() while true do end end))\nend", 0);
    /* deep recursion that keeps catching its own stack overflow */
    expect_stopped(w, "local function deep(n) return 1 + deep(n + 1) end\nwhile true do pcall(deep, 1) end", 0);
    sv_watchdog_free(w);
}

static void test_cpu_budget_stops_jit_compiled_loops(void **state)
{
    (void)state;
    if (!sv_script_guard_stops_jit())
        skip(); /* Debian's LuaJIT without LUAJIT_ENABLE_CHECKHOOK: see scripts/build-luajit.sh */
    sv_watchdog_t *w = sv_watchdog_new();
    expect_stopped(w, "local x = 0\nwhile true do x = x + 1 end", 2);
    expect_stopped(w, "local s = 0\nfor i = 1, 1e18 do s = s + i % 7 end", 2);
    expect_stopped(w, "local t = {}\nfor i = 1, 1e18 do t[i % 64 + 1] = i end", 2);
    expect_stopped(w, "local t = {1, 2, 3}\nwhile true do for k, v in pairs(t) do t[k] = v + 1 end end", 2);
    expect_stopped(w, "local function f(x) return x + 1 end\nlocal x = 0\nwhile true do x = f(x) end", 0);
    /* string patterns run in C: the build's LuaJIT stops the matcher once the hook is armed */
    expect_stopped(w, "local s = string.rep('a', 1e5)\nreturn { s:find('.-.-.-b') }", 2);
    expect_stopped(w, "local s = string.rep('a', 1e5)\nwhile true do pcall(string.gsub, s, '(a*)*b', '') end", 2);
    sv_watchdog_free(w);
}

static void test_cpu_budget_lets_calls_within_it_run(void **state)
{
    (void)state;
    sv_watchdog_t *w = sv_watchdog_new();
    sv_script_t *s = new_script("fine", 0);
    lua_State *L = sv_script_lua(s);
    sv_script_set_cpu_budget(s, 200);
    assert_true(sv_script_cpu_budget(s) == 200);
    assert_int_equal(sv_watchdog_add(w, s), 0);
    assert_int_equal(sv_watchdog_add(w, s), SV_E_EXISTS);
    /* 20,000 short calls span many watchdog ticks: none may be stopped (an arm that arrives
     * after its call ended must not hit the next call) */
    assert_int_equal(luaL_loadstring(L, "return function(n) local s = 0 for i = 1, n do s = s + i end return s end"), 0);
    sv_diag_t d;
    assert_int_equal(sv_script_pcall(s, 0, 1, &d), 0);
    int64_t t0 = now_ms();
    for (int i = 0; i < 20000; i++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, 1000);
        assert_int_equal(sv_script_pcall(s, 1, 1, &d), 0);
        assert_int_equal(lua_tointeger(L, -1), 500500);
        lua_pop(L, 1);
    }
    int64_t took = now_ms() - t0;
    /* one call of about 20 ms of CPU, a tenth of the budget */
    lua_pushvalue(L, -1);
    lua_pushinteger(L, 20000000);
    assert_int_equal(sv_script_pcall(s, 1, 1, &d), 0);
    lua_pop(L, 1);
    sv_script_stats_t st;
    sv_script_stats(s, &st);
    assert_int_equal(st.cpu_stops, 0);
    assert_int_equal(st.calls, 20002);
    print_message("20000 short calls in %lld ms\n", (long long)took);
    /* no budget: nothing is stopped */
    sv_script_set_cpu_budget(s, 0);
    lua_pushvalue(L, -1);
    lua_pushinteger(L, 100000000);
    assert_int_equal(sv_script_pcall(s, 1, 1, &d), 0);
    lua_settop(L, 0);
    sv_watchdog_remove(w, s);
    sv_watchdog_free(w);
    sv_script_free(s);
}

static void test_cpu_budget_error_objects_and_finalizers(void **state)
{
    (void)state;
    sv_watchdog_t *w = sv_watchdog_new();
    sv_script_t *s = new_script("gc", 0);
    lua_State *L = sv_script_lua(s);
    sv_script_set_cpu_budget(s, 20);
    sv_watchdog_add(w, s);
    sv_diag_t d;
    /* the host never calls an error object's __tostring, so its loop never runs */
    static const char tostr[] = "error(setmetatable({}, {__tostring = function() while true do end end}))";
    assert_int_equal(sv_script_load_string(s, tostr, strlen(tostr), "@tostring.lua", &d), SV_E_SCRIPT);
    assert_string_equal(d.msg, "gc: error object is a table value, not a string");
    /* LuaJIT runs no __gc of a table (scripts can make neither userdata nor cdata), so a
     * finalizer that would loop is never called; full collections in between */
    assert_int_equal(luaL_loadstring(L, "ran = false\n"
                                        "for i = 1, 1000 do setmetatable({}, {__gc = function() ran = true; while true do end end}) end\n"
                                        "collectgarbage() collectgarbage()\n"
                                        "return ran"),
                     0);
    assert_int_equal(sv_script_pcall(s, 0, 1, &d), 0);
    assert_true(lua_isboolean(L, -1));
    assert_false(lua_toboolean(L, -1));
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    sv_script_free(s);
    sv_watchdog_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_file_returns_table),
        cmocka_unit_test(test_load_string_names_its_chunk),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_runtime_error_during_load),
        cmocka_unit_test(test_non_table_return),
        cmocka_unit_test(test_bytecode_refused),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_pcall_non_string_error),
        cmocka_unit_test(test_memory_cap),
        cmocka_unit_test(test_memory_cap_while_compiling),
        cmocka_unit_test(test_memory_cap_inside_compiled_code),
        cmocka_unit_test(test_uncapped_state_is_not_limited),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_sandbox_env),
        cmocka_unit_test(test_cpu_budget_stops_runaway_calls),
        cmocka_unit_test(test_cpu_budget_cannot_be_swallowed),
        cmocka_unit_test(test_cpu_budget_stops_jit_compiled_loops),
        cmocka_unit_test(test_cpu_budget_lets_calls_within_it_run),
        cmocka_unit_test(test_cpu_budget_error_objects_and_finalizers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
