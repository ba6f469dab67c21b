-- The twelve defects an independent review of the C core found (issue 9),
-- one block each. The memory ones also fail under scripts/check-sanitize.sh
-- or scripts/check-valgrind.sh without their fix.
local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"
local STATUS = API .. "/configuracao/status_atendimento"
local merge = util.with

-- Runs `code` in a child interpreter (the one running the suite) with the
-- module paths of this process; returns the child's pid and the files its
-- stdout, stderr and exit status go to.
local function spawn_lua(code, args)
  local script, out, err, st = util.tmpname(), util.tmpname(), util.tmpname(), util.tmpname()
  util.write_file(script, code)
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s %s %s"):format(util.quote(package.path),
    util.quote(package.cpath), util.LUA, util.quote(script), table.concat((function()
      local q = {}
      for i, a in ipairs(args or {}) do q[i] = util.quote(a) end
      return q
    end)(), " "))
  local pidfile = util.tmpname()
  -- the child runs in the background of a shell that waits for it and keeps
  -- its exit status; SIGINT goes to the child itself
  util.sh(("sh -c %s >/dev/null 2>&1 &"):format(util.quote(
    ("%s >%s 2>%s & echo $! >%s; wait $!; echo $? >%s"):format(cmd, util.quote(out),
      util.quote(err), util.quote(pidfile), util.quote(st)))))
  assert(util.wait_until(5, function() return (util.read_file(pidfile) or ""):match("%d+") end))
  local pid = util.read_file(pidfile):match("%d+")
  return pid, out, err, st, function()
    for _, f in ipairs { script, out, err, st, pidfile } do os.remove(f) end
  end
end

describe("review defects", function()
  local srv

  setup(function() srv = fake.start { seed_tickets = 30 } end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("1: __index on opts or attachments that closes or re-enters the client", function()
    it("a closing opts.__index gives kind closed, and nothing is sent", function()
      local api = hubsoft.new(srv:config())
      local opts = setmetatable({}, { __index = function() api:close() end })
      local r, err = api:request("GET", STATUS, opts)
      assert.is_nil(r)
      assert.equal("closed", err.kind)
      assert.equal(0, #srv:requests(API))
    end)

    it("a closing attachment __index gives kind closed, and nothing is sent", function()
      local api = hubsoft.new(srv:config())
      local item = setmetatable({ data = "abc" }, {
        __index = function(_, k) if k == "filename" then api:close() end end,
      })
      local r, err = api:request("POST", API .. "/atendimento/adicionar_anexo/1", { files = { item } })
      assert.is_nil(r)
      assert.equal("closed", err.kind)
      assert.equal(0, #srv:requests(API))
    end)

    it("a call made from an attachment __index does not change the outer call", function()
      local api = hubsoft.new(srv:config())
      local nested
      local item = setmetatable({ data = "outer" }, {
        __index = function(_, k)
          if k == "filename" then
            -- three attachments: the client's attachment array grows
            nested = { api:request("POST", API .. "/atendimento/adicionar_anexo/2", { files = {
              { data = "1", filename = "a.txt" }, { data = "2", filename = "b.txt" },
              { data = "3", filename = "c.txt" } } }) }
            return "outer.txt"
          end
        end,
      })
      api:request("POST", API .. "/atendimento/adicionar_anexo/1", { files = { item } })
      assert.is_table(nested)
      local reqs = srv:requests(API .. "/atendimento/adicionar_anexo/")
      assert.equal(2, #reqs)
      assert.equal(API .. "/atendimento/adicionar_anexo/2", reqs[1].path)
      assert.equal(3, #reqs[1].body.parts)
      assert.equal(API .. "/atendimento/adicionar_anexo/1", reqs[2].path)
      assert.equal(1, #reqs[2].body.parts)
      assert.equal("outer.txt", reqs[2].body.parts[1].filename)
      api:close()
    end)

    it("a token_store.load answer whose __index closes the client answers kind closed", function()
      local api
      api = hubsoft.new(merge(srv:config(), { token_store = {
        load = function()
          return setmetatable({}, { __index = function(_, k)
            if k == "access_token" then
              api:close()
              return "stolen-moment-token"
            end
          end })
        end,
        save = function() end,
      } }))
      local r, err = api:request("GET", STATUS)
      assert.is_nil(r)
      assert.equal("closed", err.kind)
      assert.equal(0, #srv:requests(API))
    end)

    it("a prefetch whose opts.__index closes the client answers kind closed", function()
      local api = hubsoft.new(srv:config())
      local pf = api:_prefetch(2)
      local opts = setmetatable({}, { __index = function() api:close() end })
      local id, err = pf:add("GET", STATUS, opts)
      assert.is_nil(id)
      assert.equal("closed", err.kind)
      pf:close()
    end)
  end)

  it("2: an access_token supplied by the config's __index is the one sent", function()
    -- a long string (never interned) that only the stack holds once
    -- __index returns it; the server refuses it, but records the header
    local token = ("t"):rep(60)
    for i = 1, 20 do
      local cfg = setmetatable({ base_url = srv.url }, {
        __index = function(_, k) if k == "access_token" then return table.concat { token, i } end end,
      })
      local api = hubsoft.new(cfg)
      collectgarbage()
      collectgarbage()
      api:request("GET", STATUS)
      api:close()
      local reqs = srv:requests(API)
      assert.equal("Bearer " .. token .. i, reqs[#reqs].headers.authorization)
    end
  end)

  it("3: a huge number key is encoded as JSON, not as stack bytes", function()
    -- the key reads as the same number written as a value would be
    local text = core.encode(1e300)
    assert.equal(1e300, tonumber(text))
    assert.equal('{"' .. text .. '":true}', core.encode { [1e300] = true })
    assert.equal('{"-' .. text .. '":1}', core.encode { [-1e300] = 1 })
    local api = hubsoft.new(srv:config())
    api:request("POST", API .. "/cliente/x", { json = { [1e300] = "v" } })
    local r = srv:requests(API .. "/cliente/x")[1]
    assert.equal('{"' .. text .. '":"v"}', r.body)
    api:close()
  end)

  describe("4: CR/LF in tokens never reaches a header", function()
    local EVIL = "abc\r\nX-Injected: 1"

    local function injected()
      for _, r in ipairs(srv:requests()) do
        if r.headers["x-injected"] then return true end
      end
      return false
    end

    it("refuses such a config.access_token when the client is made", function()
      local ok, msg = pcall(hubsoft.new, { base_url = srv.url, access_token = EVIL })
      assert.is_false(ok)
      assert.matches("access_token", msg)
      assert.not_matches("abc", msg)
    end)

    it("ignores such a token from token_store.load and logs in", function()
      local store = {
        load = function()
          return { access_token = EVIL, token_type = "Bearer", expires_at = os.time() + 3600 }
        end,
        save = function() end,
      }
      local api = hubsoft.new(merge(srv:config(), { token_store = store }))
      assert(api:request("GET", STATUS))
      assert.is_false(injected())
      assert.equal(1, #srv:requests("/oauth/token"))
      api:close()
    end)

    for _, field in ipairs { "access_token", "token_type" } do
      it("refuses a login answer with one in its " .. field, function()
        local answer = { access_token = srv:login(), token_type = "Bearer", expires_in = 3600 }
        answer[field] = answer[field] .. "\r\nX-Injected: 1"
        srv:fault { kind = "body", match = "/oauth/token", body = answer }
        local api = hubsoft.new(srv:config())
        local r, err = api:request("GET", STATUS)
        assert.is_nil(r)
        assert.equal("auth", err.kind)
        assert.is_false(injected())
        assert.equal(0, #srv:requests(API))
        api:close()
      end)
    end
  end)

  for _, huge in ipairs { "1e300", "9223372036854775807", "-5" } do
    it("5: expires_in " .. huge .. " gives a sane expiry, no login per call", function()
      local body = ('{"access_token":"%s","token_type":"Bearer","expires_in":%s}'):format(srv:login(), huge)
      srv:fault { kind = "body", match = "/oauth/token", body = body }
      local logins = #srv:requests("/oauth/token")
      local api = hubsoft.new(srv:config())
      local token = assert(api:authenticate())
      assert.is_number(token.expires_at)
      if huge == "-5" then
        assert.is_true(token.expires_at <= os.time() + 1)
      else
        assert.is_true(token.expires_at > os.time() + 86400)
        assert.is_true(token.expires_at < os.time() + 400000000)
        for _ = 1, 3 do assert(api:request("GET", STATUS)) end
        assert.equal(logins + 1, #srv:requests("/oauth/token"))
      end
      api:close()
    end)
  end

  describe("6: dot segments however written are refused before sending", function()
    local api
    before_each(function() api = hubsoft.new(srv:config()) end)
    after_each(function() api:close() end)

    for _, path in ipairs {
      API .. "/%2e%2e/%2e%2e/oauth/token", API .. "/.%2e/x", API .. "/%2E%2E/x", API .. "/%2e/x",
      API .. "/..;/x", API .. "/..;a=b/x", API .. "/%2e%2e;x/y", API .. "/a/..%2fb", API .. "/a%2F..%2Fb",
      API .. "/..", API .. "/.",
    } do
      it(path, function()
        local r, err = api:request("GET", path)
        assert.is_nil(r)
        assert.equal("validation", err.kind)
        assert.equal("path", err.field)
        assert.equal(0, #srv:requests())
      end)
    end

    it("still sends dots inside a segment and parameters", function()
      api:request("GET", API .. "/a.b/..c/x..;p=1/%2e%2ex")
      assert.equal(1, #srv:requests(API))
    end)
  end)

  it("7: a password shorter than 4 bytes echoed by the server is scrubbed", function()
    srv:set { password = "x9" }
    local api = hubsoft.new(srv:config())
    assert(api:authenticate())
    srv:fault { kind = "status", status = 500, match = API, body = { message = "senha x9 recusada" } }
    local r, err = api:request("GET", STATUS)
    assert.is_nil(r)
    assert.not_matches("x9", err.message)
    assert.not_matches("x9", tostring(err))
    assert.matches("senha %*%*%* recusada", err.message)
    assert.equal("GET", err.method)
    api:close()
  end)

  it("8: a hook that closes the prefetch during pf:add leaves it closed, nothing leaks", function()
    local pf
    local api = hubsoft.new(merge(srv:config(), {
      on_request = function() if pf then pf:close() end end,
    }))
    pf = api:_prefetch(2)
    local id, err = pf:add("GET", STATUS) -- logs in first: the hook runs
    assert.is_nil(id)
    assert.equal("closed", err.kind)
    assert.equal(0, #srv:requests(API))
    api:close()
  end)

  describe("9: Ctrl-C during a slow request ends the script with the interpreter's error", function()
    local SCRIPT = [[
      local hubsoft = require "hubsoft"
      local api = hubsoft.new { base_url = arg[1], access_token = arg[2] }
      if arg[3] == "each" then
        for _ in api:each("todos_atendimentos", { data_inicio = "2025-03-01",
          data_fim = "2025-03-31", itens_por_pagina = 10 }, { concurrency = 2 }) do end
      else
        api:request("GET", "/api/v1/integracao/configuracao/status_atendimento")
      end
      print("went on")
    ]]

    for _, mode in ipairs { "request", "each" } do
      it("in " .. mode, function()
        srv:seed { tickets = 30, data_inicio = "2025-03-01", data_fim = "2025-03-31" }
        srv:fault { kind = "delay", seconds = 30, match = API, times = 5 }
        local pid, out, err, st, clean = spawn_lua(SCRIPT, { srv.url, srv:login(), mode })
        assert.is_true(util.wait_until(10, function() return #srv:requests(API) > 0 end))
        util.sh("kill -INT " .. pid)
        -- the delay is 30 s: ending well before it means the call was cut
        assert.is_true(util.wait_until(10, function() return (util.read_file(st) or "") ~= "" end))
        assert.not_equal("0", util.read_file(st):match("%d+"))
        assert.matches("interrupted", util.read_file(err))
        assert.not_matches("went on", util.read_file(out) or "")
        clean()
      end)
    end
  end)

  describe("9: Ctrl-C inside a callback of ours (hook, token_store) is not swallowed", function()
    -- The callbacks run under the core's pcall; the interpreter's SIGINT hook
    -- clears itself before it raises, so a caught "interrupted!" used to be
    -- reported as the callback's failure and the script went on.
    local SCRIPT = [[
      if jit then jit.off() end -- hooks fire in interpreted code only
      local hubsoft = require "hubsoft"
      local function spin()
        io.stdout:write("spinning\n"); io.stdout:flush()
        local t = os.time()
        while os.time() - t < 20 do end
      end
      local config = { base_url = arg[1] }
      if arg[3] == "hook" then
        config.access_token = arg[2]
        config.on_request = spin
      else
        for k, v in pairs { client_id = "3", client_secret = "fake-client-secret-XYZ",
                             username = "bot@provedor.com.br", password = "s3nh@-Secreta!" } do
          config[k] = v
        end
        config.token_store = { load = spin, save = function() end }
      end
      local api = hubsoft.new(config)
      api:request("GET", "/api/v1/integracao/configuracao/status_atendimento")
      print("went on")
    ]]

    for _, mode in ipairs { "hook", "store" } do
      it("in the " .. mode, function()
        local pid, out, err, st, clean = spawn_lua(SCRIPT, { srv.url, srv:login(), mode })
        assert.is_true(util.wait_until(10, function()
          return (util.read_file(out) or ""):find("spinning", 1, true) ~= nil
        end))
        util.sh("kill -INT " .. pid)
        assert.is_true(util.wait_until(15, function() return (util.read_file(st) or "") ~= "" end))
        assert.not_equal("0", util.read_file(st):match("%d+"))
        assert.matches("interrupted!", util.read_file(err), 1, true)
        assert.not_matches("failed", util.read_file(err))
        assert.not_matches("went on", util.read_file(out) or "")
        clean()
      end)
    end
  end)

  describe("10: a failing token_store.save is reported once on stderr, the call goes on", function()
    local SCRIPT = [[
      local hubsoft = require "hubsoft"
      local mode = arg[6]
      local api = hubsoft.new { base_url = arg[1], client_id = arg[2], client_secret = arg[3],
        username = arg[4], password = arg[5], token_store = {
          load = function() return nil end,
          save = function(t)
            if mode == "raise" then error("cannot save " .. t.access_token) end
            if mode == "file" then
              return hubsoft.file_token_store("/nonexistent-dir/sub/token.json").save(t)
            end
            return nil, "disk full"
          end } }
      for _ = 1, 3 do assert(api:authenticate()) end
      assert(api:request("GET", "/api/v1/integracao/configuracao/status_atendimento"))
      print("done")
    ]]
    for _, mode in ipairs { "nil", "raise", "file" } do
      it("when save " .. (mode == "raise" and "raises" or "returns nil, msg (" .. mode .. ")"), function()
        local c = srv.credentials
        local pid, out, err, st, clean = spawn_lua(SCRIPT,
          { srv.url, c.client_id, c.client_secret, c.username, c.password, mode })
        assert(pid)
        assert.is_true(util.wait_until(20, function() return (util.read_file(st) or "") ~= "" end))
        assert.equal("0", util.read_file(st):match("%d+"))
        assert.matches("done", util.read_file(out))
        local e = util.read_file(err)
        local _, n = e:gsub("token_store%.save failed", "")
        assert.equal(1, n)
        if mode == "nil" then assert.matches("disk full", e) end
        for _, r in ipairs(srv:requests("/oauth/token")) do
          assert(r) -- every token issued stays out of stderr
        end
        assert.not_matches(c.password, e, 1, true)
        assert.is_nil(e:match("cannot save [%w]+[^%*]"))
        clean()
      end)
    end
  end)

  it("11: a GET refused twice with a configured access_token describes the GET", function()
    local api = hubsoft.new { base_url = srv.url, access_token = "revoked-token-1234" }
    local r, err = api:request("GET", STATUS)
    assert.is_nil(r)
    assert.equal("auth", err.kind)
    assert.equal("GET", err.method)
    assert.equal(401, err.status)
    assert.is_true(err.attempts >= 1)
    assert.matches("/configuracao/status_atendimento", err.url, 1, true)
    api:close()
  end)

  describe("one attachment rule for the endpoint and for api:request", function()
    local api
    before_each(function() api = hubsoft.new(srv:config()) end)
    after_each(function() api:close() end)

    for _, name in ipairs { 'a"b.txt', "a\r\nX: 1.txt", "a\0b.txt", "" } do
      it(("refuses the filename %q before sending"):format(name), function()
        local item = { data = "x", filename = name }
        local r, err = api:adicionar_anexos(1, { item })
        assert.is_nil(r)
        assert.equal("validation", err.kind)
        r, err = api:request("POST", API .. "/atendimento/adicionar_anexo/1", { files = { item } })
        assert.is_nil(r)
        assert.equal("validation", err.kind)
        assert.equal(0, #srv:requests(API))
      end)
    end

    it("refuses a content_type with a line break or a NUL in api:request too", function()
      for _, ct in ipairs { "text/plain\r\nX: 1", "text/plain\0x" } do
        local r, err = api:request("POST", API .. "/atendimento/adicionar_anexo/1",
          { files = { { data = "x", filename = "a.txt", content_type = ct } } })
        assert.is_nil(r)
        assert.equal("validation", err.kind)
      end
      assert.equal(0, #srv:requests(API))
    end)
  end)

  describe("12: the LDoc reference", function()
    local function dump(file)
      return util.capture("ldoc --filter pl.pretty.dump " .. file)
    end
    local has_ldoc = util.command_exists("ldoc")

    it("documents prepare, not failure, and hides the internal helpers", function()
      if not has_ldoc then return pending("ldoc is not installed") end
      local e = dump("lua/hubsoft/endpoints.lua")
      assert.matches('name = "prepare"', e, 1, true)
      assert.not_matches('name = "failure"', e, 1, true)
      assert.not_matches('name = "install"', e, 1, true)
      local p = dump("lua/hubsoft/paginate.lua")
      for _, name in ipairs { "sequential_fetcher", "install", "read_page" } do
        assert.not_matches('name = "' .. name .. '"', p, 1, true)
      end
      assert.is_nil(require("hubsoft.paginate").sequential_fetcher)
    end)

    it("lists every config key hubsoft.new accepts", function()
      local src = util.read_file("lua/hubsoft/init.lua")
      local doc = src:match("%-%-%- Create a client%.(.-)M%.new = core%.new")
      for _, key in ipairs { "base_url", "client_id", "client_secret", "username", "password",
        "access_token", "token_store", "timeout", "connect_timeout", "retries", "verify_tls",
        "ca_file", "ca_path", "proxy", "allow_http", "user_agent", "keep_nulls", "on_request",
        "max_response_size", "retry_delay", "retry_max_delay", "compress" } do
        -- the key is one the core accepts, and the doc names it
        local ok, msg = pcall(hubsoft.new, { base_url = srv.url, access_token = "t", [key] = {} })
        assert(ok or not tostring(msg):match("unknown config key"), key)
        assert.matches("`" .. key .. "`", doc, 1, true)
      end
    end)
  end)
end)
