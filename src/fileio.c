/* Writing the token file: a fresh temp file in the same folder (mkstemp:
 * O_EXCL, mode 0600, a name nobody could have planted a symlink at), fsync,
 * then rename, so a reader sees the old file or the new one, never half of
 * one, and nobody else can read the token. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

int hs_l_write_file_atomic(lua_State *L)
{
    size_t plen, dlen, off = 0;
    const char *path = luaL_checklstring(L, 1, &plen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    char tmp[4096];
    int fd, n, err;
    n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        lua_pushnil(L);
        lua_pushliteral(L, "path too long");
        return 2;
    }
    fd = mkstemp(tmp);
    if (fd < 0)
        goto fail;
    while (off < dlen) {
        ssize_t w = write(fd, data + off, dlen - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            close(fd);
            unlink(tmp);
            errno = err;
            goto fail;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        err = errno;
        close(fd);
        unlink(tmp);
        errno = err;
        goto fail;
    }
    if (close(fd) != 0) {
        err = errno;
        unlink(tmp);
        errno = err;
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        errno = err;
        goto fail;
    }
    lua_pushboolean(L, 1);
    return 1;
fail:
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
}
