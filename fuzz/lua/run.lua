--- The Lua-level fuzzer's command line (scripts/fuzz-lua.sh runs it).
--
--   lua fuzz/lua/run.lua [--seconds N] [--seed S] [--iterations N] [--no-skip]
--       [--case-file F]              fuzz; F holds the case being run (for a crash)
--   lua fuzz/lua/run.lua --replay F  run one case file; exit 0 when it holds
--   lua fuzz/lua/run.lua --shrink F  shrink a failing case file, print the smallest
--   lua fuzz/lua/run.lua --regressions   replay fuzz/lua/regressions/*.lua
--
-- --url U uses a running fake server instead of starting one. Known findings
-- (fuzz/lua/known.lua) are skipped unless --no-skip or HUBSOFT_FUZZ_NO_SKIP=1.

package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path

local H = require "fuzz.lua.harness"
local known = require "fuzz.lua.known"
local socket = require "socket"

local opts = { seconds = 60, iterations = math.huge, skip = os.getenv("HUBSOFT_FUZZ_NO_SKIP") ~= "1" }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--no-skip" then opts.skip = false
    elseif a == "--regressions" then opts.regressions = true
    else
      local k = a:match("^%-%-([%w%-]+)$")
      if not k or arg[i + 1] == nil then error("fuzz: bad argument " .. a) end
      opts[k:gsub("%-", "_")] = arg[i + 1]
      i = i + 1
    end
    i = i + 1
  end
end
opts.seconds = tonumber(opts.seconds)
opts.iterations = tonumber(opts.iterations) or math.huge
opts.seed = tonumber(opts.seed) or (os.time() % 2147483000)

local INTERP = arg[-1] or "lua"
local HERE = "fuzz/lua/run.lua"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
local function load_case(path)
  local chunk = assert((loadstring or load)(read(path), "=" .. path)) -- luacheck: ignore 113
  local v = chunk()
  return v.case or v, v
end

-- The server, and what a run needs to know about it.
local server
local env = {
  tmpdir = os.getenv("TMPDIR") or "/tmp",
  case_seconds = tonumber(os.getenv("HUBSOFT_FUZZ_CASE_SECONDS")) or H.CASE_SECONDS,
}
env.tmpdir = ("%s/hubsoft-fuzz-%d-%d"):format(env.tmpdir, os.time(), math.floor(socket.gettime() * 1000) % 100000)
os.execute("mkdir -p " .. env.tmpdir)
env.tmpfile = H.attachment_file()

local function start_server()
  local fake = require "spec.support.server"
  env.credentials = fake.DEFAULT_CREDENTIALS
  if opts.url then
    env.url = opts.url
  else
    -- the server runs without the sanitizer runtime: it is not under test.
    -- It exits when idle (left behind by a fuzzer that crashed), but only long
    -- after the slowest case can end: the case limit, plus the C time no hook
    -- can stop, which a case over the limit is reported for
    server = fake.start { seed_tickets = 30, lua = "env -u LD_PRELOAD lua5.4", idle_exit = 900 }
    env.url = server.url
  end
  env.ctl = H.control(env.url)
end

local function cleanup()
  if server then server:stop() end
  os.execute("rm -rf " .. env.tmpdir)
end

-- A violation an active known finding explains (its `violation` pattern).
local function tolerated(v)
  if not opts.skip then return nil end
  for _, k in ipairs(known) do
    if k.active and k.violation and v:find(k.violation) then return k end
  end
end

local function skipped_by(case)
  if not opts.skip then return nil end
  for _, k in ipairs(known) do
    if k.active and k.skip and k.skip(case) then return k end
  end
end

-- Runs a case file in a child process (the sanitizers abort the process they
-- find something in). Returns nil when it holds, else a failure signature
-- and the child's output.
local function child(case)
  local file = env.tmpdir .. "/child-case.lua"
  write(file, "return " .. H.dump(case) .. "\n")
  -- a case stuck in C past the case limit is killed: it is the same finding
  -- as one the harness stopped (see the signature below)
  local cmd = ("timeout %d %s %s --replay %s --url %s 2>&1; echo \"RC=$?\""):format(
    2 * env.case_seconds, INTERP, HERE, file, env.url)
  local p = io.popen(cmd, "r")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("RC=(%d+)%s*$"))
  if rc == 0 then return nil, out end
  local sig = out:match("ERROR: AddressSanitizer: ([%w%-]+)")
  sig = sig and ("asan " .. sig)
    or (out:match("runtime error: ([^\n]*)") and ("ubsan " .. out:match("runtime error: ([%a ]+)")))
    or (out:match("LeakSanitizer") and "lsan")
    or (out:match("VIOLATION: ([%a ]+)") and ("violation " .. out:match("VIOLATION: ([%a ]+)")))
    or (rc == 124 and "violation a case ran over ")
    or ("exit " .. tostring(rc))
  return sig, out
end

local function summary(out)
  local lines = {}
  for l in out:gmatch("[^\n]+") do
    if l:match("SUMMARY") or l:match("runtime error") or l:match("VIOLATION") or l:match("^ERROR") then
      lines[#lines + 1] = l
    end
  end
  return table.concat(lines, "\n")
end

local function shrink_and_print(case, sig)
  io.stderr:write("fuzz: shrinking (", sig, ") ...\n")
  local small, tries = H.shrink(case, function(c)
    local s = child(c)
    return s == sig
  end, tonumber(os.getenv("HUBSOFT_FUZZ_SHRINK_BUDGET")) or 300)
  local _, out = child(small)
  print(("fuzz: FAILURE %s (seed %s, %d shrink runs on %s)"):format(sig, tostring(case.seed), tries, INTERP))
  print(summary(out))
  print("fuzz: smallest reproducing case (paste into fuzz/lua/regressions/NAME.lua):")
  print("return { finding = \"NEW\", case = " .. H.dump(small) .. " }")
end

---------------------------------------------------------------- modes

if opts.replay then
  start_server()
  local case = load_case(opts.replay)
  local v = H.run(case, env)
  os.execute("rm -rf " .. env.tmpdir)
  if v then
    print("VIOLATION: " .. v)
    os.exit(3)
  end
  os.exit(0)
end

start_server()

if opts.shrink then
  local case = load_case(opts.shrink)
  local sig, out = child(case)
  if not sig then
    print("fuzz: the case no longer fails when replayed alone (seed " .. tostring(case.seed) .. ")")
    print("return { finding = \"NEW\", case = " .. H.dump(case) .. " }")
    cleanup()
    os.exit(1)
  end
  io.stderr:write(summary(out), "\n")
  shrink_and_print(case, sig)
  cleanup()
  os.exit(1)
end

if opts.regressions then
  local p = io.popen("ls fuzz/lua/regressions/*.lua 2>/dev/null")
  local bad = 0
  for file in p:lines() do
    local case, meta = load_case(file)
    local k
    for _, kk in ipairs(known) do
      if kk.id == meta.finding then k = kk end
    end
    if opts.skip and k and k.active then
      local sig = child(case)
      print(("fuzz: regression %s: known finding %s %s"):format(file, k.id, sig
        and "still fails (" .. sig .. "); skipped until it is fixed"
        or "holds on " .. INTERP .. " (if it holds on every interpreter: set active = false in known.lua)"))
    else
      local sig, out = child(case)
      if sig then
        bad = bad + 1
        print(("fuzz: regression %s FAILS (%s)\n%s"):format(file, sig, summary(out)))
      else
        print(("fuzz: regression %s holds"):format(file))
      end
    end
  end
  p:close()
  cleanup()
  os.exit(bad == 0 and 0 or 1)
end

local t0 = socket.gettime()
env.stats = {}
local n, skipped, by_entry = 0, 0, {}
print(("fuzz: seed %d, %s s, %s, known findings %s"):format(opts.seed, tostring(opts.seconds), INTERP,
  opts.skip and "skipped" or "run"))
local i = 0
while socket.gettime() - t0 < opts.seconds and n < opts.iterations do
  i = i + 1
  local cseed = (opts.seed * 1000003 + i) % 2147483646
  local case = H.generate(cseed, env)
  local k = skipped_by(case)
  if k then
    skipped = skipped + 1
  else
    n = n + 1
    by_entry[case.entry] = (by_entry[case.entry] or 0) + 1
    if opts.case_file then write(opts.case_file, "return " .. H.dump(case) .. "\n") end
    local ok, v = pcall(H.run, case, env)
    if not ok then v = "harness error: " .. tostring(v) end
    if v and tolerated(v) then
      skipped = skipped + 1
      v = nil
    end
    if v then
      print(("fuzz: violation on case %d (case seed %d): %s"):format(i, cseed, v))
      if v:match("^harness error") then
        print("return " .. H.dump(case))
        cleanup()
        os.exit(2)
      end
      if opts.case_file then os.remove(opts.case_file) end -- shrunk already
      shrink_and_print(case, "violation " .. v:match("^([%a ]+)"))
      cleanup()
      os.exit(1)
    end
  end
end
local parts = {}
for e, c in pairs(by_entry) do parts[#parts + 1] = e .. "=" .. c end
table.sort(parts)
print(("fuzz: ok: %d cases in %.0f s (%s), %d skipped as known findings, seed %d, %s"):format(
  n, socket.gettime() - t0, table.concat(parts, " "), skipped, opts.seed, INTERP))
parts = {}
for e, c in pairs(env.stats) do parts[#parts + 1] = e .. "=" .. c end
table.sort(parts)
print("fuzz: outcomes: " .. table.concat(parts, " "))
if opts.case_file then os.remove(opts.case_file) end
cleanup()
