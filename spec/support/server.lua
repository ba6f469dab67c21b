--- Start, control and stop the fake HubSoft server from specs, examples and
-- benchmarks: the package's own hubsoft.fake_control, run on the checkout's
-- lua/hubsoft/fake_server.lua.
--
--   local fake = require "spec.support.server"
--   local srv = fake.start { seed_tickets = 0 }
--   local api = hubsoft.new(srv:config())
--   srv:fault { kind = "drop_before", match = "/oauth/token" }
--   srv:stop()
--
-- The server itself runs under lua5.4 when it is installed (else the running
-- interpreter), so every interpreter's suite talks to the same server code.

local control = require "hubsoft.fake_control"
local util = require "spec.support.util"

local M = {}

M.DEFAULT_CREDENTIALS = control.CREDENTIALS

local function pick_lua()
  if util.command_exists("lua5.4") then return "lua5.4" end
  if util.command_exists(util.LUA) then return util.LUA end
  return "lua"
end

local function script_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)[/\\][^/\\]*$") or "."
  return dir .. "/../../lua/hubsoft/fake_server.lua"
end

--- Starts a server (hubsoft.fake_control.start's options; `lua` defaults to
-- $HUBSOFT_FAKE_LUA, else lua5.4 when installed, else the running interpreter).
function M.start(opts)
  local o = util.copy(opts or {})
  o.lua = o.lua or os.getenv("HUBSOFT_FAKE_LUA") or pick_lua()
  o.script = o.script or script_path()
  local ok, srv = pcall(control.start, o)
  if not ok then error(srv, 2) end
  return srv
end

return M
