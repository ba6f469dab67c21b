-- endpoints.prepare alone, N times, for bench/callgrind.sh: the Lua
-- validation and request building of a named method, without the transfer.
--
--   lua5.4 bench/prepare_loop.lua configuracao|abrir_atendimento|todos_atendimentos N
local core = require "hubsoft.core"
local endpoints = require "hubsoft.endpoints"
local common = require "bench.common"

local which, n = arg[1], tonumber(arg[2])
local args = {
  configuracao = { "status_atendimento" },
  abrir_atendimento = { common.create_body() },
  todos_atendimentos = { { itens_por_pagina = 500, pagina = 3 } },
}
local row, a = endpoints.by_name[which], args[which]
for _ = 1, n do
  assert(endpoints.prepare(core, row, a[1], a[2]))
end
