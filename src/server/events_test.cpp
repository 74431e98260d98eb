#include "server/events.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace shipshape::server {
namespace {

using store::ChangeCursor;
using namespace std::chrono_literals;

StreamItem item(int64_t e, int64_t l, const std::string& run, const std::string& text) {
    return StreamItem{
        ChangeCursor{e, l}, run,
        "id: " + std::to_string(e) + "-" + std::to_string(l) + "\ndata: " + text + "\n\n"};
}

TEST(EventCursor, RoundTripsAndRefusesAnythingElse) {
    EXPECT_EQ(format_cursor({12, 3400}), "12-3400");
    auto c = parse_cursor("12-3400");
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (ChangeCursor{12, 3400}));
    for (const char* bad : {"", "12", "-1-2", "1--2", "a-1", "1-2x", "1-2-3", " 1-2"}) {
        EXPECT_FALSE(parse_cursor(bad)) << bad;
    }
}

TEST(StreamRequest, LastEventIdWinsOverAfterAndUnknownParametersAreRefused) {
    auto r = parse_stream_request({{"run", "r1"}, {"after", "1-2"}}, "");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->run, "r1");
    EXPECT_EQ(r->after, (ChangeCursor{1, 2}));
    auto header = parse_stream_request({{"after", "1-2"}}, "5-6");
    ASSERT_TRUE(header);
    EXPECT_EQ(header->after, (ChangeCursor{5, 6}));
    EXPECT_FALSE(parse_stream_request({}, "")->after);
    EXPECT_FALSE(parse_stream_request({{"limit", "3"}}, ""));
    EXPECT_FALSE(parse_stream_request({{"run", "a"}, {"run", "b"}}, ""));
    EXPECT_FALSE(parse_stream_request({{"run", "a\x1b"}}, ""));
    EXPECT_FALSE(parse_stream_request({{"after", "7"}}, ""));
    EXPECT_FALSE(parse_stream_request({}, "x"));
}

TEST(EventItems, JournalEventsBecomeRunAndStepFrames) {
    RunInfo info{"deploy", "prod", {{"qa", "qa-team"}}};
    auto run = event_item({7, 1, "r1", "", "run-started", "x"}, info, {7, 3});
    ASSERT_TRUE(run);
    EXPECT_EQ(run->frame,
              "id: 7-3\nevent: run\ndata: {\"run\":\"r1\",\"status\":\"running\",\"checklist\":"
              "\"deploy\",\"env\":\"prod\"}\n\n");
    auto waiting = event_item({8, 1, "r1", "qa", "step-waiting", ""}, info, {8, 3});
    ASSERT_TRUE(waiting);
    EXPECT_NE(waiting->frame.find("\"status\":\"waiting\",\"role\":\"qa-team\""),
              std::string::npos);
    auto off = event_item({9, 1, "r1", "qa", "check-off", "by a as qa"}, info, {9, 3});
    EXPECT_NE(off->frame.find("\"status\":\"checked-off\""), std::string::npos);
    auto ok = event_item({10, 1, "r1", "build", "step-ok", ""}, info, {10, 3});
    EXPECT_NE(ok->frame.find("\"status\":\"ok\",\"role\":null"), std::string::npos);
    EXPECT_FALSE(event_item({11, 1, "r1", "", "note", ""}, info, {11, 3}));
    auto log = log_item({4, 1, "r1", "build", "<script>\"x\""}, {11, 4});
    EXPECT_EQ(log.frame,
              "id: 11-4\nevent: log\ndata: {\"run\":\"r1\",\"step\":\"build\",\"line\":"
              "\"<script>\\\"x\\\"\"}\n\n");
}

TEST(MergeRows, OrdersByTimeAndEveryRowMovesTheCursor) {
    RunInfo info;
    std::vector<store::Event> events = {{5, 100, "r", "s", "step-started", ""},
                                        {6, 200, "r", "s", "step-ok", ""},
                                        {7, 300, "r", "", "unknown-kind", ""}};
    std::vector<store::LogLine> lines = {{40, 100, "r", "s", "first"}, {41, 200, "r", "s", "last"}};
    auto m = merge_rows(events, lines, {4, 39},
                        [&](const std::string&) -> const RunInfo& { return info; });
    ASSERT_EQ(m.items.size(), 4u);
    EXPECT_EQ(m.items[0].cursor, (ChangeCursor{5, 39}));  // the start, then its lines
    EXPECT_EQ(m.items[1].cursor, (ChangeCursor{5, 40}));
    EXPECT_EQ(m.items[2].cursor, (ChangeCursor{5, 41}));  // a line before the end of its ms
    EXPECT_EQ(m.items[3].cursor, (ChangeCursor{6, 41}));
    EXPECT_EQ(m.end, (ChangeCursor{7, 41}));  // the event without a frame counts too
}

TEST(EventHub, FansOutToEveryClientAndFiltersByRun) {
    EventHub hub;
    hub.set_position({1, 1});
    ChangeCursor pos_a;
    ChangeCursor pos_b;
    auto a = hub.subscribe("", pos_a);
    auto b = hub.subscribe("r2", pos_b);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(pos_a, (ChangeCursor{1, 1}));
    hub.publish({item(2, 1, "r1", "one"), item(3, 1, "r2", "two")}, {3, 1});
    std::string got_a;
    std::string got_b;
    EXPECT_EQ(a->next(got_a, 0ms), Subscriber::Next::data);
    EXPECT_EQ(b->next(got_b, 0ms), Subscriber::Next::data);
    EXPECT_EQ(got_a, item(2, 1, "r1", "one").frame + item(3, 1, "r2", "two").frame);
    EXPECT_EQ(got_b, item(3, 1, "r2", "two").frame);
    EXPECT_EQ(hub.position(), (ChangeCursor{3, 1}));
    EXPECT_EQ(a->next(got_a, 0ms), Subscriber::Next::timeout);
    EXPECT_EQ(hub.clients(), 2u);
    b.reset();
    EXPECT_EQ(hub.clients(), 1u);
}

TEST(EventHub, AClientThatCannotKeepUpIsDroppedNotBufferedForever) {
    EventHub hub(10, 100);
    ChangeCursor pos;
    auto slow = hub.subscribe("", pos);
    auto fast = hub.subscribe("", pos);
    std::string drained;
    for (int i = 0; i < 10; ++i) {
        hub.publish({item(i + 1, 0, "r", std::string(20, 'x'))}, {i + 1, 0});
        fast->next(drained, 0ms);  // this one reads everything at once
    }
    EXPECT_TRUE(slow->dropped());
    std::string out;
    EXPECT_EQ(slow->next(out, 0ms), Subscriber::Next::closed);
    EXPECT_FALSE(fast->dropped());
    EXPECT_NE(drained.find("id: 10-0"), std::string::npos);
}

TEST(EventHub, StopEndsWaitingStreamsAndRefusesNewOnes) {
    EventHub hub;
    ChangeCursor pos;
    auto sub = hub.subscribe("", pos);
    std::atomic<bool> ended{false};
    std::thread waiter([&] {
        std::string out;
        ended = sub->next(out, std::chrono::hours(1)) == Subscriber::Next::closed;
    });
    hub.stop();
    waiter.join();
    EXPECT_TRUE(ended);
    EXPECT_EQ(hub.subscribe("", pos), nullptr);
}

TEST(EventHub, RefusesClientsBeyondTheLimit) {
    EventHub hub(2);
    ChangeCursor pos;
    auto a = hub.subscribe("", pos);
    auto b = hub.subscribe("", pos);
    EXPECT_EQ(hub.subscribe("", pos), nullptr);
    a.reset();
    EXPECT_NE(hub.subscribe("", pos), nullptr);
}

// Serves rows 1..n of one kind as events, from a fixed list.
struct FakeBacklog final : Backlog {
    std::vector<StreamItem> all;
    int reads = 0;
    Result<Merged> read(const ChangeCursor& after, const ChangeCursor& upto, const std::string&,
                        int limit) override {
        ++reads;
        Merged m;
        m.end = after;
        for (const auto& i : all) {
            if (i.cursor.event_seq > after.event_seq && i.cursor.event_seq <= upto.event_seq &&
                static_cast<int>(m.items.size()) < limit) {
                m.items.push_back(i);
                m.end = i.cursor;
            }
        }
        return m;
    }
};

TEST(EventStream, ResumesAfterItsCursorWithoutDuplicatesThenGoesLive) {
    EventHub hub;
    FakeBacklog backlog;
    for (int i = 1; i <= 5; ++i) {
        backlog.all.push_back(item(i, 0, "r", "e" + std::to_string(i)));
    }
    hub.set_position({5, 0});
    EventStream stream(hub, backlog, ChangeCursor{2, 0}, "");
    ASSERT_TRUE(stream.ok());
    EXPECT_EQ(stream.next(0ms), std::string(k_stream_preamble));
    // Published after the client connected: past the hub's position, so not in the backlog.
    hub.publish({item(6, 0, "r", "e6")}, {6, 0});
    backlog.all.push_back(item(6, 0, "r", "e6"));
    EXPECT_EQ(stream.next(0ms), backlog.all[2].frame + backlog.all[3].frame + backlog.all[4].frame);
    EXPECT_EQ(stream.next(0ms), backlog.all[5].frame);
    EXPECT_EQ(stream.next(0ms), std::string(k_keepalive_frame));
    hub.stop();
    EXPECT_EQ(stream.next(0ms), std::nullopt);
}

TEST(EventStream, WithoutACursorStartsAtTheHubsPosition) {
    EventHub hub;
    FakeBacklog backlog;
    backlog.all.push_back(item(1, 0, "r", "old"));
    hub.set_position({1, 0});
    EventStream stream(hub, backlog, std::nullopt, "");
    EXPECT_EQ(stream.next(0ms), std::string(k_stream_preamble));
    EXPECT_EQ(stream.next(0ms), std::string(k_keepalive_frame));
    EXPECT_EQ(backlog.reads, 0);
}

}  // namespace
}  // namespace shipshape::server
