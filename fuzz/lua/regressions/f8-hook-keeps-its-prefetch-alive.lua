-- F8 (fuzz/lua/FINDINGS.md), the page sets' side: pf:add raises (no
-- arguments) and the set stays open; the client's hook refers to the set
-- (through the case's context), and the set held its client by a registry
-- reference: neither could be collected.
return { finding = "F8", case = {
  args = {  },
  cfg = { "tab", {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "on_request" }, { "hook", { "ret", { "nil" } } } } } },
  co = false, entry = "prefetch", gc = "normal", seed = 2094529143, width = { "int", "3" } } }
