-- The benchmark's driver: runs every workload for our client and its peers R
-- times (rounds interleaved, so a slow moment of the machine hits every peer
-- alike), each under /usr/bin/time, checks what each run printed, and writes
-- the table and the PASS/MISS lines to bench/README.md (between the markers),
-- bench/results/latest.json and stdout.
--
-- Started by bench/run.sh, which builds, generates the pages, starts nginx and
-- the fake server on 127.0.0.1 and passes everything in the environment.
-- Exits 1 when a run failed (a missing, doubled or out-of-order record counts
-- as a failure); a missed target is reported, not an error.

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local env = os.getenv
local function need(name)
  return assert(env(name), "bench/driver.lua: " .. name .. " is not set (run bench/run.sh)")
end

local RUNS = tonumber(env("BENCH_RUNS") or "5")
local LINK_RUNS = tonumber(env("BENCH_LINK_RUNS") or tostring(RUNS))
local MEM_RUNS = tonumber(env("BENCH_MEM_RUNS") or tostring(RUNS))
local RECORDS = tonumber(env("BENCH_RECORDS") or "20000")
local BIG_RECORDS = tonumber(env("BENCH_BIG_RECORDS") or "100000")
local CALLS = tonumber(env("BENCH_CALLS") or "2000")
local CREATES = tonumber(env("BENCH_CREATES") or "1000")
local PLAIN = "http://127.0.0.1:" .. need("BENCH_PORT_PLAIN")
local BIG = "http://127.0.0.1:" .. need("BENCH_PORT_BIG")
local LINK = "http://127.0.0.1:" .. need("BENCH_PORT_LINK")
local FAKE = "http://127.0.0.1:" .. need("BENCH_PORT_FAKE")
local DATA20, DATA100 = need("BENCH_DATA20"), need("BENCH_DATA100")
local TMP = need("BENCH_TMP")
local C_LOOP = need("BENCH_C_LOOP")
local README = env("BENCH_README") or "bench/README.md"
local JSON_OUT = env("BENCH_JSON") or "bench/results/latest.json"
local STARTED = socket.gettime()

---------------------------------------------------------------- helpers

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function sh(cmd) -- first line of a command's output, or ""
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p:read("*a") or ""
  p:close()
  return (s:gsub("%s+$", ""))
end

local function median(xs)
  local t = {}
  for i, x in ipairs(xs) do t[i] = x end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

local function minmax(xs)
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(xs) do
    if x < lo then lo = x end
    if x > hi then hi = x end
  end
  return lo, hi
end

-- The fake server: back to its start state, then a fresh token for the peers
-- (our client logs in by itself, like any user of it).
local function fake_call(method, path, body)
  local chunks = {}
  local ok, code = http.request {
    url = FAKE .. path, method = method,
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
    source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
  }
  assert(ok and code == 200, "fake server " .. path .. ": " .. tostring(code))
  return cjson.decode(table.concat(chunks))
end

local function fake_reset_and_login()
  fake_call("POST", "/__control/reset", "{}")
  return fake_call("POST", "/oauth/token", cjson.encode {
    grant_type = "password", client_id = "3", client_secret = "fake-client-secret-XYZ",
    username = "bot@provedor.com.br", password = "s3nh@-Secreta!",
  }).access_token
end

---------------------------------------------------------------- the plan

local OURS = "lua5.4 bench/ours.lua"
local SOCK = "lua5.4 bench/peers/luasocket.lua"
local LCURL = "lua5.2 bench/peers/luacurl.lua"
local PY = "/usr/bin/python3 bench/peers/py_requests.py"
local FLOOR = "lua5.4 bench/peers/floor.lua"

local PEER_NOTES = {
  ["lua-hubsoft"] = "this client (lua5.4): api:each / api:configuracao / api:abrir_atendimento, "
    .. "default settings unless said",
  ["C libcurl loop"] = "bench/peers/c_loop.c, gcc -O2: one easy handle reused, a growing buffer, "
    .. "no decode (the transport floor)",
  ["cjson from disk"] = "lua5.4 + lua-cjson reading each page file and cjson.decode (the decode floor, no HTTP)",
  ["core.decode from disk"] = "lua5.4 + hubsoft.core.decode on the page files: our decode (cjson + UTF-8 check "
    .. "+ nulls dropped + whole floats to integers) without our transport, for reference",
  ["LuaSocket + cjson"] = "lua5.4, socket.http (a connection per request, no gzip) + cjson",
  ["lua-curl + cjson"] = "lua5.2 (Debian's lua-curl 0.3.0 exists for 5.1/5.2 only), one easy handle reused, "
    .. "gzip offered, + cjson",
  ["Python requests"] = "/usr/bin/python3, requests.Session (keep-alive, gzip offered) + json.loads",
}

local PAGES = math.ceil(RECORDS / 500)

-- A cell: one peer in one workload. `count` is what its RESULT line must say
-- (records, pages for the C loop, or calls); `link_peer` marks the peers the
-- link targets compare against.
local function new_cell(peer, cmd, count, extra)
  local c = { peer = peer, cmd = cmd, count = count }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local WORKLOADS = {
  {
    id = "bulk", runs = RUNS, warmup = true,
    title = ("bulk: %d records in pages of 500, loopback nginx, no delay"):format(RECORDS),
    unit = "page", units = PAGES,
    cells = {
      new_cell("lua-hubsoft", { OURS, "bulk", PLAIN, RECORDS }, RECORDS),
      new_cell("C libcurl loop", { C_LOOP, "bulk", PLAIN }, PAGES),
      new_cell("cjson from disk", { FLOOR, DATA20, RECORDS, "cjson" }, RECORDS),
      new_cell("core.decode from disk", { FLOOR, DATA20, RECORDS, "core" }, RECORDS),
      new_cell("LuaSocket + cjson", { SOCK, "bulk", PLAIN, RECORDS }, RECORDS),
      new_cell("lua-curl + cjson", { LCURL, "bulk", PLAIN, RECORDS }, RECORDS),
      new_cell("Python requests", { PY, "bulk", PLAIN, RECORDS }, RECORDS),
    },
  },
  {
    id = "latency", runs = RUNS, warmup = true,
    title = ("latency: %d sequential GET configuracao/status_atendimento (%d-byte answer), loopback nginx")
      :format(CALLS, #read_file(DATA20 .. "/status_atendimento.json")),
    unit = "call", units = CALLS,
    cells = {
      new_cell("lua-hubsoft", { OURS, "latency", PLAIN, CALLS }, CALLS),
      new_cell("C libcurl loop", { C_LOOP, "latency", PLAIN, CALLS }, CALLS),
      new_cell("LuaSocket + cjson", { SOCK, "latency", PLAIN, CALLS }, CALLS),
      new_cell("lua-curl + cjson", { LCURL, "latency", PLAIN, CALLS }, CALLS),
      new_cell("Python requests", { PY, "latency", PLAIN, CALLS }, CALLS),
    },
  },
  {
    id = "create", runs = RUNS, warmup = true, fake = true,
    title = ("create: %d sequential abrir_atendimento (POST JSON) against the fake server (Lua, one process)")
      :format(CREATES),
    unit = "call", units = CREATES,
    cells = {
      new_cell("lua-hubsoft", { OURS, "create", FAKE, CREATES }, CREATES),
      new_cell("C libcurl loop", { C_LOOP, "create", FAKE, CREATES, "$TOKEN" }, CREATES),
      new_cell("LuaSocket + cjson", { SOCK, "create", FAKE, CREATES, "$TOKEN" }, CREATES),
      new_cell("lua-curl + cjson", { LCURL, "create", FAKE, CREATES, "$TOKEN" }, CREATES),
      new_cell("Python requests", { PY, "create", FAKE, CREATES, "$TOKEN" }, CREATES),
    },
  },
  {
    id = "link", runs = LINK_RUNS,
    title = ("link: %d records in %d pages, 200 ms server time a page, 6 MiB/s a connection, "
      .. "gzip offered by the server"):format(RECORDS, PAGES),
    unit = "page", units = PAGES,
    cells = {
      new_cell("lua-hubsoft", { OURS, "bulk", LINK, RECORDS }, RECORDS,
        { label = "lua-hubsoft (default, concurrency 2)" }),
      new_cell("lua-hubsoft", { OURS, "bulk", LINK, RECORDS, 4 }, RECORDS, { label = "lua-hubsoft (concurrency 4)" }),
      new_cell("C libcurl loop", { C_LOOP, "bulk", LINK }, PAGES, { link_peer = true }),
      new_cell("LuaSocket + cjson", { SOCK, "bulk", LINK, RECORDS }, RECORDS, { link_peer = true }),
      new_cell("lua-curl + cjson", { LCURL, "bulk", LINK, RECORDS }, RECORDS, { link_peer = true }),
      new_cell("Python requests", { PY, "bulk", LINK, RECORDS }, RECORDS, { link_peer = true }),
    },
  },
  {
    id = "memory", runs = MEM_RUNS,
    title = ("memory: %d records = %d pages of 500, loopback nginx (peak RSS against the %d-record bulk run)")
      :format(BIG_RECORDS, math.ceil(BIG_RECORDS / 500), RECORDS),
    unit = "page", units = math.ceil(BIG_RECORDS / 500),
    cells = {
      new_cell("lua-hubsoft", { OURS, "bulk", BIG, BIG_RECORDS }, BIG_RECORDS),
      new_cell("cjson from disk", { FLOOR, DATA100, BIG_RECORDS, "cjson" }, BIG_RECORDS),
    },
  },
}

local only = env("BENCH_ONLY") -- e.g. "bulk,latency" while working on one workload
if only and only ~= "" then
  local keep = {}
  for _, w in ipairs(WORKLOADS) do
    if ("," .. only .. ","):find("," .. w.id .. ",", 1, true) then keep[#keep + 1] = w end
  end
  WORKLOADS = keep
end

---------------------------------------------------------------- running

local failures = 0

local function run_cell(cell, token)
  local parts = {}
  for i, a in ipairs(cell.cmd) do
    if a == "$TOKEN" then a = token end
    parts[i] = (i == 1) and a or q(a) -- the first part is a program with its interpreter
  end
  local tfile, ofile, efile = TMP .. "/time.txt", TMP .. "/out.txt", TMP .. "/err.txt"
  os.remove(tfile)
  local cmd = ("/usr/bin/time -f '%%e %%U %%S %%M' -o %s %s >%s 2>%s"):format(q(tfile), table.concat(parts, " "),
    q(ofile), q(efile))
  local rcok = os.execute(cmd)
  local out, err = read_file(ofile), read_file(efile)
  local e, u, s, m = read_file(tfile):match("([%d.]+) ([%d.]+) ([%d.]+) (%d+)%s*$")
  local work, count, base = out:match("RESULT work=([%d.]+) count=(%d+) base_kb=(%d+)")
  local r = {
    wall = tonumber(e), user = tonumber(u), sys = tonumber(s), rss_kb = tonumber(m),
    work = tonumber(work), count = tonumber(count), base_kb = tonumber(base),
  }
  local ok = (rcok == true or rcok == 0) and r.work and r.wall and r.count == cell.count
  if not ok then
    r.error = (err ~= "" and err or out):sub(-600)
    if r.count and r.count ~= cell.count then
      r.error = ("count %d, expected %d; "):format(r.count, cell.count) .. r.error
    end
  end
  return r
end

local function label(cell) return cell.label or cell.peer end

for _, w in ipairs(WORKLOADS) do
  io.write(("\n== %s\n"):format(w.title))
  io.flush()
  for _, c in ipairs(w.cells) do c.runs = {} end
  if w.warmup then -- page cache, nginx's open files, the fake server's JIT-less warm path
    for _, c in ipairs(w.cells) do
      run_cell(c, w.fake and fake_reset_and_login() or nil)
    end
  end
  for round = 1, w.runs do
    for _, c in ipairs(w.cells) do
      local token = w.fake and fake_reset_and_login() or nil
      local r = run_cell(c, token)
      c.runs[#c.runs + 1] = r
      if r.error then
        failures = failures + 1
        io.write(("  run %d %-38s FAILED: %s\n"):format(round, label(c), (r.error:gsub("\n", " | "))))
      else
        io.write(("  run %d %-38s work %7.3f s  wall %6.2f s  cpu %6.2f s  rss %6.1f MB\n")
          :format(round, label(c), r.work, r.wall, r.user + r.sys, r.rss_kb / 1024))
      end
      io.flush()
    end
  end
end

---------------------------------------------------------------- summary

local function stats(cell)
  local work, wall, cpu, rss, base = {}, {}, {}, {}, {}
  for _, r in ipairs(cell.runs) do
    if not r.error then
      work[#work + 1] = r.work
      wall[#wall + 1] = r.wall
      cpu[#cpu + 1] = r.user + r.sys
      rss[#rss + 1] = r.rss_kb / 1024
      base[#base + 1] = r.base_kb / 1024
    end
  end
  if #work == 0 then return nil end
  local s = { n = #work, failed = #cell.runs - #work }
  for name, xs in pairs { work = work, wall = wall, cpu = cpu, rss = rss, base = base } do
    local lo, hi = minmax(xs)
    s[name] = { median = median(xs), min = lo, max = hi }
  end
  return s
end

local by = {} -- by[workload][label] = stats
for _, w in ipairs(WORKLOADS) do
  by[w.id] = {}
  for _, cell in ipairs(w.cells) do
    cell.stats = stats(cell)
    by[w.id][label(cell)] = cell.stats
  end
end

local function med(wid, lbl, what)
  local s = by[wid] and by[wid][lbl]
  return s and s[what or "work"].median
end

local targets = {}
local function target(name, ok, text)
  if ok == nil then
    targets[#targets + 1] = { name = name, verdict = "N/A", text = text }
  else
    targets[#targets + 1] = { name = name, verdict = ok and "PASS" or "MISS", text = text }
  end
end

do -- latency
  local ours, c = med("latency", "lua-hubsoft"), med("latency", "C libcurl loop")
  if ours and c then
    local ratio = ours / c
    target("latency vs C", ratio <= 1.25,
      ("latency: lua-hubsoft %.1f µs a call, C libcurl loop %.1f µs: %.2fx (target <= 1.25x)")
        :format(ours / CALLS * 1e6, c / CALLS * 1e6, ratio))
  elseif by.latency then
    target("latency vs C", nil, "latency: a run failed, no ratio")
  end
  for _, peer in ipairs { "LuaSocket + cjson", "lua-curl + cjson" } do
    local p = med("latency", peer)
    if ours and p then
      target("latency vs " .. peer, ours < p, ("latency: lua-hubsoft %.1f µs a call, %s %.1f µs: %.2fx (target < 1x)")
        :format(ours / CALLS * 1e6, peer, p / CALLS * 1e6, ours / p))
    end
  end
end

do -- bulk
  local ours, floor = med("bulk", "lua-hubsoft"), med("bulk", "cjson from disk")
  if ours and floor then
    target("bulk vs decode floor", ours / floor <= 1.15,
      ("bulk: lua-hubsoft %.3f s, cjson from disk %.3f s: %.2fx (target <= 1.15x)"):format(ours, floor, ours / floor))
  elseif by.bulk then
    target("bulk vs decode floor", nil, "bulk: a run failed, no ratio")
  end
  for _, peer in ipairs { "LuaSocket + cjson", "lua-curl + cjson", "Python requests" } do
    local p = med("bulk", peer)
    if ours and p then
      target("bulk vs " .. peer, ours <= p, ("bulk: lua-hubsoft %.3f s, %s %.3f s: %.2fx (target <= 1x)")
        :format(ours, peer, p, ours / p))
    end
  end
end

do -- link
  local fastest, fname
  for _, cell in ipairs((function()
    for _, w in ipairs(WORKLOADS) do if w.id == "link" then return w.cells end end
    return {}
  end)()) do
    if cell.link_peer and cell.stats and (not fastest or cell.stats.work.median < fastest) then
      fastest, fname = cell.stats.work.median, label(cell)
    end
  end
  for _, v in ipairs { { "lua-hubsoft (default, concurrency 2)", 2 }, { "lua-hubsoft (concurrency 4)", 4 } } do
    local ours = med("link", v[1])
    if ours and fastest then
      -- With N pages downloading at once, and page 0 alone (its metadata says
      -- where the pages end), no client can beat pages / (1 + ceil((pages - 1) / N)).
      local bound = PAGES / (1 + math.ceil((PAGES - 1) / v[2]))
      target("link " .. v[2] .. "x", fastest / ours >= 0.95 * bound,
        ("link: %s %.2f s, fastest peer (%s) %.2f s: %.2fx faster, %.0f%% of the ceiling (target >= 95%% of "
          .. "%.2fx, the most any client gets with %d pages downloading at once); every record once, in order")
          :format(v[1], ours, fname, fastest, fastest / ours, 100 * fastest / ours / bound, bound, v[2]))
    elseif by.link then
      target("link " .. v[2] .. "x", nil, "link: a run failed, no ratio")
    end
  end
end

do -- memory
  local ours, floor = med("bulk", "lua-hubsoft", "rss"), med("bulk", "cjson from disk", "rss")
  if ours and floor then
    target("peak RSS vs decode floor", ours / floor <= 1.25,
      ("peak RSS, %d records: lua-hubsoft %.1f MB, cjson from disk %.1f MB: %.2fx (target <= 1.25x)")
        :format(RECORDS, ours, floor, ours / floor))
  end
  local big = med("memory", "lua-hubsoft", "rss")
  if ours and big then
    target("peak RSS flat", big / ours <= 1.10,
      ("peak RSS flat: lua-hubsoft %.1f MB for %d records, %.1f MB for %d: %.2fx (target <= 1.10x)")
        :format(big, BIG_RECORDS, ours, RECORDS, big / ours))
  end
end

---------------------------------------------------------------- machine

local function cpu_model()
  for line in read_file("/proc/cpuinfo"):gmatch("[^\n]+") do
    local m = line:match("^model name%s*:%s*(.+)$")
    if m then return m end
  end
  return "?"
end

local function pkg(name)
  local v = sh("dpkg-query -W -f='${Version}' " .. name)
  return v ~= "" and v or "?"
end

local machine = {
  nproc = tonumber(sh("nproc")),
  cpu = cpu_model(),
  memory_gb = (tonumber(read_file("/proc/meminfo"):match("MemTotal:%s*(%d+)")) or 0) / 1048576,
  kernel = sh("uname -r"),
  os = sh(". /etc/os-release && echo $PRETTY_NAME"),
  loadavg_start = env("BENCH_LOADAVG_START") or "?",
  loadavg_end = (read_file("/proc/loadavg"):match("^(%S+ %S+ %S+)")),
}
local modified = sh("git status --porcelain -- src lua") ~= "" and ", src/lua modified" or ""
local versions = {
  ["lua-hubsoft"] = sh("lua5.4 -e 'io.write(require(\"hubsoft.core\").VERSION)'") .. " ("
    .. sh("git rev-parse --short HEAD") .. modified .. ")",
  ["lua5.4"] = pkg("lua5.4"), ["lua5.2"] = pkg("lua5.2"), libcurl = pkg("libcurl4"), ["lua-cjson"] = pkg("lua-cjson"),
  ["lua-socket"] = pkg("lua-socket"), ["lua-curl"] = pkg("lua-curl"), python3 = pkg("python3"),
  ["python3-requests"] = pkg("python3-requests"), nginx = pkg("nginx-light"),
  ["libnginx-mod-http-lua"] = pkg("libnginx-mod-http-lua"), gcc = pkg("gcc"),
}

local elapsed = socket.gettime() - STARTED + tonumber(env("BENCH_SETUP_SECONDS") or "0")

---------------------------------------------------------------- report

local function fmt_range(s, what, f)
  local x = s[what]
  return (f .. " [" .. f .. "–" .. f .. "]"):format(x.median, x.min, x.max)
end

local lines = {}
local function L(s) lines[#lines + 1] = s or "" end

L(("Run of %s, %d runs a cell (link %d, memory %d), total %.0f s (setup included)."):format(
  os.date("!%Y-%m-%d %H:%M UTC"), RUNS, LINK_RUNS, MEM_RUNS, elapsed))
L()
L(("Machine: %d CPUs, %s, %.1f GB RAM, %s, Linux %s. Load average at start %s, at end %s%s.")
  :format(machine.nproc or 0, machine.cpu, machine.memory_gb, machine.os, machine.kernel,
    machine.loadavg_start, machine.loadavg_end,
    " (other work on the machine shows up as spread in the min–max columns)"))
L()
do
  local keys = {}
  for k in pairs(versions) do keys[#keys + 1] = k end
  table.sort(keys)
  local vs = {}
  for _, k in ipairs(keys) do vs[#vs + 1] = k .. " " .. versions[k] end
  L("Versions: " .. table.concat(vs, ", ") .. ".")
end
L()
L("### Targets")
L()
L("```")
for _, t in ipairs(targets) do L(("%-4s %s"):format(t.verdict, t.text)) end
if failures > 0 then L(("FAIL %d run(s) failed (see bench/run.sh output)"):format(failures)) end
L("```")
L()
L("### Results")
L()
L("Medians over the runs, [min–max]. *work*: the workload's own wall time measured inside the")
L("process (connection and login included, interpreter start-up excluded); the ratios above use it.")
L("*process*: wall time of the whole process; *CPU*: user + sys of the process; *RSS*: its peak")
L("resident set (all three from /usr/bin/time); *RSS at start*: VmRSS once the interpreter and")
L("libraries are loaded, before the work (what the libraries cost, not the data).")
for _, w in ipairs(WORKLOADS) do
  L()
  L("**" .. w.title .. "**")
  L()
  L(("| peer | work (s) | per %s | process (s) | CPU (s) | peak RSS (MB) | RSS at start (MB) |"):format(w.unit))
  L("|---|---:|---:|---:|---:|---:|---:|")
  for _, cell in ipairs(w.cells) do
    local s = cell.stats
    if s then
      local per = s.work.median / w.units
      local per_s = per < 0.001 and ("%.1f µs"):format(per * 1e6) or ("%.1f ms"):format(per * 1e3)
      L(("| %s%s | %s | %s | %s | %s | %s | %.1f |"):format(label(cell),
        s.failed > 0 and (" (%d failed)"):format(s.failed) or "",
        fmt_range(s, "work", "%.3f"), per_s, fmt_range(s, "wall", "%.2f"), fmt_range(s, "cpu", "%.2f"),
        fmt_range(s, "rss", "%.1f"), s.base.median))
    else
      L(("| %s | failed | | | | | |"):format(label(cell)))
    end
  end
end
L()
L("Peers:")
L()
for _, k in ipairs { "lua-hubsoft", "C libcurl loop", "cjson from disk", "core.decode from disk",
  "LuaSocket + cjson", "lua-curl + cjson", "Python requests" } do
  L("- **" .. k .. "**: " .. PEER_NOTES[k])
end
local report = table.concat(lines, "\n") .. "\n"

io.write("\n" .. report)

-- README: replace what is between the markers
local BEGIN, END = "<!-- bench:begin (generated by bench/run.sh) -->", "<!-- bench:end -->"
local readme = read_file(README)
local a = readme:find(BEGIN, 1, true)
local b = readme:find(END, 1, true)
if a and b then
  readme = readme:sub(1, a - 1) .. BEGIN .. "\n" .. report .. readme:sub(b)
else
  readme = readme .. "\n" .. BEGIN .. "\n" .. report .. END .. "\n"
end
write_file(README, readme)

-- JSON
local out = {
  date = os.date("!%Y-%m-%dT%H:%M:%SZ"), elapsed_seconds = elapsed, runs = RUNS, link_runs = LINK_RUNS,
  mem_runs = MEM_RUNS, machine = machine, versions = versions, failures = failures, targets = targets,
  workloads = {},
}
for _, w in ipairs(WORKLOADS) do
  local cells = {}
  for _, cell in ipairs(w.cells) do
    cells[#cells + 1] = { peer = label(cell), stats = cell.stats or cjson.null, runs = cell.runs }
  end
  out.workloads[#out.workloads + 1] = { id = w.id, title = w.title, unit = w.unit, units = w.units, cells = cells }
end
write_file(JSON_OUT, cjson.encode(out) .. "\n")

os.exit(failures == 0 and 0 or 1)
