#!/usr/bin/env python3
"""Runs a selection of the black-box tests and maps the outcome to an exit code for ctest:

    python3 run.py test_fleet.FleetStateTest      # a module, a TestCase or a single test
    python3 run.py --list                         # MODULE.CLASS of every TestCase with tests

--list writes MODULE.CLASS@LOCK for a TestCase whose class sets RESOURCE_LOCK = "LOCK" (a
machine-wide resource such as this machine's dpkg database): ctest never runs two TestCases
holding the same lock at once.

0   every test ran and passed
1   a test failed or errored, or the selection holds no test
77  nothing failed but some test was skipped (ctest's SKIP_RETURN_CODE: shown as Skipped, not
    Passed); under SHIPSHAPE_REQUIRE_ALL=1 a skip is a failure instead (exit 1), like the
    harness's require() and core/testing/skip.hpp for GoogleTest

unittest itself exits 0 when everything was skipped, which hid skips from ctest."""
import glob
import inspect
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SKIPPED = 77


def test_cases():
    """MODULE.CLASS for every TestCase defined in a test_*.py module here that has tests."""
    sys.path.insert(0, HERE)
    loader = unittest.defaultTestLoader
    names = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        module_name = os.path.splitext(os.path.basename(path))[0]
        module = __import__(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, unittest.TestCase) and cls.__module__ == module_name
                    and loader.getTestCaseNames(cls)):
                lock = getattr(cls, "RESOURCE_LOCK", None)
                names.append(f"{module_name}.{name}" + (f"@{lock}" if lock else ""))
    return names


def main(argv):
    if argv == ["--list"]:
        print(";".join(test_cases()))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[0])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    if result.testsRun == 0:
        print(f"run.py: '{argv[0]}' holds no test", file=sys.stderr)
        return 1
    if not result.wasSuccessful():
        return 1
    if result.skipped:
        reasons = "".join(f"\n  {test.id()}: {reason}" for test, reason in result.skipped)
        if os.environ.get("SHIPSHAPE_REQUIRE_ALL") == "1":
            print(f"run.py: skipped under SHIPSHAPE_REQUIRE_ALL=1:{reasons}", file=sys.stderr)
            return 1
        print(f"run.py: {len(result.skipped)} of {result.testsRun} skipped:{reasons}",
              file=sys.stderr)
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
