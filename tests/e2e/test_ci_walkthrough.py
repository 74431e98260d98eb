"""The README's "CI on check-in" section, run as written: its console block is read from
README.md and each `$` line runs in one bash session, from the shipshape checkout, with
`shipshape` the built binary and /tmp/ a private directory. Each numbered step's output is
checked: the local run passes, the push queues a pipeline, the worker runs it, a broken test
is named, the fix passes, and git log shows both results as notes."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def readme_steps():
    """{step number: [command lines]} of the README's CI section."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("## CI on check-in"):]
    block = section[section.index("```console") + len("```console"):]
    block = block[:block.index("```")]
    steps, current = {}, None
    for line in block.splitlines():
        m = re.match(r"# (\d+)\. ", line)
        if m:
            current = int(m.group(1))
            steps[current] = []
        elif line.startswith("$ "):
            steps[current].append(line[2:])
    return steps


class CiWalkthroughTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shipshape-ciwalk-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_the_readme_section_as_written(self):
        steps = readme_steps()
        self.assertEqual(sorted(steps), [1, 2, 3, 4, 5, 6])
        script = [f"shipshape() {{ {BIN} \"$@\"; }}"]
        for n, lines in sorted(steps.items()):
            script.append(f"echo '@@STEP {n}'")
            for line in lines:
                line = line.replace("/tmp/", self.tmp + "/")
                script.append(f"{line} || {{ echo \"@@EXIT $? at: \"{repr(line)}; exit 1; }}")
        env = dict(os.environ, NO_COLOR="1", GIT_AUTHOR_NAME="dev",
                   GIT_AUTHOR_EMAIL="dev@example.org", GIT_COMMITTER_NAME="dev",
                   GIT_COMMITTER_EMAIL="dev@example.org")
        env.pop("SHIPSHAPE_STORE", None)
        r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        parts = dict(re.findall(r"@@STEP (\d+)\n(.*?)(?=@@STEP|\Z)", r.stdout, re.S))
        self.assertIn("pipeline 1 passed", parts["2"])  # the local run, in .shipshape/ci.db
        self.assertIn("pipeline 1 queued (1 job)", r.stderr)  # the push: "remote: ..."
        self.assertIn("job 1 test", parts["4"])
        self.assertIn("pipeline 1 passed", parts["4"])
        self.assertIn("ok   test_add", parts["4"])  # ci log 1: the tests' own output
        self.assertIn("pipeline 2 failed", parts["5"])
        self.assertIn("at test calc.test_add", parts["5"])
        self.assertIn("pipeline 3 passed", parts["6"])
        self.assertIn("shipshape-ci: passed (pipeline 3)", parts["6"])
        self.assertIn("shipshape-ci: failed (pipeline 2)", parts["6"])
        self.assertIn("test: failed at test calc.test_add", parts["6"])
        self.assertIn("shipshape-ci: passed (pipeline 1)", parts["6"])


if __name__ == "__main__":
    unittest.main()
