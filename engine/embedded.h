/* embedded: the Lua side of the FFI interface (lua/silvertine/NAME.lua) and the ABI cdef text,
 * compiled into libsilvertine at build time (cmake/embed.cmake) so that the engine needs no
 * files besides the user's strategies. */
#ifndef SV_EMBEDDED_H
#define SV_EMBEDDED_H

#include <stddef.h>

typedef struct sv_embedded_file {
    const char *module; /* "silvertine.ctx" */
    const char *text;
    size_t len;
} sv_embedded_file_t;

extern const sv_embedded_file_t sv_embedded_lua[];
extern const size_t sv_embedded_lua_count;
/* The text between SV_CDEF_BEGIN and SV_CDEF_END in engine/abi.h, NUL-terminated. */
extern const char sv_embedded_cdef[];

#endif
