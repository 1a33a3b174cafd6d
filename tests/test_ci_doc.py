"""docs/ci.md's GitHub Actions workflow, run against the sandbox: its `run:` commands, in order, with
the GitHub expressions replaced by a pull request's values, in bash as GitHub runs them
(`bash -e -o pipefail`), $GITHUB_ENV and $GITHUB_OUTPUT carried from step to step as GitHub does.

The environment is the example project's on moto's standalone server (tests/project.py): what the
workflow's `env:` block and the AWS credentials step provide on GitHub. Only the install step is not
run (the package is installed here already).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.project import DAY1, DAY2, RECORD, ROOT, devdb_project  # noqa: F401
from tests.test_branches import cnames

DOC = ROOT / "docs" / "ci.md"
PR, ACTOR = "42", "octocat"
VALUES = {"github.event.number": PR, "github.actor": ACTOR}
INSTALL = "pip install -r requirements.txt"


def workflow():
    (block,) = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.S | re.M)
    return yaml.safe_load(block)


def substituted(text):
    text = re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: VALUES.get(m.group(1), m.group(0)), text)
    assert "${{" not in text, f"an expression the test does not model: {text}"
    return text


class Job:
    """One job's `run:` steps, run in bash as GitHub does, the files GitHub reads between steps kept."""

    def __init__(self, project, folder, now):
        self.project, self.folder, self.now = project, Path(folder), now
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "manage.py").symlink_to(ROOT / "manage.py")  # the checkout; what steps write stays here
        self.github_env, self.github_output = self.folder / "env", self.folder / "output"
        for path in (self.github_env, self.github_output):
            path.write_text("")

    def exported(self, path):
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)

    def run(self, steps):
        ran = []
        for step in steps:
            if "run" not in step or step["run"].strip() == INSTALL:
                continue
            env = {**self.project.env(self.now), **self.exported(self.github_env),
                   "GITHUB_ENV": str(self.github_env), "GITHUB_OUTPUT": str(self.github_output),
                   "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
            env.update({k: substituted(str(v)) for k, v in step.get("env", {}).items()})
            result = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c",
                                     substituted(step["run"])], cwd=self.folder, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{step.get('name')}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
            ran.append((step.get("name"), result.stdout))
        return ran


def test_the_workflow_is_triggered_by_pull_requests_and_splits_on_closed():
    flow = workflow()
    on = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on == {"pull_request": {"types": ["opened", "reopened", "synchronize", "closed"]}}
    assert flow["permissions"]["id-token"] == "write"
    assert flow["jobs"]["branch"]["if"] == "github.event.action != 'closed'"
    assert flow["jobs"]["delete"]["if"] == "github.event.action == 'closed'"
    assert {"DATABASE_URL", "DEVDB_DATABASE_URL", "DEVDB_SOURCE_CLUSTER", "DEVDB_HOSTED_ZONE_ID",
            "DEVDB_RECORD_NAME", "DEVDB_INSTANCE_CLASS"} <= set(flow["env"])
    runs = [s["run"] for job in flow["jobs"].values() for s in job["steps"] if "run" in s]
    assert any("branch_devdb create pr-${{ github.event.number }} --owner ${{ github.actor }} --ttl 3d --json" in r
               for r in runs)
    assert "python manage.py branch_devdb delete pr-${{ github.event.number }} --missing-ok" in runs


def test_the_workflow_creates_exports_extends_and_deletes_the_pull_requests_branch(devdb_project, tmp_path):
    project = devdb_project()
    project.refresh(DAY1)
    daily = project.record_value()
    flow = workflow()
    host = f"pr-{PR}.{RECORD}"

    opened = Job(project, tmp_path / "opened", DAY1)
    ran = opened.run(flow["jobs"]["branch"]["steps"])
    assert [name for name, _ in ran] == ["Create the branch (a push to the pull request extends it)", "Use the branch"]
    assert opened.exported(opened.github_env) == {"BRANCH_DB_HOST": host, "BRANCH_DB_PORT": "3307"}
    assert opened.exported(opened.github_output) == {"host": host, "port": "3307", "expires_at": "2026-11-25T05:00:00Z"}
    assert ran[-1][1].strip() == f"pull request {PR} has its database at {host}:3307"
    cluster = project.clusters()[f"dev-pr-{PR}"]
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert tags["devdb:branch"] == f"pr-{PR}" and tags["devdb:owner"] == ACTOR and tags["devdb:state"] == "connected"
    assert cnames(project)[host] == cluster["Endpoint"].lower()

    # A push to the pull request: the same job again extends the branch, same host.
    pushed = Job(project, tmp_path / "synchronize", DAY2)
    pushed.run(flow["jobs"]["branch"]["steps"])
    assert pushed.exported(pushed.github_output) == {"host": host, "port": "3307", "expires_at": "2026-11-26T05:00:00Z"}
    assert [cid for cid in project.clusters() if cid.startswith("dev-pr-")] == [f"dev-pr-{PR}"]

    closed = Job(project, tmp_path / "closed", DAY2)
    assert [name for name, _ in closed.run(flow["jobs"]["delete"]["steps"])] == ["Delete the branch"]
    assert host not in cnames(project)
    left = {cid: c["Status"] for cid, c in project.clusters().items() if cid.startswith("dev-pr-")}
    assert set(left.values()) <= {"deleting"}, left
    assert not any(i.startswith("dev-pr-") for i, inst in project.instances().items()
                   if inst["DBInstanceStatus"] != "deleting")
    assert project.record_value() == daily  # the daily clone's name never moved


def test_closing_a_pull_request_whose_branch_already_expired_keeps_the_workflow_green(devdb_project, tmp_path):
    project = devdb_project()
    project.refresh(DAY1)
    flow = workflow()
    Job(project, tmp_path / "opened", DAY1).run(flow["jobs"]["branch"]["steps"])
    assert f"dev-pr-{PR}" in project.clusters()
    # Four days later nobody pushed: the daily job deleted the expired branch, then the pull request is closed.
    later = "2026-11-26T06:00:00Z"
    project.manage("clean_devdb", now=later)
    assert not any(cid.startswith("dev-pr-") and c["Status"] != "deleting" for cid, c in project.clusters().items())
    closed = Job(project, tmp_path / "closed", later)
    ((name, out),) = closed.run(flow["jobs"]["delete"]["steps"])
    assert name == "Delete the branch"
    assert out.strip().endswith(f"dev/pr-{PR}: no such branch (expired or deleted already): nothing to delete")
