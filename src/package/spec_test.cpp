#include "package/spec.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "package/build.hpp"

namespace shipshape::package {
namespace {

namespace fs = std::filesystem;

// A spec directory with a few sources and an empty output directory beside it.
struct SpecDir {
    std::string root;
    std::string dir;
    std::string out;
    SpecDir() {
        std::string tmpl = (fs::temp_directory_path() / "spec_test.XXXXXX").string();
        root = ::mkdtemp(tmpl.data());
        dir = root + "/spec";
        out = root + "/out";
        fs::create_directories(dir + "/bin");
        fs::create_directories(dir + "/conf");
        fs::create_directories(out);
        write(dir + "/bin/app", "#!/bin/sh\necho app\n");
        ::chmod((dir + "/bin/app").c_str(), 0755);
        write(dir + "/conf/app.conf", "port = 1\n");
        write(root + "/secret", "outside\n");
        fs::create_symlink(root + "/secret", dir + "/leak");
        fs::create_symlink("../../secret", dir + "/bin/leak2");
    }
    ~SpecDir() { fs::remove_all(root); }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path, std::ios::binary) << text;
    }
    // Writes spec.toml = `head` + `body` and builds it into `out`.
    Result<BuildResult> build(const std::string& text,
                              std::vector<std::pair<std::string, std::string>> params = {}) {
        write(dir + "/spec.toml", text);
        auto spec = load_package_spec(dir + "/spec.toml", params);
        if (!spec) {
            return fail(spec.error());
        }
        BuildOptions o;
        o.out_dir = out;
        o.source_date_epoch = 1700000000;
        return build_package(*spec, o);
    }
    bool out_empty() const { return fs::is_empty(out); }
};

const std::string k_head =
    "name = \"app\"\n"                            // line 1
    "version = \"1.0\"\n"                         // line 2
    "architecture = \"amd64\"\n"                  // line 3
    "maintainer = \"Team <team@example.org>\"\n"  // line 4
    "description = \"an app\"\n";                 // line 5
const std::string k_app_file = "[[files]]\nsource = \"bin/app\"\ndestination = \"usr/bin/app\"\n";

struct BadSpec {
    const char* what;
    std::string body;      // after k_head (which is 5 lines)
    std::string expected;  // a part of the error message, with its position
};

TEST(PackageSpecTest, BadSpecsNameTheirPositionAndWriteNothing) {
    const BadSpec rows[] = {
        // An absolute destination would write outside the package root's convention.
        {"absolute destination",
         "[[files]]\nsource = \"bin/app\"\ndestination = \"/usr/bin/app\"\n",
         "spec.toml:8:15: [[files]] 'destination' \"/usr/bin/app\" must be relative to the "
         "package root"},
        // '..' in a destination could climb out of the root.
        {"dotdot destination",
         "[[files]]\nsource = \"bin/app\"\ndestination = \"usr/../../etc/x\"\n",
         "spec.toml:8:15: [[files]] 'destination' \"usr/../../etc/x\" must not have '..' parts"},
        // A source naming a path above the spec's directory.
        {"source with ..", "[[files]]\nsource = \"../secret\"\ndestination = \"usr/x\"\n",
         "spec.toml:7:10: [[files]] 'source' \"../secret\" escapes the spec's directory"},
        // A source that is a symlink resolving outside the spec's directory.
        {"source symlink escapes", "[[files]]\nsource = \"leak\"\ndestination = \"usr/x\"\n",
         "spec.toml:6:1: [[files]] source 'leak' escapes the spec's directory (it resolves to"},
        // A symlink deeper in the spec's directory pointing out of it.
        {"source through symlinked dir",
         "[[files]]\nsource = \"bin/leak2\"\ndestination = \"usr/x\"\n",
         "spec.toml:6:1: [[files]] source 'bin/leak2' escapes the spec's directory"},
        // A missing source.
        {"missing source", "[[files]]\nsource = \"bin/nope\"\ndestination = \"usr/bin/nope\"\n",
         "spec.toml:6:1: [[files]] source 'bin/nope' does not exist"},
        // A glob that matches nothing is a missing source too.
        {"glob matches nothing", "[[files]]\nsource = \"conf/*.ini\"\ndestination = \"etc/app/\"\n",
         "spec.toml:6:1: [[files]] source 'conf/*.ini' matches nothing"},
        // Two mappings to one destination.
        {"duplicate destination",
         k_app_file + "[[files]]\nsource = \"conf/app.conf\"\ndestination = \"usr/bin/app\"\n",
         "spec.toml:9:1: destination '/usr/bin/app' is already in the package (from "},
        // A file where another mapping needs a directory.
        {"file over a directory",
         k_app_file + "[[files]]\nsource = \"conf/app.conf\"\ndestination = \"usr/bin/app/x\"\n",
         "needs '/usr/bin/app' to be a directory, but it is given as a file"},
        // A conffile outside /etc.
        {"conffile outside /etc", "conffiles = [\"/usr/bin/app\"]\n" + k_app_file,
         "spec.toml:6:14: conffile \"/usr/bin/app\" must be an absolute path under /etc"},
        // A relative conffile.
        {"relative conffile", "conffiles = [\"etc/app.conf\"]\n" + k_app_file,
         "spec.toml:6:14: conffile \"etc/app.conf\" must be an absolute path under /etc"},
        // A conffile the package does not ship.
        {"conffile not shipped", "conffiles = [\"/etc/app/app.conf\"]\n" + k_app_file,
         "spec.toml:6:14: conffile '/etc/app/app.conf' is not a file in the package"},
        // A conffile that is a directory of the package.
        {"conffile is a directory",
         "conffiles = [\"/etc/app\"]\n[[files]]\nsource = \"conf/app.conf\"\n"
         "destination = \"etc/app/app.conf\"\n",
         "conffile '/etc/app' is not a file in the package (it is a directory)"},
        // An invalid version (Policy 5.6.12: it must start with a digit).
        {"invalid version", "", ""},
        // A relation with an unknown operator.
        {"invalid relation operator", "depends = [\"libc6 (> 2.36)\"]\n",
         "spec.toml:6:12: depends relation \"libc6 (> 2.36)\" needs an operator <<, <=, =, >= "
         "or >>"},
        // A relation naming an invalid package.
        {"invalid relation name", "depends = [\"Libc6\"]\n",
         "spec.toml:6:12: depends relation \"Libc6\" names the package 'Libc6', which must "
         "start with a lower-case letter or a digit"},
        // A relation whose version is invalid.
        {"invalid relation version", "breaks = [\"old (<< x1)\"]\n",
         "spec.toml:6:11: breaks relation \"old (<< x1)\" has the version 'x1', which must "
         "start with a digit"},
        // An unknown key, with the key it most likely meant.
        {"unknown key", "depend = [\"libc6\"]\n",
         "spec.toml:6:1: unknown key 'depend' in the spec (did you mean 'depends'?)"},
        // A template without its --set parameter.
        {"missing parameter", "homepage = \"{{url}}\"\n", "spec.toml:6:12: 'homepage': "},
        // A symlink whose relative target climbs above the root.
        {"link escapes root", "[[links]]\npath = \"usr/x\"\ntarget = \"../../../etc/passwd\"\n",
         "spec.toml:6:1: symlink '/usr/x' -> '../../../etc/passwd' escapes the package root"},
        // A maintainer script that is not one.
        {"unknown script", "[scripts]\npostins = \"#!/bin/sh\\n\"\n",
         "spec.toml:7:1: unknown maintainer script 'postins' in [scripts] (did you mean "
         "'postinst'?)"},
        // A script file outside the spec's directory.
        {"script file escapes", "[scripts]\npostinst = { file = \"../secret\" }\n",
         "spec.toml:7:21: script 'postinst' file '../secret' escapes the spec's directory"},
        // Embedded requirements that are not valid.
        {"bad requirements", "requirements = \"conf/app.conf\"\n",
         "spec.toml:6:16: requirements 'conf/app.conf' is not valid:"},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.what);
        SpecDir d;
        std::string text = k_head + row.body;
        std::string expected = row.expected;
        if (std::string(row.what) == "invalid version") {
            text =
                "name = \"app\"\nversion = \"v1.0\"\narchitecture = \"amd64\"\n"
                "maintainer = \"Team <team@example.org>\"\ndescription = \"an app\"\n";
            expected = "spec.toml:2:11: 'version' \"v1.0\" must start with a digit";
        }
        auto r = d.build(text);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), Errc::invalid_definition);
        EXPECT_NE(r.error().message().find(expected), std::string::npos) << r.error().message();
        EXPECT_TRUE(d.out_empty());
    }
}

TEST(PackageSpecTest, VersionRule) {
    // Each row: a version and whether Policy 5.6.12 allows it.
    const std::pair<const char*, bool> rows[] = {
        {"1.0", true},           // plain upstream
        {"1:2.0-1", true},       // epoch and revision
        {"2.0~rc1-0+b1", true},  // tilde and plus
        {"1.0-1-2", true},       // a '-' in upstream when there is a revision
        {"", false},             // empty
        {"a1.0", false},         // upstream must start with a digit
        {"x:1.0", false},        // epoch must be a number
        {"1.0-", false},         // empty revision
        {"1.0_2", false},        // '_' is not allowed
        {"1:0:1", true},         // ':' in upstream when there is an epoch
        {"1.0:1", false},        // ':' without an epoch
    };
    for (auto [v, ok] : rows) {
        EXPECT_EQ(version_rule(v).empty(), ok) << v << ": " << version_rule(v);
    }
}

TEST(PackageSpecTest, RelationRule) {
    const std::pair<const char*, bool> rows[] = {
        {"libc6", true},                             // a name alone
        {"libc6 (>= 2.36)", true},                   // with a version
        {"libc6:any (>= 2.36) | musl", true},        // arch qualifier and alternatives
        {"python3:native", true},                    // another qualifier
        {"aa (<< 1) | bb (>> 2) | cc (= 3)", true},  // all the operators
        {"xx (<= 1:2.0-1)", true},                   // epochs and revisions
        {"libc6 (> 2)", false},                      // '>' is not an operator in control files
        {"libc6 (>= 2", false},                      // unclosed
        {"libc6 [amd64]", false},                    // architecture restrictions: source only
        {"libc6 |", false},                          // empty alternative
        {"LibC", false},                             // upper case
        {"libc6 junk", false},                       // trailing text
        {"libc6:", false},                           // empty qualifier
    };
    for (auto [r, ok] : rows) {
        EXPECT_EQ(relation_rule(r, false).empty(), ok) << r << ": " << relation_rule(r, false);
    }
    EXPECT_EQ(relation_rule("mta (>= 1)", true), "may only use '=' in Provides, found '>='");
    EXPECT_EQ(relation_rule("a | b", true), "may not have alternatives ('|') in Provides");
}

TEST(PackageSpecTest, TemplatesAndSplitRelations) {
    SpecDir d;
    auto r = d.build(
        "name = \"app\"\nversion = \"{{version}}\"\narchitecture = \"amd64\"\n"
        "maintainer = \"Team <team@example.org>\"\ndescription = \"an app\"\n"
        "depends = [\"{{shlibs}}\", \"adduser\"]\n" +
            k_app_file,
        {{"version", "1:2.0-1"}, {"shlibs", "libc6 (>= 2.34), libsqlite3-0 (>= 3.7.15)"}});
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->deb_path, d.out + "/app_2.0-1_amd64.deb");
    EXPECT_EQ(r->manifest.version, "1:2.0-1");
    EXPECT_EQ(r->manifest.field("Depends"), "libc6 (>= 2.34), libsqlite3-0 (>= 3.7.15), adduser");
    EXPECT_EQ(r->manifest.relations.at("Depends").size(), 3U);
}

}  // namespace
}  // namespace shipshape::package
