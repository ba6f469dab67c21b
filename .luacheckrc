-- luacheck configuration: lua/ runs on Lua 5.1-5.4 and LuaJIT.
std = "max"
max_line_length = 120
files["spec/"] = { std = "+busted" }
files["examples/openresty/"] = { globals = { "ngx" } }
-- the modules that only run inside nginx (ngx_lua)
files["lua/hubsoft/nginx.lua"] = { read_globals = { "ngx" } }
files["lua/hubsoft/nginx_thread.lua"] = { read_globals = { "ngx" } }
files["spec/support/nginx_app.lua"] = { globals = { "ngx" } }
files["bench/nginx_app.lua"] = { globals = { "ngx" } }
files["examples/ivr/"] = { globals = { "extensions", "hints", "channel", "app", "session", "argv", "freeswitch" } }
exclude_files = { "build*/", "bench/data/", "bench/out/" }
-- the fake server's seed data and its spec hold long literal records
files["lua/hubsoft/fake_server.lua"] = { max_line_length = false }
files["spec/fake_server_spec.lua"] = { std = "+busted", max_line_length = false }
-- the stand-in mimics Asterisk's channel API, whose methods take self
files["spec/support/asterisk_standin.lua"] = {
  unused_args = false, globals = { "extensions", "channel", "app", "session", "freeswitch", "argv" },
}
