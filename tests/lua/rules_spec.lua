-- Custom risk rules in Lua: check(ctx, order) -> true | false, reason; run after the C checks,
-- read access to positions, open orders and market data; an error rejects (fail closed).
local testing = require("silvertine.testing")
local helpers = require("helpers")

local BUYER = [[
local S = {}
function S.on_bar(ctx, b)
  ctx:buy(b.symbol, ctx.state.n == nil and 1 or 3)
  ctx.state.n = (ctx.state.n or 0) + 1
end
return S]]

local function run(rule_src, params, bars)
  local t = testing.new{ strategy = helpers.strategy_file(BUYER), symbols = { "XUSDT" },
    rules = { { name = "myrule", file = helpers.strategy_file(rule_src), params = params } } }
  t:bars("XUSDT", bars or { 100, 101 })
  return t
end

local function statuses(t)
  local out = {}
  for _, o in ipairs(t:orders()) do
    if o.status == "rejected" or o.status == "filled" then out[#out + 1] = o.status .. (o.reason and (":" .. o.reason) or "") end
  end
  return out
end

describe("custom risk rules", function()
  teardown(helpers.cleanup)

  it("approves and rejects with the rule's name and reason, delivered as an order", function()
    local t = run([[
local R = { params = { max_qty = 2 } }
function R.check(ctx, order)
  if order.qty > R.params.max_qty then return false, "qty " .. order.qty .. " above " .. R.params.max_qty end
  return true
end
return R]])
    assert.are.same({ "filled", "rejected:myrule: qty 3 above 2" }, statuses(t))
    assert.are.equal(1, (t:position("XUSDT")))
  end)

  it("takes params from the config and refuses unknown ones", function()
    local t = run([[
local R = { params = { max_qty = 2 } }
function R.check(ctx, order) return order.qty <= R.params.max_qty, "too big" end
return R]], { max_qty = 5 }, { 100, 101, 102 })
    -- three bars, three buys (1, 3, 3): the last is still pending at the end
    assert.are.same({ "filled", "filled" }, statuses(t))
    local ok, err = pcall(run, "local R = { params = { a = 1 } }\nfunction R.check() return true end\nreturn R\n", { b = 2 })
    assert.is_false(ok)
    assert.matches("unknown parameter 'b'", err)
  end)

  it("reads positions, open orders and the last prices", function()
    local t = run([[
local R = {}
function R.check(ctx, order)
  local qty, avg = ctx:position(order.symbol)
  local orders = ctx:open_orders(order.symbol)
  local bar = ctx:bar(order.symbol)
  assert(ctx:last_price(order.symbol) == bar.close)
  assert(order.side == "buy" and order.type == "market" and order.strategy == "strategy")
  if qty > 0 then
    return false, string.format("holding %g at %g, %d open, last close %g", qty, avg, #orders, bar.close)
  end
  return true
end
return R]])
    -- the first buy fills at bar 2's open (101); the second is checked after that fill
    assert.are.same({ "filled", "rejected:myrule: holding 1 at 101, 0 open, last close 101" }, statuses(t))
  end)

  it("fails closed when the rule raises, naming file:line", function()
    local t = run([[
local R = {}
function R.check(ctx, order)
  local x = nil
  return x.y
end
return R]])
    local s = statuses(t)
    assert.are.equal(2, #s)
    assert.matches("^rejected:myrule: raised an error %(order rejected%): .*%.lua:4: attempt to index local 'x'", s[1])
  end)

  it("rejects when check returns nothing true", function()
    local t = run("local R = {}\nfunction R.check() end\nreturn R\n")
    assert.are.same({ "rejected:myrule: rejected (no reason given)", "rejected:myrule: rejected (no reason given)" },
      statuses(t))
  end)

  it("refuses a rule without check, and bad syntax, with the file", function()
    local ok, err = pcall(run, "return {}\n")
    assert.is_false(ok)
    assert.matches("must define check%(ctx, order%)", err)
    ok, err = pcall(run, "local R = {\nreturn R\n")
    assert.is_false(ok)
    assert.matches("%.lua:2:", err)
  end)

  it("keeps the rule sandboxed and the order view read-only", function()
    local t = run([[
local R = {}
function R.check(ctx, order)
  order.qty = 0
  return true
end
return R]])
    assert.matches("order is read%-only", statuses(t)[1])
    t = run("local R = {}\nfunction R.check(ctx, order) return io ~= nil end\nreturn R\n")
    assert.matches("rejected", statuses(t)[1])
  end)

  it("reloads a rule: a good version goes live, a broken one leaves the old running", function()
    local rule = helpers.strategy_file([[
local R = {}
function R.check(ctx, order)
  ctx.state.n = (ctx.state.n or 0) + 1
  return false, "v1 #" .. ctx.state.n
end
return R]])
    local t = testing.new{ strategy = helpers.strategy_file(BUYER), symbols = { "XUSDT" },
      rules = { { name = "myrule", file = rule } } }
    t:bars("XUSDT", { 100 })
    local f = assert(io.open(rule, "w"))
    f:write("local R = {\nreturn R\n")
    f:close()
    local ok, err = t:reload_rule("myrule")
    assert.is_false(ok)
    assert.matches("%.lua:2:", err)
    t:bars("XUSDT", { 101 })
    f = assert(io.open(rule, "w"))
    f:write([[
local R = {}
function R.check(ctx, order)
  ctx.state.n = ctx.state.n + 1
  return false, "v2 #" .. ctx.state.n
end
return R]])
    f:close()
    assert.is_true((t:reload_rule("myrule")))
    t:bars("XUSDT", { 102 })
    -- the count in ctx.state carried over the reload
    assert.are.same({ "rejected:myrule: v1 #1", "rejected:myrule: v1 #2", "rejected:myrule: v2 #3" }, statuses(t))
  end)

  it("stops a rule that loops and rejects the order it was checking", function()
    local jit_ok = testing.new{ strategy = helpers.strategy_file("return {}") }.lib.sv_script_guard_stops_jit() == 1
    if not jit_ok then pending("LuaJIT without LUAJIT_ENABLE_CHECKHOOK: a compiled loop cannot be stopped"); return end
    local t = run([[
local R = {}
function R.check(ctx, order)
  if order.qty > 1 then local x = 0 while true do x = x + 1 end end
  return true
end
return R]], nil, { 100, 101, 102 })
    local s = statuses(t)
    assert.are.equal("filled", s[1])
    assert.matches("^rejected:myrule: raised an error %(order rejected%): .*CPU budget of 5 ms exceeded", s[2])
    assert.is_true(t:enabled())
  end)
end)
