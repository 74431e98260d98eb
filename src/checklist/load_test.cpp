#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "checklist/load.hpp"
#include "checklist/validate.hpp"
#include "core/mutate_for_tests.hpp"

namespace shipshape::checklist {
namespace {

constexpr const char* k_valid = R"(name = "deploy"
description = "Roll out a release"
parallel = 2
[params.version]
required = true
description = "release to deploy"

[[step]]
id = "fetch"
run = ["echo", "fetch {{version}} to {{env}}"]
unless = ["test", "-f", "/tmp/x-{{version}}"]
verify = { sh = "true" }
timeout = "2m"
retries = 2
undo = ["rm", "-f", "/tmp/x-{{version}}"]

[[step]]
id = "smoke"
sh = "echo smoke | grep -q smoke"
needs = ["fetch"]
env = { LEVEL = "{{version}}" }

[[step]]
id = "qa-ok"
manual = "QA confirms {{version}}"
role = "qa"
needs = ["smoke"]
)";

TEST(ParseChecklist, ReadsEveryField) {
    auto c = parse_checklist(k_valid, "checklists/deploy.toml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->name, "deploy");
    EXPECT_EQ(c->parallel, 2);
    ASSERT_EQ(c->params.size(), 1u);
    EXPECT_TRUE(c->params[0].required);
    ASSERT_EQ(c->steps.size(), 3u);
    const Step& fetch = c->steps[0];
    EXPECT_EQ(fetch.run.argv, (std::vector<std::string>{"echo", "fetch {{version}} to {{env}}"}));
    EXPECT_EQ(fetch.timeout, Millis(120000));
    EXPECT_EQ(fetch.retries, 2);
    ASSERT_TRUE(fetch.verify);
    EXPECT_EQ(fetch.verify->shell, "true");
    EXPECT_EQ(c->steps[1].run.shell, "echo smoke | grep -q smoke");
    EXPECT_EQ(c->steps[1].env.at(0).second, "{{version}}");
    EXPECT_EQ(c->steps[2].kind, StepKind::manual);
    EXPECT_EQ(c->steps[2].role, "qa");
    EXPECT_EQ(topological_order(*c), (std::vector<std::string>{"fetch", "smoke", "qa-ok"}));
}

TEST(ParseChecklist, RejectsBadDefinitionsWithPositions) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // Broken TOML syntax is reported with toml++'s position and description.
        {"name = \n",
         "c.toml:1:8: invalid TOML: Error while parsing key-value pair: expected value, saw '\\n'"},
        // A checklist needs steps.
        {"name = \"x\"\n", "c.toml:1:1: the checklist has no steps (add [[step]] tables)"},
        // Unknown top-level key, with the accepted ones listed.
        {"nmae = \"x\"\n[[step]]\nid = \"a\"\nrun = [\"true\"]\n",
         "c.toml:1:1: unknown key 'nmae' in the checklist (did you mean 'name'?)"},
        // An unknown key with no near miss: every accepted one is listed.
        {"colour = \"x\"\n[[step]]\nid = \"a\"\nrun = [\"true\"]\n",
         "c.toml:1:1: unknown key 'colour' in the checklist (expected one of: name, description, "
         "parallel, params, step)"},
        // Unknown step key.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\ntimout = \"1s\"\n",
         "c.toml:4:1: unknown key 'timout' in step 'a' (did you mean 'timeout'?)"},
        // A transposition is a near miss too (the new user's `retires`).
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nretires = 3\n",
         "c.toml:4:1: unknown key 'retires' in step 'a' (did you mean 'retries'?)"},
        // Fleet steps: serial and max_fail need `on`; `on` is not for manual steps; host
        // variables are known only where `on` is.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nserial = 2\n",
         "c.toml:4:10: step 'a': 'serial' applies only to steps with 'on'"},
        {"[[step]]\nid = \"a\"\non = \"web*\"\nrun = [\"true\"]\nmax_fail = 0\n",
         "c.toml:5:12: step 'a' 'max_fail' must be between 1 and 100000, found 0"},
        {"[[step]]\nid = \"a\"\nmanual = \"look\"\nrole = \"ops\"\non = \"web*\"\n",
         "c.toml:5:6: step 'a' is manual: 'on' applies only to commands"},
        {"[[step]]\nid = \"a\"\nrun = [\"echo\", \"{{host}}\"]\n",
         "c.toml:3:7: step 'a' 'run' uses unknown variable '{{host}}'; declare it under "
         "[params.host]"},
        // Wrong type: run must be an array, not a string (which would need a shell).
        {"[[step]]\nid = \"a\"\nrun = \"echo hi\"\n",
         "c.toml:3:7: step 'a' 'run' must be an argv array such as [\"systemctl\", \"reload\", "
         "\"nginx\"] or { sh = \"...\" }, found a string"},
        // Bad duration.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\ntimeout = \"2 minutes\"\n",
         "c.toml:4:11: step 'a' 'timeout': invalid duration '2 minutes' (missing unit): expected "
         "a duration such as 500ms, 30s, 2m, 1h30m or 1d"},
        // Duplicate ids.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\n[[step]]\nid = \"a\"\nrun = [\"true\"]\n",
         "c.toml:4:1: duplicate step id 'a' (first defined at line 1)"},
        // Dangling needs, with a suggestion.
        {"[[step]]\nid = \"fetch\"\nrun = [\"true\"]\n[[step]]\nid = \"b\"\nrun = [\"true\"]\n"
         "needs = [\"fetchh\"]\n",
         "c.toml:7:9: step 'b' needs unknown step 'fetchh' (did you mean 'fetch'?)"},
        // A cycle is named in full.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nneeds = [\"c\"]\n[[step]]\nid = \"b\"\n"
         "run = [\"true\"]\nneeds = [\"a\"]\n[[step]]\nid = \"c\"\nrun = [\"true\"]\n"
         "needs = [\"b\"]\n",
         "c.toml:4:9: dependency cycle: a -> c -> b -> a"},
        // Unknown template variable.
        {"[[step]]\nid = \"a\"\nrun = [\"echo\", \"{{versoin}}\"]\n",
         "c.toml:3:7: step 'a' 'run' uses unknown variable '{{versoin}}'; declare it under "
         "[params.versoin]"},
        // A step needs exactly one action.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nsh = \"true\"\n",
         "c.toml:1:1: step 'a' must have exactly one of 'run' (argv array), 'sh' (shell line) or "
         "'manual' (a person confirms), found 2"},
        // Manual steps need a role.
        {"[[step]]\nid = \"a\"\nmanual = \"check\"\n",
         "c.toml:3:10: step 'a' is manual and needs a 'role' that checks it off"},
        // Retries must be a sane integer.
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nretries = -1\n",
         "c.toml:4:11: step 'a' 'retries' must be between 0 and 100, found -1"},
        // Empty argv.
        {"[[step]]\nid = \"a\"\nrun = []\n", "c.toml:3:7: step 'a' 'run' must not be empty"},
        // Bad step id characters.
        {"[[step]]\nid = \"a b\"\nrun = [\"true\"]\n",
         "c.toml:1:1: step id 'a b' may contain only letters, digits, '-', '_' and '.'"},
        // Missing id.
        {"[[step]]\nrun = [\"true\"]\n", "c.toml:1:1: step has no 'id'"},
        // Param tables are checked too.
        {"[params.v]\nrequird = true\n[[step]]\nid = \"a\"\nrun = [\"true\"]\n",
         "c.toml:2:1: unknown key 'requird' in param 'v' (did you mean 'required'?)"},
    };
    for (const auto& row : rows) {
        auto c = parse_checklist(row.text, "c.toml");
        ASSERT_FALSE(c) << row.text;
        EXPECT_EQ(c.error().code(), Errc::invalid_definition);
        EXPECT_EQ(c.error().message(), row.message) << row.text;
    }
}

TEST(ParseChecklist, ReportsSeveralErrorsAtOnceInFileOrder) {
    auto c = parse_checklist(
        "[[step]]\nid = \"a\"\nrun = [\"true\"]\ntimeout = \"x\"\n[[step]]\nid = \"b\"\n"
        "run = [\"true\"]\nneeds = [\"zzz\"]\nbogus = 1\n",
        "c.toml");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message(),
              "c.toml:4:11: step 'a' 'timeout': invalid duration 'x' (a number must come first): "
              "expected a duration such as 500ms, 30s, 2m, 1h30m or 1d\n"
              "c.toml:8:9: step 'b' needs unknown step 'zzz'\n"
              "c.toml:9:1: unknown key 'bogus' in step 'b' (expected one of: id, description, "
              "run, sh, manual, role, unless, verify, undo, needs, timeout, retries, "
              "retry_delay, env, cwd, on, serial, max_fail, signed)");
}

TEST(ParseChecklist, SurvivesArbitraryMutationsOfAValidFile) {
    // Fuzz-ish: flip, drop and duplicate bytes of a valid checklist; the parser must return
    // either a checklist or a positioned error, never crash or hang.
    std::string base = k_valid;
    testing::Mutator mutator(12345);
    for (int i = 0; i < 3000; ++i) {
        std::string text = mutator.mutate(base);
        auto c = parse_checklist(text, "f.toml");
        if (!c) {
            EXPECT_EQ(c.error().message().rfind("f.toml:", 0), 0u) << c.error().message();
        }
    }
}

TEST(BindParams, ChecksRequiredAndUnknownParams) {
    auto c = parse_checklist(k_valid, "d.toml");
    ASSERT_TRUE(c);
    auto missing = bind_params(*c, {}, {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message(),
              "missing required param 'version' (release to deploy): pass --set version=VALUE");
    auto unknown = bind_params(*c, {{"version", "1"}, {"colour", "red"}}, {});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message(),
              "unknown param 'colour' (checklist 'deploy' declares: version)");
    auto ok =
        bind_params(*c, {{"version", "1.4.2"}}, {{"env", "prod"}, {"run", "r1"}, {"repo", "/r"}});
    ASSERT_TRUE(ok);
    auto rendered = render_checklist(*c, *ok);
    ASSERT_TRUE(rendered);
    EXPECT_EQ(rendered->steps[0].run.argv[1], "fetch 1.4.2 to prod");
    EXPECT_EQ(rendered->steps[2].manual, "QA confirms 1.4.2");
}

TEST(RenderChecklist, AStepOnHostsGetsOneFlatCopyPerHost) {
    auto c = parse_checklist(
        "[[step]]\nid = \"t\"\non = \"env:prod\"\nrun = [\"echo\", \"{{host}}\"]\n", "t.toml");
    ASSERT_TRUE(c) << c.error().message();
    HostResolver resolve = [](const std::string&) -> Result<std::vector<HostVars>> {
        std::vector<HostVars> out;
        for (int i = 1; i <= 5; ++i) {
            std::string name = "h" + std::to_string(i);
            out.push_back({name, {{"host", name}}});
        }
        return out;
    };
    auto r = render_checklist(*c, {}, resolve);
    ASSERT_TRUE(r) << r.error().message();
    const auto& copies = r->steps[0].per_host;
    ASSERT_EQ(copies.size(), 5u);
    for (size_t i = 0; i < copies.size(); ++i) {
        // Each copy is one host's step, not a step holding the copies made before it.
        EXPECT_TRUE(copies[i].per_host.empty()) << copies[i].id;
        EXPECT_EQ(copies[i].id, "t@h" + std::to_string(i + 1));
        EXPECT_EQ(copies[i].run.argv[1], "h" + std::to_string(i + 1));
    }
}

}  // namespace
}  // namespace shipshape::checklist

namespace shipshape::checklist {
namespace {

TEST(ParseChecklist, ManualTextAndSuggestionsAreChecked) {
    auto c = parse_checklist(
        "[[step]]\nid = \"a\"\nmanual = \"ok {{vers}}\"\nrole = \"qa\"\nneeds = [\"b\"]\n",
        "m.toml");
    ASSERT_FALSE(c);
    // A dangling need is not "corrected" to the step itself.
    EXPECT_EQ(c.error().message(),
              "m.toml:1:1: step 'a' 'manual' uses unknown variable '{{vers}}'; declare it under "
              "[params.vers]\n"
              "m.toml:5:9: step 'a' needs unknown step 'b'");
}

}  // namespace
TEST(RenderChecklist, FleetStepsGetOneRenderedCopyPerHost) {
    auto c = parse_checklist(R"(
[params.version]
default = "2"
[[step]]
id = "deploy"
on = "group:web"
serial = 2
sh = "deploy {{version}} to {{host}} at {{host.address}} in {{host.tags.rack}}"
verify = { sh = "check {{host}}" }
)",
                             "c.toml");
    ASSERT_TRUE(c) << c.error().message();
    auto vars = bind_params(*c, {}, {{"env", "prod"}, {"run", "r"}, {"repo", "/ops"}});
    ASSERT_TRUE(vars);
    std::string asked;
    HostResolver hosts = [&](const std::string& pattern) -> Result<std::vector<HostVars>> {
        asked = pattern;
        return std::vector<HostVars>{
            {"web1", {{"host", "web1"}, {"host.address", "10.0.0.1"}, {"host.tags.rack", "a"}}},
            {"web2", {{"host", "web2"}, {"host.address", "10.0.0.2"}, {"host.tags.rack", "b"}}}};
    };
    auto r = render_checklist(*c, *vars, hosts);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(asked, "group:web");
    const auto& step = r->steps[0];
    EXPECT_EQ(step.run.shell, "deploy 2 to {{host}} at {{host.address}} in {{host.tags.rack}}");
    ASSERT_EQ(step.per_host.size(), 2u);
    EXPECT_EQ(step.per_host[1].id, "deploy@web2");
    EXPECT_EQ(step.per_host[1].host, "web2");
    EXPECT_EQ(step.per_host[1].run.shell, "deploy 2 to web2 at 10.0.0.2 in b");
    EXPECT_EQ(step.per_host[0].verify->shell, "check web1");

    // A host without the tag a step uses is an error naming the step and host.
    HostResolver untagged = [](const std::string&) -> Result<std::vector<HostVars>> {
        return std::vector<HostVars>{{"web3", {{"host", "web3"}, {"host.address", "x"}}}};
    };
    auto bad = render_checklist(*c, *vars, untagged);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("step 'deploy' on host web3"), std::string::npos)
        << bad.error().message();
    // Without an inventory, a fleet step cannot be rendered.
    EXPECT_FALSE(render_checklist(*c, *vars));
}

TEST(RenderChecklist, FactsComeFromThisMachineOrFromEachHost) {
    auto c = parse_checklist(R"(
[[step]]
id = "here"
sh = "echo {{facts.os.id}}"
[[step]]
id = "there"
on = "web"
sh = "echo {{facts.os.id}} on {{host}}"
undo = { sh = "undo {{facts.os.id}}" }
)",
                             "t.toml");
    ASSERT_TRUE(c) << c.error().message();
    Variables vars = {{"facts.os.id", "debian"}};
    HostResolver hosts = [](const std::string&) -> Result<std::vector<HostVars>> {
        return std::vector<HostVars>{{"web1", {{"host", "web1"}, {"facts.os.id", "ubuntu"}}}};
    };
    auto r = render_checklist(*c, vars, hosts);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->steps[0].run.shell, "echo debian");
    EXPECT_EQ(r->steps[1].run.shell, "echo {{facts.os.id}} on {{host}}");  // shown per host
    EXPECT_EQ(r->steps[1].per_host[0].run.shell, "echo ubuntu on web1");
    EXPECT_EQ(r->steps[1].per_host[0].undo->shell, "undo ubuntu");
    // A host without the fact never gets this machine's value instead.
    HostResolver factless = [](const std::string&) -> Result<std::vector<HostVars>> {
        return std::vector<HostVars>{{"web2", {{"host", "web2"}}}};
    };
    auto bad = render_checklist(*c, vars, factless);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("facts.os.id"), std::string::npos)
        << bad.error().message();
    EXPECT_NE(bad.error().message().find("on host web2"), std::string::npos)
        << bad.error().message();
}

// A long chain where each step needs the next: validation walks it without recursion (a
// recursive search overflowed the stack at about 40,000 steps), and still names a cycle that
// closes it end to end.
TEST(ValidateChecklist, ALongChainNeitherCrashesNorHidesACycle) {
    const size_t n = 100000;
    Checklist c;
    c.path = "long.toml";
    c.steps.resize(n);
    for (size_t i = 0; i < n; ++i) {
        c.steps[i].id = "s" + std::to_string(i);
        c.steps[i].run.argv = {"true"};
        if (i + 1 < n) {
            c.steps[i].needs = {"s" + std::to_string(i + 1)};
        }
    }
    std::vector<SourcePos> needs_pos(n, SourcePos{1, 1});
    Diagnostics clean;
    validate_checklist(c, needs_pos, clean);
    EXPECT_TRUE(clean.empty()) << clean.to_error().message();

    c.steps.back().needs = {"s0"};  // s0 -> s1 -> ... -> s99999 -> s0
    Diagnostics cyclic;
    validate_checklist(c, needs_pos, cyclic);
    ASSERT_EQ(cyclic.size(), 1u);
    const std::string& m = cyclic.items()[0].message;
    EXPECT_EQ(m.rfind("dependency cycle: s0 -> s1 -> s2 -> ", 0), 0u) << m.substr(0, 80);
    const std::string tail = " -> s99998 -> s99999 -> s0";
    ASSERT_GT(m.size(), tail.size());
    EXPECT_EQ(m.substr(m.size() - tail.size()), tail);
}

// Random graphs, acyclic and not, small and large: validation reports a cycle exactly when the
// graph has one (checked against Kahn's algorithm), and every cycle it names is real: each step
// in it needs the next, and it ends where it started.
TEST(ValidateChecklist, RandomGraphsGetCyclesReportedExactlyAndTruly) {
    std::mt19937 rng(20261207);
    for (int round = 0; round < 300; ++round) {
        const size_t n = round < 290 ? 1 + rng() % 60 : 5000 + rng() % 20000;
        const bool acyclic = rng() % 2 == 0;
        Checklist c;
        c.path = "random.toml";
        c.steps.resize(n);
        std::vector<std::set<size_t>> edges(n);
        for (size_t i = 0; i < n; ++i) {
            c.steps[i].id = "s" + std::to_string(i);
            c.steps[i].run.argv = {"true"};
            const size_t fan = rng() % 4;
            for (size_t k = 0; k < fan; ++k) {
                size_t j = rng() % n;
                // Acyclic rounds only need lower-numbered steps (a DAG by construction);
                // others need anything but themselves.
                if (j == i || (acyclic && j > i) || !edges[i].insert(j).second) {
                    continue;
                }
                c.steps[i].needs.push_back("s" + std::to_string(j));
            }
        }
        // Kahn: the graph has a cycle iff not every step can be ordered.
        std::vector<size_t> indegree(n, 0);
        std::vector<std::vector<size_t>> needed_by(n);
        for (size_t i = 0; i < n; ++i) {
            for (size_t j : edges[i]) {
                needed_by[j].push_back(i);
                ++indegree[i];
            }
        }
        std::vector<size_t> ready;
        for (size_t i = 0; i < n; ++i) {
            if (indegree[i] == 0) {
                ready.push_back(i);
            }
        }
        size_t ordered = 0;
        while (!ready.empty()) {
            size_t v = ready.back();
            ready.pop_back();
            ++ordered;
            for (size_t w : needed_by[v]) {
                if (--indegree[w] == 0) {
                    ready.push_back(w);
                }
            }
        }
        const bool has_cycle = ordered < n;

        std::vector<SourcePos> needs_pos(n, SourcePos{1, 1});
        Diagnostics diags;
        validate_checklist(c, needs_pos, diags);
        size_t cycles = 0;
        for (const auto& d : diags.items()) {
            const std::string prefix = "dependency cycle: ";
            ASSERT_EQ(d.message.rfind(prefix, 0), 0u) << "round " << round << ": " << d.message;
            ++cycles;
            std::vector<size_t> path;
            std::string rest = d.message.substr(prefix.size());
            for (size_t at = 0;;) {
                size_t arrow = rest.find(" -> ", at);
                path.push_back(std::stoul(rest.substr(at + 1, arrow - at - 1)));
                if (arrow == std::string::npos) {
                    break;
                }
                at = arrow + 4;
            }
            ASSERT_GE(path.size(), 3u) << d.message;
            EXPECT_EQ(path.front(), path.back()) << d.message;
            for (size_t k = 0; k + 1 < path.size(); ++k) {
                EXPECT_TRUE(edges[path[k]].count(path[k + 1]))
                    << "round " << round << ": s" << path[k] << " does not need s" << path[k + 1];
            }
        }
        EXPECT_EQ(cycles > 0, has_cycle) << "round " << round << ", " << n << " steps";
    }
}

}  // namespace shipshape::checklist
