#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void hs_buf_init(hs_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int hs_buf_reserve(hs_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    need = b->len + extra + 1; /* room for a terminating NUL */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int hs_buf_add(hs_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (hs_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int hs_buf_addc(hs_buf *b, char c)
{
    if (b->len + 1 >= b->cap && hs_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

int hs_buf_adds(hs_buf *b, const char *s)
{
    return hs_buf_add(b, s, strlen(s));
}

int hs_buf_cstr(hs_buf *b)
{
    if (hs_buf_reserve(b, 0) != 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}

void hs_buf_clear(hs_buf *b)
{
    b->len = 0;
}

void hs_buf_wipe(hs_buf *b)
{
    if (b->data != NULL) {
        volatile char *p = b->data;
        size_t i;
        for (i = 0; i < b->cap; i++)
            p[i] = 0;
    }
    b->len = 0;
}

void hs_buf_free(hs_buf *b)
{
    free(b->data);
    hs_buf_init(b);
}

void hs_buf_shrink(hs_buf *b, size_t keep)
{
    if (b->cap > keep) {
        free(b->data);
        hs_buf_init(b);
    } else {
        b->len = 0;
    }
}
