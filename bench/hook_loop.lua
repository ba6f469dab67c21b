-- N calls of api:configuracao with an on_request hook, against the fake server:
-- the secret scrubber runs on every call's URL for the hook record. For callgrind
-- (bench/README.md, "The scrubber on the hook path"): lua5.4 bench/hook_loop.lua N
local hubsoft = require "hubsoft"
local n = tonumber(arg[1])
local fake = require "spec.support.server"
local srv = fake.start { seed_tickets = 5 }
local cfg = srv:config()
cfg.on_request = function() end
local api = hubsoft.new(cfg)
assert(api:configuracao("status_atendimento"))
for _ = 1, n - 1 do assert(api:configuracao("status_atendimento")) end
api:close()
srv:stop()
