"""Templates cannot change what a resource is (#14 section 3), end to end through the real
binary: a parameter with a newline cannot add a line to /etc/passwd under apply --root, a NUL
never cuts a path or an argv word, and a parameter put raw into a shell line is warned about
by validate and run --plan, with {{name | sh}} as the fix."""
import os
import textwrap

from harness import RepoTestCase


class StateTemplateTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", 'name = "test"\n[roles]\nbase = ["states/base.toml"]\n')
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost"]
            [group.all]
            hosts = ["localhost"]
            roles = ["base"]
            """))
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "etc"))
        os.makedirs(os.path.join(self.root, "data/cache"))
        self.passwd = os.path.join(self.root, "etc/passwd")
        with open(self.passwd, "w") as f:
            f.write("root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n")
        with open(os.path.join(self.root, "data/cache/keep"), "w") as f:
            f.write("keep\n")

    def passwd_text(self):
        with open(self.passwd) as f:
            return f.read()

    def test_a_newline_in_a_parameter_cannot_add_a_passwd_line(self):
        # #14: --set comment=$'x\nevil:x:0:0:' wrote a uid-0 line, once more on every apply.
        self.write("states/base.toml", textwrap.dedent("""\
            [[line]]
            path = "/etc/passwd"
            line = "# managed by shipshape: {{comment}}"
            """))
        before = self.passwd_text()
        for command in ("plan", "apply", "apply"):
            r = self.shipshape(command, "--root", self.root, "--set",
                               "comment=x\nevil:x:0:0::/root:/bin/sh")
            self.assertEqual(r.code, 2, r)
            self.assertIn("states/base.toml:1:1: [[line]] 'line' as rendered from \"# managed by "
                          "shipshape: {{comment}}\" must be a single line (no newline, carriage "
                          "return or NUL); fix the value of the parameter 'comment'", r.err)
            self.assertEqual(self.passwd_text(), before)
        self.assertNotIn("evil", self.passwd_text())
        # The same state with a one-line value applies, and a second apply changes nothing.
        r = self.shipshape("apply", "--root", self.root, "--set", "comment=ok")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.passwd_text(), before + "# managed by shipshape: ok\n")
        r = self.shipshape("apply", "--root", self.root, "--set", "comment=ok")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.passwd_text(), before + "# managed by shipshape: ok\n")

    def test_a_parameter_cannot_move_a_path(self):
        self.write("states/base.toml", textwrap.dedent("""\
            [[file]]
            path = "/etc/app/{{name}}.conf"
            content = "x"
            """))
        r = self.shipshape("apply", "--root", self.root, "--set", "name=../passwd")
        self.assertEqual(r.code, 2, r)
        self.assertIn("states/base.toml:1:1: [[file]] 'path' as rendered from "
                      "\"/etc/app/{{name}}.conf\" must be a normalized path", r.err)
        self.assertIn("fix the value of the parameter 'name'", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.root, "etc/app")))

    def test_a_nul_never_cuts_a_path(self):
        # #14: "/data\0/cache" printed "- directory /data" and removed /data/cache.
        self.write("states/base.toml", textwrap.dedent("""\
            [[absent]]
            path = "/data\\u0000/cache"
            recurse = true
            """))
        for command in ("plan", "apply"):
            r = self.shipshape(command, "--root", self.root)
            self.assertEqual(r.code, 2, r)
            self.assertIn("states/base.toml:2:8: [[absent]] 'path' must not contain control "
                          "characters (NUL, newline, ...), found \"/data\\x00/cache\"", r.err)
            self.assertTrue(os.path.exists(os.path.join(self.root, "data/cache/keep")))
        r = self.shipshape("validate")
        self.assertEqual(r.code, 2, r)
        self.assertIn("states/base.toml:2:8: [[absent]] 'path' must not contain", r.err)

    def test_sh_dash_c_in_a_state_command_is_warned_about(self):
        self.write("states/base.toml", textwrap.dedent("""\
            [[command]]
            run = ["sh", "-c", "echo {{comment}} >> /tmp/never"]
            unless = ["true"]
            """))
        r = self.shipshape("validate")
        self.assertEqual(r.code, 0, r)
        self.assertIn("states/base.toml:1:1: warning: [[command]] 'run' puts {{comment}} into the "
                      "script of 'sh -c' unquoted", r.err)
        self.assertIn("write {{comment | sh}}", r.err)


DEPLOY = """\
[params.version]
required = true

[[step]]
id = "build"
sh = "echo {{version}} > raw.txt"

[[step]]
id = "quoted"
sh = "echo {{version | sh}} > quoted.txt"
needs = ["build"]
"""


class ChecklistTemplateTest(RepoTestCase):
    def test_validate_and_plan_warn_about_an_unquoted_param_in_sh(self):
        self.write("checklists/deploy.toml", DEPLOY)
        warning = ("checklists/deploy.toml:6:6: warning: step 'build' 'run' puts {{version}} into "
                   "a shell line unquoted: a value with a space, a quote or ';' changes the "
                   "command; write {{version | sh}}")
        r = self.shipshape("validate")
        self.assertEqual(r.code, 0, r)  # a warning, not an error
        self.assertIn(warning, r.err)
        self.assertEqual(r.err.count("warning:"), 1, r)  # the quoted step is not warned about
        self.assertIn("files valid, 1 warning", r.out)
        r = self.shipshape("--json", "validate")
        self.assertEqual(r.code, 0, r)
        # validate names the checklists of the whole repo by their full path
        warnings = r.json()["warnings"]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertTrue(warnings[0].endswith("/" + warning), warnings)
        self.assertTrue(r.json()["ok"])

        r = self.shipshape("run", "checklists/deploy.toml", "--plan", "--set", "version=1")
        self.assertEqual(r.code, 0, r)
        self.assertIn(warning, r.err)
        r = self.shipshape("--json", "run", "checklists/deploy.toml", "--plan", "--set",
                           "version=1")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["warnings"], [warning])

    def test_a_new_repo_quotes_its_params_and_draws_no_warning(self):
        target = os.path.join(self.tmp, "fresh")
        self.assertEqual(self.shipshape("init", target, cwd=self.tmp).code, 0)
        r = self.shipshape("validate", cwd=target)
        self.assertEqual(r.code, 0, r)
        self.assertNotIn("warning", r.err + r.out)
        r = self.shipshape("run", "checklists/deploy.toml", "--set", "version=1.4 rc'1",
                           cwd=target)
        self.assertEqual(r.code, 4, r)  # waiting for the manual check-off
        with open(os.path.join(target, "work/current/VERSION")) as f:
            self.assertEqual(f.read(), "booking 1.4 rc'1\n")

    def test_the_sh_filter_keeps_a_hostile_value_one_word(self):
        self.write("checklists/deploy.toml", DEPLOY.replace('echo {{version}} > raw.txt', 'true'))
        value = "1.0'; touch pwned; echo '$(id)"
        r = self.shipshape("run", "checklists/deploy.toml", "--set", "version=" + value)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.read("quoted.txt"), value + "\n")
        self.assertFalse(os.path.exists(os.path.join(self.repo, "pwned")))

    def test_unknown_filter_and_nul_are_errors_with_positions(self):
        self.write("checklists/deploy.toml", textwrap.dedent("""\
            [params.version]
            [[step]]
            id = "a"
            sh = "echo {{version | shq}}"
            [[step]]
            id = "b"
            run = ["echo", "x\\u0000y"]
            """))
        r = self.shipshape("validate", "checklists/deploy.toml")
        self.assertEqual(r.code, 2, r)
        self.assertIn("checklists/deploy.toml:4:6: step 'a' 'run': unknown filter 'shq' in "
                      "'{{version | shq}}' (did you mean 'sh'?)", r.err)
        self.assertIn("checklists/deploy.toml:7:16: step 'b' 'run' element 2 must not contain a "
                      "NUL byte", r.err)
        r = self.shipshape("run", "checklists/deploy.toml", "--set", "version=1")
        self.assertEqual(r.code, 2, r)  # refused before any step ran


if __name__ == "__main__":
    import unittest
    unittest.main()
