#!/usr/bin/env python3
"""The client side of bench/scim.sh: one keep-alive connection, as an identity system's sync
uses. Creates N members one POST at a time (with an address, a name, an external id), then reads
the list in pages of 200 several times over and prints the median time of page 1 and of the last
page. Standard library only."""
import http.client
import json
import os
import statistics
import sys
import time
from urllib.parse import urlparse

base = urlparse(sys.argv[1])
members = int(sys.argv[2])
phase = sys.argv[3] if len(sys.argv) > 3 else "all"
headers = {"Authorization": "Bearer " + os.environ["SCIM_TOKEN"],
           "Content-Type": "application/scim+json"}
conn = http.client.HTTPConnection(base.hostname, base.port)


def call(method, path, body=None):
    conn.request(method, base.path + path, body=json.dumps(body) if body else None, headers=headers)
    res = conn.getresponse()
    data = res.read()
    return res.status, data


def create():
    start = time.perf_counter()
    for i in range(members):
        status, data = call("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"member{i:06d}", "externalId": f"00u{i:06d}",
            "name": {"givenName": "Member", "familyName": f"{i:06d}"},
            "emails": [{"value": f"member{i:06d}@example.com", "type": "work", "primary": True}],
            "active": True,
        })
        if status != 201:
            sys.exit(f"POST {i}: {status} {data[:300]!r}")
    created = time.perf_counter() - start
    print(f"created {members} members in {created:.1f} s ({members / created:.0f} a second, "
          f"{created / members * 1000:.2f} ms each)")



def pages():
    # The last full page (the administrator makes the list one longer than `members`).
    pages = max(1, (members + 1) // 200)
    timings = {1: [], pages: []}
    for _ in range(9):
        for page in (1, pages):
            t = time.perf_counter()
            status, data = call("GET", f"/Users?startIndex={(page - 1) * 200 + 1}&count=200")
            timings[page].append((time.perf_counter() - t) * 1000)
            if status != 200 or len(json.loads(data)["Resources"]) != min(200, members + 1):
                sys.exit(f"page {page}: {status}")
    print(f"GET /Users?count=200: page 1 median {statistics.median(timings[1]):.1f} ms, "
          f"page {pages} median {statistics.median(timings[pages]):.1f} ms")
    t = time.perf_counter()
    status, _ = call("GET", '/Users?filter=userName%20eq%20%22member004242%22')
    print(f"GET /Users?filter=userName eq \"…\": {(time.perf_counter() - t) * 1000:.1f} ms ({status})")


if phase in ("all", "create"):
    create()
if phase in ("all", "pages"):
    pages()
