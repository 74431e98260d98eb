#include "app/agent_protocol.hpp"

#include <gtest/gtest.h>

#include "fleet/protocol.hpp"

namespace shipshape::app {
namespace {

// What the agent reads of what the controller sends, through the framing both use.
Result<AgentRequest> over_the_wire(const std::string& request) {
    std::string line = fleet::request_line(1, request);
    line.pop_back();  // the "\n"
    return parse_agent_request(line);
}

TEST(AgentProtocol, EveryRequestArrivesWhole) {
    RemoteExec exec{{"sh", "-c", "echo 'hi'"}, {"A=1"}, "/srv", Millis(1500)};
    auto e = over_the_wire(exec_request(exec));
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(e->op, "exec");
    EXPECT_EQ(e->exec.argv, exec.argv);
    EXPECT_EQ(e->exec.env, exec.env);
    EXPECT_EQ(e->exec.cwd, "/srv");
    EXPECT_EQ(e->exec.timeout, Millis(1500));

    auto f = over_the_wire(facts_request({"os", "memory"}));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->sections, (std::vector<std::string>{"os", "memory"}));

    // Bundle files carry any bytes (base64 on the wire).
    std::string bytes("\0\xff\n'\"", 5);
    auto b = over_the_wire(bundle_request("abc123", {{"states/app.toml", 0640, bytes}}));
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->bundle, "abc123");
    ASSERT_EQ(b->files.size(), 1u);
    EXPECT_EQ(b->files[0].path, "states/app.toml");
    EXPECT_EQ(b->files[0].mode, 0640);
    EXPECT_EQ(b->files[0].data, bytes);

    auto s = over_the_wire(shipshape_request("abc123", {"plan", "--json"}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->bundle, "abc123");
    EXPECT_EQ(s->args, (std::vector<std::string>{"plan", "--json"}));
}

TEST(AgentProtocol, PackageManifestRoundTrip) {
    auto plain = over_the_wire(package_manifest_request("openssh-server"));
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->op, "package-manifest");
    EXPECT_EQ(plain->package, "openssh-server");
    EXPECT_EQ(plain->root, "/");
    auto rooted = over_the_wire(package_manifest_request("booking", "/tmp/fixture"));
    ASSERT_TRUE(rooted);
    EXPECT_EQ(rooted->root, "/tmp/fixture");

    auto m = manifest_of_reply(package_manifest_reply(R"({"format":"shipshape.manifest/1"})"));
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, R"({"format":"shipshape.manifest/1"})");
    auto absent = manifest_of_reply(
        fleet::error_reply(Error(Errc::not_found, "package 'x' is not installed under /")));
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code(), Errc::not_found);
    EXPECT_FALSE(manifest_of_reply(ok_reply()));
}

TEST(AgentProtocol, BadRequestsAreRefusedWithTheReason) {
    struct Row {
        std::string line;
        std::string message;
    };
    const Row rows[] = {
        // Not an object.
        {"[1,2]", "a request is one JSON object per line"},
        // An op this agent does not know.
        {R"({"id":1,"op":"reboot"})",
         "unknown op 'reboot' (known: facts, exec, bundle, shipshape, package-manifest)"},
        // exec without its argv.
        {R"({"id":1,"op":"exec"})",
         "malformed 'exec' request: [json.exception.out_of_range.403] key 'argv' not found"},
        // package-manifest without the package's name.
        {R"({"id":1,"op":"package-manifest"})",
         "malformed 'package-manifest' request: [json.exception.out_of_range.403] key 'name' not "
         "found"},
        // A bundle file whose data is not base64.
        {R"({"id":1,"op":"bundle","hash":"ab","files":[{"path":"x","data":"@@@"}]})",
         "bundle file 'x': bad base64"},
    };
    for (const auto& row : rows) {
        auto r = parse_agent_request(row.line);
        ASSERT_FALSE(r) << row.line;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << row.line;
        EXPECT_EQ(r.error().message(), row.message) << row.line;
    }
}

TEST(AgentProtocol, RepliesReachTheController) {
    auto o = outcome_of_reply(
        fleet::reply_line(exec_reply({os::ExitKind::timed_out, -1, Millis(30000)}), "1"));
    ASSERT_TRUE(o);
    EXPECT_EQ(o->kind, os::ExitKind::timed_out);
    EXPECT_EQ(o->code, -1);
    EXPECT_EQ(o->elapsed, Millis(30000));

    auto f = facts_of_reply(facts_reply(R"({"schema":"shipshape.facts/1"})"));
    ASSERT_TRUE(f);
    EXPECT_EQ(*f, R"({"schema":"shipshape.facts/1"})");

    EXPECT_TRUE(needs_bundle(need_bundle_reply()));
    EXPECT_FALSE(needs_bundle(ok_reply()));
    auto s = shipshape_of_reply(shipshape_reply({3, "out", "err"}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->code, 3);
    EXPECT_EQ(s->out, "out");
    EXPECT_EQ(s->err, "err");

    // A refusal is the agent's error, code and message.
    auto refused = shipshape_of_reply(fleet::error_reply(Error(Errc::not_found, "no such run")));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::not_found);
    EXPECT_EQ(refused.error().message(), "no such run");
}

}  // namespace
}  // namespace shipshape::app
