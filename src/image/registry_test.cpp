// Image records and manifests on disk: names and id prefixes resolve, a directory without
// image.json (a build that did not finish) is not an image, removing the last image on a base
// removes the base, and the manifest sees content and modes but not times.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "image/manifest.hpp"
#include "image/registry.hpp"
#include "os/file_system.hpp"

namespace shipshape::image {
namespace {

namespace fs = std::filesystem;

class ImagesDir : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-images-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        m_dir = tmpl;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    ImageRecord add(const std::string& id, const std::string& name, const std::string& created,
                    const std::string& parent) {
        ImageRecord r;
        r.id = id;
        r.name = name;
        r.created = created;
        r.parent = parent;
        r.spec = "images/" + name + ".toml";
        r.packages = {{"libc6", "2.36-9", "amd64"}};
        r.limits.memory_bytes = 1 << 20;
        fs::create_directories(m_dir + "/" + id + "/layer");
        fs::create_directories(m_dir + "/bases/" + parent + "/rootfs");
        EXPECT_TRUE(os::write_whole_file_atomic(m_dir + "/" + id + "/image.json", record_json(r)));
        EXPECT_TRUE(set_name(m_dir, name, id));
        return r;
    }

    std::string m_dir;
};

std::string hex(char c) {
    return std::string(64, c);
}

TEST_F(ImagesDir, ResolvesByNameIdAndPrefixNewestFirst) {
    add(hex('a'), "prod", "2026-12-01T00:00:00Z", hex('1'));
    add(hex('b'), "lab", "2026-12-02T00:00:00Z", hex('1'));
    auto all = list_images(m_dir);
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->size(), 2U);
    EXPECT_EQ((*all)[0].name, "lab");
    EXPECT_EQ((*all)[1].limits.memory_bytes, 1U << 20);
    EXPECT_EQ((*all)[1].packages.at(0).version, "2.36-9");
    EXPECT_EQ(resolve_image(m_dir, "prod")->id, hex('a'));
    EXPECT_EQ(resolve_image(m_dir, hex('b'))->name, "lab");
    EXPECT_EQ(resolve_image(m_dir, "bbbbbb")->name, "lab");
    auto lowers = lower_dirs(*resolve_image(m_dir, "prod"));
    ASSERT_EQ(lowers.size(), 2U);
    EXPECT_EQ(lowers[0], m_dir + "/" + hex('a') + "/layer");
    EXPECT_EQ(lowers[1], m_dir + "/bases/" + hex('1') + "/rootfs");
    auto missing = resolve_image(m_dir, "qa");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("built: lab ("), std::string::npos)
        << missing.error().message();
    EXPECT_FALSE(resolve_image(m_dir, "bbb"));  // too short a prefix
    EXPECT_FALSE(resolve_image(m_dir, "../prod"));
}

TEST_F(ImagesDir, AnUnfinishedBuildIsNotAnImage) {
    add(hex('a'), "prod", "2026-12-01T00:00:00Z", hex('1'));
    fs::create_directories(m_dir + "/" + hex('c') + "/layer");  // no image.json
    auto all = list_images(m_dir);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 1U);
    EXPECT_FALSE(resolve_image(m_dir, "cccccc"));
}

TEST_F(ImagesDir, RemovingTheLastImageOnABaseRemovesTheBase) {
    auto a = add(hex('a'), "prod", "2026-12-01T00:00:00Z", hex('1'));
    add(hex('b'), "lab", "2026-12-02T00:00:00Z", hex('1'));
    auto ra = resolve_image(m_dir, "prod");
    ASSERT_TRUE(ra);
    auto removed = remove_image(m_dir, *ra);
    ASSERT_TRUE(removed) << removed.error().message();
    EXPECT_FALSE(fs::exists(m_dir + "/" + hex('a')));
    EXPECT_FALSE(fs::exists(m_dir + "/names/prod"));
    EXPECT_TRUE(fs::exists(m_dir + "/bases/" + hex('1')));  // lab still sits on it
    auto removed2 = remove_image(m_dir, *resolve_image(m_dir, "lab"));
    ASSERT_TRUE(removed2);
    EXPECT_FALSE(fs::exists(m_dir + "/bases/" + hex('1')));
    EXPECT_EQ(removed2->back(), "base " + hex('1').substr(0, 12));
}

TEST_F(ImagesDir, ACorruptRecordIsNamed) {
    fs::create_directories(m_dir + "/" + hex('d'));
    std::ofstream(m_dir + "/" + hex('d') + "/image.json") << "{\"id\": 3}";
    auto all = list_images(m_dir);
    ASSERT_FALSE(all);
    EXPECT_NE(all.error().message().find(hex('d') + "/image.json"), std::string::npos);
}

TEST_F(ImagesDir, ManifestSeesContentModesAndLinksButNotTimes) {
    std::string root = m_dir + "/root";
    fs::create_directories(root + "/etc/app");
    std::ofstream(root + "/etc/app/app.conf") << "workers = 4\n";
    fs::create_symlink("app/app.conf", root + "/etc/link");
    auto m1 = manifest_of(root);
    ASSERT_TRUE(m1) << m1.error().message();
    EXPECT_EQ(m1->files, 1U);
    EXPECT_EQ(m1->bytes, 12U);
    EXPECT_NE(m1->text.find("/etc/link\tl 0777 "), std::string::npos) << m1->text;
    EXPECT_NE(m1->text.find(" app/app.conf\n"), std::string::npos) << m1->text;
    EXPECT_EQ(m1->text.rfind("/\td ", 0), 0U) << m1->text;
    ASSERT_TRUE(clamp_times(root, 1700000000));
    EXPECT_EQ(manifest_of(root)->text, m1->text);
    struct stat st {};
    ASSERT_EQ(::lstat((root + "/etc/app/app.conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtime, 1700000000);
    std::ofstream(root + "/etc/app/app.conf") << "workers = 8\n";
    EXPECT_NE(manifest_of(root)->text, m1->text);
    std::ofstream(root + "/etc/app/app.conf") << "workers = 4\n";
    EXPECT_EQ(manifest_of(root)->text, m1->text);
    ::chmod((root + "/etc/app/app.conf").c_str(), 0600);
    EXPECT_NE(manifest_of(root)->text, m1->text);
    EXPECT_FALSE(manifest_of(m_dir + "/nope"));
}

}  // namespace
}  // namespace shipshape::image
