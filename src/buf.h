/* A growable byte buffer. Plain C: no Lua, so the transport can use it. */
#ifndef HUBSOFT_BUF_H
#define HUBSOFT_BUF_H

#include <stddef.h>

typedef struct hs_buf {
    char *data;
    size_t len;
    size_t cap;
} hs_buf;

void hs_buf_init(hs_buf *b);
/* Make room for at least `extra` more bytes. 0 on success, -1 on overflow/OOM. */
int hs_buf_reserve(hs_buf *b, size_t extra);
int hs_buf_add(hs_buf *b, const void *p, size_t n);
int hs_buf_addc(hs_buf *b, char c);
int hs_buf_adds(hs_buf *b, const char *s);
/* Terminate with NUL (not counted in len). */
int hs_buf_cstr(hs_buf *b);
void hs_buf_clear(hs_buf *b);
/* Overwrite the contents with zeros (for buffers that held secrets). */
void hs_buf_wipe(hs_buf *b);
void hs_buf_free(hs_buf *b);
/* Release memory above `keep` bytes so one huge response does not pin memory. */
void hs_buf_shrink(hs_buf *b, size_t keep);

#endif
