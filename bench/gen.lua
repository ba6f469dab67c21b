-- Generator of realistic atendimento pages for the benchmark.
--
--   lua5.4 bench/gen.lua OUTDIR RECORDS PER_PAGE [FIRST_ID]
--
-- Writes OUTDIR/page-N.json (N from 0) in the `paginacao` shape of
-- GET /api/v1/integracao/atendimento/todos with every relation loaded
-- (status, tipo_atendimento, cliente_servico with endereco/cidade/estado,
-- servico and cliente, usuarios_responsaveis, atendimento_mensagem), as in
-- the vendor's reference (/work/shared/hubsoft-api-atendimento.md): UTF-8
-- accents, nulls, whole and fractional numbers, millisecond timestamps.
-- About 2.6 kB a record, so a page of 500 is about 1.3 MB.
--
-- Deterministic: the same arguments give the same bytes on any Lua (own
-- PRNG, keys written in the reference's order). Record i (from 1) has
-- id_atendimento = FIRST_ID + i - 1, which is how the benchmark checks order
-- and exactly-once. Also writes OUTDIR/status_atendimento.json (the small
-- answer of the latency workload) and OUTDIR/oauth_token.json.

local cjson = require "cjson"

local outdir, total, per, first_id = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4] or "100001")
if not (outdir and total and per) then
  io.stderr:write("usage: gen.lua OUTDIR RECORDS PER_PAGE [FIRST_ID]\n")
  os.exit(2)
end

local fmt, concat, floor = string.format, table.concat, math.floor

-- Park-Miller minimal standard generator: same sequence on every Lua.
local seed = 20250901
local function rnd(n) -- 1..n
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end
local function pick(t) return t[rnd(#t)] end

-- Ordered JSON: an object is {k1, v1, k2, v2, ...} tagged OBJ, an array ARR.
local NULL = {}
local OBJ, ARR = {}, {}
local function obj(t) return setmetatable(t, OBJ) end
local function arr(t) return setmetatable(t, ARR) end

local enc_string = cjson.encode -- escapes like PHP: "\/" for "/", raw UTF-8 kept
local function enc(v, out)
  local tv = type(v)
  if v == NULL then
    out[#out + 1] = "null"
  elseif tv == "string" then
    out[#out + 1] = enc_string(v)
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    if v == floor(v) then out[#out + 1] = fmt("%d", v) else out[#out + 1] = fmt("%.14g", v) end
  elseif getmetatable(v) == OBJ then
    out[#out + 1] = "{"
    for i = 1, #v, 2 do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = enc_string(v[i])
      out[#out + 1] = ":"
      enc(v[i + 1], out)
    end
    out[#out + 1] = "}"
  else
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      enc(v[i], out)
    end
    out[#out + 1] = "]"
  end
end

---------------------------------------------------------------- vocabulary

local STATUS = {
  { 1, "pendente", "Pendente", "md-amber-700-bg", true },
  { 2, "em_andamento", "Em Andamento", "md-blue-500-bg", false },
  { 3, "em_analise", "Em Análise", "md-purple-500-bg", false },
  { 23, "aguardando_analise", "Aguardando Análise", "md-deep-orange-A700-bg", false },
  { 24, "resolvido", "Resolvido", "md-green-600-bg", false },
  { 25, "cancelado", "Cancelado", "md-grey-600-bg", false },
}
local TIPOS = {
  { 1, "SAC" }, { 28, "FINANCEIRO" }, { 44, "INSTALAÇÃO" }, { 125, "COMERCIAL" },
  { 132, "TÉCNICO - QUEDAS DE CONEXÃO" }, { 150, "SUPORTE TÉCNICO ESPECIALIZADO" },
}
local NOMES = { "JOÃO", "MARIA", "JOSÉ", "ANTÔNIO", "FRANCISCA", "LAVYNIA", "CONCEIÇÃO", "SEBASTIÃO",
  "LUÍS", "ANA CLÁUDIA", "RAIMUNDA", "MÁRCIO", "ÍTALO", "BEATRIZ", "GONÇALO", "LETÍCIA" }
local SOBRENOMES = { "DA SILVA", "DE ASSUNÇÃO", "ARAÚJO", "CONCEIÇÃO", "FALCÃO", "GUSMÃO", "BRAGANÇA",
  "DOS SANTOS", "MAGALHÃES", "PEREIRA", "DE LIMA", "SIMÕES", "VASCONCELOS", "ROMÃO" }
local RUAS = { "RUA PADRE PAULO", "AVENIDA JOÃO PESSOA", "RUA DA AURORA", "AVENIDA CONDE DA BOA VISTA",
  "TRAVESSA SÃO JOSÉ", "RUA DOUTOR JOSÉ MARIANO", "ESTRADA DO ARRAIAL", "RUA DO BOM JESUS" }
local BAIRROS = { "MÃE CHIQUINHA", "CENTRO", "BOA VISTA", "SOLEDADE", "CASA AMARELA", "JARDIM SÃO PAULO",
  "VÁRZEA", "ENCRUZILHADA" }
local CIDADES = { { 7674, "Santo Antônio do Monte", 65, "MG" }, { 2611, "Recife", 17, "PE" },
  { 2607, "Jaboatão dos Guararapes", 17, "PE" }, { 3550, "São Paulo", 35, "SP" },
  { 5208, "Goiânia", 52, "GO" }, { 4314, "Pelotas", 43, "RS" }, { 2304, "Fortaleza", 23, "CE" } }
local PLANOS = { { 2735, "(Migracao-TesteMap) COMBO 10 MEGA - RÁDIO" }, { 2801, "FIBRA 300 MEGA" },
  { 1999, "NEXT-NV_1MBPS" }, { 3001, "LINK DEDICADO 100 MEGA" }, { 3002, "FIBRA EMPRESARIAL 500 MEGA" },
  { 3100, "FIBRA 600 MEGA + TV" } }
local GRUPOS = { { 51, "GRUPO DE TESTE" }, { 52, "PLANOS FIBRA" }, { 53, "CORPORATIVO" } }
local USUARIOS = { { 1, "SAC (Atendimento)", "sac@provedor.com.br" },
  { 5, "João Araújo", "joao.araujo@provedor.com.br" },
  { 10, "Maria da Conceição", "maria.conceicao@provedor.com.br" },
  { 12, "Técnico Plantão", "plantao@provedor.com.br" } }
local MENSAGENS = {
  "Cliente informou que a conexão voltou às 14h.",
  "Verificado sinal óptico -27 dBm na ONU, acima do limite; agendar visita técnica.",
  "Enviado link de pagamento por WhatsApp e e-mail.",
  "Técnico a caminho, previsão de chegada em 40 minutos.",
  "Cliente não atendeu às ligações; deixado recado na caixa postal.",
  "Reiniciada a sessão PPPoE remotamente, navegação normalizada.",
  "Aguardando confirmação do cliente para encerrar o atendimento.",
}

---------------------------------------------------------------- dates

local BASE_T = 1735700400 -- 2025-01-01 00:00:00 -03:00, as Unix seconds
local function ymdhms(t)
  local d = os.date("!*t", t - 3 * 3600)
  return d
end
local function iso(t)
  local d = ymdhms(t)
  return fmt("%04d-%02d-%02d %02d:%02d:%02d", d.year, d.month, d.day, d.hour, d.min, d.sec)
end
local function br(t)
  local d = ymdhms(t)
  return fmt("%02d/%02d/%04d %02d:%02d", d.day, d.month, d.year, d.hour, d.min)
end

---------------------------------------------------------------- a record

local function record(id, i)
  local st = pick(STATUS)
  local tipo = pick(TIPOS)
  local t = BASE_T + floor(i * 1297 / 1) % (365 * 86400) + rnd(3600)
  local closed = st[1] == 24 or st[1] == 25
  local t_close = closed and (t + 600 + rnd(86400)) or nil
  local minutes = floor(((t_close or (BASE_T + 366 * 86400)) - t) / 60)
  local rem = 24 * 60 - minutes
  local cid = pick(CIDADES)
  local plano = pick(PLANOS)
  local grupo = pick(GRUPOS)
  local id_cs = 17000 + rnd(9000)
  local id_cli = 24000 + rnd(9000)
  local cod = 1000 + rnd(8000)
  local nome = pick(NOMES) .. " " .. pick(SOBRENOMES)
  local rua, bairro, numero = pick(RUAS), pick(BAIRROS), tostring(rnd(2000))
  local cep = fmt("%05d%03d", 10000 + rnd(89999), rnd(999) - 1)
  local id_end = 50000 + rnd(30000)
  local n_os = rnd(3) - 1
  local n_os_closed = closed and n_os or 0

  local msgs = arr {}
  for k = 1, rnd(4) - 1 do -- 0..3 messages, newest first
    local tm = t + k * 900
    msgs[#msgs + 1] = obj {
      "id_atendimento_mensagem", id * 4 + k,
      "id_atendimento", id,
      "mensagem", pick(MENSAGENS),
      "data_cadastro_br", br(tm),
      "data_cadastro_timestamp", tm * 1000,
    }
  end
  local users = arr {}
  if rnd(3) > 1 then
    local u = pick(USUARIOS)
    users[1] = obj { "id", u[1], "name", u[2], "email", u[3] }
  end
  local id_resp = #users > 0 and users[1][2] or NULL -- users[1] is {"id", id, ...}

  return obj {
    "id_atendimento", id,
    "id_atendimento_status", st[1],
    "id_tipo_atendimento", tipo[1],
    "id_cliente_servico", id_cs,
    "id_usuario_responsavel", id_resp,
    "id_usuario_abertura", 4903,
    "protocolo", fmt("%s%06d", os.date("!%Y%m%d%H%M%S", t - 3 * 3600), id % 1000000),
    "data_cadastro", iso(t),
    "data_fechamento", closed and iso(t_close) or NULL,
    "rascunho", false,
    "status_fechamento", closed and "concluido" or NULL,
    "descricao_fechamento", closed and "Atendimento finalizado via API" or NULL,
    "id_motivo_fechamento_atendimento", closed and 5 or NULL,
    "deleted_at", NULL,
    "avaliacao", closed and rnd(5) or NULL,
    "comentario_avaliacao", NULL,
    "ordem_servico_count", n_os,
    "ordem_servico_fechada", n_os_closed,
    "ordem_servico_aberta", n_os - n_os_closed,
    "ingressado", false,
    "data_cadastro_br", br(t),
    "data_cadastro_timestamp", t * 1000,
    "data_fechamento_br", closed and br(t_close) or NULL,
    "data_fechamento_timestamp", closed and t_close * 1000 or NULL,
    "minutos_em_aberto", minutes,
    "tempo_restante", fmt("%s%dh %dmin", rem < 0 and "-" or "", floor(math.abs(rem) / 60), math.abs(rem) % 60),
    "percentual_tempo_restante", rem > 0 and floor(rem * 100 / 1440) or 0,
    "percentual_color_class", rem > 0 and "white-fg md-green-bg" or "white-fg md-red-bg",
    "status", obj {
      "id_atendimento_status", st[1], "prefixo", st[2], "descricao", st[3], "cor", st[4],
      "abrir_ordem_servico", st[5], "display", st[3],
    },
    "tipo_atendimento", obj { "id_tipo_atendimento", tipo[1], "descricao", tipo[2], "checklists", arr {} },
    "cliente_servico", obj {
      "id_cliente_servico", id_cs,
      "id_cliente", id_cli,
      "id_servico", plano[1],
      "numero_plano", rnd(12),
      "display", fmt("(%d) %s", rnd(12), plano[2]:upper()),
      "endereco_numero_completo", fmt("%s, %s - %s, %s/%s | CEP: %s-%s", rua, numero, bairro,
        cid[2]:upper(), cid[4], cep:sub(1, 5), cep:sub(6)),
      "endereco_instalacao", obj {
        "id_cliente_servico_endereco", 70000 + rnd(30000),
        "id_endereco_numero", id_end,
        "id_cliente_servico", id_cs,
        "tipo", "instalacao",
        "endereco_numero", obj {
          "id_endereco_numero", id_end,
          "numero", numero,
          "complemento", rnd(4) == 1 and ("APTO " .. rnd(400)) or NULL,
          "coordenadas", obj { "type", "Point",
            "coordinates", arr { -45 - rnd(999999) / 1e6, -20 - rnd(999999) / 1e6 } },
          "ativo", true,
          "id_cidade", cid[1],
          "bairro", bairro,
          "referencia", rnd(3) == 1 and "PRÓXIMO À PADARIA" or NULL,
          "endereco", rua,
          "cep", cep,
          "atualizar_coords_auto", false,
          "id_condominio", NULL,
          "cidade", obj {
            "id_cidade", cid[1], "id_estado", cid[3], "nome", cid[2],
            "estado", obj { "id_estado", cid[3], "sigla", cid[4] },
          },
        },
      },
      "servico", obj {
        "id_servico", plano[1],
        "descricao", plano[2],
        "valor", (rnd(90) + 59) + 0.9,
        "id_servico_grupo", grupo[1],
        "servico_grupo", obj { "id_servico_grupo", grupo[1], "descricao", grupo[2],
          "data_cadastro", "2020-04-15 13:52:01", "ativo", true },
      },
      "cliente", obj {
        "id_cliente", id_cli,
        "ativo", true,
        "codigo_cliente", cod,
        "nome_razaosocial", nome,
        "display", fmt("(%d) %s", cod, nome),
      },
    },
    "usuarios_responsaveis", users,
    "atendimento_mensagem", msgs,
  }
end

---------------------------------------------------------------- pages

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local pages = floor((total + per - 1) / per)
local bytes = 0
for p = 0, pages - 1 do
  local recs = arr {}
  for i = p * per + 1, math.min(total, (p + 1) * per) do
    recs[#recs + 1] = record(first_id + i - 1, i)
  end
  local out = {}
  enc(obj {
    "status", "success",
    "msg", "Dados consultados com sucesso",
    "paginacao", obj { "primeira_pagina", 0, "ultima_pagina", pages - 1, "pagina_atual", p,
      "total_registros", total },
    "atendimentos", recs,
  }, out)
  local text = concat(out)
  bytes = bytes + #text
  write(fmt("%s/page-%d.json", outdir, p), text)
end

local status_list = arr {}
for _, s in ipairs(STATUS) do
  status_list[#status_list + 1] = obj { "id_atendimento_status", s[1], "prefixo", s[2], "descricao", s[3],
    "cor", s[4], "ativo", true }
end
local small = {}
enc(obj { "status", "success", "msg", "Dados consultados com sucesso", "status_atendimento", status_list }, small)
write(outdir .. "/status_atendimento.json", concat(small))
write(outdir .. "/oauth_token.json", '{"token_type":"Bearer","expires_in":2592000,'
  .. '"access_token":"bench-access-token-0123456789abcdef","refresh_token":"bench-refresh-token"}')

io.write(fmt("gen: %d records, %d pages of %d, %.1f MB (%.2f MB a page)\n", total, pages, per,
  bytes / 1e6, bytes / 1e6 / pages))
