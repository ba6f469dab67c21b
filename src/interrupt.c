/* Seeing an interrupt (Ctrl-C in lua, luajit) while C code waits: see
 * hs_intr in client.h. */
#include "client.h"

void hs_intr_arm(hs_intr *in, lua_State *L)
{
    int i;
    in->n = 0;
    in->L[in->n++] = L;
#if LUA_VERSION_NUM >= 502
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    if (lua_tothread(L, -1) != L && lua_tothread(L, -1) != NULL)
        in->L[in->n++] = lua_tothread(L, -1);
    lua_pop(L, 1);
#endif
    for (i = 0; i < in->n; i++) {
        in->hook[i] = lua_gethook(in->L[i]);
        in->mask[i] = lua_gethookmask(in->L[i]);
    }
}

int hs_intr_check(void *ud)
{
    hs_intr *in = ud;
    int i;
    for (i = 0; i < in->n; i++)
        if (lua_gethook(in->L[i]) != in->hook[i] || lua_gethookmask(in->L[i]) != in->mask[i])
            return 1;
    return 0;
}
