#include "jsontext.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int hs_json_add_string(hs_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    if (hs_buf_reserve(out, len + 2) != 0 || hs_buf_addc(out, '"') != 0)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (hs_buf_add(out, s + run, i - run) != 0)
            return -1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            if (hs_buf_add(out, u, 6) != 0)
                return -1;
        }
        if (esc != NULL && hs_buf_adds(out, esc) != 0)
            return -1;
        run = i + 1;
    }
    if (hs_buf_add(out, s + run, len - run) != 0)
        return -1;
    return hs_buf_addc(out, '"');
}

int hs_json_format_double(double d, char tmp[HS_JSON_NUM_MAX])
{
    if (isnan(d) || isinf(d))
        return -1;
    /* whole numbers below 2^53 exactly, others round-tripping: never more
     * than 24 bytes (1e300 is 1e+300, not 301 digits) */
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return snprintf(tmp, HS_JSON_NUM_MAX, "%.0f", d);
    return snprintf(tmp, HS_JSON_NUM_MAX, "%.17g", d);
}

size_t hs_utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n, k;
        unsigned int cp;
        if (c < 0x80) {
            /* JSON is mostly ASCII: skip it eight bytes at a time */
            i++;
            while (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += n + 1;
    }
    return len;
}

int hs_latin1_to_utf8(hs_buf *out, const unsigned char *s, size_t len)
{
    size_t i;
    if (hs_buf_reserve(out, len * 2) != 0)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c < 0x80) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = (char)(0xC0 | (c >> 6));
            out->data[out->len++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return 0;
}
