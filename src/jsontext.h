/* JSON text helpers (bottom layer, no Lua header): string escaping, number
 * formatting, UTF-8 checking and Latin-1 re-encoding. The Lua-walking
 * encoder and the cjson decoder are in json.c (binding). */
#ifndef HUBSOFT_JSONTEXT_H
#define HUBSOFT_JSONTEXT_H

#include <stddef.h>

#include "buf.h"

#define HS_JSON_NUM_MAX 64

/* Append s as a JSON string ("..." with escapes; UTF-8 kept). 0 or -1. */
int hs_json_add_string(hs_buf *out, const char *s, size_t len);
/* The JSON text of d into tmp; its length, or -1 for NaN and infinities. */
int hs_json_format_double(double d, char tmp[HS_JSON_NUM_MAX]);

/* Length of the valid UTF-8 prefix (== len when all valid). */
size_t hs_utf8_valid_prefix(const unsigned char *s, size_t len);
/* Re-encode Latin-1 bytes as UTF-8 into out. */
int hs_latin1_to_utf8(hs_buf *out, const unsigned char *s, size_t len);

#endif
