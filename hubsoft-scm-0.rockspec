-- LuaRocks package of lua-hubsoft: `luarocks make` from a clone builds the C
-- core with the compiler LuaRocks is configured with, for the Lua it targets
-- (--lua-version=5.1|5.2|5.3|5.4; LuaJIT and OpenResty use the 5.1 tree).
-- The C source list must stay the same as HUBSOFT_SOURCES in CMakeLists.txt,
-- and this file the same as the release rockspecs (hubsoft-X.Y.Z-1.rockspec)
-- but for `version` and `source` (scripts/check-packaging.sh checks both).
-- Debian's lua-cjson and lua-socket packages are not LuaRocks rocks: there,
-- `luarocks make --deps-mode=none` (README, "Install").
rockspec_format = "3.0"
package = "hubsoft"
version = "scm-0"

source = {
  url = "git+https://github.com/lua-hubsoft/lua-hubsoft.git",
  branch = "main",
}

description = {
  summary = "Client for the HubSoft ISP ticket (atendimento) API, with a C core over libcurl",
  detailed = [[
Open, update, close and list HubSoft support tickets (atendimentos) from Lua
5.1 to 5.4, LuaJIT and OpenResty: validation before sending, one login shared
through a token_store, retries that never duplicate a write, errors that never
hold a secret, iterators over both pagination shapes.]],
  homepage = "https://github.com/lua-hubsoft/lua-hubsoft",
  license = "MIT",
  labels = { "http", "api", "libcurl", "helpdesk", "openresty" },
}

dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1", -- the C core encodes and decodes JSON through it
  "luasocket >= 3.0", -- hubsoft.fake_server and `hubsoft fake-server` (not the client)
}

-- Only the library is looked up: on multiarch systems (Debian, Ubuntu) curl/curl.h
-- lives in /usr/include/<triplet>, which the compiler searches by itself but
-- LuaRocks does not. Elsewhere pass CURL_DIR=/prefix (or CURL_INCDIR, CURL_LIBDIR).
external_dependencies = {
  CURL = { library = "curl" },
}

build = {
  type = "builtin",
  modules = {
    ["hubsoft"] = "lua/hubsoft/init.lua",
    ["hubsoft.cli.config"] = "lua/hubsoft/cli/config.lua",
    ["hubsoft.cli.export"] = "lua/hubsoft/cli/export.lua",
    ["hubsoft.cli.help"] = "lua/hubsoft/cli/help.lua",
    ["hubsoft.cli.main"] = "lua/hubsoft/cli/main.lua",
    ["hubsoft.cli.params"] = "lua/hubsoft/cli/params.lua",
    ["hubsoft.cli.progress"] = "lua/hubsoft/cli/progress.lua",
    ["hubsoft.cli.rows"] = "lua/hubsoft/cli/rows.lua",
    ["hubsoft.cli.writers"] = "lua/hubsoft/cli/writers.lua",
    ["hubsoft.endpoints"] = "lua/hubsoft/endpoints.lua",
    ["hubsoft.fake_control"] = "lua/hubsoft/fake_control.lua",
    ["hubsoft.fake_server"] = "lua/hubsoft/fake_server.lua",
    ["hubsoft.normalize"] = "lua/hubsoft/normalize.lua",
    ["hubsoft.nginx"] = "lua/hubsoft/nginx.lua",
    ["hubsoft.nginx_thread"] = "lua/hubsoft/nginx_thread.lua",
    ["hubsoft.paginate"] = "lua/hubsoft/paginate.lua",
    ["hubsoft.shared_dict_store"] = "lua/hubsoft/shared_dict_store.lua",
    ["hubsoft.thread_values"] = "lua/hubsoft/thread_values.lua",
    ["hubsoft.token_store"] = "lua/hubsoft/token_store.lua",
    ["hubsoft.validate"] = "lua/hubsoft/validate.lua",
    ["hubsoft.core"] = {
      sources = {
        -- bottom, middle, binding (docs/INTERNALS.md)
        "src/buf.c", "src/urlenc.c", "src/jsontext.c", "src/multipart.c", "src/transport.c",
        "src/kinds.c", "src/retry.c", "src/token.c", "src/call.c",
        "src/json.c", "src/errors.c", "src/interrupt.c", "src/hook.c", "src/result.c",
        "src/config.c", "src/client.c", "src/auth.c", "src/request.c", "src/prefetch.c",
        "src/fileio.c", "src/hubsoft.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src", "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl", "m" },
    },
  },
  install = {
    bin = { hubsoft = "bin/hubsoft" },
  },
  copy_directories = { "docs", "examples" },
}
