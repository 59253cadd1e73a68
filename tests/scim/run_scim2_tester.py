#!/usr/bin/env python3
"""Run the third-party SCIM compliance checker scim2-tester against a live server.

Proposed harness for pinpanel's SCIM integration test (research copy).
It only wires scim2-tester's public API (check_server) to an HTTP client:
all checks, payloads and verdicts come from scim2-tester itself.

usage:
  SCIM_TOKEN=<token> scim-venv/bin/python run_scim2_tester.py --url http://127.0.0.1:PORT/scim/v2 \
      [--resource-type User] [--include-tag TAG ...] [--exclude-tag TAG ...] \
      [--allow-skipped] [--json results.json] [--http-log traffic.log] [-v]

exit status: 0 = every check SUCCESS (or SKIPPED with --allow-skipped),
             1 = at least one check failed (ERROR/CRITICAL/...), 2 = usage error.
Last line printed: "N passed, N failed, N skipped" (the plain summary CI reads).
"""
import argparse
import json
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server, get_all_available_tags


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2")
    ap.add_argument("--token-env", default="SCIM_TOKEN", help="env var holding the bearer token")
    ap.add_argument("--resource-type", action="append", help="limit to these resource types (default: all published)")
    ap.add_argument("--include-tag", action="append", help="only checks with these tags (discovery, crud, crud:read, patch, misc, ...)")
    ap.add_argument("--exclude-tag", action="append",
                    help="skip checks with these tags (turned into an include list: scim2-tester 0.5.2's own "
                         "exclude_tags also drops the discovery checks tagged '*', which then skips everything)")
    ap.add_argument("--allow-skipped", action="store_true", help="do not count SKIPPED as a failure")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--http-log", help="write every request/response (method, url, status, bodies) to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print result data too")
    args = ap.parse_args()

    token = os.environ.get(args.token_env)
    if not token:
        print(f"error: ${args.token_env} is not set", file=sys.stderr)
        return 2

    hooks = {}
    if args.http_log:
        log = open(args.http_log, "w")

        def on_response(resp):
            resp.read()
            req = resp.request
            body = req.content.decode(errors="replace") if req.content else ""
            log.write(f">>> {req.method} {req.url}\n" + (f"{body}\n" if body else ""))
            log.write(f"<<< {resp.status_code} {resp.headers.get('content-type', '')}"
                      f" location={resp.headers.get('location', '')} etag={resp.headers.get('etag', '')}\n"
                      + (f"{resp.text}\n" if resp.text else "") + "=====\n")
            log.flush()

        hooks = {"response": [on_response]}

    http = Client(base_url=args.url, headers={"Authorization": f"Bearer {token}"},
                  timeout=30, event_hooks=hooks)
    client = SyncSCIMClient(http)  # discovery is done by check_server itself
    include = set(args.include_tag) if args.include_tag else None
    if args.exclude_tag:
        excluded = set(args.exclude_tag)
        include = {t for t in (include or get_all_available_tags())
                   if not any(x == t or x in t.split(":") for x in excluded)}
    results = check_server(client, include_tags=include, resource_types=args.resource_type)

    ok_statuses = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    if args.allow_skipped:
        ok_statuses.add(Status.SKIPPED)
    passed = failed = skipped = 0
    for r in results:
        if r.status == Status.SKIPPED:
            skipped += 1
        if r.status in ok_statuses:
            passed += r.status != Status.SKIPPED
        else:
            failed += 1
        where = f" [{r.resource_type}]" if r.resource_type else ""
        print(f"{r.status.name:9} {r.title}{where}")
        if r.reason and (r.status not in ok_statuses or args.verbose):
            print("          " + str(r.reason).replace("\n", "\n          "))
        if args.verbose and r.data is not None and r.status not in ok_statuses:
            print("          data: " + repr(r.data)[:2000])

    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"status": r.status.name, "title": r.title, "reason": r.reason,
                        "tags": sorted(r.tags), "resource_type": r.resource_type,
                        "data": repr(r.data) if r.data is not None else None}
                       for r in results], f, indent=1)

    if not results or passed == 0:
        print("no check passed: is the server up and the token right?", file=sys.stderr)
        failed = failed or 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
