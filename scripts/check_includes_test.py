#!/usr/bin/env python3
"""scripts/check-includes.py against small trees that break each kind of rule: it names the
file, the line and the rule, and exits 1; a tree that keeps the rules passes."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-includes.py")


class CheckIncludesTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="shipshape-includes-")
        self.addCleanup(shutil.rmtree, self.root, True)
        # A tree that keeps every rule.
        self.write("core/error.hpp", "#include <tl/expected.hpp>\n#include <string>\n")
        self.write("os/file_system.cpp", '#include "os/file_system.hpp"\n#include "core/error.hpp"\n'
                   "#include <sys/stat.h>\n#include <unistd.h>\n")
        self.write("facts/gather.cpp", '#include "os/file_system.hpp"\n#include "core/text.hpp"\n')
        self.write("facts/facts_json.cpp", "#include <nlohmann/json.hpp>\n")
        self.write("fleet/protocol_json.cpp", "#include <nlohmann/json.hpp>\n")
        self.write("state/load_toml.cpp", '#include "core/toml_reader.hpp"\n')
        self.write("store/sqlite/sqlite_store.cpp", "#include <sqlite3.h>\n")
        self.write("cli/cmd_facts.cpp", '#include <CLI/CLI.hpp>\n#include "app/facts_service.hpp"\n')

    def write(self, rel, text):
        path = os.path.join(self.root, "src", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def check(self):
        r = subprocess.run([sys.executable, SCRIPT, "--root", self.root], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout.splitlines()

    def test_a_tree_that_keeps_the_rules_passes(self):
        self.assertEqual(self.check(), (0, []))

    def test_a_module_including_one_above_it(self):
        self.write("facts/collect.cpp", '#include <string>\n\n#include "fleet/fleet.hpp"\n')
        self.write("core/text.cpp", '#include "os/process.hpp"\n')
        code, lines = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(lines, [
            "src/core/text.cpp:1: core may not include os/process.hpp "
            "(rule: core may use nothing of ours)",
            "src/facts/collect.cpp:3: facts may not include fleet/fleet.hpp "
            "(rule: facts may use core, os)",
        ])

    def test_third_party_headers_outside_their_adapters(self):
        self.write("fleet/fleet.hpp", "#include <nlohmann/json.hpp>\n")  # a header, not *_json.cpp
        self.write("state/plan.cpp", "#include <toml++/toml.h>\n")
        self.write("app/runs.cpp", "#include <sqlite3.h>\n")
        self.write("app/hosts.cpp", '#include "core/toml_reader.hpp"\n')
        code, lines = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(lines[0].startswith("src/app/hosts.cpp:1: core/toml_reader.hpp may be "
                                            "included only by *_toml.cpp"), lines[0])
        self.assertTrue(lines[1].startswith("src/app/runs.cpp:1: <sqlite3.h> is not allowed here "
                                            "(rule: only in store/sqlite/*"), lines[1])
        self.assertTrue(lines[2].startswith("src/fleet/fleet.hpp:1: <nlohmann/json.hpp> is not "
                                            "allowed here (rule: only in *_json.cpp"), lines[2])
        self.assertTrue(lines[3].startswith("src/state/plan.cpp:1: <toml++/toml.h> is not allowed "
                                            "here"), lines[3])

    def test_the_ci_module_uses_core_only_and_pugixml_only_in_its_adapter(self):
        self.write("ci/junit_pugixml.cpp", '#include <pugixml.hpp>\n#include "ci/junit.hpp"\n')
        self.write("ci/config_toml.cpp", '#include "core/toml_reader.hpp"\n')
        self.write("app/ci_run.cpp", '#include "ci/config.hpp"\n')
        self.assertEqual(self.check(), (0, []))
        self.write("ci/junit.cpp", '#include <pugixml.hpp>\n#include "os/process.hpp"\n')
        code, lines = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("src/ci/junit.cpp:1: <pugixml.hpp> is not allowed here "
                                            "(rule: only in *_pugixml.cpp"), lines[0])
        self.assertEqual(lines[1], "src/ci/junit.cpp:2: ci may not include os/process.hpp "
                                   "(rule: ci may use core)")

    def test_unknown_third_party_headers_and_modules_are_named(self):
        self.write("core/clock.cpp", "#include <boost/asio.hpp>\n")
        self.write("agentd/main.cpp", '#include "core/error.hpp"\n')
        code, lines = self.check()
        self.assertEqual(code, 1)
        self.assertIn("src/agentd/main.cpp:1: src/agentd/ is not in the dependency rule", lines[0])
        self.assertIn("src/core/clock.cpp:1: <boost/asio.hpp> is a third-party header the rules "
                      "do not know", lines[1])


if __name__ == "__main__":
    unittest.main()
