-- Spec for strategies/sma_cross.lua, driven through the real engine.
local testing = require("silvertine.testing")
local root = os.getenv("SV_SOURCE_DIR") or "."

describe("sma_cross", function()
  local function run(closes, params)
    local t = testing.new{ strategy = root .. "/strategies/sma_cross.lua", symbols = { "BTCUSDT" },
      params = params or { fast = 2, slow = 4, qty = 0.5 } }
    t:bars("BTCUSDT", closes)
    return t
  end

  it("emits nothing while the averages warm up", function()
    local t = run({ 10, 11, 12 })
    assert.are.same({}, t:signals())
  end)

  it("buys when the fast average crosses above the slow one", function()
    -- fast(2)/slow(4): bar 4 11.5/11 (above: the starting side), bar 5 9.5/10.5 (below, but
    -- flat: nothing to sell), bar 6 11.5/11.5 (equal is not above), bar 7 15.5/12.5 -> buy
    local t = run({ 10, 11, 12, 11, 8, 15, 16 })
    local s = t:signals()
    assert.are.equal(1, #s)
    assert.are.equal("buy", s[1].side)
    assert.are.equal("BTCUSDT", s[1].symbol)
    assert.are.equal(0.5, s[1].qty)
    assert.are.equal("market", s[1].type)
  end)

  it("takes its parameters from the config over its defaults", function()
    local t = run({ 1, 2, 3, 4, 5, 6 }, { qty = 2 })
    assert.is_true(t:enabled())
  end)

  it("refuses a parameter it does not declare", function()
    local ok, err = pcall(testing.new, { strategy = root .. "/strategies/sma_cross.lua",
      symbols = { "BTCUSDT" }, params = { fsat = 3 } })
    assert.is_false(ok)
    assert.matches("unknown parameter 'fsat'", err)
    assert.matches("sma_cross.lua", err)
  end)
end)

describe("sma_cross through the simulated exchange", function()
  local closes = { 10, 11, 12, 11, 8, 15, 16, 4, 3 }

  it("buys at the next bar's open, then sells what it holds on the cross down", function()
    local t = testing.new{ strategy = root .. "/strategies/sma_cross.lua", symbols = { "BTCUSDT" },
      params = { fast = 2, slow = 4, qty = 0.5 }, sim = { taker_fee_bps = 10 } }
    t:bars("BTCUSDT", closes)
    -- bar 7 (close 16) crosses up -> buy fills at bar 8's open (= its close, 4: the helper's
    -- bars open at their close unless told otherwise); bar 8 crosses down while long -> sell
    -- 0.5 at bar 9's open (3)
    local f = t:fills()
    assert.are.equal(2, #f)
    assert.are.same({ "buy", 0.5, 4, "taker" }, { f[1].side, f[1].qty, f[1].price, f[1].liquidity })
    assert.are.same({ "sell", 0.5, 3 }, { f[2].side, f[2].qty, f[2].price })
    assert.are.equal(0.002, f[1].fee) -- 10 bps of 2 USDT
    assert.are.equal(0.0015, f[2].fee)
    local qty, avg, realized = t:position("BTCUSDT")
    assert.are.equal(0, qty)
    assert.are.equal(0, avg)
    assert.are.equal(-0.5, realized) -- bought 2.0, sold 1.5
    assert.are.equal(1000000 - 0.5 - 0.0035, t:balance("USDT"))
    assert.are.equal(0, t:balance("BTC"))
  end)

  it("sees its orders go through their states", function()
    local t = testing.new{ strategy = root .. "/strategies/sma_cross.lua", symbols = { "BTCUSDT" },
      params = { fast = 2, slow = 4, qty = 0.5 } }
    t:bars("BTCUSDT", closes)
    local states = {}
    for _, o in ipairs(t:orders()) do
      if o.id == 1 then states[#states + 1] = o.status end
    end
    assert.are.same({ "pending", "acknowledged", "filled" }, states)
  end)

  it("gets a reject with the reason when it cannot pay", function()
    local t = testing.new{ strategy = root .. "/strategies/sma_cross.lua", symbols = { "BTCUSDT" },
      params = { fast = 2, slow = 4, qty = 0.5 }, balances = { USDT = "1" } }
    t:bars("BTCUSDT", closes)
    local o = t:orders()
    local last = o[#o]
    assert.are.equal("rejected", last.status)
    assert.matches("insufficient", last.reason)
    assert.are.same({}, t:fills())
  end)
end)
