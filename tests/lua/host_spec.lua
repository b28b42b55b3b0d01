-- The strategy host: handlers, ctx, read-only event views, errors that disable one script.
local testing = require("silvertine.testing")
local helpers = require("helpers")

local function strategy(src, o)
  o = o or {}
  o.strategy = helpers.strategy_file(src)
  o.symbols = o.symbols or { "X" }
  return testing.new(o), o.strategy
end

describe("strategy host", function()
  teardown(helpers.cleanup)

  it("calls only the handlers a script defines, with the event's values", function()
    local t = strategy([[
local S = {}
function S.on_tick(ctx, t) ctx:buy(t.symbol, t.qty, t.price, { tag = t.side }) end
function S.on_quote(ctx, q) ctx:sell(q.symbol, q.bid_qty, q.mid) end
return S]])
    t:bar{ symbol = "X", close = 5 }
    t:tick{ symbol = "X", price = 101.25, qty = 0.003, side = "sell" }
    t:quote{ symbol = "X", bid = 100, ask = 100.5, bid_qty = 2 }
    local s = t:signals()
    assert.are.equal(2, #s)
    assert.are.same({ "buy", 0.003, 101.25, "limit", "sell" }, { s[1].side, s[1].qty, s[1].price, s[1].type, s[1].tag })
    assert.are.same({ "sell", 2, 100.25, "limit" }, { s[2].side, s[2].qty, s[2].price, s[2].type })
    assert.is_true(s[2].id > s[1].id)
  end)

  it("exposes bar fields and time in ms", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  assert(b.open == 1 and b.high == 4 and b.low == 0.5 and b.close == 2 and b.volume == 7)
  assert(b.time == 1704067260000, b.time)
  assert(b.start == b.time - 60000 and b.interval == 60)
  assert(ctx:now() == b.time)
  ctx:buy(b.symbol, 1)
end
return S]])
    t:bar{ symbol = "X", open = 1, high = 4, low = 0.5, close = 2, volume = 7 }
    assert.is_true(t:enabled(), t:error())
    assert.are.equal(1, #t:signals())
  end)

  it("routes market data only to the symbols a strategy trades", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b) ctx:buy(b.symbol, 1) end
return S]], { symbols = { "A" } })
    t:bar{ symbol = "B", close = 1 }
    t:bar{ symbol = "A", close = 1 }
    local s = t:signals()
    assert.are.equal(1, #s)
    assert.are.equal("A", s[1].symbol)
  end)

  it("makes event views read-only and names unknown fields", function()
    local t, path = strategy([[
local S = {}
function S.on_bar(ctx, b) b.close = 3 end
return S]])
    t:bar{ symbol = "X", close = 1 }
    assert.is_false(t:enabled())
    assert.are.equal("on_bar: " .. path .. ":2: bar is read-only (tried to set 'close')", t:error())
    local t2, path2 = strategy([[
local S = {}
function S.on_bar(ctx, b) return b.clsoe + 1 end
return S]])
    t2:bar{ symbol = "X", close = 1 }
    assert.matches("^on_bar: " .. path2:gsub("%p", "%%%0") .. ":2: bar has no field 'clsoe' %(fields: close", t2:error())
  end)

  it("disables only the script that raises and publishes an alert", function()
    local t, path = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if b.close > 2 then error("boom at " .. b.close) end
  ctx:buy(b.symbol, 1)
end
return S]])
    t:bars("X", { 1, 2, 3, 4 })
    assert.is_false(t:enabled())
    assert.are.equal("on_bar: " .. path .. ":3: boom at 3", t:error())
    assert.are.equal(2, #t:signals())
    local a = t:alerts()
    assert.are.equal(1, #a)
    assert.are.equal(1, a[1].code)
    assert.are.equal(t:error(), a[1].text)
  end)

  it("disables a script whose on_start raises", function()
    local t, path = strategy("local S = {}\nfunction S.on_start(ctx) local t = nil; return t.x end\nreturn S\n")
    assert.is_false(t:enabled())
    assert.are.equal("on_start: " .. path .. ":2: attempt to index local 't' (a nil value)", t:error())
  end)

  it("returns nil and a reason for a bad order instead of sending it", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  local id, err = ctx:buy(b.symbol, -1)
  assert(id == nil and err:find("quantity must be a finite number > 0, got %-1"), err)
  id, err = ctx:buy(b.symbol, 0/0)
  assert(id == nil and err:find("quantity must be a finite number > 0"), err)
  id, err = ctx:sell(b.symbol, 1, 1/0)
  assert(id == nil and err:find("price must be a finite number >= 0"), err)
  id, err = ctx:buy(b.symbol, 1, nil, { stop_price = -5 })
  assert(id == nil and err:find("stop price must be"), err)
  local ok, e = pcall(ctx.buy, ctx, "NOPE", 1)
  assert(not ok and e:find("unknown symbol 'NOPE'"), e)
  ok, e = pcall(ctx.buy, b.symbol, 1)
  assert(not ok and e:find("use ctx:buy"), e)
  ok, e = pcall(ctx.buy, ctx, b.symbol, "1")
  assert(not ok and e:find("quantity must be a number, got string"), e)
  ok, e = pcall(ctx.order, ctx, { symbol = b.symbol, side = "long", qty = 1 })
  assert(not ok and e:find("side must be 'buy' or 'sell'"), e)
  ok, e = pcall(ctx.buy, ctx, b.symbol, 1, 10, { tif = "day" })
  assert(not ok and e:find("unknown time in force 'day'"), e)
  ctx:buy(b.symbol, 1, 10, { tif = "ioc", post_only = true, tag = "ok" })
end
return S]])
    t:bar{ symbol = "X", close = 1 }
    assert.is_true(t:enabled(), t:error())
    local s = t:signals()
    assert.are.equal(1, #s)
    assert.are.same({ "ioc", true, "ok", "limit" }, { s[1].tif, s[1].post_only, s[1].tag, s[1].type })
  end)

  it("infers stop order types", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  ctx:sell(b.symbol, 1, nil, { stop_price = 90 })
  ctx:sell(b.symbol, 1, 89, { stop_price = 90 })
  ctx:order{ symbol = b.symbol, side = "buy", qty = 2, price = 95, type = "limit", tif = "fok" }
end
return S]])
    t:bar{ symbol = "X", close = 100 }
    local s = t:signals()
    assert.are.same({ "stop_market", 90 }, { s[1].type, s[1].stop_price })
    assert.are.same({ "stop_limit", 89, 90 }, { s[2].type, s[2].price, s[2].stop_price })
    assert.are.same({ "limit", "fok", "buy", 2 }, { s[3].type, s[3].tif, s[3].side, s[3].qty })
  end)

  it("keeps state between calls and fires timers on simulated time", function()
    local t = strategy([[
local S = {}
function S.on_start(ctx) ctx.state.n = 0; ctx.state.timer = ctx:timer(30000, true) end
function S.on_timer(ctx, tm)
  assert(tm.id == ctx.state.timer)
  ctx.state.n = ctx.state.n + 1
  ctx:buy("X", ctx.state.n)
end
return S]])
    t:advance(95000) -- 30 s, 60 s, 90 s
    local s = t:signals()
    assert.are.equal(3, #s)
    assert.are.same({ 1, 2, 3 }, { s[1].qty, s[2].qty, s[3].qty })
    assert.are.equal(s[2].time - s[1].time, 30000)
  end)

  it("refuses new orders from on_stop", function()
    local t = strategy([[
local S = {}
function S.on_stop(ctx)
  local id, err = ctx:buy("X", 1)
  assert(id == nil and err:find("is stopping"), err)
  ctx.state.checked = true
end
return S]])
    t:stop()
    assert.is_true(t:enabled(), t:error())
    assert.are.equal(0, #t:signals())
  end)

  it("rejects a params value of the wrong type", function()
    local ok, err = pcall(strategy, "local S = { params = { n = 1 } }\nreturn S\n", { params = { n = "x" } })
    assert.is_false(ok)
    assert.matches("parameter 'n' must be a number, got string x", err)
  end)

  it("refuses a handler that is not a function", function()
    local ok, err = pcall(strategy, "return { on_bar = 5 }\n")
    assert.is_false(ok)
    assert.matches("on_bar must be a function, got number", err)
  end)
end)
