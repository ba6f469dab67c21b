-- The fault matrix (README, "What each fault gives"): every way a server or a network can
-- misbehave, what the client gives back (err.kind, err.status,
-- err.retryable, err.attempts), that the request was sent exactly
-- err.attempts times, and that the same client works for the next call.
--
-- Each fault is played against a read (configuracao, default retries = 2,
-- the fault repeated as often as the client may retry) and a write
-- (abrir_atendimento, never sent twice).
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"
local READ_PATH = API .. "/configuracao/status_atendimento"
local WRITE_PATH = API .. "/atendimento"

local with, rss_kb = util.with, util.rss_kb

local HTML = "<!DOCTYPE html><html><head><title>Manutenção</title></head><body>Voltamos já</body></html>"

-- One row per fault. `read` and `write` say what the client must give:
-- kind, status (nil: no response arrived), retryable, and for the read
-- whether it is retried (then the fault is repeated retries + 1 times).
-- A row with `ok` succeeds instead, and `ok(res)` checks the result.
local CASES = {
  {
    name = "connection dropped before any answer (drop_before)",
    fault = { kind = "drop_before" },
    read = { kind = "network", retried = true, retryable = true },
    write = { kind = "network", retryable = false },
  },
  {
    name = "connection dropped after the server acted, answer lost (drop_after)",
    fault = { kind = "drop_after" },
    read = { kind = "network", retried = true, retryable = true },
    write = { kind = "network", retryable = false },
  },
  {
    name = "connection dropped mid-body (truncate)",
    fault = { kind = "truncate" },
    read = { kind = "network", status = 200, retried = true, retryable = true },
    write = { kind = "network", status = 200, retryable = false },
  },
  {
    name = "truncated JSON in a complete response (truncate_json)",
    fault = { kind = "truncate_json" },
    read = { kind = "decode", status = 200, retryable = false },
    write = { kind = "decode", status = 200, retryable = false },
  },
  {
    name = "HTML 500 page (html500)",
    fault = { kind = "html500" },
    read = { kind = "http", status = 500, retryable = true, message = "HTML" },
    write = { kind = "http", status = 500, retryable = true, message = "HTML" },
  },
  {
    name = "HTML 502 page from a proxy (html502)",
    fault = { kind = "html502" },
    read = { kind = "http", status = 502, retried = true, retryable = true, message = "HTML" },
    write = { kind = "http", status = 502, retryable = true, message = "HTML" },
  },
  {
    name = "JSON 503 (status)",
    fault = { kind = "status", status = 503 },
    read = { kind = "http", status = 503, retried = true, retryable = true },
    write = { kind = "http", status = 503, retryable = true },
  },
  {
    name = "slow headers: the answer starts after timeout (delay)",
    fault = { kind = "delay", seconds = 1.5 }, config = { timeout = 0.5 },
    read = { kind = "timeout", retried = true, retryable = true },
    write = { kind = "timeout", retryable = false, message = "may have reached the server" },
  },
  {
    name = "slow body: the body stalls past timeout (slow_body)",
    fault = { kind = "slow_body", seconds = 1.5 }, config = { timeout = 0.5 },
    read = { kind = "timeout", status = 200, retried = true, retryable = true },
    write = { kind = "timeout", status = 200, retryable = false },
  },
  {
    name = "a body over max_response_size (big)",
    fault = { kind = "big", bytes = 300000 }, config = { max_response_size = 65536 },
    read = { kind = "decode", status = 200, retryable = false, message = "max_response_size" },
    write = { kind = "decode", status = 200, retryable = false, message = "max_response_size" },
  },
  {
    name = "HTTP 200 with status error (error)",
    fault = { kind = "error" },
    read = { kind = "api", status = 200, retryable = false },
    write = { kind = "api", status = 200, retryable = false },
  },
  {
    name = "HTTP 500 with a stack trace (stack)",
    fault = { kind = "stack" },
    read = { kind = "api", status = 500, retryable = true },
    write = { kind = "api", status = 500, retryable = true },
  },
  {
    name = "deeply nested JSON (10000 arrays)",
    fault = { kind = "body", body = string.rep("[", 10000) .. string.rep("]", 10000) },
    read = { kind = "decode", status = 200, retryable = false },
    write = { kind = "decode", status = 200, retryable = false },
  },
  {
    name = "bytes that are not JSON at all",
    fault = { kind = "body", body = "\0\1\2\255 garbage" },
    read = { kind = "decode", status = 200, retryable = false },
    write = { kind = "decode", status = 200, retryable = false },
  },
  {
    name = "an HTML body labelled application/json, HTTP 200",
    fault = { kind = "body", body = HTML, content_type = "application/json" },
    read = { kind = "decode", status = 200, retryable = false, message = "HTML" },
    write = { kind = "decode", status = 200, retryable = false, message = "HTML" },
  },
  {
    name = "an HTML body labelled application/json, HTTP 503",
    fault = { kind = "body", status = 503, body = HTML, content_type = "application/json" },
    read = { kind = "http", status = 503, retried = true, retryable = true, message = "HTML" },
    write = { kind = "http", status = 503, retryable = true, message = "HTML" },
  },
  {
    name = "a JSON body labelled text/html",
    fault = { kind = "body", body = '{"status":"success","msg":"ok","x":1}',
              content_type = "text/html; charset=UTF-8" },
    ok = function(res) assert.equals(1, res.x) end,
  },
  {
    name = "Latin-1 text, undeclared (not valid UTF-8)",
    fault = { kind = "body", body = '{"status":"success","nome":"Jo\227o","cidade":"S\227o Paulo"}' },
    ok = function(res)
      assert.equals("João", res.nome)
      assert.equals("São Paulo", res.cidade)
    end,
  },
  {
    name = "Latin-1 text under text/plain",
    fault = { kind = "body", body = '{"status":"success","obs":"a\231\227o \233 \224 vista"}',
              content_type = "text/plain" },
    ok = function(res) assert.equals("ação é à vista", res.obs) end,
  },
  {
    name = "an empty 200 body",
    fault = { kind = "body", body = "" },
    ok = function(res) assert.same({}, res) end,
  },
}

describe("fault matrix", function()
  local srv

  setup(function() srv = fake.start { seed_tickets = 3 } end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  local function sent(method, path)
    local n = 0
    for _, r in ipairs(srv:requests()) do
      if r.method == method and r.path == path then n = n + 1 end
    end
    return n
  end

  local function client(extra)
    local cfg, hooks = util.quick_config(srv:config(), extra)
    local api = hubsoft.new(cfg)
    assert(api:authenticate())
    return api, hooks
  end

  local function read(api) return api:configuracao("status_atendimento") end
  local n_writes = 0
  local function write(api)
    n_writes = n_writes + 1
    return api:abrir_atendimento { id_cliente_servico = 17812, nome = "Ana", telefone = "81988887777",
                                   descricao = "Falha " .. n_writes }
  end

  local function check_error(expect, res, err, label)
    assert.is_nil(res, label .. ": expected an error")
    assert.is_table(err, label)
    assert.equals(expect.kind, err.kind, label .. ": " .. tostring(err))
    assert.equals(expect.status, err.status, label .. ": status")
    assert.equals(expect.retryable, err.retryable, label .. ": retryable")
    assert.is_string(err.message)
    assert.matches("^hubsoft " .. expect.kind .. " error: ", tostring(err))
    if expect.message then
      assert.truthy(err.message:find(expect.message, 1, true), label .. ": " .. err.message)
    end
  end

  for _, case in ipairs(CASES) do
    describe(case.name, function()
      it("on a read", function()
        local api, hooks = client(with({ retries = 2 }, case.config))
        assert(read(api)) -- a warm keep-alive connection, as in real use
        local before = sent("GET", READ_PATH)
        local times = (case.read and case.read.retried) and 3 or 1
        srv:fault(with(case.fault, { match = READ_PATH, times = times }))
        local res, err = read(api)
        if case.ok then
          assert.is_table(res, tostring(err))
          case.ok(res)
          assert.equals(1, sent("GET", READ_PATH) - before)
        else
          check_error(case.read, res, err, "read")
          assert.equals(times, err.attempts)
          assert.equals(times, sent("GET", READ_PATH) - before, "sends")
          assert.equals(times, hooks[#hooks].attempt)
          assert.equals(case.read.status, hooks[#hooks].status)
        end
        assert.equals(0, srv:stats().pending_faults)
        -- the same client works for the next call
        local after = sent("GET", READ_PATH)
        local ok = assert(read(api))
        assert.is_table(ok.status_atendimento)
        assert.equals(1, sent("GET", READ_PATH) - after)
      end)

      it("on a write (sent once)", function()
        local api = client(with({ retries = 2 }, case.config))
        assert(read(api))
        local before = sent("POST", WRITE_PATH)
        srv:fault(with(case.fault, { match = "^" .. WRITE_PATH .. "$", method = "POST", times = 3 }))
        local res, err = write(api)
        if case.ok then
          assert.is_table(res, tostring(err))
          case.ok(res)
        else
          check_error(case.write, res, err, "write")
          assert.equals(1, err.attempts)
        end
        assert.equals(1, sent("POST", WRITE_PATH) - before, "sends")
        local left = srv:faults()
        assert.equals(1, #left)
        assert.equals(2, left[1].times) -- two of the three never used
        srv:reset() -- drops the two unused faults (and the token: a new login follows)
        assert(read(api))
        assert(write(api))
      end)
    end)
  end

  describe("a body over max_response_size", function()
    it("is refused from its Content-Length, without reading it into memory", function()
      local api = client { max_response_size = 1024 * 1024, retries = 0 }
      assert(read(api))
      collectgarbage()
      collectgarbage()
      local rss0 = rss_kb()
      srv:fault { kind = "big", bytes = 48 * 1024 * 1024, match = READ_PATH }
      local res, err = read(api)
      assert.is_nil(res)
      assert.equals("decode", err.kind)
      assert.matches("max_response_size", err.message)
      assert.equals(1, err.attempts)
      assert.is_true(rss_kb() - rss0 < 16 * 1024, "the refused body was read into memory")
      assert(read(api))
    end)

    it("is accepted up to the limit", function()
      local api = client { max_response_size = 1024 * 1024, retries = 0 }
      srv:fault { kind = "big", bytes = 1000 * 1000, match = READ_PATH }
      local res = assert(read(api))
      assert.equals("success", res.status)
    end)
  end)

  describe("deeply nested JSON", function()
    it("is a decode error at any depth, with or without keep_nulls, and no crash", function()
      for _, keep in ipairs { false, true } do
        local api = client { keep_nulls = keep, retries = 0 }
        for _, depth in ipairs { 1001, 10000, 100000 } do
          srv:fault { kind = "body", match = READ_PATH,
                      body = string.rep("[", depth) .. string.rep("]", depth) }
          local res, err = read(api)
          assert.is_nil(res)
          assert.equals("decode", err.kind, tostring(err))
          srv:fault { kind = "body", match = READ_PATH,
                      body = '{"status":"success","a":' .. string.rep('{"a":', depth) .. "1" ..
                             string.rep("}", depth + 1) }
          res, err = read(api)
          assert.is_nil(res)
          assert.equals("decode", err.kind)
        end
        assert(read(api))
      end
    end)

    it("a moderately nested answer still decodes", function()
      local api = client { retries = 0 }
      srv:fault { kind = "body", match = READ_PATH,
                  body = '{"status":"success","a":' .. string.rep("[", 50) .. "7" .. string.rep("]", 50) .. "}" }
      local res = assert(read(api))
      local v = res.a
      for _ = 1, 50 do v = v[1] end
      assert.equals(7, v)
    end)
  end)

  describe("a token revoked twice in a row", function()
    it("gives kind auth after one new login, without a loop, and then recovers", function()
      local api = client { retries = 2 }
      assert(read(api))
      srv:fault { kind = "revoke", match = "/api/", times = 2 }
      local res, err = read(api)
      assert.is_nil(res)
      assert.equals("auth", err.kind)
      assert.equals(401, err.status)
      assert.is_false(err.retryable)
      assert.equals(2, err.attempts)
      assert.equals(2, sent("POST", "/oauth/token")) -- authenticate() + one new login
      assert.equals(3, sent("GET", READ_PATH)) -- the good call, then two 401s
      -- the next call logs in again (every token was revoked) and works
      assert(read(api))
      assert.equals(3, sent("POST", "/oauth/token"))
      assert.equals(5, sent("GET", READ_PATH))
    end)

    it("a write rejected twice is sent twice (both refused) and never a third time", function()
      local api = client { retries = 2 }
      local before = #srv:state().atendimentos
      srv:fault { kind = "revoke", match = "^" .. WRITE_PATH .. "$", times = 2 }
      local res, err = write(api)
      assert.is_nil(res)
      assert.equals("auth", err.kind)
      assert.equals(401, err.status)
      assert.equals(2, err.attempts)
      assert.equals(2, sent("POST", WRITE_PATH))
      assert.equals(before, #srv:state().atendimentos)
      assert(write(api))
      assert.equals(before + 1, #srv:state().atendimentos)
    end)
  end)

  describe("the token endpoint down", function()
    it("gives http then network, sends nothing else, and recovers", function()
      local hooks = {}
      local api = hubsoft.new(with(srv:config(), { retries = 0, timeout = 2,
        on_request = function(i) hooks[#hooks + 1] = i end }))
      srv:fault { kind = "status", status = 503, match = "/oauth/token" }
      local res, err = read(api)
      assert.is_nil(res)
      assert.equals("http", err.kind)
      assert.equals(503, err.status)
      assert.is_true(err.retryable)
      assert.equals(1, err.attempts)
      assert.matches("/oauth/token", err.url)
      assert.equals(1, sent("POST", "/oauth/token"))

      srv:fault { kind = "drop_before", match = "/oauth/token" }
      res, err = read(api)
      assert.is_nil(res)
      assert.equals("network", err.kind)
      assert.is_nil(err.status)
      assert.equals(1, err.attempts)
      assert.equals(2, sent("POST", "/oauth/token"))

      srv:fault { kind = "html502", match = "/oauth/token" }
      res, err = read(api)
      assert.is_nil(res)
      assert.equals("http", err.kind)
      assert.equals(502, err.status)
      assert.equals(3, sent("POST", "/oauth/token"))

      srv:fault { kind = "truncate_json", match = "/oauth/token" }
      res, err = read(api)
      assert.is_nil(res)
      assert.equals("decode", err.kind)
      assert.equals(4, sent("POST", "/oauth/token"))

      srv:fault { kind = "body", match = "/oauth/token", body = '{"token_type":"Bearer"}' }
      res, err = read(api)
      assert.is_nil(res)
      assert.equals("auth", err.kind)
      assert.equals(5, sent("POST", "/oauth/token"))

      assert.equals(0, sent("GET", READ_PATH)) -- no API call without a token
      assert(read(api))
      assert.equals(6, sent("POST", "/oauth/token"))
      assert.equals(1, sent("GET", READ_PATH))
      assert(read(api))
      assert.equals(6, sent("POST", "/oauth/token"))
    end)

    it("a login that fails once is retried within the same call (a login is harmless)", function()
      local api = hubsoft.new(with(srv:config(), { retries = 2, retry_delay = 0.01 }))
      srv:fault { kind = "status", status = 503, match = "/oauth/token" }
      assert(read(api))
      assert.equals(2, sent("POST", "/oauth/token"))
      assert.equals(1, sent("GET", READ_PATH))
    end)
  end)

  describe("connection refused", function()
    it("gives kind network, retryable, and the client works once the server is up", function()
      local port = util.free_port()
      local hooks = {}
      local api = hubsoft.new { base_url = "http://127.0.0.1:" .. port, retries = 0,
                                client_id = srv.credentials.client_id,
                                client_secret = srv.credentials.client_secret,
                                username = srv.credentials.username,
                                password = srv.credentials.password,
                                on_request = function(i) hooks[#hooks + 1] = i end }
      local res, err = read(api)
      assert.is_nil(res)
      assert.equals("network", err.kind)
      assert.is_nil(err.status)
      assert.is_true(err.retryable)
      assert.equals(1, err.attempts)
      res, err = write(api)
      assert.is_nil(res)
      assert.equals("network", err.kind)
      assert.is_true(err.retryable) -- nothing was sent
      assert.equals(2, #hooks)
      local up = fake.start { port = port }
      local ok, e = pcall(function()
        assert(read(api))
        assert(write(api))
        assert.equals(1, #up:requests("/oauth/token"))
        assert.equals(1, #up:requests(READ_PATH))
        assert.equals(1, #up:requests(WRITE_PATH))
      end)
      up:stop()
      assert(ok, e)
    end)
  end)

  describe("a JSON scalar where the method's object is expected", function()
    -- The contract: a method returns the decoded body as a Lua table, and
    -- kind "decode" means the body is not the JSON expected. Today a bare
    -- string, number or boolean comes back as the result itself.
    for _, body in ipairs { '"ok"', "42", "true" } do
      it("configuracao answered with " .. body .. " is kind decode", function()
        local api = client { retries = 0 }
        srv:fault { kind = "body", match = READ_PATH, body = body }
        local res, err = read(api)
        assert.is_nil(res, "got a " .. type(res) .. " instead of a table or an error")
        assert.equals("decode", err and err.kind)
        assert(read(api))
      end)
    end
  end)
end)
