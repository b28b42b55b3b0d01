-- silvertine.testing: drive a strategy through the real core from a busted spec.
--
--   local testing = require("silvertine.testing")
--   local t = testing.new{ strategy = "strategies/sma_cross.lua", symbols = { "BTCUSDT" },
--                          params = { fast = 3, slow = 5 } }
--   t:bars("BTCUSDT", { 10, 11, 12, 11, 9 })          -- closes, one bar a minute
--   assert.are.equal(1, #t:signals())
--
-- libsilvertine.so is loaded through LuaJIT's FFI (SV_LIB names it; otherwise build/ beside
-- the source tree is searched). The strategy runs in its own sandboxed Lua state inside the
-- engine exactly as in a backtest; this module only builds events and reads what the engine
-- recorded. Run specs with `busted --lua=luajit`.
local ffi = require("ffi")
local abi = require("silvertine.abi")

local M = {}

local function here()
  local src = debug.getinfo(1, "S").source
  return (src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/lua/silvertine/testing%.lua$")) or "."
end

local function load_lib()
  if M.lib then return M.lib end
  local candidates = { os.getenv("SV_LIB"), here() .. "/build/libsilvertine.so", "build/libsilvertine.so" }
  local errs = {}
  for _, path in ipairs(candidates) do
    if path and path ~= "" then
      local ok, lib = pcall(ffi.load, path)
      if ok then
        ffi.cdef("const char *sv_abi_cdef(void);")
        abi.declare(ffi.string(lib.sv_abi_cdef()))
        M.lib = lib
        M.path = path
        return lib
      end
      errs[#errs + 1] = tostring(lib)
    end
  end
  error("silvertine.testing: cannot load libsilvertine.so (build it with `make`, or set SV_LIB): "
    .. table.concat(errs, "; "), 2)
end

M.SCALE = 1e8
local KIND = { trade = 1, quote = 2, bar = 3, depth = 4, signal = 5, order = 6, fill = 7, timer = 8, alert = 9 }
M.KIND = KIND
local SIDE_NAME = { [1] = "buy", [-1] = "sell" }
local TYPE_NAME = { [0] = "market", "limit", "stop_market", "stop_limit" }
local TIF_NAME = { [0] = "gtc", "ioc", "fok" }
local DEFAULT_START_MS = 1704067200000 -- 2024-01-01T00:00:00Z

local function fx(v, what)
  if type(v) ~= "number" or v ~= v then error("silvertine.testing: " .. what .. " must be a number", 3) end
  return ffi.new("int64_t", v * 1e8 + (v >= 0 and 0.5 or -0.5))
end
local function num(v) return tonumber(v) / 1e8 end
local function ns(ms) return ffi.new("int64_t", ms) * 1000000 end

-- A Lua params table as a sv_param_t array (sorted keys); returns the array, its length and
-- the key list (keep all three alive while the engine reads them).
local function c_params(params, level)
  local names = {}
  for k in pairs(params or {}) do names[#names + 1] = k end
  table.sort(names)
  local arr = ffi.new("sv_param_t[?]", #names + 1)
  for i, k in ipairs(names) do
    local v, p = params[k], arr[i - 1]
    p.key = k
    if type(v) == "number" then p.type = 0; p.number = v
    elseif type(v) == "string" then p.type = 1; p.string = v
    elseif type(v) == "boolean" then p.type = 2; p.boolean = v and 1 or 0
    else error("silvertine.testing: param " .. k .. " must be a number, string or boolean", level + 1) end
  end
  return arr, #names, names
end

local T = {}
T.__index = T

-- new{ strategy = path, name = ?, symbols = {...}, params = {...}, start = ms, record = capacity,
--      log = "off"|"error"|"warn"|"info"|"debug" (engine log to stderr; default off),
--      instruments = { SYM = { base, quote, tick = "0.01", lot = "0.001", min_notional = "5" } }
--        (default: base/quote split off a known quote suffix, tick and lot 1e-8, no minimum),
--      balances = { USDT = "10000" } (default: 1,000,000 of each quote asset),
--      sim = { latency_ms, maker_fee_bps, taker_fee_bps, slippage_bps, participation,
--              queue_position } (default: no latency, no fees, no slippage, participation 1),
--      rules = { { name = "r", file = "rules/x.lua", params = {...} } } (custom risk rules),
--      protect = { stop_loss_pct, trailing_pct, take_profit_pct = {...}, take_profit_fraction = {...} }
--        (the strategy config's `protect:` section: protective orders for every position it opens),
--      cpu_budget_ms = ms, memory_limit_mb = MiB (default: the engine's, 5 ms and 64 MiB; < 0: none),
--      others = { { name = "b", strategy = path, symbols = {...}, params = {...}, cpu_budget_ms,
--                   memory_limit_mb }, ... } (more strategies in the same engine, loaded after
--        the first and started with it; t:enabled("b"), t:error("b"), t:position(sym, "b"),
--        t:id("b") name one; signals, orders and fills carry `strategy`, the id) }
function M.new(o)
  local lib = load_lib()
  assert(type(o) == "table" and o.strategy, "silvertine.testing.new: strategy (a file path) is required")
  local eng = lib.sv_engine_new_sim()
  assert(eng ~= nil, "silvertine.testing: engine creation failed")
  eng = ffi.gc(eng, lib.sv_engine_free)
  local LEVELS = { debug = 0, info = 1, warn = 2, error = 3, off = 4 }
  lib.sv_engine_set_log_level(eng, LEVELS[o.log or "off"] or 4)
  local self = setmetatable({ lib = lib, eng = eng, now_ms = o.start or DEFAULT_START_MS,
    keep = {} }, T)
  local mask = 0
  for _, k in ipairs({ KIND.signal, KIND.order, KIND.fill, KIND.alert, KIND.timer }) do
    mask = bit.bor(mask, bit.lshift(1, k))
  end
  assert(lib.sv_engine_record(eng, mask, o.record or 100000) == 0)
  local syms = o.symbols or {}
  local csyms = ffi.new("const char *[?]", #syms + 1)
  for i, s in ipairs(syms) do csyms[i - 1] = s end
  local cparams, _, names = c_params(o.params, 2)
  self.keep = { syms, csyms, cparams, names, o.params }
  -- the trading set-up: instrument rules, balances, then the simulated venue
  local quotes = {}
  for _, sym in ipairs(syms) do
    local r = (o.instruments or {})[sym] or {}
    local base, quote = r.base, r.quote
    if not (base and quote) then
      for _, q in ipairs({ "USDT", "USDC", "BUSD", "USD", "BTC", "ETH", "EUR" }) do
        if #sym > #q and sym:sub(-#q) == q then base, quote = sym:sub(1, -#q - 1), q; break end
      end
      base, quote = base or sym, quote or "USD"
    end
    quotes[quote] = true
    assert(lib.sv_engine_add_instrument(eng, sym, base, quote, r.tick or "0.00000001",
      r.lot or "0.00000001", r.min_notional or "0") == 0, "bad instrument rules for " .. sym)
  end
  local balances = o.balances
  if not balances then
    balances = {}
    for q in pairs(quotes) do balances[q] = "1000000" end
  end
  for asset, amount in pairs(balances) do
    assert(lib.sv_engine_set_balance(eng, asset, tostring(amount)) == 0, "bad balance for " .. asset)
  end
  local sc = ffi.new("sv_sim_config_t")
  local so = o.sim or {}
  sc.latency_ms, sc.maker_fee_bps, sc.taker_fee_bps = so.latency_ms or 0, so.maker_fee_bps or 0, so.taker_fee_bps or 0
  sc.slippage_bps, sc.participation = so.slippage_bps or 0, so.participation or 1
  sc.queue_position = so.queue_position and 1 or 0
  assert(lib.sv_engine_use_sim(eng, sc) == 0, "bad sim options")
  for _, rule in ipairs(o.rules or {}) do
    local rp, _, pn = c_params(rule.params, 2)
    self.keep[#self.keep + 1] = { rp, pn, rule }
    local rd = ffi.new("sv_diag_t")
    local rid = lib.sv_engine_add_rule(eng, rule.name or "rule", rule.file, rp, #pn, rd)
    if rid < 0 then error(ffi.string(rd.msg), 2) end
    self.rule_ids = self.rule_ids or {}
    self.rule_ids[rule.name or "rule"] = rid
  end
  local spec = ffi.new("sv_strategy_spec_t")
  spec.name = o.name or "strategy"
  spec.file = o.strategy
  spec.symbols = csyms
  spec.n_symbols = #syms
  spec.params = cparams
  spec.n_params = #names
  spec.cpu_budget_ms = o.cpu_budget_ms or 0
  spec.memory_limit_mb = o.memory_limit_mb or 0
  local diag = ffi.new("sv_diag_t")
  local sid = lib.sv_engine_add_strategy(eng, spec, diag)
  if sid < 0 then
    if o.expect_error then
      self.load_error = ffi.string(diag.msg)
      return self
    end
    error(ffi.string(diag.msg), 2)
  end
  self.sid = sid
  if o.protect ~= nil then
    local p, ps = o.protect, ffi.new("sv_protect_spec_t")
    local known = { stop_loss_pct = true, trailing_pct = true, take_profit_pct = true, take_profit_fraction = true }
    for k in pairs(p) do
      if not known[k] then error("silvertine.testing: unknown protect option '" .. tostring(k) .. "'", 2) end
    end
    ps.stop_loss_pct, ps.trailing_pct = p.stop_loss_pct or 0, p.trailing_pct or 0
    local tp, tf = p.take_profit_pct or {}, p.take_profit_fraction or {}
    if #tp > 4 or #tf > #tp then error("silvertine.testing: protect: at most 4 levels, a fraction per level", 2) end
    for i = 1, #tp do
      ps.take_profit_pct[i - 1], ps.take_profit_fraction[i - 1] = tp[i], tf[i] or 0
    end
    ps.n_take_profit = #tp
    if lib.sv_engine_protect_defaults(eng, sid, ps, diag) ~= 0 then error(ffi.string(diag.msg), 2) end
  end
  self.sids = { [o.name or "strategy"] = sid }
  for _, other in ipairs(o.others or {}) do
    assert(other.name and other.strategy, "silvertine.testing: others need a name and a strategy")
    local osyms = other.symbols or syms
    local ocsyms = ffi.new("const char *[?]", #osyms + 1)
    for i, s in ipairs(osyms) do ocsyms[i - 1] = s end
    local ocparams, _, onames = c_params(other.params, 2)
    self.keep[#self.keep + 1] = { osyms, ocsyms, ocparams, onames, other }
    local ospec = ffi.new("sv_strategy_spec_t")
    ospec.name, ospec.file = other.name, other.strategy
    ospec.symbols, ospec.n_symbols = ocsyms, #osyms
    ospec.params, ospec.n_params = ocparams, #onames
    ospec.cpu_budget_ms, ospec.memory_limit_mb = other.cpu_budget_ms or 0, other.memory_limit_mb or 0
    local osid = lib.sv_engine_add_strategy(eng, ospec, diag)
    if osid < 0 then error(ffi.string(diag.msg), 2) end
    self.sids[other.name] = osid
  end
  -- simulated time starts where the data starts, so timers armed in on_start count from there
  lib.sv_engine_advance(eng, ns(self.now_ms))
  lib.sv_engine_start(eng)
  return self
end

function T:symbol(name) return self.lib.sv_engine_symbol(self.eng, name) end

function T:feed(ev)
  local rc = self.lib.sv_engine_feed(self.eng, ev)
  assert(rc == 0, "sv_engine_feed failed: " .. rc)
end

local function stamp(self, e, time)
  self.now_ms = time or (self.now_ms + 60000)
  e.h.ts_exchange = ns(self.now_ms)
end

-- bar{ symbol, time (ms, close time; default: previous + 1 min), open, high, low, close, volume }
-- (open defaults to close, high/low to their range, volume to 1,000,000)
function T:bar(b)
  local e = ffi.new("sv_event_t")
  e.h.kind = KIND.bar
  e.h.symbol = self:symbol(b.symbol)
  stamp(self, e, b.time)
  local c = b.close
  e.u.bar.open = fx(b.open or c, "open")
  e.u.bar.high = fx(b.high or math.max(b.open or c, c), "high")
  e.u.bar.low = fx(b.low or math.min(b.open or c, c), "low")
  e.u.bar.close = fx(c, "close")
  e.u.bar.volume = fx(b.volume or 1000000, "volume") -- large: participation only binds when a spec says so
  e.u.bar.interval_s = b.interval or 60
  e.u.bar.start = e.h.ts_exchange - ffi.new("int64_t", e.u.bar.interval_s) * 1000000000
  self:feed(e)
end

-- bars(symbol, closes): one bar per close, a minute apart.
function T:bars(symbol, closes)
  for _, c in ipairs(closes) do self:bar{ symbol = symbol, close = c } end
end

-- tick{ symbol, price, qty, side = "buy"|"sell", time }
function T:tick(t)
  local e = ffi.new("sv_event_t")
  e.h.kind = KIND.trade
  e.h.symbol = self:symbol(t.symbol)
  self.now_ms = t.time or (self.now_ms + 1000)
  e.h.ts_exchange = ns(self.now_ms)
  e.u.trade.price = fx(t.price, "price")
  e.u.trade.qty = fx(t.qty or 1000000, "qty")
  e.u.trade.aggressor = t.side == "sell" and -1 or (t.side == "buy" and 1 or 0)
  self:feed(e)
end

-- quote{ symbol, bid, ask, bid_qty, ask_qty, time }
function T:quote(q)
  local e = ffi.new("sv_event_t")
  e.h.kind = KIND.quote
  e.h.symbol = self:symbol(q.symbol)
  self.now_ms = q.time or (self.now_ms + 1000)
  e.h.ts_exchange = ns(self.now_ms)
  e.u.quote.bid_price = fx(q.bid, "bid")
  e.u.quote.ask_price = fx(q.ask, "ask")
  e.u.quote.bid_qty = fx(q.bid_qty or 1, "bid_qty")
  e.u.quote.ask_qty = fx(q.ask_qty or 1, "ask_qty")
  self:feed(e)
end

-- Moves simulated time forward (firing timers) without market data.
function T:advance(ms)
  self.now_ms = self.now_ms + ms
  self.lib.sv_engine_advance(self.eng, ns(self.now_ms))
end

local function events(self, kind)
  local out = {}
  local n = self.lib.sv_engine_recorded(self.eng)
  for i = 0, n - 1 do
    local e = self.lib.sv_engine_record_at(self.eng, i)
    if e.h.kind == kind then out[#out + 1] = e end
  end
  return out
end

-- Signals emitted so far, oldest first: { id, symbol, side, qty, price, stop_price, type, tif, tag, time }
function T:signals()
  local out = {}
  for _, e in ipairs(events(self, KIND.signal)) do
    local s = e.u.signal
    out[#out + 1] = {
      id = tonumber(s.signal_id), symbol = ffi.string(self.lib.sv_engine_symbol_name(self.eng, e.h.symbol)),
      side = SIDE_NAME[s.side], qty = num(s.qty), price = num(s.price), stop_price = num(s.stop_price),
      type = TYPE_NAME[s.type], tif = TIF_NAME[s.tif], tag = ffi.string(s.tag),
      time = tonumber(e.h.ts_exchange) / 1e6, post_only = bit.band(s.order_flags, 1) ~= 0,
      strategy = s.strategy,
    }
  end
  return out
end

-- Alerts (script errors, ...): { code, text }
function T:alerts()
  local out = {}
  for _, e in ipairs(events(self, KIND.alert)) do
    out[#out + 1] = { code = e.u.alert.code, text = ffi.string(self.lib.sv_engine_text(self.eng, e.u.alert.text)) }
  end
  return out
end

function T:timers() return #events(self, KIND.timer) end

local LIQ = { [0] = "none", "maker", "taker" }
local STATUS = { [0] = "new", "pending", "acknowledged", "partially_filled", "filled", "canceled",
  "rejected", "expired", "pending_cancel", "pending_replace" }

-- Fills so far: { order_id, trade_id, symbol, side, price, qty, fee, liquidity, time }
function T:fills()
  local out = {}
  for _, e in ipairs(events(self, KIND.fill)) do
    local f = e.u.fill
    out[#out + 1] = { order_id = tonumber(f.client_id), trade_id = tonumber(f.trade_id),
      symbol = ffi.string(self.lib.sv_engine_symbol_name(self.eng, e.h.symbol)), side = SIDE_NAME[f.side],
      price = num(f.price), qty = num(f.qty), fee = num(f.fee), liquidity = LIQ[f.liquidity],
      time = tonumber(e.h.ts_exchange) / 1e6, strategy = f.strategy }
  end
  return out
end

-- Every order update so far: { id, status, side, type, price, qty, filled, avg_price, reason }
function T:orders()
  local out = {}
  for _, e in ipairs(events(self, KIND.order)) do
    local o = e.u.order
    out[#out + 1] = { id = tonumber(o.client_id), status = STATUS[o.status], side = SIDE_NAME[o.side],
      type = TYPE_NAME[o.type], price = num(o.price), qty = num(o.qty), filled = num(o.filled_qty),
      avg_price = num(o.avg_price),
      reason = o.reason ~= 0 and ffi.string(self.lib.sv_engine_text(self.eng, o.reason)) or nil,
      strategy = o.strategy }
  end
  return out
end

-- The id of a strategy by name (default: the first one).
function T:id(name)
  if name == nil then return self.sid end
  local sid = self.sids and self.sids[name]
  if not sid then error("silvertine.testing: no strategy named " .. tostring(name), 2) end
  return sid
end

-- A strategy's position (default: the first one's): qty, average price, realized and unrealized PnL.
function T:position(symbol, name)
  local p = ffi.new("sv_position_view_t")
  self.lib.sv_engine_position(self.eng, self:id(name) or 0, self:symbol(symbol), p)
  return num(p.qty), num(p.avg_price), num(p.realized_pnl), num(p.unrealized_pnl)
end

function T:balance(asset) return self.lib.sv_engine_balance(self.eng, asset) end

function T:enabled(name)
  local sid = self:id(name)
  return sid ~= nil and self.lib.sv_engine_strategy_enabled(self.eng, sid) == 1
end

function T:error(name)
  if self.load_error and name == nil then return self.load_error end
  local e = ffi.string(self.lib.sv_engine_strategy_error(self.eng, self:id(name)))
  return e ~= "" and e or nil
end

function T:stop() self.lib.sv_engine_stop(self.eng) end

-- Reloads a custom risk rule (by name) from its file: true, or false and the reason.
function T:reload_rule(name)
  local d = ffi.new("sv_diag_t")
  local id = assert(self.rule_ids and self.rule_ids[name], "silvertine.testing: no rule named " .. tostring(name))
  if self.lib.sv_engine_reload_rule(self.eng, id, d) ~= 0 then return false, ffi.string(d.msg) end
  return true
end

-- Reloads a strategy (default: the first) from its file, as an edit during a run would.
-- Returns true, or false and the reason the running version stays.
function T:reload(name)
  local d = ffi.new("sv_diag_t")
  if self.lib.sv_engine_reload_strategy(self.eng, self:id(name), d) ~= 0 then
    return false, ffi.string(d.msg)
  end
  return true
end

return M
