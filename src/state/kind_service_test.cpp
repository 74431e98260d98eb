// [[package]] deb = "..." and [[service]]: parsing, loading, planning and the commands apply runs,
// with FakeProcessRunner standing in for dpkg-deb, systemctl and apt-get (the real tools are
// exercised by tests/e2e/test_package_state.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "os/fake_process.hpp"
#include "state/apply.hpp"
#include "state/load.hpp"
#include "state/plan.hpp"

namespace shipshape::state {
namespace {

namespace fs = std::filesystem;

std::string first_error(const std::string& text) {
    Diagnostics diags;
    parse_state(text, "s.toml", diags);
    return diags.empty() ? std::string() : format_diagnostic(diags.items().front());
}

TEST(ParseServiceAndDeb, RejectsBadDefinitionsWithPositions) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // deb and version both: the version is the .deb's own.
        {"[[package]]\ndeb = \"a/b_1_all.deb\"\nversion = \"1\"\n",
         "s.toml:3:11: [[package]] takes 'deb' or 'version', not both (the version is the .deb's "
         "own)"},
        // a deb path must stay inside the ops repo.
        {"[[package]]\ndeb = \"../b_1_all.deb\"\n",
         "s.toml:2:7: [[package]] 'deb' must be a path inside the ops repo, found "
         "\"../b_1_all.deb\""},
        // and name a .deb.
        {"[[package]]\ndeb = \"artifacts/booking.tar\"\n",
         "s.toml:2:7: [[package]] 'deb' must name a .deb file, found \"artifacts/booking.tar\""},
        // without deb, name stays required.
        {"[[package]]\nversion = \"1\"\n", "s.toml:1:1: [[package]] needs 'name'"},
        // a unit name needs a unit type suffix.
        {"[[service]]\nname = \"booking\"\nenabled = true\n",
         "s.toml:2:8: [[service]] 'name': \"booking\" is not a systemd unit name (like "
         "\"booking.service\": letters, digits and : _ . @ - \\, with a unit type suffix)"},
        // a service that declares nothing would never change anything.
        {"[[service]]\nname = \"a.service\"\n",
         "s.toml:1:1: [[service]] needs 'enabled', 'running' or 'restart_on'"},
        // booleans are booleans.
        {"[[service]]\nname = \"a.service\"\nrunning = \"yes\"\n",
         "s.toml:3:11: [[service]] 'running' must be true or false, found a string"},
        // restart_on is a list of resource names.
        {"[[service]]\nname = \"a.service\"\nrestart_on = \"file /x\"\n",
         "s.toml:3:14: [[service]] 'restart_on' must be an array of strings, found a string"},
        {"[[service]]\nname = \"a.service\"\nstate = \"up\"\n",
         "s.toml:3:1: unknown key 'state' in [[service]] (expected one of: name, enabled, running, "
         "restart_on)"},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(first_error(row.text), row.message) << row.text;
    }
}

TEST(ParseServiceAndDeb, ReadsAServiceAndADebPackage) {
    Diagnostics diags;
    auto rs = parse_state(
        "[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n\n[[service]]\nname = "
        "\"booking.service\"\nenabled = true\nrunning = false\nrestart_on = [\"package "
        "booking\"]\n",
        "s.toml", diags);
    ASSERT_TRUE(diags.empty()) << diags.to_error().message();
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[0].deb, "artifacts/booking_1.4.3_amd64.deb");
    EXPECT_EQ(rs[0].name, "");
    EXPECT_EQ(rs[1].kind, Kind::service);
    EXPECT_EQ(rs[1].enabled, true);
    EXPECT_EQ(rs[1].running, false);
    EXPECT_EQ(rs[1].restart_on, std::vector<std::string>{"package booking"});
}

TEST(ParseDebFields, ReadsPackageVersionAndArchitecture) {
    struct Row {
        const char* text;
        DebFields want;
    };
    const Row rows[] = {
        // dpkg-deb --field with several fields prints "Name: value" lines.
        {"Package: booking\nVersion: 1:1.4.3-1\nArchitecture: amd64\n",
         {"booking", "1:1.4.3-1", "amd64"}},
        // order and unknown fields do not matter; values are trimmed.
        {"Version:  2.0 \nDepends: libc6\nPackage: x\n", {"x", "2.0", ""}},
        // continuation lines are skipped.
        {"Package: y\n Package: z\nVersion: 1\n", {"y", "1", ""}},
        // nothing at all.
        {"", {"", "", ""}},
    };
    for (const auto& row : rows) {
        DebFields got = parse_deb_fields(row.text);
        EXPECT_EQ(got.package, row.want.package) << row.text;
        EXPECT_EQ(got.version, row.want.version) << row.text;
        EXPECT_EQ(got.architecture, row.want.architecture) << row.text;
    }
}

class DebAndServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        m_base = fs::temp_directory_path() /
                 ("shipshape-svc-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_base);
        fs::create_directories(m_base / "repo/states");
        write("repo/artifacts/booking_1.4.3_amd64.deb", "!<arch>\n(the fake reads no byte)");
        write("init-systemd", "systemd\n");
        write("init-other", "process_api\n");
    }
    void TearDown() override { fs::remove_all(m_base); }

    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((m_base / rel).parent_path());
        std::ofstream(m_base / rel, std::ios::binary | std::ios::trunc) << text;
    }
    std::string repo() const { return (m_base / "repo").string(); }

    Result<DesiredState> load(const std::string& text) {
        write("repo/states/s.toml", text);
        LoadOptions o;
        o.repo_root = repo();
        o.accounts.any = false;
        o.runner = m_fake.get();
        return load_state({"states/s.toml"}, o);
    }
    Plan plan(const DesiredState& s, const std::string& root = "/",
              const std::string& init = "init-systemd") {
        PlanOptions o;
        o.root = root;
        o.source_root = repo();
        o.runner = m_fake.get();
        o.init_comm_path = (m_base / init).string();
        auto p = make_plan(s.resources, o);
        EXPECT_TRUE(p) << p.error().message();
        return p ? std::move(*p) : Plan{};
    }
    ApplyReport apply(const DesiredState& s, const Plan& p) {
        ApplyOptions o;
        o.root = p.root;
        o.repo_root = repo();
        o.runner = m_fake.get();
        o.sync = SyncMode::none;
        return apply_plan(p, s.resources, o);
    }
    // The argv of every systemctl/apt-get call since `from`, joined.
    std::vector<std::string> calls(size_t from = 0) const {
        std::vector<std::string> out;
        auto specs = m_fake->specs();
        for (size_t i = from; i < specs.size(); ++i) {
            std::string line;
            for (const auto& a : specs[i].argv) {
                line += (line.empty() ? "" : " ") + a;
            }
            out.push_back(line);
        }
        return out;
    }
    void fields(const std::string& package, const std::string& version) {
        m_fake->add(os::FakeScript("dpkg-deb --field")
                        .prints("Package: " + package + "\nVersion: " + version +
                                "\nArchitecture: amd64\n"));
    }
    void systemd(const std::string& enabled, const std::string& active) {
        m_fake->add(os::FakeScript("is-system-running").prints("running\n"));
        m_fake->add(os::FakeScript("is-enabled")
                        .prints(enabled + "\n")
                        .exits(enabled == "enabled" ? 0 : 1));
        m_fake->add(
            os::FakeScript("is-active").prints(active + "\n").exits(active == "active" ? 0 : 3));
        m_fake->add(os::FakeScript("systemctl"));
        m_fake->add(os::FakeScript("apt-get"));
    }

    fs::path m_base;
    std::unique_ptr<os::FakeProcessRunner> m_fake = std::make_unique<os::FakeProcessRunner>();
};

TEST_F(DebAndServiceTest, ADebGivesItsNameAndVersion) {
    fields("booking", "1.4.3");
    auto s = load("[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->resources[0].name, "booking");
    EXPECT_EQ(s->resources[0].version, "1.4.3");
    EXPECT_EQ(calls(), std::vector<std::string>{
                           "dpkg-deb --field artifacts/booking_1.4.3_amd64.deb Package Version "
                           "Architecture"});
}

TEST_F(DebAndServiceTest, BadDebsAreErrorsAtTheirKeys) {
    struct Row {
        const char* text;
        const char* fake_out;  // nullptr: dpkg-deb fails
        const char* message;
    };
    const Row rows[] = {
        // a missing file, named as written.
        {"[[package]]\ndeb = \"artifacts/gone_1_all.deb\"\n", "Package: gone\nVersion: 1\n",
         "states/s.toml:2:7: [[package]] deb \"artifacts/gone_1_all.deb\" cannot be read (No such "
         "file or directory); it is relative to the ops repo"},
        // a name that the .deb contradicts.
        {"[[package]]\nname = \"nginx\"\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n",
         "Package: booking\nVersion: 1.4.3\n",
         "states/s.toml:2:8: [[package]] 'name' \"nginx\" does not match the package in "
         "artifacts/booking_1.4.3_amd64.deb (\"booking\"); leave 'name' out or fix it"},
        // not a Debian archive: dpkg-deb's complaint.
        {"[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n", nullptr,
         "states/s.toml:2:7: [[package]] deb \"artifacts/booking_1.4.3_amd64.deb\" is not a Debian "
         "package: dpkg-deb: error: 'artifacts/booking_1.4.3_amd64.deb' is not a Debian format "
         "archive"},
        // a control file without a Version.
        {"[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n", "Package: booking\n",
         "states/s.toml:2:7: [[package]] deb \"artifacts/booking_1.4.3_amd64.deb\" has no Package "
         "or Version field in its control file"},
        // two .debs of one package are duplicates, found once both names are known.
        {"[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n[[package]]\nname = "
         "\"booking\"\n",
         "Package: booking\nVersion: 1.4.3\n",
         "states/s.toml:3:1: duplicate package booking: already declared at states/s.toml:1"},
    };
    for (const auto& row : rows) {
        m_fake = std::make_unique<os::FakeProcessRunner>();
        if (row.fake_out) {
            m_fake->add(os::FakeScript("dpkg-deb").prints(row.fake_out));
        } else {
            m_fake->add(os::FakeScript("dpkg-deb")
                            .says("dpkg-deb: error: 'artifacts/booking_1.4.3_amd64.deb' is not a "
                                  "Debian format archive\n")
                            .exits(2));
        }
        auto s = load(row.text);
        ASSERT_FALSE(s) << row.text;
        EXPECT_EQ(s.error().message(), row.message) << row.text;
    }
}

TEST_F(DebAndServiceTest, PlansTheDebAgainstTheInstalledVersion) {
    write("root/var/lib/dpkg/status",
          "Package: booking\nStatus: install ok installed\nVersion: 1.4.2\n\n");
    write("root/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    fields("booking", "1.4.3");
    auto s = load("[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s, (m_base / "root").string());
    ASSERT_EQ(p.changes.size(), 1u);
    EXPECT_EQ(p.changes[0].action, Action::change);
    EXPECT_EQ(
        p.changes[0].details,
        (std::vector<std::string>{"1.4.2 \u2192 1.4.3", "artifacts/booking_1.4.3_amd64.deb"}));
    EXPECT_EQ(p.changes[0].argv,
              std::vector<std::string>{repo() + "/artifacts/booking_1.4.3_amd64.deb"});
    // Under --root apt cannot act: apply reports it failed and runs nothing.
    size_t before = m_fake->specs().size();
    auto report = apply(*s, p);
    EXPECT_EQ(report.failed, 1u);
    EXPECT_EQ(calls(before), std::vector<std::string>{});
    // The same version installed: nothing to do.
    write("root/var/lib/dpkg/status",
          "Package: booking\nStatus: install ok installed\nVersion: 1.4.3\n\n");
    EXPECT_TRUE(plan(*s, (m_base / "root").string()).empty());
}

TEST_F(DebAndServiceTest, AppliesADebWithAptGetByItsPath) {
    // On this machine (where the package is not installed), through the fake apt-get.
    fields("shipshape-unit-test-not-installed", "1.0");
    m_fake->add(os::FakeScript("apt-get"));
    auto s = load("[[package]]\ndeb = \"artifacts/booking_1.4.3_amd64.deb\"\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s);
    ASSERT_EQ(p.changes.size(), 1u);
    EXPECT_EQ(p.changes[0].details,
              (std::vector<std::string>{"1.0", "artifacts/booking_1.4.3_amd64.deb"}));
    size_t before = m_fake->specs().size();
    auto report = apply(*s, p);
    EXPECT_EQ(report.failed, 0u);
    EXPECT_EQ(calls(before),
              std::vector<std::string>{
                  "apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends "
                  "--allow-downgrades " +
                  repo() + "/artifacts/booking_1.4.3_amd64.deb"});
}

TEST_F(DebAndServiceTest, WithoutSystemdAsInitServicesAreUnsupported) {
    auto s = load("[[service]]\nname = \"booking.service\"\nenabled = true\n");
    ASSERT_TRUE(s) << s.error().message();
    struct Row {
        std::string init;     // the file PID 1's name is read from
        std::string running;  // what systemctl is-system-running prints
        std::string root;
        std::string error;
    };
    const Row rows[] = {
        // a container: PID 1 is something else.
        {"init-other", "", "/",
         "this host's init (PID 1) is \"process_api\", not systemd: services are managed through "
         "systemd only"},
        // systemd installed but not running as init.
        {"init-systemd", "offline", "/",
         "systemctl is-system-running says offline: systemd is not running as init here"},
        // an image root: systemctl acts on the running system.
        {"init-systemd", "running", (m_base / "repo").string(),
         "services cannot be managed under --root " + (m_base / "repo").string() +
             ": systemctl acts on the running system"},
    };
    for (const auto& row : rows) {
        m_fake = std::make_unique<os::FakeProcessRunner>();
        m_fake->add(os::FakeScript("is-system-running").prints(row.running + "\n").exits(1));
        Plan p = plan(*s, row.root, row.init);
        ASSERT_EQ(p.changes.size(), 1u) << row.error;
        EXPECT_TRUE(p.changes[0].unsupported);
        EXPECT_EQ(p.changes[0].error, row.error);
        EXPECT_EQ(p.unsupported, 1u);
        EXPECT_EQ(p.errors, 1u);
        // Apply reports it failed and runs no systemctl.
        size_t before = m_fake->specs().size();
        EXPECT_EQ(apply(*s, p).failed, 1u);
        EXPECT_EQ(calls(before), std::vector<std::string>{});
    }
}

TEST_F(DebAndServiceTest, EnablesAndStartsAStoppedUnit) {
    systemd("disabled", "inactive");
    auto s = load("[[service]]\nname = \"booking.service\"\nenabled = true\nrunning = true\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s);
    ASSERT_EQ(p.changes.size(), 2u);
    EXPECT_EQ(p.changes[0].details, std::vector<std::string>{"enable (now disabled)"});
    EXPECT_EQ(p.changes[1].details, std::vector<std::string>{"start (now inactive)"});
    size_t before = m_fake->specs().size();
    EXPECT_EQ(apply(*s, p).failed, 0u);
    EXPECT_EQ(calls(before), (std::vector<std::string>{"systemctl enable booking.service",
                                                       "systemctl start booking.service"}));
}

TEST_F(DebAndServiceTest, AMatchingUnitHasNoChanges) {
    systemd("enabled", "active");
    auto s = load("[[service]]\nname = \"booking.service\"\nenabled = true\nrunning = true\n");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_TRUE(plan(*s).empty());
    systemd("enabled", "active");
    auto stop = load("[[service]]\nname = \"booking.service\"\nenabled = false\nrunning = false\n");
    ASSERT_TRUE(stop) << stop.error().message();
    Plan p = plan(*stop);
    ASSERT_EQ(p.changes.size(), 2u);
    EXPECT_EQ(p.changes[0].argv,
              (std::vector<std::string>{"systemctl", "disable", "booking.service"}));
    EXPECT_EQ(p.changes[1].argv,
              (std::vector<std::string>{"systemctl", "stop", "booking.service"}));
}

TEST_F(DebAndServiceTest, RestartsOnceAfterEveryChangeItNames) {
    const std::string dir = (m_base / "etc").string();
    systemd("enabled", "active");
    fields("shipshape-unit-test-not-installed", "1.0");
    auto s = load("[[service]]\nname = \"booking.service\"\nrunning = true\nrestart_on = [\"file " +
                  dir + "/a.conf\", \"file " + dir + "/b.conf\", \"package " +
                  "shipshape-unit-test-not-installed\"]\n\n[[file]]\npath = \"" + dir +
                  "/a.conf\"\ncontent = \"a\"\n\n[[file]]\npath = \"" + dir +
                  "/b.conf\"\ncontent = \"b\"\n\n[[package]]\ndeb = "
                  "\"artifacts/booking_1.4.3_amd64.deb\"\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s);
    ASSERT_EQ(p.changes.size(), 4u);
    EXPECT_EQ(p.changes[3].action, Action::run);
    EXPECT_EQ(p.changes[3].details,
              std::vector<std::string>{"restart: package shipshape-unit-test-not-installed, file " +
                                       dir + "/a.conf, file " + dir + "/b.conf changes"});
    size_t before = m_fake->specs().size();
    auto report = apply(*s, p);
    EXPECT_EQ(report.failed, 0u);
    // apt first, then the files (no process), then one restart.
    auto after = calls(before);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].rfind("apt-get install", 0), 0u);
    EXPECT_EQ(after[1], "systemctl restart booking.service");
    std::ifstream in(dir + "/b.conf");
    EXPECT_TRUE(in.good());
}

TEST_F(DebAndServiceTest, NoRestartWhenNothingItNamesWasApplied) {
    const std::string dir = (m_base / "etc").string();
    write("etc/a.conf/inside", "a directory where the file should be");
    systemd("enabled", "active");
    auto s = load("[[file]]\npath = \"" + dir +
                  "/a.conf\"\ncontent = \"a\"\n\n[[service]]\nname = \"booking.service\"\n"
                  "restart_on = [\"file " +
                  dir + "/a.conf\"]\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s);
    ASSERT_EQ(p.changes.size(), 2u);
    size_t before = m_fake->specs().size();
    auto report = apply(*s, p);
    EXPECT_FALSE(report.results[1].ok);
    EXPECT_EQ(report.results[1].error,
              "not restarted: none of the changes it restarts on was applied");
    EXPECT_EQ(calls(before), std::vector<std::string>{});
}

TEST_F(DebAndServiceTest, AChangedUnitFileIsReloadedFirst) {
    systemd("not-found", "inactive");
    auto s = load(
        "[[file]]\npath = \"/etc/systemd/system/shipshape-unit-test-none.service\"\n"
        "content = \"[Service]\\nExecStart=/bin/true\\n\"\n\n[[service]]\nname = "
        "\"shipshape-unit-test-none.service\"\nrunning = true\n");
    ASSERT_TRUE(s) << s.error().message();
    Plan p = plan(*s);  // planned only: nothing is written to /etc
    ASSERT_EQ(p.changes.size(), 3u);
    EXPECT_EQ(p.changes[1].argv, (std::vector<std::string>{"systemctl", "daemon-reload"}));
    EXPECT_EQ(p.changes[1].details,
              std::vector<std::string>{
                  "daemon-reload: /etc/systemd/system/shipshape-unit-test-none.service changes"});
    EXPECT_EQ(p.changes[2].details,
              (std::vector<std::string>{"start (now inactive)", "unit not loaded yet"}));
}

TEST_F(DebAndServiceTest, RestartOnMustNameAResourceOfTheState) {
    auto s =
        load("[[service]]\nname = \"booking.service\"\nrestart_on = [\"file /etc/nope.conf\"]\n");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message(),
              "states/s.toml:3:14: restart_on names \"file /etc/nope.conf\", which no resource of "
              "the state declares (name one as plan shows it: \"file /etc/booking/app.conf\", "
              "\"package booking\")");
}

}  // namespace
}  // namespace shipshape::state
