/* abi: the version and the cdef text of the FFI interface (see abi.h). */
#include "abi.h"

#include "embedded.h"

uint32_t sv_abi_version(void) { return SV_ABI_VERSION; }

const char *sv_abi_cdef(void) { return sv_embedded_cdef; }
