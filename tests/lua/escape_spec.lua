-- Hostile scripts: every escape or abuse attempt is contained with a clear error, while the
-- engine and the other script keep trading and no order or position is lost.
--
-- Each case runs two strategies in one engine on six one-minute bars (closes 100..105):
--   victim:   a resting limit buy (never fills) on bar 1, then a market buy of 1 every bar
--             (each fills at the next bar's open), checking on every bar that nothing of the
--             attacker's reached its own state;
--   attacker: a market buy of 2 (filled on bar 2) and a resting limit buy on bar 1, then the
--             attack on bar 3 (or in the handler the case names).
-- Afterwards: the victim is enabled, saw every bar, holds 5, its resting order is still open;
-- the attacker holds its 2; when the attack raised, the attacker is disabled with the expected
-- reason (alert event with the same text) and its resting order is canceled.
local ffi = require("ffi")
local testing = require("silvertine.testing")
local helpers = require("helpers")

local VICTIM = [[
local S = {}
function S.on_start(ctx) ctx.state.n = 0 end
function S.on_bar(ctx, bar)
  ctx.state.n = ctx.state.n + 1
  assert(shared_marker == nil, "a global of the attacker reached the victim")
  assert(string.format("%d", 7) == "7" and math.floor(2.5) == 2, "the victim's libraries changed")
  assert(type(ctx.ta.sma) == "function" and type(ctx.buy) == "function", "the victim's ctx changed")
  if ctx.state.n == 1 then assert(ctx:buy(bar.symbol, 0.5, 1)) end
  assert(ctx:buy(bar.symbol, 1))
end
return S
]]

local ATTACKER = [[
local S = {}
function S.on_start(ctx) ctx.state.n = 0 end
%s
function S.on_bar(ctx, bar)
  ctx.state.n = ctx.state.n + 1
  if ctx.state.n == 1 then
    ctx:buy(bar.symbol, 2)
    ctx:buy(bar.symbol, 1, 50)
  elseif ctx.state.n == 3 then
%s
  end
end
return S
]]

-- The last update of strategy sid's order at a price (its resting limit order).
local function resting(t, sid, price)
  local last
  for _, o in ipairs(t:orders()) do
    if o.strategy == sid and o.price == price then last = o end
  end
  return assert(last, "no order at " .. price)
end

local function count(list, sid)
  local n = 0
  for _, x in ipairs(list) do if x.strategy == sid then n = n + 1 end end
  return n
end

-- attack: Lua statements run in the attacker's on_bar on bar 3; o.extra: more attacker code
-- (handlers); o.error: expected text in the attacker's disable reason (nil: stays enabled);
-- o.code: expected alert code (1 script error, 2 limit); o.setup(t): before the bars;
-- o.memory_limit_mb, o.cpu_budget_ms: the attacker's limits.
local function attack(code, o)
  o = o or {}
  local path = helpers.strategy_file(ATTACKER:format(o.extra or "", code))
  local victim = helpers.strategy_file(VICTIM)
  local t = testing.new{ strategy = path, name = "attacker", symbols = { "XUSDT" },
    memory_limit_mb = o.memory_limit_mb, cpu_budget_ms = o.cpu_budget_ms,
    others = { { name = "victim", strategy = victim } } }
  if o.setup then o.setup(t) end
  t:bars("XUSDT", { 100, 101, 102, 103, 104, 105 })
  local a, v = t:id("attacker"), t:id("victim")

  -- the victim kept trading: every bar seen, every order in place, nothing lost
  assert.is_true(t:enabled("victim"), t:error("victim"))
  assert.are.equal(7, count(t:signals(), v))
  assert.are.equal(5, (t:position("XUSDT", "victim")))
  assert.are.equal("acknowledged", resting(t, v, 1).status)
  -- the attacker's position is the core's: the attack changed nothing of it
  assert.are.equal(2, (t:position("XUSDT", "attacker")))

  if o.error then
    assert.is_false(t:enabled("attacker"))
    local err = t:error("attacker")
    assert.is_truthy(err:find(o.error, 1, true), err)
    assert.is_truthy(err:find(path, 1, true) or o.no_place, "no file:line in: " .. err)
    local alerts = t:alerts()
    assert.are.equal(1, #alerts)
    assert.are.same({ o.code or 1, err }, { alerts[1].code, alerts[1].text })
    -- disabled: its resting order was canceled by the core, whatever the script did to ctx
    assert.are.equal("canceled", resting(t, a, 50).status)
  else
    assert.is_true(t:enabled("attacker"), t:error("attacker"))
    if not o.cancels then assert.are.equal("acknowledged", resting(t, a, 50).status) end
  end
  return t
end

describe("escape and abuse attempts", function()
  teardown(helpers.cleanup)

  local refused = {
    { "io.open", "io.open('/etc/passwd')", "attempt to index global 'io'" },
    { "os.execute", "os.execute('touch /tmp/sv_escaped')", "attempt to call field 'execute'" },
    { "os.exit", "os.exit(3)", "attempt to call field 'exit'" },
    { "require 'ffi'", "local ffi = require('ffi'); ffi.C.abort()", "require 'ffi' is not allowed" },
    { "jit.util", "jit.util.funcinfo(print)", "attempt to index global 'jit'" },
    { "string.dump", "local b = string.dump(function() end)", "attempt to call field 'dump'" },
    { "string.dump through the string metatable", "local b = (''):dump()", "attempt to call method 'dump'" },
    { "bytecode through load", "load('\\27LJ\\2')()", "attempt to call global 'load'" },
    { "loadstring", "loadstring('return 1')()", "attempt to call global 'loadstring'" },
    { "dofile", "dofile('/etc/passwd')", "attempt to call global 'dofile'" },
    { "debug.getinfo", "debug.getinfo(1)", "attempt to index global 'debug'" },
    { "debug.getregistry", "debug.getregistry()", "attempt to index global 'debug'" },
    { "setfenv", "setfenv(1, {})", "attempt to call global 'setfenv'" },
    { "getmetatable('').__index", "getmetatable('').__index.rep = nil", "attempt to index a boolean value" },
    { "the package table", "package.loaded['silvertine.ctx'].bind = nil", "attempt to index global 'package'" },
    { "newproxy for a __gc", "newproxy(true)", "attempt to call global 'newproxy'" },
  }
  for _, case in ipairs(refused) do
    it("refuses " .. case[1], function()
      attack("    " .. case[2], { error = case[3] })
      assert.is_nil(io.open("/tmp/sv_escaped"))
    end)
  end

  it("stops deep recursion with a stack overflow", function()
    attack("    local function f(n) return f(n + 1) + 1 end\n    f(1)", { error = "stack overflow" })
  end)

  it("caps memory: a 10,000,000-element table under 16 MiB", function()
    attack("    local t = {}\n    for i = 1, 1e7 do t[i] = i end",
      { memory_limit_mb = 16, cpu_budget_ms = 2000, error = "not enough memory (memory limit 16777216 bytes)", code = 2,
        no_place = true })
  end)

  it("caps memory: string.rep bombs, even when the script catches the failures", function()
    attack("    for i = 1, 20 do pcall(string.rep, 'x', 2^30) end\n" ..
           "    local s = string.rep('x', 1048576)\n    while true do s = s .. s end",
      { memory_limit_mb = 16, cpu_budget_ms = 2000, error = "not enough memory (memory limit 16777216 bytes)", code = 2,
        no_place = true })
  end)

  it("does not call a looping __tostring of an error object", function()
    attack("    error(setmetatable({}, { __tostring = function() while true do end end }))",
      { error = "attacker: error object is a table value, not a string", no_place = true })
  end)

  it("never runs a looping __gc finalizer of a table", function()
    -- garbage until the collector has finished cycles (the heap shrank twice), finalizers due
    attack([[
    for i = 1, 10000 do setmetatable({}, { __gc = function() while true do end end }) end
    local peak, drops, junk = 0, 0, {}
    for i = 1, 1e7 do
      junk[i % 1000 + 1] = { i, i, i }
      local kb = collectgarbage("count")
      if kb < peak then drops = drops + 1; peak = 0 else peak = kb end
      if drops == 2 then break end
    end
    assert(drops == 2, "no collection cycle")]], { cpu_budget_ms = 2000 })
  end)

  it("keeps replaced ctx methods inside the script: disabling still cancels its orders", function()
    attack([[
    ctx.cancel_all = function() end
    ctx.cancel = nil
    ctx.buy = function() return 1 end
    ctx.state = nil
    ctx.ta.sma = nil
    shared_marker = true
    string.format = nil
    math.floor = function() return 0 end
    error("replaced everything")]], { error = "replaced everything" })
  end)

  it("cannot cancel another script's orders or reach its state", function()
    local t = attack([[
    for id = 1, 50 do ctx:cancel(id) end
    ctx:cancel_all()
    _G.victim = nil
    shared_marker = true
    ctx.state.done = true]], { cancels = true })
    -- the attacker canceled only its own resting order; the victim's is untouched (attack()
    -- checks it)
    assert.are.equal("canceled", resting(t, t:id("attacker"), 50).status)
  end)

  it("gives event views no pointer to reach and refuses hostile book indexes", function()
    local t = attack("", { extra = [[
function S.on_book(ctx, book)
  assert(getmetatable(book) == false, "metatable visible")
  assert(next(book) == nil and rawget(book, "slot") == nil, "raw fields visible")
  assert(not pcall(function() return book.slot end), "slot reachable")
  assert(not pcall(function() book.n_bids = 100 end), "writable")
  for _, i in ipairs({ 0/0, 1/0, -1/0, -1, 0, 1.5, 3, 2^31, 2^53, -2^63, "1", true }) do
    assert(book:bid(i) == nil and book:ask(i) == nil, "index " .. tostring(i) .. " reached the array")
  end
  assert(book:bid(2) == 99 and book:ask(1) == 101, "valid levels")
  local tn = book.time_ns
  assert(type(tn) == "cdata" and getmetatable(tn) == "ffi", "time_ns")
  for _, f in ipairs({ function() return tn[0] end, function() return tn.h end,
                       function() return tn + "x" end, function() tn[0] = 1 end }) do
    assert(not pcall(f), "an int64 was indexed like a pointer")
  end
  -- every field of every view is a plain value or an int64 (never a pointer or a struct)
  for _, k in ipairs({ "symbol", "time", "time_ns", "seq", "n_bids", "n_asks", "snapshot", "last" }) do
    local v = book[k]
    local tv = type(v)
    assert(tv == "string" or tv == "number" or tv == "boolean" or (tv == "cdata" and tostring(v):match("LL$")),
      k .. " is a " .. tv)
  end
  ctx.state.book_checked = true
  ctx:sell(book.symbol, 0.1, 1000)
end]], setup = function(t)
      local e = ffi.new("sv_event_t")
      e.h.kind = testing.KIND.depth
      e.h.symbol = t:symbol("XUSDT")
      e.h.ts_exchange = ffi.new("int64_t", 1704067200000 + 30000) * 1000000
      e.u.depth.n_bids, e.u.depth.n_asks = 2, 1
      local lv = { { 100, 1 }, { 99, 2 }, { 101, 3 } }
      for i, l in ipairs(lv) do
        e.u.depth.levels[i - 1].price = l[1] * 1e8
        e.u.depth.levels[i - 1].qty = l[2] * 1e8
      end
      t:feed(e)
    end })
    local sells = 0
    for _, s in ipairs(t:signals()) do
      if s.strategy == t:id("attacker") and s.side == "sell" then sells = sells + 1 end
    end
    assert.are.equal(1, sells) -- the book handler ran to its end
  end)

  it("discards huge return values", function()
    attack("    local t = {}\n    for i = 1, 7000 do t[i] = i end\n" ..
           "    if ctx.state.n == 3 then return string.rep('x', 1e7), unpack(t) end", { cpu_budget_ms = 2000 })
  end)

  it("refuses unpack of more values than a call can take", function()
    attack("    local t = {}\n    for i = 1, 1e6 do t[i] = i end\n    return unpack(t)",
      { error = "too many results to unpack", no_place = true, cpu_budget_ms = 2000 })
  end)

  it("sends nothing after it is disabled: its timers stop with it", function()
    local t = attack("    error('bye')", { error = "bye", extra = [[
function S.on_timer(ctx, tm) if ctx.state.n >= 3 then ctx:sell("XUSDT", 0.01) end end
local start = S.on_start
function S.on_start(ctx) start(ctx); ctx:timer(30000, true) end]] })
    local before = count(t:signals(), t:id("attacker"))
    t:advance(600000)
    t:bar{ symbol = "XUSDT", close = 106 }
    assert.are.equal(before, count(t:signals(), t:id("attacker")))
    assert.is_true(t:enabled("victim"))
  end)

  it("cannot flood the engine's timers: 64 at once, none shorter than 10 ms", function()
    attack([[
    local n = 0
    for i = 1, 1000 do if ctx:timer(600000, true) then n = n + 1 end end
    assert(n == 64, n)
    local id, err = ctx:timer(1000)
    assert(id == nil and err == "timer: at most 64 timers at once", err)
    assert(ctx:cancel_timer(ctx.state.first or -1) == false)
    local id2, err2 = ctx:timer(0.001, true)
    assert(id2 == nil and err2 == "timer: ms must be >= 10, got 0.001", err2)]])
  end)

  it("refuses orders from on_stop", function()
    local path = helpers.strategy_file([[
local S = {}
function S.on_stop(ctx)
  for i = 1, 10 do
    local id, err = ctx:buy("XUSDT", 1)
    assert(id == nil and err:find("is stopping"), err)
  end
  ctx:cancel_all()
end
return S]])
    local t = testing.new{ strategy = path, symbols = { "XUSDT" },
      others = { { name = "victim", strategy = helpers.strategy_file(VICTIM) } } }
    t:bars("XUSDT", { 100, 101 })
    t:stop()
    assert.is_true(t:enabled(), t:error())
    assert.are.equal(0, count(t:signals(), t:id()))
  end)
end)

describe("CPU budget", function()
  teardown(helpers.cleanup)
  local jit_ok = testing.new{ strategy = helpers.strategy_file("return {}") }.lib.sv_script_guard_stops_jit() == 1

  local loops = {
    { "a JIT-compiled while loop", "    local x = 0\n    while true do x = x + 1 end", true },
    { "a JIT-compiled for loop", "    local s = 0\n    for i = 1, 1e18 do s = s + i % 3 end", true },
    { "a loop whose pcall keeps catching the stop",
      "    local function spin() while true do end end\n    while true do pcall(spin) end", true },
    { "a loop in a coroutine", "    coroutine.wrap(function() while true do end end)()", true },
    { "a loop in an xpcall message handler",
      "    xpcall(function() error('x') end, function() while true do end end)", true },
    { "an interpreted loop", "    while true do local f = function() end end", false },
    { "a string pattern bomb (the matcher runs in C)",
      "    local s = string.rep('a', 1e5)\n    local i = s:find('.-.-.-b')", true },
  }
  for _, case in ipairs(loops) do
    it("stops " .. case[1] .. " and disables the script", function()
      if case[3] and not jit_ok then
        pending("LuaJIT without LUAJIT_ENABLE_CHECKHOOK (Debian's fallback): a compiled loop cannot be stopped")
        return
      end
      local t0 = os.clock()
      local t = attack(case[2], { error = "CPU budget of 5 ms exceeded", code = 2 })
      assert.is_true(os.clock() - t0 < 5, "took too long")
      assert.is_truthy(t:error("attacker"):find("^on_bar: .*:%d+: CPU budget of 5 ms exceeded$"), t:error("attacker"))
    end)
  end

  it("applies the configured budget, and a larger one to loading and on_start", function()
    if not jit_ok then pending("LuaJIT without LUAJIT_ENABLE_CHECKHOOK (Debian's fallback): a compiled loop cannot be stopped"); return end
    attack("    local x = 0\n    while true do x = x + 1 end",
      { cpu_budget_ms = 20, error = "CPU budget of 20 ms exceeded", code = 2 })
    -- on_start: the larger of 1000 ms and the budget
    local path = helpers.strategy_file("local S = {}\nfunction S.on_start(ctx)\n  while true do end\nend\nreturn S\n")
    local t = testing.new{ strategy = path, symbols = { "XUSDT" } }
    assert.is_false(t:enabled())
    assert.are.equal("on_start: " .. path .. ":3: CPU budget of 1000 ms exceeded", t:error())
    -- the main chunk
    path = helpers.strategy_file("local x = 0\nwhile true do x = x + 1 end\nreturn {}\n")
    t = testing.new{ strategy = path, expect_error = true }
    assert.are.equal(path .. ":2: CPU budget of 1000 ms exceeded", t:error())
  end)

  it("lets a handler that stays within its budget run, call after call", function()
    local path = helpers.strategy_file([[
local S = {}
function S.on_bar(ctx, bar)
  local s = 0
  for i = 1, 2e5 do s = s + i % 7 end
  ctx.state.n = (ctx.state.n or 0) + 1
end
return S]])
    local t = testing.new{ strategy = path, symbols = { "XUSDT" }, cpu_budget_ms = 50 }
    for i = 1, 200 do t:bar{ symbol = "XUSDT", close = 100 + i % 5 } end
    assert.is_true(t:enabled(), t:error())
  end)

  it("can be turned off", function()
    local path = helpers.strategy_file([[
local S = {}
function S.on_bar(ctx, bar) local s = 0 for i = 1, 3e7 do s = s + i % 7 end end
return S]])
    local t = testing.new{ strategy = path, symbols = { "XUSDT" }, cpu_budget_ms = -1 }
    t:bar{ symbol = "XUSDT", close = 100 }
    assert.is_true(t:enabled(), t:error())
  end)
end)
