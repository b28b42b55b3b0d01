-- Shared helpers for the specs: write a strategy source to a temporary file.
local M = {}
local files = {}

function M.strategy_file(src)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  files[#files + 1] = path
  return path
end

function M.cleanup()
  for _, p in ipairs(files) do os.remove(p); os.remove((p:gsub("%.lua$", ""))) end
  files = {}
end

return M
