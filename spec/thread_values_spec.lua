-- hubsoft.thread_values and hubsoft.shared_dict_store, the plain-Lua parts of
-- hubsoft.nginx, without nginx (spec/nginx_spec.lua runs them in a real one).

local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local values = require "hubsoft.thread_values"
local shared_dict_store = require "hubsoft.shared_dict_store"

local MARKS = {
  [getmetatable(core.array {})] = "array",
  [getmetatable(core.object {})] = "object",
}
local MARK = { array = core.array, object = core.object }

describe("thread_values", function()
  it("lets plain values, hubsoft.null and tables of them cross, and says whether marks are inside", function()
    local plain = { a = 1, b = { "x", true, hubsoft.null } }
    assert.are.same({ nil, false }, { values.check(plain, core.null, MARKS, "opts") })
    assert.are.same({ nil, false }, { values.check(nil, core.null, MARKS, "opts") })
    assert.are.same({ nil, true }, { values.check({ l = hubsoft.array {} }, core.null, MARKS, "opts") })
  end)

  it("names what cannot cross: functions, coroutines, userdata, odd keys, cycles, depth", function()
    local function check(v) return values.check(v, core.null, MARKS, "opts") end
    local field, why = check({ json = { parametros = { f = print } } })
    assert.are.equal("opts.json.parametros.f", field)
    assert.truthy(why:find("function", 1, true))
    assert.are.equal("opts.files[2]", (check({ files = { "a", io.stdout } })))
    assert.are.equal("opts.x", (check({ x = coroutine.create(function() end) })))
    field, why = check({ k = { [print] = 1 } })
    assert.are.equal("opts.k", field)
    assert.truthy(why:find("key", 1, true))
    local loop = {}
    loop.self = loop
    field, why = check({ loop = loop })
    assert.are.equal("opts.loop.self", field)
    assert.truthy(why:find("contains itself", 1, true))
    local deep = {}
    local t = deep
    for _ = 1, values.MAX_DEPTH + 1 do t.n = {}; t = t.n end
    field, why = check(deep)
    assert.truthy(field)
    assert.truthy(why:find("deeper", 1, true))
    -- the same table twice is not a cycle
    local shared = { 1 }
    assert.is_nil((check({ a = shared, b = shared })))
  end)

  it("carries array and object marks across as a key no JSON value has, and back", function()
    local v = { lista = hubsoft.array {}, bloco = hubsoft.object {}, n = hubsoft.null, l = { 1, 2 } }
    local packed = values.pack(v, core.null, MARKS)
    assert.is_nil(getmetatable(packed.lista))
    assert.are.equal("array", packed.lista[core.null])
    assert.are.equal("object", packed.bloco[core.null])
    assert.is_nil(packed.l[core.null])
    assert.are.equal(getmetatable(hubsoft.array {}), getmetatable(v.lista), "the caller's table is untouched")
    local back = values.unpack(packed, core.null, MARK)
    assert.is_nil(back.lista[core.null])
    local json = core.encode(back)
    for _, piece in ipairs { '"lista":[]', '"bloco":{}', '"n":null', '"l":[1,2]' } do
      assert.truthy(json:find(piece, 1, true), json)
    end
  end)
end)

-- An ngx.shared.DICT stand-in (get, set, add, delete; ttl ignored).
local function dict()
  local d = { data = {} }
  function d.get(self, k) return self.data[k] end
  function d.set(self, k, v) self.data[k] = v; return true end
  function d.add(self, k, v)
    if self.data[k] ~= nil then return false, "exists" end
    self.data[k] = v
    return true
  end
  function d.delete(self, k) self.data[k] = nil end
  return d
end

describe("shared_dict_store", function()
  local function store(d)
    return shared_dict_store.new(d, { key = "tok", lock_seconds = 0, encode = core.encode, decode = core.decode })
  end
  local function token(s) return { access_token = s, token_type = "Bearer", expires_at = os.time() + 3600 } end

  it("with no token, the first caller takes the login lock; saving stores the token and frees the lock", function()
    local d = dict()
    local a = store(d)
    assert.is_nil(a.load())
    assert.truthy(d.data["tok:login"], "a holds the lock")
    assert.is_true(a.save(token("T1")))
    assert.is_nil(d.data["tok:login"])
    assert.are.equal("T1", store(d).load().access_token, "another client takes the saved token")
  end)

  it("a failed login gives the lock back when the call ends", function()
    local d = dict()
    local a = store(d)
    assert.is_nil(a.load())
    a.release()
    assert.is_nil(d.data["tok:login"])
  end)

  it("after a 401, hands out a newer token if one was saved, else has this caller log in", function()
    local d = dict()
    local a, b = store(d), store(d)
    assert.is_nil(a.load())
    a.save(token("T1"))
    assert.are.equal("T1", b.load().access_token)
    -- both hold T1; the server refuses it. a asks again: the dict still holds T1, so a logs in
    assert.is_nil(a.load())
    a.save(token("T2"))
    -- b, refused too, asks again and gets T2 without a login of its own
    assert.are.equal("T2", b.load().access_token)
    assert.is_nil(d.data["tok:login"])
  end)

  it("never hands out a token about to expire", function()
    local d = dict()
    d.data.tok = core.encode { access_token = "OLD", expires_at = os.time() + 30 }
    assert.is_nil(store(d).load())
  end)
end)
