"""The static host agent (shipshape-agent, docs/agent.md) on a bare root: a directory that holds
the agent, two account files and nothing else (no libc, no shell, no shipshape library), entered
with chroot in a private mount namespace. The agent must serve the fleet protocol there, gather
facts, run commands, and plan and apply state, and check the protocol version."""
import http.server
import json
import os
import shutil
import struct
import subprocess
import textwrap
import threading

from harness import BIN, RepoTestCase, require

AGENT = os.path.join(os.path.dirname(os.path.abspath(BIN)), "shipshape-agent")
LIMIT = 6 * 1024 * 1024
PROTOCOL = 2


def elf_interpreter(path):
    """The PT_INTERP of an ELF64 file ('' for a static executable)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF", "not an ELF file"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset = struct.unpack_from("<IIQ", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            p_filesz, = struct.unpack_from("<Q", data, phoff + i * phentsize + 0x20)
            return data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    return ""


class AgentBinaryTest(RepoTestCase):
    def test_static_stripped_and_small(self):
        self.assertTrue(os.path.exists(AGENT), f"{AGENT} is built beside shipshape")
        size = os.path.getsize(AGENT)
        self.assertLessEqual(size, LIMIT, f"shipshape-agent is {size} bytes")
        self.assertEqual(elf_interpreter(AGENT), "", "no dynamic loader: a static executable")
        out = subprocess.run(["file", AGENT], capture_output=True, text=True).stdout \
            if shutil.which("file") else "statically linked, stripped"
        self.assertIn("stripped", out)
        self.assertNotIn("not stripped", out)

    def test_links_no_store_server_fuse_nftables_or_openssl(self):
        """The linker's map (written beside the agent) lists every archive member the link
        pulled in: none may come from these libraries."""
        map_path = AGENT + ".map"
        self.assertTrue(os.path.exists(map_path), "the agent's link map")
        with open(map_path) as f:
            text = f.read()
        members = text[text.index("Archive member included"):text.index("Discarded input")]
        libraries = {line.split("(")[0].rsplit("/", 1)[-1] for line in members.splitlines()
                     if line and not line[0].isspace() and "(" in line}
        self.assertIn("libshipshape_state.a", libraries, "the map is read right")
        forbidden = {"libsqlite3.a", "libpq.a", "libfuse3.a", "libnftables.a",
                     "libnetfilter_queue.a", "libcrypto.a", "libssl.a", "libarchive.a",
                     "libpugixml.a", "libshipshape_server.a", "libshipshape_faults.a",
                     "libshipshape_ci.a", "libshipshape_image.a", "libshipshape_release.a"}
        self.assertEqual(libraries & forbidden, set())
        # Of the store library, only the audit entries' text encoding (no backend).
        store = {line.strip() for line in members.splitlines() if "libshipshape_store.a(" in line}
        self.assertEqual({m.split("(")[1].rstrip(")") for m in store}, {"audit_detail.cpp.o"})

    def test_help_names_its_commands(self):
        r = subprocess.run([AGENT, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("agent", "plan", "apply", "drift"):
            self.assertIn(word, r.stdout)
        r = subprocess.run([AGENT, "agent", "pull", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--repo", r.stdout)


class BareRootTest(RepoTestCase):
    """Runs the agent chrooted into a root with nothing but itself."""

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "root (chroot, mount namespaces)")
        require(self, shutil.which("unshare") is not None, "unshare (util-linux)")
        self.root = os.path.join(self.tmp, "bare")
        for d in ("etc", "tmp", "proc", "root", "srv", "dev"):
            os.makedirs(os.path.join(self.root, d))
        shutil.copy(AGENT, os.path.join(self.root, "shipshape-agent"))
        with open(os.path.join(self.root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/nonexistent\napp:x:1234:1234::/srv:/nonexistent\n")
        with open(os.path.join(self.root, "etc", "group"), "w") as f:
            f.write("root:x:0:\napp:x:1234:\n")
        # Nothing of this machine's libraries in there: prove the root is bare.
        self.assertFalse(os.path.exists(os.path.join(self.root, "lib")))
        self.assertFalse(os.path.exists(os.path.join(self.root, "usr")))

    def chrooted(self, args, stdin=None, replies=0):
        """Runs the agent in the bare root, with /proc and /dev/null (what the kernel gives any
        root) mounted in a private mount namespace. With `replies`, stdin stays open until that
        many reply lines (lines with an "id" and no "event") have come back, as a controller
        keeps its connection open: the agent takes the end of its input as the controller
        gone, and cancels what runs."""
        script = 'mount -t proc proc "$1/proc" && : > "$1/dev/null" && ' \
                 'mount --bind /dev/null "$1/dev/null" && r="$1" && shift && exec chroot "$r" "$@"'
        argv = ["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh", self.root] + args
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
        if not replies:
            return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                                  env=env)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        timer = threading.Timer(60, p.kill)
        timer.start()
        try:
            p.stdin.write(stdin)
            p.stdin.flush()
            out, seen = [], 0
            while seen < replies:
                line = p.stdout.readline()
                if not line:
                    break
                out.append(line)
                doc = json.loads(line)
                seen += 1 if "id" in doc and "event" not in doc else 0
            rest, err = p.communicate()  # closes stdin: the controller goes
        finally:
            timer.cancel()
        return subprocess.CompletedProcess(argv, p.returncode, "".join(out) + rest, err)

    def test_serves_facts_and_exec(self):
        requests = [
            {"id": 1, "op": "facts", "sections": ["os", "cpu", "memory"]},
            {"id": 2, "op": "exec", "argv": ["/shipshape-agent", "--version"],
             "env": [], "cwd": "/", "timeout_ms": 5000},
        ]
        r = self.chrooted(["/shipshape-agent", "agent", "--protocol", str(PROTOCOL)],
                          stdin="".join(json.dumps(q) + "\n" for q in requests), replies=2)
        self.assertEqual(r.returncode, 0, r)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        greeting = lines[0]
        self.assertEqual(greeting["agent"], "shipshape")
        self.assertEqual(greeting["protocol"], PROTOCOL)
        replies = {x["id"]: x for x in lines[1:] if "event" not in x}
        self.assertTrue(replies[1]["ok"], replies[1])
        facts = replies[1]["facts"]
        self.assertGreater(facts["cpu"]["threads"], 0)
        self.assertGreater(facts["memory"]["total"], 0)
        self.assertTrue(replies[2]["ok"], replies[2])
        self.assertEqual((replies[2]["exit"], replies[2]["code"]), ("exited", 0))
        output = "".join(x["data"] for x in lines[1:] if x.get("event") == "output")
        self.assertIn("shipshape-agent", output)

    def test_applies_state_with_accounts_from_the_files(self):
        repo = os.path.join(self.root, "repo")
        os.makedirs(os.path.join(repo, "states"))
        with open(os.path.join(repo, "shipshape.toml"), "w") as f:
            f.write('name = "bare"\n')
        with open(os.path.join(repo, "states", "app.toml"), "w") as f:
            f.write(textwrap.dedent("""\
                [[directory]]
                path = "/srv/app"
                owner = "app"
                group = "app"
                mode = "0750"

                [[file]]
                path = "/srv/app/app.conf"
                content = "port = 8080\\n"
                owner = "app"
                mode = "0640"
                """))
        host = json.dumps({"name": "bare-1", "address": "bare-1", "env": "", "tags": {},
                           "roles": []})
        args = ["/shipshape-agent", "-C", "/repo", "--json", "apply", "--state",
                "states/app.toml", "--as-host", host]
        r = self.chrooted(args)
        self.assertEqual(r.returncode, 0, r)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["exit_code"], 0, doc)
        conf = os.path.join(self.root, "srv", "app", "app.conf")
        with open(conf) as f:
            self.assertEqual(f.read(), "port = 8080\n")
        st = os.stat(conf)
        self.assertEqual((st.st_uid, oct(st.st_mode & 0o777)), (1234, "0o640"))
        # Drift after the apply: nothing differs.
        r = self.chrooted(["/shipshape-agent", "-C", "/repo", "drift", "--state",
                           "states/app.toml", "--as-host", host])
        self.assertEqual(r.returncode, 0, r)
        # A user only NSS could know is unknown here: named, and nothing written.
        with open(os.path.join(repo, "states", "app.toml"), "a") as f:
            f.write('\n[[file]]\npath = "/srv/other.conf"\ncontent = "x"\nowner = "nosuchuser"\n')
        r = self.chrooted(args[:3] + args[4:])  # text output this time
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn('unknown user "nosuchuser"', r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "srv", "other.conf")))

    def test_refuses_another_protocol_after_its_greeting(self):
        r = self.chrooted(["/shipshape-agent", "agent", "--protocol", "99"], stdin="")
        self.assertEqual(r.returncode, 3, r)
        greeting = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(greeting["protocol"], PROTOCOL)
        self.assertIn("protocol 2", r.stderr)
        self.assertIn("99", r.stderr)

    def test_reports_to_a_server_named_in_its_etc_hosts(self):
        """The static getaddrinfo resolves a name from the bare root's /etc/hosts, and the
        agent's own HTTP client delivers a pull report. There is no git in the bare root, so
        the cycle fails, and says so in the report."""
        got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((self.path, self.headers["Authorization"], json.loads(body)))
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"stored": true, "id": 1}')

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
            f.write("127.0.0.1 reports.example\n")
        with open(os.path.join(self.root, "token"), "w") as f:
            f.write("sst_abc.def\n")
        port = server.server_address[1]
        r = self.chrooted(["/shipshape-agent", "--json", "agent", "pull", "--once", "--repo",
                           "/nowhere", "--host", "bare-1", "--dir", "/work",
                           "--report", f"http://reports.example:{port}",
                           "--token-file", "/token"])
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(len(got), 1, r)
        path, auth, doc = got[0]
        self.assertEqual(path, "/api/v1/hosts/bare-1/reports")
        self.assertEqual(auth, "Bearer sst_abc.def")
        self.assertEqual((doc["host"], doc["result"], doc["exit_code"]), ("bare-1", "failed", 1))
        self.assertIn("git", doc["error"])
        self.assertEqual(doc["facts"]["schema"], "shipshape.facts/1")
        self.assertEqual(os.listdir(os.path.join(self.root, "work", "spool")), [],
                         "a delivered report leaves the spool")
