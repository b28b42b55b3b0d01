-- Orders, fills and positions seen from a strategy: on_order/on_fill, limits, cancels.
local testing = require("silvertine.testing")
local helpers = require("helpers")

local function strategy(src, o)
  o = o or {}
  o.strategy = helpers.strategy_file(src)
  o.symbols = o.symbols or { "XUSDT" }
  return testing.new(o)
end

describe("trading from a strategy", function()
  teardown(helpers.cleanup)

  it("delivers on_order and on_fill with the order's values", function()
    local t = strategy([[
local S = {}
function S.on_start(ctx) ctx.state.log = {} end
function S.on_bar(ctx, b) if not ctx.state.sent then ctx.state.sent = ctx:buy(b.symbol, 2) end end
function S.on_order(ctx, o)
  local l = ctx.state.log
  l[#l + 1] = o.status .. ":" .. o.filled
end
function S.on_fill(ctx, f)
  local qty, avg = ctx:position(f.symbol)
  assert(f.side == "buy" and f.qty == 2 and f.price == 101 and qty == 2 and avg == 101)
  assert(ctx:balance("XUSDT") == 0 or true)
  ctx:sell(f.symbol, 1, 150) -- a resting limit
end
return S]])
    t:bar{ symbol = "XUSDT", close = 100 }
    t:bar{ symbol = "XUSDT", open = 101, high = 102, low = 100, close = 101 }
    assert.is_true(t:enabled(), t:error())
    local f = t:fills()
    assert.are.equal(1, #f)
    local o = t:orders()
    local last = o[#o]
    assert.are.same({ 2, "acknowledged", "sell", "limit", 150 }, { last.id, last.status, last.side, last.type, last.price })
    assert.are.equal(2, (t:position("XUSDT")))
  end)

  it("fills a resting limit only when the market trades through it, at its price", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b) if not ctx.state.sent then ctx.state.sent = ctx:buy(b.symbol, 1, 95) end end
return S]])
    t:bar{ symbol = "XUSDT", close = 100 }
    t:bar{ symbol = "XUSDT", open = 100, high = 101, low = 95, close = 99 } -- touches, no fill
    assert.are.equal(0, #t:fills())
    t:bar{ symbol = "XUSDT", open = 99, high = 99, low = 94, close = 96 } -- trades through
    local f = t:fills()
    assert.are.equal(1, #f)
    assert.are.same({ 95, "maker" }, { f[1].price, f[1].liquidity })
  end)

  it("cancels its open orders and is told", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if not ctx.state.id then ctx.state.id = ctx:buy(b.symbol, 1, 50); return end
  if not ctx.state.canceled then ctx.state.canceled = ctx:cancel_all(b.symbol) end
end
function S.on_order(ctx, o) if o.status == "canceled" then ctx.state.done = true end end
return S]])
    t:bars("XUSDT", { 100, 100, 100 })
    local o = t:orders()
    assert.are.equal("canceled", o[#o].status)
    assert.are.equal(0, #t:fills())
  end)

  it("sells and realizes PnL exactly on ticks", function()
    local t = strategy([[
local S = {}
function S.on_tick(ctx, tr)
  local q = ctx:position(tr.symbol)
  if q == 0 and not ctx.state.bought then ctx.state.bought = true; ctx:buy(tr.symbol, 0.3) end
  if q > 0 and tr.price >= 110 then ctx:sell(tr.symbol, q) end
end
return S]], { sim = { taker_fee_bps = 10 } })
    t:tick{ symbol = "XUSDT", price = 100, qty = 5 }
    t:tick{ symbol = "XUSDT", price = 100.1, qty = 5 } -- the buy fills here
    t:tick{ symbol = "XUSDT", price = 110, qty = 5 }   -- sell sent
    t:tick{ symbol = "XUSDT", price = 110.2, qty = 5 } -- sell fills here
    local f = t:fills()
    assert.are.equal(2, #f)
    assert.are.same({ 100.1, 110.2 }, { f[1].price, f[2].price })
    local qty, _, realized = t:position("XUSDT")
    assert.are.equal(0, qty)
    assert.is_true(math.abs(realized - 3.03) < 1e-9) -- 0.3 * (110.2 - 100.1)
    -- fees: 10 bps of 30.03 and of 33.06
    assert.is_true(math.abs(t:balance("USDT") - (1000000 + 3.03 - 0.03003 - 0.03306)) < 1e-9)
  end)
end)
