-- F7 (fuzz/lua/FINDINGS.md): token_store.save returns a userdata whose __gc
-- closes the client; the aggressive collector runs it mid-request and
-- libcurl then works on a freed handle (SEGV).
return { finding = "F7", case = {
  args = { { "tab", { { { "str", "itens_por_pagina" }, { "int", "500" } } } } },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "token_store" }, { "store", { "gc" }, { "ret", { "proxy", { "close" } } } } }
    }
  },
  entry = "method",
  gc = "aggressive",
  name = "todos_atendimentos",
  seed = 1829090266
} }
