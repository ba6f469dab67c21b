--- A stand-in for Asterisk's pbx_lua (and, with --freeswitch, FreeSWITCH's mod_lua
-- `session`), to run the dial-plan scripts of examples/ivr/ outside a PBX.
--
--   lua5.1 spec/support/asterisk_standin.lua examples/ivr/extensions.lua [context] [exten]
--   lua5.1 spec/support/asterisk_standin.lua --freeswitch examples/ivr/freeswitch_ura.lua
--
-- Asterisk: defines the `channel` and `app` globals the way pbx_lua does
-- (`channel.NAME:get()`, `channel.NAME:set(v)`, `channel.FUNC("arg"):get()`,
-- `app.<application>(...)`), loads the extensions file, and calls
-- `extensions[context][exten](context, exten)` (default "hubsoft-ura", "s").
-- FreeSWITCH: defines `session` (getVariable, setVariable, answer, ready, streamFile,
-- say, speak, read, set_tts_params, hangup) and `freeswitch.consoleLog`, then runs
-- the script.
--
-- Input from the environment: STANDIN_CALLERID (the caller's number), STANDIN_INPUTS
-- (what the caller types at each successive read, separated by commas; an empty item
-- is a timeout), STANDIN_DIALSTATUS (how a transfer ends: ANSWER, the default,
-- NOANSWER, CANCEL: the caller hangs up while it rings, which in pbx_lua ends the
-- extension with an error and in FreeSWITCH makes session:ready() false, or
-- ANSWER_HANGUP: the attendant answers and the caller ends the call first, so Dial
-- fails with DIALSTATUS already ANSWER, as Dial does in a real PBX),
-- STANDIN_HANGUP_AFTER (FreeSWITCH: the caller hangs up once the session has done
-- this method, e.g. "say": session:ready() is false from then on). After the
-- extension, the context's `h` extension runs, as Asterisk runs it when the call ends.
-- Output: a JSON document in the file STANDIN_OUT (else on stdout):
--   {"calls": [{"app": "playback", "args": ["hubsoft/seu-protocolo"]}, ...],
--    "vars": {"HUBSOFT_RESULTADO": "aberto", ...}, "error": "..." (when the script raised)}
-- Exits 0 when the script ran to the end, 1 when it raised.

local cjson = require "cjson"

local args = { ... }
local freeswitch_mode = false
if args[1] == "--freeswitch" then
  freeswitch_mode = true
  table.remove(args, 1)
end
local script = assert(args[1], "usage: asterisk_standin.lua [--freeswitch] SCRIPT [CONTEXT [EXTEN]]")

local calls = {}
local vars = {}
local inputs = {}
do
  local s = os.getenv("STANDIN_INPUTS")
  if s and s ~= "" then
    for item in (s .. ","):gmatch("([^,]*),") do inputs[#inputs + 1] = item end
  end
end
local next_input = 0

local function record(name, ...)
  local n = select("#", ...)
  local a = {}
  for i = 1, n do
    local v = select(i, ...)
    if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then v = tostring(v) end
    a[i] = v
  end
  calls[#calls + 1] = { app = name, args = a }
end

local function typed()
  next_input = next_input + 1
  return inputs[next_input] or ""
end

local caller = os.getenv("STANDIN_CALLERID") or ""
local dialstatus = os.getenv("STANDIN_DIALSTATUS")
if dialstatus == nil or dialstatus == "" then dialstatus = "ANSWER" end
local HANGUP = {} -- what pbx_lua raises when the channel hangs up during an application

if not freeswitch_mode then
  vars["CALLERID(num)"] = caller
  vars["CALLERID(all)"] = '"" <' .. caller .. ">"

  -- channel.NAME -> an object with :get() / :set(v); channel.FUNC("a", "b") -> FUNC(a,b)
  local function variable(name)
    local v = { name = name }
    return setmetatable(v, {
      __index = {
        get = function(self) return vars[self.name] end,
        set = function(self, value)
          record("set", self.name, value)
          vars[self.name] = value ~= nil and tostring(value) or nil
        end,
      },
      __call = function(_, ...)
        return variable(name .. "(" .. table.concat({ ... }, ",") .. ")")
      end,
    })
  end
  channel = setmetatable({}, { __index = function(_, name) return variable(name) end })

  -- app.<name>(...) records the call; Read also stores what the caller typed
  app = setmetatable({}, {
    __index = function(_, name)
      local lname = name:lower()
      return function(...)
        record(lname, ...)
        if lname == "read" then
          local var = ...
          vars[var] = typed()
        elseif lname == "dial" then
          vars.DIALSTATUS = dialstatus == "ANSWER_HANGUP" and "ANSWER" or dialstatus
          if dialstatus == "CANCEL" or dialstatus == "ANSWER_HANGUP" then error(HANGUP, 0) end
        end
        return 0
      end
    end,
  })
else
  local fs_vars = { caller_id_number = caller, destination_number = "4000" }
  local answered, hung_up = false, false
  local hangup_after = os.getenv("STANDIN_HANGUP_AFTER")
  local S = {}
  function S:ready() return not hung_up end
  local function maybe_hang_up(method)
    if method == hangup_after then hung_up = true end
  end
  function S:execute(app_name, data)
    record("execute", app_name, data)
    if app_name == "bridge" then
      fs_vars.originate_disposition = ({ ANSWER = "SUCCESS", ANSWER_HANGUP = "SUCCESS",
        NOANSWER = "NO_ANSWER" })[dialstatus] or "ORIGINATOR_CANCEL"
      hung_up = dialstatus == "CANCEL" or dialstatus == "ANSWER_HANGUP"
    end
  end
  function S:answer() answered = true; record("answer") end
  function S:answered() return answered end
  function S:getVariable(k) return fs_vars[k] end
  function S:setVariable(k, v) record("set", k, v); fs_vars[k] = v; vars[k] = v end
  function S:streamFile(f) record("streamFile", f); maybe_hang_up("streamFile") end
  function S:say(text, lang, kind, method) record("say", text, lang, kind, method); maybe_hang_up("say") end
  function S:speak(text) record("speak", text); maybe_hang_up("speak") end
  function S:set_tts_params(e, v) record("set_tts_params", e, v) end
  function S:read(min, max, file, timeout, terminators)
    record("read", min, max, file, timeout, terminators)
    return typed()
  end
  function S:hangup(cause) record("hangup", cause) end
  session = setmetatable({}, { __index = S })
  freeswitch = { consoleLog = function(level, msg) record("consoleLog", level, msg) end }
  argv = { [0] = script }
end

local ok, err = pcall(function()
  local chunk = assert(loadfile(script))
  if freeswitch_mode then
    return chunk()
  end
  chunk()
  local context = args[2] or "hubsoft-ura"
  local exten = args[3] or "s"
  assert(type(extensions) == "table", "the script defines no `extensions` table")
  local ctx = assert(extensions[context], "no context " .. context)
  local fn = assert(ctx[exten], "no extension " .. exten .. " in " .. context)
  local done, why = pcall(fn, context, exten)
  if not done and why ~= HANGUP then error(why, 0) end
  if ctx.h then
    record("h")
    ctx.h(context, "h")
  end
end)

local doc = { calls = calls, vars = vars }
if not ok then doc.error = tostring(err) end
local out = cjson.encode(doc)
local path = os.getenv("STANDIN_OUT")
if path and path ~= "" then
  local f = assert(io.open(path, "wb"))
  f:write(out)
  f:close()
else
  io.write(out, "\n")
end
os.exit(ok and 0 or 1)
