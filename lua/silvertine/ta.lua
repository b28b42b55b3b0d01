-- silvertine.ta: incremental technical indicators for strategies (reached as ctx.ta).
--
-- Each constructor returns an object whose :update(...) takes one new observation and returns the
-- current value(s), or nil while the indicator is still warming up. Updates are O(1) and allocate
-- nothing: every object preallocates its ring buffer in the constructor and shares one metatable of
-- methods with the other objects of its kind, and update returns plain numbers (no tables). Each
-- constructor also names every field of its object up front, the nil-able ones as false until
-- :reset() clears them, so the table already has a slot for every key and update never grows it.
-- Bollinger is the one exception to strict O(1): it recomputes its variance exactly from the ring
-- buffer once every n updates (amortised O(1)) and whenever its rounding bound says the incremental
-- value can no longer be trusted; that is O(n) for the step, still without allocating.
--
-- The module runs inside the strategy sandbox: it uses only plain Lua 5.1 and math/string, captured
-- as locals when the module loads, and it defines no globals.
--
-- Bad arguments raise an error that names the indicator and blames the caller's line, e.g.
--   ta.sma: period must be an integer >= 1, got 0
--   ta.rsi:update: price must be a finite number, got nan
-- Validation happens before any state changes, so a rejected update leaves the object as it was.
-- docs/indicators.md has each indicator's warm-up, seeding convention and an example.

local setmetatable = setmetatable
local type = type
local error = error
local tostring = tostring
local abs = math.abs
local floor = math.floor
local sqrt = math.sqrt
local huge = math.huge
local format = string.format

local ta = {}

-- Argument checks. They run inside a constructor or update method, so level 3 blames the line that
-- called ta.x(...) or obj:update(...). They must not be tail-called or that level would be wrong.

local function show(v)
  if type(v) == "string" then
    return format("%q", v)
  end
  if type(v) == "number" or v == nil or type(v) == "boolean" then
    return tostring(v)
  end
  return "a " .. type(v)
end

local function is_finite(x)
  return type(x) == "number" and x == x and x ~= huge and x ~= -huge
end

local function check_period(who, what, n)
  if type(n) ~= "number" or n ~= n or n < 1 or n == huge or n ~= floor(n) then
    error(format("%s: %s must be an integer >= 1, got %s", who, what, show(n)), 3)
  end
end

local function check_value(who, what, x)
  if not is_finite(x) then
    error(format("%s: %s must be a finite number, got %s", who, what, show(x)), 3)
  end
end

local function new_ring(n)
  local buf = {}
  for i = 1, n do
    buf[i] = 0
  end
  return buf
end

-- Neumaier's compensated summation: returns the new (sum, compensation) pair; the running total is
-- sum + comp. A sliding window adds the new value and adds minus the old one, and the error stays a
-- few ulps of the current window sum however many values have gone through it.
local function neumaier(sum, comp, x)
  local t = sum + x
  if abs(sum) >= abs(x) then
    comp = comp + ((sum - t) + x)
  else
    comp = comp + ((x - t) + sum)
  end
  return t, comp
end

-- Shared by sma, bollinger and rolling vwap: slot index after pos in a ring of n.
local function advance(pos, n)
  if pos == n then
    return 1
  end
  return pos + 1
end

---------------------------------------------------------------------------------------------------
-- sma(n): simple moving average of the last n values.
-- Drift control: Neumaier-compensated running sum (no periodic recompute). When the last n inputs
-- are all equal the value is that input exactly, so a flat series gives a flat, exact average.

local sma_methods = {}
local sma_mt = { __index = sma_methods, __metatable = "silvertine.ta.sma" }

function ta.sma(n)
  check_period("ta.sma", "period", n)
  local self = setmetatable({
    n = n, buf = new_ring(n), pos = 1, count = 0, sum = 0, comp = 0, last = false, run = 0,
    value = false,
  }, sma_mt)
  self:reset()
  return self
end

function sma_methods:reset()
  local buf = self.buf
  for i = 1, self.n do
    buf[i] = 0
  end
  self.pos = 1
  self.count = 0
  self.sum = 0
  self.comp = 0
  self.last = nil
  self.run = 0
  self.value = nil
end

function sma_methods:update(x)
  check_value("ta.sma:update", "value", x)
  local n, pos = self.n, self.pos
  local buf = self.buf
  local sum, comp = neumaier(self.sum, self.comp, x)
  if self.count == n then
    sum, comp = neumaier(sum, comp, -buf[pos])
  else
    self.count = self.count + 1
  end
  buf[pos] = x
  self.pos = advance(pos, n)
  self.sum, self.comp = sum, comp
  if x == self.last then
    self.run = self.run + 1
  else
    self.last = x
    self.run = 1
  end
  if self.count < n then
    return nil
  end
  local v
  if self.run >= n then
    v = x
  else
    v = (sum + comp) / n
  end
  self.value = v
  return v
end

function sma_methods:ready()
  return self.value ~= nil
end

---------------------------------------------------------------------------------------------------
-- ema(n): exponential moving average, alpha = 2 / (n + 1), seeded with the SMA of the first n
-- values (the TA-Lib convention); nil before n values. Then ema = ema + alpha * (x - ema).

local ema_methods = {}
local ema_mt = { __index = ema_methods, __metatable = "silvertine.ta.ema" }

local function ema_state(n)
  return { n = n, alpha = 2 / (n + 1), count = 0, seed_sum = 0, value = false }
end

local function ema_init(self)
  self.count = 0
  self.seed_sum = 0
  self.value = nil
end

-- One EMA step without argument checks; macd drives its three EMAs through this.
local function ema_step(self, x)
  local v = self.value
  if v ~= nil then
    v = v + self.alpha * (x - v)
  else
    local count = self.count + 1
    self.count = count
    self.seed_sum = self.seed_sum + x
    if count < self.n then
      return nil
    end
    v = self.seed_sum / self.n
  end
  self.value = v
  return v
end

function ta.ema(n)
  check_period("ta.ema", "period", n)
  local self = setmetatable(ema_state(n), ema_mt)
  ema_init(self)
  return self
end

function ema_methods:reset()
  ema_init(self)
end

function ema_methods:update(x)
  check_value("ta.ema:update", "value", x)
  return ema_step(self, x)
end

function ema_methods:ready()
  return self.value ~= nil
end

---------------------------------------------------------------------------------------------------
-- rsi(n): Wilder's relative strength index. The first average gain and loss are the simple means of
-- the first n price changes (so n + 1 prices); after that avg = (avg * (n - 1) + change) / n.
-- Value = 100 * avg_gain / (avg_gain + avg_loss): 100 when avg_loss is 0, 50 when both are 0.

local rsi_methods = {}
local rsi_mt = { __index = rsi_methods, __metatable = "silvertine.ta.rsi" }

function ta.rsi(n)
  check_period("ta.rsi", "period", n)
  local self = setmetatable({
    n = n, prev = false, changes = 0, avg_gain = 0, avg_loss = 0, value = false,
  }, rsi_mt)
  self:reset()
  return self
end

function rsi_methods:reset()
  self.prev = nil
  self.changes = 0
  self.avg_gain = 0
  self.avg_loss = 0
  self.value = nil
end

function rsi_methods:update(price)
  check_value("ta.rsi:update", "price", price)
  local prev = self.prev
  self.prev = price
  if prev == nil then
    return nil
  end
  local change = price - prev
  local gain, loss = 0, 0
  if change > 0 then
    gain = change
  elseif change < 0 then
    loss = -change
  end
  local n = self.n
  local changes = self.changes
  local g, l
  if changes >= n then
    g = (self.avg_gain * (n - 1) + gain) / n
    l = (self.avg_loss * (n - 1) + loss) / n
  else
    changes = changes + 1
    self.changes = changes
    -- Until the seed is complete avg_gain/avg_loss hold plain sums.
    g = self.avg_gain + gain
    l = self.avg_loss + loss
    if changes < n then
      self.avg_gain, self.avg_loss = g, l
      return nil
    end
    g, l = g / n, l / n
  end
  self.avg_gain, self.avg_loss = g, l
  local v
  if l == 0 then
    if g == 0 then
      v = 50
    else
      v = 100
    end
  else
    v = 100 * g / (g + l)
  end
  self.value = v
  return v
end

function rsi_methods:ready()
  return self.value ~= nil
end

---------------------------------------------------------------------------------------------------
-- macd(fast, slow, signal), defaults 12, 26, 9. Fast and slow are EMAs of the input, each seeded
-- independently with the SMA of its own first values; macd = ema_fast - ema_slow, defined from the
-- slow-th update on. The signal line is an EMA(signal) of the macd values, seeded with the SMA of
-- its first `signal` macd values; hist = macd - signal.
-- update returns nil until the slow-th update, then macd, nil, nil until signal is ready (update
-- slow + signal - 1), then macd, signal, hist. ready() is true once all three are defined.

local macd_methods = {}
local macd_mt = { __index = macd_methods, __metatable = "silvertine.ta.macd" }

function ta.macd(fast, slow, signal)
  if fast == nil then
    fast = 12
  end
  if slow == nil then
    slow = 26
  end
  if signal == nil then
    signal = 9
  end
  check_period("ta.macd", "fast period", fast)
  check_period("ta.macd", "slow period", slow)
  check_period("ta.macd", "signal period", signal)
  if fast >= slow then
    error(format("ta.macd: fast period must be less than slow period, got fast=%s slow=%s",
      show(fast), show(slow)), 2)
  end
  local self = setmetatable({
    fast_ema = ema_state(fast), slow_ema = ema_state(slow), signal_ema = ema_state(signal),
    macd = false, signal = false, hist = false,
  }, macd_mt)
  self:reset()
  return self
end

function macd_methods:reset()
  ema_init(self.fast_ema)
  ema_init(self.slow_ema)
  ema_init(self.signal_ema)
  self.macd, self.signal, self.hist = nil, nil, nil
end

function macd_methods:update(x)
  check_value("ta.macd:update", "value", x)
  local f = ema_step(self.fast_ema, x)
  local s = ema_step(self.slow_ema, x)
  if s == nil then
    return nil
  end
  local m = f - s
  self.macd = m
  local sig = ema_step(self.signal_ema, m)
  if sig == nil then
    return m, nil, nil
  end
  local h = m - sig
  self.signal, self.hist = sig, h
  return m, sig, h
end

function macd_methods:ready()
  return self.signal ~= nil
end

---------------------------------------------------------------------------------------------------
-- bollinger(n, k): middle = SMA(n) of the window, upper/lower = middle +- k * population standard
-- deviation of the window; k defaults to 2.
-- Variance: windowed Welford (m2, the sum of squared deviations, is updated for the value that
-- enters and the one that leaves) done on y = x - anchor, where the anchor is re-set to the window
-- mean at each exact recompute; working on y keeps rounding relative to the window's spread rather
-- than the price level. The exact recompute (Neumaier sum of y, then a corrected two-pass m2 over
-- the ring buffer) runs every n updates, at once if the incremental m2 goes negative, and at once
-- if a running bound on the rounding error the increments may have added since the last recompute
-- exceeds 1e-12 of m2. That last trigger covers a variance that collapses (a volatile window
-- turning calm), where the increments cancel and their rounding would otherwise dominate.
-- So stddev stays within about 1e-12 relative of the exact window value, at the cost of an O(n)
-- recompute on such steps. A window of n equal values has middle exactly that value, stddev 0.

local EPS = 2 ^ -52
local BB_MAX_REL_ERR = 1e-12

local bb_methods = {}
local bb_mt = { __index = bb_methods, __metatable = "silvertine.ta.bollinger" }

function ta.bollinger(n, k)
  check_period("ta.bollinger", "period", n)
  if k == nil then
    k = 2
  end
  if not is_finite(k) or k <= 0 then
    error(format("ta.bollinger: k must be a finite number > 0, got %s", show(k)), 2)
  end
  local self = setmetatable({
    n = n, k = k, buf = new_ring(n), pos = 1, count = 0, anchor = false, sum = 0, comp = 0,
    m2 = 0, err = 0, last = false, run = 0,
    middle = false, upper = false, lower = false, stddev = false,
  }, bb_mt)
  self:reset()
  return self
end

function bb_methods:reset()
  local buf = self.buf
  for i = 1, self.n do
    buf[i] = 0
  end
  self.pos = 1
  self.count = 0
  self.anchor = nil
  self.sum, self.comp = 0, 0 -- of y = x - anchor over the window
  self.m2 = 0
  self.err = 0 -- bound on rounding added to m2 since the last exact recompute
  self.last = nil
  self.run = 0
  self.middle, self.upper, self.lower, self.stddev = nil, nil, nil, nil
end

-- Re-anchor at the window mean and recompute sum and m2 exactly from the buffer.
local function bb_recompute(self)
  local buf, count = self.buf, self.count
  local anchor = self.anchor + (self.sum + self.comp) / count
  local sum, comp = 0, 0
  for i = 1, count do
    sum, comp = neumaier(sum, comp, buf[i] - anchor)
  end
  local mean = (sum + comp) / count
  local s, s2 = 0, 0
  for i = 1, count do
    local d = (buf[i] - anchor) - mean
    s = s + d
    s2 = s2 + d * d
  end
  -- Corrected two-pass: the s * s term removes what rounding left in mean.
  local m2 = s2 - s * s / count
  if m2 < 0 then
    m2 = 0
  end
  self.anchor, self.sum, self.comp, self.m2, self.err = anchor, sum, comp, m2, 0
end

function bb_methods:update(x)
  check_value("ta.bollinger:update", "value", x)
  local n, pos, buf = self.n, self.pos, self.buf
  local anchor = self.anchor
  if anchor == nil then
    anchor = x
    self.anchor = x
  end
  local count = self.count
  local y = x - anchor
  local sum, comp = self.sum, self.comp
  local m2, err = self.m2, self.err
  local old_mean = 0
  if count > 0 then
    old_mean = (sum + comp) / count
  end
  sum, comp = neumaier(sum, comp, y)
  local mean
  if count == n then
    local old_y = buf[pos] - anchor
    sum, comp = neumaier(sum, comp, -old_y)
    mean = (sum + comp) / n
    local d, a, b = y - old_y, y - mean, old_y - old_mean
    m2 = m2 + d * (a + b)
    err = err + EPS * (abs(m2) + 4 * abs(d) * (abs(a) + abs(b) + abs(mean) + abs(old_mean)))
  else
    count = count + 1
    self.count = count
    mean = (sum + comp) / count
    local d, a = y - old_mean, y - mean
    m2 = m2 + d * a
    err = err + EPS * (abs(m2) + 4 * abs(d) * (abs(a) + abs(mean) + abs(old_mean)))
  end
  buf[pos] = x
  pos = advance(pos, n)
  self.pos = pos
  self.sum, self.comp, self.m2, self.err = sum, comp, m2, err
  if x == self.last then
    self.run = self.run + 1
  else
    self.last = x
    self.run = 1
  end
  if self.run >= count then
    -- Every value in the window equals x.
    self.m2, self.err = 0, 0
  elseif m2 < 0 or err > BB_MAX_REL_ERR * m2 or (pos == 1 and count == n) then
    bb_recompute(self)
  end
  if count < n then
    return nil
  end
  local middle
  if self.run >= n then
    middle = x
  else
    middle = self.anchor + (self.sum + self.comp) / n
  end
  local sd = sqrt(self.m2 / n)
  local width = self.k * sd
  local upper, lower = middle + width, middle - width
  self.middle, self.upper, self.lower, self.stddev = middle, upper, lower, sd
  return middle, upper, lower
end

function bb_methods:ready()
  return self.middle ~= nil
end

---------------------------------------------------------------------------------------------------
-- atr(n): average true range; update(high, low, close).
-- True range = max(high - low, |high - prev_close|, |low - prev_close|), and high - low on the
-- first bar. The first ATR is the mean of the first n true ranges (ready on bar n), then Wilder's
-- smoothing: atr = (atr * (n - 1) + tr) / n.

local atr_methods = {}
local atr_mt = { __index = atr_methods, __metatable = "silvertine.ta.atr" }

function ta.atr(n)
  check_period("ta.atr", "period", n)
  local self = setmetatable({
    n = n, prev_close = false, count = 0, tr_sum = 0, value = false,
  }, atr_mt)
  self:reset()
  return self
end

function atr_methods:reset()
  self.prev_close = nil
  self.count = 0
  self.tr_sum = 0
  self.value = nil
end

function atr_methods:update(high, low, close)
  check_value("ta.atr:update", "high", high)
  check_value("ta.atr:update", "low", low)
  check_value("ta.atr:update", "close", close)
  if high < low then
    error(format("ta.atr:update: high must be >= low, got high=%s low=%s",
      show(high), show(low)), 2)
  end
  local tr = high - low
  local pc = self.prev_close
  if pc ~= nil then
    local a, b = abs(high - pc), abs(low - pc)
    if a > tr then
      tr = a
    end
    if b > tr then
      tr = b
    end
  end
  self.prev_close = close
  local n = self.n
  local v = self.value
  if v ~= nil then
    v = (v * (n - 1) + tr) / n
  else
    local count = self.count + 1
    self.count = count
    self.tr_sum = self.tr_sum + tr
    if count < n then
      return nil
    end
    v = self.tr_sum / n
  end
  self.value = v
  return v
end

function atr_methods:ready()
  return self.value ~= nil
end

---------------------------------------------------------------------------------------------------
-- vwap(n): volume-weighted average price; update(price, volume).
-- n omitted: cumulative since creation or the last :reset() (call it at each session start).
-- n given: rolling over the last n updates, nil until n updates have been seen.
-- Either way the value is nil while the volume in scope totals 0. Rolling sums use Neumaier
-- compensation; an integer count of non-zero volumes decides "total is 0" exactly.

local vwap_methods = {}
local vwap_mt = { __index = vwap_methods, __metatable = "silvertine.ta.vwap" }

function ta.vwap(n)
  if n ~= nil then
    check_period("ta.vwap", "period", n)
  end
  local self = setmetatable({
    n = n, pos = 1, count = 0, nonzero = 0, pv = 0, pv_comp = 0, vol = 0, vol_comp = 0,
    value = false,
  }, vwap_mt)
  if n ~= nil then
    self.prices = new_ring(n)
    self.volumes = new_ring(n)
  end
  self:reset()
  return self
end

function vwap_methods:reset()
  local n = self.n
  if n ~= nil then
    local prices, volumes = self.prices, self.volumes
    for i = 1, n do
      prices[i] = 0
      volumes[i] = 0
    end
  end
  self.pos = 1
  self.count = 0
  self.nonzero = 0
  self.pv, self.pv_comp = 0, 0
  self.vol, self.vol_comp = 0, 0
  self.value = nil
end

function vwap_methods:update(price, volume)
  check_value("ta.vwap:update", "price", price)
  check_value("ta.vwap:update", "volume", volume)
  if volume < 0 then
    error(format("ta.vwap:update: volume must be >= 0, got %s", show(volume)), 2)
  end
  local pv, pv_comp = neumaier(self.pv, self.pv_comp, price * volume)
  local vol, vol_comp = neumaier(self.vol, self.vol_comp, volume)
  local nonzero = self.nonzero
  if volume ~= 0 then
    nonzero = nonzero + 1
  end
  local n = self.n
  if n ~= nil then
    local pos = self.pos
    local prices, volumes = self.prices, self.volumes
    if self.count == n then
      local old_v = volumes[pos]
      if old_v ~= 0 then
        pv, pv_comp = neumaier(pv, pv_comp, -(prices[pos] * old_v))
        vol, vol_comp = neumaier(vol, vol_comp, -old_v)
        nonzero = nonzero - 1
      end
    else
      self.count = self.count + 1
    end
    prices[pos], volumes[pos] = price, volume
    self.pos = advance(pos, n)
  end
  if nonzero == 0 then
    -- No volume in scope: restart the sums exactly rather than keep rounding residue.
    pv, pv_comp, vol, vol_comp = 0, 0, 0, 0
  end
  self.pv, self.pv_comp, self.vol, self.vol_comp = pv, pv_comp, vol, vol_comp
  self.nonzero = nonzero
  if nonzero == 0 or (n ~= nil and self.count < n) then
    self.value = nil
    return nil
  end
  local v = (pv + pv_comp) / (vol + vol_comp)
  self.value = v
  return v
end

function vwap_methods:ready()
  return self.value ~= nil
end

-- Every indicator metatable by the name in its __metatable field: a live reload copies ctx.state
-- into the new script state and re-attaches these, so indicators carry over warm.
ta._metatables = {
  [sma_mt.__metatable] = sma_mt, [ema_mt.__metatable] = ema_mt, [rsi_mt.__metatable] = rsi_mt,
  [macd_mt.__metatable] = macd_mt, [bb_mt.__metatable] = bb_mt, [atr_mt.__metatable] = atr_mt,
  [vwap_mt.__metatable] = vwap_mt,
}

return ta
