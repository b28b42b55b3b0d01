-- silvertine.ctx: what a strategy script sees. Builds its `ctx`, the read-only views of the
-- event being delivered, and one dispatch function per handler the script defines.
--
-- The C host points a slot at the event being delivered (and at an empty event between
-- calls); every view reads through that slot, cast once here, so a handler call costs a
-- lua_pcall and field reads, nothing is allocated or copied per event, and a script never
-- holds a pointer it could index past the struct.
-- Prices and quantities are exact int64 fixed point in C; views turn them into ordinary
-- numbers. Times are milliseconds since the epoch (`time`), with `time_ns` exact as int64.
local ffi = require("ffi")
local abi = require("silvertine.abi")
local ta = require("silvertine.ta")

local tonumber, type, error, setmetatable, pairs, select, tostring =
  tonumber, type, error, setmetatable, pairs, select, tostring
local format, concat, sort = string.format, table.concat, table.sort
local fstring = ffi.string

local SCALE = abi.SCALE
local M = {}

local SIDE = { buy = 1, sell = -1 }
local SIDE_NAME = { [1] = "buy", [-1] = "sell", [0] = nil }
local TYPE = { market = 0, limit = 1, stop_market = 2, stop_limit = 3 }
local TYPE_NAME = { [0] = "market", "limit", "stop_market", "stop_limit" }
local TIF = { gtc = 0, ioc = 1, fok = 2 }
local TIF_NAME = { [0] = "gtc", "ioc", "fok" }
local STATUS_NAME = { [0] = "new", "pending", "acknowledged", "partially_filled", "filled",
  "canceled", "rejected", "expired", "pending_cancel", "pending_replace" }
local LIQ_NAME = { [0] = "none", "maker", "taker" }
local FLAG_POST_ONLY, FLAG_REDUCE_ONLY = 1, 2
local LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR = 0, 1, 2, 3

M.HANDLERS = { "on_start", "on_stop", "on_tick", "on_quote", "on_bar", "on_book", "on_signal",
  "on_order", "on_fill", "on_timer", "on_reload" }

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  sort(ks)
  return concat(ks, ", ")
end

-- A read-only view: fields come from getters; unknown fields and writes raise.
local function view(what, getters, methods)
  local mt = {
    __index = function(_, k)
      local g = getters[k]
      if g then return g() end
      local m = methods and methods[k]
      if m then return m end
      error(format("%s has no field '%s' (fields: %s)", what, tostring(k), sorted_keys(getters)), 2)
    end,
    __newindex = function(_, k)
      error(format("%s is read-only (tried to set '%s')", what, tostring(k)), 2)
    end,
    __tostring = function() return what end,
    __metatable = false,
  }
  return setmetatable({}, mt)
end

-- Merges config overrides into the strategy's declared params (which stay the one table that
-- both S.params and ctx.params name). A key the strategy does not declare, or a value of
-- another type, is an error: a typo in a config must never pass silently.
local function merge_params(name, declared, overrides)
  local params = declared or {}
  for k, v in pairs(overrides or {}) do
    local d = params[k]
    if d == nil and declared ~= nil then
      error(format("strategy %s: unknown parameter '%s' (declared: %s)", name, k, sorted_keys(params)), 0)
    end
    if d ~= nil and type(d) ~= type(v) then
      error(format("strategy %s: parameter '%s' must be a %s, got %s %s", name, k, type(d), type(v),
        tostring(v)), 0)
    end
    params[k] = v
  end
  return params
end

-- bind(o): o.host, o.api, o.slot (lightuserdata), o.sid, o.name, o.module (the script's
-- table), o.env (its environment), o.params (config overrides). Returns ctx and a table of
-- dispatch functions keyed by handler name (only for handlers the script defines).
function M.bind(o)
  local host = ffi.cast("sv_strategy_host_t *", o.host)
  local api = ffi.cast("const sv_ctx_api_t *", o.api)
  local slot = ffi.cast("const sv_event_t **", o.slot)
  local sid, name, S = o.sid, o.name, o.module
  local submit, cancel, cancel_all = api.submit, api.cancel, api.cancel_all
  local c_position, c_balance, c_now = api.position, api.balance, api.now
  local c_timer, c_timer_cancel, c_log = api.timer, api.timer_cancel, api.log
  local c_symbol_id, c_symbol_name, c_text, c_last_error =
    api.symbol_id, api.symbol_name, api.text, api.last_error
  local pos = ffi.new("sv_position_view_t")
  local pspec = ffi.new("sv_protect_spec_t")
  local sinfo = ffi.new("sv_size_info_t")
  local c_protect, c_size_info = api.protect, api.size_info

  local sym_name, sym_id = {}, {}
  local function name_of(id)
    local n = sym_name[id]
    if n == nil then
      n = fstring(c_symbol_name(host, id))
      sym_name[id], sym_id[n] = n, id
    end
    return n
  end
  local function id_of(s, level)
    local id = sym_id[s]
    if id then return id end
    if type(s) ~= "string" or s == "" then
      error(format("symbol must be a non-empty string, got %s", tostring(s)), level + 1)
    end
    id = c_symbol_id(host, s)
    if id == 0 then error(format("unknown symbol '%s'", s), level + 1) end
    sym_name[id], sym_id[s] = s, id
    return id
  end

  local function px(v) return tonumber(v) / SCALE end
  local symbol = function() return name_of(slot[0].h.symbol) end
  local time = function() return tonumber(slot[0].h.ts_exchange) / 1e6 end
  local time_ns = function() return slot[0].h.ts_exchange end
  local seq = function() return tonumber(slot[0].h.seq) end

  local tick_view = view("trade", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    price = function() return px(slot[0].u.trade.price) end,
    qty = function() return px(slot[0].u.trade.qty) end,
    side = function() return SIDE_NAME[slot[0].u.trade.aggressor] end,
    trade_id = function() return tonumber(slot[0].u.trade.trade_id) end,
  })
  local quote_view = view("quote", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    bid = function() return px(slot[0].u.quote.bid_price) end,
    bid_qty = function() return px(slot[0].u.quote.bid_qty) end,
    ask = function() return px(slot[0].u.quote.ask_price) end,
    ask_qty = function() return px(slot[0].u.quote.ask_qty) end,
    mid = function() return (px(slot[0].u.quote.bid_price) + px(slot[0].u.quote.ask_price)) / 2 end,
  })
  local bar_view = view("bar", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    open = function() return px(slot[0].u.bar.open) end,
    high = function() return px(slot[0].u.bar.high) end,
    low = function() return px(slot[0].u.bar.low) end,
    close = function() return px(slot[0].u.bar.close) end,
    volume = function() return px(slot[0].u.bar.volume) end,
    quote_volume = function() return px(slot[0].u.bar.quote_volume) end,
    trades = function() return slot[0].u.bar.trades end,
    interval = function() return slot[0].u.bar.interval_s end,
    start = function() return tonumber(slot[0].u.bar.start) / 1e6 end,
  })
  local function level(i, first, n)
    -- the index reaches a C array: only whole numbers 1..n pass (NaN fails every comparison,
    -- so it is refused by the positive test, never by `i < 1`)
    if type(i) ~= "number" or not (i >= 1 and i <= n and i % 1 == 0) then return nil end
    local l = slot[0].u.depth.levels[first + i - 1]
    return px(l.price), px(l.qty)
  end
  local book_view = view("book", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    n_bids = function() return slot[0].u.depth.n_bids end,
    n_asks = function() return slot[0].u.depth.n_asks end,
    snapshot = function() return bit.band(slot[0].u.depth.depth_flags, 1) ~= 0 end,
    last = function() return bit.band(slot[0].u.depth.depth_flags, 2) ~= 0 end,
  }, {
    bid = function(_, i) return level(i, 0, slot[0].u.depth.n_bids) end,
    ask = function(_, i) return level(i, slot[0].u.depth.n_bids, slot[0].u.depth.n_asks) end,
  })
  local order_view = view("order", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    id = function() return tonumber(slot[0].u.order.client_id) end,
    exchange_id = function() return tonumber(slot[0].u.order.exchange_id) end,
    signal_id = function() return tonumber(slot[0].u.order.signal_id) end,
    status = function() return STATUS_NAME[slot[0].u.order.status] end,
    side = function() return SIDE_NAME[slot[0].u.order.side] end,
    type = function() return TYPE_NAME[slot[0].u.order.type] end,
    tif = function() return TIF_NAME[slot[0].u.order.tif] end,
    price = function() return px(slot[0].u.order.price) end,
    qty = function() return px(slot[0].u.order.qty) end,
    stop_price = function() return px(slot[0].u.order.stop_price) end,
    filled = function() return px(slot[0].u.order.filled_qty) end,
    avg_price = function() return px(slot[0].u.order.avg_price) end,
    reason = function()
      if slot[0].u.order.reason == 0 then return nil end
      return fstring(c_text(host, slot[0].u.order.reason))
    end,
  })
  local fill_view = view("fill", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    order_id = function() return tonumber(slot[0].u.fill.client_id) end,
    trade_id = function() return tonumber(slot[0].u.fill.trade_id) end,
    price = function() return px(slot[0].u.fill.price) end,
    qty = function() return px(slot[0].u.fill.qty) end,
    fee = function() return px(slot[0].u.fill.fee) end,
    fee_asset = function() return name_of(slot[0].u.fill.fee_asset) end,
    side = function() return SIDE_NAME[slot[0].u.fill.side] end,
    liquidity = function() return LIQ_NAME[slot[0].u.fill.liquidity] end,
  })
  local timer_view = view("timer", {
    time = time, time_ns = time_ns, seq = seq,
    id = function() return tonumber(slot[0].u.timer.timer_id) end,
  })
  local signal_view = view("signal", {
    symbol = symbol, time = time, time_ns = time_ns, seq = seq,
    id = function() return tonumber(slot[0].u.signal.signal_id) end,
    strategy = function() return slot[0].u.signal.strategy end,
    side = function() return SIDE_NAME[slot[0].u.signal.side] end,
    type = function() return TYPE_NAME[slot[0].u.signal.type] end,
    qty = function() return px(slot[0].u.signal.qty) end,
    price = function() return px(slot[0].u.signal.price) end,
    tag = function() return fstring(slot[0].u.signal.tag) end,
  })

  local ctx = { name = name, state = {}, ta = ta }
  ctx.params = merge_params(name, S.params, o.params)
  S.params = ctx.params

  local function check_self(self, method)
    if self ~= ctx then
      error(format("use ctx:%s(...), not ctx.%s(...)", method, method), 3)
    end
  end

  local function fail(level)
    local msg = fstring(c_last_error(host))
    c_log(host, sid, LOG_WARN, msg)
    return nil, msg
  end

  local function number_arg(v, what, method, allow_nil)
    if v == nil and allow_nil then return 0 end
    if type(v) ~= "number" then
      error(format("ctx:%s: %s must be a number, got %s", method, what, type(v)), 4)
    end
    return v
  end

  -- Protective orders from an order's options: stop_loss, stop_loss_pct, trailing_pct,
  -- take_profit / take_profit_pct (a number or a list of up to 4 levels) and
  -- take_profit_fraction (a list: the share each level closes). Returns true if any was given.
  local function levels(v, what, method)
    if v == nil then return nil end
    if type(v) == "number" then return { v } end
    if type(v) ~= "table" or #v > 4 then
      error(format("ctx:%s: %s must be a number or a list of up to 4 numbers", method, what), 5)
    end
    return v
  end
  local function protect_spec(opts, method)
    local sl, slp, tr = opts.stop_loss, opts.stop_loss_pct, opts.trailing_pct
    local tp = levels(opts.take_profit, "take_profit", method)
    local tpp = levels(opts.take_profit_pct, "take_profit_pct", method)
    local tpf = levels(opts.take_profit_fraction, "take_profit_fraction", method)
    if not (sl or slp or tr or tp or tpp) then return false end
    ffi.fill(pspec, ffi.sizeof(pspec))
    pspec.stop_loss = number_arg(sl, "stop_loss", method, true)
    pspec.stop_loss_pct = number_arg(slp, "stop_loss_pct", method, true)
    pspec.trailing_pct = number_arg(tr, "trailing_pct", method, true)
    local n = math.max(tp and #tp or 0, tpp and #tpp or 0)
    for i = 1, n do
      pspec.take_profit[i - 1] = number_arg(tp and tp[i], "take_profit", method, true)
      pspec.take_profit_pct[i - 1] = number_arg(tpp and tpp[i], "take_profit_pct", method, true)
      pspec.take_profit_fraction[i - 1] = number_arg(tpf and tpf[i], "take_profit_fraction", method, true)
    end
    pspec.n_take_profit = n
    return true
  end

  -- One entry point for every order intent: returns the signal id, or nil and the reason.
  local function send(method, side, sym, qty, price, opts)
    local s = id_of(sym, 3)
    qty = number_arg(qty, "quantity", method)
    price = number_arg(price, "price", method, true)
    local typ, tif, flags, stop, tag, replace = nil, 0, 0, 0, nil, 0
    if opts ~= nil then
      if type(opts) ~= "table" then
        error(format("ctx:%s: options must be a table, got %s", method, type(opts)), 3)
      end
      if opts.type ~= nil then
        typ = TYPE[opts.type]
        if not typ then error(format("ctx:%s: unknown order type '%s'", method, tostring(opts.type)), 3) end
      end
      if opts.tif ~= nil then
        tif = TIF[opts.tif]
        if not tif then error(format("ctx:%s: unknown time in force '%s'", method, tostring(opts.tif)), 3) end
      end
      if opts.stop_price ~= nil then stop = number_arg(opts.stop_price, "stop_price", method) end
      if opts.post_only then flags = flags + FLAG_POST_ONLY end
      if opts.reduce_only then flags = flags + FLAG_REDUCE_ONLY end
      if opts.tag ~= nil then tag = tostring(opts.tag) end
      if opts.replace ~= nil then replace = number_arg(opts.replace, "replace", method) end
    end
    if typ == nil then
      if stop ~= 0 then typ = price ~= 0 and 3 or 2 else typ = price ~= 0 and 1 or 0 end
    end
    local protect = opts ~= nil and protect_spec(opts, method)
    -- bad protective options refuse the order before it is sent: never an unprotected order
    if protect and c_protect(host, sid, s, 0, pspec) < 0 then return fail() end
    local id = submit(host, sid, s, side, typ, tif, flags, qty, price, stop, replace, tag)
    if id < 0 then return fail() end
    if protect and c_protect(host, sid, s, id, pspec) < 0 then
      local _, err = fail()
      return tonumber(id), err
    end
    return tonumber(id)
  end

  function ctx:buy(sym, qty, price, opts)
    check_self(self, "buy")
    return send("buy", 1, sym, qty, price, opts)
  end
  function ctx:sell(sym, qty, price, opts)
    check_self(self, "sell")
    return send("sell", -1, sym, qty, price, opts)
  end
  -- ctx:order{symbol=, side="buy"|"sell", qty=, price=, stop_price=, type=, tif=, post_only=,
  --           reduce_only=, tag=, replace=}
  function ctx:order(spec)
    check_self(self, "order")
    if type(spec) ~= "table" then error("ctx:order: expects a table", 2) end
    local side = SIDE[spec.side]
    if not side then error(format("ctx:order: side must be 'buy' or 'sell', got %s", tostring(spec.side)), 2) end
    return send("order", side, spec.symbol, spec.qty, spec.price, spec)
  end
  function ctx:cancel(order_id)
    check_self(self, "cancel")
    if type(order_id) ~= "number" then error("ctx:cancel: order id must be a number", 2) end
    if cancel(host, sid, order_id) ~= 0 then return fail() end
    return true
  end
  function ctx:cancel_all(sym)
    check_self(self, "cancel_all")
    local s = sym ~= nil and id_of(sym, 2) or 0
    local n = cancel_all(host, sid, s)
    if n < 0 then return fail() end
    return n
  end
  -- Returns quantity, average entry price, realized and unrealized PnL (numbers).
  function ctx:position(sym)
    check_self(self, "position")
    if c_position(host, sid, id_of(sym, 2), pos) ~= 0 then return 0, 0, 0, 0 end
    return px(pos.qty), px(pos.avg_price), px(pos.realized_pnl), px(pos.unrealized_pnl)
  end
  function ctx:balance(asset)
    check_self(self, "balance")
    if type(asset) ~= "string" then error("ctx:balance: asset must be a string", 2) end
    return c_balance(host, sid, asset)
  end
  -- Engine time in milliseconds since the epoch (simulated in backtests).
  function ctx:now()
    return tonumber(c_now(host)) / 1e6
  end
  -- Starts a timer: on_timer(ctx, timer) fires after `ms` (every `ms` when repeat is true).
  function ctx:timer(ms, rep)
    check_self(self, "timer")
    if type(ms) ~= "number" or ms ~= ms or ms <= 0 then error("ctx:timer: ms must be a number > 0", 2) end
    local id = c_timer(host, sid, ms, rep and 1 or 0)
    if id < 0 then return fail() end
    return tonumber(id)
  end
  function ctx:cancel_timer(id)
    check_self(self, "cancel_timer")
    return c_timer_cancel(host, sid, id) == 0
  end
  local function log_at(lvl, ...)
    local n = select("#", ...)
    local msg
    if n > 1 and type((...)) == "string" then
      msg = format(...)
    else
      local parts = {}
      for i = 1, n do parts[i] = tostring((select(i, ...))) end
      msg = concat(parts, " ")
    end
    c_log(host, sid, lvl, msg)
  end
  function ctx:log(...) log_at(LOG_INFO, ...) end
  function ctx:debug(...) log_at(LOG_DEBUG, ...) end
  function ctx:warn(...) log_at(LOG_WARN, ...) end
  function ctx:error(...) log_at(LOG_ERROR, ...) end
  function ctx:symbol_id(sym) return id_of(sym, 2) end

  -- Position sizing: ctx.size:fixed / percent / kelly / vol_target return a quantity rounded
  -- down to the lot and capped by the risk config's max_order_qty and max_order_notional (0
  -- when nothing can be bought). A risk "reduce" action in force scales the order later, in
  -- the risk engine.
  local size = {}
  local function positive(v, what, method)
    if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
      error(format("ctx.size:%s: %s must be a number > 0, got %s", method, what, tostring(v)), 3)
    end
    return v
  end
  local function finish(sym, quote_amount, price)
    c_size_info(host, sid, id_of(sym, 3), sinfo)
    -- a risk "reduce" action scales the order itself (sv_risk_check): not here too
    local q = quote_amount / price
    if sinfo.max_order_qty > 0 and q > sinfo.max_order_qty then q = sinfo.max_order_qty end
    if sinfo.max_order_notional > 0 and q * price > sinfo.max_order_notional then
      q = sinfo.max_order_notional / price
    end
    local lot = sinfo.lot
    if lot > 0 then q = math.floor(q / lot + 1e-9) * lot end
    if q < 0 then q = 0 end
    return q
  end
  local function equity(sym)
    c_size_info(host, sid, id_of(sym, 4), sinfo)
    return sinfo.equity
  end
  -- quantity worth `amount` of the quote asset at `price`
  function size:fixed(sym, amount, price)
    return finish(sym, positive(amount, "amount", "fixed"), positive(price, "price", "fixed"))
  end
  -- `pct` percent of equity
  function size:percent(sym, pct, price)
    positive(pct, "pct", "percent")
    return finish(sym, equity(sym) * pct / 100, positive(price, "price", "percent"))
  end
  -- Kelly fraction f = p - (1 - p) / b of equity, capped at `cap` (default 0.25); 0 if f <= 0
  function size:kelly(sym, win_rate, win_loss_ratio, price, cap)
    if type(win_rate) ~= "number" or win_rate < 0 or win_rate > 1 then
      error("ctx.size:kelly: win_rate must be a number in [0, 1]", 2)
    end
    positive(win_loss_ratio, "win_loss_ratio", "kelly")
    positive(price, "price", "kelly")
    cap = cap == nil and 0.25 or positive(cap, "cap", "kelly")
    local f = win_rate - (1 - win_rate) / win_loss_ratio
    if f <= 0 then return 0 end
    if f > cap then f = cap end
    return finish(sym, equity(sym) * f, price)
  end
  -- volatility target: equity * target_vol / asset_vol (annualised, as fractions), at most
  -- max_leverage (default 1) times equity
  function size:vol_target(sym, target_vol, asset_vol, price, max_leverage)
    positive(target_vol, "target_vol", "vol_target")
    positive(asset_vol, "asset_vol", "vol_target")
    positive(price, "price", "vol_target")
    local lev = target_vol / asset_vol
    local cap = max_leverage == nil and 1 or positive(max_leverage, "max_leverage", "vol_target")
    if lev > cap then lev = cap end
    return finish(sym, equity(sym) * lev, price)
  end
  ctx.size = size

  if o.env then
    o.env.print = function(...) log_at(LOG_INFO, ...) end
  end

  local views = {
    on_tick = tick_view, on_quote = quote_view, on_bar = bar_view, on_book = book_view,
    on_order = order_view, on_fill = fill_view, on_timer = timer_view, on_signal = signal_view,
  }
  local dispatch = {}
  for _, h in pairs(M.HANDLERS) do
    local fn = S[h]
    if fn ~= nil and type(fn) ~= "function" then
      error(format("strategy %s: %s must be a function, got %s", name, h, type(fn)), 0)
    end
    if fn then
      local v = views[h]
      if v then
        dispatch[h] = function() return fn(ctx, v) end
      elseif h == "on_reload" then
        dispatch[h] = function(old_state) return fn(ctx, old_state) end
      else
        dispatch[h] = function() return fn(ctx) end
      end
    end
  end
  return ctx, dispatch
end

return M
