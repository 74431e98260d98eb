#include "server/releases.hpp"

#include <gtest/gtest.h>

namespace shipshape::server {
namespace {

app::ReleaseStatus status_of(const std::string& name, const std::string& id, int64_t at) {
    app::ReleaseStatus s;
    s.record.id = id;
    s.record.document.name = name;
    s.record.created_at = at;
    return s;
}

std::vector<std::string> ids(const std::vector<app::ReleaseStatus>& list) {
    std::vector<std::string> out;
    out.reserve(list.size());
    for (const auto& s : list) {
        out.push_back(s.record.id);
    }
    return out;
}

TEST(ReleasesOrder, NamesByTheirNewestRecordThenEachNamesIdsNewestFirst) {
    std::vector<app::ReleaseStatus> list = {
        status_of("api", "a1", 100), status_of("web", "w1", 200), status_of("api", "a2", 300),
        status_of("web", "w2", 250), status_of("db", "d1", 50),   status_of("api", "a0", 10),
        status_of("zzz", "z1", 300),  // the same newest time as api: by name
    };
    order_releases(list);
    EXPECT_EQ(ids(list), (std::vector<std::string>{"a2", "a1", "a0", "z1", "w2", "w1", "d1"}));
}

TEST(ReleasesOrder, EqualTimesOfOneNameAreOrderedById) {
    std::vector<app::ReleaseStatus> list = {status_of("api", "bb", 5), status_of("api", "aa", 5)};
    order_releases(list);
    EXPECT_EQ(ids(list), (std::vector<std::string>{"aa", "bb"}));
}

TEST(ReleasesJson, StagesReleasesAndGates) {
    std::vector<release::Stage> stages(2);
    stages[0].name = "staging";
    stages[0].env = "staging";
    stages[1].name = "prod";
    stages[1].env = "production";
    stages[1].after = "staging";
    stages[1].sign_offs = {{"qa", 2}};
    ReleasesView view;
    view.stages = &stages;
    auto s = status_of("booking-1.4.3", std::string(64, 'c'), 1'700'000'000'000);
    s.record.created_by = "alice";
    s.superseded_by = std::string(64, 'd');
    s.changed = {"checklist changed"};
    s.reached = "staging";
    app::StageStatus first{&stages[0], {}, true};
    first.gate.ok = true;
    app::StageStatus second{&stages[1], {}, false};
    second.gate.missing = {"needs 1 more qa sign-off"};
    second.gate.have["qa"] = {"carol@example.org"};
    second.gate.rejected.push_back({"signoffs/x.json", "bad"});
    s.stages = {first, second};
    view.releases.push_back(s);
    std::string doc = json_releases(view);
    EXPECT_NE(
        doc.find(R"({"stages":[{"name":"staging","env":"staging","after":null,"sign_offs":{}},)"
                 R"({"name":"prod","env":"production","after":"staging","sign_offs":{"qa":2}}],)"),
        std::string::npos)
        << doc;
    EXPECT_NE(doc.find(R"("short_id":"cccccccccccc","name":"booking-1.4.3",)"
                       R"("created_at":"2023-11-14T22:13:20.000Z","created_at_ms":1700000000000,)"
                       R"("created_by":"alice","id_matches":true,"reached":"staging",)"
                       R"("changed":["checklist changed"],"superseded_by":"dddd)"),
              std::string::npos)
        << doc;
    EXPECT_NE(
        doc.find(R"({"name":"staging","env":"staging","after":null,"sign_offs":{},)"
                 R"("run_done":true,"ok":true,"missing":[],"have":{},"rejected":0,"voided":0})"),
        std::string::npos)
        << doc;
    EXPECT_NE(doc.find(R"("run_done":false,"ok":false,)"
                       R"("missing":["needs 1 more qa sign-off"],)"
                       R"("have":{"qa":["carol@example.org"]},"rejected":1,"voided":0})"),
              std::string::npos)
        << doc;
}

TEST(ReleasesJson, NothingAtAll) {
    std::vector<release::Stage> none;
    ReleasesView view;
    view.stages = &none;
    EXPECT_EQ(json_releases(view), R"({"stages":[],"releases":[]})");
}

}  // namespace
}  // namespace shipshape::server
