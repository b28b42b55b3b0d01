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

#include "script.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

enum { MAX_FILES = 32 };

static char dir[256];
static char files[MAX_FILES][512];
static int n_files;

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/sv_script_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_files; i++)
        unlink(files[i]);
    return rmdir(dir);
}

static const char *write_bytes(const char *name, const char *data, size_t len)
{
    assert_true(n_files < MAX_FILES);
    char *p = files[n_files++];
    snprintf(p, sizeof files[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return p;
}

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
        cmocka_unit_test(test_uncapped_state_is_not_limited),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_sandbox_env),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
