-- silvertine.rule: what a custom risk rule sees. Builds its read-only `ctx`, the view of the
-- order being checked, and the dispatcher the C host calls per signal.
--
--   local R = { params = { max_spread_bps = 20 } }
--   function R.check(ctx, order)
--     local bid, ask = ctx:quote(order.symbol)
--     if bid and (ask - bid) / bid * 1e4 > R.params.max_spread_bps then
--       return false, "spread too wide"
--     end
--     return true
--   end
--   return R
local ffi = require("ffi")
local abi = require("silvertine.abi")

local tonumber, type, error, setmetatable, pairs, tostring, select =
  tonumber, type, error, setmetatable, pairs, tostring, select
local format, concat = string.format, table.concat
local fstring = ffi.string
local SCALE = abi.SCALE

local M = {}

local SIDE_NAME = { [1] = "buy", [-1] = "sell" }
local TYPE_NAME = { [0] = "market", "limit", "stop_market", "stop_limit" }
local TIF_NAME = { [0] = "gtc", "ioc", "fok" }
local STATUS_NAME = { [0] = "new", "pending", "acknowledged", "partially_filled", "filled",
  "canceled", "rejected", "expired", "pending_cancel", "pending_replace" }
local KIND_TRADE, KIND_QUOTE, KIND_BAR = 1, 2, 3

local function keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return concat(ks, ", ")
end

function M.bind(o)
  local host = ffi.cast("sv_rules_t *", o.host)
  local api = ffi.cast("const sv_rule_api_t *", o.api)
  local slot = ffi.cast("const sv_event_t **", o.slot)
  local R, id, name = o.module, o.id, o.name
  if type(R.check) ~= "function" then
    error(format("rule %s: the script must define check(ctx, order), got %s", name, type(R.check)), 0)
  end
  local check = R.check
  local c_position, c_last, c_open, c_symbol_id, c_symbol_name, c_strategy, c_now, c_log =
    api.position, api.last, api.open_orders, api.symbol_id, api.symbol_name, api.strategy_name, api.now, api.log
  local qtyp, avgp = ffi.new("double[1]"), ffi.new("double[1]")
  local ev = ffi.new("sv_event_t")
  local orders = ffi.new("sv_order_t[64]")
  local names, ids = {}, {}
  local function name_of(sid)
    local n = names[sid]
    if n == nil then n = fstring(c_symbol_name(host, sid)); names[sid] = n end
    return n
  end
  local function id_of(sym)
    local s = ids[sym]
    if s then return s end
    if type(sym) ~= "string" then error("symbol must be a string", 3) end
    s = c_symbol_id(host, sym)
    if s == 0 then error(format("unknown symbol '%s'", sym), 3) end
    ids[sym] = s
    return s
  end
  local function px(v) return tonumber(v) / SCALE end

  local getters = {
    symbol = function() return name_of(slot[0].h.symbol) end,
    side = function() return SIDE_NAME[slot[0].u.signal.side] end,
    qty = function() return px(slot[0].u.signal.qty) end,
    price = function() return px(slot[0].u.signal.price) end,
    stop_price = function() return px(slot[0].u.signal.stop_price) end,
    type = function() return TYPE_NAME[slot[0].u.signal.type] end,
    tif = function() return TIF_NAME[slot[0].u.signal.tif] end,
    strategy = function() return fstring(c_strategy(host, slot[0].u.signal.strategy)) end,
    tag = function() return fstring(slot[0].u.signal.tag) end,
    time = function() return tonumber(slot[0].h.ts_exchange) / 1e6 end,
  }
  local order = setmetatable({}, {
    __index = function(_, k)
      local g = getters[k]
      if g then return g() end
      error(format("order has no field '%s' (fields: %s)", tostring(k), keys(getters)), 2)
    end,
    __newindex = function(_, k) error(format("order is read-only (tried to set '%s')", tostring(k)), 2) end,
    __metatable = false,
  })

  local params = R.params or {}
  for k, v in pairs(o.params or {}) do
    if R.params and R.params[k] == nil then
      error(format("rule %s: unknown parameter '%s' (declared: %s)", name, k, keys(R.params)), 0)
    end
    params[k] = v
  end
  R.params = params

  local ctx = { name = name, params = params, state = {} }
  function ctx:position(sym)
    c_position(host, id_of(sym), qtyp, avgp)
    return qtyp[0], avgp[0]
  end
  function ctx:last_price(sym)
    if c_last(host, id_of(sym), KIND_TRADE, ev) == 0 then return px(ev.u.trade.price) end
    if c_last(host, id_of(sym), KIND_QUOTE, ev) == 0 then
      return (px(ev.u.quote.bid_price) + px(ev.u.quote.ask_price)) / 2
    end
    if c_last(host, id_of(sym), KIND_BAR, ev) == 0 then return px(ev.u.bar.close) end
    return nil
  end
  function ctx:quote(sym)
    if c_last(host, id_of(sym), KIND_QUOTE, ev) ~= 0 then return nil end
    return px(ev.u.quote.bid_price), px(ev.u.quote.ask_price), px(ev.u.quote.bid_qty), px(ev.u.quote.ask_qty)
  end
  function ctx:bar(sym)
    if c_last(host, id_of(sym), KIND_BAR, ev) ~= 0 then return nil end
    local b = ev.u.bar
    return { open = px(b.open), high = px(b.high), low = px(b.low), close = px(b.close),
      volume = px(b.volume), time = tonumber(ev.h.ts_exchange) / 1e6 }
  end
  -- open orders of a symbol (nil: all): a list of { id, symbol, side, type, price, qty, filled, status }
  function ctx:open_orders(sym)
    local n = c_open(host, sym and id_of(sym) or 0, orders, 64)
    local out = {}
    for i = 0, (n < 64 and n or 64) - 1 do
      local x = orders[i]
      out[#out + 1] = { id = tonumber(x.client_id), side = SIDE_NAME[x.side], type = TYPE_NAME[x.type],
        price = px(x.price), qty = px(x.qty), filled = px(x.filled_qty), status = STATUS_NAME[x.status],
        strategy = fstring(c_strategy(host, x.strategy)) }
    end
    return out, n
  end
  function ctx:now() return tonumber(c_now(host)) / 1e6 end
  function ctx:log(...)
    local n = select("#", ...)
    local msg
    if n > 1 and type((...)) == "string" then msg = format(...) else msg = tostring((...)) end
    c_log(host, id, 1, msg)
  end
  if o.env then o.env.print = function(...) ctx:log(...) end end

  return function()
    local ok, why = check(ctx, order)
    if ok == true then return true end
    if why ~= nil then why = tostring(why) end
    return false, why
  end, ctx
end

return M
