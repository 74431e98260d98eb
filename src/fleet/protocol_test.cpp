#include "fleet/protocol.hpp"

#include <gtest/gtest.h>

namespace shipshape::fleet {
namespace {

TEST(Protocol, TheAgentsGreetingIsRecognised) {
    AgentBinary self{"/x", "0123456789abcdef", "1.2.3", std::nullopt};
    std::string line = greeting_line(self, 42);
    EXPECT_EQ(
        line,
        R"({"agent":"shipshape","hash":"0123456789abcdef","pid":42,"protocol":2,"version":"1.2.3"})");
    EXPECT_TRUE(is_greeting(line));
    EXPECT_FALSE(is_greeting("Welcome!"));              // a login banner
    EXPECT_FALSE(is_greeting(R"({"agent":"other"})"));  // some other program's JSON
    // The protocol it speaks; an agent from before protocol numbers speaks 1.
    EXPECT_EQ(greeting_protocol(line), k_protocol_version);
    EXPECT_EQ(greeting_protocol(R"({"agent":"shipshape","version":"0.0.9"})"), 1);
    EXPECT_EQ(greeting_protocol(R"({"agent":"shipshape","protocol":"2"})"), 1);  // not a number
}

TEST(Protocol, RequestsAreNumberedAndRepliesCarryTheirId) {
    EXPECT_EQ(request_line(3, R"({"op":"facts"})"), "{\"id\":3,\"op\":\"facts\"}\n");
    EXPECT_EQ(request_line(4, "{}"), "{\"id\":4}\n");
    // The agent's side reads the id back and puts it on its reply.
    auto id = request_id(R"({"id":3,"op":"facts"})");
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, "3");
    EXPECT_EQ(request_id(R"({"op":"facts"})"), "null");  // no id: replies say null
    EXPECT_FALSE(request_id("not json"));
    std::string reply = reply_line(R"({"ok":true})", *id);
    EXPECT_EQ(reply, R"({"id":3,"ok":true})");
    Frame f = read_frame(reply);
    EXPECT_EQ(f.kind, FrameKind::reply);
    EXPECT_EQ(f.id, 3);
}

TEST(Protocol, EventsCarryOutput) {
    std::string ev = output_event_line("7", "line\n");
    EXPECT_EQ(read_frame(ev).kind, FrameKind::event);
    EXPECT_EQ(read_frame(ev).id, 7);
    EXPECT_EQ(output_of_event(ev), "line\n");
    EXPECT_EQ(output_of_event(R"({"id":7,"event":"progress"})"), std::nullopt);
    EXPECT_EQ(read_frame("garbage").kind, FrameKind::not_json);
}

TEST(Protocol, ErrorRepliesBecomeTheAgentsError) {
    std::string line = reply_line(error_reply(Error(Errc::not_found, "no such file")), "1");
    auto r = reply_result(line);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_EQ(r.error().message(), "no such file");
    EXPECT_TRUE(reply_result(R"({"id":1,"ok":true})"));
    auto bad = reply_result("{{");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "the agent's reply is not JSON");
}

}  // namespace
}  // namespace shipshape::fleet
