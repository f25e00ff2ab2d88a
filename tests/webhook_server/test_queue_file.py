"""The SQLite queue's file is made when the queue is first used, not when its module is imported."""

import os
import subprocess
import sys


def test_importing_the_tasks_module_leaves_no_file_behind(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "CONSENTRY_HOME"}
    script = "import consentry.webhook_server.tasks"
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_the_queue_makes_its_file_on_first_use(tmp_path):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path)}
    env.pop("CONSENTRY_REDIS_URL", None)
    script = "from consentry.webhook_server.tasks import queue; queue.storage.enqueue(b'x', 0); print(len(queue))"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
    assert (tmp_path / "consentry-queue.db").stat().st_mode & 0o777 == 0o600
