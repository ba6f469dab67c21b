-- The README's "Methods by example" block runs as written against the fake
-- server, so the documentation cannot drift from the code.
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"

local function readme_block(heading)
  local f = assert(io.open("README.md", "rb"))
  local text = f:read("*a")
  f:close()
  local at = assert(text:find(heading, 1, true), "README has no " .. heading)
  return assert(text:match("```lua\n(.-)```", at))
end

describe("README", function()
  local srv
  setup(function() srv = fake.start { seed_tickets = 10 } end)
  teardown(function() srv:stop() end)

  it("'Methods by example' runs as written", function()
    local code = readme_block("### Methods by example")
    local png = os.tmpname()
    local f = assert(io.open(png, "wb"))
    f:write("\137PNG\r\n\26\n\0\0\0\rIHDR")
    f:close()
    code = code:gsub('"/tmp/speedtest%.png"', ("%q"):format(png))
    local env = setmetatable({
      api = hubsoft.new(srv:config()),
      hubsoft = hubsoft,
      log = "ping 25 ms\n",
      print = function() end,
    }, {__index = _G})
    local chunk = assert((loadstring or load)(code, "=README", "t", env))
    if setfenv then setfenv(chunk, env) end
    chunk()
    os.remove(png)
    local st = srv:state()
    local last = st.atendimentos[#st.atendimentos]
    assert.equals("Em análise pela equipe técnica", last.descricao) -- opened, then edited
    assert.is_true(last.fechado)
    assert.equals(2, #last.anexos)
    assert.equals(1, #last.mensagens)
  end)

  it("'Testing your own scripts' runs as written", function()
    local code = readme_block("## Testing your own scripts")
    local chunk = assert((loadstring or load)(code, "=README"))
    chunk()
  end)
end)
