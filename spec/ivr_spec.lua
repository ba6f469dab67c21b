-- examples/ivr: the Asterisk (pbx_lua) and FreeSWITCH (mod_lua) phone menus, each call
-- run under lua5.1 in its own process (as a PBX gives each call its own Lua state), with
-- spec/support/asterisk_standin.lua standing in for the channel/app (or session) API,
-- against the fake HubSoft server. Pending when lua5.1 or build-5.1 cannot be had.

local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local CONTEXT = "hubsoft-ura"
-- fake customers: 24930 LAVYNIA (codigo 1864, CPF 86214941081, phone 3733334444;
-- services 17812, 17813), 24931 BIANCA (codigo 1204, phone 81987654321; service 12345)
local CPF_LAVYNIA = "86214941081"
local NOTIFICAR, CANCELAR = "/api/v1/integracao/pbx/ligacao/notificar", "/api/v1/integracao/pbx/ligacao/cancelar"

local capture, quote = util.capture, util.quote

local ROOT = capture("pwd")

local function why_skip()
  if not util.command_exists("lua5.1") then return "lua5.1 is not installed" end
  local missing = util.core_missing("5.1")
  if missing then return missing end
  if not util.sh("lua5.1 -e 'require \"cjson\"; require \"socket\"' >/dev/null 2>&1") then
    return "lua-cjson / LuaSocket for Lua 5.1 are not installed"
  end
end

-- values of the calls recorded for one application
local function args_of(doc, app)
  local out = {}
  for _, c in ipairs(doc.calls) do
    if c.app == app then out[#out + 1] = c.args end
  end
  return out
end

local function played(doc, app)
  local out = {}
  for _, a in ipairs(args_of(doc, app or "playback")) do out[#out + 1] = a[1] end
  return out
end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

describe("examples/ivr (pbx_lua / mod_lua dial plans under lua5.1)", function()
  local reason = why_skip()
  if reason then
    pending("skipped: " .. reason)
    return
  end

  local srv, dir, logins0, api_requests

  --- Runs one call in a new lua5.1 process. opts: callerid, inputs (list), freeswitch,
  -- dialstatus, env (table). Returns the decoded record and the process' output.
  local function call(opts)
    local out = dir .. "/out.json"
    os.remove(out)
    local c = srv:config()
    local env = {
      HUBSOFT_BASE_URL = c.base_url, HUBSOFT_CLIENT_ID = c.client_id,
      HUBSOFT_CLIENT_SECRET = c.client_secret, HUBSOFT_USERNAME = c.username,
      HUBSOFT_PASSWORD = c.password,
      HUBSOFT_TOKEN_FILE = dir .. "/hubsoft-token.json",
      HUBSOFT_IVR_DIR = ROOT .. "/examples/ivr",
      HUBSOFT_TIMEOUT = "5",
      LUA_PATH = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;",
      LUA_CPATH = ROOT .. "/build-5.1/?.so;;",
      STANDIN_CALLERID = opts.callerid or "",
      STANDIN_INPUTS = table.concat(opts.inputs or {}, ","),
      STANDIN_DIALSTATUS = opts.dialstatus or "",
      STANDIN_OUT = out,
    }
    for k, v in pairs(opts.env or {}) do env[k] = v end
    local assigns = {}
    for k, v in pairs(env) do assigns[#assigns + 1] = k .. "=" .. quote(v) end
    local script = opts.freeswitch and "examples/ivr/freeswitch_ura.lua" or "examples/ivr/extensions.lua"
    local cmd = ("cd %s && env %s lua5.1 spec/support/asterisk_standin.lua %s %s %s %s"):format(
      quote(ROOT), table.concat(assigns, " "), opts.freeswitch and "--freeswitch" or "",
      script, opts.freeswitch and "" or CONTEXT, opts.freeswitch and "" or (opts.exten or "s"))
    local output = capture(cmd)
    local text = util.read_file(out)
    assert(text, "the stand-in wrote nothing:\n" .. output)
    local doc = cjson.decode(text)
    assert.is_nil(doc.error, tostring(doc.error) .. "\n" .. output)
    return doc, output
  end

  local TRANSFER = { HUBSOFT_IVR_DESTINO = "PJSIP/111", HUBSOFT_IVR_RAMAL = "111" }

  local function tickets_of(id_cs)
    local out = {}
    for _, t in ipairs(srv:state().atendimentos) do
      if t.id_cliente_servico == id_cs then out[#out + 1] = t end
    end
    return out
  end

  setup(function()
    srv = fake.start { seed_tickets = 0 }
    dir = util.tmpdir()
    -- LAVYNIA had a ticket on service 17812, now closed. Made with a direct login
    -- (not the menu's token file).
    local token = srv:login()
    local auth = { authorization = "Bearer " .. token, accept = "application/json" }
    local code, text = srv:http("POST", "/api/v1/integracao/atendimento", {
      id_cliente_servico = 17812, descricao = "Lentidão", nome = "LAVYNIA", telefone = "3733334444",
    }, auth)
    assert(code == 200 and cjson.decode(text).status ~= "error", text)
    local id = ("%d"):format(cjson.decode(text).atendimento.id_atendimento) -- "5001", not "5001.0"
    code, text = srv:http("PUT", "/api/v1/integracao/atendimento/" .. id, { fechar_atendimento = true }, auth)
    assert(code == 200 and cjson.decode(text).status ~= "error", text)
    assert.are.equal(0, #srv:requests("/api/v1/integracao/cliente"))
    logins0 = srv:stats().logins
    api_requests = function() return #srv:requests("/api/v1/integracao/") end
  end)

  teardown(function()
    if srv then srv:stop() end
    util.rm_tmpdir(dir)
  end)

  it("knows the caller by caller ID, opens a ticket on their service and says its protocol", function()
    local before = #tickets_of(17812)
    local doc = call { callerid = "+55 (37) 3333-4444" }
    assert.are.equal("aberto", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(0, #args_of(doc, "read"), "nothing asked: the caller ID was enough")
    -- looked up by phone, the number normalised to DDNNNNNNNNN
    local lookups = srv:requests("/api/v1/integracao/cliente")
    assert.matches("busca=telefone", lookups[1].query)
    assert.matches("termo_busca=3733334444", lookups[1].query)
    -- the ticket exists in the fake server, open, on her first service, with her number and name
    local after = tickets_of(17812)
    assert.are.equal(before + 1, #after)
    local t = after[#after]
    assert.is_false(t.fechado)
    assert.are.equal(doc.vars.HUBSOFT_PROTOCOLO, t.protocolo)
    assert.are.equal("3733334444", t.telefone)
    assert.are.equal("LAVYNIA DE ASSUNÇÃO", t.nome)
    -- what the caller heard: "aberto", "seu protocolo", then the digits
    local p = played(doc)
    assert.is_true(contains(p, "hubsoft/atendimento-aberto"))
    assert.is_true(contains(p, "hubsoft/seu-protocolo"))
    local said = args_of(doc, "saydigits")
    assert.are.equal(1, #said)
    assert.are.equal(t.protocolo, said[1][1])
    assert.are.equal("answer", doc.calls[1].app)
    assert.are.equal(0, #args_of(doc, "dial"), "no destination configured: no transfer")
    assert.are.equal(logins0 + 1, srv:stats().logins)
  end)

  it("a second call (another process) finds the open ticket and does not log in again", function()
    local total = srv:state().total
    local doc = call { callerid = "3733334444" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    local open = tickets_of(17812)
    assert.are.equal(open[#open].protocolo, doc.vars.HUBSOFT_PROTOCOLO)
    assert.are.equal(open[#open].protocolo, args_of(doc, "saydigits")[1][1])
    assert.is_true(contains(played(doc), "hubsoft/atendimento-em-andamento"))
    assert.are.equal(total, srv:state().total, "no new ticket")
    assert.are.equal(logins0 + 1, srv:stats().logins, "the token file spared the login")
    assert.are.equal("600", capture("stat -c %a " .. quote(dir .. "/hubsoft-token.json")))
  end)

  it("an unknown number types a CPF; a mistyped one is caught by its check digits", function()
    local doc = call { callerid = "8133330000", inputs = { "86214941082", CPF_LAVYNIA } }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    local reads = args_of(doc, "read")
    assert.are.equal(2, #reads)
    assert.are.equal("HUBSOFT_DIGITOS", reads[1][1])
    assert.are.equal("hubsoft/digite-cpf", reads[1][2])
    assert.are.equal("hubsoft/numero-invalido", played(doc)[1])
    -- the typo never reached HubSoft: one search by phone, one by the right CPF
    local searches = {}
    for _, r in ipairs(srv:requests("/api/v1/integracao/cliente")) do
      if r.path == "/api/v1/integracao/cliente" then searches[#searches + 1] = r.query end
    end
    assert.matches("termo_busca=8133330000", searches[#searches - 1])
    assert.matches("termo_busca=" .. CPF_LAVYNIA, searches[#searches])
  end)

  it("transfers with the customer popped up for the attendant; an answered call keeps it", function()
    assert.are.equal(0, #tickets_of(12345))
    local doc = call { callerid = "081987654321", env = TRANSFER }
    assert.are.equal("aberto", doc.vars.HUBSOFT_RESULTADO)
    local t = tickets_of(12345)
    assert.are.equal(1, #t)
    assert.are.equal("81987654321", t[1].telefone)
    -- the pop-up: the attendant's extension, the caller, the customer and the protocol
    local pops = srv:suporte().ligacoes
    assert.are.equal(1, #pops)
    assert.are.equal("111", pops[1].ramal)
    assert.are.equal("81987654321", pops[1].telefone)
    assert.are.equal(1204, pops[1].codigo_cliente)
    assert.are.same({ origem = "URA", resultado = "aberto", protocolo = t[1].protocolo }, pops[1].ligacao_params)
    -- then the Dial, after the protocol was said
    assert.are.same({ { "PJSIP/111", 30 } }, args_of(doc, "dial"))
    local order = {}
    for _, c in ipairs(doc.calls) do order[#order + 1] = c.app end
    local said_at, dial_at
    for i, a in ipairs(order) do
      if a == "saydigits" then said_at = i elseif a == "dial" then dial_at = i end
    end
    assert.is_true(said_at < dial_at)
    -- answered: the pop-up stays with the attendant, the hang-up that follows cancels nothing
    assert.is_true(contains(order, "h"))
    assert.are.equal(0, #srv:requests(CANCELAR))
    assert.is_true(srv:suporte().ligacoes[1].aberta)
    assert.are.equal(logins0 + 1, srv:stats().logins)
  end)

  it("a transfer nobody answers closes the pop-up", function()
    local doc = call { callerid = "81987654321", env = TRANSFER, dialstatus = "NOANSWER" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    local pops = srv:suporte().ligacoes
    assert.are.equal(2, #pops)
    assert.is_false(pops[2].aberta)
    local cancel = srv:requests(CANCELAR)
    assert.are.equal(1, #cancel)
    assert.are.same({ ramal = "111", telefone = "81987654321" }, cjson.decode(cancel[1].body))
    assert.are.equal("0", doc.vars.HUBSOFT_POPUP)
  end)

  it("a caller who hangs up during the transfer: the h extension closes the pop-up, once", function()
    local before = #srv:requests(CANCELAR)
    local doc = call { callerid = "81987654321", env = TRANSFER, dialstatus = "CANCEL" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(1, #args_of(doc, "dial"))
    assert.are.equal(0, #args_of(doc, "hangup"), "pbx_lua ended the extension at the Dial")
    local pops = srv:suporte().ligacoes
    assert.is_false(pops[#pops].aberta)
    assert.are.equal(before + 1, #srv:requests(CANCELAR))
  end)

  it("an answered transfer the caller ends first keeps the attendant's pop-up (h cancels nothing)", function()
    local before = #srv:requests(CANCELAR)
    local doc = call { callerid = "81987654321", env = TRANSFER, dialstatus = "ANSWER_HANGUP" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal("ANSWER", doc.vars.DIALSTATUS)
    assert.are.equal(0, #args_of(doc, "hangup"), "pbx_lua ended the extension at the Dial")
    local order = {}
    for _, c in ipairs(doc.calls) do order[#order + 1] = c.app end
    assert.is_true(contains(order, "h"))
    -- the attendant took the call: the pop-up is theirs to use, not a missed call
    assert.are.equal(before, #srv:requests(CANCELAR))
    local pops = srv:suporte().ligacoes
    assert.is_true(pops[#pops].aberta)
    -- FreeSWITCH: the bridge answered, then the caller hung up
    doc = call { freeswitch = true, callerid = "81987654321", env = TRANSFER, dialstatus = "ANSWER_HANGUP" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(before, #srv:requests(CANCELAR))
    pops = srv:suporte().ligacoes
    assert.is_true(pops[#pops].aberta)
  end)

  it("FreeSWITCH: the same menu through session:*, bridged, the pop-up closed when unanswered", function()
    local before = #srv:requests(NOTIFICAR)
    local doc = call { freeswitch = true, callerid = "81987654321", env = TRANSFER, dialstatus = "NOANSWER" }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    local t = tickets_of(12345)
    assert.are.equal(1, #t, "no second ticket")
    local say = args_of(doc, "say")
    assert.are.equal(1, #say)
    assert.are.same({ t[1].protocolo, "pt", "number", "iterated" }, say[1])
    assert.is_true(contains(played(doc, "streamFile"), "hubsoft/seu-protocolo.wav"))
    assert.are.equal("answer", doc.calls[1].app)
    assert.are.same({ { "bridge", "PJSIP/111" } }, args_of(doc, "execute"))
    assert.are.equal(before + 1, #srv:requests(NOTIFICAR))
    local pops = srv:suporte().ligacoes
    assert.is_false(pops[#pops].aberta)
    -- a CPF typed through session:read when the number is not a phone number
    doc = call { freeswitch = true, callerid = "anonymous", inputs = { "", CPF_LAVYNIA } }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(2, #args_of(doc, "read"))
    assert.are.equal(logins0 + 1, srv:stats().logins)
  end)

  it("FreeSWITCH: a caller who hangs up after hearing the protocol leaves no pop-up open", function()
    local before = #srv:suporte().ligacoes
    local doc = call { freeswitch = true, callerid = "81987654321",
      env = util.with(TRANSFER, { STANDIN_HANGUP_AFTER = "say" }) }
    assert.are.equal("existente", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(1, #args_of(doc, "say"))
    assert.are.equal(0, #args_of(doc, "execute"), "nobody left to bridge")
    -- no attendant is left with the pop-up of a call that will never reach them
    local pops = srv:suporte().ligacoes
    for i = before + 1, #pops do
      assert.is_false(pops[i].aberta)
    end
  end)

  it("gives up after three bad CPFs without calling HubSoft", function()
    local before = api_requests()
    local doc = call { callerid = "", inputs = { "123", "", "999" } }
    assert.are.equal("nao_identificado", doc.vars.HUBSOFT_RESULTADO)
    assert.are.equal(3, #args_of(doc, "read"))
    -- "invalid" after each wrong number (a timeout says nothing), then "not identified"
    assert.are.same({ "hubsoft/numero-invalido", "hubsoft/numero-invalido", "hubsoft/nao-identificado" },
      played(doc))
    assert.are.equal(before, api_requests())
  end)

  it("says the system is unavailable, and sends the call to a person, when HubSoft fails", function()
    srv:fault { kind = "status", status = 503, match = "/api/v1/integracao/cliente", times = 5 }
    local doc = call { callerid = "81987654321", env = { HUBSOFT_IVR_FALLBACK = "atendentes,s,1" } }
    assert.are.equal("erro", doc.vars.HUBSOFT_RESULTADO)
    assert.is_true(contains(played(doc), "hubsoft/sistema-indisponivel"))
    assert.are.same({ "atendentes", "s", 1 }, args_of(doc, "goto")[1])
    assert.are.equal(0, #args_of(doc, "saydigits"))
    -- the log line names the failure, never a secret
    local verbose = args_of(doc, "verbose")
    assert.is_true(#verbose >= 1)
    local c = srv:config()
    for _, v in ipairs(verbose) do
      assert.falsy(tostring(v[2]):find(c.password, 1, true))
    end
  end)
end)
