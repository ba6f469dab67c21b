-- FreeSWITCH (mod_lua) version of the HubSoft phone menu; the work is in hubsoft_ura.lua.
-- With HUBSOFT_IVR_DESTINO set (a bridge string, e.g. "user/111"), the call is bridged to
-- the attendant after the menu, with the customer popped up on their HubSoft screen
-- (HUBSOFT_IVR_RAMAL); an unanswered bridge or a caller who hangs up closes the pop-up.
--
--   <!-- dialplan -->
--   <extension name="hubsoft-ura">
--     <condition field="destination_number" expression="^4000$">
--       <action application="lua" data="freeswitch_ura.lua"/>
--     </condition>
--   </extension>
--
-- Put this file and hubsoft_ura.lua in FreeSWITCH's script folder (or set
-- HUBSOFT_IVR_DIR), make lua-hubsoft built for Lua 5.1 reachable through LUA_PATH /
-- LUA_CPATH, and set the HUBSOFT_* variables of hubsoft_ura.lua in the environment of
-- the freeswitch process. Prompts are "<HUBSOFT_IVR_SOUNDS>/<name>.wav" (default
-- folder "hubsoft", relative to sound_prefix); digits are said with session:say in
-- HUBSOFT_IVR_LANG (default "pt", mod_say_pt), or spoken with session:speak when
-- HUBSOFT_IVR_TTS="engine|voice" is set.
-- Every call runs this script in a fresh Lua state: the token file spares a login per
-- call. The HubSoft request blocks this call's thread only.

local ivr_dir = os.getenv("HUBSOFT_IVR_DIR")
if ivr_dir and ivr_dir ~= "" then
  package.path = ivr_dir .. "/?.lua;" .. package.path
end

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local SOUNDS = env("HUBSOFT_IVR_SOUNDS", "hubsoft")
local LANG = env("HUBSOFT_IVR_LANG", "pt")
local TTS = env("HUBSOFT_IVR_TTS", nil)

local function file(prompt) return SOUNDS .. "/" .. prompt .. ".wav" end

local ura = require "hubsoft_ura"

if not session:ready() then return end
session:answer()

if TTS then
  local engine, voice_name = TTS:match("^([^|]+)|?(.*)$")
  session:set_tts_params(engine, voice_name)
end

local voice = {
  caller_id = function() return session:getVariable("caller_id_number") end,
  play = function(prompt)
    if session:ready() then session:streamFile(file(prompt)) end
  end,
  say_digits = function(digits)
    if not session:ready() then return end
    if TTS then
      session:speak((digits:gsub("%d", "%0 ")))
    else
      session:say(digits, LANG, "number", "iterated")
    end
  end,
  read_digits = function(prompt, max, seconds)
    if not session:ready() then return nil end
    -- read(min, max, prompt file, timeout in ms, terminators)
    return session:read(1, max, file(prompt), seconds * 1000, "#")
  end,
  set = function(name, value) session:setVariable(name, value) end,
  get = function(name) return session:getVariable(name) end,
  log = function(msg) freeswitch.consoleLog("NOTICE", msg .. "\n") end,
}

local ok, result = pcall(ura.run, voice)
if not ok then
  freeswitch.consoleLog("ERR", "hubsoft-ura: " .. tostring(result) .. "\n")
  voice.play(ura.PROMPTS.indisponivel)
  session:setVariable("HUBSOFT_RESULTADO", "erro")
end

local destino = env("HUBSOFT_IVR_DESTINO", nil)
if destino then
  -- mod_lua goes on after a hang-up (session:ready() turns false): a caller who
  -- hung up while the menu was talking is never bridged, and the pop-up opened
  -- for them must be closed all the same
  if session:ready() then session:execute("bridge", destino) end
  -- SUCCESS: the attendant answered and has the pop-up; anything else
  -- (NO_ANSWER, USER_BUSY, ORIGINATOR_CANCEL when the caller hung up, no
  -- bridge at all) closes it
  if session:getVariable("originate_disposition") ~= "SUCCESS" then
    ura.cancel_popup(voice)
  end
end
-- the dialplan continues after the lua application: route on ${HUBSOFT_RESULTADO}
