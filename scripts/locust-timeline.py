"""Locust users of the demo API (package demoapi): the traffic of
testdata/pcap/locust-timeline.pcap (scripts/make-fixtures.sh, section
locust), a real load test's recording for the tests of replaying the
recorded timeline. Run by Debian's python3-locust (2.12):

    locust -f scripts/locust-timeline.py --headless --users 120 --spawn-rate 6 \
        --run-time 20s --stop-timeout 5 --host http://127.0.0.1:PORT

against `demoapi --keys locust-key-000,...,locust-key-199`. Users spawn a
few a second, so the requests per second rise over the run. Each user has
credentials of its own, as real API users do: every other one an API key
(locust-key-NNN, NNN its spawn number), the rest log in as one of the demo
users (alice ... frank) and use the bearer token they got. Each keeps one
keep-alive connection (requests.Session) and mostly reads (lists, gets, a
search now and then), with a few writes: creates (with an Idempotency-Key)
and PATCHes with If-Match, of the tasks it created itself or found in a list.
"""
import itertools
import random
import uuid

from locust import HttpUser, between, task

USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
WORDS = ["report", "plan", "notes", "quarterly", "topic", "review"]
spawned = itertools.count()


class ApiUser(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        n = next(spawned)
        if n % 2 == 0:
            self.headers = {"X-API-Key": f"locust-key-{n:03d}"}
        else:
            name = USERS[n // 2 % len(USERS)]
            r = self.client.post("/api/v1/login", json={"username": name, "password": f"demo-password-{name}"})
            self.headers = {"Authorization": "Bearer " + r.json()["access_token"]} if r.ok else {}
        self.task_ids, self.doc_ids = [], []
        self.etags = {}  # task id -> ETag, of the tasks this user created or got
        self.list_tasks()

    def get(self, path, name=None):
        return self.client.get(path, headers=self.headers, name=name)

    @task(5)
    def list_tasks(self):
        r = self.get("/api/v1/tasks?limit=10", name="/api/v1/tasks")
        if r.ok:
            self.task_ids = [t["id"] for t in r.json()["items"]] or self.task_ids

    @task(6)
    def get_task(self):
        if not self.task_ids:
            return
        tid = random.choice(self.task_ids)
        r = self.get(f"/api/v1/tasks/{tid}", name="/api/v1/tasks/{id}")
        if r.ok:
            self.etags[tid] = r.headers.get("ETag")

    @task(2)
    def list_projects(self):
        self.get("/api/v1/projects")

    @task(2)
    def get_document(self):
        if not self.doc_ids:
            r = self.get("/api/v1/documents?limit=5", name="/api/v1/documents")
            if r.ok:
                self.doc_ids = [d["id"] for d in r.json()["items"]]
            return
        self.get(f"/api/v1/documents/{random.choice(self.doc_ids)}", name="/api/v1/documents/{id}")

    @task(1)
    def search(self):
        self.get("/api/v1/search?q=" + random.choice(WORDS), name="/api/v1/search")

    @task(1)
    def create_task(self):
        body = {"title": f"Write the {random.choice(WORDS)}", "status": "todo"}
        headers = dict(self.headers, **{"Idempotency-Key": str(uuid.uuid4())})
        r = self.client.post("/api/v1/tasks", json=body, headers=headers)
        if r.status_code == 201:
            tid = r.json()["id"]
            self.task_ids.append(tid)
            self.etags[tid] = r.headers.get("ETag")

    @task(1)
    def patch_task(self):
        known = [t for t, tag in self.etags.items() if tag]
        if not known:
            return
        tid = random.choice(known)
        headers = dict(self.headers, **{"If-Match": self.etags[tid]})
        with self.client.patch(f"/api/v1/tasks/{tid}", json={"status": random.choice(["in_progress", "done"])},
                               headers=headers, name="/api/v1/tasks/{id}", catch_response=True) as r:
            if r.status_code == 412:  # another user changed it first: not a failure of the API
                r.success()
            self.etags[tid] = r.headers.get("ETag")
