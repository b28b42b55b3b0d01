-- ctx.size: position sizing helpers, rounded to the lot, from the account's equity.
local testing = require("silvertine.testing")
local helpers = require("helpers")

describe("ctx.size", function()
  teardown(helpers.cleanup)

  it("sizes by amount, percent of equity, Kelly and volatility target", function()
    local path = helpers.strategy_file([[
local S = {}
function S.on_bar(ctx, b)
  local z = ctx.size
  ctx.state.r = {
    z:fixed(b.symbol, 150, 100),             -- 1.5
    z:percent(b.symbol, 2, 100),             -- 2 % of 10,000 = 200 -> 2
    z:kelly(b.symbol, 0.6, 1.5, 100),        -- f = 0.6 - 0.4 / 1.5 = 0.333 -> cap 0.25 -> 25
    z:kelly(b.symbol, 0.55, 1.5, 100, 0.5),  -- f = 0.55 - 0.45 / 1.5 = 0.25 -> 25
    z:kelly(b.symbol, 0.3, 1, 100),          -- negative edge -> 0
    z:vol_target(b.symbol, 0.2, 0.8, 100),   -- 0.25 x equity -> 25
    z:vol_target(b.symbol, 0.9, 0.3, 100),   -- 3x, capped at 1x -> 100
    z:fixed(b.symbol, 100.05, 100),          -- 1.0005 -> lot 0.001 -> 1
  }
  for i, q in ipairs(ctx.state.r) do ctx:buy(b.symbol, q > 0 and q or 0.001, nil, { tag = tostring(i) }) end
  local ok, e = pcall(z.percent, z, b.symbol, -1, 100)
  assert(not ok and e:find("pct must be a number > 0"), e)
  ok, e = pcall(z.kelly, z, b.symbol, 2, 1, 100)
  assert(not ok and e:find("win_rate must be a number in %[0, 1%]"), e)
end
return S]])
    local t = testing.new{ strategy = path, symbols = { "XUSDT" }, balances = { USDT = "10000" },
      instruments = { XUSDT = { base = "X", quote = "USDT", tick = "0.01", lot = "0.001" } } }
    t:bar{ symbol = "XUSDT", close = 100 }
    assert.is_true(t:enabled(), t:error())
    local q = {}
    for _, s in ipairs(t:signals()) do q[#q + 1] = s.qty end
    assert.are.same({ 1.5, 2, 25, 25, 0.001, 25, 100, 1 }, q)
  end)
end)
