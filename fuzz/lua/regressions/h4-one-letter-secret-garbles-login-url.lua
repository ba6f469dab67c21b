-- H4 (fuzz/lua/FINDINGS.md): a harness false positive. With a one-letter
-- client_secret ("a") the refused login's err.url reads
-- "http://127.0.0.1:PORT/o***uth/token": the client hides every "a", as it
-- must. The harness looked for "/oauth/token" as written and called the
-- error's method wrong; it now looks for the login path as the client's
-- scrubber would show it.
return { finding = "H4", case = {
  args = { { "str", "id_cliente_servico" }, { "int", "30" } },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "a" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } }
    }
  },
  co = false,
  entry = "method",
  gc = "normal",
  name = "atendimentos_do_cliente",
  seed = 2087973734
} }
