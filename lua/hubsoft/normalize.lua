--- Normalisers for what a person types: a phone number and a CPF/CNPJ.
--
-- The endpoint rules are strict on purpose (`telefone` is DDNNNNNNNNN, digits
-- only; nothing is converted behind the caller's back). These helpers are the
-- explicit step in between: they take what a caller typed, a caller ID or a
-- chat message, and return the vendor's form, or nil and a message when the
-- text cannot be one. Installed as `hubsoft.telefone` and `hubsoft.cpf_cnpj`.
-- @module hubsoft.normalize

local M = {}

local function digits_of(v)
  if type(v) ~= "string" then
    return nil
  end
  return (v:gsub("%D", ""))
end

--- A Brazilian phone number as DDNNNNNNNNN (10 or 11 digits).
-- Drops punctuation and spaces, a leading `+55` / `55`, a trunk `0` and a
-- carrier-selection code (`0 XX`), so `"(81) 98765-4321"`,
-- `"+55 81 98765-4321"`, `"081987654321"` and `"0 21 81 98765-4321"` all give
-- `"81987654321"`. After a `+` the country code must be 55 (`"+1 919 ..."`
-- is refused, and `"+55 98765-4321"` lacks an area code rather than having
-- area code 55). Refused: an area code with a 0 (`"01..."`), a number
-- starting with 0 or 1, 11 digits whose number does not start with 9 (mobiles
-- are the only 9-digit numbers), letters, and any other length.
-- @param s the text (a string; numbers lose leading zeros, so pass strings)
-- @return the digits, or nil and a message
-- @usage hubsoft.telefone("(81) 98765-4321") --> "81987654321"
function M.telefone(s)
  local d = digits_of(s)
  if not d or s:find("%a") then
    return nil, "a phone number is a string of digits (punctuation allowed)"
  end
  if s:match("^%s*%+") then
    -- a + gives the country code: Brazil's is stripped, never read as area code 55
    if d:sub(1, 2) ~= "55" then
      return nil, "a number written with + must be a Brazilian one, +55 and the area code"
    end
    d = d:sub(3)
  elseif (#d == 12 or #d == 13) and d:sub(1, 2) == "55" then
    d = d:sub(3)
  elseif (#d == 13 or #d == 14) and d:sub(1, 1) == "0" then
    d = d:sub(4) -- 0 + carrier code + DD + number
  elseif (#d == 11 or #d == 12) and d:sub(1, 1) == "0" then
    d = d:sub(2) -- trunk 0 + DD + number
  end
  if #d ~= 10 and #d ~= 11 then
    return nil, "a phone number has an area code and 8 or 9 digits (DDNNNNNNNNN)"
  end
  if not d:match("^[1-9][1-9]") then
    return nil, "the area code (DDD) must be two digits from 11 to 99 without a 0"
  end
  local first = d:sub(3, 3)
  if #d == 11 and first ~= "9" then
    return nil, "a 9-digit number is a mobile and starts with 9"
  end
  if first == "0" or first == "1" then
    return nil, "a phone number does not start with 0 or 1 after the area code"
  end
  return d
end

local function check_digit(d, weights)
  local sum = 0
  for i = 1, #weights do
    sum = sum + tonumber(d:sub(i, i)) * weights[i]
  end
  local r = sum % 11
  return r < 2 and 0 or 11 - r
end

local CPF1 = { 10, 9, 8, 7, 6, 5, 4, 3, 2 }
local CPF2 = { 11, 10, 9, 8, 7, 6, 5, 4, 3, 2 }
local CNPJ1 = { 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2 }
local CNPJ2 = { 6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2 }

--- A CPF (11 digits) or CNPJ (14 digits) as digits only, with its check
-- digits verified. Punctuation and spaces are dropped
-- (`"862.149.410-81"` -> `"86214941081"`, `"11.222.333/0001-81"` ->
-- `"11222333000181"`). Refused: letters, another length, a number with every
-- digit the same (`"111.111.111-11"`), and wrong check digits (a typo).
-- Only the digits come back (11 for a CPF, 14 for a CNPJ), so the call can be a
-- method's last argument: `api:consultar_clientes("cpf_cnpj", hubsoft.cpf_cnpj(s))`
-- (a second value would land in `opcoes`).
-- @param s the text (a string: a number would lose leading zeros)
-- @return the digits; or nil and a message
-- @usage local doc = hubsoft.cpf_cnpj("862.149.410-81") --> "86214941081"
function M.cpf_cnpj(s)
  local d = digits_of(s)
  if not d or s:find("[^%d%s%.%-/]") then
    return nil, "a CPF/CNPJ is a string of digits (dots, dash, slash and spaces allowed)"
  end
  if #d ~= 11 and #d ~= 14 then
    return nil, "a CPF has 11 digits and a CNPJ 14"
  end
  if d == d:sub(1, 1):rep(#d) then
    return nil, "a CPF/CNPJ with every digit the same is not valid"
  end
  local kind, w1, w2 = "CPF", CPF1, CPF2
  if #d == 14 then
    kind, w1, w2 = "CNPJ", CNPJ1, CNPJ2
  end
  if check_digit(d, w1) ~= tonumber(d:sub(-2, -2)) or check_digit(d, w2) ~= tonumber(d:sub(-1)) then
    return nil, "the " .. kind .. "'s check digits do not match (a digit was mistyped)"
  end
  return d
end

return M
