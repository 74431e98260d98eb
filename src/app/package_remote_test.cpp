// The installed side on hosts: the agent's package-manifest op answered by a real agent loop
// (serve_agent over a pipe and a file), and installed_manifests for local hosts read
// in-process and remote hosts without a transport. Both read a fixture dpkg root. Remote hosts
// through ssh are tested end to end (tests/e2e/test_package_installed.py).
#include "app/package_remote.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/agent.hpp"
#include "app/agent_protocol.hpp"
#include "fleet/protocol.hpp"
#include "state/hash.hpp"

namespace shipshape::app {
namespace {

std::string md5(std::string_view text) {
    state::Digest d(state::Digest::Kind::md5);
    d.update(text);
    return d.finish_hex();
}

class PackageRemoteTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-package-remote-XXXXXX";
        root = ::mkdtemp(tmpl);
        put("var/lib/dpkg/status",
            "Package: booking\n"
            "Status: install ok installed\n"
            "Architecture: amd64\n"
            "Version: 1.4.2\n"
            "Conffiles:\n"
            " /etc/booking.conf " +
                md5("port = 8080\n") +
                "\n"
                "Description: room booking\n");
        put("var/lib/dpkg/info/booking.list", "/.\n/etc\n/etc/booking.conf\n");
        put("var/lib/dpkg/info/booking.conffiles", "/etc/booking.conf\n");
        put("var/lib/dpkg/info/booking.postinst", "#!/bin/sh\necho hi\n");
        put("etc/booking.conf", "port = 9090\n");  // edited on the host
    }
    void TearDown() override { std::filesystem::remove_all(root); }

    void put(const std::string& rel, const std::string& text) {
        std::string path = root + "/" + rel;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << text;
    }

    // Runs the agent loop on `requests` (numbered 1, 2 ...) and returns its reply lines, the
    // greeting left out.
    std::vector<std::string> agent_replies(const std::vector<std::string>& requests) {
        int in[2];
        EXPECT_EQ(::pipe(in), 0);
        std::string input;
        for (size_t i = 0; i < requests.size(); ++i) {
            input += fleet::request_line(static_cast<long long>(i + 1), requests[i]);
        }
        EXPECT_EQ(::write(in[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
        ::close(in[1]);
        std::string out_path = root + "/agent.out";
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        EXPECT_EQ(
            serve_agent(in[0], out, fleet::AgentBinary{"/nonexistent", "0", "test", std::nullopt}),
            0);
        ::close(in[0]);
        ::close(out);
        std::ifstream f(out_path);
        std::vector<std::string> lines;
        for (std::string line; std::getline(f, line);) {
            if (!fleet::is_greeting(line)) {
                lines.push_back(line);
            }
        }
        return lines;
    }

    std::string root;
};

TEST_F(PackageRemoteTest, TheAgentSendsTheInstalledManifest) {
    auto lines = agent_replies(
        {package_manifest_request("booking", root), package_manifest_request("absent", root)});
    ASSERT_EQ(lines.size(), 2U);

    auto reply = fleet::reply_result(lines[0]);
    ASSERT_TRUE(reply) << reply.error().message();
    auto doc = manifest_of_reply(*reply);
    ASSERT_TRUE(doc) << doc.error().message();
    auto m = package::parse_manifest_json(*doc, "booking@test");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->version, "1.4.2");
    EXPECT_EQ(m->scripts.at("postinst").text, "#!/bin/sh\necho hi\n");
    ASSERT_EQ(m->conffiles.size(), 1U);
    EXPECT_EQ(m->conffiles[0].content, "port = 9090\n");
    EXPECT_TRUE(m->conffiles[0].modified_locally);  // the local edit survives the wire

    // Not installed: the agent's error keeps its code, so the controller can say so.
    auto absent = fleet::reply_result(lines[1]);
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code(), Errc::not_found);
    EXPECT_NE(absent.error().message().find("package 'absent' is not installed"), std::string::npos)
        << absent.error().message();
}

TEST_F(PackageRemoteTest, LocalHostsAreReadHereAndRemoteOnesNeedATransport) {
    SelectedHost here;
    here.name = "localhost";
    here.address = "127.0.0.1";
    here.local = true;
    SelectedHost web1;
    web1.name = "web1";
    web1.address = "10.0.0.5";
    SelectedHost also_here = here;
    also_here.name = "me";

    auto got = installed_manifests(nullptr, {here, web1, also_here}, "booking", root);
    ASSERT_EQ(got.size(), 3U);
    EXPECT_EQ(got[0].host, "localhost");  // in the order given
    EXPECT_EQ(got[1].host, "web1");
    EXPECT_EQ(got[2].host, "me");
    ASSERT_TRUE(got[0].manifest) << got[0].manifest.error().message();
    EXPECT_EQ(got[0].manifest->version, "1.4.2");
    EXPECT_TRUE(got[0].manifest->conffiles.at(0).modified_locally);
    ASSERT_TRUE(got[2].manifest);
    ASSERT_FALSE(got[1].manifest);
    EXPECT_EQ(got[1].manifest.error().code(), Errc::unsupported);
    EXPECT_NE(got[1].manifest.error().message().find("web1"), std::string::npos);

    auto absent = installed_manifests(nullptr, {here}, "absent", root);
    ASSERT_EQ(absent.size(), 1U);
    ASSERT_FALSE(absent[0].manifest);
    EXPECT_EQ(absent[0].manifest.error().code(), Errc::not_found);
}

}  // namespace
}  // namespace shipshape::app
