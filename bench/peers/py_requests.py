"""Peer: Python requests (Debian's python3-requests) + json, one Session
(keep-alive), gzip offered (requests' default).

    /usr/bin/python3 bench/peers/py_requests.py bulk    BASE_URL RECORDS
    /usr/bin/python3 bench/peers/py_requests.py latency BASE_URL CALLS
    /usr/bin/python3 bench/peers/py_requests.py create  BASE_URL CALLS TOKEN
"""
import json
import sys
import time

import requests

FIRST_ID = 100001


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    workload, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    token = sys.argv[4] if len(sys.argv) > 4 else "bench-access-token-0123456789abcdef"
    base_kb = rss_kb()
    t0 = time.monotonic()
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + token, "Accept": "application/json"})

    def call(method, path, body=None):
        r = s.request(method, base + path, data=body,
                      headers={"Content-Type": "application/json"} if body else None)
        if r.status_code != 200:
            raise SystemExit("%s %s: HTTP %d" % (method, path, r.status_code))
        return json.loads(r.content)

    count = 0
    if workload == "bulk":
        expect, k = FIRST_ID, 0
        while True:
            page = call("GET", "/api/v1/integracao/atendimento/todos?itens_por_pagina=500&pagina=%d" % k)
            recs = page["atendimentos"]
            for rec in recs:
                if rec["id_atendimento"] != expect:
                    raise SystemExit("record %d: id %s, expected %d" % (count + 1, rec["id_atendimento"], expect))
                expect += 1
                count += 1
            pag = page["paginacao"]
            if not recs or pag["pagina_atual"] >= pag["ultima_pagina"]:
                break
            k += 1
        if count != n:
            raise SystemExit("expected %d records, got %d" % (n, count))
    elif workload == "latency":
        for _ in range(n):
            r = call("GET", "/api/v1/integracao/configuracao/status_atendimento")
            if len(r["status_atendimento"]) != 6:
                raise SystemExit("unexpected answer")
            count += 1
    elif workload == "create":
        body = json.dumps({
            "id_cliente_servico": 17812,
            "descricao": "Cliente sem conexão desde ontem à noite; já reiniciou a ONU.",
            "nome": "João da Silva",
            "telefone": "11987654321",
        }).encode()
        for _ in range(n):
            r = call("POST", "/api/v1/integracao/atendimento", body)
            if r.get("status") != "success" or not isinstance(r["atendimento"]["protocolo"], str):
                raise SystemExit("unexpected create answer")
            count += 1
    else:
        raise SystemExit("unknown workload " + workload)
    print("RESULT work=%.6f count=%d base_kb=%d" % (time.monotonic() - t0, count, base_kb))


main()
