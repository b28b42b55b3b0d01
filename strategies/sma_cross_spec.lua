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

  it("does not sell what it does not hold", function()
    local t = run({ 10, 11, 12, 11, 8, 15, 16, 4, 3 })
    local sides = {}
    for i, s in ipairs(t:signals()) do sides[i] = s.side end
    assert.are.same({ "buy" }, sides)
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
