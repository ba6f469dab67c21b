-- TLS against `openssl s_server` with certificates made at test time: a CA
-- and a server certificate for 127.0.0.1/localhost signed by it, one signed
-- by it for another host name, and a self-signed one nobody trusts.
-- `s_server -www` answers a GET with an HTML status page, so a request whose
-- handshake succeeded ends in kind "decode" (never "tls").
--
-- Also the plain-http and credentials-in-URL rules of hubsoft.new.
local hubsoft = require "hubsoft"
local util = require "spec.support.util"

local sh, quote = util.sh, util.quote

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

describe("TLS", function()
  local dir
  local servers = {} -- name -> {port, pid}

  local function start_server(name, cert, key)
    local port = util.free_port()
    local p = assert(io.popen(("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -www -quiet " ..
      "</dev/null >%s 2>&1 & echo $!"):format(port, quote(dir .. "/" .. cert), quote(dir .. "/" .. key),
      quote(dir .. "/" .. name .. ".log"))))
    local pid = tonumber(p:read("*l"))
    p:close()
    assert(pid, "could not start openssl s_server")
    servers[name] = { port = port, pid = pid }
    assert(util.wait_until(10, function() return util.accepts(port) end, 0.02),
      "openssl s_server does not accept: " .. (util.read_file(dir .. "/" .. name .. ".log") or ""))
    return port
  end

  setup(function()
    dir = util.tmpdir()
    local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    local ext = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" ..
                "extendedKeyUsage=serverAuth\n"
    util.write_file(dir .. "/good.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n" .. ext)
    util.write_file(dir .. "/wrong.ext", "subjectAltName=DNS:wrong.example\n" .. ext)
    local cmds = {
      -- the CA
      "openssl req -x509 " .. ec .. " -keyout ca.key -out ca.pem -days 2 -subj '/CN=lua-hubsoft test CA'" ..
        " -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'",
      -- 127.0.0.1 + localhost, signed by the CA
      "openssl req " .. ec .. " -keyout good.key -out good.csr -subj '/CN=localhost'",
      "openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out good.pem -days 2" ..
        " -extfile good.ext",
      -- another host name, signed by the CA
      "openssl req " .. ec .. " -keyout wrong.key -out wrong.csr -subj '/CN=wrong.example'",
      "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out wrong.pem -days 2" ..
        " -extfile wrong.ext",
      -- self-signed for the right names, trusted by nobody
      "openssl req -x509 " .. ec .. " -keyout self.key -out self.pem -days 2 -subj '/CN=localhost'" ..
        " -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost'",
      -- a CA directory for ca_path
      "mkdir capath && cp ca.pem capath/ && (openssl rehash capath || c_rehash capath)",
    }
    for _, c in ipairs(cmds) do
      assert(sh("cd " .. quote(dir) .. " && " .. c .. " >>openssl.log 2>&1"),
        c .. ": " .. (util.read_file(dir .. "/openssl.log") or ""))
    end
    start_server("good", "good.pem", "good.key")
    start_server("wrong", "wrong.pem", "wrong.key")
    start_server("self", "self.pem", "self.key")
  end)

  teardown(function()
    for _, s in pairs(servers) do
      sh("kill " .. s.pid .. " 2>/dev/null")
    end
    util.rm_tmpdir(dir)
  end)

  local function url(name, host)
    return "https://" .. (host or "127.0.0.1") .. ":" .. servers[name].port
  end

  local function client(name, extra, host)
    local hooks = {}
    local cfg = { base_url = url(name, host), access_token = "tok-abc", retries = 2,
                  retry_delay = 0.01, timeout = 5,
                  on_request = function(i) hooks[#hooks + 1] = i end }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return hubsoft.new(cfg), hooks
  end

  local function is_tls(api, hooks)
    local res, err = api:configuracao("status_atendimento")
    assert.is_nil(res)
    assert.equals("tls", err.kind, tostring(err))
    assert.is_nil(err.status)
    assert.is_false(err.retryable)
    assert.equals(1, err.attempts) -- nothing else happens: no retry, no fallback
    assert.equals(1, #hooks)
    assert.is_nil(hooks[1].status)
    assert.matches("^hubsoft tls error: ", tostring(err))
    return err
  end

  local function handshake_ok(api)
    local res, err = api:configuracao("status_atendimento")
    assert.is_nil(res) -- an HTML page, not the API
    assert.are_not.equal("tls", err.kind, tostring(err))
    assert.equals("decode", err.kind, tostring(err))
    assert.equals(200, err.status)
  end

  describe("an untrusted certificate", function()
    it("self-signed: kind tls, sent once, nothing else", function()
      is_tls(client("self"))
    end)

    it("signed by a CA the system does not know: kind tls", function()
      is_tls(client("good"))
    end)

    it("signed by the given CA but for another host name: kind tls", function()
      is_tls(client("wrong", { ca_file = dir .. "/ca.pem" }))
    end)

    it("self-signed, even with a ca_file given: kind tls", function()
      is_tls(client("self", { ca_file = dir .. "/ca.pem" }))
    end)

    it("a login over an untrusted connection fails with kind tls before any API call", function()
      local hooks = {}
      local api = hubsoft.new { base_url = url("self"), client_id = "3", client_secret = "segredo-do-cliente",
                                username = "bot@isp", password = "senha-secreta", retries = 2,
                                retry_delay = 0.01, on_request = function(i) hooks[#hooks + 1] = i end }
      local res, err = api:configuracao("status_atendimento")
      assert.is_nil(res)
      assert.equals("tls", err.kind)
      assert.equals(1, #hooks)
      assert.matches("/oauth/token$", hooks[1].url)
    end)
  end)

  describe("a trusted certificate", function()
    it("ca_file: the handshake succeeds with 127.0.0.1 (IP SAN)", function()
      handshake_ok(client("good", { ca_file = dir .. "/ca.pem" }))
    end)

    it("ca_file: the handshake succeeds with localhost (DNS SAN)", function()
      handshake_ok(client("good", { ca_file = dir .. "/ca.pem" }, "localhost"))
    end)

    it("ca_path: a hashed directory holding the CA", function()
      handshake_ok(client("good", { ca_path = dir .. "/capath" }))
    end)

    it("a missing ca_file is kind tls, not a crash", function()
      local api, hooks = client("good", { ca_file = dir .. "/nonexistent.pem" })
      is_tls(api, hooks)
    end)
  end)

  describe("verify_tls = false", function()
    local function child(code)
      local script = dir .. "/child.lua"
      util.write_file(script, code)
      local _, out, err = util.run_lua(script)
      return out, err
    end

    it("works against an untrusted certificate and says so once on stderr at hubsoft.new", function()
      local out, err = child(([[
        local hubsoft = require "hubsoft"
        io.stdout:write("before\n")
        io.stdout:flush()
        local api = hubsoft.new { base_url = %q, access_token = "tok-abc", verify_tls = false, retries = 0 }
        io.stdout:write("created\n")
        for _ = 1, 2 do
          local _, err = api:request("GET", "/")
          io.stdout:write("kind=", tostring(err and err.kind), "\n")
        end
        local _, err = hubsoft.new { base_url = %q, access_token = "tok-abc", verify_tls = false,
                                     retries = 0 }:configuracao("status_atendimento")
        io.stdout:write("wrong=", tostring(err and err.kind), "\n")
        assert(hubsoft.new { base_url = %q, access_token = "tok-abc" })
        io.stdout:write("done\n")
      ]]):format(url("self"), url("wrong"), url("good")))
      local o = lines(out)
      assert.same({ "before", "created", "kind=decode", "kind=decode", "wrong=decode", "done" }, o)
      local e = lines(err)
      assert.equals(2, #e, err) -- one per client created with verify_tls = false, none for the other
      for _, l in ipairs(e) do
        assert.matches("verify_tls", l)
        assert.matches("^lua%-hubsoft: WARNING", l)
      end
    end)

    it("one client prints exactly one warning line, whatever it does", function()
      local _, err = child(([[
        local hubsoft = require "hubsoft"
        local api = hubsoft.new { base_url = %q, access_token = "tok-abc", verify_tls = false, retries = 0 }
        for _ = 1, 3 do api:configuracao("status_atendimento") end
        api:close()
        collectgarbage()
      ]]):format(url("self")))
      local e = lines(err)
      assert.equals(1, #e, err)
      assert.matches("verify_tls = false", e[1])
    end)

    it("a client with verify on prints nothing", function()
      local _, err = child(([[
        local hubsoft = require "hubsoft"
        local api = hubsoft.new { base_url = %q, access_token = "tok-abc", ca_file = %q }
        api:configuracao("status_atendimento")
      ]]):format(url("good"), dir .. "/ca.pem"))
      assert.equals("", err)
    end)
  end)

  describe("plain http", function()
    local function refused(cfg)
      local ok, err = pcall(hubsoft.new, cfg)
      assert.is_false(ok, cfg.base_url .. " was accepted")
      assert.matches("allow_http", tostring(err))
    end

    it("is refused at hubsoft.new for a host that is not loopback", function()
      for _, base in ipairs {
        "http://api.minhaisp.hubsoft.com.br", "HTTP://api.minhaisp.hubsoft.com.br", "http://10.0.0.1:8080",
        "http://192.168.0.10", "http://0.0.0.0:80", "http://127.0.0.1.nip.io", "http://localhost.evil.com",
        "http://[::2]:80", "http://[fe80::1]", "http://128.0.0.1", "http://127.0.0.1x",
      } do
        refused { base_url = base, access_token = "x" }
        refused { base_url = base, access_token = "x", allow_http = false }
      end
    end)

    it("is accepted with allow_http = true", function()
      for _, base in ipairs { "http://api.minhaisp.hubsoft.com.br", "http://10.0.0.1:8080" } do
        assert.is_truthy(hubsoft.new { base_url = base, access_token = "x", allow_http = true })
      end
    end)

    it("is accepted for loopback without allow_http", function()
      for _, base in ipairs { "http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1",
                              "http://LOCALHOST", "http://[::1]:8080" } do
        assert.is_truthy(hubsoft.new { base_url = base, access_token = "x" }, base)
      end
    end)

    it("https is accepted for any host", function()
      assert.is_truthy(hubsoft.new { base_url = "https://api.minhaisp.hubsoft.com.br", access_token = "x" })
      assert.is_truthy(hubsoft.new { base_url = "HTTPS://10.0.0.1:8443/prefixo", access_token = "x" })
    end)
  end)

  describe("credentials inside base_url", function()
    it("are refused, whatever the scheme, without echoing them", function()
      for _, base in ipairs {
        "https://user:hunter2-pass@api.isp.com.br", "https://hunter2-pass@api.isp.com.br",
        "http://user:hunter2-pass@127.0.0.1:8080", "https://api.isp.com.br:443@hunter2-pass.com",
        "https://user:hunter2-pass@api.isp.com.br/prefixo",
      } do
        for _, allow in ipairs { false, true } do
          local ok, err = pcall(hubsoft.new, { base_url = base, access_token = "x", allow_http = allow })
          assert.is_false(ok, base)
          assert.matches("credentials", tostring(err))
          assert.is_nil(tostring(err):find("hunter2", 1, true), tostring(err))
        end
      end
    end)

    it("in proxy are refused too, without echoing them", function()
      local ok, err = pcall(hubsoft.new, { base_url = "https://api.isp.com.br", access_token = "x",
                                           proxy = "http://user:hunter2-pass@proxy:3128" })
      assert.is_false(ok)
      assert.matches("credentials", tostring(err))
      assert.is_nil(tostring(err):find("hunter2", 1, true))
    end)
  end)
end)
