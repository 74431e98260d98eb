"""A sample application repository for CI tests and benchmarks: examples/ci-calc (a tiny
Python module, its tests writing JUnit XML as pytest --junitxml would, a checklist that runs
them, and .shipshape-ci.toml) made a git working tree, with parts replaceable. Pure standard
library; git through its CLI."""
import os
import shutil
import subprocess

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                       "ci-calc")


def _example(rel):
    with open(os.path.join(EXAMPLE, rel)) as f:
        return f.read()


CALC = _example("calc.py")
CALC_BROKEN_ADD = CALC.replace("return a + b", "return a - b")
CHECKLIST = _example("ci/test.toml")
CI = _example(".shipshape-ci.toml")


def git(cwd, *args, check=True):
    env = dict(os.environ, GIT_AUTHOR_NAME="dev", GIT_AUTHOR_EMAIL="dev@example.org",
               GIT_COMMITTER_NAME="dev", GIT_COMMITTER_EMAIL="dev@example.org")
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def make_app(root, ci=CI, checklist=CHECKLIST, calc=CALC):
    """Makes a git working tree at `root` with one commit; returns `root`."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("README.md", "__pycache__",
                                                                 "test-results"),
                    dirs_exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, "calc.py", calc)
    write(root, "ci/test.toml", checklist)
    write(root, ".shipshape-ci.toml", ci)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the calculator")
    return root


def commit_all(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").stdout.strip()
