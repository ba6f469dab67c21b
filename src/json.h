/* JSON for request bodies (our encoder, which knows hubsoft.array/object and
 * keeps UTF-8 untouched) and for responses (lua-cjson, then a pass that
 * drops nulls and turns whole floats into integers). */
#ifndef HUBSOFT_JSON_H
#define HUBSOFT_JSON_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"
#include "jsontext.h"

#define HS_JSON_MAX_DEPTH 128

/* Registry keys (addresses are the keys). */
extern const char hs_key_array_mt;
extern const char hs_key_object_mt;
extern const char hs_key_cjson;

/* Encode the value at `idx` into `out`. Returns NULL on success or a static
 * message; `path` receives where the problem is (for example "parametros[2]"). */
const char *hs_json_encode(lua_State *L, int idx, hs_buf *out, char *where, size_t wherelen);

/* Decode `len` bytes of JSON and push the Lua value. On failure pushes
 * nothing and returns a message (in `msg`, at most msglen bytes). 0 on success. */
int hs_json_decode(lua_State *L, const char *s, size_t len, int keep_nulls,
                   const char *content_type, char *msg, size_t msglen);

void hs_json_open(lua_State *L); /* loads cjson, creates the marker metatables */
int hs_l_array(lua_State *L);
int hs_l_object(lua_State *L);
int hs_l_encode(lua_State *L);
int hs_l_decode(lua_State *L);

#endif
