--- The `hubsoft` command: argument words in, an exit status out.
--
--   hubsoft [--config FILE] [--verbose] METODO [--param valor]...
--   hubsoft export METODO [--param valor]... [--format jsonl|csv] [--columns a,b.c]
--                  [--output FILE] [--concurrency N]
--   hubsoft help [METODO]
--   hubsoft fake-server [--port N] [--seed-tickets N]
--
-- Exit status: 0 success, 1 the server or the response (api, http, decode,
-- closed), 2 usage or validation, 3 auth, 4 timeout, network, tls,
-- 130 interrupted (Ctrl-C).
-- @module hubsoft.cli.main

local M = {}

--- Exit status of each error kind.
M.STATUS = {
  api = 1, http = 1, decode = 1, closed = 1,
  validation = 2, auth = 3,
  timeout = 4, network = 4, tls = 4,
}
M.USAGE, M.INTERRUPTED = 2, 130

-- Options of the command itself (the rest are the method's parameters), and
-- whether each takes a value.
local OPTIONS = {
  config = true, verbose = false, help = false,
  format = true, output = true, concurrency = true, columns = true, -- export
  port = true, ["seed-tickets"] = true, -- fake-server
}
local FOR = {
  format = "export", output = "export", concurrency = "export", columns = "export",
  port = "fake-server", ["seed-tickets"] = "fake-server",
}

local function usage_error(msg)
  io.stderr:write("hubsoft: ", msg, "\n", "(hubsoft help lists the methods and options)\n")
  return M.USAGE
end

-- argv -> {words = bare words, named = {{name, text}...}, opts = {...}}
local function parse(argv)
  local words, named, opts = {}, {}, {}
  local i = 1
  while argv[i] ~= nil do
    local a = argv[i]
    local name, inline = a:match("^%-%-([^=]+)=(.*)$")
    name = name or a:match("^%-%-(.+)$")
    if a == "-h" then name = "help" elseif a == "-v" then name = "verbose" end
    if name then
      local value = inline
      local takes = OPTIONS[name]
      if takes ~= false then
        if value == nil then
          value = argv[i + 1]
          if value == nil then return nil, "--" .. name .. " needs a value" end
          i = i + 1
        end
      end
      if takes == nil then
        named[#named + 1] = { name, value }
      else
        opts[name] = takes and value or true
      end
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return { words = words, named = named, opts = opts }
end

local function client(cmd, core)
  local hubsoft = require "hubsoft"
  local config = require "hubsoft.cli.config"
  local cfg, token_file = config.load(core, cmd.opts.config, os.getenv)
  if not cfg then return nil, cfg == nil and token_file end
  -- print what the server sent, nulls included: CSV takes its columns from the
  -- first record, and a field that is null there (an open ticket's
  -- data_fechamento) would otherwise be missing from every row
  if cfg.keep_nulls == nil then cfg.keep_nulls = true end
  if cmd.opts.verbose then
    io.stderr:write("hubsoft: config ", config.describe(cfg, token_file), "\n")
    cfg.on_request = function(info)
      io.stderr:write(("hubsoft: %s %s -> %s (%.3f s, %d bytes, attempt %d)\n"):format(
        info.method, info.url, tostring(info.status or "no answer"), info.elapsed or 0,
        info.bytes or 0, info.attempt or 1))
    end
  end
  if token_file then
    local store = hubsoft.file_token_store(token_file)
    if cmd.opts.verbose then
      -- otherwise an unwritable cache folder makes every command log in, unseen
      local save = store.save
      store.save = function(token)
        local saved, why = save(token)
        if not saved then
          io.stderr:write("hubsoft: the token could not be kept in ", token_file, " (", tostring(why),
            "): the next command logs in again\n")
        end
        return saved, why
      end
    end
    cfg.token_store = store
  end
  local ok, api = pcall(hubsoft.new, cfg)
  if not ok then
    return nil, "configuration: " .. tostring(api):gsub("^[^:]*:%d+: ", "")
  end
  return api
end

-- `row`: the method that failed, when one was called (a write interrupted
-- mid-way may already be done at the server, and the operator must know it
-- before sending it again)
local function fail(err, row)
  if type(err) == "table" and err.write_error then
    io.stderr:write("hubsoft: cannot write the output: ", err.write_error, "\n")
    return 1
  end
  if require("hubsoft.cli.export").interrupted(err) then
    if row and require("hubsoft.cli.rows").class(row) == "write" then
      io.stderr:write("hubsoft: interrupted; ", row.name, " may already be done at the server: ",
        "check before sending it again\n")
    else
      io.stderr:write("hubsoft: interrupted\n")
    end
    return M.INTERRUPTED
  end
  io.stderr:write("hubsoft: ", tostring(err), "\n")
  return M.STATUS[err.kind] or 1
end

local function open_output(path)
  if not path or path == "-" then return io.stdout end
  return io.open(path, "wb")
end

local function export(cmd, core)
  local rows = require "hubsoft.cli.rows"
  local metodo = cmd.words[2]
  if not metodo then return usage_error("export: which method? (paginated: see hubsoft help)") end
  local row = rows.find(metodo)
  if not row then return usage_error("unknown method " .. metodo) end
  if not rows.paginated(row) then
    return usage_error("export: " .. metodo .. " is not paginated (hubsoft " .. metodo .. " prints its answer)")
  end
  local format = cmd.opts.format or "jsonl"
  if format ~= "jsonl" and format ~= "csv" then return usage_error("--format must be jsonl or csv") end
  local concurrency = 2
  if cmd.opts.concurrency then
    concurrency = tonumber(cmd.opts.concurrency)
    if not concurrency or concurrency % 1 ~= 0 or concurrency < 1 or concurrency > 8 then
      return usage_error("--concurrency must be an integer from 1 to 8")
    end
  end
  local columns
  if cmd.opts.columns then
    if format ~= "csv" then return usage_error("--columns goes with --format csv") end
    columns = {}
    for c in cmd.opts.columns:gmatch("[^,]+") do columns[#columns + 1] = c end
    if #columns == 0 then return usage_error("--columns needs at least one column") end
  end
  local args, n = require("hubsoft.cli.params").build(core, row, cmd.named, { (table.unpack or unpack)(cmd.words, 3) })
  if not args then return usage_error(n) end
  local filtros = args[n] or {}
  for i = 1, n - 1 do
    if args[i] ~= nil then filtros[row.positional[i]] = args[i] end
  end

  local api, err = client(cmd, core)
  if not api then return usage_error(err) end
  local out, oerr = open_output(cmd.opts.output)
  if not out then
    api:close()
    return usage_error("--output: " .. tostring(oerr))
  end
  local writers = require "hubsoft.cli.writers"
  local writer = format == "csv" and writers.csv(core, out, columns) or writers.jsonl(core, out)
  local progress = require("hubsoft.cli.progress")
  -- no live line when the records themselves go to that terminal: each one
  -- would land after the bar's text and stay there
  local live = progress.isatty(2) and not (out == io.stdout and progress.isatty(1))
  local display = progress.new(io.stderr, live)
  local how, e = require("hubsoft.cli.export").run(api, core, metodo, filtros, concurrency, writer, display)
  if out ~= io.stdout then
    local closed, cerr = out:close()
    if not closed and how == "done" then how, e = "failed", { write_error = tostring(cerr) } end
  end
  api:close()
  if how == "interrupted" then return M.INTERRUPTED end
  if e then return fail(e) end
  return 0
end

local function call(cmd, core)
  local rows = require "hubsoft.cli.rows"
  local metodo = cmd.words[1]
  local row = rows.find(metodo)
  if not row then return usage_error("unknown method " .. metodo) end
  local args, n = require("hubsoft.cli.params").build(core, row, cmd.named, { (table.unpack or unpack)(cmd.words, 2) })
  if not args then return usage_error(n) end
  local api, err = client(cmd, core)
  if not api then return usage_error(err) end
  local method = api[metodo]
  if type(method) ~= "function" then
    api:close()
    return usage_error(metodo .. " has a row but no method on the client")
  end
  -- Ctrl-C comes back as the interpreter's own error, raised from the call
  local called, res, rerr = pcall(method, api, (table.unpack or unpack)(args, 1, n))
  api:close()
  if not called then
    if require("hubsoft.cli.export").interrupted(res) then return fail(res, row) end
    error(res, 0)
  end
  if res == nil then return fail(rerr, row) end
  local ok, werr = io.stdout:write(core.encode(res), "\n")
  if ok then ok, werr = io.stdout:flush() end
  if not ok then return fail { write_error = tostring(werr) } end
  return 0
end

-- The shell word for a value: as is when safe, else in single quotes.
local function shell_word(s)
  if s:match("^[%w@%%+,./:_!-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function fake_server(cmd)
  local port = tonumber(cmd.opts.port or "0")
  local seed = tonumber(cmd.opts["seed-tickets"] or "120")
  if not port or port % 1 ~= 0 or port < 0 or port > 65535 then
    return usage_error("--port must be a port number")
  end
  if not seed or seed % 1 ~= 0 or seed < 0 then return usage_error("--seed-tickets must be a count") end
  local ok, fake = pcall(require, "hubsoft.fake_server")
  if not ok then
    io.stderr:write("hubsoft: fake-server needs LuaSocket and lua-cjson: ", tostring(fake), "\n")
    return 1
  end
  -- Ctrl-C raises "interrupted!" out of the serving loop: the normal way to stop it
  local called, served, err = pcall(fake.serve, {
    host = "127.0.0.1", port = port, seed_tickets = seed, idle_exit = 0,
    on_listen = function(p)
      local c = fake.CREDENTIALS
      io.stdout:write(("HUBSOFT_BASE_URL=%s HUBSOFT_CLIENT_ID=%s HUBSOFT_CLIENT_SECRET=%s "
        .. "HUBSOFT_USERNAME=%s HUBSOFT_PASSWORD=%s\n"):format(
        shell_word("http://127.0.0.1:" .. p), shell_word(c.client_id), shell_word(c.client_secret),
        shell_word(c.username), shell_word(c.password)))
      io.stdout:write(("fake HubSoft on 127.0.0.1:%d with %d tickets (2025); Ctrl-C stops it\n"):format(p, seed))
      io.stdout:flush()
    end,
  })
  if not called then
    if require("hubsoft.cli.export").interrupted(served) then return M.INTERRUPTED end
    error(served, 0)
  end
  if not served then
    io.stderr:write("hubsoft: fake-server: ", tostring(err), "\n")
    return 1
  end
  return 0
end

--- Run the command.
-- @param argv the words after the command name (`arg`)
-- @treturn integer the exit status
function M.run(argv)
  local cmd, perr = parse(argv)
  if not cmd then return usage_error(perr) end
  for name, command in pairs(FOR) do
    if cmd.opts[name] ~= nil and cmd.words[1] ~= command then
      return usage_error("--" .. name .. " goes with hubsoft " .. command)
    end
  end
  local first = cmd.words[1]
  local help = require "hubsoft.cli.help"
  if first == "help" or (cmd.opts.help and first ~= "fake-server") then
    local name = first == "help" and cmd.words[2] or (first ~= "help" and first) or nil
    if name == "export" then name = cmd.words[first == "help" and 3 or 2] end
    if name then
      local row = require("hubsoft.cli.rows").find(name)
      if not row then return usage_error("unknown method " .. name) end
      io.stdout:write(help.method(row))
    else
      io.stdout:write(help.list())
    end
    return 0
  end
  if first == nil then
    io.stderr:write(help.USAGE)
    return M.USAGE
  end
  if first == "fake-server" then return fake_server(cmd) end
  local core = require "hubsoft.core"
  require "hubsoft" -- installs the endpoint methods on the client
  if first == "export" then return export(cmd, core) end
  return call(cmd, core)
end

return M
