-- A busted output handler: busted's plain terminal output, plus one machine-readable line
-- that scripts/test.sh adds into the run's total ("busted totals: passed=N failed=N ...").
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.plainTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    io.write(string.format("busted totals: passed=%d failed=%d errors=%d pending=%d\n",
      handler.successesCount, handler.failuresCount, handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
