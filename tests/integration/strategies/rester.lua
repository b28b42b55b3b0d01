-- Buys once at market, then leaves a buy limit far below the market resting (for the paper
-- trading shutdown test: the engine must cancel it on SIGTERM).
local S = {}

function S.on_bar(ctx, bar)
  if not ctx.state.bought then
    ctx.state.bought = ctx:buy(bar.symbol, 0.01)
  elseif not ctx.state.resting and ctx:position(bar.symbol) > 0 then
    ctx.state.resting = ctx:buy(bar.symbol, 0.01, math.floor(bar.close * 0.5))
  end
end

return S
