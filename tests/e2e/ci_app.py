"""A sample application repository for CI tests and benchmarks: a tiny Python module, its
tests (a runner that writes JUnit XML, as pytest --junitxml would), a checklist that runs
them, and .shipshape-ci.toml. Pure standard library; git through its CLI."""
import os
import subprocess
import textwrap

CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_BROKEN_ADD = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"

RUN_TESTS = textwrap.dedent('''\
    """Runs the tests of calc.py and writes test-results/calc.xml (JUnit)."""
    import os
    import sys
    import traceback
    from xml.sax.saxutils import quoteattr

    import calc

    def test_add():
        assert calc.add(2, 3) == 5, "add(2, 3) should be 5, got %r" % calc.add(2, 3)

    def test_mul():
        assert calc.mul(2, 3) == 6, "mul(2, 3) should be 6"

    cases = []
    for name, fn in [("test_add", test_add), ("test_mul", test_mul)]:
        try:
            fn()
            cases.append((name, None))
        except AssertionError as e:
            cases.append((name, str(e)))
    os.makedirs("test-results", exist_ok=True)
    failures = sum(1 for _, f in cases if f)
    with open("test-results/calc.xml", "w") as out:
        out.write('<?xml version="1.0"?>\\n<testsuites><testsuite name="calc" tests="%d" '
                  'failures="%d">\\n' % (len(cases), failures))
        for name, failure in cases:
            out.write('<testcase classname="calc" name="%s" time="0.001">' % name)
            if failure:
                out.write('<failure message=%s>%s</failure>' % (quoteattr(failure), failure))
            out.write('</testcase>\\n')
        out.write("</testsuite></testsuites>\\n")
    for name, failure in cases:
        print(("FAIL " if failure else "ok   ") + name + ("" if not failure else ": " + failure))
    sys.exit(1 if failures else 0)
    ''')

CHECKLIST = textwrap.dedent('''\
    name = "test"
    [[step]]
    id = "lint"
    run = ["python3", "-m", "py_compile", "calc.py"]
    [[step]]
    id = "unit"
    needs = ["lint"]
    run = ["python3", "run_tests.py"]
    ''')

CI = textwrap.dedent('''\
    [job.test]
    checklist = "ci/test.toml"
    image = "host"
    junit = "test-results/*.xml"
    artifacts = ["test-results/*.xml"]
    ''')


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
    os.makedirs(root, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, "calc.py", calc)
    write(root, "run_tests.py", RUN_TESTS)
    write(root, "ci/test.toml", checklist)
    write(root, ".shipshape-ci.toml", ci)
    write(root, ".gitignore", "test-results/\n__pycache__/\n.shipshape/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the calculator")
    return root


def commit_all(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").stdout.strip()
