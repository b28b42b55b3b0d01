-- silvertine.abi: declares the engine's C interface (engine/abi.h, between SV_CDEF_BEGIN and
-- SV_CDEF_END) to LuaJIT's FFI, once per Lua state. Inside the engine the text comes from the
-- library itself; a busted spec gets it from libsilvertine through sv_abi_cdef().
local ffi = require("ffi")

local M = { declared = false, SCALE = 1e8, VERSION = nil }

function M.declare(cdef)
  if M.declared then
    return
  end
  ffi.cdef(cdef)
  M.declared = true
  M.VERSION = tonumber(ffi.C.SV_ABI_VERSION)
end

return M
