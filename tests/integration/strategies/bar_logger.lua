-- Logs every bar it sees, one line each ("bar <close time ms> <close>"), and trades a little:
-- the Redis consumer-group tests count the lines of each engine, and the trades put signals,
-- orders, fills and positions on the bus.
local S = {}

function S.on_bar(ctx, bar)
  ctx:log("bar %.0f %s", bar.time, bar.close)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ctx.state.n % 40 == 1 then
    ctx:buy(bar.symbol, 0.001)
  elseif ctx.state.n % 40 == 21 and ctx:position(bar.symbol) > 0 then
    ctx:sell(bar.symbol, 0.001)
  end
end

return S
