/* URL pieces: parsing base_url, checking request paths, percent-encoding
 * query values and redacting secrets from URLs. Plain C (a fuzz target). */
#ifndef HUBSOFT_URLENC_H
#define HUBSOFT_URLENC_H

#include <stddef.h>

#include "buf.h"

typedef struct hs_url {
    int https;      /* 1 for https://, 0 for http:// */
    char host[256]; /* without brackets for IPv6 */
    int port;       /* 0 when not given */
    int loopback;   /* host is localhost, 127.0.0.0/8 or ::1 */
} hs_url;

/* Parse and check a base URL. Returns NULL when fine, or a static message
 * naming the rule it broke. Never echoes the URL (it may hold credentials). */
const char *hs_url_parse(const char *url, size_t len, hs_url *out);

/* Check a request path: starts with '/', only URL-safe characters, no '..'
 * segment, no '?' or '#'. NULL when fine, else a static message. */
const char *hs_path_check(const char *path, size_t len);

/* Append `s` percent-encoded (RFC 3986 unreserved characters kept). */
int hs_url_escape(hs_buf *out, const char *s, size_t len);

/* Append `url` with the values of secret-looking query parameters
 * (password, client_secret, access_token, refresh_token, token) replaced by ***. */
int hs_url_redact(hs_buf *out, const char *url, size_t len);

#endif
