#include "image/check.hpp"

#include <gtest/gtest.h>

namespace shipshape::image {
namespace {

std::vector<PackagePin> pins(std::initializer_list<PackagePin> list) {
    return list;
}

std::string describe(const PackageDelta& d) {
    std::string out;
    for (const auto& c : d.changes) {
        out += c.name + " " + change_kind_name(c.kind) + " " + c.image_version + ">" +
               c.host_version + "\n";
    }
    return out;
}

TEST(PackageDelta, Table) {
    struct Row {
        const char* why;
        std::vector<PackagePin> image, host;
        std::string want;
    };
    const std::vector<Row> rows = {
        // The same set: no delta.
        {"same", pins({{"bash", "5.2.15-2+b2", ""}, {"libc6", "2.36-9", "amd64"}}),
         pins({{"bash", "5.2.15-2+b2", "amd64"}, {"libc6", "2.36-9", "amd64"}}), ""},
        // Versions compare as dpkg does: 2.36-9+deb12u4 is newer than 2.36-9, 1:1.0 than 2.0.
        {"upgrade and epoch", pins({{"libc6", "2.36-9", ""}, {"vim", "2.0", ""}}),
         pins({{"libc6", "2.36-9+deb12u4", ""}, {"vim", "1:1.0", ""}}),
         "libc6 upgrade 2.36-9>2.36-9+deb12u4\nvim upgrade 2.0>1:1.0\n"},
        // Older on the host: a downgrade.
        {"downgrade", pins({{"curl", "7.88.1-10+deb12u5", ""}}), pins({{"curl", "7.88.1-10", ""}}),
         "curl downgrade 7.88.1-10+deb12u5>7.88.1-10\n"},
        // Only on the host: an addition; only in the image: a removal; merged by name.
        {"addition and removal", pins({{"a", "1", ""}, {"c", "1", ""}}),
         pins({{"b", "2", ""}, {"c", "1", ""}, {"d", "3", ""}}),
         "a removal 1>\nb addition >2\nd addition >3\n"},
        // A foreign architecture is its own package; "all" and the image's are plain names.
        {"architectures", pins({{"libc6", "2.36", "amd64"}, {"tzdata", "2024a", "all"}}),
         pins({{"libc6", "2.36", "amd64"}, {"libc6", "2.36", "i386"}, {"tzdata", "2024a", "all"}}),
         "libc6:i386 addition >2.36\n"},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(describe(package_delta(r.image, r.host, "amd64")), r.want) << r.why;
    }
}

TEST(PackageDelta, Counts) {
    auto d = package_delta(pins({{"a", "1", ""}, {"b", "1", ""}}),
                           pins({{"a", "2", ""}, {"c", "1", ""}}), "amd64");
    EXPECT_EQ(d.count(ChangeKind::upgrade), 1u);
    EXPECT_EQ(d.count(ChangeKind::addition), 1u);
    EXPECT_EQ(d.count(ChangeKind::removal), 1u);
    EXPECT_EQ(d.count(ChangeKind::downgrade), 0u);
}

PackageDelta changes(std::initializer_list<const char*> names) {
    PackageDelta d;
    for (const char* n : names) {
        d.changes.push_back({n, ChangeKind::upgrade, "1", "2"});
    }
    return d;
}

TEST(Recommend, Table) {
    CheckPolicy policy;
    policy.patch_max = 2;
    policy.rebuild_on = {"libc6", "linux-image-*"};
    struct Row {
        const char* why;
        PackageDelta delta;
        size_t drift;
        Recommendation want;
        std::vector<std::string> reasons;
    };
    const std::vector<Row> rows = {
        // Nothing moved: none.
        {"clean",
         {},
         0,
         Recommendation::none,
         {"the host matches the image and its desired state"}},
        // Drift alone is patched by apply.
        {"drift only", {}, 3, Recommendation::patch, {"3 desired-state differences"}},
        // Up to patch_max changes: patch.
        {"few",
         changes({"nginx", "curl"}),
         1,
         Recommendation::patch,
         {"2 package changes, at most patch_max = 2", "1 desired-state difference"}},
        // One more than patch_max: rebuild.
        {"many",
         changes({"a", "b", "c"}),
         0,
         Recommendation::rebuild,
         {"3 package changes, more than patch_max = 2"}},
        // A rebuild_on name, exactly or by glob, forces rebuild however few the changes.
        {"libc",
         changes({"libc6"}),
         0,
         Recommendation::rebuild,
         {"libc6 upgrade cannot be patched in place (rebuild_on \"libc6\")"}},
        {"kernel glob",
         changes({"linux-image-6.1.0-13-amd64"}),
         0,
         Recommendation::rebuild,
         {"linux-image-6.1.0-13-amd64 upgrade cannot be patched in place (rebuild_on "
          "\"linux-image-*\")"}},
        // A foreign-architecture libc6 is libc6 too.
        {"foreign libc",
         changes({"libc6:i386"}),
         0,
         Recommendation::rebuild,
         {"libc6:i386 upgrade cannot be patched in place (rebuild_on \"libc6\")"}},
        // A glob matches whole names only: libc6-dev is not libc6.
        {"no prefix match",
         changes({"libc6-dev"}),
         0,
         Recommendation::patch,
         {"1 package change, at most patch_max = 2"}},
    };
    for (const auto& r : rows) {
        auto v = recommend(r.delta, r.drift, policy);
        EXPECT_EQ(recommendation_name(v.recommendation), std::string(recommendation_name(r.want)))
            << r.why;
        EXPECT_EQ(v.reasons, r.reasons) << r.why;
    }
}

TEST(Recommend, DefaultPolicyRebuildsOnLibcAndKernel) {
    CheckPolicy policy;
    EXPECT_EQ(recommend(changes({"libc6"}), 0, policy).recommendation, Recommendation::rebuild);
    EXPECT_EQ(recommend(changes({"linux-image-amd64"}), 0, policy).recommendation,
              Recommendation::rebuild);
    EXPECT_EQ(recommend(changes({"nginx"}), 0, policy).recommendation, Recommendation::patch);
}

TEST(PackageActions, BringTheHostBackToTheImage) {
    auto d = package_delta(pins({{"a", "1", ""}, {"b", "1", ""}, {"c", "5", ""}}),
                           pins({{"a", "2", ""}, {"c", "4", ""}, {"d", "1", ""}}), "amd64");
    EXPECT_EQ(package_actions(d),
              (std::vector<std::string>{"install a=1", "install b=1", "install c=5", "remove d"}));
}

TEST(ImageAge, Table) {
    const int64_t now = 1765101600000;  // 2025-12-07T10:00:00Z
    struct Row {
        const char* why;
        std::string created;
        int64_t want;  // -1: an error
    };
    const std::vector<Row> rows = {
        // Whole days and hours.
        {"a day ago", "2025-12-06T09:00:00Z", 90000},
        // Fractions and +00:00 are UTC too.
        {"fraction", "2025-12-07T09:59:59.5Z", 1},
        {"offset zero", "2025-12-07T09:00:00+00:00", 3600},
        // A time after now (clock skew) is age 0, not negative.
        {"future", "2025-12-08T00:00:00Z", 0},
        // Not a time, or another zone: an error.
        {"garbage", "yesterday", -1},
        {"other zone", "2025-12-07T09:00:00+02:00", -1},
        {"bad month", "2025-13-07T09:00:00Z", -1},
    };
    for (const auto& r : rows) {
        auto age = image_age_seconds(r.created, now);
        if (r.want < 0) {
            ASSERT_FALSE(age) << r.why;
            EXPECT_EQ(age.error().message(),
                      "image created '" + r.created + "': expected an ISO 8601 UTC time")
                << r.why;
        } else {
            ASSERT_TRUE(age) << r.why << ": " << age.error().message();
            EXPECT_EQ(*age, r.want) << r.why;
        }
    }
}

TEST(ImageAge, Format) {
    EXPECT_EQ(format_age(42), "42s");
    EXPECT_EQ(format_age(125), "2m 5s");
    EXPECT_EQ(format_age(5 * 3600 + 120), "5h 2m");
    EXPECT_EQ(format_age(3 * 86400 + 4 * 3600 + 59), "3d 4h");
}

}  // namespace
}  // namespace shipshape::image
