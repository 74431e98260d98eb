// image check as a use case against a temporary ops repo, a real SQLite store holding saved
// facts and drift reports of remote hosts, and an image record on disk: the delta, the drift
// and the verdict per host, shipshape.toml's [image] thresholds, and the whole-command errors.
#include "app/image_check.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "facts/facts_json.hpp"
#include "image/registry.hpp"
#include "state/report.hpp"

namespace shipshape::app {
namespace {

void write(const std::string& path, const std::string& text) {
    std::system(("mkdir -p '" + path.substr(0, path.rfind('/')) + "'").c_str());
    std::ofstream(path) << text;
}

TEST(CheckPolicy, Table) {
    struct Row {
        const char* why;
        std::string text;
        size_t patch_max;
        std::vector<std::string> rebuild_on;
        std::string error;  // "" when it parses
    };
    const image::CheckPolicy defaults;
    const std::vector<Row> rows = {
        // No [image] table: the defaults.
        {"defaults", "name = \"x\"\n", defaults.patch_max, defaults.rebuild_on, ""},
        // Both keys read.
        {"both", "[image]\npatch_max = 3\nrebuild_on = [\"openssl*\"]\n", 3, {"openssl*"}, ""},
        // One key given: the other keeps its default.
        {"one", "[image]\npatch_max = 0\n", 0, defaults.rebuild_on, ""},
        // Wrong types, negative numbers and unknown keys are positioned errors.
        {"type",
         "[image]\npatch_max = \"5\"\n",
         0,
         {},
         "shipshape.toml:2:13: [image] patch_max must be an integer, found a string"},
        {"negative",
         "[image]\npatch_max = -1\n",
         0,
         {},
         "shipshape.toml:2:13: [image] patch_max must be between 0 and 1000000, found -1"},
        {"unknown key",
         "[image]\npatch_mx = 5\n",
         0,
         {},
         "shipshape.toml:2:1: unknown key 'patch_mx' in [image] (did you mean 'patch_max'?)"},
        {"empty glob",
         "[image]\nrebuild_on = [\"\"]\n",
         0,
         {},
         "shipshape.toml:2:14: [image] rebuild_on: an empty pattern matches no package"},
    };
    for (const auto& r : rows) {
        auto p = parse_check_policy(r.text, "shipshape.toml");
        if (!r.error.empty()) {
            ASSERT_FALSE(p) << r.why;
            EXPECT_EQ(p.error().message(), r.error) << r.why;
            continue;
        }
        ASSERT_TRUE(p) << r.why << ": " << p.error().message();
        EXPECT_EQ(p->patch_max, r.patch_max) << r.why;
        EXPECT_EQ(p->rebuild_on, r.rebuild_on) << r.why;
    }
}

class ImageCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-image-check-XXXXXX";
        dir = ::mkdtemp(tmpl);
        repo = dir + "/ops";
        write(repo + "/shipshape.toml",
              "name = \"t\"\n[roles]\nweb = [\"states/web.toml\"]\n[image]\npatch_max = 2\n");
        write(repo + "/states/web.toml", "[[file]]\npath = \"/etc/app.conf\"\ncontent = \"x\"\n");
        // Remote hosts (10.0.0.x): checked from what the store holds of them.
        write(repo + "/inventory.toml",
              "[env.prod]\nhosts = [\"same\", \"patched\", \"libc\", \"many\", \"unseen\"]\n"
              "[host.same]\naddress = \"10.0.0.1\"\n[host.patched]\naddress = \"10.0.0.2\"\n"
              "[host.libc]\naddress = \"10.0.0.3\"\n[host.many]\naddress = \"10.0.0.4\"\n"
              "[host.unseen]\naddress = \"10.0.0.5\"\n"
              "[group.web]\nhosts = [\"same\", \"patched\"]\nroles = [\"web\"]\n");
        auto p = load_project(repo);
        ASSERT_TRUE(p) << p.error().message();
        project = std::move(*p);
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        // The image: three packages, made a day before the clock's now.
        image::ImageRecord r;
        r.id = std::string(64, 'a');
        r.name = "prod";
        r.created = "2026-12-06T10:00:00Z";
        r.parent = std::string(64, 'b');
        r.architecture = "amd64";
        r.packages = {{"bash", "5.2.15-2+b2", "amd64"},
                      {"libc6", "2.36-9+deb12u4", "amd64"},
                      {"nginx", "1.22.1-9", "amd64"}};
        const std::string images = repo + "/.shipshape/images";
        write(images + "/bases/" + r.parent + "/rootfs/.keep", "");
        write(images + "/" + r.id + "/image.json", image::record_json(r));
        ASSERT_TRUE(image::set_name(images, "prod", r.id));
        save_facts("same",
                   {{"bash", "5.2.15-2+b2"}, {"libc6", "2.36-9+deb12u4"}, {"nginx", "1.22.1-9"}});
        save_facts(
            "patched",
            {{"bash", "5.2.15-2+b2"}, {"libc6", "2.36-9+deb12u4"}, {"nginx", "1.22.1-9+deb12u1"}});
        save_facts("libc",
                   {{"bash", "5.2.15-2+b2"}, {"libc6", "2.36-9+deb12u7"}, {"nginx", "1.22.1-9"}});
        save_facts("many", {{"curl", "7.88.1-10"}, {"strace", "6.1-0.1"}, {"vim", "9.0"}});
        // patched's last drift report found 2 differences.
        state::HostState hs;
        hs.host = "patched";
        hs.drift = 2;
        std::string doc = state::host_state_to_json(hs);
        ASSERT_TRUE(db->save_host_state(store::FactsSnapshot{0, "patched", 1, "h", doc}));
    }
    void TearDown() override {
        db.reset();
        std::system(("rm -rf " + dir).c_str());
    }
    void save_facts(const std::string& host,
                    const std::vector<std::pair<std::string, std::string>>& packages) {
        facts::HostFacts f;
        f.host = host;
        for (const auto& [name, version] : packages) {
            f.packages.push_back({name, version, "amd64", "installed"});
        }
        std::string doc = facts::to_json(f, {}, -1);
        ASSERT_TRUE(db->save_facts(store::FactsSnapshot{0, host, 1, "h", doc}));
    }
    Result<ImageCheckReport> check(std::vector<std::string> hosts, const std::string& against) {
        ImageCheckService service(project, db.get(), nullptr, nullptr, nullptr, clock);
        ImageCheckRequest req;
        req.patterns = std::move(hosts);
        req.against = against;
        req.saved = true;
        return service.check(req);
    }

    std::string dir, repo;
    Project project;
    std::unique_ptr<store::Store> db;
    FakeClock clock{std::chrono::milliseconds(1765101600000 + 365LL * 86400000)};
};

TEST_F(ImageCheckTest, VerdictPerHostFromSavedFacts) {
    auto r = check({"env:prod"}, "prod");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->image.id, std::string(64, 'a'));
    EXPECT_EQ(r->policy.patch_max, 2u);
    ASSERT_EQ(r->hosts.size(), 5u);
    std::map<std::string, const HostImageCheck*> by;
    for (const auto& h : r->hosts) {
        by[h.host] = &h;
        EXPECT_EQ(h.source, "stored") << h.host;
    }
    // Identical packages and no drift report: none (drift unknown, and said so).
    EXPECT_EQ(by["same"]->verdict.recommendation, image::Recommendation::none);
    EXPECT_FALSE(by["same"]->drift);
    EXPECT_TRUE(by["same"]->delta.changes.empty());
    // One upgrade and the saved drift of 2: patch, with the plan back to the image.
    const auto& p = *by["patched"];
    EXPECT_EQ(p.verdict.recommendation, image::Recommendation::patch);
    EXPECT_EQ(p.drift, std::optional<size_t>(2));
    ASSERT_EQ(p.delta.changes.size(), 1u);
    EXPECT_EQ(p.delta.changes[0].kind, image::ChangeKind::upgrade);
    EXPECT_EQ(p.plan,
              (std::vector<std::string>{"install nginx=1.22.1-9",
                                        "2 desired-state changes: see 'shipshape plan patched'",
                                        "shipshape apply patched"}));
    // libc6 changed: rebuild however small the delta. No roles: no desired state, drift 0.
    EXPECT_EQ(by["libc"]->drift, std::optional<size_t>(0));
    EXPECT_EQ(by["libc"]->verdict.recommendation, image::Recommendation::rebuild);
    EXPECT_TRUE(by["libc"]->plan.empty());
    // Three removals and three additions, above patch_max = 2 (and libc6 gone): rebuild.
    EXPECT_EQ(by["many"]->verdict.recommendation, image::Recommendation::rebuild);
    EXPECT_EQ(by["many"]->delta.count(image::ChangeKind::removal), 3u);
    EXPECT_EQ(by["many"]->delta.count(image::ChangeKind::addition), 3u);
    // No saved facts: an error for that host only, saying how to get some.
    ASSERT_TRUE(by["unseen"]->error);
    EXPECT_EQ(by["unseen"]->error->message(),
              "no saved facts of 'unseen' (save some with 'shipshape facts --save unseen' or "
              "'shipshape facts import')");
}

TEST_F(ImageCheckTest, AgeFromTheRecord) {
    auto r = check({"same"}, "aaaaaa");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->age_seconds, 86400);
}

TEST_F(ImageCheckTest, UnknownImageOrHostFailsAsAWhole) {
    auto r = check({"same"}, "nope");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("nope"), std::string::npos) << r.error().message();
    auto h = check({"web9"}, "prod");
    ASSERT_FALSE(h);
    EXPECT_NE(h.error().message().find("web9"), std::string::npos) << h.error().message();
}

}  // namespace
}  // namespace shipshape::app
