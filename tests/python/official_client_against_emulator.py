"""The official Python client (PyPI xpander-sdk) against the emulator.

Not run in CI (it needs the client and its dependencies from PyPI). By hand:

    python3 -m venv /tmp/pyx && /tmp/pyx/bin/pip install xpander-sdk==2.0.537 agno==2.5.14
    cargo run -p xpander-emulator -- --addr 127.0.0.1:8016 --api-key test-key-123 &
    curl -s -X POST localhost:8016/__emulator/tasks -d @tests/fixtures/recorder-task.json
    /tmp/pyx/bin/python tests/python/official_client_against_emulator.py

Each case of wire/official-python-client-requests.json is run as the
recorder ran it; every line must say "ok" (the answer parsed in that client).
"""
import asyncio, os, traceback
os.environ["XPANDER_API_KEY"]="test-key-123"
os.environ["XPANDER_BASE_URL"]="http://127.0.0.1:8016"
from xpander_sdk import Tasks, AgentExecutionStatus as S
from xpander_sdk.modules.tasks.sub_modules.task import Task
t = Tasks()
results = {}
def case(name, fn):
    try:
        r = fn()
        if asyncio.iscoroutine(r): r = asyncio.run(r)
        results[name] = "ok " + type(r).__name__ + (f" len={len(r)}" if isinstance(r, list) else "")
    except Exception as e:
        results[name] = "FAIL " + repr(e)[:300]
case("update_status_result", lambda: t.update(task_id="task_xyz", status=S.Completed, result="Done"))
case("update_error", lambda: t.aupdate(task_id="task_xyz", status=S.Error, result="Connector failed: 503 Service Unavailable"))
case("update_payload_extension_only", lambda: t.update(task_id="task_xyz", tool_call_payload_extension={"headers": {"X-Trace-ID": "abc-123"}}))
case("update_all_fields", lambda: t.update(task_id="task_xyz", tool_call_payload_extension={"a":1}, source="cron", status=S.Executing, last_executed_node_id="node-7", result="partial"))
case("update_nothing", lambda: t.update(task_id="task_xyz"))
case("update_empty_string_result", lambda: t.update(task_id="task_xyz", result=""))
case("get", lambda: t.get(task_id="task_xyz"))
def save():
    task = t.get(task_id="task_xyz"); task.result="saved result"; task.status=S.Completed; task.save(); return task
case("save_after_mutation", save)
def save_dp():
    task = t.get(task_id="task_xyz"); task.save(with_deep_plan_update=True); return task
case("save_with_deep_plan", save_dp)
def set_status():
    task = t.get(task_id="task_xyz"); task.set_status(S.Failed, "boom"); return task
case("set_status", set_status)
case("stop", lambda: t.stop(task_id="task_xyz"))
case("create", lambda: t.create(agent_id="agent-123", prompt="Hello!"))
case("list", lambda: t.list(agent_id="agent-123", filters={"status": "completed"}))
case("list_user_tasks", lambda: t.list_user_tasks(user_id="user-9"))
case("report_external_task", lambda: Task.report_external_task(agent_id="agent-123", id="ext-1", input="hi", result="done", duration=1.5, used_tools=["t1"]))
def item_load():
    items = t.list(agent_id="agent-123"); return items[0].load()
case("list_item_load", item_load)
for k,v in results.items(): print(f"{k:32} {v}")
raise SystemExit(0 if all(v.startswith("ok") for v in results.values()) else 1)
