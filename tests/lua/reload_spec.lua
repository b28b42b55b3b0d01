-- Live reload: a new version is swapped in only when it loads and on_reload (or on_start)
-- succeeds; ctx.state (plain data and ta indicators) carries over; orders and positions stay.
local testing = require("silvertine.testing")
local helpers = require("helpers")

local function write(path, src)
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
end

local function version(v, extra)
  return ([[
local S = { version = %d }
function S.on_start(ctx) ctx.state.bars = 0; ctx.state.sma = ctx.ta.sma(3); ctx.state.list = { 1, 2 } end
function S.on_reload(ctx, old)
  assert(old == ctx.state)
  ctx.state.reloaded = (ctx.state.reloaded or 0) + 1
end
function S.on_bar(ctx, b)
  ctx.state.bars = ctx.state.bars + 1
  ctx.state.avg = ctx.state.sma:update(b.close)
  ctx.state.seen_version = S.version
  if not ctx.state.bought then ctx.state.bought = ctx:buy(b.symbol, 1) end
  %s
end
return S]]):format(v, extra or "")
end

describe("live reload", function()
  teardown(helpers.cleanup)

  it("swaps in a good version, carrying ctx.state and indicators over", function()
    local path = helpers.strategy_file(version(1))
    local t = testing.new{ strategy = path, symbols = { "XUSDT" } }
    t:bars("XUSDT", { 10, 20 })
    write(path, version(2, "ctx.state.v2 = true"))
    assert.are.same({ true }, { t:reload() })
    t:bars("XUSDT", { 30, 40 })
    -- the SMA(3) kept its window across the reload: (20 + 30 + 40) / 3
    local s = t:signals()
    assert.are.equal(1, #s) -- bought once, not again after the reload
    assert.are.equal(1, (t:position("XUSDT")))
    assert.is_true(t:enabled())
    write(path, version(3, "if ctx.state.avg ~= 30 or ctx.state.bars ~= 5 or ctx.state.reloaded ~= 2 then error('state lost: ' .. tostring(ctx.state.avg) .. ' ' .. ctx.state.bars) end"))
    assert.are.same({ true }, { t:reload() })
    t:bars("XUSDT", { 20 })
    assert.is_true(t:enabled(), t:error())
  end)

  it("keeps the running version when the new one is broken, naming file:line", function()
    local path = helpers.strategy_file(version(1))
    local t = testing.new{ strategy = path, symbols = { "XUSDT" } }
    t:bars("XUSDT", { 10 })
    write(path, "local S = {\nfunction S.on_bar() end\nreturn S\n")
    local ok, err = t:reload()
    assert.is_false(ok)
    assert.are.equal(path .. ":2: '(' expected near 'S'", err)
    write(path, "error('on load')\n" .. version(2))
    ok, err = t:reload()
    assert.is_false(ok)
    assert.are.equal(path .. ":1: on load", err)
    t:bars("XUSDT", { 11, 12 })
    assert.is_true(t:enabled())
    assert.are.equal(1, (t:position("XUSDT")))
  end)

  it("refuses a version whose on_reload raises", function()
    local path = helpers.strategy_file(version(1))
    local t = testing.new{ strategy = path, symbols = { "XUSDT" } }
    write(path, "local S = {}\nfunction S.on_reload(ctx, old) error('no migration') end\nreturn S\n")
    local ok, err = t:reload()
    assert.is_false(ok)
    assert.matches("^on_reload: .*:2: no migration", err)
    t:bars("XUSDT", { 10, 11 })
    assert.are.equal(1, #t:signals()) -- the old version kept trading
  end)

  it("re-enables a strategy that a broken handler had disabled", function()
    local path = helpers.strategy_file(version(1, "if b.close > 15 then error('bug') end"))
    local t = testing.new{ strategy = path, symbols = { "XUSDT" } }
    t:bars("XUSDT", { 10, 20 })
    assert.is_false(t:enabled())
    write(path, version(2))
    assert.is_true((t:reload()))
    assert.is_true(t:enabled())
    t:bars("XUSDT", { 30 })
    assert.are.equal(1, #t:signals())
    local alerts = t:alerts()
    assert.matches("^reloaded ", alerts[#alerts].text)
  end)
end)
