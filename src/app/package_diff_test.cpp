// The installed sides of `package diff` with a fake reader, and B's requirements checked on
// hosts that are this machine under other names.
#include "app/package_diff.hpp"

#include <gtest/gtest.h>

#include <map>

namespace shipshape::app {
namespace {

TEST(PackageSide, Parses) {
    struct Row {
        const char* text;
        PackageSide::Kind kind;
        const char* package;
        const char* where;
    };
    const Row rows[] = {
        // A .deb and a manifest are files.
        {"booking_1.4.3_amd64.deb", PackageSide::Kind::file, "", ""},
        {"out/booking.manifest.json", PackageSide::Kind::file, "", ""},
        // A path with '@' is still a file (the '/' says so).
        {"./v@2/booking.deb", PackageSide::Kind::file, "", ""},
        // NAME@HOST and NAME@env:ENV.
        {"booking@web1", PackageSide::Kind::host, "booking", "web1"},
        {"booking@env:prod", PackageSide::Kind::env, "booking", "prod"},
        // A Multi-Arch name keeps its architecture.
        {"libc6:amd64@web1", PackageSide::Kind::host, "libc6:amd64", "web1"},
        // Nothing before or after '@' is no side of either kind.
        {"@web1", PackageSide::Kind::file, "", ""},
        {"booking@", PackageSide::Kind::file, "", ""},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.text);
        auto s = parse_package_side(r.text);
        EXPECT_EQ(s.kind, r.kind);
        EXPECT_EQ(s.package, r.package);
        EXPECT_EQ(s.where, r.where);
        EXPECT_EQ(s.text, r.text);
    }
}

Inventory inventory() {
    auto inv = parse_inventory(
        "[env.prod]\nhosts = [\"web1\", \"web2\", \"web3\", \"web4\"]\n[env.empty]\nhosts = []\n"
        "[host.web1]\naddress = \"127.0.0.11\"\n[host.web2]\naddress = \"127.0.0.12\"\n",
        "inventory.toml");
    EXPECT_TRUE(inv) << inv.error().message();
    return *inv;
}

package::Manifest manifest(const std::string& version, const std::string& note = "") {
    package::Manifest m;
    m.package = "booking";
    m.version = version;
    m.architecture = "amd64";
    m.control = {{"Package", "booking"}, {"Version", version}, {"Description", note}};
    return m;
}

// web1 lacks the package, web2 has 1.0, web3 1.0 with other content, web4 0.9.
std::vector<InstalledManifest> fake_read(const std::vector<SelectedHost>& hosts,
                                         const std::string& package) {
    std::map<std::string, Result<package::Manifest>> on = {
        {"web1", fail(Errc::not_found, "package '" + package + "' is not installed under /")},
        {"web2", manifest("1.0")},
        {"web3", manifest("1.0", "edited")},
        {"web4", manifest("0.9")},
    };
    std::vector<InstalledManifest> out;
    for (const auto& h : hosts) {
        out.push_back({h.name, on.at(h.name)});
    }
    return out;
}

TEST(LoadInstalledSide, AnEnvironmentIsItsFirstHostWithThePackageAndNotesTheOthers) {
    auto side = load_installed_side(inventory(), parse_package_side("booking@env:prod"), fake_read);
    ASSERT_TRUE(side) << side.error().message();
    EXPECT_EQ(side->manifest.version, "1.0");
    EXPECT_EQ(side->label, "booking 1.0 in env:prod (as on web2)");
    EXPECT_EQ(side->env, "prod");
    EXPECT_EQ(side->hosts.size(), 4U);
    EXPECT_EQ(side->notes,
              (std::vector<std::string>{
                  "web1: package 'booking' is not installed under /",
                  "web3 has the same version with other content (local edits?); diff it alone "
                  "with booking@web3",
                  "web4 has booking 0.9, not 1.0 (diff it alone with booking@web4)"}));
}

TEST(LoadInstalledSide, LocalhostIsThisMachineListedOrNot) {
    std::vector<SelectedHost> asked;
    auto side = load_installed_side(
        inventory(), parse_package_side("booking@localhost"),
        [&](const std::vector<SelectedHost>& hosts, const std::string&) {
            asked = hosts;
            return std::vector<InstalledManifest>{{hosts.at(0).name, manifest("1.0")}};
        });
    ASSERT_TRUE(side) << side.error().message();
    ASSERT_EQ(asked.size(), 1U);
    EXPECT_TRUE(asked[0].local);
    EXPECT_EQ(side->label, "booking 1.0 on localhost");
}

TEST(LoadInstalledSide, Errors) {
    struct Row {
        const char* side;
        Errc code;
        const char* message;
    };
    const Row rows[] = {
        // Not installed on the one host named: the reader's error, with the side.
        {"booking@web1", Errc::not_found,
         "'booking@web1' (web1): package 'booking' is not installed under /"},
        // An unknown host or environment is invalid input.
        {"booking@nosuch", Errc::invalid_argument, "'booking@nosuch': "},
        {"booking@env:nosuch", Errc::invalid_argument, "'booking@env:nosuch': "},
        // A pattern naming several hosts is not one installed version.
        {"booking@web*", Errc::invalid_argument,
         "'booking@web*': 'web*' names 4 hosts; name one, or use NAME@env:ENV"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.side);
        auto side = load_installed_side(inventory(), parse_package_side(r.side), fake_read);
        ASSERT_FALSE(side);
        EXPECT_EQ(side.error().code(), r.code);
        EXPECT_EQ(side.error().message().rfind(r.message, 0), 0U) << side.error().message();
    }
}

TEST(CheckUpgradeRequirements, ChecksBsNeedsOnTheHosts) {
    Project project;
    project.root = "/tmp";
    project.inventory = inventory();
    RequireService service(project, nullptr, {});
    auto hosts = select_hosts(project.inventory, {"web1", "web2"});
    ASSERT_TRUE(hosts);
    package::Manifest b = manifest("1.1");
    b.requirements = package::EmbeddedRequirements{
        "requirements.toml", "[resources]\nmemory = \"100000 TiB\"\ncpus = 1\n"};
    package::PackageDiff diff;
    check_upgrade_requirements(diff, b, *hosts, "env:prod", service);
    EXPECT_EQ(diff.requirements.checked_against, "env:prod");
    ASSERT_EQ(diff.requirements.checks.size(), 4U);
    EXPECT_EQ(diff.requirements.checks[0].host, "web1");
    EXPECT_EQ(diff.requirements.checks[0].kind, "memory");
    EXPECT_EQ(diff.requirements.checks[0].verdict, require::Verdict::fail);
    EXPECT_EQ(diff.requirements.checks[1].kind, "cpus");
    EXPECT_EQ(diff.requirements.checks[1].verdict, require::Verdict::ok);

    // No requirements in B: nothing is checked.
    package::PackageDiff none;
    check_upgrade_requirements(none, manifest("1.1"), *hosts, "env:prod", service);
    EXPECT_FALSE(none.requirements.checked_against);
}

TEST(UnknownInstalledRequirements, AnInstalledSideWithoutRequirementsIsUnknownNotAbsent) {
    package::Manifest installed = manifest("1.0");
    package::Manifest deb = manifest("1.0");
    deb.requirements =
        package::EmbeddedRequirements{"requirements.toml", "[resources]\nmemory = \"1 MiB\"\n"};
    package::PackageDiff diff = package::diff_manifests(installed, deb);
    ASSERT_FALSE(diff.requirements.changes.empty());  // "added", as for two files
    unknown_installed_requirements(diff, installed, true, deb, false);
    EXPECT_TRUE(diff.requirements.changes.empty());
    EXPECT_FALSE(diff.requirements.text_changed);
    ASSERT_EQ(diff.requirements.errors.size(), 1U);
    EXPECT_NE(diff.requirements.errors[0].find("a: the installed version's requirements are not "
                                               "known"),
              std::string::npos);
    EXPECT_TRUE(package::empty(diff));  // the same version, untouched: no difference

    // Reversed (B installed), and two files: only an installed side is unknown.
    package::PackageDiff reversed = package::diff_manifests(deb, installed);
    unknown_installed_requirements(reversed, deb, false, installed, true);
    EXPECT_TRUE(package::empty(reversed));
    package::PackageDiff files = package::diff_manifests(installed, deb);
    unknown_installed_requirements(files, installed, false, deb, false);
    EXPECT_FALSE(files.requirements.changes.empty());
    EXPECT_FALSE(package::empty(files));
}

}  // namespace
}  // namespace shipshape::app
