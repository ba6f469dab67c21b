-- The core client against the fake server over loopback: config checks,
-- the token lifecycle, the error model, JSON, close and GC.
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local with, tmpname = util.with, util.tmpname

describe("hubsoft core client", function()
  local srv

  setup(function() srv = fake.start {} end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("hubsoft.new", function()
    local function rejects(cfg, pattern)
      local ok, err = pcall(hubsoft.new, cfg)
      assert.is_false(ok)
      assert.matches(pattern, tostring(err))
    end

    it("exposes the version and the null sentinel", function()
      assert.matches("^%d+%.%d+%.%d+$", hubsoft.VERSION)
      assert.is_not_nil(hubsoft.null)
    end)

    it("refuses a missing or malformed base_url", function()
      rejects({access_token = "x"}, "base_url is required")
      rejects({base_url = 42, access_token = "x"}, "base_url is required and must be a string")
      rejects({base_url = "ftp://h", access_token = "x"}, "base_url must start with https:// or http://")
      rejects({base_url = "https://", access_token = "x"}, "must name a host")
      rejects({base_url = "https://h/x?y=1", access_token = "x"}, "query string")
      rejects({base_url = "https://h:99999", access_token = "x"}, "port")
    end)

    it("refuses credentials inside base_url without echoing them", function()
      local ok, err = pcall(hubsoft.new, {base_url = "https://user:hunter2@api.isp.com.br",
                                          access_token = "x"})
      assert.is_false(ok)
      assert.matches("must not contain credentials", err)
      assert.is_nil(err:find("hunter2", 1, true))
    end)

    it("refuses plain http to a non-loopback host unless allow_http", function()
      rejects({base_url = "http://api.isp.com.br", access_token = "x"}, "allow_http")
      assert.is_truthy(hubsoft.new {base_url = "http://api.isp.com.br", access_token = "x",
                                    allow_http = true})
      assert.is_truthy(hubsoft.new {base_url = "http://127.0.0.1:1", access_token = "x"})
      assert.is_truthy(hubsoft.new {base_url = "http://localhost:1", access_token = "x"})
      assert.is_truthy(hubsoft.new {base_url = "http://[::1]:1", access_token = "x"})
    end)

    it("refuses unknown keys and wrong types, naming the key", function()
      local base = {base_url = srv.url, access_token = "x"}
      rejects(with(base, {timout = 5}), "unknown config key 'timout'")
      rejects(with(base, {timeout = "5"}), "config.timeout must be a number")
      rejects(with(base, {timeout = 0}), "config.timeout must be between")
      rejects(with(base, {retries = 1.5}), "config.retries must be a whole number")
      rejects(with(base, {retries = -1}), "config.retries must be between")
      rejects(with(base, {verify_tls = "no"}), "config.verify_tls must be a boolean")
      rejects(with(base, {keep_nulls = 1}), "config.keep_nulls must be a boolean")
      rejects(with(base, {on_request = true}), "config.on_request must be a function")
      rejects(with(base, {token_store = {load = print}}), "token_store must have functions")
      rejects(with(base, {user_agent = "a\nb"}), "user_agent must not contain control")
    end)

    it("refuses a NUL byte inside a config string, which C would cut the value at", function()
      -- found by the Lua-level fuzzer (F10): client_secret "a\0b" logged in as "a"
      local base = srv:config()
      for _, key in ipairs { "client_id", "client_secret", "username", "password", "user_agent",
                             "ca_file", "ca_path", "proxy" } do
        rejects(with(base, {[key] = "abc\0def"}), "config%." .. key .. " must not contain a NUL byte")
      end
      local ok, err = pcall(hubsoft.new, with(base, {password = "s3nh@\0-Secreta"}))
      assert.is_false(ok)
      assert.is_nil(tostring(err):find("s3nh@", 1, true), "the password is not echoed")
      rejects(with(base, {["password\0x"] = "p"}), "unknown config key 'password' followed by a NUL byte")
    end)

    it("wants all four credentials together, or a token", function()
      rejects({base_url = srv.url}, "needs client_id, client_secret, username and password")
      rejects({base_url = srv.url, client_id = "3", username = "u", password = "p"},
              "config.client_secret is required")
    end)

    it("never puts a secret value in a config error", function()
      local ok, err = pcall(hubsoft.new, with(srv:config(), {client_secret = {}}))
      assert.is_false(ok)
      assert.is_nil(tostring(err):find(srv.credentials.password, 1, true))
    end)
  end)

  describe("token lifecycle", function()
    it("logs in lazily, once, for many calls over one connection", function()
      local api = hubsoft.new(srv:config())
      assert.equals(0, srv:stats().logins)
      for _ = 1, 5 do
        assert.is_table(assert(api:configuracao("status_atendimento")))
      end
      local st = srv:stats()
      assert.equals(1, st.logins)
      assert.equals(1, st.connections)
      local reqs = srv:requests("/api/")
      assert.equals(5, #reqs)
      for _, r in ipairs(reqs) do
        assert.matches("^Bearer tok%-", r.headers["authorization"])
        assert.equals("application/json", r.headers["accept"])
        assert.matches("^lua%-hubsoft/", r.headers["user-agent"])
      end
    end)

    it("authenticate() returns the token table with expires_at", function()
      local api = hubsoft.new(srv:config())
      local before = os.time()
      local tok = assert(api:authenticate())
      assert.is_string(tok.access_token)
      assert.equals("Bearer", tok.token_type)
      assert.equals(2592000, tok.expires_in)
      assert.is_true(tok.expires_at >= before + 2592000 and tok.expires_at <= os.time() + 2592000)
      assert.is_string(tok.refresh_token)
      local body = srv:requests("/oauth/token")[1].body
      local sent = require("cjson").decode(body)
      assert.equals("password", sent.grant_type)
      assert.equals(srv.credentials.username, sent.username)
    end)

    it("uses a given access_token as is, without logging in", function()
      local tok = srv:login()
      local api = hubsoft.new {base_url = srv.url, access_token = tok}
      assert(api:configuracao("status_atendimento"))
      assert.equals(1, srv:stats().logins) -- only the srv:login() above
    end)

    it("logs in again once after a 401 and repeats the request once", function()
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento"))
      srv:revoke()
      assert(api:configuracao("status_atendimento"))
      assert.equals(2, srv:stats().logins)
      assert.equals(3, #srv:requests("/api/"))
    end)

    it("gives up with kind auth when the new token is rejected too (no loop)", function()
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento"))
      srv:fault {kind = "revoke", match = "/api/", times = 2}
      local res, err = api:configuracao("status_atendimento")
      assert.is_nil(res)
      assert.equals("auth", err.kind)
      assert.equals(401, err.status)
      assert.equals(2, srv:stats().logins)
      assert.equals(3, #srv:requests("/api/"))
    end)

    it("refuses wrong credentials with kind auth and the server's reason", function()
      local api = hubsoft.new(with(srv:config(), {password = "wrong-password"}))
      local res, err = api:configuracao("status_atendimento")
      assert.is_nil(res)
      assert.equals("auth", err.kind)
      assert.equals(401, err.status)
      assert.matches("credentials were incorrect", err.message)
      assert.is_false(err.retryable)
      assert.equals(0, #srv:requests("/api/"))
    end)

    it("shares a token between two clients through one token_store", function()
      local saved
      local store = {
        load = function() return saved end,
        save = function(t) saved = t end,
      }
      local a = hubsoft.new(with(srv:config(), {token_store = store}))
      local b = hubsoft.new(with(srv:config(), {token_store = store}))
      assert(a:configuracao("status_atendimento"))
      assert(b:configuracao("status_atendimento"))
      assert.equals(1, srv:stats().logins)
      assert.is_string(saved.access_token)
      assert.is_number(saved.expires_at)
    end)

    it("after a 401 takes a newer token another client saved instead of logging in", function()
      local saved
      local store = {load = function() return saved end, save = function(t) saved = t end}
      local a = hubsoft.new(with(srv:config(), {token_store = store}))
      local b = hubsoft.new(with(srv:config(), {token_store = store}))
      assert(a:configuracao("status_atendimento"))
      assert(b:configuracao("status_atendimento"))
      srv:revoke()
      assert(a:configuracao("status_atendimento")) -- 401, logs in, saves the new token
      assert(b:configuracao("status_atendimento")) -- 401, finds a's new token in the store
      assert.equals(2, srv:stats().logins)
    end)

    it("logs in again when the stored token has expired", function()
      local store = {
        load = function() return {access_token = "old", token_type = "Bearer",
                                  expires_at = os.time() - 10} end,
        save = function() end,
      }
      local api = hubsoft.new(with(srv:config(), {token_store = store}))
      assert(api:configuracao("status_atendimento"))
      assert.equals(1, srv:stats().logins)
    end)

    it("survives a token_store that raises", function()
      local store = {
        load = function() error("disk on fire") end,
        save = function() error("disk still on fire") end,
      }
      local api = hubsoft.new(with(srv:config(), {token_store = store}))
      assert(api:configuracao("status_atendimento"))
    end)

    it("two consecutive processes sharing a file_token_store log in once", function()
      local path = tmpname()
      local script = tmpname() .. ".lua"
      util.write_file(script, ([[
        local hubsoft = require "hubsoft"
        local cfg = %s
        cfg.token_store = hubsoft.file_token_store(%q)
        local api = hubsoft.new(cfg)
        assert(api:configuracao("status_atendimento"))
        print("ok")
      ]]):format(("{base_url=%q, client_id=%q, client_secret=%q, username=%q, password=%q}")
        :format(srv.url, srv.credentials.client_id, srv.credentials.client_secret,
                srv.credentials.username, srv.credentials.password), path))
      for _ = 1, 2 do
        local _, out = util.run(util.LUA .. " " .. util.quote(script) .. " 2>&1")
        assert.equals("ok\n", out)
      end
      assert.equals(1, srv:stats().logins)
      assert.equals(2, #srv:requests("/api/"))
      local mode = util.capture("stat -c %a " .. util.quote(path))
      assert.equals("600", mode)
      os.remove(path)
      os.remove(script)
    end)
  end)

  describe("errors", function()
    local hooks, api
    before_each(function()
      hooks = {}
      api = hubsoft.new(with(srv:config(), {
        retries = 0, timeout = 1,
        on_request = function(info) hooks[#hooks + 1] = info end,
      }))
      assert(api:authenticate())
    end)

    local function fails(kind, res, err)
      assert.is_nil(res)
      assert.is_table(err)
      assert.equals(kind, err.kind)
      assert.is_string(err.message)
      assert.matches("^hubsoft " .. kind .. " error: ", tostring(err))
      return err
    end

    it("api: HTTP 200 with status error, keeping the server's errors", function()
      srv:fault {kind = "error", match = "/configuracao/"}
      local err = fails("api", api:configuracao("status_atendimento"))
      assert.equals(200, err.status)
      assert.matches("Erro simulado", err.message)
      assert.same({"Falha simulada."}, err.errors)
      assert.equals("GET", err.method)
      assert.matches("/configuracao/status_atendimento$", err.url)
      assert.equals(1, err.attempts)
    end)

    it("treats any status but error as success, suscess included", function()
      srv:fault {kind = "body", match = "/configuracao/",
                 body = '{"status":"suscess","atendimentos":[]}'}
      local res = assert(api:configuracao("status_atendimento"))
      assert.equals("suscess", res.status)
    end)

    it("http: a 5xx HTML page", function()
      srv:fault {kind = "html500", match = "/configuracao/"}
      local err = fails("http", api:configuracao("status_atendimento"))
      assert.equals(500, err.status)
      assert.matches("HTML", err.message)
      assert.is_true(err.retryable)
    end)

    it("http: a server stack trace is never the message", function()
      srv:fault {kind = "stack", match = "/configuracao/"}
      local err = fails("api", api:configuracao("status_atendimento"))
      assert.equals(500, err.status)
      assert.is_nil(tostring(err):find("Controller.php", 1, true))
      assert.is_nil(tostring(err):find("#0", 1, true))
    end)

    it("decode: JSON cut short inside a complete response", function()
      srv:fault {kind = "truncate_json", match = "/configuracao/"}
      local err = fails("decode", api:configuracao("status_atendimento"))
      assert.equals(200, err.status)
    end)

    it("network: the connection dropped before any answer", function()
      srv:fault {kind = "drop_before", match = "/configuracao/"}
      local err = fails("network", api:configuracao("status_atendimento"))
      assert.is_nil(err.status)
      assert.is_nil(hooks[#hooks].status)
    end)

    it("network: connection refused, flagged retryable", function()
      local down = hubsoft.new {base_url = "http://127.0.0.1:9", access_token = "abcd", retries = 0}
      local err = fails("network", down:request("GET", "/x"))
      assert.is_true(err.retryable)
      assert.equals(1, err.attempts)
    end)

    it("timeout: a server slower than the timeout", function()
      srv:fault {kind = "delay", seconds = 3, match = "/configuracao/"}
      local err = fails("timeout", api:configuracao("status_atendimento"))
      assert.is_nil(err.status)
    end)

    it("closed: a closed client answers nil, err and close is idempotent", function()
      assert.is_true(api:close())
      assert.is_true(api:close())
      fails("closed", api:configuracao("status_atendimento"))
      fails("closed", api:request("GET", "/x"))
      fails("closed", api:authenticate())
    end)

    it("validation: request checks method and path before sending", function()
      local n = #srv:requests()
      local err = fails("validation", api:request("BREW", "/x"))
      assert.equals("method", err.field)
      err = fails("validation", api:request("GET", "x"))
      assert.equals("path", err.field)
      err = fails("validation", api:request("GET", "/a/../b"))
      assert.equals("path", err.field)
      err = fails("validation", api:request("GET", "/a?b=1"))
      assert.equals("path", err.field)
      err = fails("validation", api:request("GET", "/a", {quer = {b = 1}}))
      assert.equals("opts", err.field)
      assert.matches("unknown key", err.message)
      err = fails("validation", api:request("POST", "/a", {json = {x = function() end}}))
      assert.matches("json.x", err.message)
      err = fails("validation", api:request("POST", "/a", {files = {"/nonexistent/file.png"}}))
      assert.equals("files[1]", err.field)
      assert.equals(n, #srv:requests())
    end)

    it("no secret appears in any error, its string or a hook record", function()
      local tok = assert(api:authenticate())
      local collected = {}
      local function keep(_, err) if err then collected[#collected + 1] = err end end
      srv:fault {kind = "body", match = "/configuracao/", status = 200,
                 body = '{"status":"error","msg":"bad token ' .. tok.access_token .. '",' ..
                        '"errors":["password ' .. srv.credentials.password .. '"]}'}
      keep(api:configuracao("status_atendimento"))
      for _, kind in ipairs {"error", "html500", "stack", "truncate_json", "drop_before",
                             "revoke", "html502", "truncate"} do
        srv:fault {kind = kind, match = "/configuracao/"}
        keep(api:configuracao("status_atendimento"))
      end
      keep(api:request("GET", "/api/v1/integracao/configuracao/x",
                       {query = {password = srv.credentials.password,
                                 access_token = tok.access_token}}))
      local bad = hubsoft.new(with(srv:config(), {password = "wrong-" .. srv.credentials.password,
                                                  on_request = function(i) hooks[#hooks + 1] = i end}))
      keep(bad:configuracao("status_atendimento"))
      assert.is_true(#collected >= 8)
      local secrets = {srv.credentials.password, srv.credentials.client_secret,
                       tok.access_token, tok.refresh_token}
      local function check(s)
        for _, secret in ipairs(secrets) do
          assert.is_nil(tostring(s):find(secret, 1, true), "secret leaked in: " .. tostring(s))
        end
      end
      local function walk(v)
        if type(v) == "table" then for k, x in pairs(v) do walk(k); walk(x) end else check(v) end
      end
      for _, err in ipairs(collected) do check(tostring(err)); walk(err) end
      for _, info in ipairs(hooks) do walk(info) end
      assert.is_true(#hooks > 10)
    end)
  end)

  describe("found in review", function()
    it("tostring of a long error is whole and intact", function()
      local ids = {}
      for i = 1, 3000 do ids[i] = i end
      local api = hubsoft.new(with(srv:config(), {retries = 0}))
      local _, err = api:request("GET", "/api/v1/integracao/nao-existe", {query = {ids = ids}})
      assert.equals("http", err.kind)
      local s = tostring(err)
      assert.matches("^hubsoft http error: HTTP 404", s)
      assert.equals(err.url, s:match(" (http://%S+)%)$"))
    end)

    it("keeps attachment bytes alive when a hook drops them between attempts", function()
      local closed = require("spec.support.util").free_port()
      local item = {data = string.rep("A", 100000) .. "!", filename = "log.txt"}
      local api = hubsoft.new {base_url = "http://127.0.0.1:" .. closed, access_token = "tok-123456",
        retries = 1, retry_delay = 0,
        on_request = function() item.data = nil; item.filename = nil; collectgarbage(); collectgarbage() end}
      local _, err = api:request("POST", "/x", {files = {item}})
      assert.equals("network", err.kind)
      assert.equals(2, err.attempts)
    end)

    it("scrubs a secret the login error echoes, even where the message is cut", function()
      srv:fault {kind = "body", status = 401, match = "/oauth/token",
                 body = '{"error":"invalid_grant","error_description":"' .. string.rep("x", 296)
                        .. " " .. srv.credentials.password .. '"}'}
      local _, err = hubsoft.new(srv:config()):authenticate()
      assert.equals("auth", err.kind)
      assert.is_nil(err.message:find(srv.credentials.password:sub(1, 5), 1, true))
    end)

    it("scrubs secrets inside structured entries of err.errors", function()
      srv:fault {kind = "body", match = "/configuracao/",
                 body = '{"status":"error","msg":"x","errors":["a",{"valor":"' ..
                        srv.credentials.password .. '"}]}'}
      local _, err = hubsoft.new(srv:config()):configuracao("status_atendimento")
      assert.equals("api", err.kind)
      assert.equals("***", err.errors[2].valor)
    end)

    it("replaces a symlink at the token file's path instead of writing through it", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      local victim, path = dir .. "/victim.txt", dir .. "/token.json"
      local f = assert(io.open(victim, "w")); f:write("IMPORTANT"); f:close()
      assert(os.execute("ln -s " .. victim .. " " .. path))
      local store = hubsoft.file_token_store(path)
      assert.is_true(store.save({access_token = "tok-x", token_type = "Bearer",
                                 expires_at = os.time() + 3600}))
      f = assert(io.open(victim)); local text = f:read("*a"); f:close()
      assert.equals("IMPORTANT", text)
      assert.equals("tok-x", store.load().access_token)
      os.execute("rm -rf " .. dir)
    end)
  end)

  describe("JSON", function()
    it("drops nulls by default and keeps them as hubsoft.null with keep_nulls", function()
      srv:fault {kind = "body", match = "/configuracao/", times = 2,
                 body = '{"status":"success","a":null,"b":[1,null,3],"id":5448}'}
      local plain = assert(hubsoft.new(srv:config()):configuracao("x"))
      assert.is_nil(plain.a)
      assert.is_nil(plain.b[2])
      assert.equals(3, plain.b[3])
      assert.equals("5448", tostring(plain.id)) -- an integer, not 5448.0
      local kept = assert(hubsoft.new(with(srv:config(), {keep_nulls = true})):configuracao("x"))
      assert.equals(hubsoft.null, kept.a)
      assert.equals(hubsoft.null, kept.b[2])
    end)

    it("passes UTF-8 through untouched both ways", function()
      local text = "Atenção: conexão instável em São João — ping 80ms ✓"
      local res = assert(hubsoft.new(srv:config()):request("POST",
        "/api/v1/integracao/atendimento", {json = {id_cliente_servico = 17812, descricao = text,
                                                    nome = "José Ângelo", telefone = "11987654321"}}))
      assert.equals("success", res.status)
      local sent = srv:requests("/api/v1/integracao/atendimento")[1].body
      assert.truthy(sent:find(text, 1, true))
      local found
      for _, t in ipairs(srv:state().atendimentos) do
        if t.descricao == text then found = t end
      end
      assert.is_table(found)
    end)

    it("re-encodes a Latin-1 answer as UTF-8", function()
      srv:fault {kind = "body", match = "/configuracao/",
                 content_type = "application/json; charset=iso-8859-1",
                 body = '{"status":"success","nome":"Jo\227o"}'}
      local res = assert(hubsoft.new(srv:config()):configuracao("x"))
      assert.equals("João", res.nome)
    end)

    it("array() and object() decide how an empty table is sent", function()
      local api = hubsoft.new(srv:config())
      assert(api:request("POST", "/api/v1/integracao/atendimento/paginado/10",
                         {json = {data_inicio = "2025-01-01", data_fim = "2025-01-31", pagina = 0,
                                 itens_por_pagina = 10,
                                 a = hubsoft.array {}, b = hubsoft.object {}, c = {}}}))
      local body = srv:requests("/api/v1/integracao/atendimento/paginado")[1].body
      assert.truthy(body:find('"a":[]', 1, true))
      assert.truthy(body:find('"b":{}', 1, true))
    end)
  end)

  describe("lifetime", function()
    it("frees clients by garbage collection and through close", function()
      for _ = 1, 200 do
        local api = hubsoft.new(srv:config())
        if _ % 2 == 0 then api:close() end
      end
      collectgarbage()
      collectgarbage()
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento"))
    end)

    it("refuses to be used from its own hook instead of corrupting the call", function()
      local inner
      local api
      api = hubsoft.new(with(srv:config(), {on_request = function()
        inner = {pcall(api.request, api, "GET", "/x")}
      end}))
      assert(api:configuracao("status_atendimento"))
      assert.is_false(inner[1])
      assert.matches("own hook", inner[2])
    end)
  end)
end)
