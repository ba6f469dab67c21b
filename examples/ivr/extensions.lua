-- Asterisk dial plan in Lua (pbx_lua, Lua 5.1): /etc/asterisk/extensions.lua
--
-- The "hubsoft-ura" context answers, knows the customer by caller ID (else by a CPF/CNPJ
-- typed on the keypad), says the protocol of their open HubSoft ticket, or opens one and
-- says its protocol; then, with HUBSOFT_IVR_DESTINO set, pops the customer up on the
-- attendant's HubSoft screen and Dial()s them. An unanswered transfer, or a caller who
-- hangs up, closes the pop-up (the `h` extension). The work is in hubsoft_ura.lua.
--
--   ; extensions.conf (or another Lua context) sends calls here:
--   exten => 4000,1,Goto(hubsoft-ura,s,1)
--
-- Environment of the asterisk process (e.g. a systemd drop-in for asterisk.service):
--   HUBSOFT_BASE_URL (HUBSOFT_URL also works), HUBSOFT_CLIENT_ID,
--   HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD,
--   HUBSOFT_TOKEN_FILE (writable by asterisk; one login serves every call while valid),
--   HUBSOFT_IVR_DESTINO (Dial() argument, e.g. "PJSIP/111"), HUBSOFT_IVR_RAMAL (that
--   attendant's extension in HubSoft, for the pop-up),
--   HUBSOFT_IVR_DIR (where hubsoft_ura.lua is, if not on LUA_PATH),
--   HUBSOFT_IVR_SOUNDS (prompt folder under Asterisk's sounds, default "hubsoft"),
--   HUBSOFT_IVR_FALLBACK ("context,exten,priority" to send a call that could not be
--   served to a person; without it the call is hung up after the message),
--   LUA_PATH / LUA_CPATH reaching lua-hubsoft built for Lua 5.1 (see examples/ivr/README.md).
--
-- pbx_lua gives every call its own Lua state, so a client made here lives for one
-- call; the token file is what spares a login per call. The HubSoft request runs in
-- the channel's own thread: it holds up this call only.

local ivr_dir = os.getenv("HUBSOFT_IVR_DIR")
if ivr_dir and ivr_dir ~= "" then
  package.path = ivr_dir .. "/?.lua;" .. package.path
end

local function sound(name)
  local dir = os.getenv("HUBSOFT_IVR_SOUNDS")
  if dir == nil or dir == "" then dir = "hubsoft" end
  return dir .. "/" .. name
end

local function voice_of()
  return {
    caller_id = function() return channel.CALLERID("num"):get() end,
    play = function(prompt) app.playback(sound(prompt)) end,
    say_digits = function(digits) app.saydigits(digits) end,
    read_digits = function(prompt, max, seconds)
      -- Read(variable,filename,maxdigits,options,attempts,timeout): "#" ends early
      app.read("HUBSOFT_DIGITOS", sound(prompt), max, "", 1, seconds)
      return channel.HUBSOFT_DIGITOS:get()
    end,
    set = function(name, value) channel[name]:set(value) end,
    get = function(name) return channel[name]:get() end,
    log = function(msg) app.verbose(1, msg) end,
  }
end

local function ura(context, extension) -- luacheck: no unused args
  local ura_lib = require "hubsoft_ura"
  app.answer()
  local voice = voice_of()
  local ok, result = pcall(ura_lib.run, voice)
  if not ok then -- a bug or a bad configuration: never leave the caller in silence
    app.verbose(1, "hubsoft-ura: " .. tostring(result))
    app.playback(sound(ura_lib.PROMPTS.indisponivel))
    channel.HUBSOFT_RESULTADO:set("erro")
    result = { resultado = "erro" }
  end
  local destino = os.getenv("HUBSOFT_IVR_DESTINO")
  if destino and destino ~= "" then
    -- If the caller hangs up during the Dial, pbx_lua ends this function and
    -- Asterisk runs the `h` extension, which closes the pop-up.
    app.dial(destino, 30)
    if channel.DIALSTATUS:get() == "ANSWER" then
      channel.HUBSOFT_POPUP:set("0") -- the attendant took the call and the pop-up
    else
      ura_lib.cancel_popup(voice) -- NOANSWER, BUSY, CONGESTION...
    end
    return app.hangup()
  end
  if result.resultado == "existente" or result.resultado == "aberto" then
    return app.hangup()
  end
  local fallback = os.getenv("HUBSOFT_IVR_FALLBACK")
  if fallback and fallback ~= "" then
    local c, e, p = fallback:match("^([^,]+),([^,]+),(%d+)$")
    if c then return app["goto"](c, e, tonumber(p)) end
  end
  return app.hangup()
end

-- The call ended (the caller hung up, or after the hangup above): a pop-up still
-- open is closed, unless the attendant answered. A caller who ends an answered
-- call makes Dial fail, so pbx_lua never reached the line after it; DIALSTATUS
-- still says ANSWER, and that pop-up is the attendant's, not a missed call.
local function hangup_handler()
  if channel.DIALSTATUS:get() == "ANSWER" then return end
  require("hubsoft_ura").cancel_popup(voice_of())
end

extensions = {
  ["hubsoft-ura"] = {
    ["s"] = ura,
    -- dialled straight into the context (e.g. a DID routed here)
    ["_X."] = ura,
    ["h"] = hangup_handler,
  },
}

hints = {}
