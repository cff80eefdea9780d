"""The runnable part of the Postman collection: folders that create before they read.

Each :class:`Step` becomes one request with a test script that asserts its status and the shape of its body
(the required keys of the documented success schema), saves what later steps need in collection variables
(``jobId``, ``nodeId``, …) and, for a poll, repeats itself (``postman.setNextRequest``) until the job is done.
The first folder signs up and signs in; the token goes to ``{{accessToken}}``, the collection's Bearer auth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str  # "/v1/jobs/{{jobId}}": collection variables in double braces
    expect: tuple[int, ...] = (200,)
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: collection variable -> JavaScript expression over ``body`` (the parsed JSON) and ``pm``
    save: dict[str, str] = field(default_factory=dict)
    #: a JavaScript condition over ``body``: repeat this request (every 0.5 s, 120 times at most) until it holds
    until: str | None = None
    #: the condition that must hold once ``until`` does
    then: str | None = None
    prerequest: str = ""
    auth: bool = True  # send the collection's Bearer token


SIGN_IN = (
    Step("Register", "POST", "/auth/register", (201,), auth=False,
         body={"username": "{{username}}", "password": "{{password}}", "email": "{{username}}@example.com"},
         prerequest="pm.collectionVariables.set('username', 'pm-' + Date.now().toString(36));\n"
                    "pm.collectionVariables.set('password', 'postman-password-' + Date.now());",
         save={"userId": "body.id"}),
    Step("Sign in", "POST", "/auth/login", auth=False, body={"username": "{{username}}", "password": "{{password}}"},
         save={"accessToken": "body.access_token", "refreshToken": "body.refresh_token"}),
    Step("Your account", "GET", "/users/me"),
    Step("Change your preferences", "PATCH", "/users/me", body={"preferences": {"theme": "dark", "language": "zh-CN"}}),
    Step("Refresh the tokens", "POST", "/auth/refresh", auth=False, body={"refresh_token": "{{refreshToken}}"},
         save={"accessToken": "body.access_token", "refreshToken": "body.refresh_token"}),
)

JOBS = (
    Step("Create an image job", "POST", "/v1/jobs", (202,),
         body={"kind": "image.generate", "input": {"prompt": "a red fox in fresh snow", "width": 256, "height": 256}},
         save={"jobId": "body.id"}),
    Step("Poll the job until it is done", "GET", "/v1/jobs/{{jobId}}",
         until="['succeeded', 'failed', 'canceled'].includes(body.status)", then="body.status === 'succeeded'"),
    Step("The job's events (SSE, ends after the terminal event)", "GET", "/v1/jobs/{{jobId}}/events",
         query={"after": "0", "close_after": "5"}),
    Step("Every event you may see (SSE, closed after a second)", "GET", "/v1/events",
         query={"after": "0", "close_after": "1"}),
    Step("List your jobs", "GET", "/v1/jobs", query={"limit": "10"}),
    Step("The job's stored media", "GET", "/v1/assets", query={"job_id": "{{jobId}}"},
         save={"assetId": "body.items[0].id"}),
    Step("One asset", "GET", "/v1/assets/{{assetId}}"),
    Step("Retrying a finished job is refused", "POST", "/v1/jobs/{{jobId}}/retry", (409,)),
    Step("Queue counts", "GET", "/v1/queue"),
)

RATINGS = (
    Step("Rate the job", "PUT", "/v1/jobs/{{jobId}}/rating", body={"score": 5, "comment": "lovely light"}),
    Step("Read the rating", "GET", "/v1/jobs/{{jobId}}/rating"),
    Step("The job's subtasks", "GET", "/v1/jobs/{{jobId}}/subtasks"),
    Step("Remove the rating", "DELETE", "/v1/jobs/{{jobId}}/rating", (204,)),
)

STUDIO = (
    Step("Studio: generate", "POST", "/api/generate", (202,), body={"prompt": "a cyberpunk cat in neon city", "seed": 7},
         save={"studioJobId": "body.job_id"}),
    Step("Studio: poll until finished", "GET", "/api/status/{{studioJobId}}",
         until="['finished', 'failed'].includes(body.status)", then="body.status === 'finished'"),
)

NODES = (
    Step("Create a node", "POST", "/nodes", (201,), body={"content": "雨夜的霓虹街道，一位撑伞的少女"},
         save={"nodeId": "body.data.id", "nodeEtag": "pm.response.headers.get('ETag')"}),
    Step("Read the node", "GET", "/nodes/{{nodeId}}"),
    Step("Update it (If-Match)", "PUT", "/nodes/{{nodeId}}", headers={"If-Match": "{{nodeEtag}}"},
         body={"content": "雨夜的霓虹街道，两位撑伞的少女"}),
    Step("List nodes", "GET", "/nodes", query={"size": "20"}),
    Step("The node's keywords", "GET", "/nodes/{{nodeId}}/keywords", query={"top": "5"}),
)

TASKS = (
    Step("Generate from a brief", "POST", "/tasks/generate", (202,),
         body={"主体": "一只橘猫", "风格": "水彩", "数量": 1, "关联节点": ["{{nodeId}}"]},
         save={"taskId": "body.data.taskId", "graphId": "body.data.graphIds[0]"}),
    Step("Poll the task until it is done", "GET", "/tasks/{{taskId}}",
         until="['completed', 'failed'].includes(body.data.status)", then="body.data.status === 'completed'"),
    Step("The result's metadata", "GET", "/results/{{graphId}}", headers={"Accept": "application/json"}),
    Step("The file's metadata", "GET", "/media/file-meta/{{graphId}}"),
    Step("Image nodes", "GET", "/image-nodes"),
    Step("The media tree", "GET", "/media/tree", query={"depth": "4"}),
    Step("Files in images/", "GET", "/media/files", query={"dir": "images"}),
    Step("Soft-delete the node", "DELETE", "/nodes/{{nodeId}}"),
    Step("Restore it", "POST", "/nodes/{{nodeId}}/restore"),
)

SYSTEM = (
    Step("Health", "GET", "/health", auth=False),
    Step("Liveness", "GET", "/healthz", auth=False),
    Step("Providers", "GET", "/v1/providers"),
    Step("Metrics", "GET", "/metrics", auth=False),
)

FLOWS: tuple[tuple[str, tuple[Step, ...]], ...] = (
    ("1 Sign in", SIGN_IN), ("2 A job from start to finish", JOBS), ("3 Rate it (Backend2)", RATINGS),
    ("4 Studio Core", STUDIO), ("5 cineMind nodes", NODES), ("6 cineMind generation", TASKS), ("7 System", SYSTEM),
)


def test_script(step: Step, required: list[str]) -> str:
    """The request's test: status, shape (``required`` keys of a JSON body), saved variables, polling."""
    lines = [
        f"const expected = {json.dumps(list(step.expect))};",
        "pm.test('status ' + pm.response.code + ' is one of ' + expected, () => "
        "pm.expect(expected).to.include(pm.response.code));",
        "const isJson = (pm.response.headers.get('Content-Type') || '').includes('json');",
        "const body = isJson && pm.response.text() ? pm.response.json() : null;",
    ]
    if required:
        lines.append(f"if (pm.response.code < 300 && isJson) pm.test('shape', () => {{ for (const key of "
                     f"{json.dumps(required)}) pm.expect(body).to.have.property(key); }});")
    for var, expr in step.save.items():
        lines.append(f"if (pm.response.code < 300) pm.collectionVariables.set({json.dumps(var)}, {expr});")
    if step.until:
        lines += [
            "const polls = Number(pm.collectionVariables.get('polls') || 0);",
            f"if (body && !({step.until}) && polls < 120) {{",
            "  pm.collectionVariables.set('polls', polls + 1);",
            "  postman.setNextRequest(pm.info.requestName);",
            "  setTimeout(() => {}, 500);",
            "} else {",
            "  pm.collectionVariables.set('polls', 0);",
            f"  pm.test('done', () => pm.expect(Boolean(body && ({step.then or step.until}))).to.be.true);",
            "}",
        ]
    return "\n".join(lines)
