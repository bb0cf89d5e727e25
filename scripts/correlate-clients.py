#!/usr/bin/env python3
"""A Python client of the demo API (package demoapi), as a real user's
script is written with requests: the traffic of testdata/pcap/links-python.pcap
(scripts/make-fixtures.sh, section links). The links record must find in it
are written by hand in testdata/links/links-python.txt: change both together.

    correlate-clients.py http://127.0.0.1:PORT

Every request carries a fresh X-Request-ID (uuid4), as many clients' request
tracing does; requests keeps it when it follows the web login's 303.

Flows, in order, each with its own requests.Session (keep-alive, a cookie jar):
  anonymous  GET /health
  app        JSON login for a bearer token; list tasks, GET one whose id the
             list gave; create a document with a uuid of its own, GET it by
             the Location it got, DELETE it with If-Match: its ETag
  browser    form login (303 to /web/dashboard, followed, sid cookie in the
             jar); GET and PUT /web/preferences
  key        an API key: a search and a create whose answer is never used
             again, and a hard-coded project id: no links at all
"""
import sys
import uuid

import requests


def main():
    base = sys.argv[1].rstrip("/")

    def call(s, method, path, **kw):
        headers = dict(kw.pop("headers", {}))
        headers["X-Request-ID"] = str(uuid.uuid4())
        r = s.request(method, base + path, headers=headers, timeout=10, **kw)
        r.raise_for_status()
        return r

    anon = requests.Session()
    call(anon, "GET", "/health")

    app = requests.Session()
    token = call(app, "POST", "/api/v1/login", json={"username": "alice", "password": "demo-password-alice"}).json()["access_token"]
    app.headers["Authorization"] = "Bearer " + token
    tasks = call(app, "GET", "/api/v1/tasks", params={"limit": 5}).json()["items"]
    call(app, "GET", "/api/v1/tasks/%d" % tasks[2]["id"])
    created = call(app, "POST", "/api/v1/documents",
                   json={"uuid": str(uuid.uuid4()), "title": "Meeting notes", "content": "Agenda and decisions."})
    doc = call(app, "GET", created.headers["Location"])
    call(app, "DELETE", created.headers["Location"], headers={"If-Match": doc.headers["ETag"]})

    browser = requests.Session()
    r = call(browser, "POST", "/web/login", data={"username": "bob", "password": "demo-password-bob"})
    assert r.history and r.history[0].status_code == 303 and "sid" in browser.cookies, "no redirect or no sid cookie"
    prefs = call(browser, "GET", "/web/preferences").json()
    prefs.update({"theme": "dark", "page_size": 25})
    call(browser, "PUT", "/web/preferences", json=prefs)

    key = requests.Session()
    key.headers["X-API-Key"] = "demo-key-carol"
    call(key, "GET", "/api/v1/search", params={"q": "plan"})
    call(key, "POST", "/api/v1/tasks", json={"title": "Plan the offsite", "project_id": 7301})


if __name__ == "__main__":
    main()
