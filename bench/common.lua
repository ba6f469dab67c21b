-- What every Lua program of the benchmark checks and prints, so each one does
-- the same work. Lua 5.1+ (the lua-curl peer runs on lua5.2).

local M = {}

M.FIRST_ID = 100001 -- bench/gen.lua numbers the records from here

--- A checker for the record stream: call it with each id_atendimento, then
-- with no argument for the count. Raises on a missing, doubled or
-- out-of-order record, and on a wrong total.
function M.order_checker(expected)
  local nextid, count = M.FIRST_ID, 0
  return function(id)
    if id == nil then
      if expected and count ~= expected then
        error(("expected %d records, got %d"):format(expected, count), 2)
      end
      return count
    end
    if id ~= nextid then
      error(("record %d: id_atendimento %s, expected %d (missing, doubled or out of order)")
        :format(count + 1, tostring(id), nextid), 2)
    end
    nextid, count = nextid + 1, count + 1
  end
end

--- The page loop shared by the peers that page by hand: get(k) returns the
-- decoded page k; walks pages 0..ultima_pagina, checking every record.
function M.walk_pages(get, expected)
  local check = M.order_checker(expected)
  local k = 0
  while true do
    local page = get(k)
    local recs = page.atendimentos
    for i = 1, #recs do
      check(recs[i].id_atendimento)
    end
    local pag = page.paginacao
    if #recs == 0 or pag.pagina_atual >= pag.ultima_pagina then
      break
    end
    k = k + 1
  end
  return check()
end

function M.check_small(r)
  if type(r) ~= "table" or type(r.status_atendimento) ~= "table" or #r.status_atendimento ~= 6 then
    error("unexpected answer to configuracao/status_atendimento", 2)
  end
end

function M.create_body()
  return {
    id_cliente_servico = 17812,
    descricao = "Cliente sem conexão desde ontem à noite; já reiniciou a ONU.",
    nome = "João da Silva",
    telefone = "11987654321",
  }
end

function M.check_created(r)
  if type(r) ~= "table" or r.status ~= "success" or type(r.atendimento) ~= "table"
    or type(r.atendimento.protocolo) ~= "string" then
    error("unexpected answer to the create call", 2)
  end
end

--- Resident set size of this process now, in kB (Linux), or 0.
function M.rss_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return 0 end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

--- The line the driver reads: work time, records or calls checked, and the
-- RSS before the work started (libraries and interpreter: the baseline).
function M.result(work, count, base_kb)
  io.write(("RESULT work=%.6f count=%d base_kb=%d\n"):format(work, count, base_kb or 0))
end

return M
