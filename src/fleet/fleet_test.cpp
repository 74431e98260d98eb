#include "fleet/fleet.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "core/testing/skip.hpp"
#include "os/fake_process.hpp"

namespace shipshape::fleet {
namespace {

// The patterns that tell the fleet's ssh processes apart in a FakeProcessRunner.
constexpr const char* k_master = "-M -N -f";
constexpr const char* k_session = "exec \"$a\" agent --protocol 2";
constexpr const char* k_upload = "cat > ";
constexpr const char* k_exit = "-O exit";
constexpr const char* k_greeting =
    R"({"agent":"shipshape","protocol":2,"version":"test","hash":"00"})";
// An agent of before the protocol version (the full shipshape binary of older controllers).
constexpr const char* k_old_greeting = R"({"agent":"shipshape","version":"0.0.9","hash":"00"})";

std::string arch() {
    struct utsname u {};
    ::uname(&u);
    return u.machine;
}

// A Fleet over a FakeProcessRunner, with its control sockets in a fresh directory.
struct FakeFleet {
    std::string dir;
    std::shared_ptr<os::FakeProcessRunner> fake = std::make_shared<os::FakeProcessRunner>();
    std::unique_ptr<Fleet> fleet;
    Endpoint web1{"web1", "10.0.0.1", "", 22};

    explicit FakeFleet(const os::CancelSource* cancel = nullptr) {
        char tmpl[] = "/tmp/shipshape-fleet-XXXXXX";
        dir = ::mkdtemp(tmpl);
        SshOptions o;
        o.control_dir = dir + "/ssh";
        o.connect_timeout = Millis(1000);
        AgentBinary agent{"/bin/true", "0123456789abcdef", "test", std::nullopt};
        fleet = std::make_unique<Fleet>(o, agent, cancel, fake);
    }
    ~FakeFleet() {
        fleet.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    // The control socket path ssh was given for the master.
    std::string control_path() const {
        for (const auto& spec : fake->specs()) {
            for (const auto& a : spec.argv) {
                if (a.rfind("ControlPath=", 0) == 0) {
                    return a.substr(12);
                }
            }
        }
        return {};
    }
};

TEST(Fleet, ACallConnectsGreetsAndReturnsTheReply) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session)
                    .prints(std::string(k_greeting) + "\n" +
                            R"({"id":1,"event":"output","data":"x"})" + "\n" +
                            R"({"id":1,"ok":true,"n":7})" + "\n")
                    .hang());
    std::vector<std::string> events;
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000),
                           [&](std::string_view line) { events.emplace_back(line); });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, R"({"id":1,"ok":true,"n":7})");
    EXPECT_EQ(events, (std::vector<std::string>{R"({"id":1,"event":"output","data":"x"})"}));
    EXPECT_FALSE(f.fleet->stats("web1").agent_installed);
    f.fleet.reset();  // ends the session: its input is then complete
    EXPECT_EQ(f.fake->inputs().back(), "{\"id\":1,\"op\":\"facts\"}\n");
}

TEST(Fleet, AMissingAgentIsCopiedOnceThenUsed) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).limit(1).prints("shipshape-need-agent " + arch() + "\n"));
    f.fake->add(os::FakeScript(k_upload));
    f.fake->add(os::FakeScript(k_session)
                    .prints(std::string(k_greeting) + "\n" + R"({"id":1,"ok":true})" + "\n")
                    .hang());
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(f.fleet->stats("web1").agent_installed);
    // The copy read this binary through its stdin.
    auto specs = f.fake->specs();
    ASSERT_EQ(specs.size(), 4u);
    EXPECT_EQ(specs[2].input, os::Input::fd);
}

TEST(Fleet, AnAgentOfAnotherProtocolIsReplacedOnce) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).limit(1).prints(std::string(k_old_greeting) + "\n"));
    f.fake->add(os::FakeScript(k_upload));
    f.fake->add(os::FakeScript(k_session)
                    .prints(std::string(k_greeting) + "\n" + R"({"id":1,"ok":true})" + "\n")
                    .hang());
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(f.fleet->stats("web1").agent_replaced);
    auto specs = f.fake->specs();
    ASSERT_EQ(specs.size(), 4u);  // master, old agent, the copy, the new agent
    EXPECT_EQ(specs[2].input, os::Input::fd);
}

TEST(Fleet, AnAgentStillOfAnotherProtocolAfterTheCopyIsUnsupported) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints(std::string(k_old_greeting) + "\n"));
    f.fake->add(os::FakeScript(k_upload));
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unsupported);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): the agent there speaks protocol 1, this controller speaks 2, "
              "even after copying it again; remove ~/.cache/shipshape on the host");
}

TEST(Fleet, NoAgentToCopyIsReportedByTheFirstCall) {
    FakeFleet f;
    SshOptions o;
    o.control_dir = f.dir + "/ssh2";
    AgentBinary none;
    none.unavailable = Error(Errc::not_found, "the host agent /x/shipshape-agent is missing");
    Fleet fleet(o, none, nullptr, f.fake);
    f.fake->add(os::FakeScript(k_master));
    auto r = fleet.call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_NE(r.error().message().find("shipshape-agent is missing"), std::string::npos);
}

TEST(Fleet, AHungHostIsUnreachableAfterTheConnectGuard) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master).hang());
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unreachable);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): unreachable: no ssh connection within 1m01s");
}

TEST(Fleet, AFailedConnectionIsUnreachableWithSshsReason) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session)
                    .says("Warning: Permanently added '10.0.0.1' (ED25519) to the list of known "
                          "hosts.\nssh: connect to host 10.0.0.1 port 22: Connection refused\n")
                    .exits(255));
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unreachable);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): unreachable: ssh: connect to host 10.0.0.1 port 22: "
              "Connection refused");
}

TEST(Fleet, AFailedAgentCopyIsAnIoErrorWithTheHostsReason) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints("shipshape-need-agent " + arch() + "\n"));
    f.fake->add(
        os::FakeScript(k_upload)
            .says("mkdir: cannot create directory '/home/deploy/.cache': Permission denied\n")
            .exits(1));
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): copying the agent failed: mkdir: cannot create directory "
              "'/home/deploy/.cache': Permission denied");
    EXPECT_FALSE(f.fleet->stats("web1").agent_installed);
}

TEST(Fleet, AnotherArchitectureIsUnsupported) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints("shipshape-need-agent sparc64\n"));
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unsupported);
    EXPECT_EQ(r.error().message(), "host web1 (10.0.0.1) is sparc64, this shipshape is " + arch() +
                                       ": the agent (shipshape-agent, built for " + arch() +
                                       ") cannot run there; run a sparc64 build of shipshape as "
                                       "the controller for such hosts");
}

TEST(Fleet, ABadGreetingNamesWhatCameInstead) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints("Welcome to web1!\n").hang());
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): expected the agent's greeting, got \"Welcome to web1!\" "
              "(does the login shell print something?)");
}

TEST(Fleet, ASilentAgentTimesOut) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints(std::string(k_greeting) + "\n").hang());
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(50));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::timeout);
    EXPECT_EQ(r.error().message(), "host web1 (10.0.0.1): no answer from the agent in time");
}

TEST(Fleet, AnAgentThatEndsMidRequestIsAnIoError) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session)
                    .prints(std::string(k_greeting) + "\n")
                    .says("shipshape agent: out of memory\n")
                    .exits(70));
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(60000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_EQ(r.error().message(),
              "host web1 (10.0.0.1): the agent ended (exit 70): shipshape agent: out of memory");
}

TEST(Fleet, InterruptStopsAWaitingCall) {
    auto cancel = os::CancelSource::create();
    ASSERT_TRUE(cancel);
    FakeFleet f(&*cancel);
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_session).prints(std::string(k_greeting) + "\n").hang());
    // Whenever the cancel lands, before or during the wait for the reply, the call ends with it.
    std::thread trigger([&] { cancel->cancel(); });
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(0));
    trigger.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::interrupted);
    EXPECT_EQ(r.error().message(), "host web1 (10.0.0.1): interrupted");
}

TEST(Fleet, InterruptStopsAConnectingMaster) {
    auto cancel = os::CancelSource::create();
    ASSERT_TRUE(cancel);
    FakeFleet f(&*cancel);
    f.fake->add(os::FakeScript(k_master).hang());
    cancel->cancel();
    auto r = f.fleet->call(f.web1, R"({"op":"facts"})", Millis(0));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::interrupted);
    EXPECT_EQ(r.error().message(), "host web1 (10.0.0.1): interrupted while connecting");
}

// A listening socket standing in for a live ssh master.
int listen_at(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

TEST(Fleet, DisconnectClosesALiveMasterAndRemovesItsSocket) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(os::FakeScript(k_exit).says("Exit request sent.\n"));
    auto r = f.fleet->run(f.web1, "true", Millis(0), {});  // no script: fails after connecting
    ASSERT_FALSE(r);
    std::string socket = f.control_path();
    ASSERT_FALSE(socket.empty());
    int fd = listen_at(socket);
    ASSERT_GE(fd, 0);
    auto closed = f.fleet->disconnect(f.web1);
    ::close(fd);
    ASSERT_TRUE(closed) << closed.error().message();
    EXPECT_TRUE(*closed);
    EXPECT_FALSE(std::filesystem::exists(socket));
    auto last = f.fake->specs().back().argv;
    EXPECT_EQ(std::vector<std::string>(last.end() - 4, last.end()),
              (std::vector<std::string>{"-O", "exit", "--", "10.0.0.1"}));
    // Nothing open any more: nothing to close, and ssh is not asked.
    size_t asked = f.fake->specs().size();
    auto again = f.fleet->disconnect(f.web1);
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again);
    EXPECT_EQ(f.fake->specs().size(), asked);
}

TEST(Fleet, DisconnectReportsAMasterThatWillNotClose) {
    FakeFleet f;
    f.fake->add(os::FakeScript(k_master));
    f.fake->add(
        os::FakeScript(k_exit).says("Control socket connect: Connection refused\n").exits(255));
    ASSERT_FALSE(f.fleet->run(f.web1, "true", Millis(0), {}));
    int fd = listen_at(f.control_path());
    ASSERT_GE(fd, 0);
    auto closed = f.fleet->disconnect(f.web1);
    ::close(fd);
    ASSERT_FALSE(closed);
    EXPECT_EQ(closed.error().code(), Errc::io);
    EXPECT_EQ(closed.error().message(),
              "host web1 (10.0.0.1): closing the ssh connection failed: Control socket connect: "
              "Connection refused");
}

TEST(Fleet, AgentNameComesFromTheBuildId) {
    auto b = this_binary("1.0");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->hash.size(), 16u);
    EXPECT_EQ(b->hash.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(this_binary("1.0")->hash, b->hash);  // stable for one binary
}

TEST(Fleet, AHostThatCannotBeReachedIsUnreachableWithSshsReason) {
    // The real ssh client. ProxyCommand=false: ssh fails without sending a packet anywhere.
    char tmpl[] = "/tmp/shipshape-fleet-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    SshOptions o;
    o.options = {"ProxyCommand=false"};
    o.control_dir = dir + "/ssh";
    o.connect_timeout = Millis(3000);
    auto self = this_binary("test");
    ASSERT_TRUE(self);
    Fleet fleet(o, *self, nullptr);
    auto r =
        fleet.call(Endpoint{"web9", "web9.invalid", "", 22}, R"({"op":"facts"})", Millis(5000));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    ASSERT_FALSE(r);
    if (r.error().code() == Errc::unsupported) {
        SHIPSHAPE_SKIP_OR_FAIL(r.error().message());  // no ssh client on this machine
    }
    EXPECT_EQ(r.error().code(), Errc::unreachable) << r.error().message();
    EXPECT_EQ(r.error().message().rfind("host web9 (web9.invalid): unreachable: ", 0), 0u)
        << r.error().message();
}

}  // namespace
}  // namespace shipshape::fleet
