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
    out.write('<?xml version="1.0"?>\n<testsuites><testsuite name="calc" tests="%d" '
              'failures="%d">\n' % (len(cases), failures))
    for name, failure in cases:
        out.write('<testcase classname="calc" name="%s" time="0.001">' % name)
        if failure:
            out.write('<failure message=%s>%s</failure>' % (quoteattr(failure), failure))
        out.write('</testcase>\n')
    out.write("</testsuite></testsuites>\n")
for name, failure in cases:
    print(("FAIL " if failure else "ok   ") + name + ("" if not failure else ": " + failure))
sys.exit(1 if failures else 0)
