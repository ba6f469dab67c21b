/* The Lua state the Lua-using fuzz targets share: standard libraries, and a
 * package.cpath that finds lua-cjson. */
#ifndef HUBSOFT_FUZZ_LUA_H
#define HUBSOFT_FUZZ_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>

#ifndef HS_FUZZ_LUA_CPATH
#define HS_FUZZ_LUA_CPATH "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so"
#endif

__attribute__((unused)) static lua_State *hs_fuzz_new_state(void)
{
    lua_State *L = luaL_newstate();
    if (L == NULL)
        abort();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushliteral(L, HS_FUZZ_LUA_CPATH);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    return L;
}

#endif
