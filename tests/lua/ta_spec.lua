-- Spec for silvertine.ta, the incremental indicators behind ctx.ta.
--
-- Every indicator is checked against a reference written here that recomputes its value from
-- scratch at each step (a window sum, a two-pass variance, or the closed-form weighted sum that an
-- EMA or Wilder average unrolls to), over a deterministic pseudo-random bar series from an LCG
-- written in this file. Hand-computed values pin the conventions (seeding, warm-up length, the
-- RSI special cases), and separate tests cover reset, argument errors, allocation, the sandbox
-- and rounding drift over a million updates.
--
-- Run: busted --lua=luajit --lpath='./lua/?.lua;./lua/?/init.lua' tests/lua/ta_spec.lua

local ta = require("silvertine.ta")

local REL = 1e-9

-- Numerical Recipes LCG, mod 2^32; every product stays below 2^53, so it is exact in doubles.
local function lcg(seed)
  local state = seed
  return function()
    state = (1664525 * state + 1013904223) % 4294967296
    return state / 4294967296
  end
end

-- Bars: a multiplicative random walk around 100 with a flat stretch (identical closes, high == low)
-- and a stretch of zero volume, plus scattered zero volumes.
local N = 3000
local FLAT_FROM, FLAT_TO = 1000, 1060
local DRY_FROM, DRY_TO = 1500, 1540

local function make_bars(count, seed)
  local rnd = lcg(seed)
  local close, high, low, volume = {}, {}, {}, {}
  local p = 100
  for i = 1, count do
    local open = p
    if i >= FLAT_FROM and i <= FLAT_TO then
      close[i], high[i], low[i] = p, p, p
      rnd()
      rnd()
      rnd()
    else
      p = p * (1 + 0.02 * (rnd() - 0.5))
      close[i] = p
      high[i] = math.max(open, p) * (1 + 0.005 * rnd())
      low[i] = math.min(open, p) * (1 - 0.005 * rnd())
    end
    local u = rnd()
    if (i >= DRY_FROM and i <= DRY_TO) or u < 0.05 then
      volume[i] = 0
    else
      volume[i] = math.floor(u * 1000)
    end
  end
  return { close = close, high = high, low = low, volume = volume }
end

local bars = make_bars(N, 20240611)

-- |a - b| <= REL * max(|a|, |b|, floor). floor defaults to the smallest normal double, which makes
-- it a plain relative test; series that cross zero (macd, hist) or sit at zero (stddev of a flat
-- window) pass a floor of the scale they are measured against.
local function assert_close(expected, actual, what, floor)
  floor = floor or 2.2250738585072014e-308
  if expected == nil or actual == nil then
    if expected ~= actual then
      error(string.format("%s: expected %s, got %s", what, tostring(expected), tostring(actual)), 2)
    end
    return
  end
  local scale = math.max(math.abs(expected), math.abs(actual), floor)
  if not (math.abs(expected - actual) <= REL * scale) then
    error(string.format("%s: expected %.17g, got %.17g", what, expected, actual), 2)
  end
end

-- The error raised by f(...), with the "file:line: " prefix checked to point at this spec (the
-- caller of the constructor or update) and removed.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_string(err)
  local msg = err:match("ta_spec%.lua:%d+: (.*)$")
  assert(msg, "error does not blame the calling line: " .. err)
  return msg
end

---------------------------------------------------------------------------------------------------
-- From-scratch references. Each takes the whole input and an index t and looks only at data <= t.

local function ref_sma(xs, n, t)
  if t < n then
    return nil
  end
  local s = 0
  for i = t - n + 1, t do
    s = s + xs[i]
  end
  return s / n
end

-- EMA of seq over indices first..t, alpha a, seeded with the mean of seq[first .. first+n-1],
-- written out as the weighted sum the recursion unrolls to:
--   (1-a)^(t-s) * seed + sum_{j=s+1..t} a * (1-a)^(t-j) * seq[j],  s = first + n - 1.
local function ref_smoothed(seq, first, n, a, t)
  local s = first + n - 1
  if t < s then
    return nil
  end
  local seed = 0
  for j = first, s do
    seed = seed + seq[j]
  end
  seed = seed / n
  local acc, w = 0, 1
  for j = t, s + 1, -1 do
    acc = acc + a * w * seq[j]
    w = w * (1 - a)
  end
  return acc + w * seed
end

local function ref_ema(seq, first, n, t)
  return ref_smoothed(seq, first, n, 2 / (n + 1), t)
end

-- Wilder's smoothing is the same unrolled sum with a = 1/n.
local function ref_wilder(seq, first, n, t)
  return ref_smoothed(seq, first, n, 1 / n, t)
end

local function changes_of(prices)
  local gains, losses = {}, {}
  for i = 2, #prices do
    local d = prices[i] - prices[i - 1]
    gains[i] = math.max(d, 0)
    losses[i] = math.max(-d, 0)
  end
  return gains, losses
end

local function ref_rsi(gains, losses, n, t)
  -- Changes start at index 2; the first average covers changes 2 .. n+1.
  local g = ref_wilder(gains, 2, n, t)
  if g == nil then
    return nil
  end
  local l = ref_wilder(losses, 2, n, t)
  if l == 0 then
    return g == 0 and 50 or 100
  end
  return 100 - 100 / (1 + g / l)
end

-- Population variance from pairwise differences, sum_{i<j} (x_i - x_j)^2 / n^2: no mean involved,
-- so it is exactly 0 for a flat window and shares nothing with the implementation's method.
local function ref_bollinger(xs, n, k, t)
  if t < n then
    return nil
  end
  local mean = ref_sma(xs, n, t)
  local ss = 0
  for i = t - n + 1, t do
    for j = i + 1, t do
      ss = ss + (xs[i] - xs[j]) ^ 2
    end
  end
  local sd = math.sqrt(ss) / n
  return mean, mean + k * sd, mean - k * sd, sd
end

local function true_ranges(b)
  local tr = {}
  for i = 1, #b.close do
    if i == 1 then
      tr[i] = b.high[i] - b.low[i]
    else
      local pc = b.close[i - 1]
      tr[i] = math.max(b.high[i] - b.low[i], math.abs(b.high[i] - pc), math.abs(b.low[i] - pc))
    end
  end
  return tr
end

local function ref_vwap(b, n, t)
  local from = 1
  if n then
    if t < n then
      return nil
    end
    from = t - n + 1
  end
  local pv, v = 0, 0
  for i = from, t do
    pv = pv + b.close[i] * b.volume[i]
    v = v + b.volume[i]
  end
  if v == 0 then
    return nil
  end
  return pv / v
end

---------------------------------------------------------------------------------------------------

describe("silvertine.ta", function()
  it("builds a deterministic bar series with its flat and dry stretches", function()
    local again = make_bars(N, 20240611)
    assert.equals(bars.close[N], again.close[N])
    assert.are_not.equals(bars.close[N], make_bars(N, 1).close[N])
    assert.equals(bars.close[FLAT_FROM], bars.close[FLAT_TO])
    assert.equals(0, bars.volume[DRY_FROM])
    local lo, hi = math.huge, -math.huge
    for i = 1, N do
      lo, hi = math.min(lo, bars.close[i]), math.max(hi, bars.close[i])
      assert.is_true(bars.high[i] >= bars.low[i])
    end
    assert.is_true(lo > 10 and hi < 1000 and hi - lo > 5)
  end)

  describe("sma", function()
    it("pins hand values: sma(3) of 1,2,3,4 is nil,nil,2,3", function()
      local s = ta.sma(3)
      assert.is_nil(s:update(1))
      assert.is_false(s:ready())
      assert.is_nil(s.value)
      assert.is_nil(s:update(2))
      assert.equals(2, s:update(3))
      assert.is_true(s:ready())
      assert.equals(3, s:update(4))
      assert.equals(3, s.value)
    end)

    it("sma(1) is the input", function()
      local s = ta.sma(1)
      assert.equals(7.25, s:update(7.25))
      assert.equals(-3, s:update(-3))
    end)

    it("gives exactly the constant over a flat window", function()
      -- Three 0.1s summed and divided by 3 is not 0.1 in doubles, so this needs care.
      local s = ta.sma(3)
      for _ = 1, 3 do
        s:update(0.1)
      end
      assert.equals(0.1, s.value)
      for i = 1, 10 do
        s:update(i * 1.37)
      end
      for _ = 1, 3 do
        s:update(0.7)
      end
      assert.equals(0.7, s.value)
    end)

    it("matches the from-scratch window mean at every step", function()
      for _, n in ipairs({ 1, 2, 10, 50, 200 }) do
        local s = ta.sma(n)
        for t = 1, N do
          local v = s:update(bars.close[t])
          assert_close(ref_sma(bars.close, n, t), v, "sma(" .. n .. ") t=" .. t)
          assert.equals(v, s.value)
          assert.equals(t >= n, s:ready())
        end
      end
    end)
  end)

  describe("ema", function()
    it("seeds with the SMA of the first n values, then uses alpha = 2/(n+1)", function()
      -- ema(3): alpha = 0.5; seed (1+2+3)/3 = 2; then 2 + 0.5*(4-2) = 3; 3 + 0.5*(5-3) = 4;
      -- 4 + 0.5*(0-4) = 2.
      local e = ta.ema(3)
      assert.is_nil(e:update(1))
      assert.is_nil(e:update(2))
      assert.is_false(e:ready())
      assert.equals(2, e:update(3))
      assert.is_true(e:ready())
      assert.equals(3, e:update(4))
      assert.equals(4, e:update(5))
      assert.equals(2, e:update(0))
      assert.equals(2, e.value)
    end)

    it("ema(1) is the input", function()
      local e = ta.ema(1)
      assert.equals(3, e:update(3))
      assert.equals(-8, e:update(-8))
    end)

    it("matches the unrolled weighted sum at every step", function()
      for _, n in ipairs({ 1, 2, 12, 26, 100 }) do
        local e = ta.ema(n)
        for t = 1, N do
          local v = e:update(bars.close[t])
          assert_close(ref_ema(bars.close, 1, n, t), v, "ema(" .. n .. ") t=" .. t)
        end
      end
    end)
  end)

  describe("rsi", function()
    it("pins Wilder's RSI on a crafted series", function()
      -- rsi(3) on 10, 11, 10.5, 11.5, 11, 12: changes +1, -0.5, +1, -0.5, +1.
      -- First averages over the first 3 changes: gain (1+0+1)/3 = 2/3, loss 0.5/3 = 1/6;
      --   RSI = 100 * (2/3) / (2/3 + 1/6) = 80.
      -- Change -0.5: gain (2/3*2 + 0)/3 = 4/9, loss (1/6*2 + 0.5)/3 = 5/18;
      --   RSI = 100 * (4/9) / (4/9 + 5/18) = 800/13.
      -- Change +1: gain (4/9*2 + 1)/3 = 17/27, loss (5/18*2 + 0)/3 = 5/27; RSI = 1700/22.
      local r = ta.rsi(3)
      assert.is_nil(r:update(10))
      assert.is_nil(r:update(11))
      assert.is_nil(r:update(10.5))
      assert.is_false(r:ready())
      assert_close(80, r:update(11.5), "first rsi")
      assert.is_true(r:ready())
      assert_close(800 / 13, r:update(11), "second rsi")
      assert_close(1700 / 22, r:update(12), "third rsi")
      assert_close(1700 / 22, r.value, "rsi.value")
    end)

    it("is 100 with no losses, 0 with no gains and 50 with no change", function()
      local up, down, flat = ta.rsi(4), ta.rsi(4), ta.rsi(4)
      for i = 1, 8 do
        up:update(i)
        down:update(-i)
        flat:update(42)
      end
      assert.equals(100, up.value)
      assert.equals(0, down.value)
      assert.equals(50, flat.value)
      -- A move after the flat start: one gain of 4 over Wilder's 4-change average, no loss.
      assert.equals(100, flat:update(46))
    end)

    it("needs n + 1 prices", function()
      local r = ta.rsi(14)
      for t = 1, 14 do
        assert.is_nil(r:update(bars.close[t]))
      end
      assert.is_number(r:update(bars.close[15]))
    end)

    it("matches the unrolled Wilder averages at every step", function()
      local gains, losses = changes_of(bars.close)
      for _, n in ipairs({ 1, 2, 14, 50 }) do
        local r = ta.rsi(n)
        for t = 1, N do
          local v = r:update(bars.close[t])
          -- RSI lives in [0, 100]; near 0 measure it against a scale of 1.
          assert_close(ref_rsi(gains, losses, n, t), v, "rsi(" .. n .. ") t=" .. t, 1)
          if v then
            assert.is_true(v >= 0 and v <= 100)
          end
        end
      end
    end)
  end)

  describe("macd", function()
    it("pins a hand-computed macd(2, 3, 2)", function()
      -- Input 2, 4, 8, 4, 2. fast ema(2), alpha 2/3: seed 3, then 19/3, 43/9, 79/27.
      -- slow ema(3), alpha 1/2: seed 14/3 (bar 3), then 13/3, 19/6.
      -- macd: 19/3 - 14/3 = 5/3 (bar 3), 43/9 - 13/3 = 4/9, 79/27 - 19/6 = -13/54.
      -- signal ema(2) of macd: seed (5/3 + 4/9)/2 = 19/18 (bar 4), hist 4/9 - 19/18 = -11/18;
      --   then 19/18 + 2/3*(-13/54 - 19/18) = 31/162, hist -13/54 - 31/162 = -35/81.
      local m = ta.macd(2, 3, 2)
      assert.is_nil(m:update(2))
      assert.is_nil(m:update(4))
      local a, b, c = m:update(8)
      assert_close(5 / 3, a, "macd bar 3")
      assert.is_nil(b)
      assert.is_nil(c)
      assert.is_false(m:ready())
      assert_close(5 / 3, m.macd, "m.macd bar 3")
      assert.is_nil(m.signal)
      a, b, c = m:update(4)
      assert.is_true(m:ready())
      assert_close(4 / 9, a, "macd bar 4")
      assert_close(19 / 18, b, "signal bar 4")
      assert_close(-11 / 18, c, "hist bar 4")
      a, b, c = m:update(2)
      assert_close(-13 / 54, a, "macd bar 5")
      assert_close(31 / 162, b, "signal bar 5")
      assert_close(-35 / 81, c, "hist bar 5")
      assert.equals(a, m.macd)
      assert.equals(b, m.signal)
      assert.equals(c, m.hist)
    end)

    it("defaults to 12, 26, 9: macd from update 26, signal from update 34", function()
      local m = ta.macd()
      for t = 1, 25 do
        assert.is_nil(m:update(bars.close[t]))
      end
      for t = 26, 33 do
        local a, b, c = m:update(bars.close[t])
        assert.is_number(a)
        assert.is_nil(b)
        assert.is_nil(c)
        assert.is_false(m:ready())
      end
      local a, b, c = m:update(bars.close[34])
      assert.is_number(a)
      assert.is_number(b)
      assert.equals(a - b, c)
      assert.is_true(m:ready())
    end)

    it("matches from-scratch EMAs of the input and of the macd line at every step", function()
      for _, p in ipairs({ { 12, 26, 9 }, { 2, 3, 1 }, { 5, 35, 5 } }) do
        local fast, slow, sig = p[1], p[2], p[3]
        local m = ta.macd(fast, slow, sig)
        local ref_line = {}
        for t = 1, N do
          local a, b, c = m:update(bars.close[t])
          local what = string.format("macd(%d,%d,%d) t=%d", fast, slow, sig, t)
          local rs = ref_ema(bars.close, 1, slow, t)
          if rs then
            ref_line[t] = ref_ema(bars.close, 1, fast, t) - rs
          end
          -- The macd line crosses zero; measure it against a scale of 1 (prices are ~100).
          assert_close(ref_line[t], a, what .. " macd", 1)
          local rsig = ref_line[t] and ref_ema(ref_line, slow, sig, t)
          assert_close(rsig, b, what .. " signal", 1)
          assert_close(rsig and ref_line[t] - rsig, c, what .. " hist", 1)
        end
      end
    end)
  end)

  describe("bollinger", function()
    it("pins a window with mean 5 and population stddev 2", function()
      local b = ta.bollinger(8)
      local xs = { 2, 4, 4, 4, 5, 5, 7, 9 }
      for i = 1, 7 do
        assert.is_nil(b:update(xs[i]))
        assert.is_false(b:ready())
      end
      local m, u, l = b:update(xs[8])
      assert.is_true(b:ready())
      assert_close(5, m, "middle")
      assert_close(9, u, "upper")
      assert_close(1, l, "lower")
      assert_close(2, b.stddev, "stddev")
      assert.equals(m, b.middle)
      assert.equals(u, b.upper)
      assert.equals(l, b.lower)
      -- k = 1.5 over the same window: 5 +- 3.
      local b2 = ta.bollinger(8, 1.5)
      for i = 1, 8 do
        b2:update(xs[i])
      end
      assert_close(8, b2.upper, "upper k=1.5")
      assert_close(2, b2.lower, "lower k=1.5")
    end)

    it("has stddev exactly 0 for a constant series, from the start or after noise", function()
      local b = ta.bollinger(5)
      for _ = 1, 20 do
        b:update(0.1)
      end
      assert.equals(0, b.stddev)
      assert.equals(0.1, b.middle)
      assert.equals(0.1, b.upper)
      assert.equals(0.1, b.lower)
      for i = 1, 50 do
        b:update(100000 + i * 0.37)
      end
      for _ = 1, 5 do
        b:update(99999.3)
      end
      assert.equals(0, b.stddev)
      assert.equals(99999.3, b.middle)
      assert.equals(99999.3, b.upper)
    end)

    it("matches the two-pass window mean and stddev at every step", function()
      for _, p in ipairs({ { 1, 2 }, { 2, 2 }, { 20, 2 }, { 20, 0.5 }, { 64, 3 } }) do
        local n, k = p[1], p[2]
        local b = ta.bollinger(n, k)
        for t = 1, N do
          local m, u, l = b:update(bars.close[t])
          local rm, ru, rl, rsd = ref_bollinger(bars.close, n, k, t)
          local what = string.format("bollinger(%d,%g) t=%d", n, k, t)
          assert_close(rm, m, what .. " middle")
          assert_close(ru, u, what .. " upper")
          assert_close(rl, l, what .. " lower")
          assert_close(rsd, b.stddev, what .. " stddev")
          if t - n + 1 >= FLAT_FROM and t <= FLAT_TO then
            assert.equals(0, b.stddev)
          end
        end
      end
    end)
  end)

  describe("atr", function()
    it("pins true range and Wilder smoothing on hand bars", function()
      -- atr(3): bar 1 (10, 8, 9) TR = 2 (high - low on the first bar);
      -- bar 2 (11, 9, 10.5) TR = max(2, |11-9|, |9-9|) = 2;
      -- bar 3 (12, 10, 11) TR = max(2, 1.5, 0.5) = 2 -> first ATR = 6/3 = 2;
      -- bar 4 (15, 14, 14.5) gaps up: TR = max(1, |15-11|, |14-11|) = 4 -> (2*2 + 4)/3 = 8/3;
      -- bar 5 (14, 9, 10) TR = max(5, 0.5, 5.5) = 5.5 -> (8/3*2 + 5.5)/3 = 65/18.
      local a = ta.atr(3)
      assert.is_nil(a:update(10, 8, 9))
      assert.is_nil(a:update(11, 9, 10.5))
      assert.is_false(a:ready())
      assert.equals(2, a:update(12, 10, 11))
      assert.is_true(a:ready())
      assert_close(8 / 3, a:update(15, 14, 14.5), "atr bar 4")
      assert_close(65 / 18, a:update(14, 9, 10), "atr bar 5")
      assert_close(65 / 18, a.value, "atr.value")
    end)

    it("matches unrolled Wilder smoothing of from-scratch true ranges at every step", function()
      local tr = true_ranges(bars)
      for _, n in ipairs({ 1, 2, 14, 50 }) do
        local a = ta.atr(n)
        for t = 1, N do
          local v = a:update(bars.high[t], bars.low[t], bars.close[t])
          assert_close(ref_wilder(tr, 1, n, t), v, "atr(" .. n .. ") t=" .. t)
        end
      end
    end)
  end)

  describe("vwap", function()
    it("pins cumulative and rolling values, and nil while volume totals 0", function()
      local c = ta.vwap()
      assert.is_nil(c:update(9, 0))
      assert.is_false(c:ready())
      assert.equals(10, c:update(10, 1))
      assert.is_true(c:ready())
      assert.equals(43 / 4, c:update(11, 3)) -- (10*1 + 11*3) / 4
      assert.equals(43 / 4, c:update(50, 0))
      local r = ta.vwap(2)
      assert.is_nil(r:update(10, 1))
      assert.equals(43 / 4, r:update(11, 3))
      assert.equals(11, r:update(12, 0)) -- (33 + 0) / 3
      assert.is_nil(r:update(13, 0))
      assert.is_false(r:ready())
      assert.is_nil(r.value)
      assert.equals(14, r:update(14, 2))
      assert.is_true(r:ready())
    end)

    it("starts a new session on reset", function()
      local c = ta.vwap()
      c:update(100, 5)
      c:update(101, 5)
      c:reset()
      assert.is_nil(c.value)
      assert.is_false(c:ready())
      assert.equals(200, c:update(200, 1))
    end)

    it("matches from-scratch sums, cumulative and rolling, at every step", function()
      for _, n in ipairs({ false, 1, 3, 20, 100 }) do
        local v = ta.vwap(n or nil)
        for t = 1, N do
          local got = v:update(bars.close[t], bars.volume[t])
          assert_close(ref_vwap(bars, n or nil, t), got, "vwap(" .. tostring(n) .. ") t=" .. t)
        end
      end
    end)

    it("is nil over a window with no volume, then starts clean after heavy volume", function()
      local r = ta.vwap(3)
      local rnd = lcg(12345)
      for _ = 1, 100000 do
        r:update(1e5 * (1 + rnd()), 1e6 * rnd())
      end
      r:update(1, 0)
      r:update(2, 0)
      assert.is_number(r.value)
      assert.is_nil(r:update(3, 0))
      -- No rounding residue from the heavy stretch may leak into the next window.
      assert.equals(5, r:update(5, 1e-9))
    end)
  end)

  describe("reset", function()
    local makers = {
      sma = function() return ta.sma(10) end,
      ema = function() return ta.ema(10) end,
      rsi = function() return ta.rsi(10) end,
      macd = function() return ta.macd(3, 7, 4) end,
      bollinger = function() return ta.bollinger(10, 2) end,
      atr = function() return ta.atr(10) end,
      vwap = function() return ta.vwap() end,
      rolling_vwap = function() return ta.vwap(10) end,
    }
    local function feed(name, obj, t)
      if name == "atr" then
        return obj:update(bars.high[t], bars.low[t], bars.close[t])
      elseif name == "vwap" or name == "rolling_vwap" then
        return obj:update(bars.close[t], bars.volume[t])
      end
      return obj:update(bars.close[t])
    end
    for name, make in pairs(makers) do
      it("returns " .. name .. " to its fresh state", function()
        local used, fresh = make(), make()
        for t = 500, 900 do
          feed(name, used, t)
        end
        assert.is_true(used:ready())
        used:reset()
        assert.is_false(used:ready())
        for t = 1, 300 do
          local a1, a2, a3 = feed(name, used, t)
          local b1, b2, b3 = feed(name, fresh, t)
          assert.equals(b1, a1)
          assert.equals(b2, a2)
          assert.equals(b3, a3)
          assert.equals(fresh:ready(), used:ready())
        end
      end)
    end
  end)

  describe("argument errors", function()
    -- A thunk that calls f with the given arguments (nils included) and is not a tail call, so
    -- the error's "file:line:" must name this spec.
    local function call(f, ...)
      local n, args = select("#", ...), { ... }
      return function()
        local _ = f(unpack(args, 1, n))
      end
    end

    local function check_cases(cases)
      for i, c in ipairs(cases) do
        assert.equals(c[2], error_of(c[1]), "case " .. i)
      end
    end

    it("rejects bad periods and parameters with a message naming the indicator", function()
      local period = "period must be an integer >= 1, got "
      check_cases({
        { call(ta.sma, 0), "ta.sma: " .. period .. "0" },
        { call(ta.sma, -3), "ta.sma: " .. period .. "-3" },
        { call(ta.sma, 2.5), "ta.sma: " .. period .. "2.5" },
        { call(ta.sma), "ta.sma: " .. period .. "nil" },
        { call(ta.sma, "10"), "ta.sma: " .. period .. '"10"' },
        { call(ta.ema, 0 / 0), "ta.ema: " .. period .. "nan" },
        { call(ta.rsi, math.huge), "ta.rsi: " .. period .. "inf" },
        { call(ta.rsi, {}), "ta.rsi: " .. period .. "a table" },
        { call(ta.atr, 0), "ta.atr: " .. period .. "0" },
        { call(ta.vwap, 0), "ta.vwap: " .. period .. "0" },
        { call(ta.bollinger, 0), "ta.bollinger: " .. period .. "0" },
        { call(ta.bollinger, 20, 0), "ta.bollinger: k must be a finite number > 0, got 0" },
        { call(ta.bollinger, 20, "2"), 'ta.bollinger: k must be a finite number > 0, got "2"' },
        { call(ta.bollinger, 20, 0 / 0), "ta.bollinger: k must be a finite number > 0, got nan" },
        { call(ta.macd, 0), "ta.macd: fast " .. period .. "0" },
        { call(ta.macd, 12, 1.5), "ta.macd: slow " .. period .. "1.5" },
        { call(ta.macd, 12, 26, -1), "ta.macd: signal " .. period .. "-1" },
        { call(ta.macd, 26, 12),
          "ta.macd: fast period must be less than slow period, got fast=26 slow=12" },
        { call(ta.macd, 9, 9),
          "ta.macd: fast period must be less than slow period, got fast=9 slow=9" },
      })
    end)

    it("rejects non-number, NaN and infinite inputs with a message naming the indicator", function()
      local s, e, r, m, b = ta.sma(2), ta.ema(2), ta.rsi(2), ta.macd(), ta.bollinger(2)
      local a, v = ta.atr(2), ta.vwap()
      local finite = " must be a finite number, got "
      check_cases({
        { call(s.update, s, 0 / 0), "ta.sma:update: value" .. finite .. "nan" },
        { call(s.update, s, "1"), "ta.sma:update: value" .. finite .. '"1"' },
        { call(s.update, s), "ta.sma:update: value" .. finite .. "nil" },
        { call(e.update, e, -math.huge), "ta.ema:update: value" .. finite .. "-inf" },
        { call(r.update, r, 0 / 0), "ta.rsi:update: price" .. finite .. "nan" },
        { call(m.update, m, true), "ta.macd:update: value" .. finite .. "true" },
        { call(b.update, b, 0 / 0), "ta.bollinger:update: value" .. finite .. "nan" },
        { call(a.update, a, 2, 1), "ta.atr:update: close" .. finite .. "nil" },
        { call(a.update, a, 0 / 0, 1, 1), "ta.atr:update: high" .. finite .. "nan" },
        { call(a.update, a, 1, 2, 1.5), "ta.atr:update: high must be >= low, got high=1 low=2" },
        { call(v.update, v, 10), "ta.vwap:update: volume" .. finite .. "nil" },
        { call(v.update, v, 0 / 0, 1), "ta.vwap:update: price" .. finite .. "nan" },
        { call(v.update, v, 10, -1), "ta.vwap:update: volume must be >= 0, got -1" },
      })
    end)

    it("leaves the state untouched when an update is rejected", function()
      local s, r, a, v = ta.sma(2), ta.rsi(1), ta.atr(1), ta.vwap(2)
      s:update(1)
      pcall(s.update, s, 0 / 0)
      assert.equals(2, s:update(3))
      r:update(10)
      pcall(r.update, r, "x")
      assert.equals(100, r:update(11))
      a:update(10, 8, 9)
      pcall(a.update, a, 100, 0, 0 / 0)
      -- TR = max(0.5, |11 - 9|, |10.5 - 9|) = 2 only if the previous close is still 9.
      assert.equals(2, a:update(11, 10.5, 10))
      v:update(10, 1)
      pcall(v.update, v, 1000, -5)
      assert.equals(11, v:update(12, 1))
    end)
  end)

  describe("objects", function()
    it("share one metatable per indicator and hide it", function()
      local s1, s2 = ta.sma(3), ta.sma(4)
      assert.equals(s1.update, s2.update)
      assert.are_not.equals(s1.update, ta.ema(3).update)
      assert.equals("silvertine.ta.sma", getmetatable(s1))
      assert.equals("silvertine.ta.bollinger", getmetatable(ta.bollinger(3)))
    end)

    it("do not allocate in update, warm-up included", function()
      local objs = {
        ta.sma(20), ta.ema(20), ta.rsi(14), ta.macd(), ta.bollinger(20), ta.atr(14),
        ta.vwap(), ta.vwap(20),
      }
      local function run(from, to)
        local s, e, r, m, b = objs[1], objs[2], objs[3], objs[4], objs[5]
        local a, v, w = objs[6], objs[7], objs[8]
        for t = from, to do
          local c = bars.close[t]
          s:update(c)
          e:update(c)
          r:update(c)
          m:update(c)
          b:update(c)
          a:update(bars.high[t], bars.low[t], c)
          v:update(c, bars.volume[t])
          w:update(c, bars.volume[t])
        end
      end
      -- The interpreter only, with earlier traces flushed (compiling and leaving traces allocate on
      -- their own), and the GC stopped: any table, closure or string made per update would show in
      -- the heap size. Globals are looked up outside the measured stretch, as busted's spec
      -- environment may allocate on a global lookup.
      local gc, jit_off, jit_on = collectgarbage, jit.off, jit.on
      jit.flush()
      jit_off()
      gc("collect")
      gc("stop")
      local before = gc("count")
      run(1, N)
      local after = gc("count")
      gc("restart")
      jit_on()
      assert.equals(before, after)
    end)
  end)

  describe("sandbox", function()
    it("loads and runs with only plain Lua and math/string/table, defining no globals", function()
      local f = assert(io.open(assert(package.searchpath("silvertine.ta", package.path)), "r"))
      local src = f:read("*a")
      f:close()
      local allowed = {
        math = math, string = string, table = table, setmetatable = setmetatable,
        getmetatable = getmetatable, type = type, error = error, tostring = tostring,
        tonumber = tonumber, pairs = pairs, ipairs = ipairs, select = select, pcall = pcall,
        assert = assert, next = next, rawget = rawget, rawset = rawset, unpack = unpack,
      }
      local touched = {}
      local env = setmetatable({}, {
        __index = function(_, k)
          if allowed[k] == nil then
            touched[#touched + 1] = "read " .. tostring(k)
          end
          return allowed[k]
        end,
        __newindex = function(_, k)
          touched[#touched + 1] = "wrote " .. tostring(k)
        end,
      })
      local chunk = assert(loadstring(src, "=ta.lua"))
      setfenv(chunk, env)
      local sandboxed = chunk()
      local objs = {
        sandboxed.sma(3), sandboxed.ema(3), sandboxed.rsi(3), sandboxed.macd(2, 3, 2),
        sandboxed.bollinger(3), sandboxed.atr(3), sandboxed.vwap(), sandboxed.vwap(3),
      }
      for t = 1, 50 do
        for _, o in ipairs(objs) do
          o:update(bars.close[t], bars.close[t], bars.close[t])
        end
      end
      for _, o in ipairs(objs) do
        assert.is_true(o:ready())
        o:reset()
        assert.is_false(o:ready())
      end
      pcall(sandboxed.sma, 0)
      pcall(objs[1].update, objs[1], 0 / 0)
      assert.same({}, touched)
      local s = sandboxed.sma(2)
      s:update(1)
      assert.equals(2, s:update(3))
    end)
  end)

  describe("drift", function()
    -- A million updates around 1e5 with small noise, then the last window from scratch.
    local function noisy(seed, level, noise)
      local rnd = lcg(seed)
      return function()
        return level + noise * (rnd() - 0.5)
      end
    end

    local function window_of(ring_vals, count, n)
      local w = {}
      for i = 1, n do
        w[i] = ring_vals[(count - n + i - 1) % n + 1]
      end
      return w
    end

    it("keeps sma and bollinger within 1e-9 of the exact window after 1,000,000 updates", function()
      local n = 20
      local s, b = ta.sma(n), ta.bollinger(n, 2)
      local next_value = noisy(7, 1e5, 1)
      local last = {}
      local total = 1000000
      for t = 1, total do
        local x = next_value()
        last[(t - 1) % n + 1] = x
        s:update(x)
        b:update(x)
      end
      local w = window_of(last, total, n)
      local rm, ru, rl, rsd = ref_bollinger(w, n, 2, n)
      assert_close(rm, s.value, "sma after 1e6")
      assert_close(rm, b.middle, "middle after 1e6")
      assert_close(ru, b.upper, "upper after 1e6")
      assert_close(rl, b.lower, "lower after 1e6")
      assert_close(rsd, b.stddev, "stddev after 1e6")
    end)

    it("keeps the window sum relatively exact when the level falls from 1e8 to 1e-2", function()
      -- Uncompensated running sums would carry ~1e-4 of residue into a window summing to 0.2.
      local n = 20
      local s, b = ta.sma(n), ta.bollinger(n, 2)
      local high, low = noisy(17, 1e8, 10), noisy(19, 1e-2, 1e-3)
      local last = {}
      local total = 1000000
      for t = 1, total do
        local x = t <= total - n and high() or low()
        last[(t - 1) % n + 1] = x
        s:update(x)
        b:update(x)
      end
      local w = window_of(last, total, n)
      local rm, ru, rl, rsd = ref_bollinger(w, n, 2, n)
      assert_close(rm, s.value, "sma after the fall")
      assert_close(rm, b.middle, "middle after the fall")
      assert_close(ru, b.upper, "upper after the fall")
      assert_close(rl, b.lower, "lower after the fall")
      assert_close(rsd, b.stddev, "stddev after the fall")
    end)

    it("keeps the stddev relatively exact when a volatile million turns calm", function()
      -- Rounding carried over from the volatile spell would swamp a calm window's variance.
      local n = 20
      local s, b = ta.sma(n), ta.bollinger(n, 2)
      local wild, calm = noisy(11, 1e5, 2000), noisy(13, 1e5, 1e-3)
      local last = {}
      local total = 1000000
      for t = 1, total do
        local x = t <= total - 3 * n and wild() or calm()
        last[(t - 1) % n + 1] = x
        s:update(x)
        b:update(x)
      end
      local w = window_of(last, total, n)
      local rm, ru, rl, rsd = ref_bollinger(w, n, 2, n)
      assert_close(rm, s.value, "sma after the volatile spell")
      assert_close(rm, b.middle, "middle after the volatile spell")
      assert_close(ru, b.upper, "upper after the volatile spell")
      assert_close(rl, b.lower, "lower after the volatile spell")
      assert_close(rsd, b.stddev, "stddev after the volatile spell")
      -- Every step of a calm stretch, not only the last one.
      for t = 1, 5 * n + 3 do
        local x = calm()
        last[(total + t - 1) % n + 1] = x
        b:update(x)
        local _, _, _, sd = ref_bollinger(window_of(last, total + t, n), n, 2, n)
        assert_close(sd, b.stddev, "calm stddev step " .. t)
      end
    end)
  end)
end)
