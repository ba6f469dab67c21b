#include "urlenc.h"

#include <string.h>

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int ieq_prefix(const char *s, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);
    if (len < n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != prefix[i])
            return 0;
    return 1;
}

static int is_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* localhost, ::1 or a dotted-decimal 127.a.b.c (each part 0..255, no leading
 * zeros: "127.08.0.1" is a name to libcurl, looked up in DNS, not loopback). */
static int host_is_loopback(const char *h)
{
    int part = 0, digits = 0, value = 0;
    const char *p;
    if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
        return 1;
    if (strncmp(h, "127.", 4) != 0)
        return 0;
    for (p = h;; p++) {
        if (*p == '.' || *p == '\0') {
            if (digits == 0 || value > 255)
                return 0;
            part++;
            if (*p == '\0')
                break;
            digits = value = 0;
        } else if (is_digit((unsigned char)*p)) {
            if (digits > 0 && value == 0)
                return 0; /* leading zero */
            if (++digits > 3)
                return 0;
            value = value * 10 + (*p - '0');
        } else {
            return 0;
        }
    }
    return part == 4;
}

const char *hs_url_parse(const char *url, size_t len, hs_url *out)
{
    size_t i, start, hostlen;
    const char *p;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return "must not contain spaces, control or non-ASCII characters";
    }
    if (ieq_prefix(url, len, "https://")) {
        out->https = 1;
        start = 8;
    } else if (ieq_prefix(url, len, "http://")) {
        start = 7;
    } else {
        return "must start with https:// or http://";
    }
    /* authority ends at the first '/', '?' or '#' */
    for (i = start; i < len && url[i] != '/' && url[i] != '?' && url[i] != '#'; i++)
        if (url[i] == '@')
            return "must not contain credentials (user:password@); pass them as "
                   "client_id/client_secret/username/password";
    if (i < len && (url[i] == '?' || url[i] == '#'))
        return "must not contain a query string or fragment";
    for (size_t j = i; j < len; j++)
        if (url[j] == '?' || url[j] == '#')
            return "must not contain a query string or fragment";
    p = url + start;
    hostlen = i - start;
    if (hostlen == 0)
        return "must name a host";
    if (p[0] == '[') {
        const char *close = memchr(p, ']', hostlen);
        size_t h;
        if (close == NULL)
            return "has an unterminated IPv6 address";
        h = (size_t)(close - p - 1);
        if (h == 0 || h >= sizeof(out->host))
            return "has an invalid IPv6 address";
        memcpy(out->host, p + 1, h);
        out->host[h] = '\0';
        p = close + 1;
        hostlen = (size_t)((url + i) - p);
        if (hostlen > 0 && p[0] != ':')
            return "has garbage after the IPv6 address";
    } else {
        const char *colon = memchr(p, ':', hostlen);
        size_t h = colon ? (size_t)(colon - p) : hostlen;
        if (h == 0)
            return "must name a host";
        if (h >= sizeof(out->host))
            return "has a host name that is too long";
        for (size_t k = 0; k < h; k++) {
            int c = (unsigned char)p[k];
            if (!(is_unreserved(c)))
                return "has an invalid character in the host name";
            out->host[k] = (char)lower(c);
        }
        out->host[h] = '\0';
        p += h;
        hostlen -= h;
    }
    if (hostlen > 0) { /* ":port" */
        long port = 0;
        size_t k;
        if (hostlen == 1)
            return "has an empty port";
        for (k = 1; k < hostlen; k++) {
            if (!is_digit((unsigned char)p[k]) || k > 5)
                return "has an invalid port";
            port = port * 10 + (p[k] - '0');
        }
        if (port < 1 || port > 65535)
            return "has a port outside 1..65535";
        out->port = (int)port;
    }
    if (i < len) {
        const char *msg = hs_path_check(url + i, len - i);
        if (msg != NULL)
            return "has an invalid path prefix";
    }
    out->loopback = host_is_loopback(out->host);
    return NULL;
}

static int hex_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Is path[i] a percent escape of the byte `c` (%2e, %2E, ...)? */
static int escape_of(const char *path, size_t len, size_t i, int c)
{
    return i + 2 < len && path[i] == '%' && hex_value((unsigned char)path[i + 1]) == (c >> 4) &&
           hex_value((unsigned char)path[i + 2]) == (c & 15);
}

/* A segment of dots only (".", "..", which servers resolve), each written as
 * '.' or %2e, up to an optional ";parameters" (Tomcat/Spring strip them). */
static int dot_segment(const char *seg, size_t n)
{
    size_t i = 0, dots = 0;
    while (i < n && seg[i] != ';') {
        if (seg[i] == '.')
            i++;
        else if (escape_of(seg, n, i, '.'))
            i += 3;
        else
            return 0;
        dots++;
    }
    return dots > 0;
}

const char *hs_path_check(const char *path, size_t len)
{
    size_t i, seg = 1;
    if (len == 0 || path[0] != '/')
        return "must start with '/'";
    for (i = 0; i < len; i++) {
        int c = (unsigned char)path[i];
        if (c == '?' || c == '#')
            return "must not contain '?' or '#' (pass query parameters in opts.query)";
        if (!(is_unreserved(c) || c == '/' || c == '%' || c == ':' || c == '@' || c == '!' ||
              c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' ||
              c == ',' || c == ';' || c == '='))
            return "contains a character that is not allowed in a URL path";
        if (c == '%' && (i + 2 >= len || !strchr("0123456789abcdefABCDEF", path[i + 1]) ||
                         !strchr("0123456789abcdefABCDEF", path[i + 2]) || path[i + 1] == '\0' ||
                         path[i + 2] == '\0'))
            return "contains a malformed percent escape";
    }
    /* segments end at '/' and at an escaped one (%2F), which servers decode
     * before they resolve dot segments */
    for (i = 1; i <= len; i++) {
        int end = i == len || path[i] == '/';
        size_t skip = 1;
        if (!end && escape_of(path, len, i, '/')) {
            end = 1;
            skip = 3;
        }
        if (!end)
            continue;
        if (dot_segment(path + seg, i - seg))
            return "must not contain '.' or '..' segments (also not as %2e or with ;parameters)";
        seg = i + skip;
        i += skip - 1;
    }
    return NULL;
}

int hs_url_escape(hs_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    if (hs_buf_reserve(out, len) != 0)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            if (hs_buf_addc(out, (char)c) != 0)
                return -1;
        } else {
            char e[3];
            e[0] = '%';
            e[1] = hex[c >> 4];
            e[2] = hex[c & 15];
            if (hs_buf_add(out, e, 3) != 0)
                return -1;
        }
    }
    return 0;
}

static int secret_param(const char *k, size_t n)
{
    static const char *const names[] = {
        "password", "client_secret", "access_token", "refresh_token", "token", "senha", NULL};
    int i;
    for (i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && ieq_prefix(k, n, names[i]))
            return 1;
    return 0;
}

int hs_url_redact(hs_buf *out, const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t pos;
    if (q == NULL)
        return hs_buf_add(out, url, len);
    pos = (size_t)(q - url) + 1;
    if (hs_buf_add(out, url, pos) != 0)
        return -1;
    while (pos < len) {
        size_t end = pos, eq;
        while (end < len && url[end] != '&' && url[end] != '#')
            end++;
        eq = pos;
        while (eq < end && url[eq] != '=')
            eq++;
        if (eq < end && secret_param(url + pos, eq - pos)) {
            if (hs_buf_add(out, url + pos, eq - pos + 1) != 0 || hs_buf_adds(out, "***") != 0)
                return -1;
        } else if (hs_buf_add(out, url + pos, end - pos) != 0) {
            return -1;
        }
        if (end < len && url[end] == '#') /* drop fragments entirely */
            break;
        if (end < len && hs_buf_addc(out, '&') != 0)
            return -1;
        pos = end + 1;
    }
    return 0;
}
