-- Protective orders kept by the core (engine/protect.h, docs/protective-orders.md): they fire
-- from C, with exact prices, also after the strategy that opened the position was disabled.
local testing = require("silvertine.testing")
local helpers = require("helpers")

local function strategy(src, o)
  o = o or {}
  o.strategy = helpers.strategy_file(src)
  o.symbols = o.symbols or { "XUSDT" }
  return testing.new(o)
end

local function bar(t, o, h, l, c) t:bar{ symbol = "XUSDT", open = o, high = h, low = l, close = c } end

local function protect_alerts(t)
  local out = {}
  for _, a in ipairs(t:alerts()) do
    if a.code == 5 then out[#out + 1] = a.text end
  end
  return out
end

local function statuses(t, id)
  local out = {}
  for _, o in ipairs(t:orders()) do
    if o.id == id then out[#out + 1] = o.status end
  end
  return table.concat(out, ",")
end

describe("protective orders", function()
  teardown(helpers.cleanup)

  it("fire a trailing stop after the strategy was disabled", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ctx.state.n == 1 then assert(ctx:buy(b.symbol, 1, nil, { trailing_pct = 2 })) end
  if ctx.state.n == 3 then error("boom") end
end
return S]])
    bar(t, 100, 100, 100, 100)         -- buys at market
    bar(t, 100, 101, 99.5, 100.5)      -- fills 1 @ 100 at the open; best 101, stop 98.98
    bar(t, 100.5, 104, 100, 103)       -- best 104 (stop 101.92); the script raises
    assert.is_false(t:enabled())
    assert.matches("boom", t:error())
    bar(t, 103, 110, 102.5, 109)       -- rises: best 110, stop 107.8
    bar(t, 109, 109.5, 107, 107.5)     -- falls through 107.8: a market sell is sent
    assert.are.equal(1, #t:fills())
    bar(t, 107.2, 107.5, 106, 106.5)   -- and fills at the next open
    local f = t:fills()
    assert.are.equal(2, #f)
    assert.are.same({ "buy", 1, 100 }, { f[1].side, f[1].qty, f[1].price })
    assert.are.same({ "sell", 1, 107.2 }, { f[2].side, f[2].qty, f[2].price })
    local qty, _, realized = t:position("XUSDT")
    assert.are.equal(0, qty)
    assert.are.equal(7.2, realized)
    assert.are.same({ "trailing_stop: strategy XUSDT long" }, protect_alerts(t))
    assert.are.equal("pending,acknowledged,filled", statuses(t, f[2].order_id)) -- never canceled
  end)

  it("keep their exit when the strategy is disabled on the bar that fires the stop", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ctx.state.n == 1 then assert(ctx:buy(b.symbol, 2, nil, { stop_loss = 95 })) end
  if ctx.state.n == 3 then error("boom") end -- its open orders are canceled, not the core's exit
end
return S]])
    bar(t, 100, 100, 100, 100)
    bar(t, 100, 101, 99, 100)
    bar(t, 100, 100.5, 94, 96)         -- the stop fires; then the script raises
    assert.is_false(t:enabled())
    bar(t, 95.5, 96, 95, 95.5)
    local f = t:fills()
    assert.are.equal(2, #f)
    assert.are.same({ "sell", 2, 95.5 }, { f[2].side, f[2].qty, f[2].price })
    assert.are.equal("pending,acknowledged,filled", statuses(t, f[2].order_id)) -- never canceled
    assert.are.equal(0, (t:position("XUSDT")))
  end)

  it("apply the strategy's defaults: a stop loss and partial take profits", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if not ctx.state.sent then ctx.state.sent = assert(ctx:buy(b.symbol, 2)) end
end
return S]], { protect = { stop_loss_pct = 2, take_profit_pct = { 5, 10 }, take_profit_fraction = { 0.5, 0 } } })
    bar(t, 100, 100, 100, 100)
    bar(t, 100, 100.5, 99.5, 100)      -- 2 @ 100: stop 98, take profits 105 (half) and 110
    bar(t, 104, 106, 103.5, 105.5)     -- reaches 105: sells 1
    bar(t, 105, 105.5, 97.5, 98)       -- fills 1 @ 105, then falls through 98: sells the other 1
    bar(t, 97, 97.5, 96, 96.5)         -- fills 1 @ 97
    local f = t:fills()
    assert.are.equal(3, #f)
    assert.are.same({ "sell", 1, 105 }, { f[2].side, f[2].qty, f[2].price })
    assert.are.same({ "sell", 1, 97 }, { f[3].side, f[3].qty, f[3].price })
    local qty, _, realized = t:position("XUSDT")
    assert.are.equal(0, qty)
    assert.are.equal(2, realized)
    assert.are.same({ "take_profit: strategy XUSDT long", "stop_loss: strategy XUSDT long" }, protect_alerts(t))
  end)

  it("refuse bad defaults with the reason", function()
    assert.has_error(function()
      strategy("return {}", { protect = { take_profit_pct = { 5 }, take_profit_fraction = { 1.5 } } })
    end, "protect: take_profit_fraction level 1 must be in [0, 1] (0 = all that is left), got 1.5")
  end)

  it("run a bracket from order options, out of reach of the strategy's cancels", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if not ctx.state.sent then
    ctx.state.sent = assert(ctx:buy(b.symbol, 1, nil,
      { stop_loss = 95, take_profit = { 110, 120 }, take_profit_fraction = { 0.5, 0 } }))
  end
end
function S.on_order(ctx, o)
  if o.signal_id == 0 and o.status == "pending" then -- an exit the core sent for this strategy
    ctx.state.exits = (ctx.state.exits or 0) + 1
    ctx.state.canceled = (ctx.state.canceled or 0) + ctx:cancel_all()
    assert(ctx:cancel(o.id) == nil)
  end
end
return S]])
    bar(t, 100, 100, 100, 100)
    bar(t, 100, 101, 99, 100)          -- 1 @ 100
    bar(t, 100, 111, 99.5, 110.5)      -- 100 -> 99.5 -> 111: half at 110
    bar(t, 110.5, 121, 110, 120)       -- fills 0.5 @ 110.5; 110 -> 121: the rest at 120
    bar(t, 119, 119.5, 118, 119)       -- fills 0.5 @ 119
    local f = t:fills()
    assert.are.equal(3, #f)
    assert.are.same({ 0.5, 110.5 }, { f[2].qty, f[2].price })
    assert.are.same({ 0.5, 119 }, { f[3].qty, f[3].price })
    local qty, _, realized = t:position("XUSDT")
    assert.are.equal(0, qty)
    assert.are.equal(14.75, realized)
    assert.is_true(t:enabled(), t:error())
    assert.are.same({ "take_profit: strategy XUSDT long", "take_profit: strategy XUSDT long" }, protect_alerts(t))
  end)

  it("protect a short with a stop that a gap jumps through", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if not ctx.state.sent then ctx.state.sent = assert(ctx:sell(b.symbol, 1, nil, { stop_loss_pct = 3 })) end
end
return S]], { balances = { USDT = "1000000", X = "10" } }) -- a spot venue sells what the account holds
    bar(t, 100, 100, 100, 100)
    bar(t, 100, 101, 99, 100)          -- short 1 @ 100: stop 103
    bar(t, 105, 106, 104, 105)         -- gaps over 103
    bar(t, 104.5, 105, 104, 104.5)     -- buys back at the open
    local f = t:fills()
    assert.are.same({ "buy", 1, 104.5 }, { f[2].side, f[2].qty, f[2].price })
    assert.are.equal(0, (t:position("XUSDT")))
  end)

  it("refuse the order when its protective options are bad, and say why", function()
    local t = strategy([[
local S = {}
function S.on_bar(ctx, b)
  if not ctx.state.done then
    ctx.state.done = true
    local id, err = ctx:buy(b.symbol, 1, nil, { stop_loss = 95, stop_loss_pct = 2 })
    assert(id == nil and err == "protective orders refused: give stop_loss or stop_loss_pct, not both", err)
  end
end
return S]])
    bar(t, 100, 100, 100, 100)
    assert.is_true(t:enabled(), t:error())
    assert.are.equal(0, #t:signals()) -- never an unprotected order
  end)
end)
