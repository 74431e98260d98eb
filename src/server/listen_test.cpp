#include "server/listen.hpp"

#include <gtest/gtest.h>

namespace shipshape::server {
namespace {

struct ListenRow {
    const char* text;
    const char* host;  // nullptr: refused
    int port;
    bool loopback;
    const char* why;  // for refused rows: part of the message
};

TEST(ParseListen, Table) {
    const ListenRow rows[] = {
        // The default: loopback.
        {"127.0.0.1:8686", "127.0.0.1", 8686, true, ""},
        // Port 0 asks the kernel for a free port.
        {"127.0.0.1:0", "127.0.0.1", 0, true, ""},
        // All of 127.0.0.0/8 is loopback.
        {"127.1.2.3:80", "127.1.2.3", 80, true, ""},
        // A name that looks like 127/8 but is not four parts is not.
        {"127.example.com:80", "127.example.com", 80, false, ""},
        // IPv6 loopback in brackets.
        {"[::1]:8686", "::1", 8686, true, ""},
        // localhost by name.
        {"localhost:1", "localhost", 1, true, ""},
        // Every address: allowed, but not loopback (serve warns).
        {"0.0.0.0:8686", "0.0.0.0", 8686, false, ""},
        {"[::]:8686", "::", 8686, false, ""},
        // Refusals, each saying why.
        {"127.0.0.1", nullptr, 0, false, "no port"},
        {":8686", nullptr, 0, false, "no host"},
        {"127.0.0.1:65536", nullptr, 0, false, "from 0 to 65535"},
        {"127.0.0.1:-1", nullptr, 0, false, "from 0 to 65535"},
        {"127.0.0.1:80x", nullptr, 0, false, "from 0 to 65535"},
        {"::1:8686", nullptr, 0, false, "in brackets"},
        {"[::1]8686", nullptr, 0, false, "followed by ':PORT'"},
        {"[127.0.0.1]:80", nullptr, 0, false, "brackets are for IPv6"},
        {"a b:80", nullptr, 0, false, "letters, digits"},
    };
    for (const auto& row : rows) {
        auto got = parse_listen(row.text);
        if (row.host == nullptr) {
            ASSERT_FALSE(got) << row.text;
            EXPECT_EQ(got.error().code(), Errc::invalid_argument);
            EXPECT_NE(got.error().message().find(row.why), std::string::npos)
                << row.text << ": " << got.error().message();
            continue;
        }
        ASSERT_TRUE(got) << row.text << ": " << got.error().message();
        EXPECT_EQ(got->host, row.host) << row.text;
        EXPECT_EQ(got->port, row.port) << row.text;
        EXPECT_EQ(got->loopback, row.loopback) << row.text;
    }
}

TEST(ParseListen, UrlBracketsIpv6) {
    EXPECT_EQ(parse_listen("[::1]:0")->url(4242), "http://[::1]:4242");
    EXPECT_EQ(parse_listen("127.0.0.1:0")->url(4242), "http://127.0.0.1:4242");
    EXPECT_EQ(parse_listen("[::1]:80")->text(), "[::1]:80");
}

TEST(SystemdUnit, RunsTheServerConfined) {
    auto unit = systemd_unit({"/usr/bin/shipshape",
                              "/srv/ops repo",
                              {"/srv/ops repo/.shipshape"},
                              "127.0.0.1:8686",
                              "",
                              ""});
    ASSERT_TRUE(unit) << unit.error().message();
    for (const char* line :
         {"ExecStart=\"/usr/bin/shipshape\" -C \"/srv/ops repo\" serve --listen "
          "\"127.0.0.1:8686\"\n",
          "WorkingDirectory=/srv/ops repo\n", "Restart=on-failure\n", "NoNewPrivileges=yes\n",
          "ProtectSystem=strict\n", "ReadWritePaths=\"/srv/ops repo/.shipshape\"\n",
          "PrivateTmp=yes\n", "WantedBy=multi-user.target\n"}) {
        EXPECT_NE(unit->find(line), std::string::npos) << line << "\n" << *unit;
    }
}

TEST(SystemdUnit, QuotesSpecifiersAndRefusesWhatALineCannotHold) {
    // % starts a systemd specifier and $ a variable: doubled, they stay literal.
    auto unit = systemd_unit({"/opt/a%b$c/shipshape", "/srv/ops", {}, "127.0.0.1:1", "", ""});
    ASSERT_TRUE(unit);
    EXPECT_NE(unit->find("ExecStart=\"/opt/a%%b$$c/shipshape\""), std::string::npos) << *unit;
    auto relative = systemd_unit({"shipshape", "/srv/ops", {}, "127.0.0.1:1", "", ""});
    ASSERT_FALSE(relative);
    EXPECT_EQ(relative.error().message(), "the binary 'shipshape' is not an absolute path");
    auto newline = systemd_unit(
        {"/usr/bin/shipshape", "/srv/ops\nExecStartPre=/bin/evil", {}, "127.0.0.1:1", "", ""});
    ASSERT_FALSE(newline);
    EXPECT_NE(newline.error().message().find("cannot be written in a unit file"),
              std::string::npos);
}

TEST(SystemdUnit, PassesTlsFiles) {
    auto unit = systemd_unit(
        {"/usr/bin/shipshape", "/srv/ops", {}, "0.0.0.0:8443", "/etc/ssl/a.pem", "/etc/ssl/a.key"});
    ASSERT_TRUE(unit);
    EXPECT_NE(unit->find(" serve --listen \"0.0.0.0:8443\" --tls-cert \"/etc/ssl/a.pem\" "
                         "--tls-key \"/etc/ssl/a.key\"\n"),
              std::string::npos)
        << *unit;
}

}  // namespace
}  // namespace shipshape::server
