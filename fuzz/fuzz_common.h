/* Shared bits of the fuzz targets: an input reader and invariant failures. */
#ifndef HUBSOFT_FUZZ_COMMON_H
#define HUBSOFT_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Consumes the fuzz input from the front. */
typedef struct hs_reader {
    const uint8_t *p;
    size_t n;
} hs_reader;

__attribute__((unused)) static uint8_t hs_rd_u8(hs_reader *r)
{
    uint8_t v;
    if (r->n == 0)
        return 0;
    v = r->p[0];
    r->p++;
    r->n--;
    return v;
}

__attribute__((unused)) static uint16_t hs_rd_u16(hs_reader *r)
{
    uint16_t hi = hs_rd_u8(r);
    return (uint16_t)((hi << 8) | hs_rd_u8(r));
}

/* Up to `want` bytes; *got says how many were there. */
__attribute__((unused)) static const uint8_t *hs_rd_bytes(hs_reader *r, size_t want, size_t *got)
{
    const uint8_t *p = r->p;
    if (want > r->n)
        want = r->n;
    r->p += want;
    r->n -= want;
    *got = want;
    return p;
}

/* A NUL-terminated heap copy of exactly n bytes (so ASan sees exact bounds). */
__attribute__((unused)) static char *hs_fuzz_dup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* An invariant broke: say which, then abort so libFuzzer keeps the input. */
__attribute__((unused, format(printf, 1, 2))) static void hs_fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("INVARIANT BROKEN: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#endif
