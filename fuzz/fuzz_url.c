/* hs_url_parse, hs_path_check, hs_url_escape and hs_url_redact on arbitrary
 * bytes, with their invariants checked against independent oracles. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fuzz_common.h"
#include "urlenc.h"

static int unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* One dotted-quad part the way inet_aton / libcurl read it: decimal, or
 * octal with a leading 0. -1 when it is not a number 0..255. */
static int octet(const char *s, size_t n)
{
    int v = 0, base = (n > 1 && s[0] == '0') ? 8 : 10;
    size_t i;
    if (n == 0 || n > 4)
        return -1;
    for (i = 0; i < n; i++) {
        int d = s[i] - '0';
        if (d < 0 || d >= base)
            return -1;
        v = v * base + d;
    }
    return v <= 255 ? v : -1;
}

/* 127.a.b.c, four parts. `strict`: each part must be a real octet (what a
 * resolver treats as an address); else any 1-3 digits (the shape only). */
static int is_127(const char *h, int strict)
{
    const char *parts[4];
    size_t lens[4];
    int np = 0;
    const char *p = h, *dot;
    for (;;) {
        if (np == 4)
            return 0;
        dot = strchr(p, '.');
        parts[np] = p;
        lens[np] = dot ? (size_t)(dot - p) : strlen(p);
        np++;
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    if (np != 4 || lens[0] != 3 || memcmp(parts[0], "127", 3) != 0)
        return 0;
    for (int i = 1; i < 4; i++) {
        if (lens[i] == 0 || lens[i] > 3)
            return 0;
        for (size_t k = 0; k < lens[i]; k++)
            if (parts[i][k] < '0' || parts[i][k] > '9')
                return 0;
        if (strict && octet(parts[i], lens[i]) < 0)
            return 0;
    }
    return 1;
}

static void check_parse(const char *s, size_t n)
{
    hs_url u;
    const char *msg = hs_url_parse(s, n, &u);
    size_t hl;
    if (msg != NULL) {
        if (msg[0] == '\0')
            hs_fuzz_fail("hs_url_parse: empty message");
        return;
    }
    hl = strnlen(u.host, sizeof(u.host));
    if (hl == 0 || hl >= sizeof(u.host))
        hs_fuzz_fail("hs_url_parse: accepted a URL with host length %zu", hl);
    if (u.port < 0 || u.port > 65535)
        hs_fuzz_fail("hs_url_parse: port %d", u.port);
    if (u.https != (n >= 8 && strncasecmp(s, "https://", 8) == 0))
        hs_fuzz_fail("hs_url_parse: https flag %d disagrees with the scheme", u.https);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            hs_fuzz_fail("hs_url_parse: accepted byte 0x%02x", c);
    }
    /* the authority must hold no credentials */
    {
        size_t a = u.https ? 8 : 7, e = a;
        while (e < n && s[e] != '/')
            e++;
        if (memchr(s + a, '@', e - a) != NULL)
            hs_fuzz_fail("hs_url_parse: accepted user:password@");
    }
    if (u.loopback) {
        int ok =
            strcmp(u.host, "localhost") == 0 || strcmp(u.host, "::1") == 0 || is_127(u.host, 1);
        if (!ok)
            hs_fuzz_fail("hs_url_parse: host '%s' reported as loopback", u.host);
    }
}

static void check_path(const char *s, size_t n)
{
    const char *msg = hs_path_check(s, n);
    if (msg != NULL)
        return;
    if (n == 0 || s[0] != '/')
        hs_fuzz_fail("hs_path_check: accepted a path not starting with '/'");
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '?' || c == '#' || c <= 0x20 || c >= 0x7f)
            hs_fuzz_fail("hs_path_check: accepted byte 0x%02x", c);
        if (c == '%' && (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
                         hexval((unsigned char)s[i + 2]) < 0))
            hs_fuzz_fail("hs_path_check: accepted a malformed %% escape at %zu", i);
    }
    /* no "." or ".." segment */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, seg;
        while (j < n && s[j] != '/')
            j++;
        seg = j - i - 1;
        if ((seg == 1 && s[i + 1] == '.') || (seg == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
            hs_fuzz_fail("hs_path_check: accepted a dot segment at %zu", i);
        i = j;
    }
}

static void check_escape(const char *s, size_t n)
{
    hs_buf b;
    size_t i, k = 0;
    hs_buf_init(&b);
    if (hs_buf_adds(&b, "x=") != 0 || hs_url_escape(&b, s, n) != 0)
        hs_fuzz_fail("hs_url_escape: failed");
    if (b.len < 2 || memcmp(b.data, "x=", 2) != 0)
        hs_fuzz_fail("hs_url_escape: clobbered what was already in the buffer");
    /* only unreserved characters and %XX, and it decodes back to the input */
    for (i = 2; i < b.len; k++) {
        int c = (unsigned char)b.data[i], d;
        if (unreserved(c)) {
            d = c;
            i++;
        } else if (c == '%' && i + 2 < b.len && hexval((unsigned char)b.data[i + 1]) >= 0 &&
                   hexval((unsigned char)b.data[i + 2]) >= 0) {
            d = hexval((unsigned char)b.data[i + 1]) * 16 + hexval((unsigned char)b.data[i + 2]);
            if (unreserved(d))
                hs_fuzz_fail("hs_url_escape: escaped an unreserved character");
            i += 3;
        } else {
            hs_fuzz_fail("hs_url_escape: output byte 0x%02x at %zu", c, i);
        }
        if (k >= n || (unsigned char)s[k] != d)
            hs_fuzz_fail("hs_url_escape: does not decode back to the input at %zu", k);
    }
    if (k != n)
        hs_fuzz_fail("hs_url_escape: decodes to %zu bytes, input had %zu", k, n);
    hs_buf_free(&b);
}

/* prefix + data (+ suffix) must redact to exactly `want`. */
static void redact_expect(const char *prefix, const char *s, size_t n, const char *suffix,
                          const char *want)
{
    hs_buf in, out;
    hs_buf_init(&in);
    hs_buf_init(&out);
    if (hs_buf_adds(&in, prefix) != 0 || hs_buf_add(&in, s, n) != 0 ||
        hs_buf_adds(&in, suffix) != 0)
        abort();
    if (hs_url_redact(&out, in.data, in.len) != 0)
        hs_fuzz_fail("hs_url_redact: failed");
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
        hs_fuzz_fail("hs_url_redact: '%s'+%zu fuzz bytes+'%s' gave '%.*s', want '%s'", prefix, n,
                     suffix, (int)(out.len > 200 ? 200 : out.len), out.data ? out.data : "", want);
    hs_buf_free(&in);
    hs_buf_free(&out);
}

static void check_redact(const char *s, size_t n)
{
    hs_buf out;
    hs_buf_init(&out);
    if (hs_url_redact(&out, s, n) != 0)
        hs_fuzz_fail("hs_url_redact: failed");
    /* without a query string the URL is untouched */
    if (memchr(s, '?', n) == NULL && (out.len != n || (n > 0 && memcmp(out.data, s, n) != 0)))
        hs_fuzz_fail("hs_url_redact: changed a URL without a query string");
    hs_buf_free(&out);

    /* the fuzz bytes as the value of a secret parameter never survive */
    if (n > 0 && memchr(s, '&', n) == NULL && memchr(s, '#', n) == NULL) {
        redact_expect("https://h/p?password=", s, n, "", "https://h/p?password=***");
        redact_expect("https://h/p?a=1&ACCESS_TOKEN=", s, n, "&b=2",
                      "https://h/p?a=1&ACCESS_TOKEN=***&b=2");
        redact_expect("https://h/p?x=%3F&client_secret=", s, n, "#frag",
                      "https://h/p?x=%3F&client_secret=***");
        redact_expect("https://h/p?refresh_token=", s, n, "&token=zz",
                      "https://h/p?refresh_token=***&token=***");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_parse(s, size);
    check_path(s, size);
    check_escape(s, size);
    check_redact(s, size);
    /* the same bytes as host[:port]/path after each scheme */
    if (size < 4096) {
        static const char *const schemes[] = {"http://", "HTTPS://"};
        for (int i = 0; i < 2; i++) {
            hs_buf b;
            hs_buf_init(&b);
            if (hs_buf_adds(&b, schemes[i]) != 0 || hs_buf_add(&b, s, size) != 0 ||
                hs_buf_cstr(&b) != 0)
                abort();
            check_parse(b.data, b.len);
            hs_buf_free(&b);
        }
    }
    return 0;
}
