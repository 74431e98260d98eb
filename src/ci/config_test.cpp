// .shipshape-ci.toml: the full example of docs/specs/ci-format.md reads into jobs and matrix
// cells; every kind of bad input is named with its file:line:col; selecting jobs by name; and
// truncating, flipping or mutating a valid file never crashes.
#include <gtest/gtest.h>

#include <regex>

#include "ci/config.hpp"
#include "core/mutate_for_tests.hpp"

namespace shipshape::ci {
namespace {

// The example of docs/specs/ci-format.md, kept identical to it.
const char* const k_example = R"(# .shipshape-ci.toml at the root of the application's repository
[job.test]
checklist = "ci/test.toml"          # required: the checklist the job runs
image = "host"                      # "host" (default) or the name or id of a built image
faults = "ci/flaky-disk.toml"       # optional: the fault profile every step runs under
requirements = "requirements.toml"  # optional: checked against the image's facts first
artifacts = ["build/*.deb", "test-results/*.xml"]  # globs kept after the job
junit = "test-results/*.xml"        # optional: JUnit XML files read into per-test results
labels = ["linux"]                  # a worker must have every label to take the job
network = "none"                    # "none" (default): only lo; "host": the worker's network
timeout = "30m"                     # the whole job; default none (steps keep their own)

[job.test.params]                   # the checklist's params, as strings (like --set K=V)
mode = "release"
jobs = "2"

[job.lint]
checklist = "ci/lint.toml"
network = "host"

[job.matrix]
checklist = "ci/test.toml"
junit = "test-results/*.xml"

[job.matrix.matrix]                 # optional: one job per combination
image = ["host", "prod"]
faults = ["", "ci/disk-full.toml"]  # "" = no fault profile
)";

TEST(ParseCiConfig, ReadsTheSpecExample) {
    auto c = parse_ci_config(k_example, ".shipshape-ci.toml");
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->jobs.size(), 6U);
    const Job& test = c->jobs[0];
    EXPECT_EQ(test.name, "test");
    EXPECT_EQ(test.base_name, "test");
    EXPECT_EQ(test.pos.line, 2);
    EXPECT_EQ(test.pos.column, 1);
    EXPECT_EQ(test.checklist, "ci/test.toml");
    EXPECT_EQ(test.image, "host");
    EXPECT_EQ(test.faults, "ci/flaky-disk.toml");
    EXPECT_EQ(test.requirements, "requirements.toml");
    EXPECT_EQ(test.artifacts, (std::vector<std::string>{"build/*.deb", "test-results/*.xml"}));
    EXPECT_EQ(test.junit, "test-results/*.xml");
    EXPECT_EQ(test.labels, std::vector<std::string>{"linux"});
    EXPECT_EQ(test.network, JobNetwork::none);
    EXPECT_EQ(test.timeout, Millis(30 * 60 * 1000));
    // Params keep the file's order, not toml++'s sorted one.
    using Params = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(test.params, (Params{{"mode", "release"}, {"jobs", "2"}}));

    // Jobs keep the file's order too ("lint" sorts before "test").
    const Job& lint = c->jobs[1];
    EXPECT_EQ(lint.name, "lint");
    EXPECT_EQ(lint.image, "host");  // the default
    EXPECT_EQ(lint.network, JobNetwork::host);
    EXPECT_EQ(lint.timeout, Millis(0));
    EXPECT_TRUE(lint.faults.empty());

    // A cell per combination, image outer, faults inner; "" is "no faults".
    std::vector<std::string> names;
    for (size_t i = 2; i < c->jobs.size(); ++i) {
        names.push_back(c->jobs[i].name);
        EXPECT_EQ(c->jobs[i].base_name, "matrix");
        EXPECT_EQ(c->jobs[i].checklist, "ci/test.toml");
        EXPECT_EQ(c->jobs[i].junit, "test-results/*.xml");
        EXPECT_EQ(c->jobs[i].pos.line, 21);
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{
                  "matrix[image=host,faults=]", "matrix[image=host,faults=ci/disk-full.toml]",
                  "matrix[image=prod,faults=]", "matrix[image=prod,faults=ci/disk-full.toml]"}));
    EXPECT_EQ(c->jobs[3].image, "host");
    EXPECT_EQ(c->jobs[3].faults, "ci/disk-full.toml");
    EXPECT_EQ(c->jobs[4].image, "prod");
    EXPECT_EQ(c->jobs[4].faults, "");
    EXPECT_EQ(c->default_jobs, (std::vector<std::string>{"test", "lint", "matrix"}));
}

TEST(ParseCiConfig, AMatrixOfOneKeyNamesOnlyThatKey) {
    auto c = parse_ci_config(
        "[job.t]\nchecklist = \"c.toml\"\nfaults = \"f.toml\"\n[job.t.matrix]\n"
        "image = [\"prod\", \"prod-2:abc\"]\n",
        "x.toml");
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->jobs.size(), 2U);
    EXPECT_EQ(c->jobs[0].name, "t[image=prod]");
    EXPECT_EQ(c->jobs[1].name, "t[image=prod-2:abc]");
    EXPECT_EQ(c->jobs[1].image, "prod-2:abc");
    EXPECT_EQ(c->jobs[1].faults, "f.toml");  // the plain key holds in every cell
    c = parse_ci_config("[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nfaults = [\"a.toml\"]\n",
                        "x.toml");
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->jobs.size(), 1U);
    EXPECT_EQ(c->jobs[0].name, "t[faults=a.toml]");
    EXPECT_EQ(c->jobs[0].image, "host");
}

TEST(ParseCiConfig, AcceptsPathsThatOnlyLookOdd) {
    // "a..b" and "./x" stay inside the repository; dotted job names are quoted keys.
    auto c = parse_ci_config(
        "[job.\"build.v2\"]\nchecklist = \"./ci/a..b.toml\"\nartifacts = [\"out/**/*.deb\"]\n",
        "x.toml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->jobs[0].name, "build.v2");
    EXPECT_EQ(c->jobs[0].checklist, "./ci/a..b.toml");
}

struct BadCase {
    const char* text;
    const char* error;
};

TEST(ParseCiConfig, NamesEveryProblemWithItsPosition) {
    const BadCase cases[] = {
        // An empty file has no jobs.
        {"", "f.toml:1:1: no jobs: add a [job.NAME] table"},
        // Comments only: still no jobs.
        {"# nothing yet\n", "f.toml:1:1: no jobs: add a [job.NAME] table"},
        // An empty [job] table has none either; the error points at it.
        {"[job]\n", "f.toml:1:1: no jobs: add a [job.NAME] table"},
        // A misspelt top-level table is named, with the key it most likely meant.
        {"[jobs.test]\nchecklist = \"c.toml\"\n",
         "f.toml:1:2: unknown key 'jobs' in the CI definition (did you mean 'job'?)"},
        // A top-level table far from any known one lists what is allowed.
        {"[ci]\ndefault = [\"t\"]\n[job.t]\nchecklist = \"c.toml\"\n",
         "f.toml:1:2: unknown key 'ci' in the CI definition (expected one of: job)"},
        // A job needs a checklist.
        {"[job.test]\nimage = \"host\"\n",
         "f.toml:1:1: [job.test] needs checklist = \"PATH\" (the checklist file the job runs)"},
        // ...that is not empty.
        {"[job.test]\nchecklist = \"\"\n", "f.toml:2:13: [job.test] checklist must not be empty"},
        // Paths are relative to the repository's root...
        {"[job.test]\nchecklist = \"/etc/ci.toml\"\n",
         "f.toml:2:13: [job.test] checklist '/etc/ci.toml': must be relative to the repository's "
         "root, not absolute"},
        // ...and never leave it, in any path key.
        {"[job.test]\nchecklist = \"c.toml\"\nfaults = \"ci/../../f.toml\"\n",
         "f.toml:3:10: [job.test] faults 'ci/../../f.toml': must stay inside the repository (no "
         "'..')"},
        // A bad artifact glob is named at its own position in the array.
        {"[job.test]\nchecklist = \"c.toml\"\nartifacts = [\"ok/*\", \"../*.deb\"]\n",
         "f.toml:3:22: [job.test] artifacts items '../*.deb': must stay inside the repository "
         "(no '..')"},
        // junit and requirements are paths too.
        {"[job.test]\nchecklist = \"c.toml\"\njunit = \"..\"\nrequirements = \"/r.toml\"\n",
         "f.toml:3:9: [job.test] junit '..': must stay inside the repository (no '..')\n"
         "f.toml:4:16: [job.test] requirements '/r.toml': must be relative to the repository's "
         "root, not absolute"},
        // A NUL byte would cut the path where the system reads it; the message escapes it.
        {"[job.test]\nchecklist = \"c\\u0000.toml\"\n",
         "f.toml:2:13: [job.test] checklist 'c\\x00.toml': must not contain a NUL byte"},
        // A misspelt job key gets the key it most likely meant.
        {"[job.test]\nchecklst = \"c.toml\"\n",
         "f.toml:1:1: [job.test] needs checklist = \"PATH\" (the checklist file the job runs)\n"
         "f.toml:2:1: unknown key 'checklst' in [job.test] (did you mean 'checklist'?)"},
        // Wrong types are named with what was expected.
        {"[job.test]\nchecklist = \"c.toml\"\nimage = 3\nlabels = \"linux\"\n",
         "f.toml:3:9: [job.test] image must be a string, found an integer\n"
         "f.toml:4:10: [job.test] labels must be an array of strings, found a string"},
        // An image is "host" or an image's name or id.
        {"[job.test]\nchecklist = \"c.toml\"\nimage = \"my image\"\n",
         "f.toml:3:9: [job.test] image 'my image': expected \"host\" or the name or id of a "
         "built image (1-128 of A-Z a-z 0-9 _ . - :)"},
        // A newline in a value is shown escaped: it cannot forge a line of the message.
        {"[job.test]\nchecklist = \"c.toml\"\nnetwork = \"a\\nf.toml:9:9: b\"\n",
         "f.toml:3:11: [job.test] network 'a\\nf.toml:9:9: b': expected \"none\" or \"host\""},
        // The same in a job's name, which every message about the job repeats.
        {"[job.\"a\\nb\"]\nchecklist = 1\n",
         "f.toml:1:6: job name 'a\\nb': expected 1-64 of A-Z a-z 0-9 _ . -\n"
         "f.toml:2:13: [job.a\\nb] checklist must be a string, found an integer"},
        // And in an unknown key.
        {"[job.t]\nchecklist = \"c.toml\"\n\"x\\ny\" = 1\n",
         "f.toml:3:1: unknown key 'x\\ny' in [job.t] (expected one of: checklist, image, faults, "
         "requirements, artifacts, junit, labels, network, timeout, params, matrix)"},
        // network is one of two words.
        {"[job.test]\nchecklist = \"c.toml\"\nnetwork = \"bridge\"\n",
         "f.toml:3:11: [job.test] network 'bridge': expected \"none\" or \"host\""},
        // timeout is a duration, with the duration parser's own reason.
        {"[job.test]\nchecklist = \"c.toml\"\ntimeout = \"soon\"\n",
         "f.toml:3:11: [job.test] timeout: invalid duration 'soon' (a number must come first): "
         "expected a duration such as 500ms, 30s, 2m, 1h30m or 1d"},
        // Labels are words.
        {"[job.test]\nchecklist = \"c.toml\"\nlabels = [\"linux\", \"big disk\"]\n",
         "f.toml:3:20: [job.test] labels: 'big disk' is not a label (1-64 of A-Z a-z 0-9 _ . -)"},
        // Params are strings, as on the command line.
        {"[job.test]\nchecklist = \"c.toml\"\n[job.test.params]\nworkers = 4\n",
         "f.toml:4:11: [job.test.params] workers must be a string, found an integer"},
        // params must be a table.
        {"[job.test]\nchecklist = \"c.toml\"\nparams = [\"a=b\"]\n",
         "f.toml:3:10: [job.test.params] must be a table, found an array"},
        // A job is a table.
        {"[job]\ntest = \"c.toml\"\n", "f.toml:2:8: [job.test] must be a table, found a string"},
        // [job] itself is a table.
        {"job = 1\n",
         "f.toml:1:7: [job] must be a table of jobs (write [job.NAME]), found an integer"},
        // [[job]] is an array of tables, not jobs with names.
        {"[[job]]\nchecklist = \"c.toml\"\n",
         "f.toml:1:1: [job] must be a table of jobs (write [job.NAME]), found an array"},
        // Job names are words (they appear in commands and status output).
        {"[job.\"unit tests\"]\nchecklist = \"c.toml\"\n",
         "f.toml:1:6: job name 'unit tests': expected 1-64 of A-Z a-z 0-9 _ . -"},
        // A key both plain and in the matrix is ambiguous.
        {"[job.t]\nchecklist = \"c.toml\"\nimage = \"prod\"\n[job.t.matrix]\nimage = [\"a\", "
         "\"b\"]\n",
         "f.toml:3:9: [job.t] image is also a key of [job.t.matrix]: keep one"},
        // The same for faults.
        {"[job.t]\nchecklist = \"c.toml\"\nfaults = \"\"\n[job.t.matrix]\nfaults = [\"a.toml\"]\n",
         "f.toml:3:10: [job.t] faults is also a key of [job.t.matrix]: keep one"},
        // Only image and faults vary; a near miss is named.
        {"[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nimages = [\"a\"]\n",
         "f.toml:3:1: [job.t.matrix] needs image or faults (or leave the table out)\n"
         "f.toml:4:1: unknown key 'images' in [job.t.matrix] (did you mean 'image'?)"},
        // An axis lists at least one value.
        {"[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nimage = []\n",
         "f.toml:4:9: [job.t.matrix] image must list at least one value"},
        // A value twice would make two jobs of one name.
        {"[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nimage = [\"a\", \"b\", \"a\"]\n",
         "f.toml:4:20: [job.t.matrix] image lists 'a' twice"},
        // Matrix values are checked like the plain keys.
        {"[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nfaults = [\"\", \"/f.toml\"]\n",
         "f.toml:4:15: [job.t.matrix] faults '/f.toml': must be relative to the repository's "
         "root, not absolute"},
        // An axis is an array of strings.
        {"[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nimage = \"prod\"\n",
         "f.toml:4:9: [job.t.matrix] image must be an array of strings, found a string"},
        // Not TOML at all: toml++'s reason with its position.
        {"[job.t\nchecklist = 1\n",
         "f.toml:1:7: invalid TOML: Error while parsing table header: expected ']', saw '\\n'"},
        // Several problems at once, in file order, across jobs.
        {"[job.b]\nchecklist = \"/b.toml\"\n[job.a]\ntimeout = \"1x\"\n",
         "f.toml:2:13: [job.b] checklist '/b.toml': must be relative to the repository's root, "
         "not absolute\n"
         "f.toml:3:1: [job.a] needs checklist = \"PATH\" (the checklist file the job runs)\n"
         "f.toml:4:11: [job.a] timeout: invalid duration '1x' (unknown unit 'x'): expected a "
         "duration such as 500ms, 30s, 2m, 1h30m or 1d"},
    };
    for (const auto& c : cases) {
        auto r = parse_ci_config(c.text, "f.toml");
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code(), Errc::invalid_definition);
        EXPECT_EQ(r.error().message(), c.error) << "input:\n" << c.text;
    }
}

TEST(ParseCiConfig, AMatrixHasAtMost64Cells) {
    std::string text = "[job.t]\nchecklist = \"c.toml\"\n[job.t.matrix]\nimage = [";
    for (int i = 0; i < 13; ++i) {
        text += "\"i" + std::to_string(i) + "\", ";
    }
    text += "]\nfaults = [\"\", \"a\", \"b\", \"c\", \"d\"]\n";
    auto r = parse_ci_config(text, "f.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              "f.toml:3:1: [job.t.matrix] makes 65 jobs; at most 64 are allowed");
    // 64 is fine.
    text.replace(text.find("\"i12\", "), 7, "");
    text.replace(text.find("\"d\""), 3, "\"d\", \"e\"");
    text.replace(text.find("\"i11\", "), 7, "");
    text.replace(text.find("\"i10\", "), 7, "");
    text.replace(text.find("\"i9\", "), 6, "");
    text.replace(text.find("\"i8\", "), 6, "");
    text.replace(text.find("\"e\""), 3, "\"e\", \"f\", \"g\"");
    auto ok = parse_ci_config(text, "f.toml");
    ASSERT_TRUE(ok) << ok.error().message() << "\n" << text;
    EXPECT_EQ(ok->jobs.size(), 64U);
}

Config example() {
    auto c = parse_ci_config(k_example, ".shipshape-ci.toml");
    EXPECT_TRUE(c);
    return *c;
}

std::vector<std::string> names_of(const Result<std::vector<Job>>& jobs) {
    std::vector<std::string> out;
    for (const auto& j : *jobs) {
        out.push_back(j.name);
    }
    return out;
}

TEST(SelectJobs, PicksByNameOrBaseNameInFileOrder) {
    const Config c = example();
    using Names = std::vector<std::string>;
    struct Row {
        Names asked;
        Names picked;
    };
    const Row rows[] = {
        // No names: the default jobs, which are every job with all its cells.
        {{},
         {"test", "lint", "matrix[image=host,faults=]",
          "matrix[image=host,faults=ci/disk-full.toml]", "matrix[image=prod,faults=]",
          "matrix[image=prod,faults=ci/disk-full.toml]"}},
        // A plain name picks that job.
        {{"lint"}, {"lint"}},
        // A base name picks all its cells.
        {{"matrix"},
         {"matrix[image=host,faults=]", "matrix[image=host,faults=ci/disk-full.toml]",
          "matrix[image=prod,faults=]", "matrix[image=prod,faults=ci/disk-full.toml]"}},
        // A cell's name picks that cell alone.
        {{"matrix[image=prod,faults=]"}, {"matrix[image=prod,faults=]"}},
        // The file's order, whatever the order asked; each job once.
        {{"lint", "test", "lint", "matrix[image=prod,faults=]", "matrix"},
         {"test", "lint", "matrix[image=host,faults=]",
          "matrix[image=host,faults=ci/disk-full.toml]", "matrix[image=prod,faults=]",
          "matrix[image=prod,faults=ci/disk-full.toml]"}},
    };
    for (const auto& row : rows) {
        auto jobs = select_jobs(c, row.asked);
        ASSERT_TRUE(jobs) << jobs.error().message();
        EXPECT_EQ(names_of(jobs), row.picked);
    }
}

TEST(SelectJobs, AnUnknownNameIsNotFoundWithTheKnownOnes) {
    const Config c = example();
    auto r = select_jobs(c, {"lint", "tset"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_EQ(r.error().message(),
              "no job 'tset' in .shipshape-ci.toml (did you mean 'test'?); its jobs: test, lint, "
              "matrix, matrix[image=host,faults=], matrix[image=host,faults=ci/disk-full.toml], "
              "matrix[image=prod,faults=], matrix[image=prod,faults=ci/disk-full.toml]");
    r = select_jobs(c, {"deploy"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().find("no job 'deploy' in .shipshape-ci.toml; its jobs: test, "),
              0U)
        << r.error().message();
}

// Every line of a failure names the file and a position.
void expect_positioned(const Result<Config>& r, const std::string& text) {
    if (r) {
        return;
    }
    ASSERT_EQ(r.error().code(), Errc::invalid_definition);
    static const std::regex k_line(R"(f\.toml:[0-9]+:[0-9]+: .+)");
    std::string message = r.error().message();
    size_t start = 0;
    while (start <= message.size()) {
        size_t end = message.find('\n', start);
        std::string line = message.substr(start, end - start);
        ASSERT_TRUE(std::regex_match(line, k_line)) << line << "\ninput:\n" << text;
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
}

// Fuzz-ish: every prefix of the example, every byte replaced by a few troublesome ones, and
// seeded random edits give a config or a positioned invalid_definition, never a crash.
TEST(ParseCiConfig, TruncatedFlippedOrMutatedFilesNeverCrash) {
    const std::string text = k_example;
    for (size_t n = 0; n <= text.size(); ++n) {
        std::string prefix = text.substr(0, n);
        expect_positioned(parse_ci_config(prefix, "f.toml"), prefix);
    }
    const char flips[] = {'"', '[', ']', '=', '\n', '\\', '\0', '.', '#', '\xff'};
    for (size_t i = 0; i < text.size(); ++i) {
        for (char f : flips) {
            std::string t = text;
            t[i] = f;
            expect_positioned(parse_ci_config(t, "f.toml"), t);
        }
    }
    testing::Mutator mutator(19);
    for (int i = 0; i < 3000; ++i) {
        std::string t = mutator.mutate(text);
        expect_positioned(parse_ci_config(t, "f.toml"), t);
    }
}

}  // namespace
}  // namespace shipshape::ci
