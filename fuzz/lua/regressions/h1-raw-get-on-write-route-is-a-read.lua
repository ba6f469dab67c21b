-- H1 (fuzz/lua/FINDINGS.md): a false positive of the harness, not a library defect.
-- A GET given to api:_prefetch (as to api:request) is a read by the contract, so
-- re-sending it after a 503 is right even when its path names a write route
-- (solicitar_desconexao); the harness classed it by the route.
return { finding = "H1", case = {
  args = { { "str", "GET" }, { "str", "/api/v1/integracao/cliente/solicitar_desconexao/5448" } },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "on_request" }, { "hook", { "ret", { "nil" } } } }
    }
  },
  co = false,
  entry = "prefetch",
  fault = { bytes = 2100000, kind = "status", match = "/api/", seconds = 0.1, status = 503, times = 2 },
  gc = "normal",
  seed = 639312541,
  width = { "int", "9" }
} }
