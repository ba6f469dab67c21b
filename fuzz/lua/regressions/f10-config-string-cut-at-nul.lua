-- F10 (fuzz/lua/FINDINGS.md): a config string with a NUL byte inside was cut
-- at it without a word. client_secret "a\0b" logged in as "a" (and was
-- scrubbed as "a" from every error); the same for client_id, username,
-- password, user_agent, ca_file, ca_path and proxy. hubsoft.new now refuses
-- it, naming the key.
return { finding = "F10", case = {
  args = { { "str", "id_cliente_servico" }, { "int", "30" } },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "a\000b" } },
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
