-- sma_cross: go long when the fast moving average crosses above the slow one, flat when it
-- crosses back below. One position per symbol, market orders, fixed quantity.
local S = {
  params = { fast = 10, slow = 30, qty = 0.01 },
}

function S.on_start(ctx)
  ctx.state.avg = {}
end

local function averages(ctx, symbol)
  local a = ctx.state.avg[symbol]
  if not a then
    a = { fast = ctx.ta.sma(S.params.fast), slow = ctx.ta.sma(S.params.slow), above = nil }
    ctx.state.avg[symbol] = a
  end
  return a
end

function S.on_bar(ctx, bar)
  local a = averages(ctx, bar.symbol)
  local fast, slow = a.fast:update(bar.close), a.slow:update(bar.close)
  if not (fast and slow) then
    return
  end
  local above = fast > slow
  if above ~= a.above and a.above ~= nil then
    if above then
      ctx:buy(bar.symbol, S.params.qty)
    else
      ctx:sell(bar.symbol, S.params.qty)
    end
  end
  a.above = above
end

return S
