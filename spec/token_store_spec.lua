-- hubsoft.file_token_store: a token kept in a JSON file, 0600, written atomically.

local hubsoft = require "hubsoft"
local util = require "spec.support.util"

local shell, write = util.capture, util.write_file

local function token(expires_in)
  return {
    access_token = "eyJ0.acesso",
    token_type = "Bearer",
    expires_in = expires_in,
    expires_at = os.time() + expires_in,
    refresh_token = "def5.renovacao",
  }
end

describe("hubsoft.file_token_store", function()
  local dir, path

  before_each(function()
    dir = util.tmpdir()
    assert.truthy(#dir > 0)
    path = dir .. "/token.json"
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("gives load and save", function()
    local store = hubsoft.file_token_store(path)
    assert.is_function(store.load)
    assert.is_function(store.save)
  end)

  it("round-trips a token", function()
    local store = hubsoft.file_token_store(path)
    local t = token(2592000)
    assert.is_true(store.save(t))
    assert.are.same(t, store.load())
    -- another store on the same file (another process) sees it too
    assert.are.same(t, hubsoft.file_token_store(path).load())
  end)

  it("replaces the previous token", function()
    local store = hubsoft.file_token_store(path)
    assert.is_true(store.save(token(3600)))
    local newer = token(7200)
    newer.access_token = "eyJ0.outro"
    assert.is_true(store.save(newer))
    assert.are.equal("eyJ0.outro", store.load().access_token)
  end)

  it("writes the file with mode 0600 and leaves no temporary file", function()
    assert.is_true(hubsoft.file_token_store(path).save(token(3600)))
    assert.are.equal("600", shell("stat -c %a '" .. path .. "'"))
    assert.are.equal("token.json", shell("ls -A '" .. dir .. "'"))
  end)

  it("keeps mode 0600 when it replaces a file that was readable by others", function()
    write(path, "{}")
    os.execute("chmod 644 '" .. path .. "'")
    assert.is_true(hubsoft.file_token_store(path).save(token(3600)))
    assert.are.equal("600", shell("stat -c %a '" .. path .. "'"))
  end)

  it("stores JSON", function()
    assert.is_true(hubsoft.file_token_store(path).save(token(3600)))
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    local decoded = require("hubsoft.core").decode(data)
    assert.are.equal("eyJ0.acesso", decoded.access_token)
  end)

  it("loads nil when the file is missing", function()
    assert.is_nil(hubsoft.file_token_store(path).load())
    assert.is_nil(hubsoft.file_token_store(dir .. "/nao/existe.json").load())
  end)

  it("loads nil when the file is corrupt", function()
    local store = hubsoft.file_token_store(path)
    for _, data in ipairs { "", "not json{", '{"access_token": "x", ', "[1,2]", "42", '"texto"', "null",
      '{"token_type":"Bearer","expires_at":9999999999}', '{"access_token":"","expires_at":9999999999}' } do
      write(path, data)
      assert.is_nil(store.load(), data)
    end
  end)

  it("loads nil when the path is a directory", function()
    assert.is_nil(hubsoft.file_token_store(dir).load())
  end)

  it("loads nil when the token has expired or expires within a minute", function()
    local store = hubsoft.file_token_store(path)
    for _, seconds in ipairs { -3600, 0, 30, 60 } do
      assert.is_true(store.save(token(seconds)))
      assert.is_nil(store.load(), "expires in " .. seconds .. " s")
    end
    assert.is_true(store.save(token(120)))
    assert.is_table(store.load())
  end)

  it("loads nil when the token has no expiry", function()
    local t = token(3600)
    t.expires_at = nil
    assert.is_true(hubsoft.file_token_store(path).save(t))
    assert.is_nil(hubsoft.file_token_store(path).load())
  end)

  it("save returns nil and a message instead of raising", function()
    local ok, msg = hubsoft.file_token_store(dir .. "/nao/existe/token.json").save(token(3600))
    assert.is_nil(ok)
    assert.is_string(msg)
    ok, msg = hubsoft.file_token_store(path).save("nao e uma tabela")
    assert.is_nil(ok)
    assert.is_string(msg)
    ok, msg = hubsoft.file_token_store(path).save { access_token = "x", expires_at = os.time() + 3600, f = print }
    assert.is_nil(ok)
    assert.is_string(msg)
  end)

  it("refuses a path that is not a non-empty string", function()
    assert.has_error(function() hubsoft.file_token_store(nil) end)
    assert.has_error(function() hubsoft.file_token_store("") end)
    assert.has_error(function() hubsoft.file_token_store(42) end)
  end)
end)
