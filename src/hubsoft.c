/* luaopen_hubsoft_core: the only exported symbol. */
#include <lauxlib.h>

#include "client.h"
#include "compat.h"
#include "json.h"

static const luaL_Reg funcs[] = {
    {"error", hs_l_error},
    {"is_error", hs_l_is_error},
    {"scrub", hs_l_scrub},
    {"array", hs_l_array},
    {"object", hs_l_object},
    {"encode", hs_l_encode},
    {"decode", hs_l_decode},
    {"write_file_atomic", hs_l_write_file_atomic},
    {NULL, NULL},
};

static const luaL_Reg methods[] = {
    {"request", hs_l_request},
    {"authenticate", hs_l_authenticate},
    {"_prefetch", hs_l_prefetch},
    {NULL, NULL},
};

#if defined(__GNUC__)
#define HS_EXPORT __attribute__((visibility("default")))
#else
#define HS_EXPORT
#endif

HS_EXPORT int luaopen_hubsoft_core(lua_State *L);

int luaopen_hubsoft_core(lua_State *L)
{
    /* libcurl's global init is not thread-safe before 7.84; it is refcounted,
     * and a host (nginx, Asterisk) that already did it is not disturbed. */
    if (hs_transport_global_init() != 0)
        return luaL_error(L, "hubsoft: libcurl initialisation failed");
    hs_json_open(L);
    hs_errors_open(L);
    lua_newtable(L);
    hs_setfuncs(L, funcs);
    hs_client_open(L);
    /* the methods of the files above client.c (which calls none of them) */
    lua_getfield(L, -1, "methods");
    hs_setfuncs(L, methods);
    lua_pop(L, 1);
    hs_prefetch_open(L);
    lua_pushliteral(L, HUBSOFT_VERSION);
    lua_setfield(L, -2, "VERSION");
    hs_pushint(L, HS_TOKEN_MARGIN); /* the one definition, for file_token_store */
    lua_setfield(L, -2, "TOKEN_MARGIN");
    lua_pushlightuserdata(L, NULL); /* == cjson.null */
    lua_setfield(L, -2, "null");
    return 1;
}
