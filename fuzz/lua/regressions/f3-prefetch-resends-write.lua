-- F3 (fuzz/lua/FINDINGS.md): api:_prefetch takes a POST to a write route and
-- sends it again after the server dropped the connection having read it.
return { finding = "F3", case = {
  args = { { "str", "POST" }, { "str", "/api/v1/integracao/atendimento/adicionar_anexo/5448" } },
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
  entry = "prefetch",
  fault = { kind = "drop_after", match = "/api/v1/integracao/atendimento", times = 1 },
  gc = "normal",
  seed = 11000712,
  width = { "int", "7" }
} }
