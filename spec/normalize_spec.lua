-- hubsoft.telefone and hubsoft.cpf_cnpj: what a person types, in the form the
-- endpoint rules take, or nil and a message for what cannot be one.

local hubsoft = require "hubsoft"

describe("hubsoft.telefone", function()
  it("gives DDNNNNNNNNN for the ways people and PBXs write a number", function()
    for typed, digits in pairs {
      ["(81) 98765-4321"] = "81987654321",
      ["81 98765 4321"] = "81987654321",
      ["+55 (81) 98765-4321"] = "81987654321",
      ["5581987654321"] = "81987654321",
      ["081987654321"] = "81987654321",       -- trunk 0
      ["0 21 81 98765-4321"] = "81987654321",  -- carrier selection code
      ["(37) 3333-4444"] = "3733334444",      -- a landline, 8 digits
      ["+55 37 3333-4444"] = "3733334444",
      ["8133334444"] = "8133334444",
    } do
      assert.equals(digits, (hubsoft.telefone(typed)), typed)
    end
  end)

  it("refuses what cannot be a Brazilian number, saying why", function()
    for typed, why in pairs {
      ["anonymous"] = "string of digits",
      ["81 9876-543a"] = "string of digits",
      ["98765-4321"] = "area code",
      ["(10) 98765-4321"] = "area code",        -- no area code has a 0
      ["(81) 88765-4321"] = "starts with 9",    -- 9 digits: a mobile
      ["(81) 0876-4321"] = "0 or 1",
      ["0800 123 4567"] = "area code",
      [""] = "area code",
      ["4004"] = "area code",
    } do
      local d, msg = hubsoft.telefone(typed)
      assert.is_nil(d, typed)
      assert.matches(why, msg, 1, true)
    end
    local d, msg = hubsoft.telefone(81987654321) -- a number loses leading zeros: strings only
    assert.is_nil(d)
    assert.matches("string", msg)
  end)

  it("a + names the country: +55 is stripped, never read as area code 55; other countries refused", function()
    for typed, why in pairs {
      ["+55 98765-4321"] = "area code",     -- +55 without the area code: not DDD 55
      ["+55 3456-7890"] = "area code",
      ["+1 919 555 1234"] = "+55",          -- a US number, not Campinas (19) 9555-1234
      ["+351 912 345 678"] = "+55",
      ["+5581987654321x"] = "string of digits",
    } do
      local d, msg = hubsoft.telefone(typed)
      assert.is_nil(d, typed)
      assert.matches(why, msg, 1, true)
    end
    assert.equals("81987654321", (hubsoft.telefone(" +55 81 98765-4321")))
    assert.equals("55991234567", (hubsoft.telefone("+55 55 99123-4567"))) -- DDD 55 after +55
    assert.equals("55991234567", (hubsoft.telefone("(55) 99123-4567")))    -- no +: DDD 55
  end)

  it("gives what the telefone rule of the endpoints accepts", function()
    local api = hubsoft.new { base_url = "http://127.0.0.1:9", access_token = "t", retries = 0 }
    local _, err = api:notificar_ligacao { ramal = 1, telefone = "(81) 98765-4321" }
    assert.equals("validation", err.kind) -- the rule converts nothing
    _, err = api:notificar_ligacao { ramal = 1, telefone = hubsoft.telefone("(81) 98765-4321") }
    assert.equals("network", err.kind) -- passed the rules, then found nobody listening
    api:close()
  end)
end)

describe("hubsoft.cpf_cnpj", function()
  it("gives the digits, check digits verified", function()
    assert.same({ "86214941081" }, { hubsoft.cpf_cnpj("862.149.410-81") })
    assert.same({ "86214941081" }, { hubsoft.cpf_cnpj("86214941081") })
    assert.same({ "11222333000181" }, { hubsoft.cpf_cnpj("11.222.333/0001-81") })
    assert.same({ "02003777016" }, { hubsoft.cpf_cnpj(" 020.037.770-16 ") }) -- a leading zero kept
  end)

  it("goes straight into a search as its termo_busca (one value: no stray opcoes)", function()
    local api = hubsoft.new { base_url = "http://127.0.0.1:9", access_token = "t", retries = 0 }
    for _, call in ipairs {
      function() return api:consultar_clientes("cpf_cnpj", hubsoft.cpf_cnpj("862.149.410-81")) end,
      function() return api:atendimentos_do_cliente("cpf_cnpj", hubsoft.cpf_cnpj("11.222.333/0001-81")) end,
      function() return api:ordens_servico_do_cliente("cpf_cnpj", hubsoft.cpf_cnpj("862.149.410-81")) end,
    } do
      local _, err = call()
      assert.equals("network", err.kind, tostring(err)) -- passed the rules, then found nobody listening
    end
    api:close()
  end)

  it("refuses a typo, a wrong length, repeated digits and letters", function()
    for typed, why in pairs {
      ["862.149.410-82"] = "check digits",
      ["862.149.401-81"] = "check digits",
      ["11.222.333/0001-80"] = "check digits",
      ["12345678901"] = "check digits",
      ["862.149.410-8"] = "11 digits",
      ["111.111.111-11"] = "every digit the same",
      ["00000000000000"] = "every digit the same",
      ["CPF 862.149.410-81"] = "string of digits",
      [""] = "11 digits",
    } do
      local d, msg = hubsoft.cpf_cnpj(typed)
      assert.is_nil(d, typed)
      assert.matches(why, msg, 1, true)
    end
    assert.is_nil((hubsoft.cpf_cnpj(86214941081)))
  end)
end)
