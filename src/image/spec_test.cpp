// Image specs: what a snapshot writes reads back to the same spec; every kind of bad input is
// named with its file:line:col; truncating or flipping bytes of a valid spec never crashes.
#include <gtest/gtest.h>

#include "image/spec.hpp"

namespace shipshape::image {
namespace {

Spec sample() {
    Spec s;
    s.name = "prod";
    s.release = "bookworm";
    s.architecture = "amd64";
    s.lab = true;
    s.sources = {"deb [trusted=yes] copy:///srv/repo ./"};
    s.roles = {"booking", "web"};
    s.packages = {{"libc6", "2.36-9+deb12u14", ""},
                  {"libstdc++6", "12.2.0-14+deb12u1", ""},
                  {"openssh-server", "1:9.2p1-2+deb12u7", ""},
                  {"zlib1g", "1:1.2.13.dfsg-1", "i386"}};
    s.users = {User{"booking", 998, 998, "/var/lib/booking", "/usr/sbin/nologin"}};
    s.limits.memory_bytes = 2ULL << 30;
    s.limits.cpus = 1.5;
    s.limits.open_files = 4096;
    s.hosts = {"web1", "web2"};
    s.taken = "2026-12-07T10:00:00Z";
    return s;
}

void expect_same(const Spec& a, const Spec& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.release, b.release);
    EXPECT_EQ(a.architecture, b.architecture);
    EXPECT_EQ(a.variant, b.variant);
    EXPECT_EQ(a.lab, b.lab);
    EXPECT_EQ(a.sources, b.sources);
    EXPECT_EQ(a.roles, b.roles);
    ASSERT_EQ(a.packages.size(), b.packages.size());
    for (size_t i = 0; i < a.packages.size(); ++i) {
        EXPECT_EQ(a.packages[i].name, b.packages[i].name);
        EXPECT_EQ(a.packages[i].version, b.packages[i].version);
        EXPECT_EQ(a.packages[i].architecture, b.packages[i].architecture);
    }
    ASSERT_EQ(a.users.size(), b.users.size());
    EXPECT_EQ(a.users[0].uid, b.users[0].uid);
    EXPECT_EQ(a.users[0].home, b.users[0].home);
    EXPECT_EQ(a.limits.memory_bytes, b.limits.memory_bytes);
    EXPECT_EQ(a.limits.cpus, b.limits.cpus);
    EXPECT_EQ(a.limits.open_files, b.limits.open_files);
    EXPECT_EQ(a.hosts, b.hosts);
    EXPECT_EQ(a.taken, b.taken);
}

TEST(ImageSpec, RenderedSpecReadsBackTheSame) {
    std::string text = render_spec(
        sample(), {"written by a test", "second line"},
        {{"openssh-server", {{"web2", "1:9.2p1-2+deb12u6"}}}, {"strace", {{"web2", "6.1-0.1"}}}});
    auto back = parse_spec(text, "prod.toml");
    ASSERT_TRUE(back) << back.error().message() << "\n" << text;
    expect_same(sample(), *back);
    EXPECT_NE(text.find("# hosts disagree: web2 has 1:9.2p1-2+deb12u6"), std::string::npos) << text;
    EXPECT_NE(text.find("# not pinned (most hosts lack it): strace: web2 has 6.1-0.1"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.rfind("# written by a test\n# second line\n[image]", 0), 0U) << text;
}

TEST(ImageSpec, ACommentCannotEndEarly) {
    std::string text = render_spec(sample(), {"line\n[image]\nname = \"evil\""}, {});
    auto back = parse_spec(text, "prod.toml");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->name, "prod");
}

std::string error_of(const std::string& text) {
    auto r = parse_spec(text, "images/prod.toml");
    EXPECT_FALSE(r) << text;
    return r ? "" : r.error().message();
}

const char* const k_head =
    "[image]\nname = \"prod\"\nrelease = \"bookworm\"\narchitecture = \"amd64\"\n";

TEST(ImageSpec, BadInputIsNamedWithItsPosition) {
    EXPECT_NE(error_of(std::string(k_head) + "colour = \"blue\"\n").find("images/prod.toml:5:1"),
              std::string::npos);
    EXPECT_NE(error_of(std::string(k_head) + "colour = \"blue\"\n").find("colour"),
              std::string::npos);
    std::string e = error_of(std::string(k_head) + "[packages]\nlibc6 = \"latest\"\n");
    EXPECT_NE(e.find("images/prod.toml:6:9"), std::string::npos) << e;
    EXPECT_NE(e.find("not a Debian version"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "[packages]\n\"Bad_Name\" = \"1.0\"\n");
    EXPECT_NE(e.find("not a Debian package name"), std::string::npos) << e;
    e = error_of("[image]\nname = \"prod\"\n");
    EXPECT_NE(e.find("needs release"), std::string::npos) << e;
    EXPECT_NE(e.find("needs architecture"), std::string::npos) << e;  // every problem at once
    e = error_of(std::string(k_head) + "variant = \"huge\"\n");
    EXPECT_NE(e.find("variant 'huge'"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "distribution = \"fedora\"\n");
    EXPECT_NE(e.find("only debian"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "sources = [\"http://x\"]\n");
    EXPECT_NE(e.find("not one apt source line"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "[limits]\ncpus = 0\nmemory = \"lots\"\n");
    EXPECT_NE(e.find("cpus"), std::string::npos) << e;
    EXPECT_NE(e.find("memory"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "[[user]]\nname = \"a\"\n[[user]]\nname = \"a\"\n");
    EXPECT_NE(e.find("given twice"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "[[user]]\nname = \"a\"\nhome = \"rel\"\n");
    EXPECT_NE(e.find("absolute path"), std::string::npos) << e;
    e = error_of("[image\n");
    EXPECT_NE(e.find("images/prod.toml:1:"), std::string::npos) << e;
    e = error_of(std::string(k_head) + "name2 = 1\n[image.x]\n");
    EXPECT_FALSE(e.empty());
}

TEST(ImageSpec, NamesAreChecked) {
    EXPECT_TRUE(valid_image_name("prod"));
    EXPECT_TRUE(valid_image_name("prod-2026.12_a"));
    EXPECT_FALSE(valid_image_name(""));
    EXPECT_FALSE(valid_image_name("-prod"));
    EXPECT_FALSE(valid_image_name("../x"));
    EXPECT_FALSE(valid_image_name("a/b"));
    EXPECT_FALSE(valid_image_name("Prod"));
    EXPECT_FALSE(valid_image_name(std::string(65, 'a')));
    std::string e =
        error_of("[image]\nname = \".hidden\"\nrelease = \"bookworm\"\narchitecture = \"amd64\"\n");
    EXPECT_NE(e.find("start with a letter or digit"), std::string::npos) << e;
}

// Fuzz-ish: every prefix and many single-byte flips of a valid spec give a value or an error
// naming the file, never a crash or an empty message.
TEST(ImageSpec, TruncatedOrFlippedSpecsNeverCrash) {
    const std::string text = render_spec(sample(), {"fuzz"}, {});
    for (size_t n = 0; n < text.size(); n += 3) {
        auto r = parse_spec(text.substr(0, n), "f.toml");
        if (!r) {
            EXPECT_EQ(r.error().message().rfind("f.toml", 0), 0U) << r.error().message();
        }
    }
    const char flips[] = {'"', '[', ']', '=', '\n', '\\', '\0', 'x', '#'};
    for (size_t i = 0; i < text.size(); i += 5) {
        for (char c : flips) {
            std::string t = text;
            t[i] = c;
            auto r = parse_spec(t, "f.toml");
            if (!r) {
                EXPECT_FALSE(r.error().message().empty());
            }
        }
    }
}

}  // namespace
}  // namespace shipshape::image
