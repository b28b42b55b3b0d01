-- sma_cross: go long when the fast moving average crosses above the slow one, back to flat
-- when it crosses below. Long only (spot), market orders, a fixed quantity per entry.
local S = {
  params = { fast = 10, slow = 30, qty = 0.01 },
}

function S.on_start(ctx)
  ctx.state.avg = {}
end

-- A live reload keeps ctx.state (the averages stay warm); without on_reload, on_start would
-- run again and start them over.
function S.on_reload(ctx, old_state) end

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
    local position = ctx:position(bar.symbol)
    if above and position <= 0 then
      ctx:buy(bar.symbol, S.params.qty)
    elseif not above and position > 0 then
      ctx:sell(bar.symbol, position)
    end
  end
  a.above = above
end

return S
