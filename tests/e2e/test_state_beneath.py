"""Apply never leaves its root and sources never leave the ops repo, end to end with real
symlinks: every path kind under --root with a symlinked parent, a symlink at the target and a
parent swapped between plan and apply (by a command's `unless` guard, which runs while the plan
is made, after every path resource was planned); the same with no --root (root "/") inside a
private mount namespace; and sources symlinked out of the repo. Whatever each resource's outcome,
nothing outside the root changes."""
import os
import shutil
import subprocess
import textwrap

from harness import BIN, RepoTestCase, require

# One resource per path kind, each aimed at an entry the outside directory also has.
KINDS = {
    "file": '[[file]]\npath = "{base}/app.conf"\ncontent = "new\\n"\nmode = "0666"\n',
    "directory": '[[directory]]\npath = "{base}/app"\nmode = "0777"\n',
    "tree": '[[tree]]\npath = "{base}/app"\nsource = "files/tree"\npurge = true\n',
    "line": '[[line]]\npath = "{base}/app.conf"\nline = "evil:x:0:0::/:/bin/sh"\n',
    "absent": '[[absent]]\npath = "{base}/app"\nrecurse = true\n',
    "symlink": '[[symlink]]\npath = "{base}/app.conf"\ntarget = "/nowhere"\n',
}
TARGET = {"file": "app.conf", "directory": "app", "tree": "app", "line": "app.conf",
          "absent": "app", "symlink": "app.conf"}


def snapshot(top):
    """Everything under `top`: path -> (mode, inode, content or link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            body = ""
            if os.path.islink(p):
                body = os.readlink(p)
            elif os.path.isfile(p):
                with open(p) as f:
                    body = f.read()
            out[p] = (st.st_mode, st.st_ino, body)
    return out


class BeneathCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "root")
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(self.root, "etc"))
        os.makedirs(os.path.join(self.outside, "app"))
        with open(os.path.join(self.outside, "app.conf"), "w") as f:
            f.write("victim\n")
        os.chmod(os.path.join(self.outside, "app.conf"), 0o640)
        with open(os.path.join(self.outside, "app/important.txt"), "w") as f:
            f.write("keep me\n")
        self.write("files/tree/a.conf", "from the tree\n")
        self.write("files/tree/sub/b.conf", "deeper\n")

    def run_state(self, command, text, *extra):
        self.write("states/s.toml", text)
        return self.shipshape(command, "--state", "states/s.toml", *extra)


class RootedTest(BeneathCase):
    """Under --root R."""

    def booking(self):
        return os.path.join(self.root, "etc/booking")

    def reset(self):
        for p in (self.booking(), self.booking() + ".real"):
            if os.path.islink(p):
                os.unlink(p)
            elif os.path.isdir(p):
                shutil.rmtree(p)

    def test_a_symlinked_parent_is_an_error_in_plan_drift_and_apply_for_every_kind(self):
        for kind, body in KINDS.items():
            with self.subTest(kind=kind):
                self.reset()
                os.symlink(self.outside, self.booking())
                before = snapshot(self.outside)
                text = body.format(base="/etc/booking")
                why = f"/etc/booking is a symlink (-> {self.outside}); shipshape does not follow"
                for command in ("plan", "drift", "apply"):
                    r = self.run_state(command, text, "--root", self.root)
                    self.assertEqual(r.code, 1, r)
                    self.assertIn(why, r.out, r)
                    self.assertIn("! ", r.out, r)
                self.assertEqual(snapshot(self.outside), before)

    def test_root_etc_symlinked_elsewhere_does_not_redirect_a_write(self):
        # R/etc -> outside: the whole /etc of the root is a planted link.
        shutil.rmtree(os.path.join(self.root, "etc"))
        os.symlink(self.outside, os.path.join(self.root, "etc"))
        before = snapshot(self.outside)
        r = self.run_state("apply", '[[file]]\npath = "/etc/x.conf"\ncontent = "x\\n"\n',
                           "--root", self.root)
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"/etc is a symlink (-> {self.outside})", r.out)
        self.assertEqual(snapshot(self.outside), before)

    def test_a_symlink_at_the_target_is_never_followed(self):
        for kind, body in KINDS.items():
            with self.subTest(kind=kind):
                self.reset()
                os.makedirs(self.booking())
                os.symlink(os.path.join(self.outside, TARGET[kind]),
                           os.path.join(self.booking(), TARGET[kind]))
                before = snapshot(self.outside)
                self.run_state("apply", body.format(base="/etc/booking"), "--root", self.root)
                self.assertEqual(snapshot(self.outside), before)

    def test_a_parent_swapped_between_plan_and_apply_is_refused(self):
        # The guard runs while the plan is made, after the path kinds were planned against the
        # real directory; it swaps that directory for a link to the outside one.
        swap = ('mv "$SHIPSHAPE_ROOT/etc/booking" "$SHIPSHAPE_ROOT/etc/booking.real" && '
                f'ln -s {self.outside} "$SHIPSHAPE_ROOT/etc/booking"')
        guard = f'\n[[command]]\nrun = ["true"]\nunless = ["sh", "-c", \'{swap}\']\n'
        for kind, body in KINDS.items():
            with self.subTest(kind=kind):
                self.reset()
                os.makedirs(os.path.join(self.booking(), "app"))
                with open(os.path.join(self.booking(), "app.conf"), "w") as f:
                    f.write("old\n")
                with open(os.path.join(self.booking(), "app/old.txt"), "w") as f:
                    f.write("old\n")
                before = snapshot(self.outside)
                r = self.run_state("apply", body.format(base="/etc/booking") + guard,
                                   "--root", self.root)
                self.assertTrue(os.path.islink(self.booking()), r)  # the guard did swap
                self.assertEqual(r.code, 1, r)
                self.assertIn(f"/etc/booking is a symlink (-> {self.outside})", r.out, r)
                self.assertEqual(snapshot(self.outside), before)


class SourceTest(BeneathCase):
    """Sources that leave the ops repo through a symlink are validation errors."""

    def test_a_source_symlinked_out_of_the_repo_is_refused_at_its_key(self):
        with open(os.path.join(self.outside, "shadow"), "w") as f:
            f.write("root:$6$secret-hash:19000:0:99999:7:::\n")
        os.symlink(os.path.join(self.outside, "shadow"), os.path.join(self.repo, "files/link"))
        os.symlink(self.outside, os.path.join(self.repo, "files/treelink"))
        text = ('[[file]]\npath = "/etc/x"\nsource = "files/link"\n\n'
                '[[tree]]\npath = "/srv/t"\nsource = "files/treelink"\n')
        before = snapshot(self.root)
        for command in ("plan", "drift", "apply"):
            r = self.run_state(command, text, "--root", self.root)
            self.assertEqual(r.code, 2, r)
            self.assertIn('states/s.toml:3:10: source "files/link" leaves the ops repo: '
                          f"files/link is a symlink (-> {self.outside}/shadow)", r.err, r)
            self.assertIn('states/s.toml:7:10: source "files/treelink" leaves the ops repo',
                          r.err, r)
            self.assertNotIn("secret-hash", r.out + r.err)
        self.assertEqual(snapshot(self.root), before)

    def test_a_symlink_inside_a_tree_source_is_copied_as_a_symlink(self):
        os.symlink(os.path.join(self.outside, "app.conf"),
                   os.path.join(self.repo, "files/tree/escape"))
        r = self.run_state("apply", '[[tree]]\npath = "/srv/t"\nsource = "files/tree"\n',
                           "--root", self.root)
        self.assertEqual(r.code, 0, r)
        copied = os.path.join(self.root, "srv/t/escape")
        self.assertTrue(os.path.islink(copied))
        self.assertEqual(os.readlink(copied), os.path.join(self.outside, "app.conf"))


class HostRootTest(BeneathCase):
    """No --root (root "/"), on a scratch /srv: apply runs in a private mount namespace with a
    tmpfs on /srv, and an attacker's /srv/booking -> outside must not redirect anything."""

    def in_namespace(self, script):
        require(self, os.geteuid() == 0, "needs root for a mount namespace")
        require(self, shutil.which("unshare") is not None, "needs unshare (util-linux)")
        probe = subprocess.run(["unshare", "--mount", "--fork", "true"], capture_output=True)
        require(self, probe.returncode == 0, "cannot create a mount namespace here")
        full = "set -e\nmount --make-rprivate /\nmount -t tmpfs shipshape-e2e /srv\n" + script
        return subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", full],
                              cwd=self.repo, capture_output=True, text=True, env=self.env,
                              timeout=120)

    def test_a_planted_symlink_under_the_real_root_does_not_redirect_any_kind(self):
        for kind, body in KINDS.items():
            with self.subTest(kind=kind):
                self.write("states/s.toml", body.format(base="/srv/booking"))
                before = snapshot(self.outside)
                r = self.in_namespace(textwrap.dedent(f"""\
                    ln -s {self.outside} /srv/booking
                    set +e
                    {BIN} apply --state states/s.toml
                    echo "exit=$?"
                    """))
                self.assertIn("exit=1", r.stdout, r.stdout + r.stderr)
                self.assertIn(f"/srv/booking is a symlink (-> {self.outside})", r.stdout,
                              r.stdout + r.stderr)
                self.assertEqual(snapshot(self.outside), before)

    def test_a_parent_swapped_between_plan_and_apply_is_refused_for_every_kind(self):
        swap = f"mv /srv/booking /srv/booking.real && ln -s {self.outside} /srv/booking"
        guard = f'\n[[command]]\nrun = ["true"]\nunless = ["sh", "-c", \'{swap}\']\n'
        for kind, body in KINDS.items():
            with self.subTest(kind=kind):
                self.write("states/s.toml", body.format(base="/srv/booking") + guard)
                before = snapshot(self.outside)
                r = self.in_namespace(textwrap.dedent(f"""\
                    mkdir -p /srv/booking/app
                    echo old > /srv/booking/app.conf
                    echo old > /srv/booking/app/old.txt
                    set +e
                    {BIN} apply --state states/s.toml
                    echo "exit=$?"
                    test -L /srv/booking && echo swapped
                    """))
                self.assertIn("swapped", r.stdout, r.stdout + r.stderr)
                self.assertIn("exit=1", r.stdout, r.stdout + r.stderr)
                self.assertIn(f"/srv/booking is a symlink (-> {self.outside})", r.stdout,
                              r.stdout + r.stderr)
                self.assertEqual(snapshot(self.outside), before)

    def test_a_clean_scratch_root_is_written_normally(self):
        self.write("states/s.toml", KINDS["file"].format(base="/srv/booking"))
        r = self.in_namespace(f"{BIN} apply --state states/s.toml\ncat /srv/booking/app.conf\n"
                              "stat -c %a /srv/booking/app.conf\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("new\n666", r.stdout)
